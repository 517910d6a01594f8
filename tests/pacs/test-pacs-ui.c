/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench's side of the archive (issue 23 items 1 and 2), against the throwaway Orthanc
 * test-pacs-ui.sh starts: a node added in Preferences is verified (C-ECHO), a closed port gives
 * one line; the window's Query and Retrieve dialog finds the pushed phantom study and its series,
 * retrieves it with C-GET and with C-MOVE, and the study opens in the window.
 * Skips without the archive (HEPA_TEST_PACS_NODE unset) or without a display. */
#include "config.h"

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gio.h>
#include <gio/gsettingsbackend.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "hepa-pacs-dialog.h"
#include "hepa-pacs-nodes.h"
#include "hepa-view-export.h"
#include "hepa-window-archive.h"
#include "hepa-window-private.h"

static GSettings *settings;
static const char *node_spec;

static GtkWidget *
find_named (GtkWidget  *widget,
            const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (widget), name) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_named (child, name);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
get (GtkWidget  *root,
     const char *name)
{
  GtkWidget *widget = find_named (root, name);

  g_assert_nonnull (widget);
  return widget;
}

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @done says so, 60 s at most. */
#define WAIT_FOR(cond) \
  G_STMT_START { \
    gboolean timed_out_ = FALSE; \
    guint id_ = g_timeout_add_seconds (60, timeout_cb, &timed_out_); \
    while (!(cond) && !timed_out_) \
      g_main_context_iteration (NULL, TRUE); \
    g_assert_false (timed_out_); \
    g_source_remove (id_); \
  } G_STMT_END

static void
click (GtkWidget *button)
{
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static const char *
label_text (GtkWidget *label)
{
  return gtk_label_get_text (GTK_LABEL (label));
}

static gboolean
verified (GtkWidget *label)
{
  const char *text = label_text (label);

  return *text && !g_str_has_suffix (text, "…");
}

static void
test_preferences_verify (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaPacsNode) node = hepa_pacs_node_parse (node_spec, NULL, &error);
  GtkWidget *window = gtk_window_new ();
  GtkWidget *nodes;
  int closed_port;

  g_assert_no_error (error);
  g_settings_reset (settings, "pacs-nodes");
  nodes = hepa_pacs_nodes_new (settings);
  gtk_window_set_child (GTK_WINDOW (window), nodes);
  gtk_window_present (GTK_WINDOW (window));

  /* Added through the section's own controls. */
  gtk_editable_set_text (GTK_EDITABLE (get (nodes, "pacs-add-aet")), node->peer_aet);
  gtk_editable_set_text (GTK_EDITABLE (get (nodes, "pacs-add-host")), node->host);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (get (nodes, "pacs-add-port")), node->port);
  click (get (nodes, "pacs-add"));
  g_assert_cmpstr (label_text (get (nodes, "pacs-add-error")), ==, "");
  {
    g_autoptr(GPtrArray) stored = hepa_pacs_nodes_from_settings (settings);
    HepaPacsNode *first;

    g_assert_cmpuint (stored->len, ==, 1);
    first = g_ptr_array_index (stored, 0);
    g_assert_cmpstr (first->peer_aet, ==, node->peer_aet);
    g_assert_cmpint (first->port, ==, node->port);
    g_assert_cmpint (first->our_port, ==, 0);
  }
  /* A bad AE title is one line, and nothing is stored. */
  gtk_editable_set_text (GTK_EDITABLE (get (nodes, "pacs-add-aet")), "BAD\\AET");
  gtk_editable_set_text (GTK_EDITABLE (get (nodes, "pacs-add-host")), "127.0.0.1");
  click (get (nodes, "pacs-add"));
  g_assert_cmpstr (label_text (get (nodes, "pacs-add-error")), !=, "");
  g_assert_null (strchr (label_text (get (nodes, "pacs-add-error")), '\n'));

  /* A port nobody listens on. */
  {
    g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    g_assert_true (g_socket_bind (sock, any, TRUE, NULL));
    bound = g_socket_get_local_address (sock, NULL);
    closed_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  }
  g_assert_true (hepa_pacs_nodes_add (settings, "NOBODY", "127.0.0.1", closed_port, FALSE, &error));
  g_assert_no_error (error);

  click (get (nodes, "pacs-verify-0"));
  click (get (nodes, "pacs-verify-1"));
  WAIT_FOR (verified (get (nodes, "pacs-result-0")) && verified (get (nodes, "pacs-result-1")));
  g_test_message ("verify: %s", label_text (get (nodes, "pacs-result-0")));
  g_test_message ("closed port: %s", label_text (get (nodes, "pacs-result-1")));
  g_assert_nonnull (strstr (label_text (get (nodes, "pacs-result-0")), "answered"));
  g_assert_nonnull (strstr (label_text (get (nodes, "pacs-result-1")), "NOBODY@127.0.0.1"));
  g_assert_null (strstr (label_text (get (nodes, "pacs-result-1")), "answered"));
  g_assert_null (strchr (label_text (get (nodes, "pacs-result-1")), '\n'));

  click (get (nodes, "pacs-remove-1"));
  g_assert_null (find_named (nodes, "pacs-verify-1"));
  gtk_window_destroy (GTK_WINDOW (window));
}

