/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-document.h"

#include "hepa-annotations.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

struct _HepaDocument
{
  GObject       parent_instance;

  HepaRoiStore *store;
  HepaImage    *image;
  char         *path;
  char         *sidecar_path;
  char         *sop_uid_sha256;

  GCancellable *open_cancellable;  /* the newest open's */
  guint         open_serial;       /* which open is the newest */
  gboolean      loading;

  gboolean      saving;
  gboolean      save_queued;       /* edits made while a write was in flight */
  guint         edit_serial;       /* counts changes of the regions */
  guint         saved_serial;      /* the change that is on disk */
  GPtrArray    *save_waiting;      /* (element-type GTask) callers of the next write */
  GPtrArray    *save_in_flight;    /* (element-type GTask) callers of the running write */
};

G_DEFINE_FINAL_TYPE (HepaDocument, hepa_document, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_IMAGE,
  PROP_PATH,
  PROP_SIDECAR_PATH,
  PROP_LOADING,
  PROP_SAVING,
  PROP_MODIFIED,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  NOTICE,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void start_save (HepaDocument *self);

char *
hepa_document_workspace_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "hepascope", "workspace", NULL);
}

static gboolean
folder_writable (const char *image_path)
{
  g_autofree char *dir = g_path_get_dirname (image_path);

  return g_access (dir, W_OK) == 0;
}

char *
hepa_document_find_sidecar (const char *image_path)
{
  g_autofree char *next_to = hepa_annotations_sidecar_path (image_path, NULL);
  g_autofree char *ws = NULL;
  g_autofree char *alt = NULL;

  if (folder_writable (image_path))
    return g_steal_pointer (&next_to);
  ws = hepa_document_workspace_dir ();
  alt = hepa_annotations_sidecar_path (image_path, ws);
  return g_file_test (alt, G_FILE_TEST_EXISTS) ? g_steal_pointer (&alt)
                                               : g_steal_pointer (&next_to);
}

static void
notice (HepaDocument   *self,
        HepaNoticeKind  kind,
        const char     *message)
{
  g_signal_emit (self, signals[NOTICE], 0, kind, message);
}

static void
set_flag (HepaDocument *self,
          gboolean     *flag,
          gboolean      value,
          guint         prop)
{
  if (*flag == value)
    return;
  *flag = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

/* ---- Opening -------------------------------------------------------------------------- */

typedef struct
{
  char            *path;
  guint            serial;
  HepaImage       *image;
  HepaAnnotations *annotations;
  char            *sidecar_path;
  char            *notice;        /* workspace fallback or damaged sidecar, for the user */
  HepaNoticeKind   notice_kind;
} OpenJob;

static void
open_job_free (OpenJob *job)
{
  g_free (job->path);
  g_clear_pointer (&job->image, hepa_image_unref);
  g_clear_pointer (&job->annotations, hepa_annotations_free);
  g_free (job->sidecar_path);
  g_free (job->notice);
  g_free (job);
}

static void
open_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  OpenJob *job = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) load_error = NULL;
  g_autofree char *next_to = hepa_annotations_sidecar_path (job->path, NULL);
  const char *read_from;

  job->image = hepa_image_open (job->path, &error);
  if (job->image == NULL || hepa_image_get_frame (job->image, 0, &error) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  if (folder_writable (job->path))
    {
      job->sidecar_path = g_strdup (next_to);
      read_from = job->sidecar_path;
    }
  else
    {
      g_autofree char *ws = hepa_document_workspace_dir ();
      g_autofree char *dir = g_path_get_dirname (job->path);

      g_mkdir_with_parents (ws, 0700);
      job->sidecar_path = hepa_annotations_sidecar_path (job->path, ws);
      read_from = g_file_test (job->sidecar_path, G_FILE_TEST_EXISTS) ? job->sidecar_path
                                                                      : next_to;
      job->notice = g_strdup_printf (_("The folder %s is read-only, so regions are saved in "
                                       "the workspace folder %s."), dir, ws);
      job->notice_kind = HEPA_NOTICE_INFO;
    }

  job->annotations = hepa_annotations_load (read_from, &load_error);
  if (job->annotations == NULL)
    {
      g_autofree char *base = g_path_get_basename (job->path);

      /* The loader's message says what became of the file: moved aside when damaged, left in
       * place when it could not be moved or is from a newer version (saving then refuses to
       * replace it). Start empty. */
      g_free (job->notice);
      job->notice = g_strdup_printf (_("The regions of %s could not be read: %s. Starting with "
                                       "no regions."), base, load_error->message);
      job->notice_kind = HEPA_NOTICE_WARNING;
      job->annotations = hepa_annotations_new (base);
    }
  g_task_return_boolean (task, TRUE);
}

