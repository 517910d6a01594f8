/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-canvas.h"
#include "hepa-ui-fixtures.h"
#include "hepa-frame-bar.h"

#include <gtk/gtk.h>
#include <math.h>

typedef struct
{
  GtkWidget *window;
  GtkWidget *canvas;
  HepaImage *image;
} Fixture;

static void
pump (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  int w = 200, h = 100;
  g_autofree guint8 *rgb = g_malloc0 ((gsize) w * h * 3);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      rgb[(y * w + x) * 3] = (guint8) x;
  fixture->image = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, w, h, (gsize) w * 3, rgb, "test");
  fixture->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 400, 300);
  fixture->canvas = hepa_canvas_new ();
  gtk_window_set_child (GTK_WINDOW (fixture->window), fixture->canvas);
  gtk_window_present (GTK_WINDOW (fixture->window));
  hepa_canvas_set_image (HEPA_CANVAS (fixture->canvas), fixture->image, 0);
  pump ();
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_object_ref (fixture->canvas);
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  g_assert_finalize_object (fixture->canvas);
  hepa_image_unref (fixture->image);
}

static void
check_round_trip (HepaCanvas *canvas)
{
  /* Pixel (px, py) covers image [px, px+1): its centre maps back to the same pixel at any
   * zoom, and widget -> image -> widget is exact. */
  for (int px = 0; px < 200; px += 37)
    for (int py = 0; py < 100; py += 29)
      {
        double wx, wy, ix, iy;

        hepa_canvas_image_to_widget (canvas, px + 0.5, py + 0.5, &wx, &wy);
        hepa_canvas_widget_to_image (canvas, wx, wy, &ix, &iy);
        g_assert_cmpint ((int) floor (ix), ==, px);
        g_assert_cmpint ((int) floor (iy), ==, py);
        g_assert_cmpfloat (fabs (ix - (px + 0.5)), <, 1e-9);
      }
}

static void
test_fit (Fixture       *fixture,
          gconstpointer  user_data)
{
  HepaCanvas *canvas = HEPA_CANVAS (fixture->canvas);
  int ww = gtk_widget_get_width (fixture->canvas);
  int wh = gtk_widget_get_height (fixture->canvas);
  double x0, y0, x1, y1;

  g_assert_cmpint (ww, >, 0);
  g_assert_true (hepa_canvas_get_fit (canvas));
  g_assert_cmpfloat (hepa_canvas_get_zoom (canvas), ==, MIN (ww / 200.0, wh / 100.0));
  /* The fitted image is centred and inside the widget. */
  hepa_canvas_image_to_widget (canvas, 0, 0, &x0, &y0);
  hepa_canvas_image_to_widget (canvas, 200, 100, &x1, &y1);
  g_assert_cmpfloat (x0, >=, -0.5);
  g_assert_cmpfloat (y0, >=, -0.5);
  g_assert_cmpfloat (x1, <=, ww + 0.5);
  g_assert_cmpfloat (y1, <=, wh + 0.5);
  g_assert_cmpfloat (fabs ((x0 + x1) / 2 - ww / 2.0), <=, 1.0);
  check_round_trip (canvas);
}

static void
test_zoom_keeps_anchor (Fixture       *fixture,
                        gconstpointer  user_data)
{
  HepaCanvas *canvas = HEPA_CANVAS (fixture->canvas);
  const double zooms[] = { 0.25, 1.0, 3.0, 7.5, 16.0, 64.0 };

  for (guint i = 0; i < G_N_ELEMENTS (zooms); i++)
    {
      double ix0, iy0, ix1, iy1;

      hepa_canvas_widget_to_image (canvas, 123.0, 77.0, &ix0, &iy0);
      hepa_canvas_set_zoom (canvas, zooms[i], 123.0, 77.0);
      g_assert_cmpfloat (hepa_canvas_get_zoom (canvas), ==, zooms[i]);
      g_assert_false (hepa_canvas_get_fit (canvas));
      hepa_canvas_widget_to_image (canvas, 123.0, 77.0, &ix1, &iy1);
      g_assert_cmpfloat (fabs (ix0 - ix1), <, 1e-9);
      g_assert_cmpfloat (fabs (iy0 - iy1), <, 1e-9);
      check_round_trip (canvas);
    }

  /* At 4x one image pixel is 4 widget pixels wide. */
  hepa_canvas_set_zoom (canvas, 4.0, 0, 0);
  {
    double ax, ay, bx, by;

    hepa_canvas_image_to_widget (canvas, 10, 10, &ax, &ay);
    hepa_canvas_image_to_widget (canvas, 11, 10, &bx, &by);
    g_assert_cmpfloat (bx - ax, ==, 4.0);
  }

  /* Limits hold. */
  hepa_canvas_set_zoom (canvas, 1000.0, 0, 0);
  g_assert_cmpfloat (hepa_canvas_get_zoom (canvas), ==, HEPA_CANVAS_ZOOM_MAX);
  hepa_canvas_set_zoom (canvas, 0.0001, 0, 0);
  g_assert_cmpfloat (hepa_canvas_get_zoom (canvas), ==, HEPA_CANVAS_ZOOM_MIN);

  hepa_canvas_zoom_fit (canvas);
  g_assert_true (hepa_canvas_get_fit (canvas));
}