static HepaPacsDialog *
find_dialog (void)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (HEPA_IS_PACS_DIALOG (l->data))
      return l->data;
  return NULL;
}

static void
retrieve_and_open (HepaWindow     *window,
                   HepaPacsDialog *dialog,
                   const char     *patient_id,
                   guint           n_images)
{
  GtkWidget *root = GTK_WIDGET (dialog);
  g_autofree char *folder = NULL;

  gtk_editable_set_text (GTK_EDITABLE (get (root, "pacs-patient-id")), patient_id);
  gtk_editable_set_text (GTK_EDITABLE (get (root, "pacs-modality")), "US");
  click (get (root, "pacs-find"));
  WAIT_FOR (!hepa_pacs_dialog_get_busy (dialog));
  g_test_message ("find: %s", label_text (get (root, "pacs-status")));
  g_assert_cmpuint (hepa_pacs_dialog_get_n_studies (dialog), ==, 1);
  /* The first study is chosen, and its series listed (synth: one series per image). */
  WAIT_FOR (!hepa_pacs_dialog_get_busy (dialog));
  g_assert_cmpuint (hepa_pacs_dialog_get_n_series (dialog), ==, n_images);

  hepa_study_clear (window->study);
  click (get (root, "pacs-retrieve"));
  g_assert_true (gtk_widget_is_sensitive (get (root, "pacs-cancel")));
  WAIT_FOR (!hepa_pacs_dialog_get_busy (dialog));
  g_test_message ("retrieve: %s", label_text (get (root, "pacs-status")));
  g_assert_false (gtk_widget_has_css_class (get (root, "pacs-status"), "error"));
  g_assert_false (gtk_widget_is_sensitive (get (root, "pacs-cancel")));

  /* The study opens in the window, from the cache folder. */
  WAIT_FOR (hepa_study_get_n_files (window->study) == n_images
            && hepa_document_get_image (window->document) != NULL);
  folder = g_path_get_dirname (hepa_document_get_path (window->document));
  g_assert_true (g_str_has_prefix (folder, g_get_user_cache_dir ()));
  g_assert_cmpstr (hepa_study_get_folder (window->study), ==, folder);
}

