/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-burnin.h"

#include <string.h>

/* Distance at which a stroke's surroundings are sampled: strokes of scanner fonts and calipers
 * are 1 to 3 pixels wide, so at 3 pixels most of the eight directions land beside them. */
#define RING 3
/* A pixel is a stroke when at least this many of its eight ring samples are darker (or, for a
 * coloured pixel, less coloured) by at least a contrast, and near white when its brightness
 * is at least a floor with little colour. Two operating points of the same rule: masking
 * exported pixels wants every stroke pixel (a missed one can carry a name), so it takes
 * dimmer, lower-contrast strokes; telling a user that graphics lie in the ROI must not fire on
 * the bright speckle of posterior enhancement or a hyperechoic lesion (it did on two of the
 * seven demo ROIs at the masking point), so it asks for what scanners draw: near-white
 * strokes far above their surroundings. */
#define MIN_DARKER 5
#define MASK_CONTRAST 60
#define MASK_BRIGHT 170
#define FIND_CONTRAST 90
#define FIND_BRIGHT 200
/* Strongly coloured: the spread of R, G, B at least COLOURED. */
#define GREYISH 40
#define COLOURED 80

typedef struct
{
  guint8 lum;     /* display brightness 0..255 */
  guint8 chroma;  /* max - min of R, G, B (0 for gray) */
} Sample;

