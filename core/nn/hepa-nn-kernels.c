/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The hot loops of libhepa-nn, compiled once per instruction set and chosen at run time
 * (hepa-nn-isa.c): meson builds this file for x86-64 (baseline, SSE2), x86-64-v3 (AVX2 + FMA)
 * and x86-64-v4 (AVX-512), each with HEPA_NN_ISA naming its table. Nothing outside these
 * copies is built for more than x86-64, so a CPU without AVX2 never meets an AVX2 instruction.
 *
 * The GEMM: a 6 x 16 register-blocked kernel (12 accumulators; per k two vector loads of b and
 * six broadcasts of a) over packed weights and a per-thread packed block of b, storing with the
 * epilogue applied. Winograd F(4x4, 3x3): see hepa-nn-winograd.c for the layout. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <stddef.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#ifndef HEPA_NN_ISA
#error "HEPA_NN_ISA must name the instruction set this copy is built for"
#endif
#define KTABLE_NAME(isa) hepa_nn_kernels_##isa
#define KTABLE(isa) KTABLE_NAME (isa)

#define MR HEPA_NN_GEMM_MR
#define NR HEPA_NN_GEMM_NR

/* Unaligned 8-float vectors; GCC lowers them to AVX where the target has it, else to SSE. */
typedef float v8f __attribute__ ((vector_size (32), aligned (4)));
typedef int v8i __attribute__ ((vector_size (32), aligned (4)));

/* ---- GEMM -------------------------------------------------------------------------------- */

#if defined(__AVX__)
/* tile (6, 16) = ap (k, 6)^T * b (k, 16 columns of a zero-padded packed panel, row stride
 * ldb). Written with intrinsics so that the 12 accumulators, the two vectors of b and the
 * broadcast stay in the 16 registers of AVX2, and not inlined, so that the caller's live values
 * do not take registers from it: inlined into gemm_job, GCC spilled one accumulator to the
 * stack (a load, FMA and store per k on one slot, a chain through memory that halved the
 * kernel's rate). Same products, in the same order over k, as before. */
static __attribute__ ((noinline)) void
kernel_6x16 (const float *ap,
             const float *b,
             size_t       ldb,
             int          k,
             int          n_valid,
             v8f          tile[MR][2])
{
  __m256 c00 = _mm256_setzero_ps (), c01 = _mm256_setzero_ps ();
  __m256 c10 = _mm256_setzero_ps (), c11 = _mm256_setzero_ps ();
  __m256 c20 = _mm256_setzero_ps (), c21 = _mm256_setzero_ps ();
  __m256 c30 = _mm256_setzero_ps (), c31 = _mm256_setzero_ps ();
  __m256 c40 = _mm256_setzero_ps (), c41 = _mm256_setzero_ps ();
  __m256 c50 = _mm256_setzero_ps (), c51 = _mm256_setzero_ps ();

  (void) n_valid;   /* the packed panel is always 16 wide, zero-padded */
  for (int kk = 0; kk < k; kk++, ap += MR, b += ldb)
    {
      __m256 b0 = _mm256_loadu_ps (b);
      __m256 b1 = _mm256_loadu_ps (b + 8);
      __m256 a;

#if defined(__FMA__)
#define HEPA_FMA(acc, x, y) acc = _mm256_fmadd_ps (x, y, acc)
#else
#define HEPA_FMA(acc, x, y) acc = _mm256_add_ps (acc, _mm256_mul_ps (x, y))
#endif
      a = _mm256_broadcast_ss (ap + 0);
      HEPA_FMA (c00, a, b0);
      HEPA_FMA (c01, a, b1);
      a = _mm256_broadcast_ss (ap + 1);
      HEPA_FMA (c10, a, b0);
      HEPA_FMA (c11, a, b1);
      a = _mm256_broadcast_ss (ap + 2);
      HEPA_FMA (c20, a, b0);
      HEPA_FMA (c21, a, b1);
      a = _mm256_broadcast_ss (ap + 3);
      HEPA_FMA (c30, a, b0);
      HEPA_FMA (c31, a, b1);
      a = _mm256_broadcast_ss (ap + 4);
      HEPA_FMA (c40, a, b0);
      HEPA_FMA (c41, a, b1);
      a = _mm256_broadcast_ss (ap + 5);
      HEPA_FMA (c50, a, b0);
      HEPA_FMA (c51, a, b1);
#undef HEPA_FMA
    }
#define HEPA_STORE(r, h, v) memcpy (&tile[r][h], &v, sizeof v)
  HEPA_STORE (0, 0, c00); HEPA_STORE (0, 1, c01); HEPA_STORE (1, 0, c10); HEPA_STORE (1, 1, c11);
  HEPA_STORE (2, 0, c20); HEPA_STORE (2, 1, c21); HEPA_STORE (3, 0, c30); HEPA_STORE (3, 1, c31);
  HEPA_STORE (4, 0, c40); HEPA_STORE (4, 1, c41); HEPA_STORE (5, 0, c50); HEPA_STORE (5, 1, c51);
#undef HEPA_STORE
}

