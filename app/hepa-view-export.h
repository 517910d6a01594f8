/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What a widget shows, overlay included, as a texture: "Save view as PNG" and "Copy view". */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Renders @widget as it is drawn now (at its own size and the window's scale) with the
 * renderer of its window. Fails when it is not realized or has no size. (transfer full) */
GdkTexture *hepa_view_export_texture  (GtkWidget   *widget,
                                       GError     **error);
/* The same, written to @path as PNG. */
gboolean    hepa_view_export_save_png (GtkWidget   *widget,
                                       const char  *path,
                                       GError     **error);
/* The same, put on the clipboard of @widget's display as an image. */
gboolean    hepa_view_export_copy     (GtkWidget   *widget,
                                       GError     **error);

G_END_DECLS
