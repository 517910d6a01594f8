/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared between the training kernels and the trainable network. */
#pragma once

#include "hepa-nn-train.h"

#include <stdio.h>
#include <stdlib.h>

/* Shape checks stay on in release builds: a wrong shape silently corrupts memory. The inference
 * files may define the same macro; both spell the same thing. */
#ifndef HEPA_NN_ASSERT
#define HEPA_NN_ASSERT(x)                                                           \
  do                                                                                \
    {                                                                               \
      if (!(x))                                                                     \
        {                                                                           \
          fprintf (stderr, "%s:%d: HEPA_NN_ASSERT(%s) failed\n", __FILE__, __LINE__, #x); \
          abort ();                                                                 \
        }                                                                           \
    }                                                                               \
  while (0)
#endif

#include <stdint.h>

/* Runs fn (ctx, begin, end) over [0, n) split across the pool's threads (the caller included)
 * and returns when all are done. @work (elements touched) below a threshold runs inline. Not
 * reentrant: call it from one thread at a time. */
typedef void (*HepaParallelFn) (void *ctx,
                                int   begin,
                                int   end);
void hepa_nn_train_parallel (int             n,
                             size_t          work,
                             HepaParallelFn  fn,
                             void           *ctx);
int  hepa_nn_train_threads  (void);

/* x (n) += y (n), on the pool. */
void hepa_nn_train_add (float       *x,
                        const float *y,
                        size_t       n);
