/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-window-archive.h"

#include <glib/gi18n.h>

#include "hepa-error.h"
#include "hepa-pacs-dialog.h"
#include "hepa-pacs-nodes.h"
#include "hepa-results.h"
#include "hepa-view-export.h"
#include "hepa-window-private.h"

/* ---- Save view as PNG, Copy view -------------------------------------------------------- */

static void
save_view_response_cb (GtkNativeDialog *dialog,
                       int              response,
                       HepaWindow      *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr(GError) error = NULL;

      if (path == NULL)
        hepa_window_show_info (self, GTK_MESSAGE_ERROR, _("The view can only be saved to a local file"));
      else if (!hepa_view_export_save_png (GTK_WIDGET (self->canvas), path, &error))
        hepa_window_show_info (self, GTK_MESSAGE_ERROR, error->message);
      else
        {
          g_autofree char *name = g_filename_display_basename (path);
          g_autofree char *message = g_strdup_printf (_("View saved as %s"), name);

          hepa_window_set_status (self, message);
        }
    }
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
save_view_action (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  HepaImage *image = hepa_canvas_get_image (self->canvas);
  GtkFileChooserNative *dialog;
  g_autofree char *name = NULL;

  if (image == NULL)
    return;
  dialog = gtk_file_chooser_native_new (_("Save View as PNG"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  if (self->document != NULL && hepa_document_get_path (self->document) != NULL)
    {
      g_autofree char *base = g_path_get_basename (hepa_document_get_path (self->document));
      char *dot = strrchr (base, '.');

      if (dot != NULL && dot != base)
        *dot = '\0';
      name = g_strdup_printf ("%s-view.png", base);
    }
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), name ? name : "view.png");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (save_view_response_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
copy_view_action (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  g_autoptr(GError) error = NULL;

  if (hepa_canvas_get_image (self->canvas) == NULL)
    return;
  if (!hepa_view_export_copy (GTK_WIDGET (self->canvas), &error))
    hepa_window_show_info (self, GTK_MESSAGE_ERROR, error->message);
  else
    hepa_window_set_status (self, _("View copied to the clipboard"));
}

/* ---- Query and retrieve ----------------------------------------------------------------- */

static void
study_retrieved_cb (HepaWindow *self,
                    const char *folder)
{
  hepa_window_open_folder (self, folder);
}

static void
forget_dialog_cb (HepaWindow *self)
{
  g_object_set_data (G_OBJECT (self), "hepa-pacs-dialog", NULL);
}

static void
pacs_query_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  HepaPacsDialog *dialog = g_object_get_data (G_OBJECT (self), "hepa-pacs-dialog");

  if (self->settings == NULL)
    {
      hepa_window_show_info (self, GTK_MESSAGE_ERROR,
                             _("The archive needs the app's settings schema, which is not installed"));
      return;
    }
  if (dialog == NULL)
    {
      /* One per window, kept while it is open; the window holds it by a weak pointer. */
      dialog = hepa_pacs_dialog_new (GTK_WINDOW (self), self->settings);
      gtk_window_set_hide_on_close (GTK_WINDOW (dialog), FALSE);
      g_signal_connect_object (dialog, "study-retrieved", G_CALLBACK (study_retrieved_cb), self,
                               G_CONNECT_SWAPPED);
      g_object_set_data (G_OBJECT (self), "hepa-pacs-dialog", dialog);
      gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
      g_signal_connect_object (dialog, "destroy", G_CALLBACK (forget_dialog_cb), self,
                               G_CONNECT_SWAPPED);
    }
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- Send results ----------------------------------------------------------------------- */

typedef struct
{
  HepaModelHandle *model;
  GPtrArray       *paths;       /* the study's images */
  char            *out_dir;
  HepaPacsNode    *node;
  char            *node_name;
  GPtrArray       *written;     /* what hepa_results_write_study wrote */
  GCancellable    *cancellable;
  guint            n_sent;
  GtkWidget       *progress_window;
  GtkWidget       *label;
  GtkWidget       *bar;
} SendJob;

static void
send_job_free (SendJob *job)
{
  g_clear_pointer (&job->model, hepa_model_handle_unref);
  g_clear_pointer (&job->paths, g_ptr_array_unref);
  g_free (job->out_dir);
  g_clear_pointer (&job->node, hepa_pacs_node_free);
  g_free (job->node_name);
  g_clear_pointer (&job->written, g_ptr_array_unref);
  g_clear_object (&job->cancellable);
  if (job->progress_window != NULL)
    gtk_window_destroy (GTK_WINDOW (job->progress_window));
  g_free (job);
}

static void
send_progress (SendJob    *job,
               const char *what,
               guint       done,
               guint       total)
{
  g_autofree char *text = g_strdup_printf ("%s %u/%u", what, done, total);

  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (job->bar),
                                 total > 0 ? MIN (1.0, (double) done / total) : 0.0);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (job->bar), text);
}

