/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-image.h"

G_BEGIN_DECLS

/* The workbench's status bar (hepa-status-bar.ui): the model, the last inference time, a
 * message, the pixel under the pointer and the zoom. */

#define HEPA_TYPE_STATUS_BAR (hepa_status_bar_get_type ())
G_DECLARE_FINAL_TYPE (HepaStatusBar, hepa_status_bar, HEPA, STATUS_BAR, GtkBox)

void hepa_status_bar_set_model     (HepaStatusBar *self,
                                    const char    *text);
void hepa_status_bar_set_inference (HepaStatusBar *self,
                                    double         latency_ms);
void hepa_status_bar_set_message   (HepaStatusBar *self,
                                    const char    *message);
/* The pixel at image coordinates (@x, @y) of @frame of @image; @inside FALSE or @image NULL
 * clears it. */
void hepa_status_bar_set_pointer   (HepaStatusBar *self,
                                    HepaImage     *image,
                                    guint          frame,
                                    double         x,
                                    double         y,
                                    gboolean       inside);
void hepa_status_bar_set_zoom      (HepaStatusBar *self,
                                    double         zoom);

G_END_DECLS
