/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-train.h"
#include "hepa-calibrate.h"

#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-json.h"
#include "hepa-image.h"
#include "hepa-manifest.h"
#include "nn/hepa-nn-train.h"
#include "hepa-safetensors.h"
#include "hepa-model-file.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define MIN_IMAGE_SIDE    16
#define MAX_CLASSES       32
#define CHECKPOINT_KEY    "hepascope.checkpoint"
/* Issue 18 (defined below, before the evaluation). */
static gboolean record_trust (HepaTrainResult   *r,
                              const HepaDataset *data,
                              const char        *out,
                              GError           **error);

#define CARD_KEY          "hepascope.card"
#define VELOCITY_PREFIX   "velocity."

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaTrainNet, hepa_train_net_free)

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

/* ---- Dataset ------------------------------------------------------------------------------- */

/* Adds the path in front of a message unless it already names it. */
static void
prefix_path (GError     **error,
             const char  *path)
{
  if (error != NULL && *error != NULL && strstr ((*error)->message, path) == NULL)
    g_prefix_error (error, "%s: ", path);
}

static void
sample_free (gpointer data)
{
  HepaSample *s = data;

  g_free (s->path);
  g_free (s->rel);
  g_free (s);
}

void
hepa_dataset_free (HepaDataset *self)
{
  if (self == NULL)
    return;
  g_free (self->dir);
  g_free (self->name);
  g_strfreev (self->classes);
  g_clear_pointer (&self->samples, g_ptr_array_unref);
  g_free (self->hash);
  g_free (self->pixels);
  g_free (self);
}

static gboolean
is_image_name (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);

  return name[0] != '.' && (g_str_has_suffix (lower, ".png") || g_str_has_suffix (lower, ".jpg")
                            || g_str_has_suffix (lower, ".jpeg"));
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Sorted names of the children of @dir that are folders (@want_dirs) or image files. */
static GPtrArray *
list_children (const char  *dir,
               gboolean     want_dirs,
               GError     **error)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    return NULL;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      gboolean is_dir = g_file_test (path, G_FILE_TEST_IS_DIR);

      if (name[0] == '.')
        continue;
      if (want_dirs ? is_dir : (!is_dir && is_image_name (name)))
        g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_sort (names, compare_strings);
  return g_steal_pointer (&names);
}

HepaDataset *
hepa_dataset_load (const char  *dir,
                   GError     **error)
{
  g_autoptr(HepaDataset) self = g_new0 (HepaDataset, 1);
  g_autoptr(GPtrArray) class_dirs = NULL;
  g_autoptr(GPtrArray) classes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) patient_of = NULL;
  g_autoptr(GHashTable) group_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(HepaManifest) manifest = NULL;
  g_autofree char *mjson = NULL, *mcsv = NULL;

  g_return_val_if_fail (dir != NULL, NULL);

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("%s: not a folder"), dir);
      return NULL;
    }
  self->dir = g_canonicalize_filename (dir, NULL);
  self->name = g_path_get_basename (self->dir);
  self->samples = g_ptr_array_new_with_free_func (sample_free);

  class_dirs = list_children (self->dir, TRUE, error);
  if (class_dirs == NULL)
    {
      g_prefix_error (error, "%s: ", dir);
      return NULL;
    }
  /* An export also holds native/<class>/ and frames/: those are not classes. */
  for (guint i = class_dirs->len; i > 0; i--)
    {
      const char *name = g_ptr_array_index (class_dirs, i - 1);
      if (g_str_equal (name, "native") || g_str_equal (name, "frames"))
        g_ptr_array_remove_index (class_dirs, i - 1);
    }
  /* Patient ids from the export manifest, when there is one. */
  mjson = g_build_filename (self->dir, "manifest.json", NULL);
  mcsv = g_build_filename (self->dir, "manifest.csv", NULL);
  if (g_file_test (mjson, G_FILE_TEST_EXISTS) || g_file_test (mcsv, G_FILE_TEST_EXISTS))
    {
      manifest = hepa_manifest_load (self->dir, error);
      if (manifest == NULL)
        return NULL;
      patient_of = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < manifest->rows->len; i++)
        {
          HepaManifestRow *row = g_ptr_array_index (manifest->rows, i);
          if (row->file != NULL && row->patient != NULL && row->patient[0] != '\0')
            g_hash_table_insert (patient_of, row->file, row->patient);
        }
      self->has_manifest = TRUE;
      /* Only folders of the manifest's classes count, in the manifest's order (the model
       * card's, so keys 1..N keep their meaning); a class nobody labeled has no folder and is
       * left out. */
      {
        GPtrArray *ordered = g_ptr_array_new_with_free_func (g_free);

        for (char **c = manifest->classes; *c != NULL; c++)
          for (guint i = 0; i < class_dirs->len; i++)
            if (g_str_equal (*c, g_ptr_array_index (class_dirs, i)))
              g_ptr_array_add (ordered, g_strdup (*c));
        g_ptr_array_unref (class_dirs);
        class_dirs = ordered;
      }
    }

  if (class_dirs->len < 2)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("%s: training needs at least two class folders (<class>/*.png); found %u"),
                   dir, class_dirs->len);
      return NULL;
    }
  if (class_dirs->len > MAX_CLASSES)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("%s: %u class folders; at most %d are supported"), dir, class_dirs->len,
                   MAX_CLASSES);
      return NULL;
    }

  for (guint c = 0; c < class_dirs->len; c++)
    {
      const char *cname = g_ptr_array_index (class_dirs, c);
      g_autofree char *cdir = g_build_filename (self->dir, cname, NULL);
      g_autoptr(GPtrArray) files = list_children (cdir, FALSE, error);

      if (files == NULL)
        {
          g_prefix_error (error, "%s: ", cdir);
          return NULL;
        }
      if (files->len == 0)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                       _("%s: class folder has no PNG or JPEG images"), cdir);
          return NULL;
        }
      g_ptr_array_add (classes, g_strdup (cname));
      for (guint i = 0; i < files->len; i++)
        {
          const char *fname = g_ptr_array_index (files, i);
          HepaSample *s = g_new0 (HepaSample, 1);
          const char *patient = NULL;
          gpointer gid;
          g_autofree char *key = NULL;
          GStatBuf st;
          g_autofree char *line = NULL;

          s->path = g_build_filename (cdir, fname, NULL);
          s->rel = g_strconcat (cname, "/", fname, NULL);
          s->label = (int) c;
          if (patient_of != NULL)
            patient = g_hash_table_lookup (patient_of, s->rel);
          /* Without a patient id an image is its own group. */
          key = patient != NULL ? g_strconcat ("p:", patient, NULL)
                                : g_strconcat ("i:", s->rel, NULL);
          if (!g_hash_table_lookup_extended (group_ids, key, NULL, &gid))
            {
              gid = GUINT_TO_POINTER (g_hash_table_size (group_ids));
              g_hash_table_insert (group_ids, g_steal_pointer (&key), gid);
            }
          s->group = (int) GPOINTER_TO_UINT (gid);
          if (g_stat (s->path, &st) != 0)
            st.st_size = 0;
          line = g_strdup_printf ("%s\t%" G_GINT64_FORMAT "\n", s->rel, (gint64) st.st_size);
          g_checksum_update (sum, (const guchar *) line, strlen (line));
          g_ptr_array_add (self->samples, s);
        }
    }
  self->n_groups = g_hash_table_size (group_ids);
  self->n_classes = classes->len;
  g_ptr_array_add (classes, NULL);
  self->classes = (char **) g_ptr_array_free (g_steal_pointer (&classes), FALSE);
  self->hash = g_strdup (g_checksum_get_string (sum));
  return g_steal_pointer (&self);
}

guint
hepa_dataset_count (const HepaDataset *self,
                    int                label)
{
  guint n = 0;

  for (guint i = 0; i < self->samples->len; i++)
    n += ((HepaSample *) g_ptr_array_index (self->samples, i))->label == label;
  return n;
}