static void
test_pan (Fixture       *fixture,
          gconstpointer  user_data)
{
  HepaCanvas *canvas = HEPA_CANVAS (fixture->canvas);
  double ix0, iy0, ix1, iy1;

  hepa_canvas_set_zoom (canvas, 2.0, 0, 0);
  hepa_canvas_widget_to_image (canvas, 50, 50, &ix0, &iy0);
  hepa_canvas_pan (canvas, 10, -20);
  hepa_canvas_widget_to_image (canvas, 50, 50, &ix1, &iy1);
  g_assert_cmpfloat (ix0 - ix1, ==, 5.0);
  g_assert_cmpfloat (iy1 - iy0, ==, 10.0);
}

static void
test_add_roi_and_overlay (Fixture       *fixture,
                          gconstpointer  user_data)
{
  HepaCanvas *canvas = HEPA_CANVAS (fixture->canvas);
  HepaRoiStore *store = hepa_roi_store_new ();
  const char *const classes[] = { "a", "b", NULL };
  const char *id;
  const HepaRoi *roi;
  float map[64 * 64];

  hepa_roi_store_set_bounds (store, 200, 100);
  hepa_canvas_set_store (canvas, store);
  hepa_canvas_set_classes (canvas, classes);
  id = hepa_canvas_add_roi_at_center (canvas);
  g_assert_nonnull (id);
  roi = hepa_roi_store_lookup (store, id);
  /* 64x64 around the middle of the visible (whole, fitted) image, inside it. */
  g_assert_cmpint (roi->rect.width, ==, 64);
  g_assert_cmpint (roi->rect.height, ==, 64);
  g_assert_cmpint (abs (roi->rect.x + 32 - 100), <=, 1);
  g_assert_cmpint (roi->rect.y + roi->rect.height, <=, 100);

  for (int i = 0; i < 64 * 64; i++)
    map[i] = (float) (i % 64);
  hepa_canvas_set_overlay (canvas, 0, &roi->rect, map, 64, 64, 0);
  hepa_canvas_set_colormap (canvas, HEPA_COLORMAP_VIRIDIS);
  hepa_canvas_set_overlay_scale (canvas, HEPA_OVERLAY_SCALE_ABSOLUTE);
  hepa_canvas_set_overlay_opacity (canvas, 0.6);
  hepa_canvas_set_overlay_visible (canvas, FALSE);
  g_assert_false (hepa_canvas_get_overlay_visible (canvas));
  hepa_canvas_set_overlay_visible (canvas, TRUE);
  gtk_widget_queue_draw (fixture->canvas);
  pump ();
  hepa_canvas_set_overlay (canvas, 0, NULL, NULL, 0, 0, 0);

  /* Window/level only applies to GRAY16; an RGB frame keeps its window. */
  hepa_canvas_set_window_level (canvas, 10, 20);
  {
    double c, w;
    hepa_canvas_get_window_level (canvas, &c, &w);
    g_assert_cmpfloat (w, !=, 20);
  }
  hepa_canvas_set_store (canvas, NULL);
  g_assert_finalize_object (store);
}

