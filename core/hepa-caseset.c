/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-caseset.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-image.h"

#include <glib/gi18n.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST_BYTES (16 * 1024 * 1024)

/* ---- Case sets -------------------------------------------------------------------------- */

static void
hepa_case_free (HepaCase *c)
{
  if (c == NULL)
    return;
  g_free (c->image_path);
  g_free (c->roi_id);
  g_free (c->expert_label);
  g_free (c);
}

HepaCaseSet *
hepa_case_set_new (const char *name)
{
  HepaCaseSet *self = g_new0 (HepaCaseSet, 1);

  self->name = g_strdup (name != NULL ? name : "");
  self->cases = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_case_free);
  return self;
}

void
hepa_case_set_free (HepaCaseSet *self)
{
  if (self == NULL)
    return;
  g_free (self->name);
  g_free (self->source);
  g_ptr_array_unref (self->cases);
  g_free (self);
}

void
hepa_case_set_add (HepaCaseSet    *self,
                   const char     *image_path,
                   const char     *roi_id,
                   guint           frame,
                   const HepaRect *rect,
                   const char     *expert_label)
{
  HepaCase *c;

  g_return_if_fail (self != NULL && image_path != NULL && rect != NULL);

  c = g_new0 (HepaCase, 1);
  c->image_path = g_strdup (image_path);
  c->roi_id = g_strdup (roi_id != NULL ? roi_id : "");
  c->frame = frame;
  c->rect = *rect;
  c->expert_label = g_strdup (expert_label);
  g_ptr_array_add (self->cases, c);
}

/* Adds every labelled ROI of @image_path's sidecar. @required: a missing sidecar is an error. */
static gboolean
add_image (HepaCaseSet *self,
           const char  *image_path,
           gboolean     required,
           GError     **error)
{
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image_path, NULL);
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(GError) local = NULL;
  guint added = 0;

  if (!g_file_test (image_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("%s: the image is missing"), image_path);
      return FALSE;
    }
  if (!g_file_test (sidecar, G_FILE_TEST_EXISTS))
    {
      if (!required)
        return TRUE;
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("%s: no regions (no sidecar next to the image)"), image_path);
      return FALSE;
    }
  /* Parse without the load's moving aside: a case set is read, never repaired. */
  {
    g_autofree char *data = NULL;
    gsize length;

    if (!hepa_file_get_contents (sidecar, HEPA_ANNOTATIONS_MAX_BYTES, &data, &length, &local))
      {
        g_set_error (error, local->domain, local->code, "%s: %s", sidecar, local->message);
        return FALSE;
      }
    set = hepa_annotations_parse (data, length, &local);
    if (set == NULL)
      {
        g_set_error (error, local->domain, local->code, "%s: %s", sidecar, local->message);
        return FALSE;
      }
  }
  for (guint i = 0; i < set->rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (set->rois, i);

      if (roi->label == NULL)
        continue;
      hepa_case_set_add (self, image_path, roi->id, roi->frame, &roi->rect, roi->label);
      added++;
    }
  if (added == 0 && required)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("%s: no region has an expert label"), image_path);
      return FALSE;
    }
  return TRUE;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