typedef struct
{
  GTask *task;
  guint  done, total;
} WriteProgress;

static gboolean
write_progress_idle (gpointer data)
{
  WriteProgress *p = data;
  SendJob *job = g_task_get_task_data (p->task);

  if (job->bar != NULL)
    send_progress (job, _("Writing results:"), p->done, p->total);
  g_object_unref (p->task);
  g_free (p);
  return G_SOURCE_REMOVE;
}

/* On the worker: hand the count to the main thread. */
static void
write_progress_cb (guint       done,
                   guint       total,
                   const char *path,
                   gpointer    user_data)
{
  WriteProgress *p = g_new0 (WriteProgress, 1);

  p->task = g_object_ref (user_data);
  p->done = done;
  p->total = total;
  g_main_context_invoke (g_task_get_context (p->task), write_progress_idle, p);
}

static void
store_progress_cb (guint    done,
                   guint    total,
                   gpointer user_data)
{
  GTask *task = user_data;

  send_progress (g_task_get_task_data (task), _("Sending:"), done, total);
}

static void
store_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SendJob *job = g_task_get_task_data (task);
  GError *error = NULL;

  if (hepa_pacs_store_finish (result, &job->n_sent, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
write_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  SendJob *job = task_data;
  GError *error = NULL;

  if (hepa_results_write_study (job->model->engine, (const char *const *) job->paths->pdata,
                                job->paths->len, job->out_dir, job->written, write_progress_cb,
                                task, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
write_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SendJob *job = g_task_get_task_data (task);
  g_autoptr(GPtrArray) dicom = g_ptr_array_new ();
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* report.pdf stays in the folder; the archive takes the DICOM files. */
  for (guint i = 0; i < job->written->len; i++)
    if (g_str_has_suffix (g_ptr_array_index (job->written, i), ".dcm"))
      g_ptr_array_add (dicom, g_ptr_array_index (job->written, i));
  {
    g_autofree char *line = g_strdup_printf (_("Sending %u files to %s…"), dicom->len,
                                             job->node_name);

    gtk_label_set_text (GTK_LABEL (job->label), line);
  }
  send_progress (job, _("Sending:"), 0, dicom->len);
  hepa_pacs_store_async (job->node, (const char *const *) dicom->pdata, dicom->len,
                         store_progress_cb, task, job->cancellable, store_done_cb,
                         g_object_ref (task));
}

static void
send_saved_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SendJob *job = g_task_get_task_data (task);
  GError *error = NULL;
  GTask *writer;

  if (!hepa_document_save_finish (HEPA_DOCUMENT (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  writer = g_task_new (NULL, job->cancellable, write_done_cb, g_object_ref (task));
  g_task_set_task_data (writer, job, NULL);
  g_task_run_in_thread (writer, write_thread);
  g_object_unref (writer);
}

static void
send_cancel_cb (GCancellable *cancellable)
{
  g_cancellable_cancel (cancellable);
}

static void
show_send_progress (HepaWindow *self,
                    SendJob    *job)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  g_autofree char *line = g_strdup_printf (_("Writing the results for %s…"), job->node_name);

  job->progress_window = gtk_window_new ();
  gtk_window_set_title (GTK_WINDOW (job->progress_window), _("Send Results"));
  gtk_window_set_transient_for (GTK_WINDOW (job->progress_window), GTK_WINDOW (self));
  gtk_window_set_modal (GTK_WINDOW (job->progress_window), TRUE);
  gtk_window_set_deletable (GTK_WINDOW (job->progress_window), FALSE);
  gtk_window_set_default_size (GTK_WINDOW (job->progress_window), 420, -1);
  gtk_widget_set_name (job->progress_window, "send-results");
  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  gtk_widget_set_margin_top (box, 18);
  gtk_widget_set_margin_bottom (box, 18);
  job->label = gtk_label_new (line);
  gtk_label_set_xalign (GTK_LABEL (job->label), 0);
  gtk_label_set_wrap (GTK_LABEL (job->label), TRUE);
  job->bar = gtk_progress_bar_new ();
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (job->bar), TRUE);
  gtk_widget_set_name (cancel, "send-cancel");
  gtk_widget_set_halign (buttons, GTK_ALIGN_END);
  g_signal_connect_object (cancel, "clicked", G_CALLBACK (send_cancel_cb), job->cancellable,
                           G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (buttons), cancel);
  gtk_box_append (GTK_BOX (box), job->label);
  gtk_box_append (GTK_BOX (box), job->bar);
  gtk_box_append (GTK_BOX (box), buttons);
  gtk_window_set_child (GTK_WINDOW (job->progress_window), box);
  gtk_window_present (GTK_WINDOW (job->progress_window));
}

void
hepa_window_send_results_async (HepaWindow          *self,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  HepaModelHandle *model = hepa_classifier_get_model (self->classifier);
  g_autoptr(GPtrArray) nodes = NULL;
  g_autofree char *parent = g_build_filename (g_get_user_cache_dir (), "hepascope", "results",
                                              NULL);
  g_autofree char *template = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  const char *doc_path = hepa_document_get_path (self->document);
  guint chosen;
  SendJob *job;

  g_task_set_source_tag (task, hepa_window_send_results_async);
  nodes = self->settings != NULL ? hepa_pacs_nodes_from_settings (self->settings) : NULL;
  if (nodes == NULL || nodes->len == 0)
    {
      g_task_return_new_error (task, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT, "%s",
                               _("No archive is set: add one in Preferences."));
      return;
    }
  if (model == NULL)
    {
      g_task_return_new_error (task, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT, "%s",
                               _("Results need a model: none is loaded."));
      return;
    }
  if (doc_path == NULL)
    {
      g_task_return_new_error (task, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT, "%s",
                               _("Open a study first."));
      return;
    }
  chosen = (guint) g_settings_get_int (self->settings, "pacs-node");
  job = g_new0 (SendJob, 1);
  job->model = hepa_model_handle_ref (model);
  job->node = hepa_pacs_node_copy (g_ptr_array_index (nodes, chosen < nodes->len ? chosen : 0));
  job->node_name = hepa_pacs_node_to_string (job->node);
  job->paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < hepa_study_get_n_files (self->study); i++)
    g_ptr_array_add (job->paths, g_strdup (hepa_study_get_path (self->study, i)));
  if (job->paths->len == 0)
    g_ptr_array_add (job->paths, g_strdup (doc_path));
  job->written = g_ptr_array_new_with_free_func (g_free);
  job->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, job, (GDestroyNotify) send_job_free);
  g_mkdir_with_parents (parent, 0700);
  template = g_strdup_printf ("%s/%s-XXXXXX", parent, stamp);
  job->out_dir = g_mkdtemp (g_steal_pointer (&template));
  if (job->out_dir == NULL)
    {
      g_autofree char *name = g_filename_display_name (parent);

      g_task_return_new_error (task, HEPA_ERROR, HEPA_ERROR_IO, _("%s: cannot make a folder there"),
                               name);
      return;
    }
  show_send_progress (self, job);
  /* The regions on screen are what the results say: on disk first. */
  hepa_document_save_async (self->document, NULL, send_saved_cb, g_steal_pointer (&task));
}

gboolean
hepa_window_send_results_finish (HepaWindow    *self,
                                 GAsyncResult  *result,
                                 guint         *n_sent,
                                 char         **out_dir,
                                 GError       **error)
{
  SendJob *job = g_task_get_task_data (G_TASK (result));

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  if (n_sent != NULL)
    *n_sent = job != NULL ? job->n_sent : 0;
  if (out_dir != NULL)
    *out_dir = job != NULL ? g_strdup (job->out_dir) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
send_results_done_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  HepaWindow *self = HEPA_WINDOW (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *out_dir = NULL;
  guint n_sent = 0;

  if (hepa_window_send_results_finish (self, result, &n_sent, &out_dir, &error))
    {
      g_autofree char *line = g_strdup_printf (_("Results sent: %u files; a copy is in %s"),
                                               n_sent, out_dir);
      hepa_window_set_status (self, line);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    hepa_window_set_status (self, _("Sending the results was cancelled."));
  else
    hepa_window_show_info (self, GTK_MESSAGE_ERROR, error->message);
}

static void
send_results_action (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  hepa_window_send_results_async (HEPA_WINDOW (user_data), send_results_done_cb, NULL);
}

/* ---- Open SR ---------------------------------------------------------------------------- */

static void
open_sr_saved_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HepaWindow *self = g_task_get_source_object (task);
  const char *sr_path = g_task_get_task_data (task);
  const char *folder = hepa_study_get_folder (self->study);
  g_autofree char *doc_dir = NULL;
  g_autofree char *image = NULL;
  GError *error = NULL;
  int index = -1;

  if (!hepa_document_save_finish (HEPA_DOCUMENT (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (folder == NULL || *folder == '\0')
    folder = doc_dir = g_path_get_dirname (hepa_document_get_path (self->document));
  image = hepa_results_apply_sr (sr_path, folder, &error);
  if (image == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  for (guint i = 0; i < hepa_study_get_n_files (self->study); i++)
    if (g_strcmp0 (hepa_study_get_path (self->study, i), image) == 0)
      index = (int) i;
  if (index >= 0 && index != hepa_study_get_index (self->study))
    hepa_study_set_index (self->study, index);
  else
    hepa_window_open_path (self, image);   /* reads the sidecar again */
  g_task_return_pointer (task, g_steal_pointer (&image), g_free);
}

void
hepa_window_open_sr_async (HepaWindow          *self,
                           const char          *sr_path,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, hepa_window_open_sr_async);
  g_task_set_task_data (task, g_strdup (sr_path), g_free);
  if (hepa_document_get_path (self->document) == NULL)
    {
      g_task_return_new_error (task, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT, "%s",
                               _("Open the study the SR belongs to first."));
      return;
    }
  hepa_document_save_async (self->document, NULL, open_sr_saved_cb, g_steal_pointer (&task));
}

char *
hepa_window_open_sr_finish (HepaWindow    *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
open_sr_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  HepaWindow *self = HEPA_WINDOW (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *image = hepa_window_open_sr_finish (self, result, &error);

  if (image == NULL)
    hepa_window_show_info (self, GTK_MESSAGE_ERROR, error->message);
  else
    {
      g_autofree char *name = g_filename_display_basename (image);
      g_autofree char *line = g_strdup_printf (_("Regions of the SR restored on %s"), name);

      hepa_window_set_status (self, line);
    }
}

static void
open_sr_response_cb (GtkNativeDialog *dialog,
                     int              response,
                     HepaWindow      *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        hepa_window_open_sr_async (self, path, open_sr_done_cb, NULL);
    }
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
open_sr_action (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  GtkFileChooserNative *dialog;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  dialog = gtk_file_chooser_native_new (_("Open Structured Report"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  gtk_file_filter_set_name (filter, _("DICOM files"));
  gtk_file_filter_add_pattern (filter, "*.dcm");
  gtk_file_filter_add_mime_type (filter, "application/dicom");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (open_sr_response_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static const GActionEntry archive_actions[] = {
  { "send-results", send_results_action },
  { "open-sr", open_sr_action },
  { "pacs-query", pacs_query_action },
  { "save-view", save_view_action },
  { "copy-view", copy_view_action },
};

static void
update_archive_actions (HepaWindow *self)
{
  gboolean has_image = hepa_document_get_image (self->document) != NULL;
  const char *const view_actions[] = { "save-view", "copy-view", "send-results", "open-sr" };

  for (guint i = 0; i < G_N_ELEMENTS (view_actions); i++)
    {
      GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), view_actions[i]);

      g_simple_action_set_enabled (G_SIMPLE_ACTION (action), has_image);
    }
}

void
hepa_window_archive_attach (HepaWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), archive_actions,
                                   G_N_ELEMENTS (archive_actions), self);
  g_signal_connect_object (self->document, "notify::image", G_CALLBACK (update_archive_actions),
                           self, G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  update_archive_actions (self);
}
