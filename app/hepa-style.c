/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-style.h"

#define INTERFACE_SCHEMA "org.gnome.desktop.interface"
#define A11Y_SCHEMA      "org.gnome.desktop.a11y.interface"

/* The theme the desktop gave before high contrast replaced it. */
#define KEY_THEME "hepa-style-theme"

static GSettings *
settings_if_installed (const char *schema_id,
                       const char *key)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, schema_id,
                                                                                TRUE)
                                             : NULL;

  if (schema == NULL || !g_settings_schema_has_key (schema, key))
    return NULL;
  return g_settings_new (schema_id);
}

void
hepa_style_apply (GtkSettings *settings,
                  gboolean     dark,
                  gboolean     high_contrast)
{
  const char *saved;

  g_return_if_fail (GTK_IS_SETTINGS (settings));

  g_object_set (settings, "gtk-application-prefer-dark-theme", dark, NULL);
  saved = g_object_get_data (G_OBJECT (settings), KEY_THEME);
  if (high_contrast)
    {
      if (saved == NULL)
        {
          g_autofree char *theme = NULL;

          g_object_get (settings, "gtk-theme-name", &theme, NULL);
          g_object_set_data_full (G_OBJECT (settings), KEY_THEME,
                                  g_strdup (theme ? theme : "Default"), g_free);
        }
      g_object_set (settings, "gtk-theme-name", dark ? "HighContrastInverse" : "HighContrast",
                    NULL);
    }
  else if (saved != NULL)
    {
      g_object_set (settings, "gtk-theme-name", saved, NULL);
      g_object_set_data (G_OBJECT (settings), KEY_THEME, NULL);
    }
}

typedef struct
{
  GtkSettings *gtk;          /* (unowned) lives with the display */
  GSettings   *interface;    /* (nullable) */
  GSettings   *a11y;         /* (nullable) */
} Follower;

static void
follower_free (Follower *f)
{
  g_clear_object (&f->interface);
  g_clear_object (&f->a11y);
  g_free (f);
}

static void
update (Follower *f)
{
  gboolean dark = FALSE, high_contrast = FALSE;

  if (f->interface != NULL)
    {
      g_autofree char *scheme = g_settings_get_string (f->interface, "color-scheme");

      dark = g_strcmp0 (scheme, "prefer-dark") == 0;
    }
  if (f->a11y != NULL)
    high_contrast = g_settings_get_boolean (f->a11y, "high-contrast");
  hepa_style_apply (f->gtk, dark, high_contrast);
}

void
hepa_style_follow_desktop (GtkSettings *settings)
{
  Follower *f;

  g_return_if_fail (GTK_IS_SETTINGS (settings));

  if (g_object_get_data (G_OBJECT (settings), "hepa-style-follower") != NULL)
    return;
  f = g_new0 (Follower, 1);
  f->gtk = settings;
  f->interface = settings_if_installed (INTERFACE_SCHEMA, "color-scheme");
  f->a11y = settings_if_installed (A11Y_SCHEMA, "high-contrast");
  if (f->interface != NULL)
    g_signal_connect_swapped (f->interface, "changed::color-scheme", G_CALLBACK (update), f);
  if (f->a11y != NULL)
    g_signal_connect_swapped (f->a11y, "changed::high-contrast", G_CALLBACK (update), f);
  g_object_set_data_full (G_OBJECT (settings), "hepa-style-follower", f,
                          (GDestroyNotify) follower_free);
  if (f->interface != NULL || f->a11y != NULL)
    update (f);
}
