/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-frame-cache.h"
#include "hepa-ui-fixtures.h"

#include "hepa-dicom-writer.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>

#define W 96
#define H 64
#define N_FRAMES 4

typedef struct
{
  char      *dir;
  HepaImage *cine;   /* N_FRAMES frames of W x H gray; every frame looks different */
  GArray    *ready;  /* (element-type guint) frames "ready" reported, in order */
} Fixture;

static guint8
cine_value (guint f,
            int   x,
            int   y)
{
  /* A ramp in x, a frame-dependent step in y and some texture: a frame shifted, swapped or
   * scaled from the wrong place shows. */
  return (guint8) ((x * 2 + y * 3 + f * 40 + ((x * 7 + y * 13) % 11) * 5) & 0xff);
}

static void
ready_cb (HepaFrameCache *cache,
          guint           frame,
          Fixture        *fixture)
{
  g_array_append_val (fixture->ready, frame);
}

/* Writes an @n_frames cine of W x H gray (frame f from cine_value) to @dir/@name and opens it. */
static HepaImage *
open_cine (const char *dir,
           const char *name,
           guint       n_frames)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = g_malloc ((gsize) n_frames * W * H);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  HepaDicomUsParams params = { 0 };
  HepaImage *image;

  for (guint f = 0; f < n_frames; f++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        pixels[((gsize) f * H + y) * W + x] = cine_value (f, x, y);
  params.width = W;
  params.height = H;
  params.n_frames = n_frames;
  params.pixels = pixels;
  params.frame_time_ms = 40;
  g_assert_true (hepa_dicom_write_us (path, &params, &error));
  g_assert_no_error (error);
  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hepa_image_get_n_frames (image), ==, n_frames);
  return image;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("hepa-frame-cache-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->cine = open_cine (fixture->dir, "cine.dcm", N_FRAMES);
  fixture->ready = g_array_new (FALSE, FALSE, sizeof (guint));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "cine.dcm", NULL);

  hepa_image_unref (fixture->cine);
  g_unlink (path);
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
  g_array_unref (fixture->ready);
}

/* Runs the main loop until the cache has no work left (or 20 s passed: a hang fails). */
static void
wait_idle (HepaFrameCache *cache)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (hepa_frame_cache_is_busy (cache))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* The surface must hold hepa_frame_render_rgb's pixels of @frame in @look's window. */
static void
assert_frame_pixels (cairo_surface_t     *surface,
                     HepaImage           *image,
                     guint                frame,
                     const HepaFrameLook *look)
{
  const HepaFrame *f = hepa_image_get_frame (image, frame, NULL);
  g_autofree guint8 *rgb = g_malloc ((gsize) f->width * f->height * 3);
  int stride = cairo_image_surface_get_stride (surface);
  const guint8 *data;

  g_assert_cmpint (cairo_image_surface_get_format (surface), ==, CAIRO_FORMAT_RGB24);
  g_assert_cmpint (cairo_image_surface_get_width (surface), ==, f->width);
  g_assert_cmpint (cairo_image_surface_get_height (surface), ==, f->height);
  hepa_frame_render_rgb (f, look->wl_center, look->wl_width, rgb);
  cairo_surface_flush (surface);
  data = cairo_image_surface_get_data (surface);
  for (int y = 0; y < f->height; y++)
    for (int x = 0; x < f->width; x++)
      {
        guint32 p = ((const guint32 *) (gconstpointer) (data + y * stride))[x];
        const guint8 *q = rgb + ((gsize) y * f->width + x) * 3;

        g_assert_cmpuint ((p >> 16) & 0xff, ==, q[0]);
        g_assert_cmpuint ((p >> 8) & 0xff, ==, q[1]);
        g_assert_cmpuint (p & 0xff, ==, q[2]);
      }
}

static void
test_render (Fixture       *fixture,
             gconstpointer  user_data)
{
  HepaFrameLook look = { .wl_center = 100, .wl_width = 80 };
  const HepaFrame *frame = hepa_image_get_frame (fixture->cine, 1, NULL);
  cairo_surface_t *surface;

  g_assert_nonnull (frame);
  g_assert_cmpint (frame->format, ==, HEPA_PIXEL_GRAY16);
  surface = hepa_frame_cache_render (frame, &look);
  assert_frame_pixels (surface, fixture->cine, 1, &look);
  cairo_surface_destroy (surface);
}

