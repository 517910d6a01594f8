/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench's side of the archive (issue 23 items 1 and 2), against the throwaway Orthanc
 * test-pacs-ui.sh starts: a node added in Preferences is verified (C-ECHO), a closed port gives
 * one line; the window's Query and Retrieve dialog finds the pushed phantom study and its series,
 * retrieves it with C-GET and with C-MOVE, and the study opens in the window; Send Results writes
 * and stores SR, SEG, SC and PDF, which Orthanc then holds; Open SR brings a deleted ROI back.
 * Skips without the archive (HEPA_TEST_PACS_NODE unset) or without a display. */
#include "config.h"

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gio.h>
#include <gio/gsettingsbackend.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "hepa-model-handle.h"
#include "hepa-pacs-dialog.h"
#include "hepa-ui-fixtures.h"
#include "hepa-pacs-nodes.h"
#include "hepa-results.h"
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
                   guint           n_images,
                   guint           n_series)
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
  g_assert_cmpuint (hepa_pacs_dialog_get_n_series (dialog), ==, n_series);

  hepa_study_clear (window->study);
  click (get (root, "pacs-retrieve"));
  g_assert_true (gtk_widget_is_sensitive (get (root, "pacs-cancel")));
  WAIT_FOR (!hepa_pacs_dialog_get_busy (dialog));
  g_test_message ("retrieve: %s", label_text (get (root, "pacs-status")));
  g_assert_false (gtk_widget_has_css_class (get (root, "pacs-status"), "error"));
  g_assert_false (gtk_widget_is_sensitive (get (root, "pacs-cancel")));

  /* The study opens in the window, from the cache folder. */
  WAIT_FOR (hepa_study_get_n_files (window->study) >= n_images
            && hepa_document_get_image (window->document) != NULL);
  folder = g_path_get_dirname (hepa_document_get_path (window->document));
  g_assert_true (g_str_has_prefix (folder, g_get_user_cache_dir ()));
  g_assert_cmpstr (hepa_study_get_folder (window->study), ==, folder);
}

static void
results_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Send Results from the open study, then find what Orthanc holds of it; Open SR afterwards.
 * Returns the SR written (transfer full). */