gboolean
hepa_dataset_preload (HepaDataset         *self,
                      const HepaModelCard *card,
                      HepaDatasetProgress  progress,
                      gpointer             user_data,
                      GCancellable        *cancellable,
                      GError             **error)
{
  HepaModelCard raw;
  int size = card->input_size;
  int planes = card->grayscale ? 1 : 3;
  gsize per = (gsize) planes * size * size;
  guint n = self->samples->len;
  g_autofree float *buf = g_new (float, (gsize) 3 * size * size);
  g_autofree guint8 *pixels = NULL;

  /* The card's preprocessing up to the resize, without normalization: mean 0, std 1/255
   * leaves values in 0..255, stored as bytes. */
  raw = *card;
  for (int c = 0; c < 3; c++)
    {
      raw.mean[c] = 0.0f;
      raw.std[c] = 1.0f / 255.0f;
    }
  if (n == 0 || per > G_MAXSIZE / 2 / n)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("%s: too many images to hold"),
                   self->dir);
      return FALSE;
    }
  pixels = g_try_malloc (per * n);
  if (pixels == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("%s: not enough memory for %u images of %d x %d"), self->dir, n, size, size);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      HepaSample *s = g_ptr_array_index (self->samples, i);
      g_autoptr(HepaImage) image = NULL;
      const HepaFrame *frame;
      HepaRect roi;
      guint8 *dst = pixels + per * i;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      image = hepa_image_open (s->path, error);
      if (image == NULL || (frame = hepa_image_get_frame (image, 0, error)) == NULL)
        {
          prefix_path (error, s->path);
          return FALSE;
        }
      if (frame->width < MIN_IMAGE_SIDE || frame->height < MIN_IMAGE_SIDE)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("%s: image is %d x %d pixels; training needs at least %d x %d"),
                       s->path, frame->width, frame->height, MIN_IMAGE_SIDE, MIN_IMAGE_SIDE);
          return FALSE;
        }
      roi.x = roi.y = 0;
      roi.width = frame->width;
      roi.height = frame->height;
      hepa_preprocess_roi (&raw, frame, &roi, buf);
      for (gsize j = 0; j < per; j++)
        dst[j] = (guint8) CLAMP (lrintf (buf[j]), 0, 255);
      if (progress != NULL)
        progress (i + 1, n, user_data);
    }
  g_free (self->pixels);
  self->pixels = g_steal_pointer (&pixels);
  self->size = size;
  self->planes = planes;
  return TRUE;
}

typedef struct
{
  int    id;
  guint  n;
  guint *counts;
  guint  order;   /* seeded random tie-break */
} Group;

static int
compare_groups (gconstpointer a,
                gconstpointer b)
{
  const Group *ga = a, *gb = b;

  if (ga->n != gb->n)
    return ga->n > gb->n ? -1 : 1;
  return ga->order < gb->order ? -1 : ga->order > gb->order ? 1 : 0;
}

gboolean
hepa_dataset_split (const HepaDataset *self,
                    guint              k,
                    guint64            seed,
                    int               *fold_of,
                    GError           **error)
{
  guint nc = self->n_classes, ng = self->n_groups, n = self->samples->len;
  g_autofree Group *groups = NULL;
  g_autofree guint *counts = NULL;      /* (ng, nc) */
  g_autofree guint *fold_counts = NULL; /* (k, nc) */
  g_autofree guint *fold_n = NULL;
  g_autofree guint *total = NULL;
  g_autofree int *fold_of_group = NULL;
  g_autoptr(GRand) rand = NULL;

  g_return_val_if_fail (k >= 1, FALSE);
  if (ng < k)
    {
      if (self->has_manifest)
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                     g_dngettext (GETTEXT_PACKAGE,
                                  "%s: %u patient for %u folds; each fold needs at least one",
                                  "%s: %u patients for %u folds; each fold needs at least one",
                                  ng), self->dir, ng, k);
      else
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                     g_dngettext (GETTEXT_PACKAGE,
                                  "%s: %u image for %u folds; each fold needs at least one",
                                  "%s: %u images for %u folds; each fold needs at least one",
                                  ng), self->dir, ng, k);
      return FALSE;
    }
  groups = g_new0 (Group, ng);
  counts = g_new0 (guint, (gsize) ng * nc);
  total = g_new0 (guint, nc);
  for (guint i = 0; i < n; i++)
    {
      const HepaSample *s = g_ptr_array_index (self->samples, i);
      counts[(gsize) s->group * nc + s->label]++;
      total[s->label]++;
      groups[s->group].n++;
    }
  rand = g_rand_new_with_seed ((guint32) (seed ^ (seed >> 32) ^ 0x5eed));
  for (guint g = 0; g < ng; g++)
    {
      groups[g].id = (int) g;
      groups[g].counts = counts + (gsize) g * nc;
      groups[g].order = g_rand_int (rand);
    }
  /* Largest groups first, each into the fold where it brings the class proportions closest to
   * the whole's (the idea of scikit-learn's StratifiedGroupKFold), ties to the smaller fold. */
  qsort (groups, ng, sizeof (Group), compare_groups);
  fold_counts = g_new0 (guint, (gsize) k * nc);
  fold_n = g_new0 (guint, k);
  fold_of_group = g_new (int, ng);
  for (guint i = 0; i < ng; i++)
    {
      const Group *g = &groups[i];
      double best = INFINITY;
      guint best_f = 0;

      for (guint f = 0; f < k; f++)
        {
          double cost = 0;

          /* The change in squared distance from the ideal share 1/k, over every class. */
          for (guint c = 0; c < nc; c++)
            {
              double before = fold_counts[f * nc + c] / (double) total[c] - 1.0 / k;
              double after = before + g->counts[c] / (double) total[c];
              cost += after * after - before * before;
            }
          /* Then the fold's size, so folds come out about equal. */
          cost += 1e-3 * fold_n[f] / (double) n;
          if (cost < best)
            {
              best = cost;
              best_f = f;
            }
        }
      fold_of_group[g->id] = (int) best_f;
      fold_n[best_f] += g->n;
      for (guint c = 0; c < nc; c++)
        fold_counts[best_f * nc + c] += g->counts[c];
    }
  for (guint i = 0; i < n; i++)
    fold_of[i] = fold_of_group[((const HepaSample *) g_ptr_array_index (self->samples, i))->group];
  return TRUE;
}

/* ---- Options and results ------------------------------------------------------------------- */

void
hepa_train_options_init (HepaTrainOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->arch = HEPA_ARCH_RESNET50;
  opts->size = 224;
  opts->epochs = 30;
  opts->batch = 16;
  opts->lr = 1e-4;
  opts->momentum = 0.9;
  opts->weight_decay = 1e-4;
  opts->folds = 5;
  opts->final_model = TRUE;
  opts->seed = 1;
  opts->translate = 0.1;
  opts->rescale = 0.15;
  opts->balance = TRUE;
}

void
hepa_train_options_clear (HepaTrainOptions *opts)
{
  g_clear_pointer (&opts->init, g_free);
}

void
hepa_train_run_free (HepaTrainRun *run)
{
  if (run == NULL)
    return;
  g_free (run->name);
  g_free (run->train_loss);
  g_free (run->train_acc);
  g_free (run->test_loss);
  g_free (run->test_acc);
  g_free (run->test_labels);
  g_free (run->test_probs);
  g_clear_pointer (&run->metrics, hepa_metrics_free);
  g_free (run);
}

void
hepa_train_result_free (HepaTrainResult *self)
{
  if (self == NULL)
    return;
  hepa_train_options_clear (&self->opts);
  g_free (self->data_dir);
  g_free (self->data_name);
  g_free (self->data_hash);
  g_strfreev (self->classes);
  g_free (self->class_counts);
  g_clear_pointer (&self->runs, g_ptr_array_unref);
  g_free (self->model_path);
  g_free (self->checkpoint);
  g_free (self);
}

static HepaTrainRun *
run_new (const char *name,
         guint       epochs)
{
  HepaTrainRun *run = g_new0 (HepaTrainRun, 1);

  run->name = g_strdup (name);
  run->train_loss = g_new (double, MAX (epochs, 1));
  run->train_acc = g_new (double, MAX (epochs, 1));
  run->test_loss = g_new (double, MAX (epochs, 1));
  run->test_acc = g_new (double, MAX (epochs, 1));
  for (guint e = 0; e < epochs; e++)
    run->train_loss[e] = run->train_acc[e] = run->test_loss[e] = run->test_acc[e] = NAN;
  return run;
}

/* ---- Augmentation -------------------------------------------------------------------------- */

typedef struct
{
  float scale;
  float tx, ty;    /* pixels */
  int   hflip, vflip;
} Aug;

static guint64
mix (guint64 a,
     guint64 b)
{
  /* Any fixed injective-enough mix; the draws go through splitmix64 anyway. */
  return a * 0x9e3779b97f4a7c15ull + b + 0x632be59bd9b4e5f5ull;
}

static float
u01 (guint64 stream,
     guint64 index)
{
  return 0.5f * (hepa_nn_seeded_uniform (stream, index) + 1.0f);
}

/* The augmentation of position @pos in an epoch: a function of (seed, run, epoch, pos) only,
 * so a resumed job draws the same. */