static void
test_gray16_window (void)
{
  guint16 px[16 * 8];
  g_autoptr(HepaImage) image = NULL;
  GtkWidget *canvas = g_object_ref_sink (hepa_canvas_new ());
  double c, w;

  for (int i = 0; i < 16 * 8; i++)
    px[i] = (guint16) (i * 100);
  image = hepa_image_new_from_pixels (HEPA_PIXEL_GRAY16, 16, 8, 16 * 2, (const guint8 *) px,
                                      "gray");
  hepa_canvas_set_image (HEPA_CANVAS (canvas), image, 0);
  hepa_canvas_set_window_level (HEPA_CANVAS (canvas), 3000, 500);
  hepa_canvas_get_window_level (HEPA_CANVAS (canvas), &c, &w);
  g_assert_cmpfloat (c, ==, 3000);
  g_assert_cmpfloat (w, ==, 500);
  /* Width <= 0 resets to the frame's default. */
  hepa_canvas_set_window_level (HEPA_CANVAS (canvas), 0, 0);
  hepa_canvas_get_window_level (HEPA_CANVAS (canvas), &c, &w);
  g_assert_cmpfloat (w, !=, 500);
  hepa_canvas_set_image (HEPA_CANVAS (canvas), NULL, 0);
  g_assert_finalize_object (canvas);
}

static void
count_cb (guint *n)
{
  (*n)++;
}

/* Issue 20 item 4: presets, the change signal, and a drag step scaled from the window (a
 * 16-bit frame whose data spans 1,270 units: 2^16 / 600 = 109 units a pixel before). */
static void
test_gray16_presets (void)
{
  guint16 px[16 * 8];
  g_autoptr(HepaImage) image = NULL;
  GtkWidget *canvas = g_object_ref_sink (hepa_canvas_new ());
  guint changed = 0;
  double c, w, c0, w0;

  for (int i = 0; i < 16 * 8; i++)
    px[i] = (guint16) (1000 + i * 10);
  image = hepa_image_new_from_pixels (HEPA_PIXEL_GRAY16, 16, 8, 16 * 2, (const guint8 *) px,
                                      "gray");
  g_signal_connect_swapped (canvas, "window-level-changed", G_CALLBACK (count_cb), &changed);
  hepa_canvas_set_image (HEPA_CANVAS (canvas), image, 0);
  g_assert_cmpuint (changed, ==, 1);
  g_assert_true (hepa_canvas_has_window_level (HEPA_CANVAS (canvas)));
  hepa_canvas_get_window_level (HEPA_CANVAS (canvas), &c0, &w0);

  hepa_canvas_apply_window_preset (HEPA_CANVAS (canvas), HEPA_WINDOW_FRAME_RANGE);
  hepa_canvas_get_window_level (HEPA_CANVAS (canvas), &c, &w);
  g_assert_cmpfloat (w, ==, 1271);
  g_assert_cmpfloat (c, ==, 1635.5);
  /* A 300-pixel drag changes the window by about its width, not by thousands. */
  g_assert_cmpfloat (hepa_canvas_get_window_drag_step (HEPA_CANVAS (canvas)) * 300, <=, 1.01 * w);
  g_assert_cmpfloat (hepa_canvas_get_window_drag_step (HEPA_CANVAS (canvas)), >, 1.0);

  hepa_canvas_apply_window_preset (HEPA_CANVAS (canvas), HEPA_WINDOW_FULL_RANGE);
  hepa_canvas_get_window_level (HEPA_CANVAS (canvas), &c, &w);
  g_assert_cmpfloat (w, ==, 65536);
  g_assert_cmpfloat (c, ==, 32768);

  hepa_canvas_apply_window_preset (HEPA_CANVAS (canvas), HEPA_WINDOW_DEFAULT);
  hepa_canvas_get_window_level (HEPA_CANVAS (canvas), &c, &w);
  g_assert_cmpfloat (c, ==, c0);
  g_assert_cmpfloat (w, ==, w0);
  g_assert_cmpuint (changed, ==, 4);
  hepa_canvas_set_image (HEPA_CANVAS (canvas), NULL, 0);
  g_assert_false (hepa_canvas_has_window_level (HEPA_CANVAS (canvas)));
  g_assert_finalize_object (canvas);
}

