/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-preferences.h"

#include "hepa-pacs-nodes.h"

#include "hepa-core.h"

#include <glib/gi18n.h>

/* The Preferences window: plain GTK 4.8 (no libadwaita). Its rows are in hepa-preferences.ui;
 * here are the GSettings bindings and the texts that depend on the machine. */
struct _HepaPreferences
{
  GtkWindow  parent_instance;

  GSettings *settings;

  /* Template children */
  GtkWidget *rater_entry;
  GtkWidget *rater_entry_description;
  GtkWidget *overlay_switch;
  GtkWidget *opacity_scale;
  GtkAdjustment *opacity_adjustment;
  GtkWidget *colormap_dropdown;
  GtkWidget *scaling_dropdown;
  GtkWidget *threads_auto;
  GtkWidget *threads_spin;
  GtkWidget *threads_spin_description;
  GtkWidget *last_folder_label;
  GtkWidget *last_folder_button;
  GtkWidget *last_export_label;
  GtkWidget *last_export_button;
  GtkWidget *model_label;
  GtkWidget *model_button;
  GtkWidget *recent_label;
  GtkWidget *recent_button;
  GtkWidget *pacs_box;          /* issue 23: hepa-pacs-nodes.c */

  GtkRecentManager *recent;
  gboolean          updating;   /* writing widgets from settings: do not write back */
};

G_DEFINE_FINAL_TYPE (HepaPreferences, hepa_preferences, GTK_TYPE_WINDOW)

static const char *const colormap_nicks[] = { "inferno", "viridis", "jet", NULL };
static const char *const scaling_nicks[] = { "per-roi", "absolute", NULL };

/* ---- Threads -------------------------------------------------------------------------- */

int
hepa_preferences_apply_threads (GSettings *settings)
{
  int n = hepa_core_threads_from_env ("HEPASCOPE_THREADS");

  if (n > 0)
    return hepa_core_init_threads (n);
  n = settings != NULL ? g_settings_get_int (settings, "threads") : 0;
  if (n <= 0)
    n = hepa_core_threads_from_env ("OPENBLAS_NUM_THREADS");
  if (n <= 0)
    n = (int) g_get_num_processors ();
  /* OpenBLAS and the OpenMP team read the count when a kernel starts, so a forward pass
   * already running finishes with the old count and the next one uses the new. */
  return hepa_core_init_threads (n);
}

/* ---- Enum keys <-> drop-down positions ------------------------------------------------ */

static gboolean
enum_to_position (GValue   *value,
                  GVariant *variant,
                  gpointer  user_data)
{
  const char *const *nicks = user_data;
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; nicks[i] != NULL; i++)
    if (g_str_equal (nicks[i], nick))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
position_to_enum (const GValue       *value,
                  const GVariantType *expected_type,
                  gpointer            user_data)
{
  const char *const *nicks = user_data;
  guint position = g_value_get_uint (value);

  if (position >= g_strv_length ((char **) nicks))
    return NULL;
  return g_variant_new_string (nicks[position]);
}

/* A drop-down of @labels bound to the enum key @key, whose nicks are @nicks in the same order;
 * named @key for tests. */
static void
bind_enum (HepaPreferences   *self,
           const char        *key,
           GtkWidget         *control,
           const char *const *nicks)
{
  g_settings_bind_with_mapping (self->settings, key, control, "selected",
                                G_SETTINGS_BIND_DEFAULT, enum_to_position, position_to_enum,
                                (gpointer) nicks, NULL);
}

/* ---- Settings -> widgets -------------------------------------------------------------- */

static void
update_threads (HepaPreferences *self)
{
  int n = g_settings_get_int (self->settings, "threads");
  gboolean env = hepa_core_threads_from_env ("HEPASCOPE_THREADS") > 0;

  self->updating = TRUE;
  gtk_check_button_set_active (GTK_CHECK_BUTTON (self->threads_auto), n <= 0);
  if (n > 0)
    gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->threads_spin), n);
  self->updating = FALSE;
  gtk_widget_set_sensitive (self->threads_auto, !env);
  gtk_widget_set_sensitive (self->threads_spin, !env && n > 0);
}

static void
update_folder (GSettings  *settings,
               const char *key,
               GtkWidget  *label,
               GtkWidget  *button)
{
  g_autofree char *path = g_settings_get_string (settings, key);
  gboolean set = path[0] != '\0';

  if (set)
    {
      g_autofree char *display = g_filename_display_name (path);

      gtk_label_set_text (GTK_LABEL (label), display);
    }
  else
    gtk_label_set_text (GTK_LABEL (label), _("None yet"));
  gtk_widget_set_sensitive (button, set);
}