/* What the canvas draws directly: the frame at (ox, oy) and @zoom, cairo's GOOD filter. */
static cairo_surface_t *
draw_direct (cairo_surface_t *source,
             double           ox,
             double           oy,
             double           zoom,
             int              ww,
             int              wh)
{
  cairo_surface_t *target = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, ww, wh);
  cairo_t *cr = cairo_create (target);

  cairo_translate (cr, ox, oy);
  cairo_scale (cr, zoom, zoom);
  cairo_set_source_surface (cr, source, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_rectangle (cr, 0, 0, cairo_image_surface_get_width (source),
                   cairo_image_surface_get_height (source));
  cairo_fill (cr);
  cairo_destroy (cr);
  return target;
}

/* What the canvas draws from the cache: the scaled surface at the integer part of the offset. */
static cairo_surface_t *
draw_scaled (cairo_surface_t *scaled,
             double           ox,
             double           oy,
             int              ww,
             int              wh)
{
  cairo_surface_t *target = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, ww, wh);
  cairo_t *cr = cairo_create (target);

  cairo_set_source_surface (cr, scaled, floor (ox), floor (oy));
  cairo_paint (cr);
  cairo_destroy (cr);
  return target;
}

/* The scaled surface drawn at the integer offset gives the pixels of the direct drawing, for
 * reduced and magnified zooms and fractional offsets (also negative: panned off the left). */
static void
test_scaled_equals_direct (Fixture       *fixture,
                           gconstpointer  user_data)
{
  static const double zooms[] = { 0.37, 0.8, 1.0, 1.437, 1.99 };
  static const double offsets[][2] = { { 0, 0 }, { 3.25, 5.5 }, { -10.75, 7.1 }, { 20.6, -3.3 } };
  HepaFrameLook look = { .wl_center = 128, .wl_width = 256 };
  cairo_surface_t *source = hepa_frame_cache_render (hepa_image_get_frame (fixture->cine, 2, NULL),
                                                     &look);

  for (guint z = 0; z < G_N_ELEMENTS (zooms); z++)
    for (guint o = 0; o < G_N_ELEMENTS (offsets); o++)
      {
        double ox = offsets[o][0], oy = offsets[o][1];
        cairo_surface_t *scaled, *direct, *cached;

        look.zoom = zooms[z];
        look.phase_x = ox - floor (ox);
        look.phase_y = oy - floor (oy);
        scaled = hepa_frame_cache_scale (source, &look);
        g_assert_nonnull (scaled);
        g_assert_cmpint (cairo_image_surface_get_width (scaled), ==,
                         (int) ceil (look.phase_x + W * look.zoom));
        direct = draw_direct (source, ox, oy, zooms[z], 250, 160);
        cached = draw_scaled (scaled, ox, oy, 250, 160);
        /* Mostly identical; pixman's bilinear weights have 7 bits, so the fixed-point rounding
         * of the two transforms may move a weight by 1/128: 2 levels across a 255 step. A
         * misplaced phase or origin differs by tens. */
        g_assert_cmpint (hepa_ui_fixture_max_difference (direct, cached), <=, 2);
        cairo_surface_destroy (scaled);
        cairo_surface_destroy (direct);
        cairo_surface_destroy (cached);
      }
  cairo_surface_destroy (source);
}

