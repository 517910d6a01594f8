/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The app follows the desktop's dark and high-contrast styles, as libadwaita's style manager
 * would (it is not among the build's dependencies): GNOME's org.gnome.desktop.interface
 * color-scheme ('prefer-dark') and org.gnome.desktop.a11y.interface high-contrast, read when
 * those schemas are installed and followed as they change. Dark sets GtkSettings'
 * gtk-application-prefer-dark-theme; high contrast the built-in HighContrast theme
 * (HighContrastInverse when dark). Without the schemas nothing changes. */
void hepa_style_follow_desktop (GtkSettings *settings);

/* What follow_desktop applies, for the given preferences. */
void hepa_style_apply          (GtkSettings *settings,
                                gboolean     dark,
                                gboolean     high_contrast);

G_END_DECLS