/* On the main thread: the newest open's result becomes the document. */
static void
apply_open (HepaDocument *self,
            OpenJob      *job)
{
  const HepaImageInfo *info = hepa_image_get_info (job->image);
  GPtrArray *rois = job->annotations->rois;

  g_clear_pointer (&self->image, hepa_image_unref);
  self->image = g_steal_pointer (&job->image);
  g_free (self->path);
  self->path = g_strdup (job->path);
  g_free (self->sidecar_path);
  self->sidecar_path = g_steal_pointer (&job->sidecar_path);
  g_free (self->sop_uid_sha256);
  if (job->annotations->sop_uid_sha256 != NULL && *job->annotations->sop_uid_sha256)
    self->sop_uid_sha256 = g_strdup (job->annotations->sop_uid_sha256);
  else if (info->sop_uid != NULL && *info->sop_uid)
    self->sop_uid_sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, info->sop_uid, -1);
  else
    self->sop_uid_sha256 = NULL;

  self->saved_serial = self->edit_serial;
  /* The image first: its watchers (the classifier) follow it before the regions load. */
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIDECAR_PATH]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE]);

  hepa_roi_store_set_bounds (self->store, hepa_image_get_width (self->image),
                             hepa_image_get_height (self->image));
  hepa_roi_store_load (self->store, rois);
  /* A file opens with its first region on the first frame selected, so its prediction and
   * saliency are on screen at once (selecting is not an edit: nothing is saved). */
  for (guint i = 0; i < rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (rois, i);

      if (roi->frame == 0)
        {
          hepa_roi_store_select (self->store, roi->id);
          break;
        }
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
  if (job->notice != NULL)
    notice (self, job->notice_kind, job->notice);
}

static void
open_thread_cb (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  HepaDocument *self = HEPA_DOCUMENT (source);
  g_autoptr(GTask) outer = user_data;
  OpenJob *job = g_task_get_task_data (G_TASK (res));
  GCancellable *caller = g_task_get_cancellable (outer);
  gboolean newest = job->serial == self->open_serial;
  GError *error = NULL;

  if (newest)
    set_flag (self, &self->loading, FALSE, PROP_LOADING);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    g_task_return_error (outer, error);
  else if (!newest || g_cancellable_is_cancelled (caller))
    g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s",
                             "Opening was cancelled");
  else
    {
      apply_open (self, job);
      g_task_return_boolean (outer, TRUE);
    }
}

void
hepa_document_open_async (HepaDocument        *self,
                          const char          *path,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *outer;
  g_autoptr(GTask) task = NULL;
  OpenJob *job;

  g_return_if_fail (HEPA_IS_DOCUMENT (self));
  g_return_if_fail (path != NULL);

  /* The newest open wins: the one before it stops where it can and changes nothing. */
  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  self->open_cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    g_cancellable_connect (cancellable, G_CALLBACK (g_cancellable_cancel),
                           g_object_ref (self->open_cancellable), g_object_unref);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, hepa_document_open_async);
  g_task_set_check_cancellable (outer, FALSE);

  job = g_new0 (OpenJob, 1);
  job->path = g_strdup (path);
  job->serial = ++self->open_serial;
  set_flag (self, &self->loading, TRUE, PROP_LOADING);
  task = g_task_new (self, self->open_cancellable, open_thread_cb, outer);
  g_task_set_source_tag (task, open_thread);
  g_task_set_task_data (task, job, (GDestroyNotify) open_job_free);
  g_task_run_in_thread (task, open_thread);
}

