/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Study statistics: one pass over the sidecars, parsed without the loader (which would move a
 * damaged one aside), and a look at each image's first bytes. */
#include "config.h"

#include "hepa-study-stats.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-json.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static void
study_file_free (HepaStudyFile *file)
{
  g_free (file->path);
  g_free (file->problem);
  g_free (file);
}

void
hepa_study_stats_free (HepaStudyStats *self)
{
  if (self == NULL)
    return;
  g_free (self->folder);
  g_ptr_array_unref (self->files);
  g_hash_table_unref (self->per_class);
  g_hash_table_unref (self->per_rater);
  hepa_rater_table_free (self->raters);
  g_free (self);
}

gboolean
hepa_study_is_image_name (const char *name)
{
  g_autofree char *lower = NULL;
  const char *dot;

  g_return_val_if_fail (name != NULL, FALSE);

  lower = g_ascii_strdown (name, -1);
  if (name[0] == '.' || strstr (lower, ".hepascope.json") != NULL
      || strstr (lower, ".damaged-") != NULL || g_str_has_suffix (lower, ".tmp"))
    return FALSE;
  dot = strrchr (lower, '.');
  /* DICOM files often have no extension at all. */
  return dot == NULL || g_str_equal (dot, ".dcm") || g_str_equal (dot, ".dicom")
         || g_str_equal (dot, ".png") || g_str_equal (dot, ".jpg") || g_str_equal (dot, ".jpeg");
}

/* A look at the first bytes: is this a file the workbench can open at all? Decoding every
 * image would take minutes for a large study; opening it in the workbench says the rest. */
static char *
sniff_image (const char *path)
{
  guint8 head[132];
  ssize_t n;
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  g_autofree char *lower = g_ascii_strdown (path, -1);

  if (fd < 0)
    return g_strdup_printf (_("cannot be opened: %s"), g_strerror (errno));
  n = read (fd, head, sizeof head);
  close (fd);
  if (n < 0)
    return g_strdup_printf (_("cannot be read: %s"), g_strerror (errno));
  if (n == 0)
    return g_strdup (_("the file is empty"));
  if (n >= 8 && memcmp (head, "\x89PNG\r\n\x1a\n", 8) == 0)
    return NULL;
  if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    return NULL;
  if (n >= 132 && memcmp (head + 128, "DICM", 4) == 0)
    return NULL;
  if (g_str_has_suffix (lower, ".png") || g_str_has_suffix (lower, ".jpg")
      || g_str_has_suffix (lower, ".jpeg"))
    return g_strdup (_("not a PNG or JPEG image"));
  /* DICOM without the preamble starts with a group 0002 or 0008 tag, little endian. */
  if (n >= 4 && (head[0] == 0x02 || head[0] == 0x08) && head[1] == 0x00)
    return NULL;
  return g_strdup (_("not a DICOM, PNG or JPEG file"));
}

static char *
find_sidecar (const char *image_path,
              const char *workspace_dir)
{
  g_autofree char *next_to = hepa_annotations_sidecar_path (image_path, NULL);

  if (workspace_dir != NULL && !g_file_test (next_to, G_FILE_TEST_EXISTS))
    {
      g_autofree char *alt = hepa_annotations_sidecar_path (image_path, workspace_dir);

      if (g_file_test (alt, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&alt);
    }
  return g_steal_pointer (&next_to);
}

static void
count_up (GHashTable *table,
          const char *key)
{
  gpointer old = g_hash_table_lookup (table, key);

  g_hash_table_insert (table, g_strdup (key), GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + 1));
}

