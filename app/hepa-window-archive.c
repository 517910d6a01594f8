/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-window-archive.h"

#include <glib/gi18n.h>

#include "hepa-pacs-dialog.h"
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

static const GActionEntry archive_actions[] = {
  { "pacs-query", pacs_query_action },
  { "save-view", save_view_action },
  { "copy-view", copy_view_action },
};

static void
update_archive_actions (HepaWindow *self)
{
  gboolean has_image = hepa_document_get_image (self->document) != NULL;
  const char *const view_actions[] = { "save-view", "copy-view" };

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
