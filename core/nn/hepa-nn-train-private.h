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

/* Runs fn (ctx, begin, end) over [0, n) in chunks on libhepa-nn's one team (the caller
 * included; see hepa_nn_set_threads) and returns when all are done. @work (elements touched)
 * below a threshold runs inline. */
typedef void (*HepaParallelFn) (void *ctx,
                                int   begin,
                                int   end);
void hepa_nn_train_parallel (int             n,
                             size_t          work,
                             HepaParallelFn  fn,
                             void           *ctx);
/* C (m, n) = alpha op (A) op (B) + beta C, row-major, split by columns of C over the team
 * (hepa_nn_sgemm in hepa-nn-team.c): OpenBLAS's own threads stay unused. */
void hepa_nn_sgemm          (int          trans_a,
                             int          trans_b,
                             int          m,
                             int          n,
                             int          k,
                             float        alpha,
                             const float *a,
                             int          lda,
                             const float *b,
                             int          ldb,
                             float        beta,
                             float       *c,
                             int          ldc);

/* x (n) += y (n), on the pool. */
void hepa_nn_train_add (float       *x,
                        const float *y,
                        size_t       n);