static void
scan_one (HepaStudyStats *self,
          const char     *path,
          const char     *workspace_dir)
{
  HepaStudyFile *file = g_new0 (HepaStudyFile, 1);
  g_autofree char *sidecar = find_sidecar (path, workspace_dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaAnnotations) set = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  guint n_unlabeled = 0;

  file->path = g_strdup (path);
  g_ptr_array_add (self->files, file);

  file->problem = sniff_image (path);
  if (file->problem != NULL)
    {
      file->state = HEPA_FILE_UNREADABLE;
      self->n_files[file->state]++;
      return;
    }
  if (!g_file_test (sidecar, G_FILE_TEST_EXISTS))
    {
      file->state = HEPA_FILE_NO_ROI;
      self->n_files[file->state]++;
      return;
    }
  if (hepa_file_get_contents (sidecar, HEPA_ANNOTATIONS_MAX_BYTES, &contents, &length, &error))
    set = hepa_annotations_parse (contents, length, &error);
  if (set == NULL)
    {
      /* Translators: %s says what is wrong with a file of regions of interest */
      file->problem = g_strdup_printf (_("its regions file cannot be read: %s"), error->message);
      hepa_one_line (file->problem);
      file->state = HEPA_FILE_UNREADABLE;
      self->n_files[file->state]++;
      return;
    }

  for (guint i = 0; i < set->rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (set->rois, i);
      g_autoptr(GPtrArray) ratings = hepa_roi_dup_ratings (roi);
      const char *label = NULL;

      file->n_rois++;
      switch (hepa_roi_get_consensus (roi, &label))
        {
        case HEPA_CONSENSUS_UNLABELED:
          n_unlabeled++;
          break;
        case HEPA_CONSENSUS_ADJUDICATED:
          self->n_adjudicated++;
          G_GNUC_FALLTHROUGH;
        case HEPA_CONSENSUS_AGREED:
          file->n_labeled++;
          count_up (self->per_class, label);
          break;
        case HEPA_CONSENSUS_DISAGREED:
        default:
          file->n_disagreed++;
          break;
        }
      for (guint r = 0; r < ratings->len; r++)
        count_up (self->per_rater, ((HepaRating *) g_ptr_array_index (ratings, r))->rater);
      hepa_rater_table_add_roi (self->raters, roi);
    }
  self->n_rois += file->n_rois;
  self->n_labeled += file->n_labeled;
  self->n_disagreed += file->n_disagreed;
  self->n_unlabeled += n_unlabeled;
  if (file->n_rois == 0)
    file->state = HEPA_FILE_NO_ROI;
  else if (n_unlabeled > 0)
    file->state = HEPA_FILE_UNLABELED;
  else
    file->state = HEPA_FILE_LABELED;
  self->n_files[file->state]++;
}

static HepaStudyStats *
stats_new (const char *folder)
{
  HepaStudyStats *self = g_new0 (HepaStudyStats, 1);

  self->folder = g_strdup (folder);
  self->files = g_ptr_array_new_with_free_func ((GDestroyNotify) study_file_free);
  self->per_class = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->per_rater = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->raters = hepa_rater_table_new ();
  return self;
}

static gboolean
scan_paths (HepaStudyStats  *self,
            GPtrArray       *paths,
            const char      *workspace_dir,
            GCancellable    *cancellable,
            GError         **error)
{
  for (guint i = 0; i < paths->len; i++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      scan_one (self, g_ptr_array_index (paths, i), workspace_dir);
    }
  return TRUE;
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_utf8_collate (*(const char *const *) a, *(const char *const *) b);
}

HepaStudyStats *
hepa_study_stats_scan (const char    *folder,
                       const char    *workspace_dir,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  HepaStudyStats *self;
  gint64 start = g_get_monotonic_time ();
  const char *name;

  g_return_val_if_fail (folder != NULL, NULL);

  dir = g_dir_open (folder, 0, &local_error);
  if (dir == NULL)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_file_error (local_error->code),
                   _("Could not open the folder %s: %s"), folder, local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (folder, name, NULL);

      if (hepa_study_is_image_name (name) && g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (paths, g_steal_pointer (&path));
    }
  if (paths->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("The folder %s holds no DICOM, PNG or JPEG files."), folder);
      return NULL;
    }
  g_ptr_array_sort (paths, compare_paths);
  self = stats_new (folder);
  if (!scan_paths (self, paths, workspace_dir, cancellable, error))
    {
      hepa_study_stats_free (self);
      return NULL;
    }
  self->seconds = (g_get_monotonic_time () - start) / 1e6;
  return self;
}

