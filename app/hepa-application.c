/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-application.h"
#include "hepa-debug.h"
#include "hepa-style.h"
#include "hepa-preferences.h"
#include "hepa-window-archive.h"
#include "hepa-window.h"
#include "hepa-presentation.h"
#include "hepa-window-private.h"

#include "hepa-core.h"
#include "hepa-error.h"

#include <glib/gi18n.h>
#include <stdlib.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <string.h>
#include <unistd.h>

/* The engine's OpenMP threads meet at a barrier hundreds of times per forward pass. By default
 * libgomp lets a waiting thread spin for 300,000 rounds (milliseconds) before it sleeps. In this
 * process the team shares the cores with the GTK main thread and the display server (on a 2-core
 * machine, also with anything else running), and a spinning thread holds the very core that the
 * thread it waits for needs: with other work on the machine a ResNet50 forward took 2.5-4 times
 * as long (tests/ui/bench-roi-latency.sh and hepascope-cli bench, 2 threads, default against
 * GOMP_SPINCOUNT=1000). 1,000 rounds (tens of microseconds) is what libgomp itself uses once it
 * has more threads than cores; short waits between two layers still end without sleeping.
 *
 * libgomp reads its settings once, in its constructor, before main(), from the environment the
 * process started with; nothing set later reaches it. So the executable's preinit array, which
 * the loader runs before any library's constructor, starts the program again with the setting
 * added, at once and only then: before any library has run, with the same process id, arguments
 * and descriptors. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins and is left alone, and so is
 * a run under valgrind (whose tools do not follow an exec unless asked). If the exec fails the
 * program runs on with libgomp's default. */
static void
set_openmp_wait (int    argc,
                 char **argv,
                 char **envp)
{
  static char spin[] = "GOMP_SPINCOUNT=1000";
  static char self[4096];
  size_t n = 0;
  ssize_t len;
  char **env;

  if (envp == NULL || argv == NULL || argv[0] == NULL)
    return;
  for (char **e = envp; *e != NULL; e++, n++)
    if (strncmp (*e, "OMP_WAIT_POLICY=", 16) == 0 || strncmp (*e, "GOMP_SPINCOUNT=", 15) == 0
        || (strncmp (*e, "LD_PRELOAD=", 11) == 0 && strstr (*e, "vgpreload") != NULL))
      return;
  /* The file itself, not /proc/self/exe, so that the process keeps its name ("exe" otherwise). */
  len = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0 || (size_t) len >= sizeof self - 1)
    return;
  self[len] = '\0';
  env = malloc ((n + 2) * sizeof (char *));
  if (env == NULL)
    return;
  memcpy (env, envp, n * sizeof (char *));
  env[n] = spin;
  env[n + 1] = NULL;
  execve (self, argv, env);
  free (env);
}

__attribute__ ((section (".preinit_array"), used))
static void (*const preinit_openmp_wait) (int, char **, char **) = set_openmp_wait;
#endif

struct _HepaApplication
{
  GtkApplication   parent_instance;

  HepaModelHandle *model;
  char            *model_error;
  GCancellable    *model_cancellable;
  gboolean         loading;
  GSettings       *settings;
  char            *case_set;   /* --case-set: start a case-set session (issue 24) */
  gint64           seed;       /* --seed: its order; -1: as listed */
};