static void
test_request_and_prefetch (Fixture       *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(HepaFrameCache) cache = hepa_frame_cache_new (64 * 1024 * 1024);
  HepaFrameLook look = { .wl_center = 90, .wl_width = 120, .zoom = 0.5 };
  cairo_surface_t *surface = NULL, *scaled = NULL;

  g_signal_connect (cache, "ready", G_CALLBACK (ready_cb), fixture);
  hepa_frame_cache_set_image (cache, fixture->cine);
  hepa_frame_cache_set_look (cache, &look);
  g_assert_false (hepa_frame_cache_lookup (cache, 2, &surface, &scaled));
  g_assert_null (surface);

  hepa_frame_cache_request (cache, 2);
  g_assert_true (hepa_frame_cache_is_busy (cache));
  wait_idle (cache);
  g_assert_cmpuint (fixture->ready->len, ==, 1);
  g_assert_cmpuint (g_array_index (fixture->ready, guint, 0), ==, 2);
  g_assert_true (hepa_frame_cache_lookup (cache, 2, &surface, &scaled));
  assert_frame_pixels (surface, fixture->cine, 2, &look);
  g_assert_nonnull (scaled);
  g_assert_cmpint (cairo_image_surface_get_width (scaled), ==, W / 2);
  g_assert_cmpint (cairo_image_surface_get_height (scaled), ==, H / 2);

  /* From frame 3 on, wrapping: 3, 0, 1. */
  hepa_frame_cache_prefetch (cache, 3, 3);
  wait_idle (cache);
  g_assert_cmpuint (fixture->ready->len, ==, 4);
  g_assert_cmpuint (g_array_index (fixture->ready, guint, 1), ==, 3);
  g_assert_cmpuint (g_array_index (fixture->ready, guint, 2), ==, 0);
  g_assert_cmpuint (g_array_index (fixture->ready, guint, 3), ==, 1);
  g_assert_cmpuint (hepa_frame_cache_get_n_ready (cache), ==, N_FRAMES);
  for (guint f = 0; f < N_FRAMES; f++)
    {
      g_assert_true (hepa_frame_cache_lookup (cache, f, &surface, &scaled));
      assert_frame_pixels (surface, fixture->cine, f, &look);
      g_assert_nonnull (scaled);
    }

  /* Asking for a ready frame makes nothing. */
  hepa_frame_cache_request (cache, 1);
  g_assert_false (hepa_frame_cache_is_busy (cache));

  /* Another zoom keeps the frames and drops only the scaled surfaces; a request makes the
   * scaled one again from the frame it has. */
  look.zoom = 0.75;
  hepa_frame_cache_set_look (cache, &look);
  g_assert_true (hepa_frame_cache_lookup (cache, 1, &surface, &scaled));
  g_assert_null (scaled);
  hepa_frame_cache_request (cache, 1);
  wait_idle (cache);
  g_assert_true (hepa_frame_cache_lookup (cache, 1, &surface, &scaled));
  g_assert_nonnull (scaled);
  g_assert_cmpint (cairo_image_surface_get_width (scaled), ==, W * 3 / 4);

  /* Another window drops everything. */
  look.wl_center = 60;
  hepa_frame_cache_set_look (cache, &look);
  g_assert_cmpuint (hepa_frame_cache_get_n_ready (cache), ==, 0);
  g_assert_false (hepa_frame_cache_lookup (cache, 1, NULL, NULL));
}

/* A window/level change while a requested frame is being made: the frame still comes, in the
 * new window. */
static void
test_window_change_in_flight (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autoptr(HepaFrameCache) cache = hepa_frame_cache_new (64 * 1024 * 1024);
  HepaFrameLook look = { .wl_center = 90, .wl_width = 120 };
  cairo_surface_t *surface = NULL;

  hepa_frame_cache_set_image (cache, fixture->cine);
  hepa_frame_cache_set_look (cache, &look);
  hepa_frame_cache_request (cache, 3);
  look.wl_center = 40;
  look.wl_width = 30;
  hepa_frame_cache_set_look (cache, &look);
  wait_idle (cache);
  g_assert_true (hepa_frame_cache_lookup (cache, 3, &surface, NULL));
  assert_frame_pixels (surface, fixture->cine, 3, &look);

  /* A new image forgets the old one's frames and work. */
  hepa_frame_cache_request (cache, 1);
  hepa_frame_cache_set_image (cache, NULL);
  g_assert_cmpuint (hepa_frame_cache_get_n_ready (cache), ==, 0);
  wait_idle (cache);
  g_assert_cmpuint (hepa_frame_cache_get_n_ready (cache), ==, 0);
}

