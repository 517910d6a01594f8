/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the trainer draws, for tests that measure the augmentation against its options. */
#pragma once

#include "hepa-train.h"

G_BEGIN_DECLS

typedef struct
{
  guint    sample;   /* index into the data's samples */
  guint    entry;    /* index into the run's training list (originals, then balancing copies) */
  gboolean copy;     /* a balancing copy */
  float    scale;    /* rescale about the centre (1 for originals) */
  float    tx, ty;   /* translation in pixels */
  int      hflip, vflip;
} HepaTrainAug;

/* The images and augmentation of every position of epoch @epoch (0-based) of run @run_index, in
 * training order, as hepa_train_run draws them. @fold_of (nullable): the folds, the run's test
 * fold being @run_index. (element-type HepaTrainAug) */
GArray *hepa_train_epoch_augs (HepaDataset            *data,
                               const HepaTrainOptions *opts,
                               const int              *fold_of,
                               int                     run_index,
                               int                     epoch);

G_END_DECLS