G_DEFINE_FINAL_TYPE (HepaApplication, hepa_application, GTK_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_LOADING,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

/* Model loading */

static void
load_model_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  const char *requested = task_data;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  HepaModelHandle *handle;
  HepaModel *model;
  HepaEngine *engine = NULL;

  path = requested ? g_strdup (requested) : hepa_model_find_default ();
  if (path == NULL)
    {
      g_task_return_new_error (task, HEPA_ERROR, HEPA_ERROR_IO, "%s",
                               _("No model found: the default model is not installed. "
                                 "Open a model from the model menu."));
      return;
    }
  model = hepa_model_load (path, &error);
  if (model != NULL && (engine = hepa_engine_new (model, &error)) == NULL)
    g_clear_pointer (&model, hepa_model_unref);
  if (model == NULL)
    {
      /* The window shows the message alone, so it names the file. */
      g_autofree char *name = g_filename_display_name (path);

      g_prefix_error (&error, "%s: ", name);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  handle = hepa_model_handle_new (model, engine, path);
  g_task_return_pointer (task, handle, (GDestroyNotify) hepa_model_handle_unref);
}

static void
load_model_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  HepaApplication *self = HEPA_APPLICATION (object);
  g_autoptr(GError) error = NULL;
  HepaModelHandle *handle;

  handle = g_task_propagate_pointer (G_TASK (result), &error);
  if (handle == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self->loading = FALSE;
  g_clear_pointer (&self->model_error, g_free);
  if (handle != NULL)
    {
      g_clear_pointer (&self->model, hepa_model_handle_unref);
      self->model = handle;
      g_message ("Model %s loaded", hepa_model_get_card (handle->model)->id);
    }
  else
    {
      self->model_error = g_strdup (error->message);
      g_message ("No model: %s", error->message);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

void
hepa_application_load_model (HepaApplication *self,
                             const char      *path)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (HEPA_IS_APPLICATION (self));

  if (self->model_cancellable != NULL)
    g_cancellable_cancel (self->model_cancellable);
  g_clear_object (&self->model_cancellable);
  self->model_cancellable = g_cancellable_new ();
  self->loading = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);

  task = g_task_new (self, self->model_cancellable, load_model_cb, NULL);
  g_task_set_source_tag (task, hepa_application_load_model);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, load_model_thread);
}

HepaModelHandle *
hepa_application_get_model (HepaApplication *self)
{
  g_return_val_if_fail (HEPA_IS_APPLICATION (self), NULL);
  return self->model;
}

gboolean
hepa_application_get_loading (HepaApplication *self)
{
  g_return_val_if_fail (HEPA_IS_APPLICATION (self), FALSE);
  return self->loading;
}

const char *
hepa_application_get_model_error (HepaApplication *self)
{
  g_return_val_if_fail (HEPA_IS_APPLICATION (self), NULL);
  return self->model_error;
}

GSettings *
hepa_application_get_settings (HepaApplication *self)
{
  g_return_val_if_fail (HEPA_IS_APPLICATION (self), NULL);
  return self->settings;
}

/* Actions */

