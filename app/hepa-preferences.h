/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define HEPA_TYPE_PREFERENCES (hepa_preferences_get_type ())
G_DECLARE_FINAL_TYPE (HepaPreferences, hepa_preferences, HEPA, PREFERENCES, GtkWindow)

/* The Preferences window over @settings (schema org.hepascope.Hepascope). Every change is
 * written to @settings at once; the windows and the engine listen to it. @parent may be NULL. */
HepaPreferences *hepa_preferences_new           (GtkWindow *parent,
                                                 GSettings *settings);

/* Sets the compute thread count from @settings' "threads" key (NULL or 0: all cores), unless
 * HEPASCOPE_THREADS is set, which wins. Takes effect from the next forward pass; returns the
 * count in use. Connect it to "changed::threads" so a change applies without a restart. */
int              hepa_preferences_apply_threads (GSettings *settings);

G_END_DECLS
