/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The review grid: every labeled region of a study as a thumbnail, grouped by label (what an
 * export will contain), sortable by how much the model disagrees with the label and by the
 * model's top-class probability; raters who disagree are marked. Activating a thumbnail emits
 * "roi-activated" (file, ROI id); the number keys relabel the selected thumbnails. */
#pragma once

#include <gtk/gtk.h>

#include "hepa-types.h"

G_BEGIN_DECLS

typedef struct
{
  char      *path;             /* the image */
  char      *roi_id;
  guint      frame;
  HepaRect   rect;
  char      *label;            /* the label that counts; NULL when the raters disagree */
  gboolean   raters_disagree;
  char      *pred_top;         /* the model's top class when the ROI was labeled, or NULL */
  double     top_probability;  /* NaN without a prediction */
  double     disagreement;     /* 1 - the model's probability of @label; NaN without one */
} HepaReviewItem;

void       hepa_review_item_free (HepaReviewItem *item);

typedef enum
{
  HEPA_REVIEW_SORT_FILE,          /* file, then ROI order */
  HEPA_REVIEW_SORT_DISAGREEMENT,  /* largest disagreement first, no prediction last */
  HEPA_REVIEW_SORT_CONFIDENCE,    /* lowest top-class probability first, no prediction last */
} HepaReviewSort;

/* The labeled regions (agreed, adjudicated or in dispute) of @paths' sidecars, read without
 * moving a damaged one aside (such files are skipped). (element-type HepaReviewItem) */
GPtrArray *hepa_review_collect   (const char *const *paths);
/* Stable sort of @items (element-type HepaReviewItem). */
void       hepa_review_sort      (GPtrArray         *items,
                                  HepaReviewSort     sort);
/* Gives every item of @items the label @label by @rater (a rating of theirs, see
 * hepa_roi_set_rating) and saves each sidecar once. Items are updated. */
gboolean   hepa_review_relabel   (GPtrArray         *items,
                                  const char        *label,
                                  const char        *rater,
                                  GError           **error);

#define HEPA_TYPE_REVIEW (hepa_review_get_type ())
G_DECLARE_FINAL_TYPE (HepaReview, hepa_review, HEPA, REVIEW, GtkWindow)

/* @classes: the labels the number keys 1..9 give (NULL: the default five). */
HepaReview *hepa_review_new          (GtkWindow          *parent,
                                      const char *const  *paths,
                                      const char *const  *classes,
                                      const char         *rater);
/* GAction-ready: makes and presents it. (transfer none) */
HepaReview *hepa_review_present      (GtkWindow          *parent,
                                      const char *const  *paths,
                                      const char *const  *classes,
                                      const char         *rater);
void        hepa_review_set_sort     (HepaReview         *self,
                                      HepaReviewSort      sort);
/* The items as shown, in order (transfer none). */
GPtrArray  *hepa_review_get_items    (HepaReview         *self);
/* Selects the shown items with these indices (tests; the user clicks or drags). */
void        hepa_review_select       (HepaReview         *self,
                                      const guint        *indices,
                                      guint               n);
/* What number key @n (1-based) does: relabels the selection to classes[n - 1]. */
gboolean    hepa_review_relabel_selection (HepaReview *self,
                                           guint       n,
                                           GError    **error);
/* Reads the sidecars again and rebuilds the grid. */
void        hepa_review_reload       (HepaReview         *self);

G_END_DECLS