static void
draw_aug (const HepaTrainOptions *opts,
          guint64                 stream,
          guint64                 pos,
          gboolean                balance_copy,
          int                     size,
          Aug                    *aug)
{
  guint64 i = pos * 8;

  aug->scale = 1.0f;
  if (balance_copy)
    aug->scale = 1.0f + (float) opts->rescale * (2.0f * u01 (stream, i) - 1.0f);
  aug->tx = (float) (opts->translate * size) * (2.0f * u01 (stream, i + 1) - 1.0f);
  aug->ty = (float) (opts->translate * size) * (2.0f * u01 (stream, i + 2) - 1.0f);
  aug->hflip = u01 (stream, i + 3) < 0.5f;
  aug->vflip = opts->vflip && u01 (stream, i + 4) < 0.5f;
}

/* src (planes, size, size) bytes -> dst (3, size, size) normalized floats, through the inverse of
 * p_out = scale * flip (p_in) + t about the centre; outside is black (0). */
static void
augment (const guint8 *src,
         int           planes,
         int           size,
         const Aug    *aug,
         const float  *mean,
         const float  *std,
         float        *dst)
{
  float half = size * 0.5f;
  float inv = 1.0f / aug->scale;
  gsize plane = (gsize) size * size;

  for (int y = 0; y < size; y++)
    {
      float yo = (y + 0.5f - half - aug->ty) * inv;
      float sy;
      int y0;
      float fy;

      if (aug->vflip)
        yo = -yo;
      sy = yo + half - 0.5f;
      y0 = (int) floorf (sy);
      fy = sy - y0;
      for (int x = 0; x < size; x++)
        {
          float xo = (x + 0.5f - half - aug->tx) * inv;
          float sx;
          int x0;
          float fx;

          if (aug->hflip)
            xo = -xo;
          sx = xo + half - 0.5f;
          x0 = (int) floorf (sx);
          fx = sx - x0;
          for (int c = 0; c < 3; c++)
            {
              const guint8 *p = src + (gsize) (planes == 1 ? 0 : c) * plane;
              float v00 = 0, v01 = 0, v10 = 0, v11 = 0, v;

              if (c > 0 && planes == 1)
                {
                  float first = dst[(gsize) y * size + x];
                  /* Same bytes as channel 0: undo its normalization. */
                  v = first * std[0] + mean[0];
                  dst[(gsize) c * plane + (gsize) y * size + x] = (v - mean[c]) / std[c];
                  continue;
                }
              if (y0 >= 0 && y0 < size && x0 >= 0 && x0 < size)
                v00 = p[(gsize) y0 * size + x0];
              if (y0 >= 0 && y0 < size && x0 + 1 >= 0 && x0 + 1 < size)
                v01 = p[(gsize) y0 * size + x0 + 1];
              if (y0 + 1 >= 0 && y0 + 1 < size && x0 >= 0 && x0 < size)
                v10 = p[(gsize) (y0 + 1) * size + x0];
              if (y0 + 1 >= 0 && y0 + 1 < size && x0 + 1 >= 0 && x0 + 1 < size)
                v11 = p[(gsize) (y0 + 1) * size + x0 + 1];
              v = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
              dst[(gsize) c * plane + (gsize) y * size + x] = (v / 255.0f - mean[c]) / std[c];
            }
        }
    }
}

static void
plain_input (const guint8 *src,
             int           planes,
             int           size,
             const float  *mean,
             const float  *std,
             float        *dst)
{
  gsize plane = (gsize) size * size;

  for (int c = 0; c < 3; c++)
    {
      const guint8 *p = src + (gsize) (planes == 1 ? 0 : c) * plane;
      for (gsize i = 0; i < plane; i++)
        dst[c * plane + i] = (p[i] / 255.0f - mean[c]) / std[c];
    }
}

/* ---- Weights in and out -------------------------------------------------------------------- */

static HepaWeights *
net_to_weights (HepaTrainNet *net,
                gboolean      with_velocity)
{
  HepaWeights *w = hepa_weights_new ();

  for (int i = 0; i < hepa_train_net_n_params (net); i++)
    {
      HepaTrainParam *p = hepa_train_net_param (net, i);
      gint64 shape[4];

      for (int d = 0; d < p->ndim; d++)
        shape[d] = p->shape[d];
      hepa_weights_add (w, p->name, p->ndim, shape, p->data);
      if (with_velocity && p->velocity != NULL)
        {
          g_autofree char *vname = g_strconcat (VELOCITY_PREFIX, p->name, NULL);
          hepa_weights_add (w, vname, p->ndim, shape, p->velocity);
        }
    }
  return w;
}

static gboolean
shape_matches (const HepaTensorEntry *e,
               const HepaTrainParam  *p)
{
  if (e->ndim != p->ndim)
    return FALSE;
  for (int d = 0; d < p->ndim; d++)
    if (e->shape[d] != p->shape[d])
      return FALSE;
  return TRUE;
}

/* Copies every tensor of @w into @net; fc.* only when @with_head. Velocities too when present
 * and @with_velocity. */
static gboolean
weights_to_net (HepaWeights   *w,
                HepaTrainNet  *net,
                gboolean       with_head,
                gboolean       with_velocity,
                const char    *what,
                GError       **error)
{
  for (int i = 0; i < hepa_train_net_n_params (net); i++)
    {
      HepaTrainParam *p = hepa_train_net_param (net, i);
      const HepaTensorEntry *e;

      if (!with_head && g_str_has_prefix (p->name, "fc."))
        continue;
      e = hepa_weights_lookup (w, p->name);
      if (e == NULL)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("%s: no tensor “%s” (is it a torchvision %s?)"), what, p->name,
                       hepa_arch_to_string (hepa_train_net_get_arch (net)));
          return FALSE;
        }
      if (!shape_matches (e, p))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("%s: tensor “%s” has the wrong shape for %s"), what, p->name,
                       hepa_arch_to_string (hepa_train_net_get_arch (net)));
          return FALSE;
        }
      memcpy (p->data, e->data, sizeof (float) * p->n);
      if (with_velocity && p->velocity != NULL)
        {
          g_autofree char *vname = g_strconcat (VELOCITY_PREFIX, p->name, NULL);
          const HepaTensorEntry *v = hepa_weights_lookup (w, vname);
          if (v != NULL && shape_matches (v, p))
            memcpy (p->velocity, v->data, sizeof (float) * p->n);
        }
    }
  return TRUE;
}

/* ---- The card ------------------------------------------------------------------------------ */

static void
add_string_array (JsonBuilder       *b,
                  const char        *name,
                  const char *const *v)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (; v != NULL && *v != NULL; v++)
    json_builder_add_string_value (b, *v);
  json_builder_end_array (b);
}

static void
add_float3 (JsonBuilder *b,
            const char  *name,
            const float *v)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int i = 0; i < 3; i++)
    json_builder_add_double_value (b, v[i]);
  json_builder_end_array (b);
}

static GPtrArray *
completed_folds (const HepaTrainResult *r)
{
  GPtrArray *folds = g_ptr_array_new ();

  for (guint i = 0; r->runs != NULL && i < r->runs->len; i++)
    {
      HepaTrainRun *run = g_ptr_array_index (r->runs, i);
      if (run->metrics != NULL)
        g_ptr_array_add (folds, run->metrics);
    }
  return folds;
}

