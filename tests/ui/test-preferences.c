/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Preferences window, driven through its own widgets over a memory GSettings backend with
 * the real schema (compiled into the build tree). */
#include "config.h"

#include "hepa-preferences.h"

#include "hepa-core.h"

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gio.h>
#include <gio/gsettingsbackend.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <stdlib.h>

typedef struct
{
  GSettingsBackend *backend;
  GSettings        *settings;
  HepaPreferences  *preferences;
} Fixture;

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
get (Fixture    *f,
     const char *name)
{
  GtkWidget *widget = find_named (GTK_WIDGET (f->preferences), name);

  g_assert_nonnull (widget);
  return widget;
}

static void
settle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
set_flag_cb (gboolean *flag)
{
  *flag = TRUE;
}

/* GtkRecentManager coalesces its "changed" signal over a short timeout: wait for it. */
static void
wait_recent_changed (void)
{
  GtkRecentManager *recent = gtk_recent_manager_get_default ();
  gboolean changed = FALSE;
  gulong id = g_signal_connect_swapped (recent, "changed", G_CALLBACK (set_flag_cb), &changed);

  while (!changed)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handler_disconnect (recent, id);
  settle ();
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->backend = g_memory_settings_backend_new ();
  f->settings = g_settings_new_with_backend (APP_ID, f->backend);
  f->preferences = g_object_ref (hepa_preferences_new (NULL, f->settings));
  gtk_window_present (GTK_WINDOW (f->preferences));
  settle ();
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->preferences));
  settle ();
  g_assert_finalize_object (f->preferences);
  g_clear_object (&f->settings);
  g_assert_finalize_object (f->backend);
}

static void
test_rater_name (Fixture       *f,
                 gconstpointer  data)
{
  GtkWidget *entry = get (f, "rater-name");
  g_autofree char *rater = NULL;

  gtk_editable_set_text (GTK_EDITABLE (entry), "Dr. Somchai");
  rater = g_settings_get_string (f->settings, "rater-name");
  g_assert_cmpstr (rater, ==, "Dr. Somchai");

  /* And back: a change from elsewhere shows in the open window. */
  g_settings_set_string (f->settings, "rater-name", "P. Wong");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "P. Wong");
}

static void
test_overlay (Fixture       *f,
              gconstpointer  data)
{
  GtkWidget *scale = get (f, "overlay-opacity");
  GtkWidget *cmap = get (f, "colormap");
  GtkWidget *scaling = get (f, "overlay-scaling");
  GtkWidget *visible = get (f, "overlay-visible");

  g_assert_cmpfloat_with_epsilon (gtk_range_get_value (GTK_RANGE (scale)), 0.45, 1e-9);
  gtk_range_set_value (GTK_RANGE (scale), 0.8);
  g_assert_cmpfloat_with_epsilon (g_settings_get_double (f->settings, "overlay-opacity"), 0.8,
                                  1e-9);
  /* The keyboard path: Page Down (Home/End too) moves the scale, and the key follows. */
  g_signal_emit_by_name (scale, "move-slider", GTK_SCROLL_END);
  g_assert_cmpfloat_with_epsilon (g_settings_get_double (f->settings, "overlay-opacity"), 1.0,
                                  1e-9);

  g_assert_cmpuint (gtk_drop_down_get_selected (GTK_DROP_DOWN (cmap)), ==, 0);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (cmap), 2);
  g_assert_cmpint (g_settings_get_enum (f->settings, "colormap"), ==, 2);
  {
    g_autofree char *nick = g_settings_get_string (f->settings, "colormap");
    g_assert_cmpstr (nick, ==, "jet");
  }
  g_settings_set_string (f->settings, "colormap", "viridis");
  g_assert_cmpuint (gtk_drop_down_get_selected (GTK_DROP_DOWN (cmap)), ==, 1);

  gtk_drop_down_set_selected (GTK_DROP_DOWN (scaling), 1);
  g_assert_cmpint (g_settings_get_enum (f->settings, "overlay-scaling"), ==, 1);

  g_assert_true (gtk_switch_get_active (GTK_SWITCH (visible)));
  gtk_switch_set_active (GTK_SWITCH (visible), FALSE);
  g_assert_false (g_settings_get_boolean (f->settings, "overlay-visible"));
}

