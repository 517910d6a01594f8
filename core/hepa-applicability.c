/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Applicability checks: does a model's answer apply to this region at all? */
#include "config.h"

#include "hepa-applicability.h"
#include "hepa-burnin.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

/* Colour: a pixel is coloured when max - min of R, G, B reaches this (JPEG and YBR 4:2:2
 * rounding of gray images stays under 12); the ROI is coloured when more than COLOUR_FRACTION
 * of its pixels are. */
#define COLOUR_CHROMA     40
#define COLOUR_FRACTION   0.03
/* The ROI must lie this much inside the ultrasound region or the estimated scan fan. */
#define INSIDE_FRACTION   0.9
/* The ROI holds graphics when at least this many pixels (and 0.05 % of it) are marked. */
#define OVERLAY_MIN_PIXELS 12
/* Fan blocks: BLOCK x BLOCK pixels of which FAN_FILL are above FAN_DARK (echo texture). */
#define BLOCK             8
#define FAN_DARK          8
#define FAN_FILL          0.6
/* Size: a longer side under half the 5th percentile, or over twice the 95th, is far. */
#define SIZE_FACTOR       2.0

void
hepa_reason_free (HepaReason *reason)
{
  if (reason == NULL)
    return;
  g_free (reason->code);
  g_free (reason->message);
  g_free (reason);
}

void
hepa_applicability_free (HepaApplicability *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->reasons, g_ptr_array_unref);
  g_strfreev (self->not_checked);
  g_free (self);
}

static void
add_reason (HepaApplicability *self,
            const char        *code,
            char              *message)
{
  HepaReason *r = g_new (HepaReason, 1);

  r->code = g_strdup (code);
  r->message = message;
  g_ptr_array_add (self->reasons, r);
}

/* ---- Pixels as displayed ------------------------------------------------------------------- */

typedef struct
{
  const HepaFrame *frame;
  guint8          *lut;      /* GRAY16 -> 8 bits through the default window; NULL for RGB8 */
} Pixels;

static void
pixels_init (Pixels          *px,
             const HepaFrame *frame)
{
  px->frame = frame;
  px->lut = NULL;
  if (frame->format == HEPA_PIXEL_GRAY16)
    {
      int bits = CLAMP (frame->bits_stored, 1, 16);
      gsize n = (gsize) 1 << bits;
      double c = frame->window_center;
      double w = MAX (frame->window_width, 1.0);
      double lo = c - 0.5 - (w - 1) / 2;
      double hi = c - 0.5 + (w - 1) / 2;

      px->lut = g_malloc (n);
      for (gsize k = 0; k < n; k++)
        {
          double v = (double) k;

          if (v <= lo)
            px->lut[k] = 0;
          else if (v > hi || w <= 1)
            px->lut[k] = 255;
          else
            px->lut[k] = (guint8) CLAMP (lround (((v - (c - 0.5)) / (w - 1) + 0.5) * 255.0),
                                         0, 255);
        }
    }
}

static void
pixels_clear (Pixels *px)
{
  g_clear_pointer (&px->lut, g_free);
}

