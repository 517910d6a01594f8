/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-application.h"

G_BEGIN_DECLS

#define HEPA_TYPE_WINDOW (hepa_window_get_type ())
G_DECLARE_FINAL_TYPE (HepaWindow, hepa_window, HEPA, WINDOW, GtkApplicationWindow)

HepaWindow *hepa_window_new        (HepaApplication *app);
/* One file opens it; a folder or several files open as a study. */
void        hepa_window_open_files (HepaWindow      *self,
                                    GFile          **files,
                                    int              n_files);

G_END_DECLS