static void
open_model_response_cb (GtkNativeDialog *dialog,
                        int              response,
                        gpointer         user_data)
{
  HepaApplication *self = HEPA_APPLICATION (user_data);

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        {
          hepa_application_load_model (self, path);
          if (self->settings != NULL)
            g_settings_set_string (self->settings, "model-path", path);
        }
    }
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
open_model_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  HepaApplication *self = HEPA_APPLICATION (user_data);
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkFileChooserNative *dialog;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) all = gtk_file_filter_new ();

  dialog = gtk_file_chooser_native_new (_("Open a Model"), parent, GTK_FILE_CHOOSER_ACTION_OPEN,
                                        _("_Open"), _("_Cancel"));
  gtk_file_filter_set_name (filter, _("Models (safetensors, PyTorch .pth)"));
  gtk_file_filter_add_pattern (filter, "*.safetensors");
  gtk_file_filter_add_pattern (filter, "*.pth");
  gtk_file_filter_add_pattern (filter, "*.pt");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  gtk_file_filter_set_name (all, _("All files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), all);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (open_model_response_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
default_model_action (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  HepaApplication *self = HEPA_APPLICATION (user_data);

  if (self->settings != NULL)
    g_settings_reset (self->settings, "model-path");
  hepa_application_load_model (self, NULL);
}

static void
about_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  HepaApplication *self = HEPA_APPLICATION (user_data);
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  static const char *authors[] = { "The Hepascope authors", NULL };

  gtk_show_about_dialog (parent,
                         "program-name", "Hepascope",
                         "logo-icon-name", APP_ID,
                         "version", PACKAGE_VERSION,
                         "comments", _("A workbench for focal liver lesions on ultrasound: draw "
                                       "regions, see a ResNet50's class probabilities and "
                                       "saliency, export labeled crops and retrain.\n\n"
                                       "For teaching, labeling and software testing. "
                                       "Not for diagnosis."),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "authors", authors,
                         "modal", TRUE,
                         NULL);
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  HepaApplication *self = HEPA_APPLICATION (user_data);
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  HepaPreferences *preferences;

  if (self->settings == NULL)
    return;
  preferences = hepa_preferences_new (parent, self->settings);
  gtk_window_present (GTK_WINDOW (preferences));
}

static void
quit_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  GApplication *app = G_APPLICATION (user_data);
  /* A window that closes at once leaves the application's list and frees its link there, so
   * walk a copy, holding each window (reading the freed link was a use-after-free that ASan
   * reports with G_SLICE=always-malloc, as .ci/run sets). */
  GList *windows = g_list_copy_deep (gtk_application_get_windows (GTK_APPLICATION (app)),
                                     (GCopyFunc) (void (*) (void)) g_object_ref, NULL);

  /* Close windows one by one so each finishes its pending save. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
  g_list_free_full (windows, g_object_unref);
}

/* app.load-model (s): a model file chosen elsewhere in the app, e.g. one the train dialog made. */
static void
load_model_action (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  hepa_application_load_model (user_data, g_variant_get_string (parameter, NULL));
}

static const GActionEntry app_actions[] = {
  { "open-model", open_model_action },
  { "load-model", load_model_action, "s" },
  { "default-model", default_model_action },
  { "about", about_action },
  { "preferences", preferences_action },
  { "quit", quit_action },
};

static const struct
{
  const char *action;
  const char *accels[3];
} accels[] = {
  { "app.quit", { "<Control>q", NULL } },
  { "app.preferences", { "<Control>comma", NULL } },
  { "win.open", { "<Control>o", NULL } },
  { "win.open-folder", { "<Control><Shift>o", NULL } },
  { "win.undo", { "<Control>z", NULL } },
  { "win.redo", { "<Control><Shift>z", "<Control>y", NULL } },
  { "win.next-file", { "Page_Down", NULL } },
  { "win.previous-file", { "Page_Up", NULL } },
  { "win.zoom-in", { "<Control>plus", "<Control>equal", NULL } },
  { "win.zoom-out", { "<Control>minus", NULL } },
  { "win.zoom-fit", { "<Control>0", NULL } },
  { "win.zoom-one", { "<Control>1", NULL } },
  { "win.export", { "<Control>e", NULL } },
  { "win.next-unlabeled", { "<Control>Page_Down", NULL } },
  { "win.previous-unlabeled", { "<Control>Page_Up", NULL } },
  { "win.train", { "<Control>t", NULL } },
  { "win.review", { "<Control><Shift>l", NULL } },
  /* The archive and view export (issue 23) */
  { "win.save-view", { "<Control><Shift>s", NULL } },
  { "win.copy-view", { "<Control><Shift>c", NULL } },
  { "win.pacs-query", { "<Control><Shift>r", NULL } },
  { "win.read-first", { "<Control>r", NULL } },
  { "win.fullscreen", { "F11", NULL } },
  { "win.side-panel", { "F9", NULL } },
  { "win.presentation", { "<Control><Shift>p", NULL } },
  { "win.blind", { "<Control>b", NULL } },
  { "win.gallery", { "<Control>g", NULL } },
};

static void
hepa_application_startup (GApplication *app)
{
  HepaApplication *self = HEPA_APPLICATION (app);
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();
  g_autofree char *model_path = NULL;

  G_APPLICATION_CLASS (hepa_application_parent_class)->startup (app);

  g_set_application_name (_("Hepascope"));
  gtk_window_set_default_icon_name (APP_ID);

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema != NULL)
    self->settings = g_settings_new (APP_ID);

  /* The compute thread count, before any model runs; a change applies to the next inference. */
  hepa_preferences_apply_threads (self->settings);
  if (hepa_debug_enabled (HEPA_DEBUG_TIMING))
    g_printerr ("hepascope-timing: %d compute threads, OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n",
                hepa_core_get_threads (), g_getenv ("OMP_WAIT_POLICY") ?: "(unset)",
                g_getenv ("GOMP_SPINCOUNT") ?: "(unset)");
  if (self->settings != NULL)
    g_signal_connect_swapped (self->settings, "changed::threads",
                              G_CALLBACK (hepa_preferences_apply_threads), self->settings);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  /* Without the schema (running uninstalled without GSETTINGS_SCHEMA_DIR) there is nothing to
   * edit. */
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self),
                                                                            "preferences")),
                               self->settings != NULL);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action,
                                           accels[i].accels);

  /* Dark and high contrast as the desktop says (issue 20 item 10). */
  hepa_style_follow_desktop (gtk_settings_get_default ());
  gtk_css_provider_load_from_resource (css, "/org/hepascope/Hepascope/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  if (g_getenv ("HEPASCOPE_MODEL") != NULL)
    model_path = g_strdup (g_getenv ("HEPASCOPE_MODEL"));
  else if (self->settings != NULL)
    model_path = g_settings_get_string (self->settings, "model-path");
  hepa_application_load_model (self, model_path && *model_path ? model_path : NULL);
}

