/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ROI -> model input: gray or RGB planes, area-aware resize, mean/std, as the card says. */
#include "config.h"

#include "hepa-engine.h"
#include "hepa-preprocess-private.h"

#include <math.h>
#include <string.h>

/* Per output pixel: the first source pixel and the weights of the pixels from there on. */
typedef struct
{
  int    n_out;
  int    max_taps;
  int   *start;    /* (n_out) */
  int   *count;    /* (n_out) */
  float *weights;  /* (n_out, max_taps), each row sums to 1 */
} Coeffs;

static float
triangle (float x)
{
  x = fabsf (x);
  return x < 1.0f ? 1.0f - x : 0.0f;
}

/* Pillow's precompute_coeffs with its bilinear filter: the filter's support grows with the
 * shrink factor, so a downscale averages over the whole footprint instead of aliasing. */
static void
coeffs_init (Coeffs *c,
             int     n_in,
             int     n_out)
{
  double scale = (double) n_in / n_out;
  double filter_scale = MAX (scale, 1.0);
  double support = 1.0 * filter_scale;

  c->n_out = n_out;
  c->max_taps = (int) ceil (support) * 2 + 1;
  c->start = g_new (int, n_out);
  c->count = g_new (int, n_out);
  c->weights = g_new0 (float, (gsize) n_out * c->max_taps);
  for (int i = 0; i < n_out; i++)
    {
      double center = (i + 0.5) * scale;
      int lo = MAX ((int) floor (center - support + 0.5), 0);
      int hi = MIN ((int) floor (center + support + 0.5), n_in);
      float *w = c->weights + (gsize) i * c->max_taps;
      double total = 0;
      int n = MIN (hi - lo, c->max_taps);

      for (int k = 0; k < n; k++)
        {
          w[k] = triangle ((float) ((lo + k - center + 0.5) / filter_scale));
          total += w[k];
        }
      for (int k = 0; k < n; k++)
        w[k] = total > 0 ? (float) (w[k] / total) : 0.0f;
      c->start[i] = lo;
      c->count[i] = n;
    }
}

static void
coeffs_clear (Coeffs *c)
{
  g_clear_pointer (&c->start, g_free);
  g_clear_pointer (&c->count, g_free);
  g_clear_pointer (&c->weights, g_free);
}

void
hepa_resample_plane (const float *src,
                     int          src_w,
                     int          src_h,
                     float       *dst,
                     int          dst_w,
                     int          dst_h,
                     float       *tmp)
{
  Coeffs cx;
  Coeffs cy;

  g_return_if_fail (src_w > 0 && src_h > 0 && dst_w > 0 && dst_h > 0);

  coeffs_init (&cx, src_w, dst_w);
  coeffs_init (&cy, src_h, dst_h);

  /* Rows first: src (src_h, src_w) -> tmp (src_h, dst_w). */
  for (int y = 0; y < src_h; y++)
    {
      const float *row = src + (gsize) y * src_w;
      float *out = tmp + (gsize) y * dst_w;

      for (int x = 0; x < dst_w; x++)
        {
          const float *w = cx.weights + (gsize) x * cx.max_taps;
          const float *p = row + cx.start[x];
          float sum = 0;

          for (int k = 0; k < cx.count[x]; k++)
            sum += w[k] * p[k];
          out[x] = sum;
        }
    }
  /* Then columns: tmp (src_h, dst_w) -> dst (dst_h, dst_w), row by row for locality. */
  for (int y = 0; y < dst_h; y++)
    {
      const float *w = cy.weights + (gsize) y * cy.max_taps;
      float *out = dst + (gsize) y * dst_w;

      memset (out, 0, (gsize) dst_w * sizeof (float));
      for (int k = 0; k < cy.count[y]; k++)
        {
          const float *row = tmp + (gsize) (cy.start[y] + k) * dst_w;
          float wk = w[k];

          for (int x = 0; x < dst_w; x++)
            out[x] += wk * row[x];
        }
    }

  coeffs_clear (&cx);
  coeffs_clear (&cy);
}