HepaStudyStats *
hepa_study_stats_scan_files (const char *const *paths,
                             const char        *workspace_dir,
                             GCancellable      *cancellable,
                             GError           **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  HepaStudyStats *self;
  gint64 start = g_get_monotonic_time ();

  g_return_val_if_fail (paths != NULL, NULL);

  for (guint i = 0; paths[i] != NULL; i++)
    g_ptr_array_add (list, g_strdup (paths[i]));
  self = stats_new (NULL);
  if (!scan_paths (self, list, workspace_dir, cancellable, error))
    {
      hepa_study_stats_free (self);
      return NULL;
    }
  self->seconds = (g_get_monotonic_time () - start) / 1e6;
  return self;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static GPtrArray *
sorted_keys (GHashTable *table)
{
  GPtrArray *keys = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, key);
  g_ptr_array_sort (keys, compare_strings);
  return keys;
}

GPtrArray *
hepa_study_stats_dup_classes (const HepaStudyStats *self)
{
  return sorted_keys (self->per_class);
}

GPtrArray *
hepa_study_stats_dup_raters (const HepaStudyStats *self)
{
  return sorted_keys (self->per_rater);
}

char *
hepa_study_stats_progress_text (const HepaStudyStats *self)
{
  guint total = self->files->len;

  /* Translators: "37 of 120 files labeled" */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u of %u file labeled",
                                       "%u of %u files labeled", total),
                          self->n_files[HEPA_FILE_LABELED], total);
}

int
hepa_study_stats_next_unlabeled (const HepaStudyStats *self,
                                 int                   from,
                                 int                   step)
{
  int n = (int) self->files->len;

  g_return_val_if_fail (step == 1 || step == -1, -1);

  if (n == 0)
    return -1;
  if (from < 0 || from >= n)
    from = step > 0 ? -1 : n;
  for (int k = 1; k <= n; k++)
    {
      int i = ((from + step * k) % n + n) % n;
      const HepaStudyFile *file = g_ptr_array_index (self->files, i);

      if (file->state == HEPA_FILE_UNLABELED || file->state == HEPA_FILE_NO_ROI)
        return i;
    }
  return -1;
}

static const char *const state_names[] = { "labeled", "unlabeled", "no_roi", "unreadable" };

static void
add_number_or_null (JsonBuilder *b,
                    double       value)
{
  if (isnan (value))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, value);
}