static void
test_threads (Fixture       *f,
              gconstpointer  data)
{
  GtkWidget *automatic = get (f, "threads-auto");
  GtkWidget *spin = get (f, "threads");

  g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (automatic)));
  g_assert_false (gtk_widget_get_sensitive (spin));

  gtk_check_button_set_active (GTK_CHECK_BUTTON (automatic), FALSE);
  g_assert_true (gtk_widget_get_sensitive (spin));
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), 3);
  g_assert_cmpint (g_settings_get_int (f->settings, "threads"), ==, 3);
  /* Applied the way the application applies it on "changed::threads". */
  g_assert_cmpint (hepa_preferences_apply_threads (f->settings), ==, 3);
  g_assert_cmpint (hepa_core_get_threads (), ==, 3);

  gtk_check_button_set_active (GTK_CHECK_BUTTON (automatic), TRUE);
  g_assert_cmpint (g_settings_get_int (f->settings, "threads"), ==, 0);
  g_assert_false (gtk_widget_get_sensitive (spin));
  /* 0: the test environment's OPENBLAS_NUM_THREADS, else every core. */
  g_assert_cmpint (hepa_preferences_apply_threads (f->settings), ==,
                   g_getenv ("OPENBLAS_NUM_THREADS") ? atoi (g_getenv ("OPENBLAS_NUM_THREADS"))
                                                     : (int) g_get_num_processors ());

  g_settings_set_int (f->settings, "threads", 5);
  g_assert_false (gtk_check_button_get_active (GTK_CHECK_BUTTON (automatic)));
  g_assert_cmpint (gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (spin)), ==, 5);
}

static void
test_folders (Fixture       *f,
              gconstpointer  data)
{
  GtkWidget *forget = get (f, "forget-last-folder");
  GtkWidget *forget_export = get (f, "forget-last-export-folder");

  g_assert_false (gtk_widget_get_sensitive (forget));
  g_settings_set_string (f->settings, "last-folder", "/srv/studies/2024");
  g_settings_set_string (f->settings, "last-export-folder", "/srv/export");
  g_assert_true (gtk_widget_get_sensitive (forget));
  g_signal_emit_by_name (forget, "clicked");
  {
    g_autofree char *folder = g_settings_get_string (f->settings, "last-folder");
    g_autofree char *export = g_settings_get_string (f->settings, "last-export-folder");

    g_assert_cmpstr (folder, ==, "");
    g_assert_cmpstr (export, ==, "/srv/export");
  }
  g_assert_false (gtk_widget_get_sensitive (forget));
  g_assert_true (gtk_widget_get_sensitive (forget_export));
}