static void
update_model (HepaPreferences *self)
{
  g_autofree char *path = g_settings_get_string (self->settings, "model-path");

  if (path[0] != '\0')
    {
      g_autofree char *display = g_filename_display_name (path);

      gtk_label_set_text (GTK_LABEL (self->model_label), display);
    }
  else
    gtk_label_set_text (GTK_LABEL (self->model_label), _("The bundled default model"));
  gtk_widget_set_sensitive (self->model_button, path[0] != '\0');
}

static gboolean
is_ours (GtkRecentInfo *info)
{
  const char *app_name = g_get_application_name ();

  /* GtkRecentManager records g_get_application_name (), which is translated: an item added
   * under another language carries the untranslated name. */
  return (app_name != NULL && gtk_recent_info_has_application (info, app_name))
         || gtk_recent_info_has_application (info, "Hepascope");
}

static guint
count_recent (HepaPreferences *self)
{
  GList *items = gtk_recent_manager_get_items (self->recent);
  guint n = 0;

  for (GList *l = items; l != NULL; l = l->next)
    if (is_ours (l->data))
      n++;
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
  return n;
}

static void
update_recent (HepaPreferences *self)
{
  guint n = count_recent (self);
  g_autofree char *text = NULL;

  if (n == 0)
    text = g_strdup (_("The Open Recent menu is empty."));
  else
    /* Translators: %'u is a number of files, with the locale's digit grouping */
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "The Open Recent menu lists %'u file.",
                                         "The Open Recent menu lists %'u files.", n), n);
  gtk_label_set_text (GTK_LABEL (self->recent_label), text);
  gtk_widget_set_sensitive (self->recent_button, n > 0);
}

static void
settings_changed_cb (HepaPreferences *self,
                     const char      *key,
                     GSettings       *settings)
{
  if (g_str_equal (key, "threads"))
    update_threads (self);
  else if (g_str_equal (key, "last-folder"))
    update_folder (settings, key, self->last_folder_label, self->last_folder_button);
  else if (g_str_equal (key, "last-export-folder"))
    update_folder (settings, key, self->last_export_label, self->last_export_button);
  else if (g_str_equal (key, "model-path"))
    update_model (self);
}

/* ---- Widgets -> settings -------------------------------------------------------------- */

static void
threads_changed_cb (HepaPreferences *self)
{
  gboolean automatic = gtk_check_button_get_active (GTK_CHECK_BUTTON (self->threads_auto));
  int n = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->threads_spin));

  gtk_widget_set_sensitive (self->threads_spin, !automatic
                            && hepa_core_threads_from_env ("HEPASCOPE_THREADS") <= 0);
  if (self->updating)
    return;
  g_settings_set_int (self->settings, "threads", automatic ? 0 : n);
}

static void
forget_last_folder_cb (HepaPreferences *self)
{
  g_settings_reset (self->settings, "last-folder");
}

static void
forget_last_export_cb (HepaPreferences *self)
{
  g_settings_reset (self->settings, "last-export-folder");
}

/* The application loads the default model at once through its action; without one (a test),
 * only the setting is reset and the next start uses the default. */
static void
default_model_cb (HepaPreferences *self)
{
  GApplication *app = g_application_get_default ();

  if (app != NULL && g_action_group_has_action (G_ACTION_GROUP (app), "default-model"))
    g_action_group_activate_action (G_ACTION_GROUP (app), "default-model", NULL);
  else
    g_settings_reset (self->settings, "model-path");
}

static void
clear_recent_cb (HepaPreferences *self)
{
  GList *items = gtk_recent_manager_get_items (self->recent);

  for (GList *l = items; l != NULL; l = l->next)
    if (is_ours (l->data))
      {
        g_autoptr(GError) error = NULL;

        /* An item another program removed in the meantime is gone either way. */
        if (!gtk_recent_manager_remove_item (self->recent, gtk_recent_info_get_uri (l->data),
                                             &error)
            && !g_error_matches (error, GTK_RECENT_MANAGER_ERROR,
                                 GTK_RECENT_MANAGER_ERROR_NOT_FOUND))
          g_warning ("Cannot remove a recent file: %s", error->message);
      }
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
  update_recent (self);
}

static char *
opacity_format_cb (GtkScale *scale,
                   double    value,
                   gpointer  user_data)
{
  /* Translators: an opacity in percent, e.g. "45 %"; use your language's percent style */
  return g_strdup_printf (_("%.0f %%"), value * 100.0);
}

/* ---- Binding -------------------------------------------------------------------------- */

