/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-save-dialog.h"

#include "hepa-annotations.h"
#include "hepa-debug.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>

enum {
  RESPONSE_ELSEWHERE = 1,
  RESPONSE_WORKSPACE = 2,
};

typedef struct
{
  GtkWindow          *parent;    /* (owned) */
  HepaDocument       *document;  /* (owned) */
  HepaSaveDialogDone  done;
  gpointer            user_data;
} Ask;

static void
ask_free (Ask *ask)
{
  g_object_unref (ask->parent);
  g_object_unref (ask->document);
  g_free (ask);
}

static void show_question (Ask *ask);

static void
finish (Ask                   *ask,
        HepaSaveDialogOutcome  outcome)
{
  ask->done (outcome, ask->user_data);
  ask_free (ask);
}

static void
saved_cb (GObject      *source,
          GAsyncResult *res,
          gpointer      user_data)
{
  Ask *ask = user_data;
  g_autoptr(GError) error = NULL;

  if (hepa_document_save_finish (HEPA_DOCUMENT (source), res, &error))
    finish (ask, HEPA_SAVE_DIALOG_SAVED);
  else
    show_question (ask);  /* it failed again: say so and ask again */
}

static char *
workspace_sidecar (HepaDocument *document)
{
  g_autofree char *ws = hepa_document_workspace_dir ();

  g_mkdir_with_parents (ws, 0700);
  return hepa_annotations_sidecar_path (hepa_document_get_path (document), ws);
}

static void
elsewhere_cb (GtkNativeDialog *chooser,
              int              response,
              Ask             *ask)
{
  g_autoptr(GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  path = file ? g_file_get_path (file) : NULL;
  g_object_unref (chooser);
  if (path == NULL)
    show_question (ask);
  else
    hepa_document_save_to_async (ask->document, path, NULL, saved_cb, ask);
}

static void
response_cb (GtkDialog *dialog,
             int        response,
             Ask       *ask)
{
  gtk_window_destroy (GTK_WINDOW (dialog));
  if (response == RESPONSE_WORKSPACE)
    {
      g_autofree char *path = workspace_sidecar (ask->document);

      hepa_document_save_to_async (ask->document, path, NULL, saved_cb, ask);
    }
  else if (response == RESPONSE_ELSEWHERE)
    {
      GtkFileChooserNative *chooser;
      g_autofree char *name = g_path_get_basename (hepa_document_get_sidecar_path (ask->document));

      chooser = gtk_file_chooser_native_new (_("Save the Regions As"), ask->parent,
                                             GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"),
                                             _("_Cancel"));
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
      gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
      g_signal_connect (chooser, "response", G_CALLBACK (elsewhere_cb), ask);
      gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
    }
  else if (response == GTK_RESPONSE_REJECT)
    finish (ask, HEPA_SAVE_DIALOG_DISCARDED);
  else
    finish (ask, HEPA_SAVE_DIALOG_CANCELLED);
}

static void
show_question (Ask *ask)
{
  const char *path = hepa_document_get_path (ask->document);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *ws = hepa_document_workspace_dir ();
  const char *why = hepa_document_get_save_error (ask->document);
  GtkWidget *dialog, *save;

  dialog = gtk_message_dialog_new (ask->parent, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                   GTK_MESSAGE_WARNING, GTK_BUTTONS_NONE,
                                   _("The regions of %s are not saved"), base);
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
                                            _("They could not be written to %s (%s). Save them "
                                              "in the workspace folder %s or in a place you "
                                              "choose, or close and lose them."),
                                            hepa_document_get_sidecar_path (ask->document),
                                            why ? why : _("unknown error"), ws);
  gtk_window_set_title (GTK_WINDOW (dialog), _("Unsaved Regions"));
  gtk_dialog_add_buttons (GTK_DIALOG (dialog), _("Close _Without Saving"), GTK_RESPONSE_REJECT,
                          _("_Cancel"), GTK_RESPONSE_CANCEL,
                          _("Save _Elsewhere…"), RESPONSE_ELSEWHERE,
                          _("_Save to Workspace"), RESPONSE_WORKSPACE, NULL);
  gtk_dialog_set_default_response (GTK_DIALOG (dialog), RESPONSE_WORKSPACE);
  save = gtk_dialog_get_widget_for_response (GTK_DIALOG (dialog), RESPONSE_WORKSPACE);
  gtk_widget_add_css_class (save, "suggested-action");
  g_signal_connect (dialog, "response", G_CALLBACK (response_cb), ask);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (save);
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: asking about unsaved regions of %s\n", base);
}

void
hepa_save_dialog_ask (GtkWindow          *parent,
                      HepaDocument       *document,
                      HepaSaveDialogDone  done,
                      gpointer            user_data)
{
  Ask *ask = g_new0 (Ask, 1);

  ask->parent = g_object_ref (parent);
  ask->document = g_object_ref (document);
  ask->done = done;
  ask->user_data = user_data;
  show_question (ask);
}