char *
hepa_train_card_json (const HepaTrainResult *r)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) folds = completed_folds (r);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created = g_date_time_format_iso8601 (now);
  g_autofree char *name = g_strdup_printf ("%s-%s", r->data_name,
                                           hepa_arch_to_string (r->opts.arch));
  const HepaTrainOptions *o = &r->opts;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "arch");
  json_builder_add_string_value (b, hepa_arch_to_string (o->arch));
  add_string_array (b, "classes", (const char *const *) r->classes);
  json_builder_set_member_name (b, "input_size");
  json_builder_add_int_value (b, o->size);
  json_builder_set_member_name (b, "preprocess");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "grayscale");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "resize");
  json_builder_add_string_value (b, "stretch");
  add_float3 (b, "mean", imagenet_mean);
  add_float3 (b, "std", imagenet_std);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "trained_on");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, r->data_name);
  json_builder_set_member_name (b, "sha256");
  json_builder_add_string_value (b, r->data_hash);
  json_builder_set_member_name (b, "hash_of");
  json_builder_add_string_value (b, "sorted lines “<class>/<file>\\t<size in bytes>\\n”");
  json_builder_set_member_name (b, "images");
  json_builder_add_int_value (b, r->n_samples);
  json_builder_set_member_name (b, "per_class");
  json_builder_begin_object (b);
  for (guint c = 0; c < r->n_classes; c++)
    {
      json_builder_set_member_name (b, r->classes[c]);
      json_builder_add_int_value (b, r->class_counts[c]);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "groups");
  json_builder_add_int_value (b, r->n_groups);
  json_builder_set_member_name (b, "grouped_by");
  json_builder_add_string_value (b, r->grouped_by_patient ? "patient" : "image");
  json_builder_end_object (b);

  json_builder_set_member_name (b, "protocol");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "folds");
  json_builder_add_int_value (b, o->folds);
  json_builder_set_member_name (b, "split");
  json_builder_add_string_value (b, o->folds < 2 ? "none (one model on all the data)"
                                 : r->grouped_by_patient
                                 ? "stratified K-fold grouped by patient"
                                 : "stratified K-fold by image (no manifest with patient ids)");
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, o->epochs);
  json_builder_set_member_name (b, "batch");
  json_builder_add_int_value (b, o->batch);
  json_builder_set_member_name (b, "optimizer");
  json_builder_add_string_value (b, "SGD with momentum");
  json_builder_set_member_name (b, "lr");
  json_builder_add_double_value (b, o->lr);
  json_builder_set_member_name (b, "schedule");
  json_builder_add_string_value (b, o->cosine ? "cosine" : "constant");
  json_builder_set_member_name (b, "warmup_epochs");
  json_builder_add_int_value (b, o->warmup);
  json_builder_set_member_name (b, "momentum");
  json_builder_add_double_value (b, o->momentum);
  json_builder_set_member_name (b, "weight_decay");
  json_builder_add_double_value (b, o->weight_decay);
  json_builder_set_member_name (b, "balancing");
  json_builder_add_string_value (b, o->balance ? "classes below the largest filled with randomly "
                                 "rescaled and translated copies" : "none");
  json_builder_set_member_name (b, "augmentation");
  json_builder_add_string_value (b, o->vflip ? "random x/y translation, horizontal and vertical "
                                 "flips" : "random x/y translation, horizontal flip");
  json_builder_set_member_name (b, "translate");
  json_builder_add_double_value (b, o->translate);
  json_builder_set_member_name (b, "init");
  if (o->init != NULL)
    {
      g_autofree char *base = g_path_get_basename (o->init);
      json_builder_add_string_value (b, base);
    }
  else
    json_builder_add_string_value (b, "scratch (He init, zero-init residual)");
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, (gint64) o->seed);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "metrics");
  json_builder_begin_object (b);
  if (folds->len > 0)
    {
      json_builder_set_member_name (b, "cross_validation");
      json_builder_begin_object (b);
      hepa_metrics_add_summary_json ((HepaMetrics *const *) folds->pdata, folds->len, b);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "folds");
      json_builder_begin_array (b);
      for (guint i = 0; i < folds->len; i++)
        {
          json_builder_begin_object (b);
          hepa_metrics_add_json (g_ptr_array_index (folds, i), b);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "created");
  json_builder_add_string_value (b, created);
  json_builder_set_member_name (b, "software_version");
  json_builder_add_string_value (b, "hepascope " PACKAGE_VERSION);
  json_builder_set_member_name (b, "intended_use");
  json_builder_add_string_value (b, "teaching and software testing; not for diagnosis");
  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "Not for diagnosis.");
  json_builder_add_string_value (b, "The metrics were measured on the data named in trained_on "
                                 "only; they say nothing about other scanners, sites or "
                                 "populations.");
  if (o->folds >= 2 && !r->grouped_by_patient)
    json_builder_add_string_value (b, "No patient ids (manifest): folds were split by image, so "
                                   "images of one patient may sit in training and test folds "
                                   "and the cross-validation figures are optimistic.");
  if (o->folds < 2)
    json_builder_add_string_value (b, "Trained without cross-validation: no test metrics.");
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* ---- Checkpoints --------------------------------------------------------------------------- */

static void
add_doubles (JsonBuilder  *b,
             const char   *name,
             const double *v,
             guint         n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      if (isnan (v[i]))
        json_builder_add_null_value (b);
      else
        json_builder_add_double_value (b, v[i]);
    }
  json_builder_end_array (b);
}

