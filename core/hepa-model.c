/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HepaModel: weights validated against the topology, folded for inference, plus the card. */
#include "config.h"

#include "hepa-model.h"
#include "hepa-error.h"
#include "hepa-json.h"
#include "hepa-weights-private.h"
#include "hepa-model-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <unistd.h>
#include <math.h>
#include <string.h>

#ifdef HEPA_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

#define MAX_CLASSES 1000
#define MIN_INPUT_SIZE 32
#define MAX_INPUT_SIZE 1024

struct _HepaModel
{
  gatomicrefcount  ref_count;
  HepaModelCard    card;
  HepaResnet      *net;
};



HepaModel *
hepa_model_ref (HepaModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
hepa_model_unref (HepaModel *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  hepa_model_card_clear (&self->card);
  g_clear_pointer (&self->net, hepa_resnet_free);
  g_free (self);
}

const HepaModelCard *
hepa_model_get_card (HepaModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return &self->card;
}

const HepaResnet *
hepa_model_get_network (HepaModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->net;
}

/* ---- Tensor validation --------------------------------------------------------------------- */

static char *
format_shape (const gint64 *shape64,
              const int    *shape32,
              int           ndim)
{
  GString *s = g_string_new ("[");

  for (int i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "",
                            shape64 != NULL ? shape64[i] : (gint64) shape32[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
infer_arch (HepaWeights  *weights,
            HepaArch     *arch,
            int          *n_classes,
            GError      **error)
{
  const HepaTensorEntry *fc;

  if (hepa_weights_lookup (weights, "layer1.0.conv3.weight") != NULL)
    *arch = HEPA_ARCH_RESNET50;
  else if (hepa_weights_lookup (weights, "layer1.0.conv1.weight") != NULL)
    *arch = HEPA_ARCH_RESNET18;
  else
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("Not a ResNet state dict: tensor “layer1.0.conv1.weight” is missing"));
      return FALSE;
    }

  fc = hepa_weights_lookup (weights, "fc.weight");
  if (fc == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL, _("Missing tensor “fc.weight”"));
      return FALSE;
    }
  if (fc->ndim != 2 || fc->shape[0] < 1 || fc->shape[0] > MAX_CLASSES)
    {
      g_autofree char *shape = format_shape (fc->shape, NULL, fc->ndim);

      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("Tensor “fc.weight” has shape %s; expected (classes, features) with 1 to %d "
                     "classes"), shape, MAX_CLASSES);
      return FALSE;
    }
  *n_classes = (int) fc->shape[0];
  return TRUE;
}

/* Every tensor the topology needs is present with its shape, and nothing else is there. */
static gboolean
validate_tensors (HepaWeights  *weights,
                  HepaArch      arch,
                  int           n_classes,
                  GError      **error)
{
  g_autoptr(GHashTable) expected = g_hash_table_new (g_str_hash, g_str_equal);
  int n = hepa_resnet_n_params (arch);

  for (int i = 0; i < n; i++)
    {
      HepaParamInfo info;
      const HepaTensorEntry *entry;
      gboolean same;

      hepa_resnet_param_info (arch, n_classes, i, &info);
      g_hash_table_add (expected, (gpointer) info.name);
      entry = hepa_weights_lookup (weights, info.name);
      if (entry == NULL)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("Missing tensor “%s” for %s"), info.name, hepa_arch_to_string (arch));
          return FALSE;
        }
      same = entry->ndim == info.ndim;
      for (int d = 0; same && d < info.ndim; d++)
        same = entry->shape[d] == info.shape[d];
      if (!same)
        {
          g_autofree char *got = format_shape (entry->shape, NULL, entry->ndim);
          g_autofree char *want = format_shape (NULL, info.shape, info.ndim);

          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("Tensor “%s” has shape %s; %s with %d classes needs %s"),
                       info.name, got, hepa_arch_to_string (arch), n_classes, want);
          return FALSE;
        }
    }

  for (guint i = 0; i < hepa_weights_get_n (weights); i++)
    {
      const HepaTensorEntry *entry = hepa_weights_get_nth (weights, i);

      /* BatchNorm's step counter is training state, not a weight. */
      if (g_str_has_suffix (entry->name, ".num_batches_tracked"))
        continue;
      if (!g_hash_table_contains (expected, entry->name))
        {
          g_autofree char *printable = hepa_weights_printable_name (entry->name);

          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("Unknown tensor “%s” for %s"), printable, hepa_arch_to_string (arch));
          return FALSE;
        }
    }
  return TRUE;
}

