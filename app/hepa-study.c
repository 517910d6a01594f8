/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-study.h"

#include "hepa-document.h"
#include "hepa-annotations.h"
#include "hepa-error.h"

#include <glib/gi18n.h>
#include <string.h>

struct _HepaStudy
{
  GObject       parent_instance;

  char         *folder;
  GPtrArray    *paths;         /* (element-type utf8) */
  GPtrArray    *counts;        /* (element-type utf8) "3 regions, 2 labeled" per file */
  int           index;

  GCancellable *cancellable;   /* the newest scan's */
  guint         serial;
};

G_DEFINE_FINAL_TYPE (HepaStudy, hepa_study, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_FOLDER,
  PROP_N_FILES,
  PROP_INDEX,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  COUNT_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

char *
hepa_study_count_text (guint n_regions,
                       guint n_labeled)
{
  /* Translators: counts of regions of interest and of labeled ones in one file */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u region, %u labeled",
                                       "%u regions, %u labeled", n_regions),
                          n_regions, n_labeled);
}

static gboolean
is_image_name (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);
  const char *dot;

  if (name[0] == '.' || strstr (lower, ".hepascope.json") != NULL
      || strstr (lower, ".damaged-") != NULL || g_str_has_suffix (lower, ".tmp"))
    return FALSE;
  dot = strrchr (lower, '.');
  /* DICOM files often have no extension at all. */
  return dot == NULL || g_str_equal (dot, ".dcm") || g_str_equal (dot, ".dicom")
         || g_str_equal (dot, ".png") || g_str_equal (dot, ".jpg") || g_str_equal (dot, ".jpeg");
}

/* Counts regions through the sidecar's own parser, but not its loader, which would move a
 * damaged file aside before the user opens it and can be told. */
static char *
count_sidecar (const char *image_path)
{
  g_autofree char *sidecar = hepa_document_find_sidecar (image_path);
  g_autofree char *contents = NULL;
  g_autoptr(HepaAnnotations) set = NULL;
  gsize length = 0;
  guint labeled = 0;

  if (!g_file_test (sidecar, G_FILE_TEST_EXISTS))
    return g_strdup (_("no regions"));
  /* A regular file only, of at most a sidecar's size (hepa_annotations_parse checks depth). */
  if (!hepa_file_get_contents (sidecar, 64 * 1024 * 1024, &contents, &length, NULL)
      || (set = hepa_annotations_parse (contents, length, NULL)) == NULL)
    return g_strdup (_("regions file unreadable"));
  for (guint i = 0; i < set->rois->len; i++)
    if (((const HepaRoi *) g_ptr_array_index (set->rois, i))->label != NULL)
      labeled++;
  return hepa_study_count_text (set->rois->len, labeled);
}

typedef struct
{
  char      *folder;    /* NULL when @paths was given */
  GPtrArray *paths;
  GPtrArray *counts;
  guint      serial;
} ScanJob;

static void
scan_job_free (ScanJob *job)
{
  g_free (job->folder);
  g_clear_pointer (&job->paths, g_ptr_array_unref);
  g_clear_pointer (&job->counts, g_ptr_array_unref);
  g_free (job);
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_utf8_collate (*(const char *const *) a, *(const char *const *) b);
}

static void
scan_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  ScanJob *job = task_data;

  if (job->folder != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDir) dir = g_dir_open (job->folder, 0, &error);
      const char *name;

      if (dir == NULL)
        {
          g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_file_error (error->code),
                                   _("Could not open the folder %s: %s"), job->folder,
                                   error->message);
          return;
        }
      job->paths = g_ptr_array_new_with_free_func (g_free);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (job->folder, name, NULL);

          if (is_image_name (name) && g_file_test (path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add (job->paths, g_steal_pointer (&path));
        }
      g_ptr_array_sort (job->paths, compare_paths);
      if (job->paths->len == 0)
        {
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                   _("The folder %s holds no DICOM, PNG or JPEG files."),
                                   job->folder);
          return;
        }
    }
  job->counts = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < job->paths->len; i++)
    {
      if (g_task_return_error_if_cancelled (task))
        return;
      g_ptr_array_add (job->counts, count_sidecar (g_ptr_array_index (job->paths, i)));
    }
  g_task_return_boolean (task, TRUE);
}

static void
scan_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  HepaStudy *self = HEPA_STUDY (source);
  g_autoptr(GTask) outer = user_data;
  ScanJob *job = g_task_get_task_data (G_TASK (res));
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      g_task_return_error (outer, error);
      return;
    }
  if (job->serial != self->serial || g_cancellable_is_cancelled (g_task_get_cancellable (outer)))
    {
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s",
                               "The scan was cancelled");
      return;
    }
  g_object_freeze_notify (G_OBJECT (self));
  g_free (self->folder);
  self->folder = g_steal_pointer (&job->folder);
  g_clear_pointer (&self->paths, g_ptr_array_unref);
  g_clear_pointer (&self->counts, g_ptr_array_unref);
  self->paths = g_steal_pointer (&job->paths);
  self->counts = g_steal_pointer (&job->counts);
  self->index = -1;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FOLDER]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_FILES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INDEX]);
  g_object_thaw_notify (G_OBJECT (self));
  g_task_return_boolean (outer, TRUE);
}