/* What the canvas's nodes draw, through cairo as the cairo renderer draws them. */
static cairo_surface_t *
draw_canvas (GtkWidget *canvas)
{
  int ww = gtk_widget_get_width (canvas), wh = gtk_widget_get_height (canvas);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  GskRenderNode *node;
  cairo_surface_t *target = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, ww, wh);
  cairo_t *cr = cairo_create (target);

  GTK_WIDGET_GET_CLASS (canvas)->snapshot (canvas, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node != NULL)
    {
      gsk_render_node_draw (node, cr);
      gsk_render_node_unref (node);
    }
  cairo_destroy (cr);
  return target;
}

/* Under the cairo renderer, reduced or mildly magnified, the canvas draws the frame from a
 * surface scaled once for the zoom (the frame cache's): its pixels must be those of drawing the
 * frame directly at the canvas's (fractional) offset, and so must the overlay's. */
static void
test_scaled_drawing (void)
{
  int w = 160, h = 90;
  g_autofree guint8 *rgb = g_malloc ((gsize) w * h * 3);
  g_autoptr(HepaImage) image = NULL;
  GtkWidget *window = gtk_window_new ();
  GtkWidget *canvas = hepa_canvas_new ();
  const HepaRect rect = { 30, 20, 50, 40 };
  float map[8 * 6];
  double zoom, ox, oy;
  cairo_surface_t *surface = NULL, *scaled = NULL, *drawn, *direct, *overlay;
  cairo_t *cr;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint8 *p = rgb + ((gsize) y * w + x) * 3;

        p[0] = (guint8) (x * 3 + ((x * 7 + y * 13) % 11) * 9);
        p[1] = (guint8) (y * 5 + ((x * 5 + y * 3) % 7) * 15);
        p[2] = (guint8) ((x ^ y) * 4);
      }
  image = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, w, h, (gsize) w * 3, rgb, "textured");
  gtk_window_set_default_size (GTK_WINDOW (window), 400, 300);
  gtk_window_set_child (GTK_WINDOW (window), canvas);
  gtk_window_present (GTK_WINDOW (window));
  hepa_canvas_set_image (HEPA_CANVAS (canvas), image, 0);
  pump ();
  if (!GSK_IS_CAIRO_RENDERER (gtk_native_get_renderer (gtk_widget_get_native (canvas))))
    {
      g_test_skip ("not the cairo renderer");
      gtk_window_destroy (GTK_WINDOW (window));
      return;
    }
  hepa_canvas_set_zoom (HEPA_CANVAS (canvas), 1.37, 101.3, 57.7);
  zoom = hepa_canvas_get_zoom (HEPA_CANVAS (canvas));
  hepa_canvas_image_to_widget (HEPA_CANVAS (canvas), 0, 0, &ox, &oy);
  g_assert_cmpfloat (ox - floor (ox), >, 0.01);

  drawn = draw_canvas (canvas);
  /* The first paint scaled it and left it in the cache. */
  g_assert_true (hepa_frame_cache_lookup (hepa_canvas_get_frame_cache (HEPA_CANVAS (canvas)), 0,
                                          &surface, &scaled));
  g_assert_nonnull (scaled);

  direct = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, cairo_image_surface_get_width (drawn),
                                      cairo_image_surface_get_height (drawn));
  cr = cairo_create (direct);
  cairo_translate (cr, ox, oy);
  cairo_scale (cr, zoom, zoom);
  cairo_set_source_surface (cr, surface, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_rectangle (cr, 0, 0, w, h);
  cairo_fill (cr);
  cairo_destroy (cr);
  g_assert_cmpint (hepa_ui_fixture_max_difference (direct, drawn), <=, 2);
  cairo_surface_destroy (drawn);

  /* With the overlay, drawn over the region at the overlay opacity. */
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    map[i] = (float) ((i * 7) % 10);
  hepa_canvas_set_overlay (HEPA_CANVAS (canvas), 0, &rect, map, 8, 6, 0);
  hepa_canvas_set_overlay_opacity (HEPA_CANVAS (canvas), 0.6);
  drawn = draw_canvas (canvas);
  overlay = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 8, 6);
  cairo_surface_flush (overlay);
  hepa_overlay_render_argb32 (map, 8, 6, HEPA_OVERLAY_SCALE_PER_ROI, 0, HEPA_COLORMAP_INFERNO,
                              (guint32 *) (gpointer) cairo_image_surface_get_data (overlay));
  cairo_surface_mark_dirty (overlay);
  cr = cairo_create (direct);
  cairo_translate (cr, ox, oy);
  cairo_scale (cr, zoom, zoom);
  cairo_rectangle (cr, rect.x, rect.y, rect.width, rect.height);
  cairo_clip (cr);
  cairo_translate (cr, rect.x, rect.y);
  cairo_scale (cr, rect.width / 8.0, rect.height / 6.0);
  cairo_set_source_surface (cr, overlay, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_paint_with_alpha (cr, 0.6);
  cairo_destroy (cr);
  /* The overlay is composited once more than in one drawing: one more rounding. */
  g_assert_cmpint (hepa_ui_fixture_max_difference (direct, drawn), <=, 3);

  cairo_surface_destroy (overlay);
  cairo_surface_destroy (direct);
  cairo_surface_destroy (drawn);
  g_object_ref (canvas);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (canvas);
}

