/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Retraining and cross-validation with the seed paper's protocol: an export tree
 * (<class>/<crop>.png|jpg + optional manifest with pseudonymous patient ids), class balancing by
 * rescaled/translated copies, translation and flip augmentation, SGD with momentum, stratified
 * K-fold grouped by patient, then a final model on all the data. */
#pragma once

#include <gio/gio.h>

#include "hepa-metrics.h"
#include "hepa-model.h"
#include "hepa-weights.h"

G_BEGIN_DECLS

/* ---- Data ---------------------------------------------------------------------------------- */

typedef struct
{
  char   *path;      /* absolute */
  char   *rel;       /* "<class>/<file>" */
  int     label;
  int     group;     /* index of the patient group */
} HepaSample;

typedef struct
{
  char       *dir;
  char       *name;          /* the folder's base name */
  char      **classes;       /* NULL-terminated, sorted folder names */
  guint       n_classes;
  GPtrArray  *samples;       /* (element-type HepaSample), sorted by rel */
  guint       n_groups;
  gboolean    has_manifest;  /* groups are patients; otherwise one group per image */
  char       *hash;          /* sha256 of the sorted list of "<rel>\t<size>\n" */
  /* After hepa_dataset_preload: (n_samples, planes, size, size) pixels 0..255. */
  guint8     *pixels;
  int         size;
  int         planes;        /* 1 for grayscale preprocessing, else 3 */
} HepaDataset;

/* Reads the tree: one sub-folder per class (at least two, none empty), *.png|*.jpg|*.jpeg in
 * each, manifest.json or manifest.csv for patient ids when present. Nothing is decoded yet. */
HepaDataset *hepa_dataset_load    (const char          *dir,
                                   GError             **error);
void         hepa_dataset_free    (HepaDataset         *self);
/* Decodes every image (refusing unreadable ones and ones under 16 x 16 pixels) and keeps it as
 * @card preprocesses it, before normalization: grayscale -> 1 plane, resized to the card's
 * input_size. @progress (nullable) is called with (done, total). */
typedef void (*HepaDatasetProgress) (guint done, guint total, gpointer user_data);
gboolean     hepa_dataset_preload (HepaDataset         *self,
                                   const HepaModelCard *card,
                                   HepaDatasetProgress  progress,
                                   gpointer             user_data,
                                   GCancellable        *cancellable,
                                   GError             **error);
guint        hepa_dataset_count   (const HepaDataset   *self,
                                   int                  label);

/* Stratified K-fold grouped by patient: fold_of (n_samples) gets 0..k-1; no group spans two
 * folds and each fold's class mix is kept close to the whole's. Fails when there are fewer
 * groups than folds. Deterministic for @seed. */
gboolean     hepa_dataset_split   (const HepaDataset   *self,
                                   guint                k,
                                   guint64              seed,
                                   int                 *fold_of,
                                   GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaDataset, hepa_dataset_free)

/* ---- Training ------------------------------------------------------------------------------ */

typedef struct
{
  HepaArch  arch;            /* resnet50 (default) or resnet18 */
  int       size;            /* input size, 224 */
  int       epochs;          /* 30 */
  int       batch;           /* 16: the paper's MATLAB run used 128, which needs about 16 GB
                              * of activations for resnet50 at 224 on a CPU; 16 holds about
                              * 2 GB and keeps batch norm statistics stable */
  double    lr;              /* 1e-4 */
  double    momentum;        /* 0.9 */
  double    weight_decay;    /* 1e-4 */
  gboolean  cosine;          /* cosine decay to 0 instead of a constant rate */
  int       warmup;          /* epochs of linear warm-up from lr / steps to lr, 0 */
  int       folds;           /* 5; 1 = a single model on all the data */
  gboolean  final_model;     /* after K >= 2 folds, train the final model on all the data */
  char     *init;            /* weights file, or NULL for scratch (He init) */
  guint64   seed;            /* 1 */
  gboolean  vflip;           /* vertical flips too (the authors' script) */
  double    translate;       /* max translation as a fraction of the size, 0.1 */
  double    rescale;         /* balancing copies: scale in [1 - r, 1 + r], 0.1 */
  gboolean  balance;         /* fill smaller classes up to the largest (the paper), TRUE */
  gboolean  copies_per_epoch; /* draw each balancing copy's rescale anew every epoch; FALSE:
                              * once per run, as the torchvision reference script */
  gboolean  subpixel;        /* translate by fractions of a pixel (bilinear); FALSE: whole
                              * pixels, as torchvision's RandomAffine */
  gboolean  zero_init_residual; /* from scratch: the last batch norm of every residual block
                              * starts at 0 (torchvision's zero_init_residual); FALSE */
  int       max_steps;       /* stop each run after this many steps (benchmarks, tests); 0 */
  /* Held-out images evaluated after every epoch of a run without a test fold (the final model,
   * or --folds 1), for a validation curve; borrowed, nullable, not saved in checkpoints. Its
   * classes must all be among the training data's. */
  HepaDataset *val;
  /* Tests: a folder that gets the first run's initial weights (init.safetensors), each of its
   * first trace_steps steps' batch, logits, loss and gradients (step-N.safetensors) and the
   * weights, running statistics and velocities after them (after.safetensors). */
  char     *trace;
  int       trace_steps;
} HepaTrainOptions;

