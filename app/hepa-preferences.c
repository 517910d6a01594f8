/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-preferences.h"

#include "hepa-core.h"

#include <glib/gi18n.h>

/* The Preferences window: plain GTK 4.8 (no libadwaita), built in code so that every control
 * carries its mnemonic, accessible label and description next to its GSettings binding. */
struct _HepaPreferences
{
  GtkWindow  parent_instance;

  GSettings *settings;

  GtkWidget *threads_auto;
  GtkWidget *threads_spin;
  GtkWidget *last_folder_label;
  GtkWidget *last_folder_button;
  GtkWidget *last_export_label;
  GtkWidget *last_export_button;
  GtkWidget *model_label;
  GtkWidget *model_button;
  GtkWidget *recent_label;
  GtkWidget *recent_button;

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
static GtkWidget *
enum_drop_down (HepaPreferences   *self,
                const char        *key,
                const char *const *nicks,
                const char *const *labels)
{
  GtkWidget *control = gtk_drop_down_new_from_strings (labels);

  gtk_widget_set_name (control, key);
  g_settings_bind_with_mapping (self->settings, key, control, "selected",
                                G_SETTINGS_BIND_DEFAULT, enum_to_position, position_to_enum,
                                (gpointer) nicks, NULL);
  return control;
}

/* ---- Rows ----------------------------------------------------------------------------- */

/* A heading and a framed group of rows. A plain box, not a GtkListBox: rows here are never
 * selected or activated, and Tab then simply goes from control to control. */
static GtkWidget *
add_section (GtkWidget  *page,
             const char *title)
{
  GtkWidget *heading = gtk_label_new (title);
  GtkWidget *frame = gtk_frame_new (NULL);
  GtkWidget *group = g_object_new (GTK_TYPE_BOX,
                                   "orientation", GTK_ORIENTATION_VERTICAL,
                                   "accessible-role", GTK_ACCESSIBLE_ROLE_GROUP,
                                   NULL);

  gtk_label_set_xalign (GTK_LABEL (heading), 0);
  gtk_label_set_wrap (GTK_LABEL (heading), TRUE);
  gtk_widget_add_css_class (heading, "heading");
  gtk_widget_set_margin_top (heading, 12);
  gtk_box_append (GTK_BOX (page), heading);

  gtk_accessible_update_relation (GTK_ACCESSIBLE (group), GTK_ACCESSIBLE_RELATION_LABELLED_BY,
                                  heading, NULL, -1);
  gtk_frame_set_child (GTK_FRAME (frame), group);
  gtk_box_append (GTK_BOX (page), frame);
  return group;
}

/* A row: a title with a mnemonic for @control, an optional dim description under it, and
 * @placed (@control or a box holding it) at the end. Screen readers hear the title as the
 * control's name (buttons keep their own) and the description as its description. Rows take no
 * no focus themselves. Returns the description label. */
static GtkWidget *
add_row (GtkWidget  *list,
         const char *title,
         const char *description,
         GtkWidget  *control,
         GtkWidget  *placed)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *text = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *title_label = gtk_label_new_with_mnemonic (title);
  GtkWidget *description_label = gtk_label_new (description);

  if (gtk_widget_get_first_child (list) != NULL)
    gtk_box_append (GTK_BOX (list), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);