/* A budget for two frames: prefetching never holds more, and the frame looked up last stays. */
static void
test_budget (Fixture       *fixture,
             gconstpointer  user_data)
{
  gsize per_frame = (gsize) cairo_format_stride_for_width (CAIRO_FORMAT_RGB24, W) * H;
  g_autoptr(HepaFrameCache) cache = hepa_frame_cache_new (2 * per_frame + per_frame / 2);
  HepaFrameLook look = { .wl_center = 90, .wl_width = 120 };

  hepa_frame_cache_set_image (cache, fixture->cine);
  hepa_frame_cache_set_look (cache, &look);
  hepa_frame_cache_request (cache, 0);
  wait_idle (cache);
  g_assert_true (hepa_frame_cache_lookup (cache, 0, NULL, NULL));
  hepa_frame_cache_prefetch (cache, 1, N_FRAMES - 1);
  wait_idle (cache);
  g_assert_cmpuint (hepa_frame_cache_get_n_ready (cache), ==, 2);
  g_assert_cmpuint (hepa_frame_cache_get_bytes (cache), <=, 2 * per_frame);
  g_assert_true (hepa_frame_cache_lookup (cache, 1, NULL, NULL));

  /* A frame the caller rendered itself counts against the same budget. */
  {
    cairo_surface_t *surface = hepa_frame_cache_render (hepa_image_get_frame (fixture->cine, 3,
                                                                              NULL), &look);

    hepa_frame_cache_insert (cache, 3, surface);
    cairo_surface_destroy (surface);
  }
  g_assert_cmpuint (hepa_frame_cache_get_n_ready (cache), ==, 2);
  g_assert_true (hepa_frame_cache_lookup (cache, 3, NULL, NULL));
  g_assert_true (hepa_frame_cache_lookup (cache, 1, NULL, NULL));
  g_assert_false (hepa_frame_cache_lookup (cache, 0, NULL, NULL));
}

/* Frames and scaled surfaces the caller made itself: a frame is ready only with its scaled
 * surface while one is wanted. */
static void
test_insert (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(HepaFrameCache) cache = hepa_frame_cache_new (64 * 1024 * 1024);
  HepaFrameLook look = { .wl_center = 90, .wl_width = 120, .zoom = 1.5, .phase_x = 0.25 };
  cairo_surface_t *surface, *scaled, *found_surface = NULL, *found_scaled = NULL;

  hepa_frame_cache_set_image (cache, fixture->cine);
  hepa_frame_cache_set_look (cache, &look);
  surface = hepa_frame_cache_render (hepa_image_get_frame (fixture->cine, 0, NULL), &look);
  scaled = hepa_frame_cache_scale (surface, &look);

  /* No frame to attach it to. */
  hepa_frame_cache_insert_scaled (cache, 0, scaled);
  g_assert_false (hepa_frame_cache_is_ready (cache, 0));

  hepa_frame_cache_insert (cache, 0, surface);
  g_assert_false (hepa_frame_cache_is_ready (cache, 0));
  g_assert_true (hepa_frame_cache_lookup (cache, 0, &found_surface, &found_scaled));
  g_assert_true (found_surface == surface);
  g_assert_null (found_scaled);
  hepa_frame_cache_insert_scaled (cache, 0, scaled);
  g_assert_true (hepa_frame_cache_is_ready (cache, 0));
  g_assert_true (hepa_frame_cache_lookup (cache, 0, &found_surface, &found_scaled));
  g_assert_true (found_scaled == scaled);
  g_assert_false (hepa_frame_cache_is_ready (cache, 1));

  /* Another phase: the scaled surface goes, the frame stays; with no zoom wanted, the frame
   * alone is ready. */
  look.phase_x = 0.5;
  hepa_frame_cache_set_look (cache, &look);
  g_assert_false (hepa_frame_cache_is_ready (cache, 0));
  look.zoom = 0;
  hepa_frame_cache_set_look (cache, &look);
  g_assert_true (hepa_frame_cache_is_ready (cache, 0));

  cairo_surface_destroy (surface);
  cairo_surface_destroy (scaled);
}

