/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Whether a model's answer applies to a region at all: checks that need no model (modality,
 * colour, the ultrasound region or scan fan, burned-in graphics) and one that needs its card
 * (the ROI's size against the ROIs it learned from). Each failed check is a named reason. */
#pragma once

#include <glib.h>

#include "hepa-image.h"
#include "hepa-model-card.h"

G_BEGIN_DECLS

/* Reason codes (stable; classify --json and export manifests carry them). */
#define HEPA_REASON_NOT_ULTRASOUND   "not-ultrasound"
#define HEPA_REASON_COLOUR           "colour"
#define HEPA_REASON_OUTSIDE_REGION   "outside-region"
#define HEPA_REASON_OUTSIDE_FAN      "outside-fan"
#define HEPA_REASON_BURNED_IN        "burned-in-graphics"
#define HEPA_REASON_ROI_SIZE         "roi-size"

typedef struct
{
  char *code;                  /* one of HEPA_REASON_* */
  char *message;               /* translated, one sentence, with the figure that failed */
} HepaReason;

void hepa_reason_free (HepaReason *reason);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaReason, hepa_reason_free)

typedef struct
{
  GPtrArray *reasons;          /* (element-type HepaReason): the checks that failed, in order */
  char     **not_checked;      /* NULL-terminated codes of checks that could not run (PNG and
                                * JPEG carry no modality; uncalibrated size checks fall back to
                                * pixels and do not appear here) */
  double     colour_fraction;  /* of the ROI's pixels */
  double     inside_fraction;  /* of the ROI inside the ultrasound region or estimated fan */
  guint      overlay_pixels;   /* burned-in graphics pixels found in the ROI */
  double     seconds;          /* time the checks took */
} HepaApplicability;

void hepa_applicability_free (HepaApplicability *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaApplicability, hepa_applicability_free)

/* Runs every check on @roi (already clamped to the frame) of @frame of @image. @card
 * (nullable) gives the training ROI sizes. Never fails: a check that cannot run is listed in
 * not_checked. */
HepaApplicability *hepa_applicability_check (HepaImage           *image,
                                             const HepaFrame     *frame,
                                             const HepaRect      *roi,
                                             const HepaModelCard *card);

G_END_DECLS
