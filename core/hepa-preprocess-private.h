/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Preprocessing internals shared by the engine (CAM geometry) and the tests. */
#pragma once

#include "hepa-engine.h"

G_BEGIN_DECLS

/* Where a roi_width x roi_height region lands in the size x size model input: at (x, y) with
 * width x height pixels (the whole input for stretch; centred, aspect kept, for letterbox). */
void hepa_preprocess_geometry (const HepaModelCard *card,
                               int                  roi_width,
                               int                  roi_height,
                               int                 *x,
                               int                 *y,
                               int                 *width,
                               int                 *height);

/* Resamples @src (src_h, src_w) into @dst (dst_h, dst_w), one float plane, with a triangle
 * (bilinear) filter widened by the scale factor when shrinking, so every source pixel counts
 * (Pillow's BILINEAR). @tmp holds src_h * dst_w floats. */
void hepa_resample_plane      (const float *src,
                               int          src_w,
                               int          src_h,
                               float       *dst,
                               int          dst_w,
                               int          dst_h,
                               float       *tmp);

G_END_DECLS