static void
bind (HepaPreferences *self)
{
  g_autofree char *rater_hint = NULL;
  g_autofree char *threads_label = NULL;
  g_autofree char *threads_hint = NULL;
  guint n_cpu = g_get_num_processors ();

  gtk_entry_set_placeholder_text (GTK_ENTRY (self->rater_entry), g_get_user_name ());
  g_settings_bind (self->settings, "rater-name", self->rater_entry, "text",
                   G_SETTINGS_BIND_DEFAULT);
  /* Translators: %s is the login name used when the field is empty */
  rater_hint = g_strdup_printf (_("Stored with every label you make. Empty: your login name "
                                  "(%s)."), g_get_user_name ());
  gtk_label_set_text (GTK_LABEL (self->rater_entry_description), rater_hint);

  g_settings_bind (self->settings, "overlay-visible", self->overlay_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  gtk_scale_set_format_value_func (GTK_SCALE (self->opacity_scale), opacity_format_cb, NULL,
                                   NULL);
  g_settings_bind (self->settings, "overlay-opacity", self->opacity_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  bind_enum (self, "colormap", self->colormap_dropdown, colormap_nicks);
  bind_enum (self, "overlay-scaling", self->scaling_dropdown, scaling_nicks);

  /* Translators: %u is the number of processor cores */
  threads_label = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "_All %u core",
                                                "_All %u cores", n_cpu), n_cpu);
  gtk_check_button_set_label (GTK_CHECK_BUTTON (self->threads_auto), threads_label);
  self->updating = TRUE;
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->threads_spin), n_cpu);
  self->updating = FALSE;
  if (hepa_core_threads_from_env ("HEPASCOPE_THREADS") > 0)
    /* Translators: %s is the value of the environment variable */
    threads_hint = g_strdup_printf (_("HEPASCOPE_THREADS=%s is set and takes precedence."),
                                    g_getenv ("HEPASCOPE_THREADS"));
  else
    threads_hint = g_strdup (_("Applies from the next inference."));
  gtk_label_set_text (GTK_LABEL (self->threads_spin_description), threads_hint);
}

/* ---- Lifecycle ------------------------------------------------------------------------ */

static void
hepa_preferences_dispose (GObject *object)
{
  HepaPreferences *self = HEPA_PREFERENCES (object);

  if (self->recent != NULL)
    g_signal_handlers_disconnect_by_data (self->recent, self);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  self->recent = NULL;
  gtk_widget_dispose_template (GTK_WIDGET (self), HEPA_TYPE_PREFERENCES);

  G_OBJECT_CLASS (hepa_preferences_parent_class)->dispose (object);
}

static void
hepa_preferences_class_init (HepaPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_preferences_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-preferences.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, HepaPreferences, name)
#define BIND_AS(field, id) \
  gtk_widget_class_bind_template_child_full (widget_class, id, FALSE, \
                                             G_STRUCT_OFFSET (HepaPreferences, field))
  BIND (rater_entry);
  BIND (rater_entry_description);
  BIND (overlay_switch);
  BIND (opacity_scale);
  BIND (opacity_adjustment);
  BIND (colormap_dropdown);
  BIND (scaling_dropdown);
  BIND (threads_auto);
  BIND (threads_spin);
  BIND (threads_spin_description);
  BIND (last_folder_button);
  BIND (last_export_button);
  BIND (model_button);
  BIND (recent_button);
  BIND (pacs_box);
  BIND_AS (last_folder_label, "last_folder_button_description");
  BIND_AS (last_export_label, "last_export_button_description");
  BIND_AS (model_label, "model_button_description");
  BIND_AS (recent_label, "recent_button_description");
#undef BIND
#undef BIND_AS
  gtk_widget_class_bind_template_callback (widget_class, threads_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, forget_last_folder_cb);
  gtk_widget_class_bind_template_callback (widget_class, forget_last_export_cb);
  gtk_widget_class_bind_template_callback (widget_class, default_model_cb);
  gtk_widget_class_bind_template_callback (widget_class, clear_recent_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "window.close",
                                       NULL);
}

static void
hepa_preferences_init (HepaPreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

HepaPreferences *
hepa_preferences_new (GtkWindow *parent,
                      GSettings *settings)
{
  HepaPreferences *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (HEPA_TYPE_PREFERENCES, NULL);
  self->settings = g_object_ref (settings);
  /* The default manager lives as long as the display: borrowed, not ref'd. */
  self->recent = gtk_recent_manager_get_default ();
  if (parent != NULL)
    {
      gtk_window_set_transient_for (GTK_WINDOW (self), parent);
      gtk_window_set_modal (GTK_WINDOW (self), TRUE);
    }
  bind (self);

  update_threads (self);
  update_folder (settings, "last-folder", self->last_folder_label, self->last_folder_button);
  update_folder (settings, "last-export-folder", self->last_export_label,
                 self->last_export_button);
  update_model (self);
  update_recent (self);
  gtk_box_append (GTK_BOX (self->pacs_box), hepa_pacs_nodes_new (settings));  /* issue 23 */
  g_signal_connect_object (settings, "changed", G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->recent, "changed", G_CALLBACK (update_recent), self,
                           G_CONNECT_SWAPPED);
  return self;
}
