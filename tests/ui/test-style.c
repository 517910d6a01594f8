/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The app follows the desktop's colour scheme and high contrast, live (issue 20 item 10). */
#include "config.h"

#include "hepa-style.h"

#include <gtk/gtk.h>

static gboolean
prefers_dark (GtkSettings *settings)
{
  gboolean dark = FALSE;

  g_object_get (settings, "gtk-application-prefer-dark-theme", &dark, NULL);
  return dark;
}

static char *
theme (GtkSettings *settings)
{
  char *name = NULL;

  g_object_get (settings, "gtk-theme-name", &name, NULL);
  return name;
}

static void
test_follow (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) iface = NULL;
  g_autoptr(GSettingsSchema) a11y = NULL;
  g_autoptr(GSettings) interface = NULL;
  g_autoptr(GSettings) access = NULL;
  GtkSettings *settings = gtk_settings_get_default ();
  g_autofree char *before = theme (settings);
  g_autofree char *hc = NULL;
  g_autofree char *back = NULL;

  iface = source ? g_settings_schema_source_lookup (source, "org.gnome.desktop.interface", TRUE)
                 : NULL;
  a11y = source ? g_settings_schema_source_lookup (source, "org.gnome.desktop.a11y.interface",
                                                   TRUE)
                : NULL;
  if (iface == NULL || a11y == NULL || !g_settings_schema_has_key (iface, "color-scheme"))
    {
      g_test_skip ("the GNOME desktop schemas are not installed");
      return;
    }
  interface = g_settings_new ("org.gnome.desktop.interface");
  access = g_settings_new ("org.gnome.desktop.a11y.interface");
  g_settings_set_string (interface, "color-scheme", "prefer-dark");
  g_settings_set_boolean (access, "high-contrast", FALSE);

  hepa_style_follow_desktop (settings);
  g_assert_true (prefers_dark (settings));

  /* Followed as it changes. */
  g_settings_set_string (interface, "color-scheme", "default");
  g_assert_false (prefers_dark (settings));
  g_settings_set_boolean (access, "high-contrast", TRUE);
  hc = theme (settings);
  g_assert_cmpstr (hc, ==, "HighContrast");
  g_settings_set_boolean (access, "high-contrast", FALSE);
  back = theme (settings);
  g_assert_cmpstr (back, ==, before);
}

int
main (int    argc,
      char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/style/follow-desktop", test_follow);
  return g_test_run ();
}