/* Renders @rect (inside the frame) as (height, width, 3) RGB8. */
static inline int
luma (const guint8 *p)
{
  return (77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8;
}

static inline int
chroma (const guint8 *p)
{
  return MAX (p[0], MAX (p[1], p[2])) - MIN (p[0], MIN (p[1], p[2]));
}

/* ---- Region and fan ------------------------------------------------------------------------ */

/* Fraction of @roi inside the union of the 2D regions of the Sequence of Ultrasound Regions. */
static double
inside_regions (const HepaImageInfo *info,
                const HepaRect      *roi)
{
  gint64 inside = 0;

  for (int y = roi->y; y < roi->y + roi->height; y++)
    {
      /* Per row: the union of the regions' spans, counted without double counting. */
      int covered_to = roi->x;

      for (int x = roi->x; x < roi->x + roi->width; x++)
        {
          gboolean in = x < covered_to;

          for (guint r = 0; !in && r < info->n_regions; r++)
            {
              const HepaUsRegion *g = &info->regions[r];

              if (g->spatial_format == 1 && x >= g->x0 && x <= g->x1 && y >= g->y0
                  && y <= g->y1)
                {
                  in = TRUE;
                  covered_to = MIN (g->x1 + 1, roi->x + roi->width);
                }
            }
          if (in)
            inside++;
        }
    }
  return (double) inside / ((double) roi->width * roi->height);
}

static gboolean
has_2d_region (const HepaImageInfo *info)
{
  for (guint r = 0; info != NULL && r < info->n_regions; r++)
    if (info->regions[r].spatial_format == 1)
      return TRUE;
  return FALSE;
}

/* Fraction of @roi inside the scan fan estimated from the frame: blocks filled with echo
 * texture; per block row the fan spans from its leftmost to its rightmost such block, and
 * vertically from the first to the last row that has one (so an anechoic cyst inside the
 * fan counts as inside). Sampled on every second pixel. */
static double
inside_fan (const HepaFrame *frame,
            const HepaRect  *roi)
{
  int bw = (frame->width + BLOCK - 1) / BLOCK;
  int bh = (frame->height + BLOCK - 1) / BLOCK;
  g_autofree int *left = g_new (int, bh);
  g_autofree int *right = g_new (int, bh);
  int top = -1, bottom = -1;
  gint64 inside = 0;
  Pixels px;

  pixels_init (&px, frame);
  for (int by = 0; by < bh; by++)
    {
      left[by] = bw;
      right[by] = -1;
      for (int bx = 0; bx < bw; bx++)
        {
          int n = 0, lit = 0;

          for (int y = by * BLOCK; y < MIN ((by + 1) * BLOCK, frame->height); y += 2)
            {
              const guint8 *row = frame->data + (gsize) y * frame->stride;

              for (int x = bx * BLOCK; x < MIN ((bx + 1) * BLOCK, frame->width); x += 2)
                {
                  int v;

                  if (frame->format == HEPA_PIXEL_RGB8)
                    v = luma (row + (gsize) x * 3);
                  else
                    {
                      guint mask = (1u << CLAMP (frame->bits_stored, 1, 16)) - 1;

                      v = px.lut[MIN (((const guint16 *) row)[x], mask)];
                    }
                  n++;
                  lit += v > FAN_DARK;
                }
            }
          if (n > 0 && lit >= FAN_FILL * n)
            {
              left[by] = MIN (left[by], bx);
              right[by] = MAX (right[by], bx);
            }
        }
      if (right[by] >= 0)
        {
          if (top < 0)
            top = by;
          bottom = by;
        }
    }
  pixels_clear (&px);
  if (top < 0)
    return 0;
  /* Rows inside the fan's vertical span without textured blocks (a large cyst) take the
   * span of the nearest row above that has one. */
  for (int by = top + 1; by <= bottom; by++)
    if (right[by] < 0)
      {
        left[by] = left[by - 1];
        right[by] = right[by - 1];
      }
  for (int y = roi->y; y < roi->y + roi->height; y++)
    {
      int by = y / BLOCK;
      int x0, x1;

      if (by < top || by > bottom)
        continue;
      x0 = MAX (roi->x, left[by] * BLOCK);
      x1 = MIN (roi->x + roi->width, (right[by] + 1) * BLOCK);
      if (x1 > x0)
        inside += x1 - x0;
    }
  return (double) inside / ((double) roi->width * roi->height);
}

/* ---- The checks ---------------------------------------------------------------------------- */

HepaApplicability *
hepa_applicability_check (HepaImage           *image,
                          const HepaFrame     *frame,
                          const HepaRect      *roi,
                          const HepaModelCard *card)
{
  HepaApplicability *self = g_new0 (HepaApplicability, 1);
  g_autoptr(GStrvBuilder) not_checked = g_strv_builder_new ();
  const HepaImageInfo *info = image != NULL ? hepa_image_get_info (image) : NULL;
  gint64 t0 = g_get_monotonic_time ();
  gint64 coloured = 0;
  g_autofree guint8 *mask = NULL;

  g_return_val_if_fail (frame != NULL && roi != NULL, self);

  self->reasons = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_reason_free);

  /* Modality. */
  if (info != NULL && g_strcmp0 (info->format, "DICOM") == 0)
    {
      if (g_strcmp0 (info->modality, "US") != 0)
        add_reason (self, HEPA_REASON_NOT_ULTRASOUND,
                    *info->modality != '\0'
                    ? g_strdup_printf (_("Not ultrasound: the file's modality is %s"),
                                       info->modality)
                    : g_strdup (_("Not ultrasound: the file names no modality")));
    }
  else
    g_strv_builder_add (not_checked, HEPA_REASON_NOT_ULTRASOUND);

  /* Colour in the ROI. */
  if (frame->format == HEPA_PIXEL_RGB8)
    {
      for (int y = roi->y; y < roi->y + roi->height; y++)
        {
          const guint8 *row = frame->data + (gsize) y * frame->stride + (gsize) roi->x * 3;

          for (int x = 0; x < roi->width; x++)
            coloured += chroma (row + 3 * x) >= COLOUR_CHROMA;
        }
      self->colour_fraction = (double) coloured / ((double) roi->width * roi->height);
      if (self->colour_fraction > COLOUR_FRACTION)
        add_reason (self, HEPA_REASON_COLOUR,
                    g_strdup_printf (_("Colour in the region (%.0f %% of its pixels): colour "
                                       "Doppler or elastography, not the B-mode the model "
                                       "learned"), 100 * self->colour_fraction));
    }

  /* Inside the ultrasound region, or else the scan fan. */
  if (has_2d_region (info))
    {
      self->inside_fraction = inside_regions (info, roi);
      if (self->inside_fraction < INSIDE_FRACTION)
        add_reason (self, HEPA_REASON_OUTSIDE_REGION,
                    g_strdup_printf (_("The region lies outside the image's ultrasound region "
                                       "(%.0f %% inside)"), 100 * self->inside_fraction));
    }
  else
    {
      self->inside_fraction = inside_fan (frame, roi);
      if (self->inside_fraction < INSIDE_FRACTION)
        add_reason (self, HEPA_REASON_OUTSIDE_FAN,
                    g_strdup_printf (_("The region lies outside the scan fan seen in the "
                                       "image (%.0f %% inside)"), 100 * self->inside_fraction));
    }

  /* Burned-in graphics. */
  mask = hepa_burnin_mask (frame, roi, &self->overlay_pixels);
  if (self->overlay_pixels >= OVERLAY_MIN_PIXELS
      && self->overlay_pixels >= 0.0005 * roi->width * roi->height)
    add_reason (self, HEPA_REASON_BURNED_IN,
                g_strdup_printf (_("Burned-in text, calipers or markers in the region (%u "
                                   "pixels)"), self->overlay_pixels));

  /* Size against the training ROIs: mm when both sides are calibrated, else pixels. */
  if (card != NULL && (card->has_roi_px || card->has_roi_mm))
    {
      double mm_x = 0, mm_y = 0;
      gboolean calibrated = card->has_roi_mm && image != NULL
                            && hepa_image_get_spacing_at (image, roi->x + roi->width / 2,
                                                          roi->y + roi->height / 2, &mm_x,
                                                          &mm_y);
      const double *ref = calibrated ? card->roi_mm : card->roi_px;
      double side = calibrated ? MAX (roi->width * mm_x, roi->height * mm_y)
                               : MAX (roi->width, roi->height);

      if (calibrated || card->has_roi_px)
        {
          if (side < ref[0] / SIZE_FACTOR)
            add_reason (self, HEPA_REASON_ROI_SIZE,
                        calibrated
                        ? g_strdup_printf (_("The region (%.1f mm) is far smaller than those "
                                             "the model learned from (%.1f–%.1f mm)"), side,
                                           ref[0], ref[2])
                        : g_strdup_printf (_("The region (%.0f px) is far smaller than those "
                                             "the model learned from (%.0f–%.0f px)"), side,
                                           ref[0], ref[2]));
          else if (side > ref[2] * SIZE_FACTOR)
            add_reason (self, HEPA_REASON_ROI_SIZE,
                        calibrated
                        ? g_strdup_printf (_("The region (%.1f mm) is far larger than those "
                                             "the model learned from (%.1f–%.1f mm)"), side,
                                           ref[0], ref[2])
                        : g_strdup_printf (_("The region (%.0f px) is far larger than those "
                                             "the model learned from (%.0f–%.0f px)"), side,
                                           ref[0], ref[2]));
        }
    }
  else
    g_strv_builder_add (not_checked, HEPA_REASON_ROI_SIZE);

  self->not_checked = g_strv_builder_end (not_checked);
  self->seconds = (g_get_monotonic_time () - t0) / 1e6;
  return self;
}