/* Every window classifies with the current model. */
static void
update_windows (HepaApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (HEPA_IS_WINDOW (l->data))
      hepa_window_set_model (l->data, self->model, self->loading, self->model_error);
}

static HepaWindow *
get_window (HepaApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    {
      window = GTK_WINDOW (hepa_window_new (GTK_APPLICATION (self), self->settings));
      hepa_window_actions_attach (HEPA_WINDOW (window));
      hepa_window_archive_attach (HEPA_WINDOW (window));
      hepa_presentation_attach (HEPA_WINDOW (window));
      hepa_window_set_model (HEPA_WINDOW (window), self->model, self->loading,
                             self->model_error);
    }
  return HEPA_WINDOW (window);
}

static void
hepa_application_activate (GApplication *app)
{
  HepaApplication *self = HEPA_APPLICATION (app);
  HepaWindow *window = get_window (self);

  gtk_window_present (GTK_WINDOW (window));
  if (self->case_set != NULL)
    {
      g_autofree char *path = g_steal_pointer (&self->case_set);

      hepa_window_start_case_set (window, path, self->seed >= 0, (guint64) MAX (self->seed, 0));
    }
}

/* --case-set PATH [--seed N]: a case set in fixed order, or shuffled with seed N. */
static int
handle_local_options_cb (HepaApplication *self,
                         GVariantDict    *options)
{
  const char *path = NULL;
  gint64 seed;

  if (g_variant_dict_lookup (options, "case-set", "^&ay", &path) && path != NULL && *path)
    self->case_set = g_canonicalize_filename (path, NULL);
  if (g_variant_dict_lookup (options, "seed", "x", &seed))
    self->seed = MAX (seed, 0);
  return -1;
}

static void
hepa_application_open (GApplication  *app,
                       GFile        **files,
                       int            n_files,
                       const char    *hint)
{
  HepaWindow *window = get_window (HEPA_APPLICATION (app));

  hepa_window_open_files (window, files, n_files);
  gtk_window_present (GTK_WINDOW (window));
}

static void
hepa_application_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  HepaApplication *self = HEPA_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_pointer (value, self->model);
      break;
    case PROP_LOADING:
      g_value_set_boolean (value, self->loading);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_application_dispose (GObject *object)
{
  HepaApplication *self = HEPA_APPLICATION (object);

  if (self->model_cancellable != NULL)
    g_cancellable_cancel (self->model_cancellable);
  g_clear_object (&self->model_cancellable);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (hepa_application_parent_class)->dispose (object);
}

static void
hepa_application_finalize (GObject *object)
{
  HepaApplication *self = HEPA_APPLICATION (object);

  g_clear_pointer (&self->model, hepa_model_handle_unref);
  g_clear_pointer (&self->model_error, g_free);
  g_clear_pointer (&self->case_set, g_free);

  G_OBJECT_CLASS (hepa_application_parent_class)->finalize (object);
}

static void
hepa_application_class_init (HepaApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->get_property = hepa_application_get_property;
  object_class->dispose = hepa_application_dispose;
  object_class->finalize = hepa_application_finalize;
  app_class->startup = hepa_application_startup;
  app_class->activate = hepa_application_activate;
  app_class->open = hepa_application_open;

  properties[PROP_MODEL] =
    g_param_spec_pointer ("model", NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
hepa_application_init (HepaApplication *self)
{
  self->seed = -1;
  g_application_add_main_option (G_APPLICATION (self), "case-set", 0, 0, G_OPTION_ARG_FILENAME,
                                 _("Work through a case set (a folder or list file) in read-first "
                                   "mode"), _("PATH"));
  g_application_add_main_option (G_APPLICATION (self), "seed", 0, 0, G_OPTION_ARG_INT64,
                                 _("Shuffle the case set with this seed (default: as listed)"),
                                 _("N"));
  g_signal_connect (self, "handle-local-options", G_CALLBACK (handle_local_options_cb), NULL);
  g_signal_connect (self, "notify::model", G_CALLBACK (update_windows), NULL);
  g_signal_connect (self, "notify::loading", G_CALLBACK (update_windows), NULL);
}

HepaApplication *
hepa_application_new (void)
{
  return g_object_new (HEPA_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/org/hepascope/Hepascope",
                       NULL);
}