static void
test_model (Fixture       *f,
            gconstpointer  data)
{
  GtkWidget *button = get (f, "default-model");
  g_autofree char *path = NULL;

  g_assert_false (gtk_widget_get_sensitive (button));
  g_settings_set_string (f->settings, "model-path", "/opt/models/fll.safetensors");
  g_assert_true (gtk_widget_get_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
  path = g_settings_get_string (f->settings, "model-path");
  g_assert_cmpstr (path, ==, "");
}

static void
test_clear_recent (Fixture       *f,
                   gconstpointer  data)
{
  GtkRecentManager *recent = gtk_recent_manager_get_default ();
  GtkWidget *button = get (f, "clear-recent");
  GtkRecentData ours = { NULL, NULL, (char *) "image/png", (char *) "Hepascope",
                         (char *) "hepascope %u", NULL, FALSE };
  GtkRecentData theirs = { NULL, NULL, (char *) "image/png", (char *) "Other",
                           (char *) "other %u", NULL, FALSE };
  const char *our_uri = "file:///tmp/hepascope-test/scan.png";
  const char *their_uri = "file:///tmp/hepascope-test/other.png";

  g_assert_true (gtk_recent_manager_add_full (recent, our_uri, &ours));
  g_assert_true (gtk_recent_manager_add_full (recent, their_uri, &theirs));
  wait_recent_changed ();
  g_assert_true (gtk_recent_manager_has_item (recent, our_uri));
  g_assert_true (gtk_widget_get_sensitive (button));

  g_signal_emit_by_name (button, "clicked");
  g_assert_false (gtk_recent_manager_has_item (recent, our_uri));
  g_assert_true (gtk_recent_manager_has_item (recent, their_uri));
  g_assert_false (gtk_widget_get_sensitive (button));
}

/* Tab alone reaches every control (focus traversal as the keyboard does it), the rater entry
 * has its mnemonic, and Escape closes the window. */
static void
test_keyboard (Fixture       *f,
               gconstpointer  data)
{
  static const char *const names[] = {
    "rater-name", "overlay-visible", "overlay-opacity", "colormap", "overlay-scaling",
    "threads-auto", "default-model", "forget-last-export-folder", "clear-recent",
  };
  GtkWidget *window = GTK_WIDGET (f->preferences);
  g_autoptr(GPtrArray) reached = g_ptr_array_new ();
  GtkWidget *focus;

  /* Make every control sensitive: an insensitive one is rightly skipped. */
  g_settings_set_string (f->settings, "last-export-folder", "/srv/export");
  g_settings_set_string (f->settings, "model-path", "/opt/models/fll.safetensors");
  gtk_recent_manager_add_item (gtk_recent_manager_get_default (),
                               "file:///tmp/hepascope-test/keyboard.png");
  wait_recent_changed ();

  /* Where focus starts counts as reached; Tab then goes round once. */
  focus = gtk_root_get_focus (GTK_ROOT (window));
  if (focus != NULL)
    g_ptr_array_add (reached, focus);
  for (guint i = 0; i < 200; i++)
    {
      if (!gtk_widget_child_focus (window, GTK_DIR_TAB_FORWARD))
        break;
      focus = gtk_root_get_focus (GTK_ROOT (window));
      g_test_message ("Tab %u: %s %s", i, focus ? G_OBJECT_TYPE_NAME (focus) : "-",
                      focus ? gtk_widget_get_name (focus) : "");
      if (focus == NULL || g_ptr_array_find (reached, focus, NULL))
        break;
      g_ptr_array_add (reached, focus);
    }
  /* Only controls are Tab stops: a selectable path label would be selected whole. */
  for (guint j = 0; j < reached->len; j++)
    g_assert_false (GTK_IS_LABEL (reached->pdata[j]));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      GtkWidget *control = get (f, names[i]);
      gboolean found = FALSE;

      for (guint j = 0; j < reached->len && !found; j++)
        found = reached->pdata[j] == control
                || gtk_widget_is_ancestor (reached->pdata[j], control);
      g_test_message ("Tab reaches %s: %d", names[i], found);
      g_assert_true (found);
    }

  g_assert_true (gtk_widget_mnemonic_activate (get (f, "rater-name"), FALSE));
  focus = gtk_root_get_focus (GTK_ROOT (window));
  g_assert_true (focus == get (f, "rater-name") || gtk_widget_is_ancestor (focus,
                                                                           get (f, "rater-name")));

  g_assert_true (gtk_widget_activate_action (window, "window.close", NULL));
  settle ();
  g_assert_false (gtk_widget_get_visible (window));
}

/* Issue 23: the archive section. Adding, a bad AE title (one line, nothing stored), our own AE
 * title and port, Verify against a port nobody listens on (one line naming the node), remove. */
static gboolean
verify_done (GtkWidget *label)
{
  const char *text = gtk_label_get_text (GTK_LABEL (label));

  return *text && !g_str_has_suffix (text, "…");
}