static void
run_to_json (const HepaTrainRun *run,
             guint               n_classes,
             JsonBuilder        *b)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, run->name);
  json_builder_set_member_name (b, "n_epochs");
  json_builder_add_int_value (b, run->n_epochs);
  add_doubles (b, "train_loss", run->train_loss, run->n_epochs);
  add_doubles (b, "train_acc", run->train_acc, run->n_epochs);
  add_doubles (b, "test_loss", run->test_loss, run->n_epochs);
  add_doubles (b, "test_acc", run->test_acc, run->n_epochs);
  json_builder_set_member_name (b, "n_train");
  json_builder_add_int_value (b, run->n_train);
  json_builder_set_member_name (b, "n_test");
  json_builder_add_int_value (b, run->n_test);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, run->seconds);
  json_builder_set_member_name (b, "test_labels");
  json_builder_begin_array (b);
  for (guint i = 0; run->test_labels != NULL && i < run->n_test; i++)
    json_builder_add_int_value (b, run->test_labels[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "test_probs");
  json_builder_begin_array (b);
  for (guint i = 0; run->test_probs != NULL && i < run->n_test * n_classes; i++)
    json_builder_add_double_value (b, run->test_probs[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static double
json_double_or_nan (JsonArray *a,
                    guint      i)
{
  JsonNode *n = json_array_get_element (a, i);

  return JSON_NODE_HOLDS_NULL (n) ? NAN : json_node_get_double (n);
}

static HepaTrainRun *
run_from_json (JsonObject *o,
               guint       epochs,
               guint       n_classes,
               char      **classes)
{
  HepaTrainRun *run = run_new (json_object_get_string_member (o, "name"), epochs);
  JsonArray *a;
  guint n = MIN ((guint) json_object_get_int_member (o, "n_epochs"), epochs);

  run->n_epochs = n;
  a = json_object_get_array_member (o, "train_loss");
  for (guint e = 0; a != NULL && e < n && e < json_array_get_length (a); e++)
    run->train_loss[e] = json_double_or_nan (a, e);
  a = json_object_get_array_member (o, "train_acc");
  for (guint e = 0; a != NULL && e < n && e < json_array_get_length (a); e++)
    run->train_acc[e] = json_double_or_nan (a, e);
  a = json_object_get_array_member (o, "test_loss");
  for (guint e = 0; a != NULL && e < n && e < json_array_get_length (a); e++)
    run->test_loss[e] = json_double_or_nan (a, e);
  a = json_object_get_array_member (o, "test_acc");
  for (guint e = 0; a != NULL && e < n && e < json_array_get_length (a); e++)
    run->test_acc[e] = json_double_or_nan (a, e);
  run->n_train = json_object_get_int_member (o, "n_train");
  run->n_test = json_object_get_int_member (o, "n_test");
  run->seconds = json_object_get_double_member (o, "seconds");
  a = json_object_get_array_member (o, "test_labels");
  if (run->n_test > 0 && a != NULL && json_array_get_length (a) == run->n_test)
    {
      JsonArray *p = json_object_get_array_member (o, "test_probs");
      run->test_labels = g_new (int, run->n_test);
      run->test_probs = g_new0 (float, (gsize) run->n_test * n_classes);
      for (guint i = 0; i < run->n_test; i++)
        run->test_labels[i] = CLAMP ((int) json_array_get_int_element (a, i), 0,
                                     (int) n_classes - 1);
      for (guint i = 0; p != NULL && i < run->n_test * n_classes
                        && i < json_array_get_length (p); i++)
        run->test_probs[i] = (float) json_array_get_double_element (p, i);
      run->metrics = hepa_metrics_compute (n_classes, (const char *const *) classes, run->n_test,
                                           run->test_labels, run->test_probs);
      run->metrics->loss = n > 0 ? run->test_loss[n - 1] : NAN;
    }
  else
    run->n_test = 0;
  return run;
}

typedef struct
{
  int      run;
  int      epoch;
  int      step;
  double   loss_sum;
  guint    correct;
  guint    seen;
  double   seconds;
  gint64   images;
} Position;

static gboolean
save_checkpoint (HepaTrainNet          *net,
                 const HepaTrainResult *r,
                 const HepaTrainRun    *current,
                 const Position        *pos,
                 const char            *path,
                 GError               **error)
{
  g_autoptr(HepaWeights) w = net_to_weights (net, TRUE);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  const HepaTrainOptions *o = &r->opts;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "data_hash");
  json_builder_add_string_value (b, r->data_hash);
  json_builder_set_member_name (b, "arch");
  json_builder_add_string_value (b, hepa_arch_to_string (o->arch));
  json_builder_set_member_name (b, "options");
  json_builder_begin_object (b);
#define INT_MEMBER(n, v) json_builder_set_member_name (b, n); json_builder_add_int_value (b, v)
#define DBL_MEMBER(n, v) json_builder_set_member_name (b, n); json_builder_add_double_value (b, v)
  INT_MEMBER ("size", o->size);
  INT_MEMBER ("epochs", o->epochs);
  INT_MEMBER ("batch", o->batch);
  DBL_MEMBER ("lr", o->lr);
  DBL_MEMBER ("momentum", o->momentum);
  DBL_MEMBER ("weight_decay", o->weight_decay);
  INT_MEMBER ("cosine", o->cosine);
  INT_MEMBER ("warmup", o->warmup);
  INT_MEMBER ("folds", o->folds);
  INT_MEMBER ("final_model", o->final_model);
  INT_MEMBER ("seed", (gint64) o->seed);
  INT_MEMBER ("vflip", o->vflip);
  DBL_MEMBER ("translate", o->translate);
  DBL_MEMBER ("rescale", o->rescale);
  INT_MEMBER ("balance", o->balance);
  INT_MEMBER ("max_steps", o->max_steps);
  json_builder_set_member_name (b, "init");
  if (o->init != NULL)
    json_builder_add_string_value (b, o->init);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  INT_MEMBER ("run", pos->run);
  INT_MEMBER ("epoch", pos->epoch);
  INT_MEMBER ("step", pos->step);
  DBL_MEMBER ("loss_sum", pos->loss_sum);
  INT_MEMBER ("correct", pos->correct);
  INT_MEMBER ("seen", pos->seen);
  DBL_MEMBER ("seconds", pos->seconds);
  INT_MEMBER ("images", pos->images);
#undef INT_MEMBER
#undef DBL_MEMBER
  json_builder_set_member_name (b, "runs");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->runs->len; i++)
    run_to_json (g_ptr_array_index (r->runs, i), r->n_classes, b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "current");
  run_to_json (current, r->n_classes, b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  hepa_weights_set_metadata (w, CHECKPOINT_KEY, text);
  return hepa_safetensors_save (w, path, HEPA_DTYPE_F32, error);
}

/* ---- The training loop --------------------------------------------------------------------- */

typedef struct
{
  HepaDataset             *data;
  HepaTrainOptions         opts;
  HepaTrainResult         *result;
  HepaTrainNet            *net;
  HepaTrainProgressFunc    progress;
  gpointer                 user_data;
  GCancellable            *cancellable;
  HepaWeights             *init;            /* initial weights, or NULL */
  gboolean                 init_head;       /* keep the init's fc */
  float                   *input;           /* (batch, 3, size, size) */
  float                   *logits;          /* (batch, n_classes) */
  int                     *labels;          /* (batch) */
  float                   *probs;
  gint64                   global_step;
  gint64                   total_steps;
  gint64                   images;          /* trained images, for img/s */
  double                   train_seconds;
  const char              *checkpoint_path;
} Job;

typedef struct
{
  guint    sample;
  gboolean copy;    /* a balancing copy: gets a random rescale too */
} Entry;

static GArray *
build_train_list (const Job *job,
                  const int *fold_of,
                  int        test_fold)
{
  HepaDataset *d = job->data;
  GArray *list = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_autofree guint *count = g_new0 (guint, d->n_classes);
  g_autoptr(GPtrArray) by_class = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  guint max = 0;

  for (guint c = 0; c < d->n_classes; c++)
    g_ptr_array_add (by_class, g_array_new (FALSE, FALSE, sizeof (guint)));
  for (guint i = 0; i < d->samples->len; i++)
    {
      const HepaSample *s = g_ptr_array_index (d->samples, i);
      Entry e = { i, FALSE };

      if (fold_of != NULL && fold_of[i] == test_fold)
        continue;
      g_array_append_val (list, e);
      g_array_append_val (g_ptr_array_index (by_class, s->label), i);
      count[s->label]++;
    }
  for (guint c = 0; c < d->n_classes; c++)
    max = MAX (max, count[c]);
  if (job->opts.balance)
    {
      /* As the paper: classes below the largest are filled up with copies (which get a random
       * rescale and translation), cycling through the class's images in a seeded order. */
      g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) mix (job->opts.seed, 77 + test_fold));

      for (guint c = 0; c < d->n_classes; c++)
        {
          GArray *members = g_ptr_array_index (by_class, c);
          for (guint j = 0; count[c] > 0 && j < max - count[c]; j++)
            {
              Entry e = { g_array_index (members, guint, g_rand_int_range (rand, 0, members->len)),
                          TRUE };
              g_array_append_val (list, e);
            }
        }
    }
  return list;
}

static void
report_progress (Job       *job,
                 int        run,
                 int        n_runs,
                 int        epoch,
                 int        step,
                 int        n_steps,
                 double     loss)
{
  HepaTrainProgress p;

  if (job->progress == NULL)
    return;
  p.run = run;
  p.n_runs = n_runs;
  p.epoch = epoch;
  p.n_epochs = job->opts.epochs;
  p.step = step;
  p.n_steps = n_steps;
  p.global_step = job->global_step;
  p.total_steps = job->total_steps;
  p.loss = loss;
  p.img_per_s = job->train_seconds > 0 ? job->images / job->train_seconds : 0;
  job->progress (&p, job->user_data);
}

/* Forward over @idx (n) in eval mode; fills probs (n, k) and returns the mean loss. */
static double
evaluate_indices (Job         *job,
                  const guint *idx,
                  guint        n,
                  int         *labels_out,
                  float       *probs_out)
{
  HepaDataset *d = job->data;
  int b = job->opts.batch, k = (int) d->n_classes;
  gsize per = (gsize) d->planes * d->size * d->size;
  gsize in_n = (gsize) 3 * d->size * d->size;
  double loss = 0;

  for (guint start = 0; start < n; start += b)
    {
      int nb = (int) MIN ((guint) b, n - start);

      for (int j = 0; j < nb; j++)
        {
          const HepaSample *s = g_ptr_array_index (d->samples, idx[start + j]);
          plain_input (d->pixels + per * idx[start + j], d->planes, d->size, imagenet_mean,
                       imagenet_std, job->input + in_n * j);
          job->labels[j] = s->label;
          labels_out[start + j] = s->label;
        }
      hepa_train_net_forward (job->net, job->input, nb, 0, job->logits);
      loss += nb * hepa_nn_train_softmax_xent (job->logits, job->labels, nb, k,
                                               probs_out + (gsize) start * k, NULL);
    }
  return n ? loss / n : NAN;
}

static void
init_net (Job *job,
          int  run)
{
  hepa_train_net_init_he (job->net, mix (job->opts.seed, 1000 + run));
  if (job->init == NULL)
    hepa_train_net_zero_init_residual (job->net);
  if (job->init != NULL)
    {
      /* Checked before training started, so this cannot fail. */
      weights_to_net (job->init, job->net, job->init_head, FALSE, "init", NULL);
    }
}

