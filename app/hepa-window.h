/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-model-handle.h"

G_BEGIN_DECLS

#define HEPA_TYPE_WINDOW (hepa_window_get_type ())
G_DECLARE_FINAL_TYPE (HepaWindow, hepa_window, HEPA, WINDOW, GtkApplicationWindow)

/* @settings: the app's, or NULL running without the schema. The window knows nothing more of
 * the application: it is told the model through hepa_window_set_model. */
HepaWindow *hepa_window_new        (GtkApplication  *app,
                                    GSettings       *settings);
/* The model to classify with (NULL: none, while @loading, or for @error). */
void        hepa_window_set_model  (HepaWindow      *self,
                                    HepaModelHandle *model,
                                    gboolean         loading,
                                    const char      *error);
/* One file opens it; a folder or several files open as a study. */
void        hepa_window_open_files (HepaWindow      *self,
                                    GFile          **files,
                                    int              n_files);

/* hepa-window-actions.c: the window's actions, shortcuts and dialogs; called once by whoever
 * makes the window (the application). */
void        hepa_window_actions_attach (HepaWindow  *self);

G_END_DECLS