gboolean
hepa_document_open_finish (HepaDocument  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Saving --------------------------------------------------------------------------- */

typedef struct
{
  HepaAnnotations *annotations;
  char            *path;
  guint            serial;     /* the change it writes */
} SaveJob;

static void
save_job_free (SaveJob *job)
{
  hepa_annotations_free (job->annotations);
  g_free (job->path);
  g_free (job);
}

static void
save_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  SaveJob *job = task_data;
  GError *error = NULL;

  if (hepa_annotations_save (job->annotations, job->path, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
complete_waiters (GPtrArray    *tasks,
                  const GError *error)
{
  for (guint i = 0; i < tasks->len; i++)
    {
      GTask *task = g_ptr_array_index (tasks, i);

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
    }
  g_ptr_array_set_size (tasks, 0);
}

static void
save_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  HepaDocument *self = HEPA_DOCUMENT (source);
  SaveJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  gboolean was_modified = hepa_document_get_modified (self);

  if (g_task_propagate_boolean (G_TASK (res), &error))
    {
      /* Edits made since the write began are still to be written. */
      if (g_strcmp0 (job->path, self->sidecar_path) == 0)
        self->saved_serial = job->serial;
    }
  else
    {
      g_autofree char *msg = g_strdup_printf (_("Could not save the regions to %s: %s. They "
                                                "are kept in memory and saved again at the "
                                                "next edit."), job->path, error->message);

      notice (self, HEPA_NOTICE_ERROR, msg);
    }
  complete_waiters (self->save_in_flight, error);
  if (was_modified != hepa_document_get_modified (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
  if (self->save_queued || self->save_waiting->len > 0)
    start_save (self);
  else
    set_flag (self, &self->saving, FALSE, PROP_SAVING);
  g_object_unref (self);
}

static void
start_save (HepaDocument *self)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *base = NULL;
  GPtrArray *rois = hepa_roi_store_get_rois (self->store);
  SaveJob *job;

  self->save_queued = FALSE;
  if (self->sidecar_path == NULL || self->path == NULL)
    {
      complete_waiters (self->save_waiting, NULL);
      set_flag (self, &self->saving, FALSE, PROP_SAVING);
      return;
    }

  base = g_path_get_basename (self->path);
  job = g_new0 (SaveJob, 1);
  job->annotations = hepa_annotations_new (base);
  job->annotations->sop_uid_sha256 = g_strdup (self->sop_uid_sha256);
  for (guint i = 0; i < rois->len; i++)
    g_ptr_array_add (job->annotations->rois, hepa_roi_copy (g_ptr_array_index (rois, i)));
  job->path = g_strdup (self->sidecar_path);
  job->serial = self->edit_serial;
  /* The callers waiting so far are answered by this write. */
  g_ptr_array_extend_and_steal (self->save_in_flight, g_steal_pointer (&self->save_waiting));
  self->save_waiting = g_ptr_array_new_with_free_func (g_object_unref);

  set_flag (self, &self->saving, TRUE, PROP_SAVING);
  /* The document outlives its last write: nothing a user drew is dropped by closing. */
  task = g_task_new (g_object_ref (self), NULL, save_cb, NULL);
  g_task_set_source_tag (task, start_save);
  g_task_set_task_data (task, job, (GDestroyNotify) save_job_free);
  g_task_run_in_thread (task, save_thread);
}

static void
schedule_save (HepaDocument *self)
{
  if (self->saving)
    self->save_queued = TRUE;
  else
    start_save (self);
}

void
hepa_document_save_async (HepaDocument        *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (HEPA_IS_DOCUMENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, hepa_document_save_async);
  g_ptr_array_add (self->save_waiting, task);
  if (!self->saving)
    start_save (self);
}

gboolean
hepa_document_save_finish (HepaDocument  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
store_changed_cb (HepaDocument *self,
                  guint         change,
                  HepaRoiStore *store)
{
  gboolean was_modified;

  if (change != HEPA_ROI_CHANGE_EDIT && change != HEPA_ROI_CHANGE_PREDICTION)
    return;
  was_modified = hepa_document_get_modified (self);
  self->edit_serial++;
  if (!was_modified)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
  schedule_save (self);
}

/* ---- Object --------------------------------------------------------------------------- */

HepaDocument *
hepa_document_new (void)
{
  return g_object_new (HEPA_TYPE_DOCUMENT, NULL);
}

HepaRoiStore *
hepa_document_get_store (HepaDocument *self)
{
  g_return_val_if_fail (HEPA_IS_DOCUMENT (self), NULL);
  return self->store;
}

HepaImage *
hepa_document_get_image (HepaDocument *self)
{
  g_return_val_if_fail (HEPA_IS_DOCUMENT (self), NULL);
  return self->image;
}

const char *
hepa_document_get_path (HepaDocument *self)
{
  g_return_val_if_fail (HEPA_IS_DOCUMENT (self), NULL);
  return self->path;
}

const char *
hepa_document_get_sidecar_path (HepaDocument *self)
{
  g_return_val_if_fail (HEPA_IS_DOCUMENT (self), NULL);
  return self->sidecar_path;
}

gboolean
hepa_document_get_loading (HepaDocument *self)
{
  g_return_val_if_fail (HEPA_IS_DOCUMENT (self), FALSE);
  return self->loading;
}

gboolean
hepa_document_get_saving (HepaDocument *self)
{
  g_return_val_if_fail (HEPA_IS_DOCUMENT (self), FALSE);
  return self->saving;
}

gboolean
hepa_document_get_modified (HepaDocument *self)
{
  g_return_val_if_fail (HEPA_IS_DOCUMENT (self), FALSE);
  return self->edit_serial != self->saved_serial;
}

static void
hepa_document_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  HepaDocument *self = HEPA_DOCUMENT (object);

  switch (prop_id)
    {
    case PROP_IMAGE:
      g_value_set_pointer (value, self->image);
      break;
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_SIDECAR_PATH:
      g_value_set_string (value, self->sidecar_path);
      break;
    case PROP_LOADING:
      g_value_set_boolean (value, self->loading);
      break;
    case PROP_SAVING:
      g_value_set_boolean (value, self->saving);
      break;
    case PROP_MODIFIED:
      g_value_set_boolean (value, hepa_document_get_modified (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_document_dispose (GObject *object)
{
  HepaDocument *self = HEPA_DOCUMENT (object);

  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (hepa_document_parent_class)->dispose (object);
}

static void
hepa_document_finalize (GObject *object)
{
  HepaDocument *self = HEPA_DOCUMENT (object);

  g_clear_pointer (&self->image, hepa_image_unref);
  g_free (self->path);
  g_free (self->sidecar_path);
  g_free (self->sop_uid_sha256);
  g_ptr_array_unref (self->save_waiting);
  g_ptr_array_unref (self->save_in_flight);

  G_OBJECT_CLASS (hepa_document_parent_class)->finalize (object);
}

static void
hepa_document_class_init (HepaDocumentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = hepa_document_get_property;
  object_class->dispose = hepa_document_dispose;
  object_class->finalize = hepa_document_finalize;

  properties[PROP_IMAGE] =
    g_param_spec_pointer ("image", NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SIDECAR_PATH] =
    g_param_spec_string ("sidecar-path", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SAVING] =
    g_param_spec_boolean ("saving", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_MODIFIED] =
    g_param_spec_boolean ("modified", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * HepaDocument::notice:
   * @kind: a #HepaNoticeKind
   * @message: one sentence for the user, naming the file
   *
   * A workspace fallback or a damaged sidecar on open, or a failed write.
   */
  signals[NOTICE] = g_signal_new ("notice", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void
hepa_document_init (HepaDocument *self)
{
  self->store = hepa_roi_store_new ();
  self->save_waiting = g_ptr_array_new_with_free_func (g_object_unref);
  self->save_in_flight = g_ptr_array_new_with_free_func (g_object_unref);
  /* After the window's handlers: a finished edit starts its inference before its write. */
  g_signal_connect_object (self->store, "changed", G_CALLBACK (store_changed_cb), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
}