static void
start_scan (HepaStudy           *self,
            ScanJob             *job,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  GTask *outer = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GTask) task = NULL;

  g_task_set_source_tag (outer, hepa_study_scan_async);
  g_task_set_check_cancellable (outer, FALSE);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    g_cancellable_connect (cancellable, G_CALLBACK (g_cancellable_cancel),
                           g_object_ref (self->cancellable), g_object_unref);
  job->serial = ++self->serial;
  task = g_task_new (self, self->cancellable, scan_cb, outer);
  g_task_set_source_tag (task, start_scan);
  g_task_set_task_data (task, job, (GDestroyNotify) scan_job_free);
  g_task_run_in_thread (task, scan_thread);
}

void
hepa_study_scan_async (HepaStudy           *self,
                       const char          *folder,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  ScanJob *job;

  g_return_if_fail (HEPA_IS_STUDY (self));
  g_return_if_fail (folder != NULL);

  job = g_new0 (ScanJob, 1);
  job->folder = g_strdup (folder);
  start_scan (self, job, cancellable, callback, user_data);
}

void
hepa_study_scan_files_async (HepaStudy           *self,
                             const char *const   *paths,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  ScanJob *job;

  g_return_if_fail (HEPA_IS_STUDY (self));
  g_return_if_fail (paths != NULL);

  job = g_new0 (ScanJob, 1);
  job->paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; paths[i] != NULL; i++)
    g_ptr_array_add (job->paths, g_strdup (paths[i]));
  start_scan (self, job, cancellable, callback, user_data);
}

gboolean
hepa_study_scan_finish (HepaStudy     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
hepa_study_clear (HepaStudy *self)
{
  g_return_if_fail (HEPA_IS_STUDY (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  self->serial++;
  if (self->paths == NULL)
    return;
  g_object_freeze_notify (G_OBJECT (self));
  g_clear_pointer (&self->folder, g_free);
  g_clear_pointer (&self->paths, g_ptr_array_unref);
  g_clear_pointer (&self->counts, g_ptr_array_unref);
  self->index = -1;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FOLDER]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_FILES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INDEX]);
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
hepa_study_get_folder (HepaStudy *self)
{
  g_return_val_if_fail (HEPA_IS_STUDY (self), NULL);
  return self->folder;
}

guint
hepa_study_get_n_files (HepaStudy *self)
{
  g_return_val_if_fail (HEPA_IS_STUDY (self), 0);
  return self->paths ? self->paths->len : 0;
}

const char *
hepa_study_get_path (HepaStudy *self,
                     guint      index)
{
  g_return_val_if_fail (HEPA_IS_STUDY (self), NULL);
  g_return_val_if_fail (index < hepa_study_get_n_files (self), NULL);
  return g_ptr_array_index (self->paths, index);
}

const char *
hepa_study_get_count (HepaStudy *self,
                      guint      index)
{
  g_return_val_if_fail (HEPA_IS_STUDY (self), NULL);
  g_return_val_if_fail (index < hepa_study_get_n_files (self), NULL);
  return g_ptr_array_index (self->counts, index);
}

void
hepa_study_set_count (HepaStudy  *self,
                      guint       index,
                      const char *count)
{
  g_return_if_fail (HEPA_IS_STUDY (self));
  g_return_if_fail (index < hepa_study_get_n_files (self));

  if (g_strcmp0 (g_ptr_array_index (self->counts, index), count) == 0)
    return;
  g_free (g_ptr_array_index (self->counts, index));
  g_ptr_array_index (self->counts, index) = g_strdup (count);
  g_signal_emit (self, signals[COUNT_CHANGED], 0, index);
}

int
hepa_study_get_index (HepaStudy *self)
{
  g_return_val_if_fail (HEPA_IS_STUDY (self), -1);
  return self->index;
}

void
hepa_study_set_index (HepaStudy *self,
                      int        index)
{
  g_return_if_fail (HEPA_IS_STUDY (self));
  g_return_if_fail (index >= -1 && index < (int) hepa_study_get_n_files (self));

  if (self->index == index)
    return;
  self->index = index;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INDEX]);
}

HepaStudy *
hepa_study_new (void)
{
  return g_object_new (HEPA_TYPE_STUDY, NULL);
}

static void
hepa_study_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  HepaStudy *self = HEPA_STUDY (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      g_value_set_string (value, self->folder);
      break;
    case PROP_N_FILES:
      g_value_set_uint (value, hepa_study_get_n_files (self));
      break;
    case PROP_INDEX:
      g_value_set_int (value, self->index);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_study_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_INDEX:
      hepa_study_set_index (HEPA_STUDY (object), g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_study_dispose (GObject *object)
{
  HepaStudy *self = HEPA_STUDY (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (hepa_study_parent_class)->dispose (object);
}

static void
hepa_study_finalize (GObject *object)
{
  HepaStudy *self = HEPA_STUDY (object);

  g_free (self->folder);
  g_clear_pointer (&self->paths, g_ptr_array_unref);
  g_clear_pointer (&self->counts, g_ptr_array_unref);

  G_OBJECT_CLASS (hepa_study_parent_class)->finalize (object);
}

static void
hepa_study_class_init (HepaStudyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = hepa_study_get_property;
  object_class->set_property = hepa_study_set_property;
  object_class->dispose = hepa_study_dispose;
  object_class->finalize = hepa_study_finalize;

  properties[PROP_FOLDER] =
    g_param_spec_string ("folder", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_FILES] =
    g_param_spec_uint ("n-files", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_INDEX] =
    g_param_spec_int ("index", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * HepaStudy::count-changed:
   * @index: the file whose count changed
   */
  signals[COUNT_CHANGED] = g_signal_new ("count-changed", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                         1, G_TYPE_UINT);
}

static void
hepa_study_init (HepaStudy *self)
{
  self->index = -1;
}
