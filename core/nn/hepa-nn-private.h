/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the libhepa-nn kernels: the thread team (hepa-nn-team.c) and the
 * run-time choice of kernel instruction set (hepa-nn-isa.c). */
#pragma once

#include "hepa-nn.h"

/* ---- The team ---------------------------------------------------------------------------
 * Every parallel loop of libhepa-nn, inference and training, runs on this one team; its size is
 * what hepa_nn_set_threads set, else the CPUs this process may run on, at most
 * HEPA_NN_MAX_THREADS. Jobs are taken dynamically; a member's index (0 for the caller) is
 * below hepa_nn_team_size () and picks its per-thread scratch. */
typedef void (*HepaTeamFn)      (void *ctx,
                                 int   job,
                                 int   index);
typedef void (*HepaTeamRangeFn) (void *ctx,
                                 int   begin,
                                 int   end,
                                 int   index);

int  hepa_nn_team_size  (void);
/* The calling thread's member index inside a job, else 0. */
int  hepa_nn_team_index (void);
/* Runs fn (ctx, job, index) for job in [0, n_jobs) on the team and returns when all are done.
 * One job, a team of one, or a call from inside a job: on the calling thread. */
void hepa_nn_team_run   (int         n_jobs,
                         HepaTeamFn  fn,
                         void       *ctx);
/* fn (ctx, begin, end, index) over [0, n) in about four chunks per member; @work (elements
 * touched) under HEPA_NN_TEAM_MIN_WORK runs as one chunk on the calling thread. */
#define HEPA_NN_TEAM_MIN_WORK 32768
void hepa_nn_team_for   (int              n,
                         size_t           work,
                         HepaTeamRangeFn  fn,
                         void            *ctx);
/* For the tests: parallel regions run on several threads since the process started, and the
 * highest member index that ran a job (since the last call with @reset non-zero, which zeroes
 * it and returns the old value). */
unsigned long hepa_nn_team_regions   (void);
int           hepa_nn_team_max_index (int reset);

/* ---- Kernels chosen at run time ----------------------------------------------------------
 * The hot loops, built once per instruction set (hepa-nn-kern-gemm.c, hepa-nn-kern-winograd.c
 * compiled for x86-64, x86-64-v3 and x86-64-v4); the rest of libhepa-nn is plain x86-64. */
typedef struct
{
  const char *name;
  /* hepa-nn-gemm.c: rows mb0 .. mb1 (in blocks of 6) x columns n0 .. n0 + nc of one image. */
  void (*gemm_job) (const float        *packed,
                    int                 m,
                    int                 k,
                    const float        *b,
                    int                 ldb,
                    int                 n,
                    int                 n0,
                    int                 nc,
                    int                 mb0,
                    int                 mb1,
                    const HepaEpilogue *epi,
                    float              *y,
                    float              *bp);
  /* The two halves of gemm_job, for a b packed once and shared by the team: columns
   * n0 .. n0 + nc of b into panels of 16 at bp; then rows x columns from those panels. */
  void (*gemm_pack_b)  (const float *b,
                        int          k,
                        int          ldb,
                        int          n0,
                        int          nc,
                        int          n,
                        float       *bp);
  void (*gemm_compute) (const float        *packed,
                        int                 m,
                        int                 k,
                        const float        *bp,
                        int                 n,
                        int                 n0,
                        int                 nc,
                        int                 mb0,
                        int                 mb1,
                        const HepaEpilogue *epi,
                        float              *y);
  /* hepa-nn-winograd.c: blocks blk0 .. blk1 of 8 tiles (at most HEPA_NN_WINO_GROUP), output
   * channel blocks cb0 .. cb1; v holds HEPA_NN_WINO_GROUP blocks' transformed inputs
   * (36 x c_in x 8 floats each), m as many blocks' products for HEPA_NN_WINO_CB_CHUNK channel
   * blocks (36 x CB_CHUNK x 8 x 8 floats each). */
  void (*winograd_job) (const float        *u,
                        int                 c_in,
                        int                 c_out,
                        const float        *x,
                        int                 n,
                        int                 h,
                        int                 w,
                        int                 blk0,
                        int                 blk1,
                        int                 cb0,
                        int                 cb1,
                        const HepaEpilogue *epi,
                        float              *y,
                        float              *v,
                        float              *m,
                        int                 v_ready);   /* v already holds the group's inputs */
  /* The input transform of block @blk alone into v (36 x c_in x 8 floats). */
  void (*winograd_input) (const float *x,
                          int          c_in,
                          int          n,
                          int          h,
                          int          w,
                          int          blk,
                          float       *v);
} HepaNnKernels;

/* The kernels in use (chosen on first use; see hepa_nn_set_isa). */
const HepaNnKernels *hepa_nn_kernels (void);

#define HEPA_NN_GEMM_MR 6
#define HEPA_NN_GEMM_NR 16
#define HEPA_NN_WINO_LANES 8
#define HEPA_NN_WINO_TT 36
#define HEPA_NN_WINO_TILE 4
#define HEPA_NN_WINO_GROUP 4
#define HEPA_NN_WINO_CB_CHUNK 8

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
