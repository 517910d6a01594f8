/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Burned-in text and markers in ultrasound frames: patient names, dates, calipers, measurement
 * lines, body marks drawn into the pixels by the scanner. They are thin strokes, near white or
 * strongly coloured, much brighter than what lies a few pixels around them; B-mode speckle is
 * gray and its bright spots are blobs, not strokes on a dark ground. Used by the export to blank
 * them in crops and frames; written for applicability checks to share. */
#pragma once

#include <glib.h>

#include "hepa-image.h"
#include "hepa-types.h"

G_BEGIN_DECLS

/* Finds text and marker pixels in @rect of @frame (gray or RGB). Returns a (rect->height,
 * rect->width) mask, 1 on text/marker pixels, grown by one pixel so antialiased edges are
 * covered; @n_marked (nullable) receives the number of pixels marked before growing. @rect is
 * clamped to the frame; NULL when nothing of it is inside. */
guint8 *hepa_burnin_mask (const HepaFrame *frame,
                          const HepaRect  *rect,
                          guint           *n_marked);
/* The same detector at a stricter point (brighter strokes, higher contrast), for saying that a
 * ROI holds burned-in graphics without firing on bright speckle. Same mask format. */
guint8 *hepa_burnin_find (const HepaFrame *frame,
                          const HepaRect  *rect,
                          guint           *n_marked);

G_END_DECLS