load_folder (HepaCaseSet *self,
             const char  *folder,
             GError     **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local = NULL;
  const char *name;

  dir = g_dir_open (folder, 0, &local);
  if (dir == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, "%s: %s", folder, local->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (!g_str_has_suffix (name, ".hepascope.json") && !g_str_has_suffix (name, ".csv")
        && name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (folder, g_ptr_array_index (names, i), NULL);

      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      if (!add_image (self, path, FALSE, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_list (HepaCaseSet *self,
           const char  *list_path,
           GError     **error)
{
  g_autofree char *data = NULL;
  g_autofree char *base = g_path_get_dirname (list_path);
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) local = NULL;
  gsize length;

  if (!hepa_file_get_contents (list_path, MAX_LIST_BYTES, &data, &length, &local))
    {
      g_set_error (error, local->domain, local->code, "%s: %s", list_path, local->message);
      return FALSE;
    }
  if (memchr (data, '\0', length) != NULL || !g_utf8_validate (data, length, NULL))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("%s: not a case list (not UTF-8 text)"), list_path);
      return FALSE;
    }
  lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *line = g_strstrip (g_strdup (lines[i]));
      g_autofree char *path = NULL;

      if (*line == '\0' || *line == '#')
        continue;
      path = g_path_is_absolute (line) ? g_strdup (line) : g_build_filename (base, line, NULL);
      if (!add_image (self, path, TRUE, &local))
        {
          g_set_error (error, local->domain, local->code, _("%s, line %u: %s"), list_path, i + 1,
                       local->message);
          return FALSE;
        }
    }
  return TRUE;
}

HepaCaseSet *
hepa_case_set_load (const char  *path,
                    GError     **error)
{
  g_autoptr(HepaCaseSet) self = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *name = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  absolute = g_canonicalize_filename (path, NULL);
  name = g_path_get_basename (absolute);
  self = hepa_case_set_new (name);
  self->source = g_strdup (absolute);
  if (g_file_test (absolute, G_FILE_TEST_IS_DIR))
    {
      if (!load_folder (self, absolute, error))
        return NULL;
    }
  else if (!g_file_test (absolute, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("%s: no such folder or list file"),
                   absolute);
      return NULL;
    }
  else if (!load_list (self, absolute, error))
    return NULL;

  if (self->cases->len == 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("%s: no case (no image with an expert-labelled region)"), absolute);
      return NULL;
    }
  return g_steal_pointer (&self);
}

/* SplitMix64: fixed, portable, and good enough for a presentation order. */
static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9E3779B97F4A7C15ull);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