/* Trains one run. Returns FALSE with G_IO_ERROR_CANCELLED after writing a checkpoint. */
static gboolean
train_one (Job          *job,
           HepaTrainRun *run,
           int           run_index,
           int           n_runs,
           const int    *fold_of,
           int           test_fold,
           Position     *start,
           GError      **error)
{
  HepaDataset *d = job->data;
  const HepaTrainOptions *o = &job->opts;
  g_autoptr(GArray) list = build_train_list (job, fold_of, test_fold);
  g_autoptr(GArray) test = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree guint *perm = NULL;
  gsize per = (gsize) d->planes * d->size * d->size;
  gsize in_n = (gsize) 3 * d->size * d->size;
  int b = o->batch, k = (int) d->n_classes;
  int n_steps;
  gint64 run_t0 = g_get_monotonic_time ();
  double run_seconds0 = start != NULL ? start->seconds : 0;
  int steps_done_run = 0;

  for (guint i = 0; fold_of != NULL && i < d->samples->len; i++)
    if (fold_of[i] == test_fold)
      g_array_append_val (test, i);
  run->n_train = list->len;
  run->n_test = test->len;
  if (test->len > 0 && run->test_labels == NULL)
    {
      run->test_labels = g_new0 (int, test->len);
      run->test_probs = g_new0 (float, (gsize) test->len * k);
    }
  n_steps = (int) ((list->len + b - 1) / b);
  perm = g_new (guint, list->len);

  if (start == NULL)
    init_net (job, run_index);

  for (int epoch = start ? start->epoch : 0; epoch < o->epochs; epoch++)
    {
      g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) mix (mix (o->seed, run_index), epoch));
      guint64 stream = mix (mix (o->seed ^ 0xa5a5, run_index), epoch);
      double loss_sum = 0;
      guint correct = 0, seen = 0;
      int first_step = 0;

      /* The epoch's order: Fisher-Yates with a generator seeded by (seed, run, epoch). */
      for (guint i = 0; i < list->len; i++)
        perm[i] = i;
      for (guint i = list->len - 1; i > 0; i--)
        {
          guint j = (guint) g_rand_int_range (rand, 0, (gint32) i + 1);
          guint t = perm[i];
          perm[i] = perm[j];
          perm[j] = t;
        }
      if (start != NULL && epoch == start->epoch)
        {
          first_step = start->step;
          loss_sum = start->loss_sum;
          correct = start->correct;
          seen = start->seen;
        }

      for (int step = first_step; step < n_steps; step++)
        {
          int nb = MIN (b, (int) list->len - step * b);
          double lr = o->lr, loss;
          gint64 t0;

          if (g_cancellable_is_cancelled (job->cancellable))
            {
              Position pos = { run_index, epoch, step, loss_sum, correct, seen,
                               run_seconds0 + (g_get_monotonic_time () - run_t0) / 1e6,
                               job->images };
              g_autoptr(GError) save_error = NULL;

              run->n_epochs = epoch;
              if (!save_checkpoint (job->net, job->result, run, &pos, job->checkpoint_path,
                                    &save_error))
                {
                  g_propagate_error (error, g_steal_pointer (&save_error));
                  return FALSE;
                }
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           _("Interrupted; checkpoint written to %s"), job->checkpoint_path);
              return FALSE;
            }
          if (o->max_steps > 0 && steps_done_run >= o->max_steps)
            break;

          t0 = g_get_monotonic_time ();
          for (int j = 0; j < nb; j++)
            {
              guint p = perm[step * b + j];
              const Entry *e = &g_array_index (list, Entry, p);
              const HepaSample *s = g_ptr_array_index (d->samples, e->sample);
              Aug aug;

              draw_aug (o, stream, (guint64) step * b + j, e->copy, d->size, &aug);
              augment (d->pixels + per * e->sample, d->planes, d->size, &aug, imagenet_mean,
                       imagenet_std, job->input + in_n * j);
              job->labels[j] = s->label;
            }
          if (o->cosine)
            {
              double t = (double) (epoch * n_steps + step) / ((double) o->epochs * n_steps);
              lr = o->lr * 0.5 * (1.0 + cos (G_PI * t));
            }
          if (epoch < o->warmup)
            lr *= (double) (epoch * n_steps + step + 1) / ((double) o->warmup * n_steps);
          loss = hepa_train_net_loss_grad (job->net, job->input, job->labels, nb, job->logits);
          hepa_train_net_sgd_step (job->net, (float) lr, (float) o->momentum,
                                   (float) o->weight_decay);
          job->train_seconds += (g_get_monotonic_time () - t0) / 1e6;
          job->images += nb;
          loss_sum += loss * nb;
          seen += nb;
          for (int j = 0; j < nb; j++)
            {
              const float *z = job->logits + (gsize) j * k;
              int best = 0;
              for (int c = 1; c < k; c++)
                if (z[c] > z[best])
                  best = c;
              correct += best == job->labels[j];
            }
          job->global_step++;
          steps_done_run++;
          report_progress (job, run_index, n_runs, epoch, step + 1, n_steps, loss_sum / seen);
        }
      run->train_loss[epoch] = seen ? loss_sum / seen : NAN;
      run->train_acc[epoch] = seen ? (double) correct / seen : NAN;
      if (test->len > 0)
        {
          double tl = evaluate_indices (job, (const guint *) test->data, test->len,
                                        run->test_labels, run->test_probs);
          guint ok = 0;

          for (guint i = 0; i < test->len; i++)
            {
              const float *p = run->test_probs + (gsize) i * k;
              int best = 0;
              for (int c = 1; c < k; c++)
                if (p[c] > p[best])
                  best = c;
              ok += best == run->test_labels[i];
            }
          run->test_loss[epoch] = tl;
          run->test_acc[epoch] = (double) ok / test->len;
        }
      run->n_epochs = epoch + 1;
      start = NULL;
      if (o->max_steps > 0 && steps_done_run >= o->max_steps)
        break;
    }
  run->seconds = run_seconds0 + (g_get_monotonic_time () - run_t0) / 1e6;
  if (test->len > 0)
    {
      run->metrics = hepa_metrics_compute (d->n_classes, (const char *const *) d->classes,
                                           test->len, run->test_labels, run->test_probs);
      run->metrics->loss = run->n_epochs > 0 ? run->test_loss[run->n_epochs - 1] : NAN;
    }
  return TRUE;
}

static gboolean
load_resume (const char        *path,
             HepaDataset       *data,
             HepaTrainOptions  *opts,
             HepaWeights      **weights_out,
             JsonParser       **parser_out,
             GError           **error)
{
  g_autoptr(HepaWeights) w = hepa_model_file_load (path, error);
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *meta;
  JsonObject *root, *o;
  HepaArch arch;

  if (w == NULL)
    {
      prefix_path (error, path);
      return FALSE;
    }
  meta = hepa_weights_get_metadata (w, CHECKPOINT_KEY);
  if (meta == NULL || !hepa_json_parser_load (parser, meta, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("%s: not a Hepascope training checkpoint"), path);
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (root, "data_hash", ""),
                 data->hash) != 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("%s: the checkpoint was made on other data than %s (file list differs)"),
                   path, data->dir);
      return FALSE;
    }
  o = json_object_get_object_member (root, "options");
  if (o == NULL
      || !hepa_arch_from_string (json_object_get_string_member_with_default (root, "arch", ""),
                                 &arch))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("%s: damaged checkpoint"), path);
      return FALSE;
    }
  /* The checkpoint's options win: the job continues as it was started. */
  hepa_train_options_clear (opts);
  hepa_train_options_init (opts);
  opts->arch = arch;
  opts->size = json_object_get_int_member (o, "size");
  opts->epochs = json_object_get_int_member (o, "epochs");
  opts->batch = json_object_get_int_member (o, "batch");
  opts->lr = json_object_get_double_member (o, "lr");
  opts->momentum = json_object_get_double_member (o, "momentum");
  opts->weight_decay = json_object_get_double_member (o, "weight_decay");
  opts->cosine = json_object_get_int_member (o, "cosine");
  opts->warmup = (int) json_object_get_int_member_with_default (o, "warmup", 0);
  opts->folds = json_object_get_int_member (o, "folds");
  opts->final_model = json_object_get_int_member (o, "final_model");
  opts->seed = json_object_get_int_member (o, "seed");
  opts->vflip = json_object_get_int_member (o, "vflip");
  opts->translate = json_object_get_double_member (o, "translate");
  opts->rescale = json_object_get_double_member (o, "rescale");
  opts->balance = json_object_get_int_member (o, "balance");
  opts->max_steps = json_object_get_int_member (o, "max_steps");
  if (json_object_has_member (o, "init") && !json_object_get_null_member (o, "init"))
    opts->init = g_strdup (json_object_get_string_member (o, "init"));
  *weights_out = g_steal_pointer (&w);
  *parser_out = g_steal_pointer (&parser);
  return TRUE;
}

static gboolean
validate_options (const HepaTrainOptions *o,
                  GError                **error)
{
  const char *bad = NULL;

  if (o->arch != HEPA_ARCH_RESNET18 && o->arch != HEPA_ARCH_RESNET50)
    bad = "arch";
  else if (o->size < 32 || o->size > 1024)
    bad = "size (32..1024)";
  else if (o->epochs < 1 || o->epochs > 10000)
    bad = "epochs (1..10000)";
  else if (o->batch < 1 || o->batch > 1024)
    bad = "batch (1..1024)";
  else if (!(o->lr > 0 && o->lr < 10))
    bad = "lr (0..10)";
  else if (o->warmup < 0 || o->warmup > o->epochs)
    bad = "warmup (0..epochs)";
  else if (!(o->momentum >= 0 && o->momentum < 1))
    bad = "momentum (0..1)";
  else if (!(o->weight_decay >= 0 && o->weight_decay < 1))
    bad = "weight-decay (0..1)";
  else if (o->folds < 1 || o->folds > 100)
    bad = "folds (1..100)";
  else if (!(o->translate >= 0 && o->translate <= 0.5) || !(o->rescale >= 0 && o->rescale < 1))
    bad = "augmentation";
  if (bad != NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT, _("Invalid %s"), bad);
      return FALSE;
    }
  return TRUE;
}