void
hepa_preprocess_geometry (const HepaModelCard *card,
                          int                  roi_width,
                          int                  roi_height,
                          int                 *x,
                          int                 *y,
                          int                 *width,
                          int                 *height)
{
  int size = card->input_size;

  if (card->resize == HEPA_RESIZE_STRETCH || roi_width == roi_height)
    {
      *x = *y = 0;
      *width = *height = size;
      return;
    }
  if (roi_width > roi_height)
    {
      *width = size;
      *height = CLAMP ((int) lround ((double) size * roi_height / roi_width), 1, size);
    }
  else
    {
      *height = size;
      *width = CLAMP ((int) lround ((double) size * roi_width / roi_height), 1, size);
    }
  *x = (size - *width) / 2;
  *y = (size - *height) / 2;
}

/* Luma of an RGB pixel, ITU-R BT.601 weights (what Pillow's convert ("L") uses), unrounded. */
static inline float
luma (const guint8 *p)
{
  return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

void
hepa_preprocess_roi (const HepaModelCard *card,
                     const HepaFrame     *frame,
                     const HepaRect      *roi,
                     float               *out)
{
  g_autofree guint8 *rendered = NULL;
  g_autofree float *planes = NULL;
  g_autofree float *tmp = NULL;
  g_autofree float *resized = NULL;
  const guint8 *pixels;
  gsize stride;
  int size;
  int n_planes;
  int gx, gy, gw, gh;
  gsize roi_n;

  g_return_if_fail (card != NULL && frame != NULL && roi != NULL && out != NULL);
  g_return_if_fail (roi->x >= 0 && roi->y >= 0 && roi->width > 0 && roi->height > 0);
  g_return_if_fail (roi->x + roi->width <= frame->width && roi->y + roi->height <= frame->height);

  size = card->input_size;
  roi_n = (gsize) roi->width * roi->height;

  if (frame->format == HEPA_PIXEL_GRAY16)
    {
      /* The model sees what the screen shows: 16-bit gray goes through the frame's default
       * VOI window to 8 bits first, exactly as hepa_frame_render_rgb displays it. */
      HepaFrame view = *frame;

      view.width = roi->width;
      view.height = roi->height;
      view.data = frame->data + (gsize) roi->y * frame->stride + (gsize) roi->x * 2;
      rendered = g_malloc (roi_n * 3);
      hepa_frame_render_rgb (&view, 0, 0, rendered);
      pixels = rendered;
      stride = (gsize) roi->width * 3;
    }
  else
    {
      pixels = frame->data + (gsize) roi->y * frame->stride + (gsize) roi->x * 3;
      stride = frame->stride;
    }

  /* Planes in 0..255: one for gray input or a grayscale card, else R, G, B. */
  n_planes = card->grayscale || frame->format == HEPA_PIXEL_GRAY16 ? 1 : 3;
  planes = g_new (float, roi_n * n_planes);
  for (int y = 0; y < roi->height; y++)
    {
      const guint8 *row = pixels + (gsize) y * stride;
      float *dst = planes + (gsize) y * roi->width;

      if (n_planes == 1)
        for (int x = 0; x < roi->width; x++)
          dst[x] = frame->format == HEPA_PIXEL_GRAY16 ? row[3 * x] : luma (row + 3 * x);
      else
        for (int x = 0; x < roi->width; x++)
          for (int c = 0; c < 3; c++)
            dst[c * roi_n + x] = row[3 * x + c];
    }

  hepa_preprocess_geometry (card, roi->width, roi->height, &gx, &gy, &gw, &gh);
  tmp = g_new (float, (gsize) roi->height * gw);
  resized = g_new (float, (gsize) gw * gh * n_planes);
  for (int p = 0; p < n_planes; p++)
    hepa_resample_plane (planes + p * roi_n, roi->width, roi->height,
                         resized + (gsize) p * gw * gh, gw, gh, tmp);

  /* out (3, size, size): (v / 255 - mean) / std; letterbox padding is the mean, i.e. 0. */
  for (int c = 0; c < 3; c++)
    {
      const float *src = resized + (gsize) (n_planes == 1 ? 0 : c) * gw * gh;
      float *plane = out + (gsize) c * size * size;
      float scale = 1.0f / (255.0f * card->std[c]);
      float shift = card->mean[c] / card->std[c];

      if (gw != size || gh != size)
        memset (plane, 0, (gsize) size * size * sizeof (float));
      for (int y = 0; y < gh; y++)
        {
          const float *s = src + (gsize) y * gw;
          float *d = plane + (gsize) (gy + y) * size + gx;

          for (int x = 0; x < gw; x++)
            d[x] = s[x] * scale - shift;
        }
    }
}
