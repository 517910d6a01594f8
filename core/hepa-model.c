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

#define CARD_KEY "hepascope.card"
#define MAX_CLASSES 1000
#define MIN_INPUT_SIZE 32
#define MAX_INPUT_SIZE 1024

struct _HepaModel
{
  gatomicrefcount  ref_count;
  HepaModelCard    card;
  HepaResnet      *net;
};

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

static void
card_clear (HepaModelCard *card)
{
  g_clear_pointer (&card->id, g_free);
  g_clear_pointer (&card->arch, g_free);
  g_clear_pointer (&card->classes, g_strfreev);
  g_clear_pointer (&card->json, g_free);
  g_clear_pointer (&card->sha256, g_free);
}

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
  card_clear (&self->card);
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

const char *
hepa_arch_to_string (HepaArch arch)
{
  switch (arch)
    {
    case HEPA_ARCH_RESNET18:
      return "resnet18";
    case HEPA_ARCH_RESNET50:
      return "resnet50";
    default:
      return NULL;
    }
}

gboolean
hepa_arch_from_string (const char *text,
                       HepaArch   *arch)
{
  if (g_strcmp0 (text, "resnet50") == 0)
    *arch = HEPA_ARCH_RESNET50;
  else if (g_strcmp0 (text, "resnet18") == 0)
    *arch = HEPA_ARCH_RESNET18;
  else
    return FALSE;
  return TRUE;
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

/* ---- Card ---------------------------------------------------------------------------------- */

static gboolean
read_triple (JsonObject  *object,
             const char  *member,
             float        out[3],
             gboolean     positive,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);
  double v[3];

  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) != G_TYPE_STRING)
    {
      v[0] = v[1] = v[2] = json_node_get_double (node);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node)
           && (json_array_get_length (json_node_get_array (node)) == 3
               || json_array_get_length (json_node_get_array (node)) == 1))
    {
      JsonArray *array = json_node_get_array (node);
      guint len = json_array_get_length (array);

      for (guint i = 0; i < 3; i++)
        {
          JsonNode *element = json_array_get_element (array, len == 1 ? 0 : i);

          if (!JSON_NODE_HOLDS_VALUE (element)
              || (json_node_get_value_type (element) != G_TYPE_DOUBLE
                  && json_node_get_value_type (element) != G_TYPE_INT64))
            goto invalid;
          v[i] = json_node_get_double (element);
        }
    }
  else
    goto invalid;

  for (int i = 0; i < 3; i++)
    {
      if (!isfinite (v[i]) || (positive && v[i] <= 0) || fabs (v[i]) > 1e6)
        goto invalid;
      out[i] = (float) v[i];
    }
  return TRUE;

invalid:
  /* Two whole sentences: "positive" spliced into one would not translate. */
  if (positive)
    g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                 _("The model card's preprocess.%s must be three positive numbers"), member);
  else
    g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                 _("The model card's preprocess.%s must be three numbers"), member);
  return FALSE;
}

static gboolean
parse_card (const char     *json,
            HepaModelCard  *card,
            HepaArch        tensors_arch,
            int             n_classes,
            char          **name_out,
            GError        **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GHashTable) seen = NULL;
  JsonObject *root;
  JsonNode *node;
  HepaArch arch;

  if (!hepa_json_parser_load (parser, json, -1, &local_error))
    {
      g_autofree char *message = hepa_weights_printable_name (local_error->message);

      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card is not valid JSON: %s"), message);
      return FALSE;
    }
  if (json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL, _("The model card is not a JSON object"));
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));

  node = json_object_get_member (root, "arch");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING
      || !hepa_arch_from_string (json_node_get_string (node), &arch))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card's arch must be “resnet50” or “resnet18”"));
      return FALSE;
    }
  if (arch != tensors_arch)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card says %s but the tensors are %s"),
                   hepa_arch_to_string (arch), hepa_arch_to_string (tensors_arch));
      return FALSE;
    }

  node = json_object_get_member (root, "classes");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card has no list of classes"));
      return FALSE;
    }
  classes = g_ptr_array_new_with_free_func (g_free);
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
    {
      JsonNode *element = json_array_get_element (json_node_get_array (node), i);
      const char *text;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING
          || *(text = json_node_get_string (element)) == '\0' || strlen (text) > 64)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's class %u is not a name of 1 to 64 characters"), i);
          return FALSE;
        }
      if (!g_hash_table_add (seen, (gpointer) text))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card names class “%s” twice"), text);
          return FALSE;
        }
      g_ptr_array_add (classes, g_strdup (text));
    }
  if ((int) classes->len != n_classes)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card names %u classes but “fc.weight” has %d rows"),
                   classes->len, n_classes);
      return FALSE;
    }

  node = json_object_get_member (root, "input_size");
  if (node != NULL)
    {
      gint64 size;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
          || (size = json_node_get_int (node)) < MIN_INPUT_SIZE || size > MAX_INPUT_SIZE)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's input_size must be an integer from %d to %d"),
                       MIN_INPUT_SIZE, MAX_INPUT_SIZE);
          return FALSE;
        }
      card->input_size = (int) size;
    }

  node = json_object_get_member (root, "preprocess");
  if (node != NULL)
    {
      JsonObject *pre;
      JsonNode *member;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's preprocess is not an object"));
          return FALSE;
        }
      pre = json_node_get_object (node);
      member = json_object_get_member (pre, "grayscale");
      if (member != NULL)
        {
          if (!JSON_NODE_HOLDS_VALUE (member)
              || json_node_get_value_type (member) != G_TYPE_BOOLEAN)
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                           _("The model card's preprocess.grayscale must be true or false"));
              return FALSE;
            }
          card->grayscale = json_node_get_boolean (member);
        }
      member = json_object_get_member (pre, "resize");
      if (member != NULL)
        {
          const char *mode = JSON_NODE_HOLDS_VALUE (member)
                             && json_node_get_value_type (member) == G_TYPE_STRING
                             ? json_node_get_string (member) : NULL;

          if (g_strcmp0 (mode, "stretch") == 0)
            card->resize = HEPA_RESIZE_STRETCH;
          else if (g_strcmp0 (mode, "letterbox") == 0)
            card->resize = HEPA_RESIZE_LETTERBOX;
          else
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                           _("The model card's preprocess.resize must be “stretch” or "
                             "“letterbox”"));
              return FALSE;
            }
        }
      if (!read_triple (pre, "mean", card->mean, FALSE, error)
          || !read_triple (pre, "std", card->std, TRUE, error))
        return FALSE;
    }

  node = json_object_get_member (root, "name");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING
      && *json_node_get_string (node) != '\0')
    *name_out = g_strdup (json_node_get_string (node));

  g_ptr_array_add (classes, NULL);
  g_strfreev (card->classes);
  card->classes = (char **) g_ptr_array_free (g_steal_pointer (&classes), FALSE);
  card->n_classes = (guint) n_classes;
  g_free (card->json);
  card->json = g_strdup (json);
  card->has_card = TRUE;
  return TRUE;
}