/* tile (6, 8) = ap (k, 6)^T * b (k, 8 columns): the last panel when it has 8 columns or fewer
 * (layer4's 49 pixels are three panels of 16 and one column), half the work of a 16-wide one.
 * Same products in the same order as kernel_6x16. */
static inline void
kernel_6x8_tile (const float *ap,
                 const float *b,
                 size_t       ldb,
                 int          k,
                 v8f          tile[MR][2])
{
  v8f c0 = { 0 }, c1 = { 0 }, c2 = { 0 }, c3 = { 0 }, c4 = { 0 }, c5 = { 0 };

  for (int kk = 0; kk < k; kk++, ap += MR, b += ldb)
    {
      v8f b0 = *(const v8f *) b;

      c0 += ap[0] * b0;
      c1 += ap[1] * b0;
      c2 += ap[2] * b0;
      c3 += ap[3] * b0;
      c4 += ap[4] * b0;
      c5 += ap[5] * b0;
    }
  tile[0][0] = c0, tile[1][0] = c1, tile[2][0] = c2;
  tile[3][0] = c3, tile[4][0] = c4, tile[5][0] = c5;
}
#else
/* Without AVX there are 16 vector registers of 4 floats: the same tile as two 6 x 8 halves,
 * each with 12 accumulators (a 6 x 16 tile at once would spill). Same products, same order
 * over k: only the grouping into registers differs. */
typedef float v4f __attribute__ ((vector_size (16), aligned (4)));

