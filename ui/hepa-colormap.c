/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-colormap.h"

#include <math.h>

/* Nine evenly spaced samples of matplotlib's perceptually uniform maps (0, 1/8, ..., 1),
 * interpolated linearly: close enough for an overlay and keeps the table readable. */
static const guint8 inferno_stops[9][3] = {
  {   0,   0,   4 }, {  31,  12,  72 }, {  85,  15, 109 }, { 136,  34, 106 }, { 186,  54,  85 },
  { 227,  89,  51 }, { 249, 140,  10 }, { 249, 201,  50 }, { 252, 255, 164 },
};
static const guint8 viridis_stops[9][3] = {
  {  68,   1,  84 }, {  71,  45, 123 }, {  59,  82, 139 }, {  44, 114, 142 }, {  33, 145, 140 },
  {  39, 173, 129 }, {  92, 200,  99 }, { 170, 220,  50 }, { 253, 231,  37 },
};

static double
jet_channel (double x)
{
  /* The classic piecewise-linear jet: a trapezoid of width 1.5 centred per channel. */
  return CLAMP (1.5 - fabs (4.0 * x), 0.0, 1.0);
}

void
hepa_colormap_lookup (HepaColormap cmap,
                      double       t,
                      guint8       rgb[3])
{
  const guint8 (*stops)[3];
  double pos, frac;
  int i;

  if (!(t >= 0.0))  /* also catches NaN */
    t = 0.0;
  if (t > 1.0)
    t = 1.0;

  if (cmap == HEPA_COLORMAP_JET)
    {
      rgb[0] = (guint8) lround (255.0 * jet_channel (t - 0.75));
      rgb[1] = (guint8) lround (255.0 * jet_channel (t - 0.5));
      rgb[2] = (guint8) lround (255.0 * jet_channel (t - 0.25));
      return;
    }

  stops = cmap == HEPA_COLORMAP_VIRIDIS ? viridis_stops : inferno_stops;
  pos = t * 8.0;
  i = MIN ((int) pos, 7);
  frac = pos - i;
  for (int c = 0; c < 3; c++)
    rgb[c] = (guint8) lround (stops[i][c] + frac * (stops[i + 1][c] - stops[i][c]));
}

float
hepa_overlay_max_positive (const float *map,
                           gsize        n)
{
  float m = 0.0f;

  for (gsize i = 0; i < n; i++)
    if (map[i] > m)
      m = map[i];
  return m;
}

void
hepa_overlay_range (const float      *map,
                    gsize             n,
                    HepaOverlayScale  scale,
                    float             reference,
                    float            *lo,
                    float            *hi)
{
  float mn = INFINITY, mx = -INFINITY;

  if (scale == HEPA_OVERLAY_SCALE_ABSOLUTE)
    {
      *lo = 0.0f;
      *hi = reference > 0.0f ? reference : 1.0f;
      return;
    }

  for (gsize i = 0; i < n; i++)
    {
      if (!isfinite (map[i]))
        continue;
      mn = MIN (mn, map[i]);
      mx = MAX (mx, map[i]);
    }
  if (!(mx > mn))
    {
      /* A flat map has no structure to show: draw it at the bottom of the scale. */
      *lo = isfinite (mn) ? mn : 0.0f;
      *hi = *lo + 1.0f;
      return;
    }
  *lo = mn;
  *hi = mx;
}

void
hepa_overlay_render_argb32 (const float      *map,
                            int               width,
                            int               height,
                            HepaOverlayScale  scale,
                            float             reference,
                            HepaColormap      cmap,
                            guint32          *argb_out)
{
  guint32 lut[256];
  float lo, hi, span;
  gsize n = (gsize) width * height;

  g_return_if_fail (width > 0 && height > 0);

  for (int i = 0; i < 256; i++)
    {
      guint8 rgb[3];

      hepa_colormap_lookup (cmap, i / 255.0, rgb);
      lut[i] = 0xff000000u | ((guint32) rgb[0] << 16) | ((guint32) rgb[1] << 8) | rgb[2];
    }

  hepa_overlay_range (map, n, scale, reference, &lo, &hi);
  span = hi - lo;
  for (gsize i = 0; i < n; i++)
    {
      float t = (map[i] - lo) / span;
      int k;

      if (!(t > 0.0f))
        t = 0.0f;
      if (t > 1.0f)
        t = 1.0f;
      k = (int) lroundf (t * 255.0f);
      argb_out[i] = lut[k];
    }
}

const char *
hepa_colormap_to_string (HepaColormap cmap)
{
  switch (cmap)
    {
    case HEPA_COLORMAP_VIRIDIS:
      return "viridis";
    case HEPA_COLORMAP_JET:
      return "jet";
    case HEPA_COLORMAP_INFERNO:
    default:
      return "inferno";
    }
}