static char *
send_results_and_open_sr (HepaWindow *window)
{
  g_autofree char *dir = g_dir_make_tmp ("hepa-pacs-model-XXXXXX", NULL);
  g_autofree char *model_path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModelHandle) handle = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) nodes = hepa_pacs_nodes_from_settings (settings);
  g_autoptr(GPtrArray) series = NULL;
  g_autofree char *out_dir = NULL, *image = NULL, *sr = NULL;
  const char *path = hepa_document_get_path (window->document);
  const HepaRect rect = { 200, 150, 128, 128 };
  HepaPacsQuery query = { 0 };
  g_autofree char *study_uid = NULL;
  char *sop_uid = NULL;
  const char *id;
  guint n_sent = 0;
  GDir *listing;
  const char *name;
  gboolean sr_found = FALSE, seg_found = FALSE;

  g_assert_true (hepa_ui_fixture_write_model (model_path, &error));
  g_assert_no_error (error);
  {
    HepaModel *model = hepa_model_load (model_path, &error);
    HepaEngine *engine;

    g_assert_no_error (error);
    engine = hepa_engine_new (model, &error);
    g_assert_no_error (error);
    handle = hepa_model_handle_new (model, engine, model_path);
  }
  hepa_window_set_model (window, handle, FALSE, NULL);
  g_assert_nonnull (path);
  id = hepa_roi_store_add (window->store, 0, &rect);
  g_assert_nonnull (id);
  g_assert_true (hepa_roi_store_set_label (window->store, id, "cyst", NULL, NULL, NULL));

  hepa_window_send_results_async (window, results_done_cb, &result);
  WAIT_FOR (result != NULL);
  g_assert_true (hepa_window_send_results_finish (window, result, &n_sent, &out_dir, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_test_message ("sent %u files from %s", n_sent, out_dir);
  /* SR, one SEG, the SC of the view, the Encapsulated PDF. */
  g_assert_cmpuint (n_sent, ==, 4);
  listing = g_dir_open (out_dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      if (g_str_has_suffix (name, ".sr.dcm"))
        sr = g_build_filename (out_dir, name, NULL);
      seg_found |= g_str_has_suffix (name, ".seg.dcm");
    }
  g_dir_close (listing);
  g_assert_nonnull (sr);
  g_assert_true (seg_found);

  /* Orthanc holds them, as new series of the study. */
  {
    g_autoptr(HepaAnnotations) annotations = hepa_results_import_sr (sr, &sop_uid, &error);

    g_assert_no_error (error);
    g_free (sop_uid);
  }
  {
    /* The study's UID, from the dialog's find: the one study of the phantom patient. */
    HepaPacsQuery study_query = { 0 };
    g_autoptr(GPtrArray) studies = NULL;

    study_query.patient_id = g_getenv ("HEPA_TEST_PATIENT_ID");
    studies = hepa_pacs_find (g_ptr_array_index (nodes, 0), HEPA_PACS_LEVEL_STUDY, &study_query,
                              NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (studies->len, ==, 1);
    study_uid = g_strdup (((HepaPacsMatch *) g_ptr_array_index (studies, 0))->study_uid);
  }
  query.study_uid = study_uid;
  series = hepa_pacs_find (g_ptr_array_index (nodes, 0), HEPA_PACS_LEVEL_SERIES, &query, NULL,
                           &error);
  g_assert_no_error (error);
  for (guint i = 0; i < series->len; i++)
    {
      HepaPacsMatch *m = g_ptr_array_index (series, i);

      sr_found |= g_strcmp0 (m->modalities, "SR") == 0;
    }
  g_assert_true (sr_found);

  /* Open SR: the region, deleted meanwhile, comes back with its label. */
  g_assert_true (hepa_roi_store_remove (window->store, id));
  g_assert_cmpuint (hepa_roi_store_count_labeled (window->store), ==, 0);
  hepa_window_open_sr_async (window, sr, results_done_cb, &result);
  WAIT_FOR (result != NULL);
  image = hepa_window_open_sr_finish (window, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (image, ==, path);
  WAIT_FOR (!hepa_document_get_loading (window->document)
            && hepa_roi_store_count_labeled (window->store) == 1);
  {
    GPtrArray *rois = hepa_roi_store_get_rois (window->store);
    const HepaRoi *roi = g_ptr_array_index (rois, 0);

    g_assert_cmpstr (roi->label, ==, "cyst");
    g_assert_cmpint (roi->rect.x, ==, rect.x);
    g_assert_cmpint (roi->rect.width, ==, rect.width);
  }
  g_unlink (model_path);
  g_rmdir (dir);
  return g_steal_pointer (&sr);
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
  g_autofree char *sr = NULL;

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
  retrieve_and_open (window, dialog, patient_id, n_images, n_images);
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

  sr = send_results_and_open_sr (window);

  /* C-MOVE to our own storage port: the second node. */
  gtk_drop_down_set_selected (GTK_DROP_DOWN (get (GTK_WIDGET (dialog), "pacs-node")), 1);
  g_assert_cmpint (g_settings_get_int (settings, "pacs-node"), ==, 1);
  /* Now with the results' four series (SR, SEG, SC, Encapsulated PDF). */
  retrieve_and_open (window, dialog, patient_id, n_images, n_images + 4);
  /* Known core bug (reported): after a C-MOVE (DCMTK's storage SCP ran in this process), the
   * same SR no longer reads ("not a structured report: Invalid Value"), while another process
   * reads it. Recorded as incomplete until core/dicom is fixed. */
  {
    g_autoptr(HepaAnnotations) again = hepa_results_import_sr (sr, NULL, &error);

    if (again == NULL)
      {
        g_test_message ("after C-MOVE: %s", error->message);
        g_test_incomplete ("core: an SR does not read in a process that has run a C-MOVE");
        g_clear_error (&error);
      }
  }

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
