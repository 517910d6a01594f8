/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fitting what a card needs to say how far to trust a model: the out-of-distribution reference
 * (class means and a low-rank shared covariance of the pooled features, with score percentiles
 * on held-out crops), a temperature for the logits and a split-conformal threshold. */
#pragma once

#include <glib.h>

#include "hepa-model.h"
#include "hepa-model-card.h"
#include "hepa-train.h"

G_BEGIN_DECLS

#define HEPA_ECE_BINS 15

/* Reliability of top-label confidences: per bin of width 1/HEPA_ECE_BINS, the count, mean
 * confidence and accuracy; ece is the count-weighted mean |accuracy - confidence|. */
typedef struct
{
  guint   count[HEPA_ECE_BINS];
  double  confidence[HEPA_ECE_BINS];
  double  accuracy[HEPA_ECE_BINS];
  double  ece;
} HepaReliability;

/* Softmax of @logits (n, n_classes) divided by @temperature, then the reliability of the top
 * label against @labels. */
void     hepa_reliability_compute (const float    *logits,
                                   const guint    *labels,
                                   guint           n,
                                   guint           n_classes,
                                   double          temperature,
                                   HepaReliability *out);

/* The temperature minimizing the negative log-likelihood of @labels (golden-section search on
 * log T over [0.05, 20]). */
double   hepa_fit_temperature     (const float    *logits,
                                   const guint    *labels,
                                   guint           n,
                                   guint           n_classes);

/* Fits @card's calibration and OOD reference from @n crops the model has not been trained on:
 * pooled @features (n, dim), @logits (n, n_classes), true @labels (card order). Crops 0, 2,
 * 4, ... fit the class means and covariance; crops 1, 3, 5, ... give the score percentiles,
 * the temperature and the conformal threshold for @coverage. @reference says what the crops
 * are (kept in the card). Then rewrites card->json. */
gboolean hepa_calibrate_card      (HepaModelCard  *card,
                                   const float    *features,
                                   guint           dim,
                                   const float    *logits,
                                   const guint    *labels,
                                   guint           n,
                                   double          coverage,
                                   const char     *reference,
                                   GError        **error);

/* Sets card->training_roi from the longer sides of the ROIs (pixels; mm entries NAN when
 * uncalibrated, used when at least half are calibrated). */
void     hepa_calibrate_roi_sizes (HepaModelCard  *card,
                                   const double   *side_px,
                                   const double   *side_mm,
                                   guint           n);

typedef void (*HepaCalibrateProgress) (guint done, guint total, gpointer user_data);

/* Classifies every crop of @data (whole image) with @model: pooled @features (n, dim), logits
 * (n, n_classes) and labels in the card's order; a class the card lacks is an error. */
gboolean hepa_calibrate_measure   (HepaModel            *model,
                                   const HepaDataset    *data,
                                   float               **features,
                                   guint                *dim,
                                   float               **logits,
                                   guint               **labels,
                                   HepaCalibrateProgress progress,
                                   gpointer              user_data,
                                   GError              **error);

/* The trainer's hook, after it saved a model at @path trained on @data: the OOD reference from
 * the model's features on the training crops (even crops fit, odd crops give the percentiles),
 * and, when out-of-fold probabilities of a cross-validation are given (@n_oof >= 20), the
 * temperature and 90 % conformal threshold from them. Rewrites the card in the file. */
gboolean hepa_calibrate_after_training (const char        *path,
                                        const HepaDataset *data,
                                        const float       *oof_probs,
                                        const guint       *oof_labels,
                                        guint              n_oof,
                                        GError           **error);

G_END_DECLS
