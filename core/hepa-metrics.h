/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Classification metrics from a confusion matrix (the seed paper's equations 1-3) and
 * one-vs-rest ROC curves, per fold and as mean +- SD over folds. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Per-class values are NaN when undefined (e.g. sensitivity of a class with no samples). */
typedef struct
{
  guint    n_classes;
  char   **classes;        /* NULL-terminated */
  guint    n;              /* samples */
  guint   *confusion;      /* (n_classes, n_classes): row = true class, column = predicted */
  double   accuracy;       /* overall: trace / n */
  double  *class_accuracy; /* equation 1 per class, one vs rest: (TP + TN) / n */
  double  *sensitivity;    /* equation 2: TP / (TP + FN), also recall */
  double  *specificity;    /* equation 3: TN / (TN + FP) */
  double  *precision;      /* TP / (TP + FP) */
  double  *f1;
  double  *auc;            /* one-vs-rest ROC AUC from the predicted probabilities */
  double   macro_sensitivity;
  double   macro_specificity;
  double   macro_precision;
  double   macro_f1;
  double   macro_auc;
  double   loss;           /* mean cross-entropy, NaN when not known */
} HepaMetrics;

/* labels (n) in [0, n_classes), probs (n, n_classes); the prediction is the arg max. */
HepaMetrics *hepa_metrics_compute (guint               n_classes,
                                   const char *const  *classes,
                                   guint               n,
                                   const int          *labels,
                                   const float        *probs);
void         hepa_metrics_free    (HepaMetrics        *self);

/* One-vs-rest ROC of class @k: points (fpr, tpr) from (0, 0) to (1, 1), ties merged.
 * Returns the number of points; *fpr and *tpr are newly allocated. */
guint        hepa_metrics_roc     (guint               n_classes,
                                   guint               n,
                                   const int          *labels,
                                   const float        *probs,
                                   guint               k,
                                   double            **fpr,
                                   double            **tpr);

/* Adds the metrics as members of the object being built (accuracy, per_class..., confusion). */
void         hepa_metrics_add_json (const HepaMetrics  *self,
                                    JsonBuilder        *builder);

/* Mean and sample standard deviation (n - 1) over folds, NaN values left out. */
typedef struct
{
  double mean;
  double sd;
  guint  n;
} HepaMeanSd;

HepaMeanSd   hepa_mean_sd          (const double       *values,
                                    guint               n);

/* Adds a "mean_sd" style summary of @folds: accuracy, macro values and per-class values, each
 * as {"mean": m, "sd": s}, plus the summed confusion matrix. */
void         hepa_metrics_add_summary_json (HepaMetrics *const *folds,
                                            guint               n_folds,
                                            JsonBuilder        *builder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaMetrics, hepa_metrics_free)

G_END_DECLS