static const float *
lookup_cb (void       *user,
           const char *name,
           const int  *shape,
           int         ndim)
{
  const HepaTensorEntry *entry = hepa_weights_lookup (user, name);

  if (entry == NULL || entry->ndim != ndim)
    return NULL;
  for (int d = 0; d < ndim; d++)
    if (entry->shape[d] != shape[d])
      return NULL;
  return entry->data;
}


HepaModel *
hepa_model_new_from_weights (HepaWeights  *weights,
                             const char   *name,
                             GError      **error)
{
  g_autoptr(HepaModel) self = NULL;
  const char *card_json;
  HepaArch arch;
  int n_classes;

  g_return_val_if_fail (weights != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!infer_arch (weights, &arch, &n_classes, error)
      || !validate_tensors (weights, arch, n_classes, error))
    return NULL;

  self = g_new0 (HepaModel, 1);
  g_atomic_ref_count_init (&self->ref_count);
  hepa_model_card_init (&self->card, arch, (guint) n_classes);

  card_json = hepa_weights_get_metadata (weights, HEPA_MODEL_CARD_KEY);
  if (card_json != NULL)
    {
      if (!hepa_model_card_parse (&self->card, card_json, arch, (guint) n_classes, error))
        return NULL;
    }
  else
    hepa_model_card_sync_json (&self->card);

  self->net = hepa_resnet_new (arch, n_classes, lookup_cb, weights);
  if (self->net == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Not enough memory to build the %s network"), hepa_arch_to_string (arch));
      return NULL;
    }
  self->card.id = g_strdup (self->card.name != NULL ? self->card.name
                            : name != NULL ? name : self->card.arch);
  return g_steal_pointer (&self);
}

/* ---- Loading ------------------------------------------------------------------------------- */

typedef struct
{
  char   *path;
  char   *hex;    /* NULL on failure */
} HashJob;

/* Reads the file with read (), not a second mapping, so hashing adds no resident pages while
 * the weights are mapped and folded. */
static gpointer
hash_thread (gpointer data)
{
  HashJob *job = data;
  g_autofree guint8 *buffer = g_malloc (1 << 20);
  int fd = g_open (job->path, O_RDONLY | O_CLOEXEC, 0);
  gboolean ok = fd >= 0;
#ifdef HEPA_HAVE_LIBCRYPTO
  /* OpenSSL uses the SHA extensions: about 8x GLib's portable sha256 on 100 MB. */
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();

  ok = ok && ctx != NULL && EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) == 1;
#else
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
#endif

  while (ok)
    {
      gssize n = read (fd, buffer, 1 << 20);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          ok = n == 0;
          break;
        }
#ifdef HEPA_HAVE_LIBCRYPTO
      ok = EVP_DigestUpdate (ctx, buffer, (gsize) n) == 1;
#else
      g_checksum_update (checksum, buffer, n);
#endif
    }
  if (fd >= 0)
    close (fd);

#ifdef HEPA_HAVE_LIBCRYPTO
  if (ok)
    {
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int md_len = 0;

      if (EVP_DigestFinal_ex (ctx, md, &md_len) == 1)
        {
          GString *hex = g_string_sized_new (64);

          for (unsigned int i = 0; i < md_len; i++)
            g_string_append_printf (hex, "%02x", md[i]);
          job->hex = g_string_free (hex, FALSE);
        }
    }
  if (ctx != NULL)
    EVP_MD_CTX_free (ctx);
#else
  if (ok)
    job->hex = g_strdup (g_checksum_get_string (checksum));
#endif
  return NULL;
}

HepaModel *
hepa_model_load (const char  *path,
                 GError     **error)
{
  g_autoptr(HepaWeights) weights = NULL;
  g_autoptr(HepaModel) self = NULL;
  g_autofree char *base = NULL;
  HashJob job = { NULL, NULL };
  GThread *thread;
  char *dot;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* The id hashes the whole file; do that on the other core while the weights are folded. */
  job.path = g_strdup (path);
  thread = g_thread_new ("hepa-model-hash", hash_thread, &job);

  base = g_path_get_basename (path);
  dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';

  weights = hepa_model_file_load (path, error);
  if (weights != NULL)
    self = hepa_model_new_from_weights (weights, base, error);
  g_thread_join (thread);
  g_free (job.path);
  if (self == NULL)
    {
      g_free (job.hex);
      return NULL;
    }
  if (job.hex == NULL)
    {
      g_free (job.hex);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("Could not read the file to hash it"));
      return NULL;
    }

  g_free (self->card.sha256);
  self->card.sha256 = job.hex;
  {
    char *id = g_strdup_printf ("%s-%.12s", self->card.id, self->card.sha256);

    g_free (self->card.id);
    self->card.id = id;
  }
  return g_steal_pointer (&self);
}

