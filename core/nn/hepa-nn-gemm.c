/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The convolution GEMM: y (m, n) = act (a (m, k) * b (k, n) + bias + residual), with the
 * weights a packed once at load and the activations b read in place.
 *
 * In NCHW a 1x1 stride-1 conv's input already is b (c_in, h * w), and an im2col buffer is one
 * too: its columns are packed into zero-padded panels of 16 (per job, or once for the whole team
 * when the rows are split), and a 6 x 16 register-blocked kernel (12 accumulators, per k two
 * vector loads of b and six broadcasts of a) writes each output tile with its epilogue applied
 * (hepa-nn-kernels.c, built per instruction set). The work is split over the team by (column
 * range, row chunk), taken dynamically. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <string.h>

#define MR HEPA_NN_GEMM_MR
#define NR HEPA_NN_GEMM_NR

size_t
hepa_nn_gemm_pack_size (int m,
                        int k)
{
  HEPA_NN_ASSERT (m > 0 && k > 0);
  return (size_t) (m + MR - 1) / MR * MR * k;
}

void
hepa_nn_gemm_pack (const float *a,
                   int          m,
                   int          k,
                   float       *packed)
{
  hepa_nn_gemm_pack_scaled (a, NULL, m, k, packed);
}

void
hepa_nn_gemm_pack_scaled (const float  *a,
                          const double *row_scale,
                          int           m,
                          int           k,
                          float        *packed)
{
  HEPA_NN_ASSERT (a != NULL && packed != NULL && m > 0 && k > 0);
  for (int mb = 0; mb < (m + MR - 1) / MR; mb++)
    {
      const int rows = m - mb * MR < MR ? m - mb * MR : MR;
      const float *src[MR];
      double scale[MR];
      float *dst = packed + (size_t) mb * k * MR;

      for (int r = 0; r < MR; r++)
        {
          src[r] = r < rows ? a + (size_t) (mb * MR + r) * k : NULL;
          scale[r] = r < rows && row_scale != NULL ? row_scale[mb * MR + r] : 1.0;
        }
      if (rows < MR)
        memset (dst, 0, sizeof (float) * k * MR);
      /* Without a scale the values are copied as they are; with one, each is rounded once
       * from the double product, as hepa_nn_bn_fold does. */
      for (int r = 0; r < rows; r++)
        if (row_scale != NULL)
          for (int kk = 0; kk < k; kk++)
            dst[(size_t) kk * MR + r] = (float) ((double) src[r][kk] * scale[r]);
        else
          for (int kk = 0; kk < k; kk++)
            dst[(size_t) kk * MR + r] = src[r][kk];
    }
}

size_t
hepa_nn_gemm_scratch_size (void)
{
  return (size_t) HEPA_NN_MAX_THREADS * HEPA_NN_GEMM_PANEL_FLOATS;
}

/* Columns of b packed per job: as many as keep the packed block within one panel buffer. */
static int
block_columns (int k)
{
  int nc = HEPA_NN_GEMM_PANEL_FLOATS / k / NR * NR;

  return nc > 256 ? 256 : nc < NR ? NR : nc;
}

typedef struct
{
  const float        *packed;
  int                 m, k, n, ldb;
  const float        *b;
  size_t              b_stride;
  const HepaEpilogue *epi;
  float              *y;
  size_t              y_stride;
  float              *scratch;
  int                 m_blocks, nc, n_ranges, m_parts;
  const HepaNnKernels *kern;
} GemmCtx;

static void
gemm_team_job (void *data,
               int   job,
               int   index)
{
  const GemmCtx *g = data;
  int img = job / (g->n_ranges * g->m_parts);
  int nr = (job / g->m_parts) % g->n_ranges, mp = job % g->m_parts;
  int mb0 = (int) ((long) g->m_blocks * mp / g->m_parts);
  int mb1 = (int) ((long) g->m_blocks * (mp + 1) / g->m_parts);
  float *bp = g->scratch + (size_t) index * HEPA_NN_GEMM_PANEL_FLOATS;
  HepaEpilogue e = { NULL, NULL, 0 };

  if (g->epi != NULL)
    {
      e = *g->epi;
      if (e.residual)
        e.residual += img * g->y_stride;
    }
  g->kern->gemm_job (g->packed, g->m, g->k, g->b + img * g->b_stride, g->ldb, g->n, nr * g->nc,
                     g->nc, mb0, mb1, &e, g->y + img * g->y_stride, bp);
}

/* Shared packing: image i's b in panels of 16 columns at scratch + i * k * round16 (n), packed
 * once by the team (job = image x panel), then read by every row part. */
static size_t
shared_image_floats (int k,
                     int n)
{
  return (size_t) k * ((n + NR - 1) / NR) * NR;
}

