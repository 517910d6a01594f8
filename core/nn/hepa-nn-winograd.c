/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Winograd F(4x4, 3x3) for the stride-1 3x3 convolutions (Lavin & Gray 2015, points 0, +-1, +-2).
 *
 * Each 4x4 output tile is A^T [ (G g G^T) . (B^T d B) ] A over a 6x6 input tile d. The 36
 * elementwise products summed over input channels are 36 independent GEMMs, with 4 times fewer
 * multiplies than the direct convolution:
 *   m[t] (c_out, tiles) = u[t] (c_out, c_in) * v[t] (c_in, tiles)
 * Those GEMMs are small (64 x 64 x 196 in layer1 at 224), where a BLAS spends its time packing,
 * so everything here works on blocks of 8 tiles held in the 8 lanes of a vector, one block at a
 * time per thread, so that nothing but the weights leaves the cache:
 *   v (36, c_in, 8 lanes)           the block's transformed input, written by the gathers
 *   u (36, c_out / 8, c_in, 8 rows) packed once at load
 *   m (36, 8 rows, 8 lanes)         per 8 output channels: an 8 x 8 register-blocked kernel per t,
 *                                   then the output transform for those channels. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define T 6       /* input tile */
#define TT 36
#define M_OUT 4   /* output tile */
#define LANES 8

/* Unaligned 8-float vectors; GCC lowers them to AVX where the target has it. */
typedef float v8f __attribute__ ((vector_size (32), aligned (4)));
typedef int v8i __attribute__ ((vector_size (32), aligned (4)));

static int
round8 (int v)
{
  return (v + LANES - 1) / LANES * LANES;
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

static int
n_tiles (int extent)
{
  return (extent + M_OUT - 1) / M_OUT;
}

size_t
hepa_nn_winograd_weight_size (int c_in,
                              int c_out)
{
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0);
  return (size_t) TT * c_in * round8 (c_out);
}

void
hepa_nn_winograd_pack (const float *weight,
                       int          c_in,
                       int          c_out,
                       float       *u)
{
  hepa_nn_winograd_pack_scaled (weight, NULL, c_in, c_out, u);
}

void
hepa_nn_winograd_pack_scaled (const float  *weight,
                              const double *out_scale,
                              int           c_in,
                              int           c_out,
                              float        *u)
{
  /* G (6, 3) */
  static const double g_mat[T][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
  };
  const int co_blocks = round8 (c_out) / LANES;

  HEPA_NN_ASSERT (weight != NULL && u != NULL && c_in > 0 && c_out > 0);
  /* Eight output channels at a time, so that each of the 36 planes of u is written in order. */
  for (int cb = 0; cb < co_blocks; cb++)
    for (int ci = 0; ci < c_in; ci++)
      {
        float out[TT][LANES];

        for (int r = 0; r < LANES; r++)
          {
            int co = cb * LANES + r;
            double tmp[T][3];

            if (co >= c_out)
              {
                for (int t = 0; t < TT; t++)
                  out[t][r] = 0.f;
                continue;
              }
            const float *w = weight + ((size_t) co * c_in + ci) * 9;
            float g[9];

            /* Scaled as hepa_nn_bn_fold would: rounded once from the double product. */
            for (int j = 0; j < 9; j++)
              g[j] = out_scale != NULL ? (float) ((double) w[j] * out_scale[co]) : w[j];

            /* tmp = G g, then G g G^T */
            for (int i = 0; i < T; i++)
              for (int j = 0; j < 3; j++)
                tmp[i][j] = g_mat[i][0] * g[j] + g_mat[i][1] * g[3 + j] + g_mat[i][2] * g[6 + j];
            for (int i = 0; i < T; i++)
              for (int j = 0; j < T; j++)
                out[i * T + j][r] = (float) (tmp[i][0] * g_mat[j][0] + tmp[i][1] * g_mat[j][1]
                                             + tmp[i][2] * g_mat[j][2]);
          }
        for (int t = 0; t < TT; t++)
          memcpy (u + (((size_t) t * co_blocks + cb) * c_in + ci) * LANES, out[t],
                  sizeof out[t]);
      }
}