static void
test_pacs_nodes (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GVariant) nodes = NULL;
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *our_aet = NULL;
  const char *line;
  int port;

  /* A free port, closed again: nobody listens there. */
  g_assert_true (g_socket_bind (sock, any, TRUE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, NULL);

  g_assert_null (find_named (GTK_WIDGET (f->preferences), "pacs-verify-0"));
  gtk_editable_set_text (GTK_EDITABLE (get (f, "pacs-add-aet")), "ARCHIVE");
  gtk_editable_set_text (GTK_EDITABLE (get (f, "pacs-add-host")), "127.0.0.1");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (get (f, "pacs-add-port")), port);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (get (f, "pacs-add-move")), TRUE);
  g_signal_emit_by_name (get (f, "pacs-add"), "clicked");
  nodes = g_settings_get_value (f->settings, "pacs-nodes");
  g_assert_cmpuint (g_variant_n_children (nodes), ==, 1);
  {
    const char *aet, *host;
    int p;
    gboolean move;

    g_variant_get_child (nodes, 0, "(&s&sib)", &aet, &host, &p, &move);
    g_assert_cmpstr (aet, ==, "ARCHIVE");
    g_assert_cmpstr (host, ==, "127.0.0.1");
    g_assert_cmpint (p, ==, port);
    g_assert_true (move);
  }

  /* A backslash is not allowed in an AE title: one line, nothing stored. */
  gtk_editable_set_text (GTK_EDITABLE (get (f, "pacs-add-aet")), "A\\B");
  gtk_editable_set_text (GTK_EDITABLE (get (f, "pacs-add-host")), "127.0.0.1");
  g_signal_emit_by_name (get (f, "pacs-add"), "clicked");
  line = gtk_label_get_text (GTK_LABEL (get (f, "pacs-add-error")));
  g_assert_cmpstr (line, !=, "");
  g_assert_null (strchr (line, '\n'));
  g_clear_pointer (&nodes, g_variant_unref);
  nodes = g_settings_get_value (f->settings, "pacs-nodes");
  g_assert_cmpuint (g_variant_n_children (nodes), ==, 1);

  /* Our own AE title and port go to the settings. */
  gtk_editable_set_text (GTK_EDITABLE (get (f, "pacs-our-aet")), "WORKBENCH");
  our_aet = g_settings_get_string (f->settings, "pacs-our-aet");
  g_assert_cmpstr (our_aet, ==, "WORKBENCH");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (get (f, "pacs-our-port")), 11112);
  g_assert_cmpint (g_settings_get_int (f->settings, "pacs-our-port"), ==, 11112);

  /* Verify: nobody listens, one line that names the node. */
  g_signal_emit_by_name (get (f, "pacs-verify-0"), "clicked");
  while (!verify_done (get (f, "pacs-result-0")))
    g_main_context_iteration (NULL, TRUE);
  line = gtk_label_get_text (GTK_LABEL (get (f, "pacs-result-0")));
  g_test_message ("%s", line);
  g_assert_nonnull (strstr (line, "ARCHIVE@127.0.0.1"));
  g_assert_null (strchr (line, '\n'));
  g_assert_true (gtk_widget_has_css_class (get (f, "pacs-result-0"), "error"));

  g_signal_emit_by_name (get (f, "pacs-remove-0"), "clicked");
  g_clear_pointer (&nodes, g_variant_unref);
  nodes = g_settings_get_value (f->settings, "pacs-nodes");
  g_assert_cmpuint (g_variant_n_children (nodes), ==, 0);
  g_assert_null (find_named (GTK_WIDGET (f->preferences), "pacs-verify-0"));
}

static void
test_finalize (void)
{
  GSettingsBackend *backend = g_memory_settings_backend_new ();
  GSettings *settings = g_settings_new_with_backend (APP_ID, backend);
  HepaPreferences *preferences = hepa_preferences_new (NULL, settings);

  g_object_ref_sink (preferences);
  gtk_window_destroy (GTK_WINDOW (preferences));
  g_assert_finalize_object (preferences);
  g_assert_finalize_object (settings);
  g_assert_finalize_object (backend);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *data_home = g_dir_make_tmp ("hepa-test-prefs-XXXXXX", NULL);
  int status;

  /* The recent-files list lives in the test's own data home, never the user's. */
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_setenv ("GSETTINGS_SCHEMA_DIR", HEPA_TEST_SCHEMA_DIR, TRUE);
  g_unsetenv ("HEPASCOPE_THREADS");
  gtk_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ui/preferences/rater-name", test_rater_name);
  ADD ("/ui/preferences/overlay", test_overlay);
  ADD ("/ui/preferences/threads", test_threads);
  ADD ("/ui/preferences/folders", test_folders);
  ADD ("/ui/preferences/model", test_model);
  ADD ("/ui/preferences/clear-recent", test_clear_recent);
  ADD ("/ui/preferences/keyboard", test_keyboard);
  ADD ("/ui/preferences/pacs-nodes", test_pacs_nodes);
#undef ADD
  g_test_add_func ("/ui/preferences/finalize", test_finalize);
  status = g_test_run ();

  {
    g_autofree char *xbel = g_build_filename (data_home, "recently-used.xbel", NULL);

    g_remove (xbel);
    g_rmdir (data_home);
  }
  return status;
}