HepaTrainResult *
hepa_train_run (HepaDataset            *data,
                const HepaTrainOptions *opts_in,
                const char             *out,
                const char             *resume,
                HepaTrainProgressFunc   progress,
                gpointer                user_data,
                GCancellable           *cancellable,
                GError                **error)
{
  g_autoptr(HepaTrainResult) r = g_new0 (HepaTrainResult, 1);
  g_autoptr(HepaWeights) resume_w = NULL;
  g_autoptr(JsonParser) resume_p = NULL;
  g_autoptr(HepaWeights) init = NULL;
  g_autofree int *fold_of = NULL;
  g_autofree char *checkpoint = NULL;
  HepaModelCard card = { 0 };
  Job job = { 0 };
  Position start_pos = { 0 };
  gboolean resuming = FALSE;
  int n_runs, first_run = 0;
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = TRUE;

  g_return_val_if_fail (data != NULL && opts_in != NULL && out != NULL, NULL);

  r->opts = *opts_in;
  r->opts.init = g_strdup (opts_in->init);
  if (resume != NULL)
    {
      if (!load_resume (resume, data, &r->opts, &resume_w, &resume_p, error))
        return NULL;
      resuming = TRUE;
    }
  if (!validate_options (&r->opts, error))
    return NULL;
  job.opts = r->opts;

  r->data_dir = g_strdup (data->dir);
  r->data_name = g_strdup (data->name);
  r->data_hash = g_strdup (data->hash);
  r->classes = g_strdupv (data->classes);
  r->n_classes = data->n_classes;
  r->class_counts = g_new0 (guint, data->n_classes);
  for (guint c = 0; c < data->n_classes; c++)
    r->class_counts[c] = hepa_dataset_count (data, (int) c);
  r->n_samples = data->samples->len;
  r->n_groups = data->n_groups;
  r->grouped_by_patient = data->has_manifest;
  r->runs = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_train_run_free);

  /* Every check before any training: folds, init weights, images. */
  if (r->opts.folds >= 2)
    {
      fold_of = g_new (int, data->samples->len);
      if (!hepa_dataset_split (data, (guint) r->opts.folds, r->opts.seed, fold_of, error))
        return NULL;
      for (int f = 0; f < r->opts.folds; f++)
        {
          g_autofree guint *seen = g_new0 (guint, data->n_classes);
          guint n_classes_train = 0;
          for (guint i = 0; i < data->samples->len; i++)
            if (fold_of[i] != f)
              seen[((HepaSample *) g_ptr_array_index (data->samples, i))->label]++;
          for (guint c = 0; c < data->n_classes; c++)
            n_classes_train += seen[c] > 0;
          if (n_classes_train < 2)
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                           _("%s: fold %d would train on one class only; use fewer folds"),
                           data->dir, f + 1);
              return NULL;
            }
        }
    }
  if (r->opts.init != NULL && !resuming)
    {
      g_autoptr(HepaTrainNet) probe = NULL;
      const char *card_json;

      init = hepa_model_file_load (r->opts.init, error);
      if (init == NULL)
        {
          prefix_path (error, r->opts.init);
          return NULL;
        }
      /* Keep the head only when the init was trained on the same classes, in order. */
      card_json = hepa_weights_get_metadata (init, CARD_KEY);
      if (card_json != NULL)
        {
          g_autoptr(JsonParser) p = json_parser_new ();
          if (hepa_json_parser_load (p, card_json, -1, NULL)
              && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)))
            {
              JsonObject *co = json_node_get_object (json_parser_get_root (p));
              JsonArray *ca = json_object_has_member (co, "classes")
                              ? json_object_get_array_member (co, "classes") : NULL;
              if (ca != NULL && json_array_get_length (ca) == data->n_classes)
                {
                  job.init_head = TRUE;
                  for (guint c = 0; c < data->n_classes; c++)
                    if (g_strcmp0 (json_array_get_string_element (ca, c), data->classes[c]) != 0)
                      job.init_head = FALSE;
                }
            }
        }
      probe = hepa_train_net_new (r->opts.arch, (int) data->n_classes, 1, 32);
      if (probe == NULL)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("Out of memory"));
          return NULL;
        }
      if (!weights_to_net (init, probe, job.init_head, FALSE, r->opts.init, error))
        return NULL;
    }

  card.input_size = r->opts.size;
  card.grayscale = TRUE;
  card.resize = HEPA_RESIZE_STRETCH;
  memcpy (card.mean, imagenet_mean, sizeof card.mean);
  memcpy (card.std, imagenet_std, sizeof card.std);
  if (data->pixels == NULL || data->size != r->opts.size || data->planes != 1)
    if (!hepa_dataset_preload (data, &card, NULL, NULL, cancellable, error))
      return NULL;

  job.net = hepa_train_net_new (r->opts.arch, (int) data->n_classes, r->opts.batch, r->opts.size);
  if (job.net == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Not enough memory to train %s at batch %d and size %d"),
                   hepa_arch_to_string (r->opts.arch), r->opts.batch, r->opts.size);
      return NULL;
    }
  job.data = data;
  job.result = r;
  job.progress = progress;
  job.user_data = user_data;
  job.cancellable = cancellable;
  job.init = init;
  job.input = g_new (float, (gsize) r->opts.batch * 3 * r->opts.size * r->opts.size);
  job.logits = g_new (float, (gsize) r->opts.batch * data->n_classes);
  job.labels = g_new (int, r->opts.batch);
  checkpoint = g_strconcat (out, ".checkpoint", NULL);
  job.checkpoint_path = checkpoint;

  n_runs = r->opts.folds >= 2 ? r->opts.folds + (r->opts.final_model ? 1 : 0) : 1;
  {
    /* Steps of the whole job, for the ETA. */
    guint max_count = 0;
    for (guint c = 0; c < data->n_classes; c++)
      max_count = MAX (max_count, r->class_counts[c]);
    for (int run = 0; run < n_runs; run++)
      {
        guint n = 0;
        int test_fold = run < r->opts.folds && r->opts.folds >= 2 ? run : -1;
        g_autoptr(GArray) l = build_train_list (&job, test_fold >= 0 ? fold_of : NULL, test_fold);
        gint64 steps;
        n = l->len;
        steps = (gint64) r->opts.epochs * ((n + r->opts.batch - 1) / r->opts.batch);
        if (r->opts.max_steps > 0)
          steps = MIN (steps, r->opts.max_steps);
        job.total_steps += steps;
      }
  }

  if (resuming)
    {
      JsonObject *root = json_node_get_object (json_parser_get_root (resume_p));
      JsonArray *runs = json_object_get_array_member (root, "runs");

      for (guint i = 0; runs != NULL && i < json_array_get_length (runs); i++)
        g_ptr_array_add (r->runs, run_from_json (json_array_get_object_element (runs, i),
                                                 (guint) r->opts.epochs, data->n_classes,
                                                 data->classes));
      first_run = (int) json_object_get_int_member (root, "run");
      start_pos.run = first_run;
      start_pos.epoch = (int) json_object_get_int_member (root, "epoch");
      start_pos.step = (int) json_object_get_int_member (root, "step");
      start_pos.loss_sum = json_object_get_double_member (root, "loss_sum");
      start_pos.correct = (guint) json_object_get_int_member (root, "correct");
      start_pos.seen = (guint) json_object_get_int_member (root, "seen");
      start_pos.seconds = json_object_get_double_member (root, "seconds");
      job.images = json_object_get_int_member (root, "images");
      if (first_run < 0 || first_run >= n_runs || (guint) first_run != r->runs->len)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("%s: damaged checkpoint"),
                       resume);
          ok = FALSE;
        }
      else if (!weights_to_net (resume_w, job.net, TRUE, TRUE, resume, error))
        ok = FALSE;
    }

  for (int run = first_run; ok && run < n_runs; run++)
    {
      gboolean is_fold = r->opts.folds >= 2 && run < r->opts.folds;
      g_autofree char *name = is_fold ? g_strdup_printf ("fold %d", run + 1) : g_strdup ("final");
      HepaTrainRun *tr = NULL;
      g_autoptr(GError) local = NULL;

      if (resuming && run == first_run)
        {
          JsonObject *root = json_node_get_object (json_parser_get_root (resume_p));
          tr = run_from_json (json_object_get_object_member (root, "current"),
                              (guint) r->opts.epochs, data->n_classes, data->classes);
          g_clear_pointer (&tr->metrics, hepa_metrics_free);
        }
      else
        tr = run_new (name, (guint) r->opts.epochs);

      if (!train_one (&job, tr, run, n_runs, is_fold ? fold_of : NULL, is_fold ? run : -1,
                      resuming && run == first_run ? &start_pos : NULL, &local))
        {
          hepa_train_run_free (tr);
          if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              r->interrupted = TRUE;
              r->checkpoint = g_strdup (checkpoint);
              break;
            }
          g_propagate_error (error, g_steal_pointer (&local));
          ok = FALSE;
          break;
        }
      g_ptr_array_add (r->runs, tr);
    }

  if (ok && !r->interrupted)
    {
      g_autoptr(HepaWeights) w = net_to_weights (job.net, FALSE);
      g_autofree char *card_json = NULL;

      r->seconds = (g_get_monotonic_time () - t0) / 1e6;
      card_json = hepa_train_card_json (r);
      hepa_weights_set_metadata (w, CARD_KEY, card_json);
      if (!hepa_safetensors_save (w, out, HEPA_DTYPE_F32, error))
        ok = FALSE;
      else
        {
          r->model_path = g_strdup (out);
          if (resuming)
            g_unlink (checkpoint);
          /* Issue 18: the card's OOD reference and calibration (hepa-calibrate.h). */
          ok = record_trust (r, data, out, error);
        }
    }
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  r->img_per_s = job.train_seconds > 0 ? job.images / job.train_seconds : 0;

  hepa_train_net_free (job.net);
  g_free (job.input);
  g_free (job.logits);
  g_free (job.labels);
  if (!ok)
    return NULL;
  return g_steal_pointer (&r);
}

