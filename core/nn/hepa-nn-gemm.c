/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The convolution GEMM: y (m, n) = act (a (m, k) * b (k, n) + bias + residual), with the
 * weights a packed once at load and the activations b read in place.
 *
 * In NCHW a 1x1 stride-1 conv's input already is b (c_in, h * w), and an im2col buffer is one
 * too, so nothing is packed per call: a 6 x 16 register-blocked kernel (12 accumulators, per k
 * two vector loads of b and six broadcasts of a) reads 16 columns of b straight from their rows
 * and writes the output tile with its epilogue applied. The work is split over OpenMP threads by
 * (16-column block, row chunk), so no BLAS threads are involved. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define MR 6
#define NR 16
#define ROW_CHUNK 8   /* MR blocks per job */

typedef float v8f __attribute__ ((vector_size (32), aligned (4)));
typedef int v8i __attribute__ ((vector_size (32), aligned (4)));

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

static inline v8f
load_cols (const float *p,
           int          n_valid)   /* columns 0 .. n_valid - 1 of these 8 */
{
  v8f v = { 0 };

  if (n_valid >= 8)
    return *(const v8f *) p;
  for (int j = 0; j < n_valid; j++)
    v[j] = p[j];
  return v;
}

/* tile (6, 16) = ap (k, 6)^T * b (k, 16 columns, row stride ldb). */
static inline __attribute__ ((always_inline)) void
kernel_6x16 (const float *ap,
             const float *b,
             size_t       ldb,
             int          k,
             int          n_valid,
             v8f          tile[MR][2])
{
  v8f c00 = { 0 }, c01 = { 0 }, c10 = { 0 }, c11 = { 0 }, c20 = { 0 }, c21 = { 0 };
  v8f c30 = { 0 }, c31 = { 0 }, c40 = { 0 }, c41 = { 0 }, c50 = { 0 }, c51 = { 0 };

  for (int kk = 0; kk < k; kk++, ap += MR, b += ldb)
    {
      v8f b0, b1;

      if (n_valid == NR)
        {
          b0 = *(const v8f *) b;
          b1 = *(const v8f *) (b + 8);
        }
      else
        {
          b0 = load_cols (b, n_valid);
          b1 = load_cols (b + 8, n_valid - 8);
        }
      c00 += ap[0] * b0;
      c01 += ap[0] * b1;
      c10 += ap[1] * b0;
      c11 += ap[1] * b1;
      c20 += ap[2] * b0;
      c21 += ap[2] * b1;
      c30 += ap[3] * b0;
      c31 += ap[3] * b1;
      c40 += ap[4] * b0;
      c41 += ap[4] * b1;
      c50 += ap[5] * b0;
      c51 += ap[5] * b1;
    }
  tile[0][0] = c00, tile[0][1] = c01, tile[1][0] = c10, tile[1][1] = c11;
  tile[2][0] = c20, tile[2][1] = c21, tile[3][0] = c30, tile[3][1] = c31;
  tile[4][0] = c40, tile[4][1] = c41, tile[5][0] = c50, tile[5][1] = c51;
}

