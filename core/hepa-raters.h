/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Several raters per ROI: which label counts (consensus or adjudication), and how well the
 * raters agree: Cohen's kappa (two raters), Fleiss' kappa (more), per-class specific agreement
 * and the confusion table between two raters. No I/O. */
#pragma once

#include "hepa-annotations.h"

G_BEGIN_DECLS

typedef enum
{
  HEPA_CONSENSUS_UNLABELED,    /* no rater labeled it */
  HEPA_CONSENSUS_AGREED,       /* one rater, or all raters gave the same label */
  HEPA_CONSENSUS_ADJUDICATED,  /* an adjudicated label decides */
  HEPA_CONSENSUS_DISAGREED,    /* raters differ and nobody adjudicated: left out of exports */
} HepaConsensus;

/* The label an export uses for @roi in *label (transfer none, owned by @roi; NULL unless
 * AGREED or ADJUDICATED). */
HepaConsensus hepa_roi_get_consensus (const HepaRoi  *roi,
                                      const char    **label);

/* Ratings of a study gathered item by item (an item is one ROI), for agreement figures. */
typedef struct _HepaRaterTable HepaRaterTable;

HepaRaterTable *hepa_rater_table_new        (void);
void            hepa_rater_table_free       (HepaRaterTable       *self);
/* Adds one item: every rater's label of @roi (see hepa_roi_dup_ratings). */
void            hepa_rater_table_add_roi    (HepaRaterTable       *self,
                                             const HepaRoi        *roi);
/* Adds one rating of item @item (any key unique to the item, e.g. "file#roi-id"). */
void            hepa_rater_table_add        (HepaRaterTable       *self,
                                             const char           *item,
                                             const char           *rater,
                                             const char           *label);

/* Sorted names. (transfer none) (element-type utf8) */
GPtrArray      *hepa_rater_table_get_raters (const HepaRaterTable *self);
GPtrArray      *hepa_rater_table_get_labels (const HepaRaterTable *self);
guint           hepa_rater_table_get_n_items (const HepaRaterTable *self);
/* Items rated by @rater. */
guint           hepa_rater_table_count_rater (const HepaRaterTable *self,
                                              const char           *rater);
/* Items rated by @a and @b, and how many of them they labeled alike. */
guint           hepa_rater_table_count_pair (const HepaRaterTable *self,
                                             const char           *a,
                                             const char           *b,
                                             guint                *n_agree);

/* Cohen's kappa of raters @a and @b over the items both rated: (po - pe) / (1 - pe). NaN when
 * they share no item or pe is 1 (both used one label only). *n_items (nullable): items used. */
double          hepa_rater_table_cohen_kappa (const HepaRaterTable *self,
                                              const char           *a,
                                              const char           *b,
                                              guint                *n_items);
/* Fleiss' kappa over the items that every rater rated (the classic form needs the same number
 * of ratings per item). NaN with fewer than two raters, no such item, or Pe = 1. */
double          hepa_rater_table_fleiss_kappa (const HepaRaterTable *self,
                                               guint                *n_items);
/* Specific agreement for @label over items with at least two ratings:
 * sum_i n_il (n_il - 1) / sum_i n_il (n_i - 1), which for two raters is 2a / (2a + b + c).
 * NaN when no pair of ratings involves @label. */
double          hepa_rater_table_class_agreement (const HepaRaterTable *self,
                                                  const char           *label);
/* Confusion table of @a (rows) against @b (columns) over the items both rated, indexed as
 * hepa_rater_table_get_labels: (transfer full) n_labels * n_labels counts. */
guint          *hepa_rater_table_confusion (const HepaRaterTable *self,
                                            const char           *a,
                                            const char           *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaRaterTable, hepa_rater_table_free)

G_END_DECLS