/* Issue 18: the OOD reference from the final model's features on the training crops, the
 * temperature and conformal threshold from the folds' out-of-fold predictions. */
static gboolean
record_trust (HepaTrainResult   *r,
              const HepaDataset *data,
              const char        *out,
              GError           **error)
{
  g_autoptr(GArray) probs = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) labels = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; r->runs != NULL && i < r->runs->len; i++)
    {
      HepaTrainRun *run = g_ptr_array_index (r->runs, i);

      if (run->test_probs == NULL || g_strcmp0 (run->name, "final") == 0)
        continue;
      g_array_append_vals (probs, run->test_probs, run->n_test * r->n_classes);
      for (guint j = 0; j < run->n_test; j++)
        {
          guint label = (guint) run->test_labels[j];

          g_array_append_val (labels, label);
        }
    }
  if (!hepa_calibrate_after_training (out, data, probs->len ? (float *) probs->data : NULL,
                                      (guint *) labels->data, labels->len, error))
    {
      g_prefix_error (error, "%s: ", out);
      return FALSE;
    }
  return TRUE;
}

/* ---- Evaluation ---------------------------------------------------------------------------- */

HepaTrainRun *
hepa_train_evaluate (HepaModel     *model,
                     HepaDataset   *data,
                     GCancellable  *cancellable,
                     GError       **error)
{
  const HepaModelCard *card = hepa_model_get_card (model);
  const HepaResnet *net = hepa_model_get_network (model);
  g_autofree int *map = g_new (int, data->n_classes);
  g_autoptr(HepaTrainRun) run = run_new ("eval", 1);
  HepaResnetWorkspace *ws;
  guint n = data->samples->len, k = card->n_classes;
  int size = card->input_size, bmax = 8;
  gsize in_n = (gsize) 3 * size * size;
  g_autofree float *input = g_new (float, in_n * bmax);
  g_autofree float *logits = g_new (float, (gsize) bmax * k);
  double loss = 0;
  guint ok = 0;

  for (guint c = 0; c < data->n_classes; c++)
    {
      map[c] = -1;
      for (guint j = 0; j < k; j++)
        if (g_strcmp0 (card->classes[j], data->classes[c]) == 0)
          map[c] = (int) j;
      if (map[c] < 0)
        {
          g_autofree char *have = g_strjoinv (", ", card->classes);
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model has no class “%s” (its classes: %s)"), data->classes[c],
                       have);
          return NULL;
        }
    }
  ws = hepa_resnet_workspace_new (net, bmax, size);
  if (ws == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("Out of memory"));
      return NULL;
    }
  run->n_test = n;
  run->test_labels = g_new (int, n);
  run->test_probs = g_new (float, (gsize) n * k);
  for (guint start = 0; start < n; start += bmax)
    {
      int nb = (int) MIN ((guint) bmax, n - start);

      for (int j = 0; j < nb; j++)
        {
          const HepaSample *s = g_ptr_array_index (data->samples, start + j);
          g_autoptr(HepaImage) image = NULL;
          const HepaFrame *frame;
          HepaRect roi = { 0, 0, 0, 0 };

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            goto fail;
          image = hepa_image_open (s->path, error);
          if (image == NULL || (frame = hepa_image_get_frame (image, 0, error)) == NULL)
            {
              prefix_path (error, s->path);
              goto fail;
            }
          if (frame->width < MIN_IMAGE_SIDE || frame->height < MIN_IMAGE_SIDE)
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                           _("%s: image is %d x %d pixels; at least %d x %d needed"), s->path,
                           frame->width, frame->height, MIN_IMAGE_SIDE, MIN_IMAGE_SIDE);
              goto fail;
            }
          roi.width = frame->width;
          roi.height = frame->height;
          hepa_preprocess_roi (card, frame, &roi, input + in_n * j);
          run->test_labels[start + j] = map[s->label];
        }
      hepa_resnet_forward (net, ws, input, nb, logits, NULL, NULL);
      loss += nb * hepa_nn_train_softmax_xent (logits, run->test_labels + start, nb, (int) k,
                                               run->test_probs + (gsize) start * k, NULL);
    }
  hepa_resnet_workspace_free (ws);
  ws = NULL;
  run->metrics = hepa_metrics_compute (k, (const char *const *) card->classes, n,
                                       run->test_labels, run->test_probs);
  run->metrics->loss = n ? loss / n : NAN;
  for (guint i = 0; i < n; i++)
    {
      const float *p = run->test_probs + (gsize) i * k;
      guint best = 0;
      for (guint c = 1; c < k; c++)
        if (p[c] > p[best])
          best = c;
      ok += (int) best == run->test_labels[i];
    }
  run->n_epochs = 1;
  run->test_loss[0] = run->metrics->loss;
  run->test_acc[0] = n ? (double) ok / n : NAN;
  return g_steal_pointer (&run);

fail:
  hepa_resnet_workspace_free (ws);
  return NULL;
}

/* ---- Benchmark ----------------------------------------------------------------------------- */

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

gboolean
hepa_train_bench (HepaArch  arch,
                  int       batch,
                  int       size,
                  int       warmup,
                  int       runs,
                  double   *macs,
                  double   *median_s,
                  double   *min_s,
                  double   *max_s,
                  gsize    *bytes,
                  GError  **error)
{
  HepaTrainNet *net;
  g_autofree float *input = NULL;
  g_autofree int *labels = NULL;
  g_autofree double *t = NULL;
  gsize n_in;

  g_return_val_if_fail (batch >= 1 && size >= 32 && runs >= 1 && warmup >= 0, FALSE);
  net = hepa_train_net_new (arch, 5, batch, size);
  if (net == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Not enough memory to train %s at batch %d and size %d"),
                   hepa_arch_to_string (arch), batch, size);
      return FALSE;
    }
  hepa_train_net_init_he (net, 1);
  n_in = (gsize) batch * 3 * size * size;
  input = g_new (float, n_in);
  labels = g_new (int, batch);
  for (gsize i = 0; i < n_in; i++)
    input[i] = hepa_nn_seeded_uniform (42, i);
  for (int i = 0; i < batch; i++)
    labels[i] = i % 5;
  t = g_new (double, runs);
  for (int r = -warmup; r < runs; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      hepa_train_net_loss_grad (net, input, labels, batch, NULL);
      hepa_train_net_sgd_step (net, 1e-4f, 0.9f, 1e-4f);
      if (r >= 0)
        t[r] = (g_get_monotonic_time () - t0) / 1e6;
    }
  *bytes = hepa_train_net_get_bytes (net);
  *macs = hepa_train_net_macs (net);
  hepa_train_net_free (net);
  qsort (t, runs, sizeof (double), compare_doubles);
  *median_s = t[runs / 2];
  *min_s = t[0];
  *max_s = t[runs - 1];
  return TRUE;
}