static void
test_dialog_retrieve (void)
{
  g_autoptr(GtkApplication) app = gtk_application_new ("org.hepascope.HepascopeTest.Pacs",
                                                       G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaPacsNode) node = hepa_pacs_node_parse (node_spec, NULL, &error);
  const char *patient_id = g_getenv ("HEPA_TEST_PATIENT_ID");
  guint n_images = (guint) g_ascii_strtoull (g_getenv ("HEPA_TEST_N_IMAGES"), NULL, 10);
  int our_port = (int) g_ascii_strtoll (g_getenv ("HEPA_TEST_OUR_PORT"), NULL, 10);
  HepaWindow *window;
  HepaPacsDialog *dialog;

  g_assert_no_error (error);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_settings_reset (settings, "pacs-nodes");
  g_settings_set_string (settings, "pacs-our-aet", node->our_aet);
  g_settings_set_int (settings, "pacs-our-port", our_port);
  g_assert_true (hepa_pacs_nodes_add (settings, node->peer_aet, node->host, node->port, FALSE,
                                      &error));
  g_assert_true (hepa_pacs_nodes_add (settings, node->peer_aet, node->host, node->port, TRUE,
                                      &error));
  g_settings_set_int (settings, "pacs-node", 0);

  window = hepa_window_new (app, settings);
  hepa_window_actions_attach (window);
  hepa_window_archive_attach (window);
  gtk_window_present (GTK_WINDOW (window));
  g_action_group_activate_action (G_ACTION_GROUP (window), "pacs-query", NULL);
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  g_assert_cmpstr (label_text (get (GTK_WIDGET (dialog), "pacs-status")), ==, "");

  /* C-GET */
  retrieve_and_open (window, dialog, patient_id, n_images);
  if (g_getenv ("HEPA_TEST_DIALOG_PNG") != NULL)
    {
      /* What the dialog looks like, for the record (test-pacs-ui.sh --screenshot). */
      g_autoptr(GError) png_error = NULL;

      WAIT_FOR (gtk_widget_get_mapped (GTK_WIDGET (dialog)));
      for (int i = 0; i < 20; i++)
        g_main_context_iteration (NULL, FALSE);
      g_assert_true (hepa_view_export_save_png (GTK_WIDGET (dialog), g_getenv ("HEPA_TEST_DIALOG_PNG"),
                                                &png_error));
      if (g_getenv ("HEPA_TEST_HOLD") != NULL)
        {
          gboolean done = FALSE;

          g_timeout_add_seconds (atoi (g_getenv ("HEPA_TEST_HOLD")), timeout_cb, &done);
          while (!done)
            g_main_context_iteration (NULL, TRUE);
        }
    }

  /* C-MOVE to our own storage port: the second node. */
  gtk_drop_down_set_selected (GTK_DROP_DOWN (get (GTK_WIDGET (dialog), "pacs-node")), 1);
  g_assert_cmpint (g_settings_get_int (settings, "pacs-node"), ==, 1);
  retrieve_and_open (window, dialog, patient_id, n_images);

  /* Nothing for an unknown patient: no studies, not an error. */
  gtk_editable_set_text (GTK_EDITABLE (get (GTK_WIDGET (dialog), "pacs-patient-id")), "NOBODY");
  click (get (GTK_WIDGET (dialog), "pacs-find"));
  WAIT_FOR (!hepa_pacs_dialog_get_busy (dialog));
  g_assert_cmpuint (hepa_pacs_dialog_get_n_studies (dialog), ==, 0);
  g_assert_false (gtk_widget_is_sensitive (get (GTK_WIDGET (dialog), "pacs-retrieve")));

  /* A bad date is one line, no query. */
  gtk_editable_set_text (GTK_EDITABLE (get (GTK_WIDGET (dialog), "pacs-date-from")), "last week");
  click (get (GTK_WIDGET (dialog), "pacs-find"));
  g_assert_false (hepa_pacs_dialog_get_busy (dialog));
  g_assert_true (gtk_widget_has_css_class (get (GTK_WIDGET (dialog), "pacs-status"), "error"));

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_null (find_dialog ());
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GSettingsBackend) backend = NULL;
  g_autofree char *cache = g_dir_make_tmp ("hepa-pacs-ui-XXXXXX", NULL);
  int status;

  g_setenv ("GSETTINGS_SCHEMA_DIR", HEPA_TEST_SCHEMA_DIR, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_test_init (&argc, &argv, NULL);
  node_spec = g_getenv ("HEPA_TEST_PACS_NODE");
  if (node_spec == NULL || g_getenv ("HEPA_TEST_PATIENT_ID") == NULL)
    {
      g_test_skip ("no archive: run through test-pacs-ui.sh");
      return g_test_run ();
    }
  if (!gtk_init_check ())
    {
      g_test_skip ("no display");
      return g_test_run ();
    }
  backend = g_memory_settings_backend_new ();
  settings = g_settings_new_with_backend (APP_ID, backend);
  g_test_add_func ("/pacs/ui/preferences-verify", test_preferences_verify);
  g_test_add_func ("/pacs/ui/dialog-retrieve-opens-study", test_dialog_retrieve);
  status = g_test_run ();
  g_clear_object (&settings);
  return status;
}
