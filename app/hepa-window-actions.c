/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window's actions, keyboard shortcuts and dialogs. Attached by whoever makes the window;
 * they follow the window's objects through their signals, and the window never calls them. */
#include "config.h"

#include "hepa-window-private.h"

#include "hepa-debug.h"
#include "hepa-demo.h"
#include "hepa-export.h"
#include "hepa-model-card-dialog.h"

#include <glib/gi18n.h>

#define MAX_RECENT 8

static void
set_enabled (HepaWindow *self,
             const char *name,
             gboolean    enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  if (action != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
update_actions (HepaWindow *self)
{
  gboolean has_image = hepa_document_get_image (self->document) != NULL;
  gboolean has_sel = hepa_roi_store_get_selected (self->store) != NULL;
  int n = (int) hepa_study_get_n_files (self->study);
  int index = hepa_study_get_index (self->study);

  set_enabled (self, "undo", hepa_roi_store_can_undo (self->store));
  set_enabled (self, "redo", hepa_roi_store_can_redo (self->store));
  set_enabled (self, "delete-roi", has_sel);
  set_enabled (self, "label", has_sel);
  set_enabled (self, "add-roi", has_image);
  set_enabled (self, "next-file", n > 1 && index + 1 < n);
  set_enabled (self, "previous-file", n > 1 && index > 0);
  set_enabled (self, "zoom-in", has_image);
  set_enabled (self, "zoom-out", has_image);
  set_enabled (self, "zoom-fit", has_image);
  set_enabled (self, "zoom-one", has_image);
  set_enabled (self, "about-model", hepa_classifier_get_model (self->classifier) != NULL);
  set_enabled (self, "export", has_image || n > 0);
}

/* ---- Opening -------------------------------------------------------------------------- */

static void
remember_folder (HepaWindow *self,
                 GFile      *file,
                 gboolean    is_folder)
{
  GSettings *settings = self->settings;
  g_autoptr(GFile) dir = is_folder ? g_object_ref (file) : g_file_get_parent (file);
  g_autofree char *path = dir ? g_file_get_path (dir) : NULL;

  if (settings != NULL && path != NULL)
    g_settings_set_string (settings, "last-folder", path);
}

static void
set_start_folder (HepaWindow     *self,
                  GtkFileChooser *chooser)
{
  GSettings *settings = self->settings;
  g_autofree char *last = settings ? g_settings_get_string (settings, "last-folder") : NULL;

  if (last != NULL && *last && g_file_test (last, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GFile) dir = g_file_new_for_path (last);
      gtk_file_chooser_set_current_folder (chooser, dir, NULL);
    }
}

static void
open_response_cb (GtkNativeDialog *dialog,
                  int              response,
                  HepaWindow      *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
      guint n = g_list_model_get_n_items (files);
      g_autofree GFile **array = g_new0 (GFile *, n + 1);
      gboolean folder = gtk_file_chooser_get_action (GTK_FILE_CHOOSER (dialog))
                        == GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER;

      for (guint i = 0; i < n; i++)
        array[i] = g_list_model_get_item (files, i);
      if (n > 0)
        remember_folder (self, array[0], folder);
      hepa_window_open_files (self, array, (int) n);
      for (guint i = 0; i < n; i++)
        g_object_unref (array[i]);
    }
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
show_open_dialog (HepaWindow *self,
                  gboolean    folder)
{
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (folder ? _("Open a Folder as a Study") : _("Open Images"),
                                        GTK_WINDOW (self),
                                        folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                               : GTK_FILE_CHOOSER_ACTION_OPEN,
                                        _("_Open"), _("_Cancel"));
  if (!folder)
    {
      g_autoptr(GtkFileFilter) images = gtk_file_filter_new ();
      g_autoptr(GtkFileFilter) all = gtk_file_filter_new ();

      gtk_file_filter_set_name (images, _("Ultrasound images (DICOM, PNG, JPEG)"));
      gtk_file_filter_add_mime_type (images, "application/dicom");
      gtk_file_filter_add_mime_type (images, "image/png");
      gtk_file_filter_add_mime_type (images, "image/jpeg");
      gtk_file_filter_add_pattern (images, "*.dcm");
      gtk_file_filter_add_pattern (images, "*.DCM");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), images);
      /* DICOM files often have no extension. */
      gtk_file_filter_set_name (all, _("All files"));
      gtk_file_filter_add_pattern (all, "*");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), all);
      gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (dialog), TRUE);
    }
  set_start_folder (self, GTK_FILE_CHOOSER (dialog));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (open_response_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
open_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  show_open_dialog (HEPA_WINDOW (user_data), FALSE);
}