static void
store_tile (v8f                 tile[MR][2],
            int                 m0,
            int                 m_valid,
            int                 n0,
            int                 n_valid,
            int                 ldy,
            const HepaEpilogue *epi,
            float              *y)
{
  for (int r = 0; r < m_valid; r++)
    {
      float bias = epi && epi->bias ? epi->bias[m0 + r] : 0.f;
      size_t at = (size_t) (m0 + r) * ldy + n0;
      const float *res = epi && epi->residual ? epi->residual + at : NULL;
      int relu = epi ? epi->relu : 0;

      if (n_valid == NR)
        {
          for (int h = 0; h < 2; h++)
            {
              v8f v = tile[r][h] + bias;

              if (res)
                v += *(const v8f *) (res + 8 * h);
              if (relu)
                v = (v8f) ((v8i) v & (v > 0.f));
              *(v8f *) (y + at + 8 * h) = v;
            }
        }
      else
        for (int j = 0; j < n_valid; j++)
          {
            float v = tile[r][j / 8][j % 8] + bias;

            if (res)
              v += res[j];
            if (relu)
              v = v > 0.f ? v : 0.f;
            y[at + j] = v;
          }
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

/* b (k, n0 .. n0 + nc) -> bp (nc / 16, k, 16), reading whole row segments, zero-padding the
 * columns past n. */
static void
pack_b (const float *b,
        int          k,
        int          ldb,
        int          n0,
        int          nc,
        int          n,
        float       *bp)
{
  int n_valid = n - n0 < nc ? n - n0 : nc;
  int panels = (n_valid + NR - 1) / NR;

  for (int kk = 0; kk < k; kk++)
    {
      const float *row = b + (size_t) kk * ldb + n0;

      for (int p = 0; p < panels; p++)
        {
          float *dst = bp + ((size_t) p * k + kk) * NR;
          int cols = n_valid - p * NR < NR ? n_valid - p * NR : NR;

          if (cols == NR)
            {
              *(v8f *) dst = *(const v8f *) (row + p * NR);
              *(v8f *) (dst + 8) = *(const v8f *) (row + p * NR + 8);
            }
          else
            for (int j = 0; j < NR; j++)
              dst[j] = j < cols ? row[p * NR + j] : 0.f;
        }
    }
}

static int
thread_id (void)
{
#ifdef _OPENMP
  return omp_get_thread_num ();
#else
  return 0;
#endif
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

  const int m_blocks = (m + MR - 1) / MR;
  const int nc = block_columns (k);
  const int n_ranges = (n + nc - 1) / nc;
  const int team = hepa_nn_team_size ();
  const int threads = team < HEPA_NN_MAX_THREADS ? team : HEPA_NN_MAX_THREADS;
  /* About eight jobs per thread, so that uneven jobs still balance: split the rows when there
   * are few column ranges, keeping at least four row blocks per job so that packing b stays
   * small beside the multiplies. */
  int m_parts = (8 * threads + batch * n_ranges - 1) / (batch * n_ranges);

  if (m_parts > m_blocks / 4)
    m_parts = m_blocks / 4;
  if (m_parts < 1 || threads == 1)
    m_parts = 1;

  HEPA_NN_PRAGMA (omp parallel for schedule (dynamic, 1) num_threads (threads)
                  if (threads > 1 && (double) m * n * k * batch > 2e5))
  for (int job = 0; job < batch * n_ranges * m_parts; job++)
    {
      int img = job / (n_ranges * m_parts);
      int nr = (job / m_parts) % n_ranges, mp = job % m_parts;
      int n0 = nr * nc, n_valid = n - n0 < nc ? n - n0 : nc;
      int panels = (n_valid + NR - 1) / NR;
      int mb0 = (int) ((long) m_blocks * mp / m_parts);
      int mb1 = (int) ((long) m_blocks * (mp + 1) / m_parts);
      float *bp = scratch + (size_t) thread_id () * HEPA_NN_GEMM_PANEL_FLOATS;
      float *yi = y + img * y_stride;
      HepaEpilogue e = { NULL, NULL, 0 };

      if (epi != NULL)
        {
          e = *epi;
          if (e.residual)
            e.residual += img * y_stride;
        }
      pack_b (b + img * b_stride, k, ldb, n0, nc, n, bp);
      for (int mb = mb0; mb < mb1; mb++)
        {
          int m0 = mb * MR, m_valid = m - m0 < MR ? m - m0 : MR;

          for (int p = 0; p < panels; p++)
            {
              v8f tile[MR][2];
              int cols = n_valid - p * NR < NR ? n_valid - p * NR : NR;

              kernel_6x16 (packed + (size_t) mb * k * MR, bp + (size_t) p * k * NR, NR, k, NR,
                           tile);
              store_tile (tile, m0, m_valid, n0 + p * NR, cols, n, &e, yi);
            }
        }
    }
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
