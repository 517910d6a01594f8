/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the libhepa-nn kernels. */
#pragma once

#include "hepa-nn.h"

/* The kernels' own loops (im2col, Winograd transforms, epilogues) run on OpenMP threads when the
 * library is built with OpenMP; the GEMMs use OpenBLAS's threads. @cond keeps tiny loops serial. */
/* The team size every parallel region uses: what hepa_nn_set_threads set, else OpenMP's
 * default. A global rather than omp_set_num_threads, whose setting belongs to the calling thread
 * only, while inference runs on worker threads. */
int hepa_nn_team_size (void);

#ifdef _OPENMP
#include <omp.h>
#define HEPA_NN_PRAGMA(x) _Pragma (#x)
#define HEPA_NN_PARALLEL_FOR(cond) \
  HEPA_NN_PRAGMA (omp parallel for schedule (static) num_threads (hepa_nn_team_size ()) if (cond))
#else
#define HEPA_NN_PRAGMA(x)
#define HEPA_NN_PARALLEL_FOR(cond)
#endif

/* row (hw) = act (row + bias + res) */
static inline void
hepa_nn_epilogue_row (float       *row,
                      int          hw,
                      float        bias,
                      const float *res,
                      int          relu)
{
  if (res != NULL && relu)
    for (int i = 0; i < hw; i++)
      {
        float v = row[i] + bias + res[i];
        row[i] = v > 0.f ? v : 0.f;
      }
  else if (res != NULL)
    for (int i = 0; i < hw; i++)
      row[i] = row[i] + bias + res[i];
  else if (relu)
    for (int i = 0; i < hw; i++)
      {
        float v = row[i] + bias;
        row[i] = v > 0.f ? v : 0.f;
      }
  else
    for (int i = 0; i < hw; i++)
      row[i] += bias;
}