static void
open_folder_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  show_open_dialog (HEPA_WINDOW (user_data), TRUE);
}

static void
open_demo_action (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  g_autoptr(GError) error = NULL;
  g_autofree char *demo = hepa_demo_copy_to_user_dir (&error);

  if (demo == NULL)
    {
      hepa_window_show_info (self, GTK_MESSAGE_WARNING, error->message);
      return;
    }
  hepa_window_open_folder (self, demo);
}

static void
open_recent_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  g_autoptr(GFile) file = g_file_new_for_uri (g_variant_get_string (param, NULL));
  GFile *files[1] = { file };

  hepa_window_open_files (self, files, 1);
}

static void
rebuild_recent_menu (HepaWindow *self)
{
  GList *items = gtk_recent_manager_get_items (self->recent);
  const char *app_name = g_get_application_name ();
  guint n = 0;

  g_menu_remove_all (self->recent_menu);
  for (GList *l = items; l != NULL && n < MAX_RECENT; l = l->next)
    {
      GtkRecentInfo *info = l->data;
      g_autoptr(GMenuItem) item = NULL;
      g_autofree char *display = NULL;

      if (!gtk_recent_info_has_application (info, app_name) || !gtk_recent_info_exists (info))
        continue;
      display = g_strdup (gtk_recent_info_get_display_name (info));
      item = g_menu_item_new (display, NULL);
      g_menu_item_set_action_and_target_value (item, "win.open-recent",
                                               g_variant_new_string (gtk_recent_info_get_uri (info)));
      g_menu_append_item (self->recent_menu, item);
      n++;
    }
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
  if (n == 0)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_("No recent files"), "win.none");
      g_menu_append_item (self->recent_menu, item);
    }
}

/* ---- Regions -------------------------------------------------------------------------- */

static void
undo_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);

  if (hepa_roi_store_undo (self->store))
    hepa_window_set_status (self, _("Undone"));
}

static void
redo_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);

  if (hepa_roi_store_redo (self->store))
    hepa_window_set_status (self, _("Redone"));
}

static void
delete_roi_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  const char *id = hepa_roi_store_get_selected (self->store);
  g_autofree char *copy = g_strdup (id);

  if (copy != NULL && hepa_roi_store_remove (self->store, copy))
    hepa_window_set_status (self, _("Region deleted (Ctrl+Z restores it)"));
}

static void
add_roi_action (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);

  hepa_canvas_add_roi_at_center (self->canvas);
  gtk_widget_grab_focus (GTK_WIDGET (self->canvas));
}

static void
label_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  hepa_window_label_selected (HEPA_WINDOW (user_data), g_variant_get_int32 (param));
}

static void
saliency_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  GSettings *settings = self->settings;
  gboolean visible = g_variant_get_boolean (param);

  g_simple_action_set_state (action, param);
  hepa_canvas_set_overlay_visible (self->canvas, visible);
  hepa_side_panel_set_saliency_sensitive (self->side_panel, visible);
  if (settings != NULL)
    g_settings_set_boolean (settings, "overlay-visible", visible);
}

static void
read_first_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  gboolean on = g_variant_get_boolean (param);

  g_simple_action_set_state (action, param);
  hepa_window_set_read_first (self, on);
  if (self->settings != NULL && g_settings_get_boolean (self->settings, "read-first") != on)
    g_settings_set_boolean (self->settings, "read-first", on);
}

/* ---- View ----------------------------------------------------------------------------- */

static void
zoom_in_action (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  hepa_canvas_zoom_step (HEPA_WINDOW (user_data)->canvas, 1);
}

static void
zoom_out_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  hepa_canvas_zoom_step (HEPA_WINDOW (user_data)->canvas, -1);
}

static void
zoom_fit_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  hepa_canvas_zoom_fit (HEPA_WINDOW (user_data)->canvas);
}

static void
zoom_one_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  HepaCanvas *canvas = HEPA_WINDOW (user_data)->canvas;

  hepa_canvas_set_zoom (canvas, 1.0, gtk_widget_get_width (GTK_WIDGET (canvas)) / 2.0,
                        gtk_widget_get_height (GTK_WIDGET (canvas)) / 2.0);
}