/* Per thread: one block's transformed input and one channel block's products. */
static size_t
thread_scratch (int c_in)
{
  return (size_t) TT * LANES * c_in + (size_t) TT * LANES * LANES;
}

size_t
hepa_nn_winograd_scratch_size (int c_in,
                               int c_out,
                               int n,
                               int h,
                               int w)
{
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0 && n > 0 && h > 0 && w > 0);
  return (size_t) HEPA_NN_MAX_THREADS * thread_scratch (c_in);
}

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
  for (int r = 0; r < T; r++)
    for (int p = 0; p < T; p++)
      {
        v8i ok = row_ok[r] & col_ok[p];
        v8i idx = base + (r * w + p);
#if defined(__AVX2__)
        __m256i mi, ii;
        __m256 g;

        memcpy (&mi, &ok, sizeof mi);
        memcpy (&ii, &idx, sizeof ii);
        g = _mm256_mask_i32gather_ps (_mm256_setzero_ps (), x, ii, _mm256_castsi256_ps (mi), 4);
        memcpy (&d[r][p], &g, sizeof g);
#else
        for (int l = 0; l < LANES; l++)
          d[r][p][l] = ok[l] ? x[idx[l]] : 0.f;
#endif
      }
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

void
hepa_nn_conv3x3_winograd (const float        *u,
                          int                 c_in,
                          int                 c_out,
                          const float        *x,
                          int                 n,
                          int                 h,
                          int                 w,
                          const HepaEpilogue *epi,
                          float              *y,
                          float              *scratch)
{
  HEPA_NN_ASSERT (u != NULL && x != NULL && y != NULL && scratch != NULL);
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0 && n > 0 && h > 0 && w > 0);
  HEPA_NN_ASSERT (x != y);
  HEPA_NN_ASSERT (epi == NULL || epi->residual != y);
  /* Gather offsets are int: one batch of inputs must stay below 2^31 floats. */
  HEPA_NN_ASSERT ((double) n * c_in * h * w < 2147483647.0);

  const int th = n_tiles (h), tw = n_tiles (w);
  const int blocks = (n * th * tw + LANES - 1) / LANES;
  const int co_blocks = round8 (c_out) / LANES;
  const int team = hepa_nn_team_size ();
  const int threads = team < HEPA_NN_MAX_THREADS ? team : HEPA_NN_MAX_THREADS;
  /* Few blocks (layer3 at batch 1 has two): split each block's output channels too, each part
   * transforming the block's input itself, which costs little beside its GEMMs. */
  int co_parts = (4 * threads + blocks - 1) / blocks;

  if (co_parts > co_blocks)
    co_parts = co_blocks;
  if (co_parts < 1 || threads == 1)
    co_parts = 1;

  HEPA_NN_PRAGMA (omp parallel for schedule (dynamic, 1) num_threads (threads)
                  if (threads > 1 && blocks * co_parts > 1))
  for (int job = 0; job < blocks * co_parts; job++)
    {
      int blk = job / co_parts, part = job % co_parts;
      int cb0 = (int) ((long) co_blocks * part / co_parts);
      int cb1 = (int) ((long) co_blocks * (part + 1) / co_parts);
      float *v = scratch + (size_t) thread_id () * thread_scratch (c_in);   /* (36, c_in, 8) */
      float *m = v + (size_t) TT * c_in * LANES;                              /* (36, 8, 8) */
      TileBlock tb;

      tile_block (blk, n, th, tw, &tb);
      for (int ci = 0; ci < c_in; ci++)
        input_block (x, c_in, h, w, &tb, ci, v + (size_t) ci * LANES, (size_t) c_in * LANES);
      for (int cb = cb0; cb < cb1; cb++)
        {
          for (int t = 0; t < TT; t++)
            gemm_8x8 (u + ((size_t) t * co_blocks + cb) * c_in * LANES,
                      v + (size_t) t * c_in * LANES, c_in, m + (size_t) t * LANES * LANES);
          for (int r = 0; r < LANES && cb * LANES + r < c_out; r++)
            output_block (m + r * LANES, LANES * LANES, c_out, h, w, &tb, cb * LANES + r, epi, y);
        }
    }
}