void
hepa_model_card_add_summary (const HepaModelCard *card,
                             JsonBuilder         *b)
{
  g_return_if_fail (JSON_IS_BUILDER (b));
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, card->id);
  json_builder_set_member_name (b, "arch");
  json_builder_add_string_value (b, card->arch);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; i < card->n_classes; i++)
    json_builder_add_string_value (b, card->classes[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "input_size");
  json_builder_add_int_value (b, card->input_size);
  json_builder_set_member_name (b, "has_card");
  json_builder_add_boolean_value (b, card->has_card);
}

/* The card a file without one is run with; kept as JSON so it can be shown. */
static char *
default_card_json (const HepaModelCard *card)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "arch");
  json_builder_add_string_value (builder, card->arch);
  json_builder_set_member_name (builder, "classes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < card->n_classes; i++)
    json_builder_add_string_value (builder, card->classes[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "input_size");
  json_builder_add_int_value (builder, card->input_size);
  json_builder_set_member_name (builder, "preprocess");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "grayscale");
  json_builder_add_boolean_value (builder, card->grayscale);
  json_builder_set_member_name (builder, "resize");
  json_builder_add_string_value (builder,
                                 card->resize == HEPA_RESIZE_STRETCH ? "stretch" : "letterbox");
  json_builder_set_member_name (builder, "mean");
  json_builder_begin_array (builder);
  for (int i = 0; i < 3; i++)
    json_builder_add_double_value (builder, card->mean[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "std");
  json_builder_begin_array (builder);
  for (int i = 0; i < 3; i++)
    json_builder_add_double_value (builder, card->std[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "warnings");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder,
                                 "No model card: classes and preprocessing are assumed defaults.");
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static void
card_set_defaults (HepaModelCard *card,
                   HepaArch       arch,
                   int            n_classes)
{
  card->arch = g_strdup (hepa_arch_to_string (arch));
  card->n_classes = (guint) n_classes;
  card->classes = g_new0 (char *, n_classes + 1);
  for (int i = 0; i < n_classes; i++)
    card->classes[i] = g_strdup_printf ("class%d", i);
  card->input_size = 224;
  card->grayscale = FALSE;
  card->resize = HEPA_RESIZE_STRETCH;
  memcpy (card->mean, imagenet_mean, sizeof card->mean);
  memcpy (card->std, imagenet_std, sizeof card->std);
  card->has_card = FALSE;
  card->sha256 = g_strdup ("");
}

HepaModel *
hepa_model_new_from_weights (HepaWeights  *weights,
                             const char   *name,
                             GError      **error)
{
  g_autoptr(HepaModel) self = NULL;
  g_autofree char *card_name = NULL;
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
  card_set_defaults (&self->card, arch, n_classes);

  card_json = hepa_weights_get_metadata (weights, CARD_KEY);
  if (card_json != NULL)
    {
      if (!parse_card (card_json, &self->card, arch, n_classes, &card_name, error))
        return NULL;
    }
  else
    self->card.json = default_card_json (&self->card);

  self->net = hepa_resnet_new (arch, n_classes, lookup_cb, weights);
  if (self->net == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Not enough memory to build the %s network"), hepa_arch_to_string (arch));
      return NULL;
    }
  self->card.id = g_strdup (card_name != NULL ? card_name
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
  g_free (self->card.json);
  self->card.json = default_card_json (&self->card);
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