static void
test_frame_bar (void)
{
  GtkWidget *bar = g_object_ref_sink (hepa_frame_bar_new ());

  hepa_frame_bar_set_n_frames (HEPA_FRAME_BAR (bar), 10, 33.3);
  g_assert_cmpuint (hepa_frame_bar_get_frame (HEPA_FRAME_BAR (bar)), ==, 0);
  g_assert_cmpfloat (hepa_frame_bar_get_interval_ms (HEPA_FRAME_BAR (bar)), ==, 33.3);
  hepa_frame_bar_step (HEPA_FRAME_BAR (bar), -1);
  g_assert_cmpuint (hepa_frame_bar_get_frame (HEPA_FRAME_BAR (bar)), ==, 9);
  hepa_frame_bar_step (HEPA_FRAME_BAR (bar), 3);
  g_assert_cmpuint (hepa_frame_bar_get_frame (HEPA_FRAME_BAR (bar)), ==, 2);
  hepa_frame_bar_set_frame (HEPA_FRAME_BAR (bar), 99);
  g_assert_cmpuint (hepa_frame_bar_get_frame (HEPA_FRAME_BAR (bar)), ==, 9);
  hepa_frame_bar_set_playing (HEPA_FRAME_BAR (bar), TRUE);
  g_assert_true (hepa_frame_bar_get_playing (HEPA_FRAME_BAR (bar)));
  hepa_frame_bar_step (HEPA_FRAME_BAR (bar), 1);
  g_assert_false (hepa_frame_bar_get_playing (HEPA_FRAME_BAR (bar)));
  /* A single frame cannot play; no frame time means 25 per second. */
  hepa_frame_bar_set_n_frames (HEPA_FRAME_BAR (bar), 1, 0);
  hepa_frame_bar_set_playing (HEPA_FRAME_BAR (bar), TRUE);
  g_assert_false (hepa_frame_bar_get_playing (HEPA_FRAME_BAR (bar)));
  g_assert_cmpfloat (hepa_frame_bar_get_interval_ms (HEPA_FRAME_BAR (bar)), ==, 40.0);
  g_assert_finalize_object (bar);
}

int
main (int    argc,
      char **argv)
{
  /* The renderer the application gets where there is no GL (Xvfb, remote X): the canvas's
   * cairo path, which the scaled-drawing test checks. Read once, before the first window. */
  g_setenv ("GSK_RENDERER", "cairo", TRUE);
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/canvas/scaled-drawing", test_scaled_drawing);
  g_test_add ("/ui/canvas/fit", Fixture, NULL, fixture_set_up, test_fit, fixture_tear_down);
  g_test_add ("/ui/canvas/zoom-keeps-anchor", Fixture, NULL, fixture_set_up,
              test_zoom_keeps_anchor, fixture_tear_down);
  g_test_add ("/ui/canvas/pan", Fixture, NULL, fixture_set_up, test_pan, fixture_tear_down);
  g_test_add ("/ui/canvas/roi-and-overlay", Fixture, NULL, fixture_set_up,
              test_add_roi_and_overlay, fixture_tear_down);
  g_test_add_func ("/ui/canvas/gray16-window", test_gray16_window);
  g_test_add_func ("/ui/canvas/gray16-presets", test_gray16_presets);
  g_test_add_func ("/ui/frame-bar/step-and-play", test_frame_bar);
  return g_test_run ();
}