static void
window_preset_action (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  const char *preset = g_variant_get_string (param, NULL);

  hepa_canvas_apply_window_preset (HEPA_WINDOW (user_data)->canvas,
                                   g_str_equal (preset, "full")    ? HEPA_WINDOW_FULL_RANGE
                                   : g_str_equal (preset, "frame") ? HEPA_WINDOW_FRAME_RANGE
                                                                   : HEPA_WINDOW_DEFAULT);
}

static void
frame_step_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  hepa_frame_bar_step (HEPA_WINDOW (user_data)->frame_bar, g_variant_get_int32 (param));
}

static void
play_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  HepaFrameBar *bar = HEPA_WINDOW (user_data)->frame_bar;

  hepa_frame_bar_set_playing (bar, !hepa_frame_bar_get_playing (bar));
}

static void
next_file_action (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  hepa_window_study_step (HEPA_WINDOW (user_data), 1);
}

static void
previous_file_action (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  hepa_window_study_step (HEPA_WINDOW (user_data), -1);
}

/* ---- Model card ----------------------------------------------------------------------- */

static void
about_model_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  HepaModelHandle *model = hepa_classifier_get_model (self->classifier);
  GtkWidget *dialog;

  if (model == NULL)
    return;
  dialog = hepa_model_card_dialog_new (GTK_WINDOW (self), model);
  gtk_window_present (GTK_WINDOW (dialog));
  /* Do not start with the first fact selected. */
  gtk_window_set_focus (GTK_WINDOW (dialog), NULL);
}

/* ---- Export --------------------------------------------------------------------------- */

/* The smallest crop the workbench exports, in pixels: the paper's ResNet50 input. */
#define HEPA_EXPORT_MIN_SIZE 224

typedef struct
{
  HepaWindow      *window;      /* (owned) */
  HepaModelCard   *card;        /* (owned) what the crops are made with */
  char            *out_dir;
  char            *workspace;
  GStrv            paths;
} ExportJob;

static void
export_job_free (ExportJob *job)
{
  g_object_unref (job->window);
  g_clear_pointer (&job->card, hepa_export_card_free);
  g_free (job->out_dir);
  g_free (job->workspace);
  g_strfreev (job->paths);
  g_free (job);
}

typedef struct
{
  HepaWindow *window;
  guint       done;
  guint       total;
} ExportProgress;

static gboolean
export_progress_idle (gpointer data)
{
  ExportProgress *p = data;
  /* Translators: export progress, e.g. "Exporting… 3 of 12 images"; the plural follows the
   * total */
  g_autofree char *text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                        "Exporting… %u of %u image",
                                                        "Exporting… %u of %u images", p->total),
                                           p->done, p->total);

  hepa_window_set_status (p->window, text);
  return G_SOURCE_REMOVE;
}

static void
export_progress_free (gpointer data)
{
  ExportProgress *p = data;

  g_object_unref (p->window);
  g_free (p);
}

/* Runs in the export worker: hands a copy to the main loop, never touches widgets. */
static void
export_progress_cb (guint    done,
                    guint    total,
                    gpointer user_data)
{
  ExportJob *job = user_data;
  ExportProgress *p = g_new0 (ExportProgress, 1);

  p->window = g_object_ref (job->window);
  p->done = done;
  p->total = total;
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, export_progress_idle, p,
                              export_progress_free);
}

static void
export_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  ExportJob *job = task_data;
  HepaExportOptions options;
  GError *error = NULL;
  HepaExportSummary *summary;

  hepa_export_options_init (&options, job->out_dir, job->card);
  options.workspace_dir = job->workspace;
  summary = hepa_export_run (&options, (const char *const *) job->paths, export_progress_cb, job,
                             cancellable, &error);
  if (summary == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, summary, (GDestroyNotify) hepa_export_summary_free);
}