  gtk_widget_set_hexpand (text, TRUE);
  gtk_widget_set_valign (text, GTK_ALIGN_CENTER);
  gtk_label_set_xalign (GTK_LABEL (title_label), 0);
  gtk_label_set_wrap (GTK_LABEL (title_label), TRUE);
  gtk_label_set_mnemonic_widget (GTK_LABEL (title_label), control);
  gtk_box_append (GTK_BOX (text), title_label);
  gtk_label_set_xalign (GTK_LABEL (description_label), 0);
  gtk_label_set_wrap (GTK_LABEL (description_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (description_label), PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (description_label, "dim-label");
  gtk_widget_add_css_class (description_label, "caption");
  gtk_widget_set_visible (description_label, description != NULL && *description != '\0');
  gtk_box_append (GTK_BOX (text), description_label);

  if (placed == NULL)
    placed = control;
  gtk_widget_set_valign (placed, GTK_ALIGN_CENTER);
  if (!GTK_IS_BUTTON (control))
    gtk_accessible_update_relation (GTK_ACCESSIBLE (control),
                                    GTK_ACCESSIBLE_RELATION_LABELLED_BY, title_label, NULL, -1);
  gtk_accessible_update_relation (GTK_ACCESSIBLE (control),
                                  GTK_ACCESSIBLE_RELATION_DESCRIBED_BY, description_label, NULL,
                                  -1);
  gtk_box_append (GTK_BOX (box), text);
  gtk_box_append (GTK_BOX (box), placed);
  gtk_box_append (GTK_BOX (list), box);
  return description_label;
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
forget_folder_cb (GtkButton       *button,
                  HepaPreferences *self)
{
  g_settings_reset (self->settings, g_object_get_data (G_OBJECT (button), "key"));
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

/* ---- Building ------------------------------------------------------------------------- */

static GtkWidget *
folder_row (HepaPreferences *self,
            GtkWidget       *list,
            const char      *title,
            const char      *accessible_label,
            const char      *key,
            const char      *name,
            GtkWidget      **label_out,
            GtkWidget      **button_out)
{
  GtkWidget *button = gtk_button_new_with_label (_("Forget"));
  GtkWidget *description;

  gtk_widget_set_name (button, name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  accessible_label, -1);
  g_object_set_data_full (G_OBJECT (button), "key", g_strdup (key), g_free);
  g_signal_connect (button, "clicked", G_CALLBACK (forget_folder_cb), self);
  description = add_row (list, title, "", button, NULL);
  /* Selectable for copying a path with the mouse, but not a Tab stop: Tab would select it all. */
  gtk_label_set_selectable (GTK_LABEL (description), TRUE);
  gtk_widget_set_can_focus (description, FALSE);
  gtk_label_set_ellipsize (GTK_LABEL (description), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_wrap (GTK_LABEL (description), FALSE);
  gtk_widget_set_visible (description, TRUE);
  *label_out = description;
  *button_out = button;
  return description;
}

static void
build (HepaPreferences *self)
{
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *page = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *list, *control, *description, *threads_box;
  g_autofree char *rater_hint = NULL;
  g_autofree char *threads_hint = NULL;
  guint n_cpu = g_get_num_processors ();

  gtk_widget_set_margin_start (page, 18);
  gtk_widget_set_margin_end (page, 18);
  gtk_widget_set_margin_bottom (page, 18);
  gtk_widget_set_margin_top (page, 6);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scrolled), TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), page);
  gtk_window_set_child (GTK_WINDOW (self), scrolled);

  /* Labeling */
  list = add_section (page, _("Labeling"));
  control = gtk_entry_new ();
  gtk_widget_set_name (control, "rater-name");
  gtk_entry_set_placeholder_text (GTK_ENTRY (control), g_get_user_name ());
  gtk_widget_set_size_request (control, 180, -1);
  g_settings_bind (self->settings, "rater-name", control, "text", G_SETTINGS_BIND_DEFAULT);
  /* Translators: %s is the login name used when the field is empty */
  rater_hint = g_strdup_printf (_("Stored with every label you make. Empty: your login name "
                                  "(%s)."), g_get_user_name ());
  add_row (list, _("_Rater name"), rater_hint, control, NULL);

  /* Saliency overlay */
  list = add_section (page, _("Saliency Overlay"));
  control = gtk_switch_new ();
  gtk_widget_set_name (control, "overlay-visible");
  g_settings_bind (self->settings, "overlay-visible", control, "active",
                   G_SETTINGS_BIND_DEFAULT);
  add_row (list, _("_Show the saliency map"),
           _("The class activation map over each region (S in the main window)."), control, NULL);

  control = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0, 1, 0.05);
  gtk_widget_set_name (control, "overlay-opacity");
  gtk_range_set_increments (GTK_RANGE (control), 0.05, 0.1);
  gtk_scale_set_draw_value (GTK_SCALE (control), TRUE);
  gtk_scale_set_value_pos (GTK_SCALE (control), GTK_POS_LEFT);
  gtk_scale_set_format_value_func (GTK_SCALE (control), opacity_format_cb, NULL, NULL);
  gtk_widget_set_size_request (control, 200, -1);
  g_settings_bind (self->settings, "overlay-opacity",
                   gtk_range_get_adjustment (GTK_RANGE (control)), "value",
                   G_SETTINGS_BIND_DEFAULT);
  add_row (list, _("O_pacity"), _("How strongly the map covers the image."), control, NULL);

  control = enum_drop_down (self, "colormap", colormap_nicks,
                            (const char *const[]) { _("Inferno"), _("Viridis"), _("Jet"), NULL });
  add_row (list, _("Colour _map"),
           _("Inferno and Viridis read in order of brightness, also in grey."), control, NULL);

  control = enum_drop_down (self, "overlay-scaling", scaling_nicks,
                            (const char *const[]) { _("Per region"), _("Absolute"), NULL });
  add_row (list, _("Sc_aling"),
           _("Per region stretches each map to its own range; absolute compares regions."),
           control, NULL);

  /* Performance */
  list = add_section (page, _("Performance"));
  threads_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  /* Translators: %u is the number of processor cores */
  threads_hint = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "_All %u core",
                                               "_All %u cores", n_cpu), n_cpu);
  self->threads_auto = gtk_check_button_new_with_mnemonic (threads_hint);
  gtk_widget_set_name (self->threads_auto, "threads-auto");
  self->threads_spin = gtk_spin_button_new_with_range (1, 256, 1);
  gtk_widget_set_name (self->threads_spin, "threads");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->threads_spin), n_cpu);
  gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (self->threads_spin), TRUE);
  gtk_box_append (GTK_BOX (threads_box), self->threads_auto);
  gtk_box_append (GTK_BOX (threads_box), self->threads_spin);
  g_clear_pointer (&threads_hint, g_free);
  if (hepa_core_threads_from_env ("HEPASCOPE_THREADS") > 0)
    /* Translators: %s is the value of the environment variable */
    threads_hint = g_strdup_printf (_("HEPASCOPE_THREADS=%s is set and takes precedence."),
                                    g_getenv ("HEPASCOPE_THREADS"));
  else
    threads_hint = g_strdup (_("Applies from the next inference."));
  description = add_row (list, _("Inference _threads"), threads_hint, self->threads_spin,
                         threads_box);
  gtk_accessible_update_relation (GTK_ACCESSIBLE (self->threads_auto),
                                  GTK_ACCESSIBLE_RELATION_DESCRIBED_BY, description, NULL, -1);
  g_signal_connect_swapped (self->threads_auto, "toggled", G_CALLBACK (threads_changed_cb), self);
  g_signal_connect_swapped (self->threads_spin, "value-changed", G_CALLBACK (threads_changed_cb),
                            self);

  /* Files */
  list = add_section (page, _("Files"));
  control = gtk_button_new_with_mnemonic (_("Use _Default"));
  self->model_button = control;
  gtk_widget_set_name (control, "default-model");
  gtk_accessible_update_property (GTK_ACCESSIBLE (control), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Use the default model"), -1);
  g_signal_connect_swapped (control, "clicked", G_CALLBACK (default_model_cb), self);
  self->model_label = add_row (list, _("Model at start"), "", control, NULL);
  gtk_label_set_selectable (GTK_LABEL (self->model_label), TRUE);
  gtk_widget_set_can_focus (self->model_label, FALSE);
  gtk_label_set_ellipsize (GTK_LABEL (self->model_label), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_wrap (GTK_LABEL (self->model_label), FALSE);
  gtk_widget_set_visible (self->model_label, TRUE);

  folder_row (self, list, _("Last opened folder"), _("Forget the last opened folder"),
              "last-folder", "forget-last-folder", &self->last_folder_label,
              &self->last_folder_button);
  folder_row (self, list, _("Last export folder"), _("Forget the last export folder"),
              "last-export-folder", "forget-last-export-folder", &self->last_export_label,
              &self->last_export_button);

  self->recent_button = gtk_button_new_with_mnemonic (_("_Clear Recent Files"));
  gtk_widget_set_name (self->recent_button, "clear-recent");
  g_signal_connect_swapped (self->recent_button, "clicked", G_CALLBACK (clear_recent_cb), self);
  self->recent_label = add_row (list, _("Recent files"), "", self->recent_button, NULL);
  gtk_widget_set_visible (self->recent_label, TRUE);
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

  G_OBJECT_CLASS (hepa_preferences_parent_class)->dispose (object);
}

static void
hepa_preferences_class_init (HepaPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_preferences_dispose;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "window.close",
                                       NULL);
}

static void
hepa_preferences_init (HepaPreferences *self)
{
  gtk_window_set_title (GTK_WINDOW (self), _("Preferences"));
  gtk_window_set_titlebar (GTK_WINDOW (self), gtk_header_bar_new ());
  gtk_window_set_default_size (GTK_WINDOW (self), 600, 640);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (self), TRUE);
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
  build (self);

  update_threads (self);
  update_folder (settings, "last-folder", self->last_folder_label, self->last_folder_button);
  update_folder (settings, "last-export-folder", self->last_export_label,
                 self->last_export_button);
  update_model (self);
  update_recent (self);
  g_signal_connect_object (settings, "changed", G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->recent, "changed", G_CALLBACK (update_recent), self,
                           G_CONNECT_SWAPPED);
  return self;
}