static void
sample_row (const HepaFrame *frame,
            int              y,
            int              x0,
            int              x1,
            Sample          *out)
{
  const guint8 *row = frame->data + (gsize) y * frame->stride;

  if (frame->format == HEPA_PIXEL_RGB8)
    {
      for (int x = x0; x < x1; x++)
        {
          const guint8 *p = row + 3 * (gsize) x;
          guint8 mx = MAX (p[0], MAX (p[1], p[2]));
          guint8 mn = MIN (p[0], MIN (p[1], p[2]));

          out[x - x0].lum = (guint8) ((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
          out[x - x0].chroma = mx - mn;
        }
      return;
    }
  {
    const guint16 *v = (const guint16 *) row;
    double width = frame->window_width > 1 ? frame->window_width
                   : (double) ((1u << CLAMP (frame->bits_stored, 8, 16)) - 1);
    double low = frame->window_width > 1 ? frame->window_center - width / 2 : 0;

    for (int x = x0; x < x1; x++)
      {
        double l = (v[x] - low) * 255.0 / width;

        out[x - x0].lum = (guint8) CLAMP (l, 0, 255);
        out[x - x0].chroma = 0;
      }
  }
}

static guint8 *
burnin_mask (const HepaFrame *frame,
             const HepaRect  *rect,
             int              bright,
             int              contrast,
             guint           *n_marked)
{
  HepaRect r;
  int ex0, ey0, ex1, ey1, ew, eh;
  g_autofree Sample *s = NULL;
  g_autofree guint8 *hit = NULL;
  guint8 *mask;
  guint marked = 0;
  static const int dx[8] = { RING, -RING, 0, 0, RING, RING, -RING, -RING };
  static const int dy[8] = { 0, 0, RING, -RING, RING, -RING, RING, -RING };

  g_return_val_if_fail (frame != NULL && rect != NULL, NULL);

  if (n_marked != NULL)
    *n_marked = 0;
  r = *rect;
  hepa_rect_clamp (&r, frame->width, frame->height);
  if (r.width <= 0 || r.height <= 0)
    return NULL;

  /* The rectangle and a ring's width around it, inside the frame. */
  ex0 = MAX (r.x - RING - 1, 0);
  ey0 = MAX (r.y - RING - 1, 0);
  ex1 = MIN (r.x + r.width + RING + 1, frame->width);
  ey1 = MIN (r.y + r.height + RING + 1, frame->height);
  ew = ex1 - ex0;
  eh = ey1 - ey0;
  s = g_new (Sample, (gsize) ew * eh);
  for (int y = ey0; y < ey1; y++)
    sample_row (frame, y, ex0, ex1, s + (gsize) (y - ey0) * ew);

  /* 1: a candidate (near white or strongly coloured); 2: a stroke (a candidate that stands out
   * from its ring). */
  hit = g_new0 (guint8, (gsize) ew * eh);
  for (int y = 0; y < eh; y++)
    for (int x = 0; x < ew; x++)
      {
        const Sample *c = &s[(gsize) y * ew + x];
        gboolean white = c->lum >= bright && c->chroma < GREYISH;
        gboolean coloured = c->chroma >= COLOURED;
        int darker = 0, inside = 0;

        if (!white && !coloured)
          continue;
        hit[(gsize) y * ew + x] = 1;
        for (int k = 0; k < 8; k++)
          {
            int nx = x + dx[k], ny = y + dy[k];
            const Sample *n;

            if (nx < 0 || ny < 0 || nx >= ew || ny >= eh)
              continue;
            inside++;
            n = &s[(gsize) ny * ew + nx];
            if (white ? c->lum - n->lum >= contrast : c->chroma - n->chroma >= contrast)
              darker++;
          }
        /* At the frame's edge fewer samples exist: the same share of those there. */
        if (inside > 0 && darker >= MAX (1, (inside * MIN_DARKER + 7) / 8))
          hit[(gsize) y * ew + x] = 2;
      }

  /* Thick strokes and crossings: their inner pixels have other strokes on the ring. Candidates
   * next to a stroke, up to two pixels away, belong to it; no further, so that a bright lesion
   * touching a marker or a bright speckle grain is not swallowed (a hyperechoic hemangioma
   * was, with unbounded growth). */
  for (int round = 0; round < 2; round++)
    {
      for (int y = 0; y < eh; y++)
        for (int x = 0; x < ew; x++)
          {
            gboolean next_to = FALSE;

            if (hit[(gsize) y * ew + x] != 1)
              continue;
            for (int ny = MAX (y - 1, 0); ny <= MIN (y + 1, eh - 1) && !next_to; ny++)
              for (int nx = MAX (x - 1, 0); nx <= MIN (x + 1, ew - 1); nx++)
                if (hit[(gsize) ny * ew + nx] == 2)
                  next_to = TRUE;
            if (next_to)
              hit[(gsize) y * ew + x] = 3;
          }
      for (gsize i = 0; i < (gsize) ew * eh; i++)
        if (hit[i] == 3)
          hit[i] = 2;
    }

  /* The mask of @r, grown by one pixel. */
  mask = g_new0 (guint8, (gsize) r.width * r.height);
  for (int y = 0; y < eh; y++)
    for (int x = 0; x < ew; x++)
      {
        if (hit[(gsize) y * ew + x] != 2)
          continue;
        {
          int fx = ex0 + x, fy = ey0 + y;

          if (fx >= r.x && fx < r.x + r.width && fy >= r.y && fy < r.y + r.height)
            marked++;
          for (int gy = fy - 1; gy <= fy + 1; gy++)
            for (int gx = fx - 1; gx <= fx + 1; gx++)
              if (gx >= r.x && gx < r.x + r.width && gy >= r.y && gy < r.y + r.height)
                mask[(gsize) (gy - r.y) * r.width + (gx - r.x)] = 1;
        }
      }
  if (n_marked != NULL)
    *n_marked = marked;
  return mask;
}

guint8 *
hepa_burnin_mask (const HepaFrame *frame,
                  const HepaRect  *rect,
                  guint           *n_marked)
{
  return burnin_mask (frame, rect, MASK_BRIGHT, MASK_CONTRAST, n_marked);
}

guint8 *
hepa_burnin_find (const HepaFrame *frame,
                  const HepaRect  *rect,
                  guint           *n_marked)
{
  return burnin_mask (frame, rect, FIND_BRIGHT, FIND_CONTRAST, n_marked);
}