guint *
hepa_case_set_order (const HepaCaseSet *self,
                     gboolean           shuffle,
                     guint64            seed)
{
  guint n;
  guint *order;
  guint64 state = seed;

  g_return_val_if_fail (self != NULL, NULL);

  n = self->cases->len;
  order = g_new (guint, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    order[i] = i;
  if (!shuffle)
    return order;
  for (guint i = n; i > 1; i--)
    {
      /* Unbiased pick in [0, i) by rejection. */
      guint64 limit = G_MAXUINT64 - G_MAXUINT64 % i;
      guint64 r;
      guint j, t;

      do
        r = splitmix64 (&state);
      while (r >= limit);
      j = (guint) (r % i);
      t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
  return order;
}

/* ---- Scores ----------------------------------------------------------------------------- */

int
hepa_case_class_index (const char *const *classes,
                       const char        *label)
{
  if (classes == NULL || label == NULL)
    return -1;
  for (guint i = 0; classes[i] != NULL; i++)
    if (strcmp (classes[i], label) == 0)
      return (int) i;
  return -1;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static double
balanced (const double *sensitivity,
          guint         n)
{
  double sum = 0;
  guint defined = 0;

  for (guint c = 0; c < n; c++)
    if (!isnan (sensitivity[c]))
      {
        sum += sensitivity[c];
        defined++;
      }
  return defined > 0 ? sum / defined : NAN;
}

HepaCaseScore *
hepa_case_score_compute (const char *const    *classes,
                         const HepaCaseAnswer *answers,
                         guint                 n_answers)
{
  HepaCaseScore *self;
  g_autofree guint *per_class = NULL;
  g_autofree guint *hit = NULL;
  g_autofree guint *model_per_class = NULL;
  g_autofree guint *model_hit = NULL;
  g_autofree gint64 *sorted = NULL;
  guint n;
  double total = 0;

  g_return_val_if_fail (classes != NULL, NULL);
  g_return_val_if_fail (answers != NULL || n_answers == 0, NULL);

  n = g_strv_length ((char **) classes);
  self = g_new0 (HepaCaseScore, 1);
  self->n_classes = n;
  self->classes = g_strdupv ((char **) classes);
  self->n_cases = n_answers;
  self->sensitivity = g_new (double, MAX (n, 1));
  self->model_sensitivity = g_new (double, MAX (n, 1));
  self->confusion = g_new0 (guint, MAX (n * n, 1));
  self->missed = g_array_new (FALSE, FALSE, sizeof (guint));
  self->model_missed = g_array_new (FALSE, FALSE, sizeof (guint));
  self->time_ms = g_new0 (gint64, MAX (n_answers, 1));
  per_class = g_new0 (guint, MAX (n, 1));
  hit = g_new0 (guint, MAX (n, 1));
  model_per_class = g_new0 (guint, MAX (n, 1));
  model_hit = g_new0 (guint, MAX (n, 1));

  for (guint i = 0; i < n_answers; i++)
    {
      const HepaCaseAnswer *a = &answers[i];
      gboolean expert_ok = a->expert >= 0 && (guint) a->expert < n;
      gboolean learner_ok = a->learner >= 0 && (guint) a->learner < n;
      gboolean model_ok = a->model >= 0 && (guint) a->model < n;

      self->time_ms[i] = MAX (a->time_ms, 0);
      total += self->time_ms[i];
      if (!learner_ok)
        self->n_skipped++;
      if (expert_ok)
        per_class[a->expert]++;
      if (expert_ok && learner_ok)
        self->confusion[a->expert * n + a->learner]++;
      if (expert_ok && learner_ok && a->learner == a->expert)
        {
          self->n_correct++;
          hit[a->expert]++;
        }
      else
        g_array_append_val (self->missed, i);

      if (model_ok)
        {
          self->n_model_cases++;
          if (expert_ok)
            model_per_class[a->expert]++;
          if (expert_ok && a->model == a->expert)
            {
              self->n_model_correct++;
              model_hit[a->expert]++;
            }
          else
            g_array_append_val (self->model_missed, i);
        }
    }

  self->accuracy = n_answers > 0 ? (double) self->n_correct / n_answers : NAN;
  self->model_accuracy = self->n_model_cases > 0
                         ? (double) self->n_model_correct / self->n_model_cases : NAN;
  for (guint c = 0; c < n; c++)
    {
      self->sensitivity[c] = per_class[c] > 0 ? (double) hit[c] / per_class[c] : NAN;
      self->model_sensitivity[c] = model_per_class[c] > 0
                                   ? (double) model_hit[c] / model_per_class[c] : NAN;
    }
  self->balanced_accuracy = balanced (self->sensitivity, n);
  self->model_balanced_accuracy = balanced (self->model_sensitivity, n);

  self->mean_time_ms = n_answers > 0 ? total / n_answers : NAN;
  if (n_answers > 0)
    {
      sorted = g_memdup2 (self->time_ms, n_answers * sizeof (gint64));
      qsort (sorted, n_answers, sizeof (gint64), compare_gint64);
      self->median_time_ms = n_answers % 2 == 1
                             ? (double) sorted[n_answers / 2]
                             : (sorted[n_answers / 2 - 1] + sorted[n_answers / 2]) / 2.0;
    }
  else
    self->median_time_ms = NAN;
  return self;
}

void
hepa_case_score_free (HepaCaseScore *self)
{
  if (self == NULL)
    return;
  g_strfreev (self->classes);
  g_free (self->sensitivity);
  g_free (self->model_sensitivity);
  g_free (self->confusion);
  g_array_unref (self->missed);
  g_array_unref (self->model_missed);
  g_free (self->time_ms);
  g_free (self);
}

/* RFC 4180 quoting when needed. */
static void
append_csv_field (GString    *out,
                  const char *text)
{
  if (text == NULL)
    text = "";
  if (strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (out, text);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

static const char *
class_or_empty (const HepaCaseScore *self,
                int                  index)
{
  return index >= 0 && (guint) index < self->n_classes ? self->classes[index] : "";
}

static void
append_number (GString *out,
               double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    return;
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.4f", value));
}

char *
hepa_case_score_to_csv (const HepaCaseScore  *self,
                        const HepaCaseSet    *set,
                        const guint          *order,
                        const HepaCaseAnswer *answers)
{
  GString *out = g_string_new ("case,image,roi,expert,learner,correct,time_ms,model,model_correct\n");

  g_return_val_if_fail (self != NULL && answers != NULL, NULL);

  for (guint i = 0; i < self->n_cases; i++)
    {
      guint k = order != NULL ? order[i] : i;
      const HepaCase *c = set != NULL && k < set->cases->len ? g_ptr_array_index (set->cases, k)
                                                             : NULL;
      const HepaCaseAnswer *a = &answers[i];
      g_autofree char *base = c != NULL ? g_path_get_basename (c->image_path) : NULL;

      g_string_append_printf (out, "%u,", i + 1);
      append_csv_field (out, base);
      g_string_append_c (out, ',');
      append_csv_field (out, c != NULL ? c->roi_id : NULL);
      g_string_append_c (out, ',');
      append_csv_field (out, class_or_empty (self, a->expert));
      g_string_append_c (out, ',');
      append_csv_field (out, class_or_empty (self, a->learner));
      g_string_append_printf (out, ",%d,%" G_GINT64_FORMAT ",",
                              a->learner >= 0 && a->learner == a->expert, self->time_ms[i]);
      append_csv_field (out, class_or_empty (self, a->model));
      g_string_append_c (out, ',');
      if (a->model >= 0)
        g_string_append_printf (out, "%d", a->model == a->expert);
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

char *
hepa_case_scores_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "hepascope", "scores", NULL);
}

/* A learner's name as a file name: letters, digits, '-', '_' and '.' kept (not leading),
 * anything else '_'. */
static char *
learner_file_name (const char *learner)
{
  GString *name = g_string_new (NULL);

  for (const char *p = learner; *p != '\0' && name->len < 64; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_ascii_isalnum (c) || c == '-' || c == '_' || (c == '.' && name->len > 0))
        g_string_append_c (name, (char) c);
      else
        g_string_append_c (name, '_');
    }
  if (name->len == 0)
    g_string_append (name, "anonymous");
  g_string_append (name, ".csv");
  return g_string_free (name, FALSE);
}

char *
hepa_case_scores_append (const char          *dir,
                         const char          *learner,
                         const char          *case_set_name,
                         const HepaCaseScore *score,
                         gint64               finished_unix,
                         GError             **error)
{
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  g_autofree char *old = NULL;
  g_autofree char *finished = NULL;
  g_autoptr(GError) local = NULL;
  GString *out;
  gsize length = 0;
  gboolean ok;

  g_return_val_if_fail (dir != NULL && score != NULL, NULL);

  file = learner_file_name (learner != NULL ? learner : "");
  path = g_build_filename (dir, file, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("Could not make the scores folder %s: %s"),
                   dir, g_strerror (saved));
      return NULL;
    }
  if (g_file_test (path, G_FILE_TEST_EXISTS)
      && !hepa_file_get_contents (path, 64 * 1024 * 1024, &old, &length, &local))
    {
      g_set_error (error, local->domain, local->code, "%s: %s", path, local->message);
      return NULL;
    }

  out = g_string_new (NULL);
  if (old != NULL && length > 0)
    {
      g_string_append_len (out, old, length);
      if (old[length - 1] != '\n')
        g_string_append_c (out, '\n');
    }
  else
    {
      g_string_append (out, "finished,learner,case_set,n_cases,correct,accuracy,"
                       "balanced_accuracy,mean_time_ms,model_accuracy");
      for (guint c = 0; c < score->n_classes; c++)
        g_string_append_printf (out, ",sensitivity_%s", score->classes[c]);
      g_string_append_c (out, '\n');
    }
  finished = hepa_annotations_format_time (finished_unix);
  g_string_append_printf (out, "%s,", finished);
  append_csv_field (out, learner);
  g_string_append_c (out, ',');
  append_csv_field (out, case_set_name);
  g_string_append_printf (out, ",%u,%u,", score->n_cases, score->n_correct);
  append_number (out, score->accuracy);
  g_string_append_c (out, ',');
  append_number (out, score->balanced_accuracy);
  g_string_append_c (out, ',');
  append_number (out, score->mean_time_ms);
  g_string_append_c (out, ',');
  append_number (out, score->model_accuracy);
  for (guint c = 0; c < score->n_classes; c++)
    {
      g_string_append_c (out, ',');
      append_number (out, score->sensitivity[c]);
    }
  g_string_append_c (out, '\n');

  ok = hepa_write_file_atomic (path, out->str, out->len, 0600, _("scores"), error);
  g_string_free (out, TRUE);
  return ok ? g_steal_pointer (&path) : NULL;
}

/* ---- Phantom case sets ------------------------------------------------------------------ */

gboolean
hepa_case_phantom_render (int            klass,
                          guint64        seed,
                          guint          index,
                          double         contrast,
                          guint8       **gray,
                          HepaSynthInfo *info,
                          GError       **error)
{
  HepaSynthParams params;
  g_autofree guint8 *pixels = NULL;
  g_autofree guint8 *labels = NULL;
  gsize n;
  double sum = 0;
  gsize count = 0;

  g_return_val_if_fail (gray != NULL && info != NULL, FALSE);

  if (!(contrast >= 0.1 && contrast <= 1.0))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("The lesion contrast must be between 0.1 and 1, not %g"), contrast);
      return FALSE;
    }
  hepa_synth_params_init (&params, (HepaSynthClass) klass, seed, index);
  n = (gsize) params.width * params.height;
  pixels = g_malloc (hepa_synth_buffer_size (&params));
  labels = g_malloc (n);
  if (!hepa_synth_generate (&params, pixels, labels, info, error))
    return FALSE;
  if (contrast < 1.0)
    {
      double mean;

      for (gsize i = 0; i < n; i++)
        if (labels[i] == HEPA_SYNTH_LABEL_LIVER)
          {
            sum += pixels[i];
            count++;
          }
      mean = count > 0 ? sum / count : 128.0;
      for (gsize i = 0; i < n; i++)
        if (labels[i] == HEPA_SYNTH_LABEL_LESION)
          pixels[i] = (guint8) CLAMP (lround (mean + contrast * (pixels[i] - mean)), 0, 255);
    }
  *gray = g_steal_pointer (&pixels);
  return TRUE;
}

gboolean
hepa_case_set_make_phantoms (const char *dir,
                             guint       n_per_class,
                             double      contrast,
                             guint64     seed,
                             GError    **error)
{
  const guint n_classes = 5;
  guint total = n_per_class * n_classes;
  g_autoptr(HepaCaseSet) numbering = hepa_case_set_new (NULL);
  g_autofree guint *order = NULL;
  HepaRect none = { 0, 0, 1, 1 };

  g_return_val_if_fail (dir != NULL, FALSE);

  if (n_per_class < 1 || n_per_class > 1000)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("Phantoms per class must be between 1 and 1000, not %u"), n_per_class);
      return FALSE;
    }
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("Could not make the folder %s: %s"), dir,
                   g_strerror (saved));
      return FALSE;
    }
  /* The case numbers, shuffled so that a name says nothing of the class. */
  for (guint i = 0; i < total; i++)
    hepa_case_set_add (numbering, "", NULL, 0, &none, NULL);
  order = hepa_case_set_order (numbering, TRUE, seed ^ 0x6a09e667f3bcc908ull);

  for (guint i = 0; i < total; i++)
    {
      guint klass = i % n_classes, index = i / n_classes;
      const char *class_name = hepa_synth_class_name ((HepaSynthClass) klass);
      g_autofree char *name = g_strdup_printf ("case-%03u.png", order[i] + 1);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *sidecar = hepa_annotations_sidecar_path (path, NULL);
      g_autofree guint8 *gray = NULL;
      g_autofree guint8 *rgb = NULL;
      g_autoptr(HepaAnnotations) set = hepa_annotations_new (name);
      HepaSynthInfo info;
      HepaSynthParams params;
      gsize n;

      if (!hepa_case_phantom_render ((int) klass, seed, index, contrast, &gray, &info, error))
        return FALSE;
      hepa_synth_params_init (&params, (HepaSynthClass) klass, seed, index);
      n = (gsize) params.width * params.height;
      rgb = g_malloc (n * 3);
      for (gsize p = 0; p < n; p++)
        rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = gray[p];
      if (!hepa_png_write_rgb (path, params.width, params.height, rgb, error))
        return FALSE;
      g_ptr_array_add (set->rois, hepa_roi_new (0, &info.roi, class_name, "hepascope-synth"));
      if (!hepa_annotations_save (set, sidecar, error))
        return FALSE;
    }
  return TRUE;
}