static inline __attribute__ ((always_inline)) void
kernel_6x8 (const float *ap,
            const float *b,
            size_t       ldb,
            int          k,
            v4f          acc[MR][2])
{
  v4f c00 = { 0 }, c01 = { 0 }, c10 = { 0 }, c11 = { 0 }, c20 = { 0 }, c21 = { 0 };
  v4f c30 = { 0 }, c31 = { 0 }, c40 = { 0 }, c41 = { 0 }, c50 = { 0 }, c51 = { 0 };

  for (int kk = 0; kk < k; kk++, ap += MR, b += ldb)
    {
      v4f b0 = *(const v4f *) b;
      v4f b1 = *(const v4f *) (b + 4);

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
  acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
  acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
  acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
}

/* tile (6, 16) = ap (k, 6)^T * b (k, 16 columns of a zero-padded packed panel). */
static inline void
kernel_6x16 (const float *ap,
             const float *b,
             size_t       ldb,
             int          k,
             int          n_valid,
             v8f          tile[MR][2])
{
  (void) n_valid;   /* the packed panel is always 16 wide */
  for (int h = 0; h < 2; h++)
    {
      v4f acc[MR][2];

      kernel_6x8 (ap, b + 8 * h, ldb, k, acc);
      for (int r = 0; r < MR; r++)
        {
          memcpy ((float *) &tile[r][h], &acc[r][0], sizeof acc[r][0]);
          memcpy ((float *) &tile[r][h] + 4, &acc[r][1], sizeof acc[r][1]);
        }
    }
}
/* tile (6, 8): the last panel when it has 8 columns or fewer (see the AVX copy). */
static inline void
kernel_6x8_tile (const float *ap,
                 const float *b,
                 size_t       ldb,
                 int          k,
                 v8f          tile[MR][2])
{
  v4f acc[MR][2];

  kernel_6x8 (ap, b, ldb, k, acc);
  for (int r = 0; r < MR; r++)
    {
      memcpy ((float *) &tile[r][0], &acc[r][0], sizeof acc[r][0]);
      memcpy ((float *) &tile[r][0] + 4, &acc[r][1], sizeof acc[r][1]);
    }
}
#endif

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


/* Rows mb0 .. mb1 (blocks of 6) x columns n0 .. n0 + nc of one image, b already packed into
 * panels of 16 columns at bp (panel p of this range at bp + p * k * 16). */
static void
gemm_compute (const float        *packed,
              int                 m,
              int                 k,
              const float        *bp,
              int                 n,
              int                 n0,
              int                 nc,
              int                 mb0,
              int                 mb1,
              const HepaEpilogue *epi,
              float              *y)
{
  int n_valid = n - n0 < nc ? n - n0 : nc;
  int panels = (n_valid + NR - 1) / NR;

  for (int mb = mb0; mb < mb1; mb++)
    {
      int m0 = mb * MR, m_valid = m - m0 < MR ? m - m0 : MR;

      for (int p = 0; p < panels; p++)
        {
          v8f tile[MR][2];
          int cols = n_valid - p * NR < NR ? n_valid - p * NR : NR;

          if (cols <= 8)
            kernel_6x8_tile (packed + (size_t) mb * k * MR, bp + (size_t) p * k * NR, NR, k,
                             tile);
          else
            kernel_6x16 (packed + (size_t) mb * k * MR, bp + (size_t) p * k * NR, NR, k, NR,
                         tile);
          store_tile (tile, m0, m_valid, n0 + p * NR, cols, n, epi, y);
        }
    }
}

static void
gemm_job (const float        *packed,
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
          float              *bp)
{
  pack_b (b, k, ldb, n0, nc, n, bp);
  gemm_compute (packed, m, k, bp, n, n0, nc, mb0, mb1, epi, y);
}

/* ---- Winograd F(4x4, 3x3) ---------------------------------------------------------------- */

#define T 6       /* input tile */
#define TT HEPA_NN_WINO_TT
#define M_OUT HEPA_NN_WINO_TILE
#define LANES HEPA_NN_WINO_LANES

/* In-register 1-D transforms over six vectors. */
static inline void
bt6 (const v8f d[T],
     v8f       o[T])
{
  v8f a = d[4] - 4.f * d[2];
  v8f b = d[3] - 4.f * d[1];
  v8f c = d[4] - d[2];
  v8f e = 2.f * (d[3] - d[1]);

  o[0] = 4.f * d[0] - 5.f * d[2] + d[4];
  o[1] = a + b;
  o[2] = a - b;
  o[3] = c + e;
  o[4] = c - e;
  o[5] = 4.f * d[1] - 5.f * d[3] + d[5];
}

static inline void
at6 (const v8f m[T],
     v8f       o[M_OUT])
{
  v8f a = m[1] + m[2], b = m[1] - m[2];
  v8f c = m[3] + m[4], e = m[3] - m[4];

  o[0] = m[0] + a + c;
  o[1] = b + 2.f * e;
  o[2] = a + 4.f * c;
  o[3] = b + 8.f * e + m[5];
}

/* Where the 8 tiles of block @blk start: lane offsets into one input plane and validity. */
typedef struct
{
  int b[LANES];       /* image, or -1 for padding lanes */
  int y0[LANES];      /* top-left input pixel of the 6x6 tile: 4 ty - 1 */
  int x0[LANES];
} TileBlock;

static void
tile_block (int        blk,
            int        n,
            int        th,
            int        tw,
            TileBlock *tb)
{
  for (int l = 0; l < LANES; l++)
    {
      int tile = blk * LANES + l;

      if (tile >= n * th * tw)
        {
          tb->b[l] = -1;
          tb->y0[l] = tb->x0[l] = 0;
          continue;
        }
      tb->b[l] = tile / (th * tw);
      tb->y0[l] = M_OUT * ((tile / tw) % th) - 1;
      tb->x0[l] = M_OUT * (tile % tw) - 1;
    }
}

/* v[t][blk][ci][lane] = (B^T d B)[t] of the tile in each lane, for one input channel. */
static void
input_block (const float     *x,
             int              c_in,
             int              h,
             int              w,
             const TileBlock *tb,
             int              ci,
             float           *v,
             size_t           t_stride)
{
  v8f d[T][T], s[T][T], o[T];
  v8i base, row_ok[T], col_ok[T];

  for (int l = 0; l < LANES; l++)
    {
      int valid = tb->b[l] >= 0;

      base[l] = valid ? (int) (((size_t) tb->b[l] * c_in + ci) * h * w)
                        + tb->y0[l] * w + tb->x0[l]
                      : 0;
      for (int r = 0; r < T; r++)
        {
          row_ok[r][l] = valid && tb->y0[l] + r >= 0 && tb->y0[l] + r < h ? -1 : 0;
          col_ok[r][l] = valid && tb->x0[l] + r >= 0 && tb->x0[l] + r < w ? -1 : 0;
        }
    }
#if defined(__AVX__)
  /* Per lane, each tile row as one masked load of its 6 (of 8) pixels, the columns outside the
   * image masked off (a masked element is neither read nor faults), then an 8 x 8 transpose to
   * the lane-vectors d[r][p]: 8 loads and 24 shuffles per row in place of six gathers. */
  {
    __m256i colmask[LANES];

    for (int l = 0; l < LANES; l++)
      {
        v8i cm;

        for (int p = 0; p < 8; p++)
          cm[p] = p < T ? col_ok[p][l] : 0;
        memcpy (&colmask[l], &cm, sizeof cm);
      }
    for (int r = 0; r < T; r++)
      {
        __m256 rv[LANES], t[8], q[8];

        for (int l = 0; l < LANES; l++)
          rv[l] = row_ok[r][l] ? _mm256_maskload_ps (x + ((ptrdiff_t) base[l] + (ptrdiff_t) r * w),
                                                     colmask[l])
                               : _mm256_setzero_ps ();
        t[0] = _mm256_unpacklo_ps (rv[0], rv[1]);
        t[1] = _mm256_unpackhi_ps (rv[0], rv[1]);
        t[2] = _mm256_unpacklo_ps (rv[2], rv[3]);
        t[3] = _mm256_unpackhi_ps (rv[2], rv[3]);
        t[4] = _mm256_unpacklo_ps (rv[4], rv[5]);
        t[5] = _mm256_unpackhi_ps (rv[4], rv[5]);
        t[6] = _mm256_unpacklo_ps (rv[6], rv[7]);
        t[7] = _mm256_unpackhi_ps (rv[6], rv[7]);
        q[0] = _mm256_shuffle_ps (t[0], t[2], 0x44);   /* columns 0 | 4 of lanes 0-3 */
        q[1] = _mm256_shuffle_ps (t[0], t[2], 0xee);   /* columns 1 | 5 */
        q[2] = _mm256_shuffle_ps (t[1], t[3], 0x44);   /* columns 2 | 6 */
        q[3] = _mm256_shuffle_ps (t[1], t[3], 0xee);   /* columns 3 | 7 */
        q[4] = _mm256_shuffle_ps (t[4], t[6], 0x44);   /* the same for lanes 4-7 */
        q[5] = _mm256_shuffle_ps (t[4], t[6], 0xee);
        q[6] = _mm256_shuffle_ps (t[5], t[7], 0x44);
        q[7] = _mm256_shuffle_ps (t[5], t[7], 0xee);
        for (int p = 0; p < 4; p++)
          {
            __m256 lo = _mm256_permute2f128_ps (q[p], q[p + 4], 0x20);

            memcpy (&d[r][p], &lo, sizeof lo);
            if (p + 4 < T)
              {
                __m256 hi = _mm256_permute2f128_ps (q[p], q[p + 4], 0x31);

                memcpy (&d[r][p + 4], &hi, sizeof hi);
              }
          }
      }
  }
#else
  for (int r = 0; r < T; r++)
    for (int p = 0; p < T; p++)
      {
        v8i ok = row_ok[r] & col_ok[p];
        v8i idx = base + (r * w + p);

        for (int l = 0; l < LANES; l++)
          d[r][p][l] = ok[l] ? x[idx[l]] : 0.f;
      }
#endif
  /* Vertical, then horizontal. */
  for (int p = 0; p < T; p++)
    {
      v8f col[T];

      for (int r = 0; r < T; r++)
        col[r] = d[r][p];
      bt6 (col, o);
      for (int k = 0; k < T; k++)
        s[k][p] = o[k];
    }
  for (int k = 0; k < T; k++)
    {
      bt6 (s[k], o);
      for (int l = 0; l < T; l++)
        *(v8f *) (v + (size_t) (k * T + l) * t_stride) = o[l];
    }
}

/* m (8 rows, 8 lanes) = u (c_in, 8 rows)^T * v (c_in, 8 lanes): 8 accumulators, and per input
 * channel one vector load and eight broadcasts. */
#if defined(__AVX__)
static void
gemm_8x8 (const float *u,
          const float *v,
          int          c_in,
          float       *m)
{
  v8f a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
  v8f a4 = { 0 }, a5 = { 0 }, a6 = { 0 }, a7 = { 0 };

  for (int ci = 0; ci < c_in; ci++, u += LANES, v += LANES)
    {
      v8f x = *(const v8f *) v;

      a0 += u[0] * x;
      a1 += u[1] * x;
      a2 += u[2] * x;
      a3 += u[3] * x;
      a4 += u[4] * x;
      a5 += u[5] * x;
      a6 += u[6] * x;
      a7 += u[7] * x;
    }
  *(v8f *) (m + 0 * LANES) = a0;
  *(v8f *) (m + 1 * LANES) = a1;
  *(v8f *) (m + 2 * LANES) = a2;
  *(v8f *) (m + 3 * LANES) = a3;
  *(v8f *) (m + 4 * LANES) = a4;
  *(v8f *) (m + 5 * LANES) = a5;
  *(v8f *) (m + 6 * LANES) = a6;
  *(v8f *) (m + 7 * LANES) = a7;
}
#else
/* Without AVX: the 8 lanes as two halves of 4, 8 accumulators each (16 registers of 8 lanes'
 * worth would spill). Same products in the same order over c_in. */
static void
gemm_8x8 (const float *u,
          const float *v,
          int          c_in,
          float       *m)
{
  typedef float v4f_w __attribute__ ((vector_size (16), aligned (4)));

  for (int h = 0; h < 2; h++)
    {
      v4f_w a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
      v4f_w a4 = { 0 }, a5 = { 0 }, a6 = { 0 }, a7 = { 0 };
      const float *up = u, *vp = v + 4 * h;

      for (int ci = 0; ci < c_in; ci++, up += LANES, vp += LANES)
        {
          v4f_w x = *(const v4f_w *) vp;

          a0 += up[0] * x;
          a1 += up[1] * x;
          a2 += up[2] * x;
          a3 += up[3] * x;
          a4 += up[4] * x;
          a5 += up[5] * x;
          a6 += up[6] * x;
          a7 += up[7] * x;
        }
      *(v4f_w *) (m + 0 * LANES + 4 * h) = a0;
      *(v4f_w *) (m + 1 * LANES + 4 * h) = a1;
      *(v4f_w *) (m + 2 * LANES + 4 * h) = a2;
      *(v4f_w *) (m + 3 * LANES + 4 * h) = a3;
      *(v4f_w *) (m + 4 * LANES + 4 * h) = a4;
      *(v4f_w *) (m + 5 * LANES + 4 * h) = a5;
      *(v4f_w *) (m + 6 * LANES + 4 * h) = a6;
      *(v4f_w *) (m + 7 * LANES + 4 * h) = a7;
    }
}
#endif

/* A^T m A for one output channel of one block, then bias, residual and ReLU on the way out. */
static void
output_block (const float        *m,
              size_t              t_stride,
              int                 c_out,
              int                 h,
              int                 w,
              const TileBlock    *tb,
              int                 co,
              const HepaEpilogue *epi,
              float              *y)
{
  v8f s[T][M_OUT], o[M_OUT][M_OUT], col[T];
  float bias = epi && epi->bias ? epi->bias[co] : 0.f;
  int relu = epi ? epi->relu : 0;

  for (int k = 0; k < T; k++)
    {
      v8f row[T];

      for (int l = 0; l < T; l++)
        row[l] = *(const v8f *) (m + (size_t) (k * T + l) * t_stride);
      at6 (row, s[k]);
    }
  for (int q = 0; q < M_OUT; q++)
    {
      v8f out[M_OUT];

      for (int k = 0; k < T; k++)
        col[k] = s[k][q];
      at6 (col, out);
      for (int i = 0; i < M_OUT; i++)
        o[i][q] = out[i] + bias;
    }
#if defined(__AVX__)
  /* Each output row i as one 4-float vector per lane: a 4 x 8 -> 8 x 4 transpose of o[i][0..3],
   * so that a whole tile row is stored (with its residual and ReLU) at once. */
  __m128 rows[M_OUT][LANES];

  for (int i = 0; i < M_OUT; i++)
    {
      __m256 q0, q1, q2, q3, t0, t1, t2, t3, u0, u1, u2, u3;

      memcpy (&q0, &o[i][0], sizeof q0);
      memcpy (&q1, &o[i][1], sizeof q1);
      memcpy (&q2, &o[i][2], sizeof q2);
      memcpy (&q3, &o[i][3], sizeof q3);
      t0 = _mm256_unpacklo_ps (q0, q1);   /* 0: q0 q1 (lane 0), q0 q1 (lane 1) | lanes 4, 5 */
      t1 = _mm256_unpackhi_ps (q0, q1);   /* lanes 2, 3 | 6, 7 */
      t2 = _mm256_unpacklo_ps (q2, q3);
      t3 = _mm256_unpackhi_ps (q2, q3);
      u0 = _mm256_shuffle_ps (t0, t2, 0x44);   /* lane 0 | lane 4 */
      u1 = _mm256_shuffle_ps (t0, t2, 0xee);   /* lane 1 | lane 5 */
      u2 = _mm256_shuffle_ps (t1, t3, 0x44);   /* lane 2 | lane 6 */
      u3 = _mm256_shuffle_ps (t1, t3, 0xee);   /* lane 3 | lane 7 */
      rows[i][0] = _mm256_castps256_ps128 (u0);
      rows[i][1] = _mm256_castps256_ps128 (u1);
      rows[i][2] = _mm256_castps256_ps128 (u2);
      rows[i][3] = _mm256_castps256_ps128 (u3);
      rows[i][4] = _mm256_extractf128_ps (u0, 1);
      rows[i][5] = _mm256_extractf128_ps (u1, 1);
      rows[i][6] = _mm256_extractf128_ps (u2, 1);
      rows[i][7] = _mm256_extractf128_ps (u3, 1);
    }
#endif
  for (int l = 0; l < LANES; l++)
    {
      if (tb->b[l] < 0)
        break;
      size_t plane = ((size_t) tb->b[l] * c_out + co) * h * w;
      float *yp = y + plane;
      const float *rp = epi && epi->residual ? epi->residual + plane : NULL;
      int oy0 = tb->y0[l] + 1, ox0 = tb->x0[l] + 1;
      int ni = h - oy0 < M_OUT ? h - oy0 : M_OUT;
      int nq = w - ox0 < M_OUT ? w - ox0 : M_OUT;

#if defined(__AVX__)
      if (nq == M_OUT)
        {
          /* Same values as the scalar loop: the sum, then max (v, 0), which is v > 0 ? v : 0
           * (NaN and -0 included: maxps returns its second operand, +0, for both). */
          for (int i = 0; i < ni; i++)
            {
              size_t at = (size_t) (oy0 + i) * w + ox0;
              __m128 val = rows[i][l];

              if (rp)
                val = _mm_add_ps (val, _mm_loadu_ps (rp + at));
              if (relu)
                val = _mm_max_ps (val, _mm_setzero_ps ());
              _mm_storeu_ps (yp + at, val);
            }
          continue;
        }
#endif
      for (int i = 0; i < ni; i++)
        for (int q = 0; q < nq; q++)
          {
            size_t at = (size_t) (oy0 + i) * w + ox0 + q;
            float val = o[i][q][l];

            if (rp)
              val += rp[at];
            if (relu)
              val = val > 0.f ? val : 0.f;
            yp[at] = val;
          }
    }
}


/* Blocks blk0 .. blk1 (at most HEPA_NN_WINO_GROUP) of 8 tiles, output channel blocks
 * cb0 .. cb1. The group's inputs are transformed first; then, for HEPA_NN_WINO_CB_CHUNK channel
 * blocks at a time, plane by plane, each 8 x c_in slice of u is used for every block of the
 * group while it is in L1 (one block at a time streamed all of u from L3 once per block), and
 * the chunk's outputs are transformed back. */
static void
winograd_job (const float        *u,
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
              int                 v_ready)
{
  const int th = (h + M_OUT - 1) / M_OUT, tw = (w + M_OUT - 1) / M_OUT;
  const int co_blocks = (c_out + LANES - 1) / LANES;
  const int nb = blk1 - blk0;
  const size_t v_block = (size_t) TT * c_in * LANES;
  const size_t m_block = (size_t) TT * HEPA_NN_WINO_CB_CHUNK * LANES * LANES;
  TileBlock tb[HEPA_NN_WINO_GROUP];

  for (int g = 0; g < nb; g++)
    {
      tile_block (blk0 + g, n, th, tw, &tb[g]);
      if (v_ready)
        continue;
      for (int ci = 0; ci < c_in; ci++)
        input_block (x, c_in, h, w, &tb[g], ci, v + g * v_block + (size_t) ci * LANES,
                     (size_t) c_in * LANES);
    }
  for (int cc = cb0; cc < cb1; cc += HEPA_NN_WINO_CB_CHUNK)
    {
      const int ncb = cb1 - cc < HEPA_NN_WINO_CB_CHUNK ? cb1 - cc : HEPA_NN_WINO_CB_CHUNK;
      const size_t t_stride = (size_t) ncb * LANES * LANES;

      for (int t = 0; t < TT; t++)
        for (int cb = cc; cb < cc + ncb; cb++)
          {
            const float *ut = u + ((size_t) t * co_blocks + cb) * c_in * LANES;

            for (int g = 0; g < nb; g++)
              gemm_8x8 (ut, v + g * v_block + (size_t) t * c_in * LANES, c_in,
                        m + g * m_block + t * t_stride + (size_t) (cb - cc) * LANES * LANES);
          }
      for (int g = 0; g < nb; g++)
        for (int cb = cc; cb < cc + ncb; cb++)
          for (int r = 0; r < LANES && cb * LANES + r < c_out; r++)
            output_block (m + g * m_block + (size_t) (cb - cc) * LANES * LANES + r * LANES,
                          t_stride, c_out, h, w, &tb[g], cb * LANES + r, epi, y);
    }
}

/* The input transform of block @blk alone, into v (36 x c_in x 8). */
static void
winograd_input (const float *x,
                int          c_in,
                int          n,
                int          h,
                int          w,
                int          blk,
                float       *v)
{
  const int th = (h + M_OUT - 1) / M_OUT, tw = (w + M_OUT - 1) / M_OUT;
  TileBlock tb;

  tile_block (blk, n, th, tw, &tb);
  for (int ci = 0; ci < c_in; ci++)
    input_block (x, c_in, h, w, &tb, ci, v + (size_t) ci * LANES, (size_t) c_in * LANES);
}

const HepaNnKernels KTABLE (HEPA_NN_ISA) = {
  .name = HEPA_NN_ISA_NAME,
  .gemm_job = gemm_job,
  .gemm_pack_b = pack_b,
  .gemm_compute = gemm_compute,
  .winograd_job = winograd_job,
  .winograd_input = winograd_input,
};