JsonNode *
hepa_study_stats_to_json (const HepaStudyStats *self,
                          gboolean              with_files)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(GPtrArray) classes = hepa_study_stats_dup_classes (self);
  GPtrArray *raters = hepa_rater_table_get_raters (self->raters);
  GPtrArray *labels = hepa_rater_table_get_labels (self->raters);
  guint n_items = 0;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "folder");
  if (self->folder != NULL)
    json_builder_add_string_value (b, self->folder);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "files");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "total");
  json_builder_add_int_value (b, self->files->len);
  for (guint s = 0; s < G_N_ELEMENTS (state_names); s++)
    {
      json_builder_set_member_name (b, state_names[s]);
      json_builder_add_int_value (b, self->n_files[s]);
    }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "rois");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "total");
  json_builder_add_int_value (b, self->n_rois);
  json_builder_set_member_name (b, "labeled");
  json_builder_add_int_value (b, self->n_labeled);
  json_builder_set_member_name (b, "unlabeled");
  json_builder_add_int_value (b, self->n_unlabeled);
  json_builder_set_member_name (b, "raters_disagree");
  json_builder_add_int_value (b, self->n_disagreed);
  json_builder_set_member_name (b, "adjudicated");
  json_builder_add_int_value (b, self->n_adjudicated);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "classes");
  json_builder_begin_object (b);
  for (guint i = 0; i < classes->len; i++)
    {
      json_builder_set_member_name (b, classes->pdata[i]);
      json_builder_add_int_value (b, GPOINTER_TO_UINT (g_hash_table_lookup (self->per_class,
                                                                            classes->pdata[i])));
    }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "raters");
  json_builder_begin_object (b);
  for (guint i = 0; i < raters->len; i++)
    {
      json_builder_set_member_name (b, raters->pdata[i]);
      json_builder_add_int_value (b, GPOINTER_TO_UINT (g_hash_table_lookup (self->per_rater,
                                                                            raters->pdata[i])));
    }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "agreement");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "method");
  if (raters->len == 2)
    {
      json_builder_add_string_value (b, "cohen");
      json_builder_set_member_name (b, "kappa");
      add_number_or_null (b, hepa_rater_table_cohen_kappa (self->raters, raters->pdata[0],
                                                           raters->pdata[1], &n_items));
    }
  else if (raters->len > 2)
    {
      json_builder_add_string_value (b, "fleiss");
      json_builder_set_member_name (b, "kappa");
      add_number_or_null (b, hepa_rater_table_fleiss_kappa (self->raters, &n_items));
    }
  else
    {
      json_builder_add_null_value (b);
      json_builder_set_member_name (b, "kappa");
      json_builder_add_null_value (b);
    }
  json_builder_set_member_name (b, "items");
  json_builder_add_int_value (b, n_items);
  json_builder_set_member_name (b, "per_class");
  json_builder_begin_object (b);
  for (guint i = 0; raters->len >= 2 && i < labels->len; i++)
    {
      json_builder_set_member_name (b, labels->pdata[i]);
      add_number_or_null (b, hepa_rater_table_class_agreement (self->raters, labels->pdata[i]));
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "labels");
  json_builder_begin_array (b);
  for (guint i = 0; i < labels->len; i++)
    json_builder_add_string_value (b, labels->pdata[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "confusion");
  json_builder_begin_array (b);
  for (guint x = 0; x < raters->len; x++)
    for (guint y = x + 1; y < raters->len; y++)
      {
        g_autofree guint *table = hepa_rater_table_confusion (self->raters, raters->pdata[x],
                                                              raters->pdata[y]);
        guint agree = 0;
        guint shared = hepa_rater_table_count_pair (self->raters, raters->pdata[x],
                                                    raters->pdata[y], &agree);

        json_builder_begin_object (b);
        json_builder_set_member_name (b, "rows");
        json_builder_add_string_value (b, raters->pdata[x]);
        json_builder_set_member_name (b, "columns");
        json_builder_add_string_value (b, raters->pdata[y]);
        json_builder_set_member_name (b, "items");
        json_builder_add_int_value (b, shared);
        json_builder_set_member_name (b, "agree");
        json_builder_add_int_value (b, agree);
        json_builder_set_member_name (b, "kappa");
        add_number_or_null (b, hepa_rater_table_cohen_kappa (self->raters, raters->pdata[x],
                                                             raters->pdata[y], NULL));
        json_builder_set_member_name (b, "table");
        json_builder_begin_array (b);
        for (guint r = 0; r < labels->len; r++)
          {
            json_builder_begin_array (b);
            for (guint c = 0; c < labels->len; c++)
              json_builder_add_int_value (b, table[r * labels->len + c]);
            json_builder_end_array (b);
          }
        json_builder_end_array (b);
        json_builder_end_object (b);
      }
  json_builder_end_array (b);
  json_builder_end_object (b);

  if (with_files)
    {
      json_builder_set_member_name (b, "file_list");
      json_builder_begin_array (b);
      for (guint i = 0; i < self->files->len; i++)
        {
          const HepaStudyFile *file = g_ptr_array_index (self->files, i);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, file->path);
          json_builder_set_member_name (b, "state");
          json_builder_add_string_value (b, state_names[file->state]);
          json_builder_set_member_name (b, "rois");
          json_builder_add_int_value (b, file->n_rois);
          json_builder_set_member_name (b, "labeled");
          json_builder_add_int_value (b, file->n_labeled);
          json_builder_set_member_name (b, "raters_disagree");
          json_builder_add_int_value (b, file->n_disagreed);
          if (file->problem != NULL)
            {
              json_builder_set_member_name (b, "problem");
              json_builder_add_string_value (b, file->problem);
            }
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, self->seconds);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
