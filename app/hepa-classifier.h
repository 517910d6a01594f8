/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "hepa-annotations.h"
#include "hepa-engine.h"
#include "hepa-image.h"
#include "hepa-model-handle.h"

G_BEGIN_DECLS

/* Classifies the selected region of an image with the model, on the engine's worker, and keeps
 * the last answer. No widgets: it works without a display.
 *
 * Scheduling policy (one cancellable; at most one inference in flight):
 *  - hepa_classifier_request (roi, live = TRUE), inside a drag: a running inference is left to
 *    finish, so answers keep coming while the pointer moves, and ONE request is queued: the
 *    newest region replaces any queued one and starts when the running one ends.
 *  - live = FALSE, a finished edit (release, undo, a label key, a new selection): a running
 *    inference for another region or place is cancelled and the newest region is answered
 *    first.
 *  - A request for the region the running inference already answers (same id, frame and
 *    rectangle) changes nothing; one whose answer is already kept emits "result" again at
 *    once (and cancels what runs).
 *  - request (NULL), a new image or a new model cancel what runs and drop the queued request;
 *    the last two also drop the kept answer. An answer is emitted only for the image and
 *    model it was asked for.
 * The worker threads are lowered to nice 10 when the first inference starts, so the main loop
 * gets a core back at once on a two-core machine. */

#define HEPA_TYPE_CLASSIFIER (hepa_classifier_get_type ())
G_DECLARE_FINAL_TYPE (HepaClassifier, hepa_classifier, HEPA, CLASSIFIER, GObject)

HepaClassifier   *hepa_classifier_new                (void);

void              hepa_classifier_set_model          (HepaClassifier  *self,
                                                      HepaModelHandle *model);
HepaModelHandle  *hepa_classifier_get_model          (HepaClassifier  *self);
void              hepa_classifier_set_image          (HepaClassifier  *self,
                                                      HepaImage       *image);

void              hepa_classifier_request            (HepaClassifier  *self,
                                                      const HepaRoi   *roi,
                                                      gboolean         live);
/* An inference is running. */
gboolean          hepa_classifier_get_busy           (HepaClassifier  *self);
/* A request waits for the running one. */
gboolean          hepa_classifier_get_pending        (HepaClassifier  *self);

/* The last answer, or NULL; the region it answers and when its inference started. */
const HepaResult *hepa_classifier_get_result         (HepaClassifier  *self);
const char       *hepa_classifier_get_result_roi_id  (HepaClassifier  *self);
guint             hepa_classifier_get_result_frame   (HepaClassifier  *self);
gint64            hepa_classifier_get_result_start_us (HepaClassifier *self);
/* The kept answer is for @roi as it is now (id, frame and rectangle). */
gboolean          hepa_classifier_answers            (HepaClassifier  *self,
                                                      const HepaRoi   *roi);

G_END_DECLS
