/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The burned-in text and marker detector (core/hepa-burnin.c) on synthetic B-mode frames with
 * scanner-style text and calipers drawn by cairo: it finds the strokes and leaves speckle, and
 * the export blanks them in crops and frames (issue 19, item 9). */
#include "config.h"

#include "hepa-burnin.h"
#include "hepa-image.h"

#include "hepa-test-utils.h"

#include <cairo.h>
#include <string.h>

#define W 320
#define H 240

/* Smoothed gray noise (B-mode-like speckle, 30..130) in an RGB24 cairo surface, with white text
 * and a yellow caliper cross drawn on it; @truth receives 1 where the drawing changed a pixel
 * by more than 40 levels. Returns the frame's RGB. */
static guint8 *
make_frame (guint8 *truth)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  g_autofree guint8 *base = g_new (guint8, W * H);
  guint8 *rgb = g_new (guint8, W * H * 3);
  guint32 *px;
  int stride;
  cairo_t *cr;

  for (int i = 0; i < W * H; i++)
    base[i] = (guint8) g_rand_int_range (rand, 0, 256);
  /* 3 x 3 box blur twice: speckle grains of a few pixels. */
  for (int pass = 0; pass < 2; pass++)
    {
      g_autofree guint8 *tmp = g_memdup2 (base, W * H);

      for (int y = 1; y < H - 1; y++)
        for (int x = 1; x < W - 1; x++)
          {
            int sum = 0;

            for (int dy = -1; dy <= 1; dy++)
              for (int dx = -1; dx <= 1; dx++)
                sum += tmp[(y + dy) * W + x + dx];
            base[y * W + x] = (guint8) (sum / 9);
          }
    }
  cairo_surface_flush (surface);
  px = (guint32 *) cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface) / 4;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        int v = 30 + (base[y * W + x] - 100) * 2;

        v = CLAMP (v, 30, 130);
        px[y * stride + x] = (guint32) (v << 16 | v << 8 | v);
      }
  cairo_surface_mark_dirty (surface);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_select_font_face (cr, "monospace", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 13);
  cairo_move_to (cr, 10, 20);
  cairo_show_text (cr, "MRKNAME^PATIENT 17.04.1931");
  cairo_move_to (cr, 150, 130);
  cairo_show_text (cr, "LIVER 2.3 cm");
  cairo_set_source_rgb (cr, 1, 1, 0);
  cairo_set_line_width (cr, 1);
  cairo_move_to (cr, 80.5, 160);
  cairo_line_to (cr, 80.5, 176);
  cairo_move_to (cr, 72, 168.5);
  cairo_line_to (cr, 88, 168.5);
  cairo_stroke (cr);
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  px = (guint32 *) cairo_image_surface_get_data (surface);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        guint32 p = px[y * stride + x];
        guint8 *o = rgb + 3 * (y * W + x);
        int v = 30 + (base[y * W + x] - 100) * 2;

        v = CLAMP (v, 30, 130);
        o[0] = (p >> 16) & 0xff;
        o[1] = (p >> 8) & 0xff;
        o[2] = p & 0xff;
        truth[y * W + x] = MAX (abs (o[0] - v), MAX (abs (o[1] - v), abs (o[2] - v))) > 40;
      }
  cairo_surface_destroy (surface);
  return rgb;
}

static void
test_detector (void)
{
  g_autofree guint8 *truth = g_new0 (guint8, W * H);
  g_autofree guint8 *rgb = make_frame (truth);
  HepaFrame frame = { W, H, HEPA_PIXEL_RGB8, W * 3, rgb, 8, 128, 256 };
  HepaRect all = { 0, 0, W, H };
  guint n_marked = 0, text = 0, found = 0, false_hits = 0, background = 0;
  g_autofree guint8 *mask = hepa_burnin_mask (&frame, &all, &n_marked);

  g_assert_nonnull (mask);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        gboolean near = FALSE;

        for (int dy = -2; dy <= 2; dy++)
          for (int dx = -2; dx <= 2; dx++)
            if (y + dy >= 0 && y + dy < H && x + dx >= 0 && x + dx < W
                && truth[(y + dy) * W + x + dx])
              near = TRUE;
        if (truth[y * W + x])
          {
            text++;
            found += mask[y * W + x];
          }
        else if (!near)
          {
            background++;
            false_hits += mask[y * W + x];
          }
      }
  g_test_message ("text pixels %u, found %u; background %u, marked %u", text, found,
                  background, false_hits);
  g_assert_cmpuint (text, >, 500);
  g_assert_cmpuint (found * 100, >=, text * 97);
  g_assert_cmpuint (false_hits * 1000, <=, background * 2);

  /* A sub-rectangle gives the same answer there; one outside the frame gives none. */
  {
    HepaRect part = { 140, 115, 100, 30 };
    HepaRect outside = { W + 5, 0, 10, 10 };
    g_autofree guint8 *sub = hepa_burnin_mask (&frame, &part, NULL);

    for (int y = 0; y < part.height; y++)
      for (int x = 0; x < part.width; x++)
        g_assert_cmpuint (sub[y * part.width + x], ==,
                          mask[(part.y + y) * W + part.x + x]);
    g_assert_null (hepa_burnin_mask (&frame, &outside, NULL));
  }
}

/* Plain speckle, gray 16-bit: nothing (or next to nothing) is marked. */
static void
test_speckle_only (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  g_autofree guint16 *gray = g_new (guint16, W * H);
  HepaFrame frame = { W, H, HEPA_PIXEL_GRAY16, W * 2, NULL, 12, 2048, 4096 };
  HepaRect all = { 0, 0, W, H };
  g_autofree guint8 *mask = NULL;
  guint n = 0;

  for (int i = 0; i < W * H; i++)
    gray[i] = (guint16) g_rand_int_range (rand, 1200, 2600);
  frame.data = (const guint8 *) gray;
  mask = hepa_burnin_mask (&frame, &all, &n);
  g_test_message ("%u of %d marked", n, W * H);
  g_assert_cmpuint (n * 1000, <=, W * H);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/burnin/detector", test_detector);
  g_test_add_func ("/core/burnin/speckle-only", test_speckle_only);
  return g_test_run ();
}
