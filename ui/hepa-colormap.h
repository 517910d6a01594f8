/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Colour maps and the saliency overlay raster: pure functions, no GTK, testable headless. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  HEPA_COLORMAP_INFERNO,
  HEPA_COLORMAP_VIRIDIS,
  HEPA_COLORMAP_JET,
} HepaColormap;

typedef enum
{
  HEPA_OVERLAY_SCALE_PER_ROI,   /* min..max of the shown map -> 0..1 */
  HEPA_OVERLAY_SCALE_ABSOLUTE,  /* 0..reference (a shared, zero-anchored scale) -> 0..1 */
} HepaOverlayScale;

/* Writes the colour of @t (clamped to 0..1) as 8-bit R, G, B. */
void   hepa_colormap_lookup       (HepaColormap  cmap,
                                   double        t,
                                   guint8        rgb[3]);
/* The value range @scale maps to 0..1 for a (n) map; @reference is used by ABSOLUTE. */
void   hepa_overlay_range         (const float      *map,
                                   gsize             n,
                                   HepaOverlayScale  scale,
                                   float             reference,
                                   float            *lo,
                                   float            *hi);
/* Renders a (height, width) map into (height, width) premultiplied opaque cairo ARGB32 pixels
 * (stride width * 4, native endian), using hepa_overlay_range. */
void   hepa_overlay_render_argb32 (const float      *map,
                                   int               width,
                                   int               height,
                                   HepaOverlayScale  scale,
                                   float             reference,
                                   HepaColormap      cmap,
                                   guint32          *argb_out);
/* The largest positive value over @n floats (0 when none is positive). */
float  hepa_overlay_max_positive  (const float      *map,
                                   gsize             n);
const char *hepa_colormap_to_string (HepaColormap cmap);

G_END_DECLS