/* A cine longer than the cache holds, played as the window plays it (show a frame, prefetch
 * the ones after it, the worker keeping up): after the first frame every frame is ready when
 * it is due. Least recently used alone evicted the next frame to play at every step. */
static void
test_playback_long (Fixture       *fixture,
                    gconstpointer  user_data)
{
  const guint n = 12;
  gsize per_frame = (gsize) cairo_format_stride_for_width (CAIRO_FORMAT_RGB24, W) * H;
  g_autoptr(HepaFrameCache) cache = hepa_frame_cache_new (4 * per_frame + per_frame / 2);
  g_autoptr(HepaImage) cine = open_cine (fixture->dir, "long.dcm", n);
  g_autofree char *path = g_build_filename (fixture->dir, "long.dcm", NULL);
  HepaFrameLook look = { .wl_center = 90, .wl_width = 120 };
  guint late = 0;

  hepa_frame_cache_set_image (cache, cine);
  hepa_frame_cache_set_look (cache, &look);
  for (guint step = 0; step < 3 * n; step++)
    {
      guint frame = step % n;

      if (!hepa_frame_cache_is_ready (cache, frame))
        {
          late += step > 0;
          hepa_frame_cache_request (cache, frame);
          wait_idle (cache);
        }
      g_assert_true (hepa_frame_cache_lookup (cache, frame, NULL, NULL));
      hepa_frame_cache_prefetch (cache, frame + 1, n - 1);
      wait_idle (cache);
      g_assert_cmpuint (hepa_frame_cache_get_n_ready (cache), <=, 4);
    }
  g_assert_cmpuint (late, ==, 0);
  hepa_frame_cache_set_image (cache, NULL);
  g_clear_pointer (&cine, hepa_image_unref);
  g_unlink (path);
}

static void
count_ready_cb (HepaFrameCache *cache,
                guint           frame,
                guint          *count)
{
  /* What the window does for the frame it waits for: ask again while it is not ready. */
  if (++*count < 50 && !hepa_frame_cache_is_ready (cache, frame))
    hepa_frame_cache_request (cache, frame);
}

/* A frame whose scaled surface cannot be made (wider than a cairo surface may be) is ready
 * without it, once: it was reported ready, asked for again and made again without end. */
static void
test_unscalable (Fixture       *fixture,
                 gconstpointer  user_data)
{
  const int w = 17000, h = 8;
  g_autofree guint8 *rgb = g_malloc0 ((gsize) w * h * 3);
  g_autoptr(HepaImage) image = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, w, h, (gsize) w * 3,
                                                           rgb, "wide");
  g_autoptr(HepaFrameCache) cache = hepa_frame_cache_new (128 * 1024 * 1024);
  HepaFrameLook look = { .wl_center = 90, .wl_width = 120, .zoom = 1.95 };
  cairo_surface_t *surface = NULL, *scaled = NULL;
  guint count = 0;

  g_signal_connect (cache, "ready", G_CALLBACK (count_ready_cb), &count);
  hepa_frame_cache_set_image (cache, image);
  hepa_frame_cache_set_look (cache, &look);
  hepa_frame_cache_request (cache, 0);
  wait_idle (cache);
  g_assert_cmpuint (count, ==, 1);
  g_assert_true (hepa_frame_cache_is_ready (cache, 0));
  g_assert_true (hepa_frame_cache_lookup (cache, 0, &surface, &scaled));
  g_assert_nonnull (surface);
  g_assert_null (scaled);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ui/frame-cache/render", test_render);
  ADD ("/ui/frame-cache/scaled-equals-direct", test_scaled_equals_direct);
  ADD ("/ui/frame-cache/request-and-prefetch", test_request_and_prefetch);
  ADD ("/ui/frame-cache/window-change-in-flight", test_window_change_in_flight);
  ADD ("/ui/frame-cache/budget", test_budget);
  ADD ("/ui/frame-cache/insert", test_insert);
  ADD ("/ui/frame-cache/playback-long", test_playback_long);
  ADD ("/ui/frame-cache/unscalable", test_unscalable);
#undef ADD
  return g_test_run ();
}
