/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-view-export.h"

#include <glib/gi18n.h>

#include "hepa-error.h"

GdkTexture *
hepa_view_export_texture (GtkWidget  *widget,
                          GError    **error)
{
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  GtkNative *native = gtk_widget_get_native (widget);
  GskRenderer *renderer = native != NULL ? gtk_native_get_renderer (native) : NULL;
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  int scale;

  if (renderer == NULL || !gtk_widget_get_realized (widget) || w <= 0 || h <= 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("There is no view on screen to export"));
      return NULL;
    }
  scale = gtk_widget_get_scale_factor (widget);
  /* The widget through a GtkWidgetPaintable: its own snapshot, children and overlay included. */
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  if (scale != 1)
    gtk_snapshot_scale (snapshot, scale, scale);
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), w, h);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("There is no view on screen to export"));
      return NULL;
    }
  return gsk_renderer_render_texture (renderer, node,
                                      &GRAPHENE_RECT_INIT (0, 0, (float) w * scale,
                                                           (float) h * scale));
}

gboolean
hepa_view_export_save_png (GtkWidget   *widget,
                           const char  *path,
                           GError     **error)
{
  g_autoptr(GdkTexture) texture = hepa_view_export_texture (widget, error);
  g_autofree char *display = NULL;

  if (texture == NULL)
    return FALSE;
  if (gdk_texture_save_to_png (texture, path))
    return TRUE;
  display = g_filename_display_name (path);
  g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("%s: could not write the PNG"), display);
  return FALSE;
}

gboolean
hepa_view_export_copy (GtkWidget  *widget,
                       GError    **error)
{
  g_autoptr(GdkTexture) texture = hepa_view_export_texture (widget, error);

  if (texture == NULL)
    return FALSE;
  gdk_clipboard_set_texture (gtk_widget_get_clipboard (widget), texture);
  return TRUE;
}