static void
gemm_pack_team_job (void *data,
                    int   job,
                    int   index)
{
  const GemmCtx *g = data;
  int panels = (g->n + NR - 1) / NR;
  int img = job / panels, p = job % panels;

  (void) index;
  g->kern->gemm_pack_b (g->b + img * g->b_stride, g->k, g->ldb, p * NR, NR, g->n,
                        g->scratch + img * shared_image_floats (g->k, g->n)
                        + (size_t) p * g->k * NR);
}

static void
gemm_shared_team_job (void *data,
                      int   job,
                      int   index)
{
  const GemmCtx *g = data;
  int img = job / (g->n_ranges * g->m_parts);
  int nr = (job / g->m_parts) % g->n_ranges, mp = job % g->m_parts;
  int mb0 = (int) ((long) g->m_blocks * mp / g->m_parts);
  int mb1 = (int) ((long) g->m_blocks * (mp + 1) / g->m_parts);
  const float *bp = g->scratch + img * shared_image_floats (g->k, g->n)
                    + (size_t) nr * g->nc / NR * g->k * NR;
  HepaEpilogue e = { NULL, NULL, 0 };

  (void) index;
  if (g->epi != NULL)
    {
      e = *g->epi;
      if (e.residual)
        e.residual += img * g->y_stride;
    }
  g->kern->gemm_compute (g->packed, g->m, g->k, bp, g->n, nr * g->nc, g->nc, mb0, mb1, &e,
                         g->y + img * g->y_stride);
}

/* The batched form: image i reads b + i * b_stride and writes y + i * y_stride (and its
 * residual at the same offset), all in one parallel region. */
static void
gemm_batch (const float        *packed,
            int                 m,
            int                 k,
            const float        *b,
            size_t              b_stride,
            int                 n,
            int                 ldb,
            const HepaEpilogue *epi,
            float              *y,
            size_t              y_stride,
            int                 batch,
            float              *scratch)
{
  HEPA_NN_ASSERT (packed != NULL && b != NULL && y != NULL && scratch != NULL);
  HEPA_NN_ASSERT (m > 0 && k > 0 && n > 0 && ldb >= n && batch > 0);
  HEPA_NN_ASSERT (k <= HEPA_NN_GEMM_PANEL_FLOATS / NR);
  HEPA_NN_ASSERT (b != y && (epi == NULL || epi->residual != y));

  GemmCtx g = { packed, m, k, n, ldb, b, b_stride, epi, y, y_stride, scratch, 0, 0, 0, 0,
                hepa_nn_kernels () };
  const int threads = hepa_nn_team_size ();

  g.m_blocks = (m + MR - 1) / MR;
  g.nc = block_columns (k);
  g.n_ranges = (n + g.nc - 1) / g.nc;
  /* About eight jobs per thread, so that uneven jobs and a descheduled thread still balance:
   * split the rows when there are few column ranges, keeping at least four row blocks per job
   * so that packing b stays small beside the multiplies. The split depends on the shape and the
   * team size only. Small products run on the calling thread. */
  g.m_parts = (8 * threads + batch * g.n_ranges - 1) / (batch * g.n_ranges);
  if (g.m_parts > g.m_blocks / 4)
    g.m_parts = g.m_blocks / 4;
  if (g.m_parts < 1 || threads == 1)
    g.m_parts = 1;
  if ((double) m * n * k * batch <= 2e5)
    {
      for (int job = 0; job < batch * g.n_ranges * g.m_parts; job++)
        gemm_team_job (&g, job, hepa_nn_team_index ());
      return;
    }
  /* Split rows: each part would pack the same columns of b again (in layer3's 1x1 convs, ten
   * copies of 0.8 MB per layer with two threads), so b is packed once, shared, when it fits the
   * scratch of all the threads; the products are the same, from the same panels. */
  if (g.m_parts > 1
      && (size_t) batch * shared_image_floats (k, n)
         <= (size_t) HEPA_NN_MAX_THREADS * HEPA_NN_GEMM_PANEL_FLOATS)
    {
      hepa_nn_team_run (batch * ((n + NR - 1) / NR), gemm_pack_team_job, &g);
      hepa_nn_team_run (batch * g.n_ranges * g.m_parts, gemm_shared_team_job, &g);
      return;
    }
  hepa_nn_team_run (batch * g.n_ranges * g.m_parts, gemm_team_job, &g);
}

void
hepa_nn_gemm_packed (const float        *packed,
                     int                 m,
                     int                 k,
                     const float        *b,
                     int                 n,
                     int                 ldb,
                     const HepaEpilogue *epi,
                     float              *y,
                     float              *scratch)
{
  gemm_batch (packed, m, k, b, 0, n, ldb, epi, y, 0, 1, scratch);
}

void
hepa_nn_gemm_packed_batch (const float        *packed,
                           int                 m,
                           int                 k,
                           const float        *b,
                           size_t              b_stride,
                           int                 n,
                           int                 ldb,
                           const HepaEpilogue *epi,
                           float              *y,
                           size_t              y_stride,
                           int                 batch,
                           float              *scratch)
{
  gemm_batch (packed, m, k, b, b_stride, n, ldb, epi, y, y_stride, batch, scratch);
}
