/* SPDX-License-Identifier: GPL-3.0-or-later */
/* "Save view as PNG" and "Copy view" (issue 23 item 4): what the canvas shows, ROI outline
 * included, comes out in the PNG's pixels. */
#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>

#include "hepa-canvas.h"
#include "hepa-view-export.h"

static void
pump (void)
{
  for (int i = 0; i < 20; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (5000);
    }
}

/* The RGBA of widget pixel (x, y) of @texture. */
static void
texture_pixel (GdkTexture *texture,
               int         x,
               int         y,
               guint8      rgba[4])
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *data = g_malloc ((gsize) w * h * 4);
  guint32 px;

  g_assert_cmpint (x, >=, 0);
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (x, <, w);
  g_assert_cmpint (y, <, h);
  /* gdk_texture_download gives cairo's ARGB32 (native-endian, premultiplied; opaque here). */
  gdk_texture_download (texture, data, (gsize) w * 4);
  memcpy (&px, data + ((gsize) y * w + x) * 4, 4);
  rgba[0] = (px >> 16) & 0xff;
  rgba[1] = (px >> 8) & 0xff;
  rgba[2] = px & 0xff;
  rgba[3] = px >> 24;
}

static void
test_save_png_shows_roi (void)
{
  int w = 200, h = 100;
  g_autofree guint8 *rgb = g_malloc ((gsize) w * h * 3);
  g_autoptr(HepaImage) image = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = NULL, png = NULL;
  g_autofree char *dir = g_dir_make_tmp ("hepa-view-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "view.png", NULL);
  const char *const classes[] = { "cyst", "hemangioma", NULL };
  const HepaRect rect = { 60, 20, 80, 60 };
  HepaRoiStore *store = hepa_roi_store_new ();
  GtkWidget *window = gtk_window_new ();
  GtkWidget *canvas = hepa_canvas_new ();
  GdkRGBA color;
  double x0, y0, x1, y1;
  guint8 edge[4], inside[4], saved[4];
  const char *id;
  int ex, ey;

  memset (rgb, 128, (gsize) w * h * 3);
  image = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, w, h, (gsize) w * 3, rgb, "grey");
  gtk_window_set_default_size (GTK_WINDOW (window), 400, 300);
  gtk_window_set_child (GTK_WINDOW (window), canvas);
  gtk_window_present (GTK_WINDOW (window));
  hepa_canvas_set_image (HEPA_CANVAS (canvas), image, 0);
  hepa_roi_store_set_bounds (store, w, h);
  hepa_canvas_set_store (HEPA_CANVAS (canvas), store);
  hepa_canvas_set_classes (HEPA_CANVAS (canvas), classes);
  id = hepa_roi_store_add (store, 0, &rect);
  g_assert_nonnull (id);
  g_assert_true (hepa_roi_store_set_label (store, id, "hemangioma", NULL, NULL, NULL));
  hepa_roi_store_select (store, NULL);
  pump ();

  g_assert_true (hepa_view_export_save_png (canvas, path, &error));
  g_assert_no_error (error);
  texture = hepa_view_export_texture (canvas, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, gtk_widget_get_width (canvas));
  png = gdk_texture_new_from_filename (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (png), ==, gdk_texture_get_width (texture));
  g_assert_cmpint (gdk_texture_get_height (png), ==, gdk_texture_get_height (texture));

  /* The middle of the ROI's top edge has the label's colour; its inside is the grey image. */
  hepa_canvas_image_to_widget (HEPA_CANVAS (canvas), rect.x, rect.y, &x0, &y0);
  hepa_canvas_image_to_widget (HEPA_CANVAS (canvas), rect.x + rect.width, rect.y + rect.height,
                               &x1, &y1);
  hepa_canvas_label_color (1, &color);
  ex = (int) lround ((x0 + x1) / 2);
  ey = (int) floor (y0);
  {
    int best = G_MAXINT;

    /* The 1.5-pixel line may fall on either side of the edge's coordinate. */
    for (int dy = -1; dy <= 1; dy++)
      {
        guint8 p[4];
        int d;

        texture_pixel (png, ex, ey + dy, p);
        d = abs (p[0] - (int) lround (color.red * 255)) + abs (p[1] - (int) lround (color.green * 255))
            + abs (p[2] - (int) lround (color.blue * 255));
        if (d < best)
          {
            best = d;
            memcpy (edge, p, 4);
          }
      }
    g_test_message ("edge pixel %d,%d,%d; label colour %.0f,%.0f,%.0f", edge[0], edge[1], edge[2],
                    color.red * 255, color.green * 255, color.blue * 255);
    g_assert_cmpint (best, <=, 24);
  }
  texture_pixel (png, (int) ((x0 + x1) / 2), (int) ((y0 + y1) / 2), inside);
  g_assert_cmpint (abs (inside[0] - 128), <=, 2);
  g_assert_cmpint (abs (inside[1] - 128), <=, 2);
  g_assert_cmpint (abs (inside[2] - 128), <=, 2);
  /* The PNG holds what the texture holds. */
  texture_pixel (texture, ex, ey, saved);
  texture_pixel (png, ex, ey, inside);
  g_assert_cmpmem (saved, 3, inside, 3);

  /* Copy view puts an image on the clipboard. */
  g_assert_true (hepa_view_export_copy (canvas, &error));
  g_assert_no_error (error);
  {
    GdkContentFormats *formats = gdk_clipboard_get_formats (gtk_widget_get_clipboard (canvas));

    g_assert_true (gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE));
  }

  /* A path that cannot be written: one error naming the file. */
  g_assert_false (hepa_view_export_save_png (canvas, "/nonexistent-dir/view.png", &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "/nonexistent-dir/view.png"));
  g_clear_error (&error);

  hepa_canvas_set_store (HEPA_CANVAS (canvas), NULL);
  gtk_window_destroy (GTK_WINDOW (window));
  g_object_unref (store);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_unrealized_fails (void)
{
  g_autoptr(GError) error = NULL;
  GtkWidget *canvas = g_object_ref_sink (hepa_canvas_new ());

  g_assert_null (hepa_view_export_texture (canvas, &error));
  g_assert_nonnull (error);
  g_object_unref (canvas);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/view-export/save-png-shows-roi", test_save_png_shows_roi);
  g_test_add_func ("/ui/view-export/unrealized-fails", test_unrealized_fails);
  return g_test_run ();
}
