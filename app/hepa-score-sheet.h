/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The score sheet at the end of a case-set session (issue 24): accuracy, per-class sensitivity,
 * the confusion table against the expert, time per case, the cases missed (activate one to
 * review it) and the model's score on the same cases beside the learner's; Export CSV. */
#pragma once

#include <gtk/gtk.h>

#include "hepa-caseset.h"

G_BEGIN_DECLS

#define HEPA_TYPE_SCORE_SHEET (hepa_score_sheet_get_type ())
G_DECLARE_FINAL_TYPE (HepaScoreSheet, hepa_score_sheet, HEPA, SCORE_SHEET, GtkWindow)

/* @order: answer i is case order[i] of @set. Takes @set (transfer full); copies the rest. */
HepaScoreSheet *hepa_score_sheet_new (GtkWindow            *parent,
                                      const char           *learner,
                                      const char *const    *classes,
                                      HepaCaseSet          *set,
                                      const guint          *order,
                                      const HepaCaseAnswer *answers,
                                      guint                 n_answers,
                                      const char           *scores_path);
const HepaCaseScore *hepa_score_sheet_get_score (HepaScoreSheet *self);
/* The case of answer @index (for review), or NULL. */
const HepaCase *hepa_score_sheet_get_case (HepaScoreSheet *self,
                                           guint           index);
/* The summary as one line of text ("3 cases · you 2/3 (66.7 %) · model 1/3 (33.3 %)"). */
char           *hepa_score_sheet_summary   (HepaScoreSheet *self);
/* Writes the per-case CSV to @path. */
gboolean        hepa_score_sheet_export    (HepaScoreSheet *self,
                                            const char     *path,
                                            GError        **error);

G_END_DECLS
