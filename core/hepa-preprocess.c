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

/* One row through the horizontal filter: row (src_w) -> out (cx->n_out). */
static inline void
resample_row (const Coeffs *cx,
              const float  *row,
              float        *out)
{
  for (int x = 0; x < cx->n_out; x++)
    {
      const float *w = cx->weights + (gsize) x * cx->max_taps;
      const float *p = row + cx->start[x];
      float sum = 0;

      for (int k = 0; k < cx->count[x]; k++)
        sum += w[k] * p[k];
      out[x] = sum;
    }
}

/* The vertical filter: tmp (src_h, dst_w) -> dst (cy->n_out, dst_w), row by row for locality. */
static void
resample_columns (const Coeffs *cy,
                  const float  *tmp,
                  int           dst_w,
                  float        *dst)
{
  for (int y = 0; y < cy->n_out; y++)
    {
      const float *w = cy->weights + (gsize) y * cy->max_taps;
      float *out = dst + (gsize) y * dst_w;

      memset (out, 0, (gsize) dst_w * sizeof (float));
      for (int k = 0; k < cy->count[y]; k++)
        {
          const float *row = tmp + (gsize) (cy->start[y] + k) * dst_w;
          float wk = w[k];

          for (int x = 0; x < dst_w; x++)
            out[x] += wk * row[x];
        }
    }
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
  /* Rows first: src (src_h, src_w) -> tmp (src_h, dst_w); then columns. */
  for (int y = 0; y < src_h; y++)
    resample_row (&cx, src + (gsize) y * src_w, tmp + (gsize) y * dst_w);
  resample_columns (&cy, tmp, dst_w, dst);
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

/* GRAY16 rows are windowed this many at a time (the VOI lookup table is built per call). */
#define GRAY16_CHUNK_ROWS 64

void
hepa_preprocess_roi (const HepaModelCard *card,
                     const HepaFrame     *frame,
                     const HepaRect      *roi,
                     float               *out)
{
  g_autofree guint8 *rendered = NULL;
  g_autofree float *row = NULL;
  g_autofree float *tmp = NULL;
  g_autofree float *resized = NULL;
  gboolean gray16;
  int size;
  int n_planes;
  int gx, gy, gw, gh;
  Coeffs cx;
  Coeffs cy;

  g_return_if_fail (card != NULL && frame != NULL && roi != NULL && out != NULL);
  g_return_if_fail (roi->x >= 0 && roi->y >= 0 && roi->width > 0 && roi->height > 0);
  g_return_if_fail (roi->x + roi->width <= frame->width && roi->y + roi->height <= frame->height);

  size = card->input_size;
  gray16 = frame->format == HEPA_PIXEL_GRAY16;
  /* Planes in 0..255: one for gray input or a grayscale card, else R, G, B. */
  n_planes = card->grayscale || gray16 ? 1 : 3;
  hepa_preprocess_geometry (card, roi->width, roi->height, &gx, &gy, &gw, &gh);
  coeffs_init (&cx, roi->width, gw);
  coeffs_init (&cy, roi->height, gh);

  /* Memory stays bounded by the output width, whatever the ROI: each source row is converted
   * and filtered horizontally at once into tmp (n_planes, roi height, gw). */
  row = g_new (float, (gsize) roi->width * n_planes);
  tmp = g_new (float, (gsize) n_planes * roi->height * gw);
  if (gray16)
    rendered = g_malloc ((gsize) roi->width * 3 * GRAY16_CHUNK_ROWS);
  for (int y = 0; y < roi->height; y++)
    {
      const guint8 *src;

      if (gray16)
        {
          /* The model sees what the screen shows: 16-bit gray goes through the frame's default
           * VOI window to 8 bits first, exactly as hepa_frame_render_rgb displays it. */
          int chunk_row = y % GRAY16_CHUNK_ROWS;

          if (chunk_row == 0)
            {
              HepaFrame view = *frame;

              view.width = roi->width;
              view.height = MIN (GRAY16_CHUNK_ROWS, roi->height - y);
              view.data = frame->data + (gsize) (roi->y + y) * frame->stride + (gsize) roi->x * 2;
              hepa_frame_render_rgb (&view, 0, 0, rendered);
            }
          src = rendered + (gsize) chunk_row * roi->width * 3;
        }
      else
        src = frame->data + (gsize) (roi->y + y) * frame->stride + (gsize) roi->x * 3;

      if (n_planes == 1)
        for (int x = 0; x < roi->width; x++)
          row[x] = gray16 ? src[3 * x] : luma (src + 3 * x);
      else
        for (int x = 0; x < roi->width; x++)
          for (int c = 0; c < 3; c++)
            row[(gsize) c * roi->width + x] = src[3 * x + c];

      for (int p = 0; p < n_planes; p++)
        resample_row (&cx, row + (gsize) p * roi->width,
                      tmp + ((gsize) p * roi->height + y) * gw);
    }

  resized = g_new (float, (gsize) gw * gh * n_planes);
  for (int p = 0; p < n_planes; p++)
    resample_columns (&cy, tmp + (gsize) p * roi->height * gw, gw,
                      resized + (gsize) p * gw * gh);
  coeffs_clear (&cx);
  coeffs_clear (&cy);

  /* out (3, size, size): (v / 255 - mean) / std; letterbox padding is the mean, i.e. 0. */
  for (int c = 0; c < 3; c++)
    {
      const float *plane_src = resized + (gsize) (n_planes == 1 ? 0 : c) * gw * gh;
      float *plane = out + (gsize) c * size * size;
      float scale = 1.0f / (255.0f * card->std[c]);
      float shift = card->mean[c] / card->std[c];

      if (gw != size || gh != size)
        memset (plane, 0, (gsize) size * size * sizeof (float));
      for (int y = 0; y < gh; y++)
        {
          const float *s = plane_src + (gsize) y * gw;
          float *d = plane + (gsize) (gy + y) * size + gx;

          for (int x = 0; x < gw; x++)
            d[x] = s[x] * scale - shift;
        }
    }
}
