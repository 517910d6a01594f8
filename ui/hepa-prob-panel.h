/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Class probabilities as bars and percentages, the top class, an "uncertain" flag when the
 * top two are close, and the model that produced them; and how far to trust them: the reasons
 * the answer may not apply and "Outside what this model learned" before any class name (the
 * values then greyed), the conformal prediction set, whether the model is calibrated, and one
 * permanent line with the model card's intended use. Everything is also exposed as text to
 * assistive technologies. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define HEPA_TYPE_PROB_PANEL (hepa_prob_panel_get_type ())
G_DECLARE_FINAL_TYPE (HepaProbPanel, hepa_prob_panel, HEPA, PROB_PANEL, GtkWidget)

/* Top two closer than this (in percentage points) is shown as uncertain. */
#define HEPA_UNCERTAIN_MARGIN 10.0

GtkWidget  *hepa_prob_panel_new          (void);
/* The classes in card order; clears the values. */
void        hepa_prob_panel_set_classes  (HepaProbPanel      *self,
                                          const char *const *classes);
/* Shows (n_classes) probabilities from @model_id; @n must match the classes. */
void        hepa_prob_panel_set_result   (HepaProbPanel      *self,
                                          const float        *probabilities,
                                          guint               n,
                                          const char         *model_id,
                                          double              latency_ms);
/* What the panel says about trusting a result (all members may be zero/NULL). */
typedef struct
{
  const char *const *reasons;   /* NULL-terminated, translated: failed applicability checks */
  gboolean           has_ood;   /* the model has an out-of-distribution reference */
  gboolean           outside;   /* the OOD score is above the model's threshold */
  gboolean           calibrated;
  const guint8      *in_set;    /* (n) the prediction set, NULL when not calibrated */
  double             coverage;  /* of the set, e.g. 0.9 */
} HepaProbTrust;

/* Like hepa_prob_panel_set_result, then @trust (nullable: nothing known about trust, as a
 * model without the card fields: "Not calibrated · No out-of-distribution reference"). With
 * reasons or @outside the explanation comes first and the values are greyed, never hidden. */
void        hepa_prob_panel_set_result_full (HepaProbPanel       *self,
                                             const float         *probabilities,
                                             guint                n,
                                             const char          *model_id,
                                             double               latency_ms,
                                             const HepaProbTrust *trust);
/* The model card's intended use: one line that stays while results come and go. NULL hides
 * it (no model). */
void        hepa_prob_panel_set_intended_use (HepaProbPanel      *self,
                                              const char         *text);
const char *hepa_prob_panel_get_intended_use (HepaProbPanel      *self);
/* TRUE when the values are greyed (a failed check or outside what the model learned). */
gboolean    hepa_prob_panel_get_greyed   (HepaProbPanel      *self);
/* The prediction set as shown ("cyst or hemangioma, 90 %"), or NULL without one. */
char       *hepa_prob_panel_dup_set_text (HepaProbPanel      *self);
/* Clears the values and shows @message (e.g. "Draw a region to classify it"). */
void        hepa_prob_panel_clear        (HepaProbPanel      *self,
                                          const char         *message);
/* Marks the values as out of date while a newer result is computed. */
void        hepa_prob_panel_set_busy     (HepaProbPanel      *self,
                                          gboolean            busy);
/* Index of the top class, or -1 when empty. */
int         hepa_prob_panel_get_top      (HepaProbPanel      *self);
gboolean    hepa_prob_panel_get_uncertain (HepaProbPanel     *self);
/* The text a screen reader gets for the whole panel (transfer full). */
char       *hepa_prob_panel_dup_summary  (HepaProbPanel      *self);

/* TRUE when the two largest of (n) probabilities are within @margin_points percentage points.
 * Writes the indices of the two largest when non-NULL. */
gboolean    hepa_probabilities_uncertain (const float        *probabilities,
                                          guint               n,
                                          double              margin_points,
                                          int                *first,
                                          int                *second);

G_END_DECLS