void         hepa_train_options_init  (HepaTrainOptions *opts);
void         hepa_train_options_clear (HepaTrainOptions *opts);

/* One training run (a fold, or the final model). */
typedef struct
{
  char        *name;         /* "fold 1", ..., "final" */
  guint        n_epochs;     /* epochs done */
  double      *train_loss;   /* (epochs) */
  double      *train_acc;
  double      *test_loss;    /* NaN when the run has no test set */
  double      *test_acc;
  guint        n_train;      /* images per epoch after balancing */
  guint        n_test;
  int         *test_labels;  /* (n_test) */
  float       *test_probs;   /* (n_test, n_classes) */
  HepaMetrics *metrics;      /* on the test set; NULL without one */
  gboolean     held_out;     /* the test set is the options' val tree, not a fold */
  double       seconds;
} HepaTrainRun;

typedef struct
{
  HepaTrainOptions  opts;
  char             *data_dir;
  char             *data_name;
  char             *data_hash;
  char            **classes;
  guint             n_classes;
  guint            *class_counts;  /* (n_classes) images per class before balancing */
  guint             n_samples;
  guint             n_groups;
  gboolean          grouped_by_patient;
  GPtrArray        *runs;          /* (element-type HepaTrainRun) folds, then "final" */
  double            seconds;
  double            img_per_s;     /* training throughput */
  char             *model_path;
  gboolean          interrupted;
  char             *checkpoint;    /* written when interrupted */
} HepaTrainResult;

void         hepa_train_result_free (HepaTrainResult *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaTrainResult, hepa_train_result_free)

typedef struct
{
  int     run;          /* 0-based */
  int     n_runs;
  int     epoch;        /* 0-based */
  int     n_epochs;
  int     step;         /* steps done in this epoch */
  int     n_steps;
  gint64  global_step;  /* steps done in the whole job */
  gint64  total_steps;
  double  loss;         /* running mean of this epoch */
  double  img_per_s;
  /* Once per epoch, after it ended (step == n_steps), a call with epoch_done set and the
   * epoch's training accuracy and test or validation loss and accuracy (NaN without). */
  gboolean epoch_done;
  double  train_acc;
  double  test_loss;
  double  test_acc;
} HepaTrainProgress;

typedef void (*HepaTrainProgressFunc) (const HepaTrainProgress *progress,
                                       gpointer                 user_data);

/* Runs the protocol on @data and writes the final model to @out (safetensors with a card).
 * When @cancellable fires, a resumable checkpoint is written next to @out (OUT.checkpoint) and
 * the result comes back with interrupted = TRUE. @resume (nullable) continues from such a
 * checkpoint. Every check of the inputs happens before any training starts. */
HepaTrainResult *hepa_train_run (HepaDataset             *data,
                                 const HepaTrainOptions  *opts,
                                 const char              *out,
                                 const char              *resume,
                                 HepaTrainProgressFunc    progress,
                                 gpointer                 user_data,
                                 GCancellable            *cancellable,
                                 GError                 **error);

/* The card written into trained models (JSON), from a result. */
char            *hepa_train_card_json (const HepaTrainResult *result);

/* ---- Evaluation ---------------------------------------------------------------------------- */

/* Classifies every image of @data with @model (inference network, card preprocessing) and
 * returns one run named "eval". The data's classes must all be among the model's. */
HepaTrainRun    *hepa_train_evaluate (HepaModel     *model,
                                      HepaDataset   *data,
                                      GCancellable  *cancellable,
                                      GError       **error);
void             hepa_train_run_free (HepaTrainRun  *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaTrainRun, hepa_train_run_free)

/* ---- Benchmark ----------------------------------------------------------------------------- */

/* Times @runs SGD steps (forward, backward, update) of @arch at batch x size x size on seeded
 * random data after @warmup untimed ones. Fills median/min/max seconds per step; returns FALSE
 * when memory runs out. *bytes gets the memory the network holds, *macs the multiply-adds of one
 * image's forward pass. */
gboolean         hepa_train_bench (HepaArch  arch,
                                   int       batch,
                                   int       size,
                                   int       warmup,
                                   int       runs,
                                   double   *macs,
                                   double   *median_s,
                                   double   *min_s,
                                   double   *max_s,
                                   gsize    *bytes,
                                   GError  **error);

G_END_DECLS