static void
export_done_cb (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  HepaWindow *self = HEPA_WINDOW (source);
  ExportJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaExportSummary) summary = g_task_propagate_pointer (G_TASK (res), &error);
  GtkWidget *dialog;
  g_autoptr(GString) details = g_string_new (NULL);
  guint n_problems = 0, n_without = 0;

  if (summary == NULL)
    {
      dialog = gtk_message_dialog_new (GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                       GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE, "%s",
                                       _("Export failed"));
      gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog), "%s",
                                                error->message);
      hepa_window_set_status (self, _("Export failed"));
    }
  else
    {
      /* One plural per sentence: "1 labeled regions from 1 images" read wrong in English and
       * cannot be right in languages with more plural forms. */
      g_string_append_printf (details, g_dngettext (GETTEXT_PACKAGE,
                                                    "%u labeled region was written to %s.",
                                                    "%u labeled regions were written to %s.",
                                                    summary->n_exported),
                              summary->n_exported, job->out_dir);
      g_string_append_c (details, '\n');
      /* Translators: the counts under the export summary's first sentence */
      g_string_append_printf (details, _("Images read: %u. Files new or changed: %u; "
                                         "unchanged: %u."),
                              summary->n_images, summary->n_written, summary->n_unchanged);
      if (summary->n_unlabeled > 0)
        g_string_append_printf (details, "\n%s",
                                _("Unlabeled regions are not exported."));
      /* A study's files without regions are normal: counted, not listed as problems. */
      for (guint i = 0; i < summary->problems->len; i++)
        {
          HepaExportProblem *p = g_ptr_array_index (summary->problems, i);

          if (p->reason == HEPA_EXPORT_SKIP_NO_SIDECAR)
            n_without++;
          else
            n_problems++;
        }
      if (n_without > 0)
        {
          g_string_append_c (details, '\n');
          g_string_append_printf (details, g_dngettext (GETTEXT_PACKAGE,
                                                        "%u file has no regions.",
                                                        "%u files have no regions.", n_without),
                                  n_without);
        }
      for (guint i = 0, listed = 0; i < summary->problems->len && listed < 8; i++)
        {
          HepaExportProblem *p = g_ptr_array_index (summary->problems, i);
          g_autofree char *base = NULL;

          if (p->reason == HEPA_EXPORT_SKIP_NO_SIDECAR)
            continue;
          base = g_path_get_basename (p->path);
          g_string_append_printf (details, "\n• %s: %s", base, p->message);
          listed++;
        }
      if (n_problems > 8)
        g_string_append_printf (details, "\n%s", _("…and more; see the manifest."));
      dialog = gtk_message_dialog_new (GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                       n_problems ? GTK_MESSAGE_WARNING : GTK_MESSAGE_INFO,
                                       GTK_BUTTONS_CLOSE, "%s",
                                       n_problems ? _("Export finished with problems")
                                                  : _("Export finished"));
      gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog), "%s", details->str);
      if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
        g_printerr ("hepascope-view: export finished: %u problems, %u without regions\n",
                    n_problems, n_without);
      hepa_window_set_status (self, _("Export finished"));
    }
  g_signal_connect (dialog, "response", G_CALLBACK (gtk_window_destroy), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
export_response_cb (GtkNativeDialog *dialog,
                    int              response,
                    HepaWindow      *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) dir = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autoptr(GTask) task = NULL;
      GSettings *settings = self->settings;
      HepaModelHandle *model = hepa_classifier_get_model (self->classifier);
      GPtrArray *paths = g_ptr_array_new ();
      ExportJob *job = g_new0 (ExportJob, 1);

      job->window = g_object_ref (self);
      job->out_dir = g_file_get_path (dir);
      job->workspace = hepa_document_workspace_dir ();
      /* The loaded model's classes and preprocessing, but crops of at least the paper's
       * 224 px: they are for retraining, and a model with a small input (the default one
       * takes 64 px) would otherwise leave only small crops to train on. */
      job->card = model != NULL
                    ? hepa_export_card_new_like (hepa_model_get_card (model->model), NULL)
                    : hepa_export_card_new_default ((const char *const *) self->classes);
      job->card->input_size = MAX (job->card->input_size, HEPA_EXPORT_MIN_SIZE);
      if (hepa_study_get_n_files (self->study) > 0)
        for (guint i = 0; i < hepa_study_get_n_files (self->study); i++)
          g_ptr_array_add (paths, g_strdup (hepa_study_get_path (self->study, i)));
      else if (hepa_document_get_path (self->document) != NULL)
        g_ptr_array_add (paths, g_strdup (hepa_document_get_path (self->document)));
      g_ptr_array_add (paths, NULL);
      job->paths = (GStrv) g_ptr_array_free (paths, FALSE);
      if (settings != NULL && job->out_dir != NULL)
        g_settings_set_string (settings, "last-export-folder", job->out_dir);

      if (job->out_dir == NULL)
        export_job_free (job);
      else
        {
          hepa_window_set_status (self, _("Exporting…"));
          task = g_task_new (self, NULL, export_done_cb, NULL);
          g_task_set_source_tag (task, export_response_cb);
          g_task_set_task_data (task, job, (GDestroyNotify) export_job_free);
          g_task_run_in_thread (task, export_thread);
        }
    }
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
export_action (GSimpleAction *action,
               GVariant      *param,
               gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  GSettings *settings = self->settings;
  g_autofree char *last = settings ? g_settings_get_string (settings, "last-export-folder") : NULL;
  GtkFileChooserNative *dialog;

  /* Labeled crops as the trainer reads them: <out>/<class>/<crop>.png plus manifest.csv. */
  dialog = gtk_file_chooser_native_new (_("Export Labeled Crops To"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Export"),
                                        _("_Cancel"));
  if (last != NULL && *last && g_file_test (last, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GFile) dir = g_file_new_for_path (last);
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (dialog), dir, NULL);
    }
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (export_response_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* ---- Drag and drop -------------------------------------------------------------------- */

static gboolean
drop_cb (HepaWindow    *self,
         const GValue  *value,
         double         x,
         double         y,
         GtkDropTarget *target)
{
  GSList *list;
  g_autofree GFile **files = NULL;
  guint n, i = 0;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  list = g_value_get_boxed (value);
  n = g_slist_length (list);
  if (n == 0)
    return FALSE;
  files = g_new0 (GFile *, n);
  for (GSList *l = list; l != NULL; l = l->next)
    files[i++] = l->data;
  hepa_window_open_files (self, files, (int) n);
  return TRUE;
}

/* ---- Settings ------------------------------------------------------------------------- */

/* Preferences changed elsewhere (the Preferences window, another window, gsettings) take effect
 * at once. The setters compare first: the controls write the same keys back. */
static void
settings_changed_cb (HepaWindow *self,
                     const char *key,
                     GSettings  *settings)
{
  if (g_str_equal (key, "rater-name"))
    {
      g_autofree char *rater = g_settings_get_string (settings, key);

      hepa_roi_store_set_rater (self->store, *rater ? rater : g_get_user_name ());
    }
  else if (g_str_equal (key, "overlay-visible"))
    {
      g_autoptr(GVariant) state = g_action_group_get_action_state (G_ACTION_GROUP (self),
                                                                   "saliency");
      gboolean visible = g_settings_get_boolean (settings, key);

      if (state != NULL && g_variant_get_boolean (state) != visible)
        g_action_group_change_action_state (G_ACTION_GROUP (self), "saliency",
                                            g_variant_new_boolean (visible));
    }
  else if (g_str_equal (key, "read-first"))
    {
      g_autoptr(GVariant) state = g_action_group_get_action_state (G_ACTION_GROUP (self),
                                                                   "read-first");
      gboolean on = g_settings_get_boolean (settings, key);

      if (state != NULL && g_variant_get_boolean (state) != on)
        g_action_group_change_action_state (G_ACTION_GROUP (self), "read-first",
                                            g_variant_new_boolean (on));
    }
  else if (g_str_equal (key, "overlay-opacity") || g_str_equal (key, "colormap")
           || g_str_equal (key, "overlay-scaling"))
    hepa_side_panel_set_saliency (self->side_panel,
                                  g_settings_get_double (settings, "overlay-opacity"),
                                  (guint) g_settings_get_enum (settings, "colormap"),
                                  (guint) g_settings_get_enum (settings, "overlay-scaling"));
}

static void
none_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
}

static const GActionEntry win_actions[] = {
  { "open", open_action },
  { "open-folder", open_folder_action },
  { "open-demo", open_demo_action },
  { "open-recent", open_recent_action, "s" },
  { "next-file", next_file_action },
  { "previous-file", previous_file_action },
  { "undo", undo_action },
  { "redo", redo_action },
  { "delete-roi", delete_roi_action },
  { "add-roi", add_roi_action },
  { "label", label_action, "i" },
  { "saliency", NULL, NULL, "true", saliency_action },
  { "read-first", NULL, NULL, "false", read_first_action },
  { "zoom-in", zoom_in_action },
  { "zoom-out", zoom_out_action },
  { "zoom-fit", zoom_fit_action },
  { "zoom-one", zoom_one_action },
  { "frame-step", frame_step_action, "i" },
  { "window-preset", window_preset_action, "s" },
  { "play", play_action },
  { "about-model", about_model_action },
  { "export", export_action },
  { "none", none_action },
};

static void
add_shortcut (GtkShortcutController *controller,
              guint                  keyval,
              GdkModifierType        mods,
              const char            *action,
              GVariant              *args)
{
  GtkShortcut *shortcut = gtk_shortcut_new (gtk_keyval_trigger_new (keyval, mods),
                                            gtk_named_action_new (action));

  if (args != NULL)
    gtk_shortcut_set_arguments (shortcut, args);
  gtk_shortcut_controller_add_shortcut (controller, shortcut);
}

void
hepa_window_actions_attach (HepaWindow *self)
{
  GtkEventController *controller;
  GtkShortcutController *sc;
  GtkDropTarget *drop;
  GAction *none;

  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions),
                                   self);
  hepa_window_loop_attach (self);
  none = g_action_map_lookup_action (G_ACTION_MAP (self), "none");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (none), FALSE);

  /* Single keys act in the bubble phase, after the focused widget: a slider keeps its arrow
   * keys, the canvas its own, and the window gets the rest. */
  controller = gtk_shortcut_controller_new ();
  sc = GTK_SHORTCUT_CONTROLLER (controller);
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_BUBBLE);
  for (int i = 0; i < 9; i++)
    {
      add_shortcut (sc, GDK_KEY_1 + i, 0, "win.label", g_variant_new_int32 (i));
      add_shortcut (sc, GDK_KEY_KP_1 + i, 0, "win.label", g_variant_new_int32 (i));
    }
  add_shortcut (sc, GDK_KEY_0, 0, "win.label", g_variant_new_int32 (-1));
  add_shortcut (sc, GDK_KEY_Delete, 0, "win.delete-roi", NULL);
  add_shortcut (sc, GDK_KEY_KP_Delete, 0, "win.delete-roi", NULL);
  add_shortcut (sc, GDK_KEY_s, 0, "win.saliency", NULL);
  add_shortcut (sc, GDK_KEY_n, 0, "win.add-roi", NULL);
  add_shortcut (sc, GDK_KEY_Left, 0, "win.frame-step", g_variant_new_int32 (-1));
  add_shortcut (sc, GDK_KEY_Right, 0, "win.frame-step", g_variant_new_int32 (1));
  add_shortcut (sc, GDK_KEY_comma, 0, "win.frame-step", g_variant_new_int32 (-1));
  add_shortcut (sc, GDK_KEY_period, 0, "win.frame-step", g_variant_new_int32 (1));
  add_shortcut (sc, GDK_KEY_p, 0, "win.play", NULL);
  add_shortcut (sc, GDK_KEY_f, 0, "win.zoom-fit", NULL);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  self->recent_menu = g_menu_new ();
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (self->recent_button),
                                  G_MENU_MODEL (self->recent_menu));
  g_signal_connect_swapped (self->recent, "changed", G_CALLBACK (rebuild_recent_menu), self);
  rebuild_recent_menu (self);

  if (self->settings != NULL)
    g_action_group_change_action_state (G_ACTION_GROUP (self), "saliency",
                                        g_variant_new_boolean (g_settings_get_boolean (self->settings,
                                                                                       "overlay-visible")));
  if (self->settings != NULL && g_settings_get_boolean (self->settings, "read-first"))
    g_action_group_change_action_state (G_ACTION_GROUP (self), "read-first",
                                        g_variant_new_boolean (TRUE));
  /* What can be done follows the document, its regions, the study and the model. */
  g_signal_connect_object (self->store, "changed", G_CALLBACK (update_actions), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->store, "selection-changed", G_CALLBACK (update_actions), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->document, "notify::image", G_CALLBACK (update_actions), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->study, "notify", G_CALLBACK (update_actions), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->classifier, "notify::model", G_CALLBACK (update_actions), self,
                           G_CONNECT_SWAPPED);
  update_actions (self);

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect_swapped (drop, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
  if (self->settings != NULL)
    g_signal_connect_object (self->settings, "changed", G_CALLBACK (settings_changed_cb), self,
                             G_CONNECT_SWAPPED);
}
