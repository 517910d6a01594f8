/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Read first: the user commits their own class for an ROI before the model's answer is shown.
 *
 * Reader studies show that people over-trust an AI answer they see before they commit to their
 * own. This state machine holds the model's answer, the prediction set (when the model card has
 * one), the saliency and the expert label back until the user commits a class with keys 1..N
 * (N = number of classes, at most 9); then it reveals them and records the read (rater, class,
 * time to decide) for the sidecar. Headless: it never draws; the window asks it what to show.
 *
 *   WAITING ──begin(roi)──▶ READING ──commit(key)──▶ REVEALED ──begin(next roi)──▶ READING
 *
 * Times are passed in (monotonic microseconds) so that tests need no clock. */
#pragma once

#include <glib.h>

#include "hepa-annotations.h"

G_BEGIN_DECLS

typedef enum
{
  HEPA_READ_FIRST_WAITING,   /* no ROI selected */
  HEPA_READ_FIRST_READING,   /* an ROI is on screen; the model's answer is held back */
  HEPA_READ_FIRST_REVEALED,  /* the user committed; everything may be shown */
} HepaReadFirstState;

typedef struct _HepaReadFirst HepaReadFirst;

/* @classes: the class names in key order (key 1 = classes[0]); 1..9 of them. */
HepaReadFirst      *hepa_read_first_new     (const char         *rater,
                                             const char *const  *classes);
void                hepa_read_first_free    (HepaReadFirst      *self);

HepaReadFirstState  hepa_read_first_get_state (HepaReadFirst    *self);
const char         *hepa_read_first_get_rater (HepaReadFirst    *self);
void                hepa_read_first_set_rater (HepaReadFirst    *self,
                                               const char       *rater);
guint               hepa_read_first_get_n_classes (HepaReadFirst *self);
const char         *hepa_read_first_get_class (HepaReadFirst    *self,
                                               guint             index);

/* Starts reading @roi_id at @now_us (monotonic microseconds); forgets any earlier ROI's model
 * answer and commit. @expert_label may be NULL (no expert label for this case). */
void                hepa_read_first_begin   (HepaReadFirst      *self,
                                             const char         *roi_id,
                                             const char         *expert_label,
                                             gint64              now_us);
/* Hands over the model's answer for the current ROI (any time, before or after the commit).
 * @prediction_set: indices of the classes in the set, or NULL when the card has none. */
void                hepa_read_first_set_model_answer (HepaReadFirst *self,
                                                      const char    *model_id,
                                                      const float   *probabilities,
                                                      guint          n_probabilities,
                                                      const guint   *prediction_set,
                                                      guint          n_set);

/* The class index for a key ('1'..'9' as a character), or -1 when the key is no class. */
int                 hepa_read_first_class_for_key (HepaReadFirst *self,
                                                   guint          unicode_char);
/* Commits class @class_index for the current ROI at @now_us. Fails with
 * HEPA_ERROR_INVALID_ARGUMENT when no ROI is being read, it is already committed or the index
 * is out of range. On success the state is REVEALED. */
gboolean            hepa_read_first_commit  (HepaReadFirst      *self,
                                             guint               class_index,
                                             gint64              now_us,
                                             GError            **error);

/* What may be shown. Before the commit all of these are NULL / FALSE whatever was handed over. */
gboolean            hepa_read_first_is_revealed       (HepaReadFirst *self);
const float        *hepa_read_first_get_probabilities (HepaReadFirst *self,
                                                       guint         *n);
const guint        *hepa_read_first_get_prediction_set (HepaReadFirst *self,
                                                        guint         *n);
const char         *hepa_read_first_get_model_id      (HepaReadFirst *self);
/* The class the model ranks first; -1 before the reveal or when no answer came. */
int                 hepa_read_first_get_model_top     (HepaReadFirst *self);
const char         *hepa_read_first_get_expert_label  (HepaReadFirst *self);
gboolean            hepa_read_first_may_show_saliency (HepaReadFirst *self);

/* After the commit: the committed class, and the time from begin to commit. */
int                 hepa_read_first_get_committed     (HepaReadFirst *self);
gint64              hepa_read_first_get_time_to_decide_ms (HepaReadFirst *self);
const char         *hepa_read_first_get_roi_id        (HepaReadFirst *self);
/* The committed read as a sidecar record, decided at @unix_seconds (UTC); NULL before the
 * commit. @mode: "read-first" or "quiz". */
HepaRoiRead        *hepa_read_first_make_read (HepaReadFirst *self,
                                               gint64         unix_seconds,
                                               const char    *mode);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaReadFirst, hepa_read_first_free)

G_END_DECLS
