/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Model comparison: two models over the study's labeled regions, per-class sensitivity and
 * specificity side by side, and the regions where the two models disagree (activating one
 * emits "roi-activated"). */
#pragma once

#include <gtk/gtk.h>

#include "hepa-metrics.h"
#include "hepa-model.h"

G_BEGIN_DECLS

typedef struct
{
  GPtrArray   *items;        /* (element-type HepaReviewItem) the regions compared */
  HepaMetrics *metrics[2];   /* per model, against the labels, in each model's class order */
  char       **top[2];       /* per model and item: the top class (NULL-terminated) */
  float       *top_p[2];     /* per model and item: its probability */
  GArray      *disagree;     /* (element-type guint) items where the top classes differ */
  guint        n_skipped;    /* labeled regions left out: a label one model lacks, a file
                              * that cannot be read */
} HepaComparison;

void            hepa_comparison_free (HepaComparison     *self);
/* Classifies every labeled region (agreed or adjudicated) of @paths with @a and @b. Fails on
 * cancellation, or when no region could be compared. */
HepaComparison *hepa_compare_run     (HepaModel          *a,
                                      HepaModel          *b,
                                      const char *const  *paths,
                                      GCancellable       *cancellable,
                                      GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaComparison, hepa_comparison_free)

#define HEPA_TYPE_COMPARE (hepa_compare_get_type ())
G_DECLARE_FINAL_TYPE (HepaCompare, hepa_compare, HEPA, COMPARE, GtkWindow)

/* The two models are picked from the library (hepa_model_library_list), @current_model
 * (nullable) first. */
HepaCompare *hepa_compare_new      (GtkWindow         *parent,
                                    const char *const *paths,
                                    const char        *current_model);
/* GAction-ready: makes and presents it. (transfer none) */
HepaCompare *hepa_compare_present  (GtkWindow         *parent,
                                    const char *const *paths,
                                    const char        *current_model);
/* Compares the models at these paths on a worker; "finished" when done. */
void         hepa_compare_start    (HepaCompare       *self,
                                    const char        *model_a,
                                    const char        *model_b);
/* The last comparison (transfer none), or NULL. */
const HepaComparison *hepa_compare_get_result (HepaCompare *self);

G_END_DECLS
