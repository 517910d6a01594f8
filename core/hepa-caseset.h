/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Case sets for teaching (issue 24): images with expert-labelled ROIs, worked through in
 * read-first mode, and the score sheet of a learner's session.
 *
 * A case set is either a folder (every file in it with a sidecar next to it; each labelled
 * ROI of each is one case; files in name order, ROIs in sidecar order) or a list file: one image
 * path a line, relative to the list file's folder, blank lines and lines starting with '#'
 * skipped. The expert label is the ROI's label in the sidecar.
 *
 * Order: fixed (as loaded) or seeded random (a Fisher-Yates shuffle driven by SplitMix64, so
 * that a seed gives the same order on every machine and GLib version).
 *
 * Scores: accuracy, per-class sensitivity, the confusion table against the expert
 * (rows: expert, columns: learner), time per case, the cases missed, and the model's score on
 * the same cases beside the learner's. Scores are kept per learner in
 * hepa_case_scores_dir() as one CSV file per learner, one line per session. */
#pragma once

#include <gio/gio.h>

#include "hepa-synth.h"
#include "hepa-types.h"

G_BEGIN_DECLS

typedef struct
{
  char      *image_path;     /* absolute */
  char      *roi_id;
  guint      frame;
  HepaRect   rect;
  char      *expert_label;
} HepaCase;

typedef struct
{
  char      *name;           /* the folder's or list file's base name */
  char      *source;         /* the folder or list file */
  GPtrArray *cases;          /* (element-type HepaCase) */
} HepaCaseSet;

HepaCaseSet *hepa_case_set_new   (const char  *name);
void         hepa_case_set_free  (HepaCaseSet *self);
void         hepa_case_set_add   (HepaCaseSet *self,
                                  const char  *image_path,
                                  const char  *roi_id,
                                  guint        frame,
                                  const HepaRect *rect,
                                  const char  *expert_label);
/* Loads a folder or a list file. Fails (one line naming the file) on a list line naming a
 * missing image, a damaged sidecar, or a set with no labelled ROI at all. */
HepaCaseSet *hepa_case_set_load  (const char  *path,
                                  GError     **error);
/* The order to present the cases in: 0..n-1 when @shuffle is FALSE, else a permutation that
 * depends only on @seed and the number of cases. Free with g_free. */
guint       *hepa_case_set_order (const HepaCaseSet *self,
                                  gboolean           shuffle,
                                  guint64            seed);

/* One case's answers: class indices into the score's classes, -1 for none (skipped, or no
 * model answer). */
typedef struct
{
  int     expert;
  int     learner;
  int     model;
  gint64  time_ms;
} HepaCaseAnswer;

typedef struct
{
  guint     n_classes;
  GStrv     classes;
  guint     n_cases;
  guint     n_correct;
  double    accuracy;            /* NAN with no cases */
  double   *sensitivity;         /* per class: correct / expert count; NAN where no case */
  double    balanced_accuracy;   /* mean of the defined sensitivities */
  guint    *confusion;           /* n_classes x n_classes, [expert * n + learner] */
  guint     n_skipped;           /* learner answered nothing */
  GArray   *missed;              /* (element-type guint): answer indices the learner got wrong */
  gint64   *time_ms;             /* per answer */
  double    mean_time_ms;
  double    median_time_ms;
  /* The model on the cases it answered (n_model_cases of them). */
  guint     n_model_cases;
  guint     n_model_correct;
  double    model_accuracy;      /* NAN when it answered none */
  double   *model_sensitivity;
  double    model_balanced_accuracy;
  GArray   *model_missed;
} HepaCaseScore;

HepaCaseScore *hepa_case_score_compute (const char *const    *classes,
                                        const HepaCaseAnswer *answers,
                                        guint                 n_answers);
void           hepa_case_score_free    (HepaCaseScore        *self);
/* The index of @label in @classes, -1 when absent or NULL. */
int            hepa_case_class_index   (const char *const    *classes,
                                        const char           *label);

/* Per-case CSV (header, then one row per answer, in answer order): case, image, roi, expert,
 * learner, correct, time_ms, model, model_correct. @cases gives the image and ROI of each
 * answer (answer i is case order[i]; @order NULL means the identity). */
char          *hepa_case_score_to_csv  (const HepaCaseScore  *self,
                                        const HepaCaseSet    *set,
                                        const guint          *order,
                                        const HepaCaseAnswer *answers);

/* g_get_user_data_dir()/hepascope/scores */
char          *hepa_case_scores_dir    (void);
/* Appends a session summary line to <dir>/<learner>.csv (creating it with a header):
 * finished (ISO 8601), case_set, n_cases, correct, accuracy, balanced_accuracy, mean_time_ms,
 * model_accuracy, then one sensitivity column per class. Returns the file's path. */
char          *hepa_case_scores_append (const char           *dir,
                                        const char           *learner,
                                        const char           *case_set_name,
                                        const HepaCaseScore  *score,
                                        gint64                finished_unix,
                                        GError              **error);

/* Phantom case sets (issue 24, the gallery's "make a case set"): renders phantom @index of
 * @klass (hepa-synth) as 8-bit gray with its lesion's deviation from the mean liver echo
 * scaled by @contrast (0.1..1; 1: as generated), the lower the harder. *@gray is
 * (height, width); free with g_free. */
gboolean     hepa_case_phantom_render (int             klass,
                                       guint64         seed,
                                       guint           index,
                                       double          contrast,
                                       guint8        **gray,
                                       HepaSynthInfo  *info,
                                       GError        **error);
/* Writes @n_per_class phantoms of each of the five classes into the folder @dir (made if
 * missing) as case-NNN.png with a sidecar holding the expert ROI (the generator's ROI box and
 * class, rater "hepascope-synth"). Case numbers are shuffled with @seed, so a name gives no
 * class away. Fails on a write error, naming the file. */
gboolean     hepa_case_set_make_phantoms (const char *dir,
                                          guint       n_per_class,
                                          double      contrast,
                                          guint64     seed,
                                          GError    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaCaseSet, hepa_case_set_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaCaseScore, hepa_case_score_free)

G_END_DECLS