/* ---- Random models ------------------------------------------------------------------------- */

HepaWeights *
hepa_model_random_weights (HepaArch arch,
                           guint    n_classes,
                           guint64  seed)
{
  g_autoptr(HepaWeights) weights = hepa_weights_new ();
  int n = hepa_resnet_n_params (arch);
  double feat_c = arch == HEPA_ARCH_RESNET50 ? 2048.0 : 512.0;

  /* The scheme of tests/gen-resnet-ref.py (seed 0 gives its parity weights exactly): values are
   * computed in double from the float u and rounded once to float32. */
  for (int t = 0; t < n; t++)
    {
      HepaParamInfo info;
      gint64 shape[4];
      gint64 count = 1;
      guint64 stream = (seed << 32) | ((guint64) arch << 16) | (guint64) t;
      float *data;
      double scale = 0.1;   /* BN bias and running_mean, fc.bias: 0.1 u */
      double offset = 0.0;
      double divisor = 1.0;

      hepa_resnet_param_info (arch, (int) n_classes, t, &info);
      for (int d = 0; d < info.ndim; d++)
        {
          shape[d] = info.shape[d];
          count *= info.shape[d];
        }
      if (g_str_has_suffix (info.name, "running_var"))
        {
          /* 1 + 0.25 (u + 1), in [1, 1.5). */
          scale = 0.25;
          offset = 1.25;
        }
      else if (strcmp (info.name, "fc.weight") == 0)
        {
          /* Divided, not multiplied by the reciprocal, to round as numpy does. */
          scale = 1.0;
          divisor = sqrt (feat_c);
        }
      else if (g_str_has_suffix (info.name, "weight") && info.ndim == 4)
        /* He uniform: variance 2 / fan_in. */
        scale = sqrt (6.0 / ((double) info.shape[1] * info.shape[2] * info.shape[3]));
      else if (g_str_has_suffix (info.name, "weight"))
        offset = 1.0;

      data = g_new (float, count);
      for (gint64 j = 0; j < count; j++)
        {
          double u = hepa_nn_seeded_uniform (stream, (guint64) j);

          data[j] = (float) (offset + scale * u / divisor);
        }
      hepa_weights_take_data (weights, info.name, HEPA_DTYPE_F32, info.ndim, shape, data, TRUE);
    }
  return g_steal_pointer (&weights);
}

HepaModel *
hepa_model_new_random (HepaArch            arch,
                       guint               n_classes,
                       const char *const  *classes,
                       int                 input_size,
                       guint64             seed)
{
  g_autoptr(HepaWeights) weights = NULL;
  g_autoptr(HepaModel) self = NULL;
  g_autofree char *name = NULL;

  g_return_val_if_fail (arch == HEPA_ARCH_RESNET18 || arch == HEPA_ARCH_RESNET50, NULL);
  g_return_val_if_fail (n_classes >= 1 && n_classes <= MAX_CLASSES, NULL);
  g_return_val_if_fail (classes == NULL || g_strv_length ((char **) classes) == n_classes, NULL);
  g_return_val_if_fail (input_size >= MIN_INPUT_SIZE && input_size <= MAX_INPUT_SIZE, NULL);

  weights = hepa_model_random_weights (arch, n_classes, seed);
  name = g_strdup_printf ("%s-random-%" G_GUINT64_FORMAT, hepa_arch_to_string (arch), seed);
  self = hepa_model_new_from_weights (weights, name, NULL);
  if (self == NULL)
    return NULL;
  if (classes != NULL)
    for (guint i = 0; i < n_classes; i++)
      {
        g_free (self->card.classes[i]);
        self->card.classes[i] = g_strdup (classes[i]);
      }
  self->card.input_size = input_size;
  hepa_model_card_sync_json (&self->card);
  return g_steal_pointer (&self);
}

/* ---- Default model ------------------------------------------------------------------------- */

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static char *
first_model_in (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    return NULL;
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".safetensors"))
      g_ptr_array_add (found, g_strdup (name));
  if (found->len == 0)
    return NULL;
  g_ptr_array_sort (found, compare_names);
  return g_build_filename (dir, g_ptr_array_index (found, 0), NULL);
}

char *
hepa_model_find_default (void)
{
  const char *env = g_getenv ("HEPASCOPE_MODEL");
  g_autofree char *source_dir = g_build_filename (HEPA_SOURCE_DATADIR, "models", NULL);
  g_autofree char *installed_dir = g_build_filename (PKGDATADIR, "models", NULL);
  char *path;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  /* A build run from the source tree prefers the models next to it. */
  if ((path = first_model_in (source_dir)) != NULL)
    return path;
  return first_model_in (installed_dir);
}
