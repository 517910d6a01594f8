/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Winograd F(4x4, 3x3) for the stride-1 3x3 convolutions (Lavin & Gray 2015, points 0, +-1, +-2).
 *
 * Each 4x4 output tile is A^T [ (G g G^T) . (B^T d B) ] A over a 6x6 input tile d. The 36
 * elementwise products summed over input channels are 36 independent GEMMs:
 *   m[t] (c_out, tiles) = u[t] (c_out, c_in) * v[t] (c_in, tiles),
 * 4 times fewer multiplies than the direct convolution. The transforms work on a whole row of
 * tiles at once, with the tiles along the innermost, contiguous axis so they vectorize. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <cblas.h>
#include <string.h>

#define T 6       /* input tile */
#define TT 36
#define M_OUT 4   /* output tile */

size_t
hepa_nn_winograd_weight_size (int c_in,
                              int c_out)
{
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0);
  return (size_t) TT * c_in * c_out;
}

void
hepa_nn_winograd_pack (const float *weight,
                       int          c_in,
                       int          c_out,
                       float       *u)
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

  HEPA_NN_ASSERT (weight != NULL && u != NULL && c_in > 0 && c_out > 0);
  for (int co = 0; co < c_out; co++)
    for (int ci = 0; ci < c_in; ci++)
      {
        const float *g = weight + ((size_t) co * c_in + ci) * 9;
        double tmp[T][3];

        /* tmp = G g, then G g G^T */
        for (int i = 0; i < T; i++)
          for (int j = 0; j < 3; j++)
            tmp[i][j] = g_mat[i][0] * g[j] + g_mat[i][1] * g[3 + j] + g_mat[i][2] * g[6 + j];
        for (int i = 0; i < T; i++)
          for (int j = 0; j < T; j++)
            {
              double v = tmp[i][0] * g_mat[j][0] + tmp[i][1] * g_mat[j][1]
                         + tmp[i][2] * g_mat[j][2];
              u[((size_t) (i * T + j) * c_out + co) * c_in + ci] = (float) v;
            }
      }
}

static int
n_tiles (int extent)
{
  return (extent + M_OUT - 1) / M_OUT;
}

/* Per thread: q (6 rows, 6 taps, tw) + s (6, 6, tw) + one padded input row (4 tw + 2). */
static size_t
row_buffer_size (int w)
{
  int tw = n_tiles (w);
  return (size_t) 2 * TT * tw + M_OUT * tw + 2 + 16;
}

#define MAX_THREADS 16

size_t
hepa_nn_winograd_scratch_size (int c_in,
                               int c_out,
                               int n,
                               int h,
                               int w)
{
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0 && n > 0 && h > 0 && w > 0);
  size_t tiles = (size_t) n * n_tiles (h) * n_tiles (w);
  return (size_t) TT * tiles * (c_in + c_out) + MAX_THREADS * row_buffer_size (w);
}

static int
thread_id (void)
{
#ifdef _OPENMP
  int id = omp_get_thread_num ();
  HEPA_NN_ASSERT (id < MAX_THREADS);
  return id;
#else
  return 0;
#endif
}

/* One row of tiles of one channel: x (h, w) -> v[t][tile0 + tx] for t < 36, tx < tw. */
static void
input_row (const float *x,
           int          h,
           int          w,
           int          ty,
           int          tw,
           float       *v,
           size_t       v_stride,   /* floats between v[t] and v[t + 1] */
           float       *buf)
{
  float *q = buf;                 /* (6 rows, 6 taps, tw) */
  float *s = q + TT * tw;         /* (6 k, 6 taps, tw) */
  float *padded = s + TT * tw;    /* (4 tw + 2) */
  const int width = M_OUT * tw + 2;

  /* q[r][p][tx] = x[4 ty - 1 + r][4 tx - 1 + p], zero outside the image. */
  for (int r = 0; r < T; r++)
    {
      int iy = M_OUT * ty - 1 + r;

      if (iy < 0 || iy >= h)
        {
          memset (q + r * T * tw, 0, sizeof (float) * T * tw);
          continue;
        }
      padded[0] = 0.f;
      memcpy (padded + 1, x + (size_t) iy * w, sizeof (float) * w);
      for (int i = w + 1; i < width; i++)
        padded[i] = 0.f;
      for (int p = 0; p < T; p++)
        {
          float *dst = q + (r * T + p) * tw;
          for (int tx = 0; tx < tw; tx++)
            dst[tx] = padded[M_OUT * tx + p];
        }
    }

  /* s[k][p] = sum_r BT[k][r] q[r][p]  (the vertical B^T d) */
  for (int p = 0; p < T; p++)
    {
      const float *d0 = q + (0 * T + p) * tw, *d1 = q + (1 * T + p) * tw;
      const float *d2 = q + (2 * T + p) * tw, *d3 = q + (3 * T + p) * tw;
      const float *d4 = q + (4 * T + p) * tw, *d5 = q + (5 * T + p) * tw;
      float *s0 = s + (0 * T + p) * tw, *s1 = s + (1 * T + p) * tw;
      float *s2 = s + (2 * T + p) * tw, *s3 = s + (3 * T + p) * tw;
      float *s4 = s + (4 * T + p) * tw, *s5 = s + (5 * T + p) * tw;

      for (int tx = 0; tx < tw; tx++)
        {
          float a = d4[tx] - 4.f * d2[tx];
          float b = d3[tx] - 4.f * d1[tx];
          float c = d4[tx] - d2[tx];
          float e = 2.f * (d3[tx] - d1[tx]);

          s0[tx] = 4.f * d0[tx] - 5.f * d2[tx] + d4[tx];
          s1[tx] = a + b;
          s2[tx] = a - b;
          s3[tx] = c + e;
          s4[tx] = c - e;
          s5[tx] = 4.f * d1[tx] - 5.f * d3[tx] + d5[tx];
        }
    }

  /* v[k * 6 + l] = sum_p BT[l][p] s[k][p]  (the horizontal . B) */
  for (int k = 0; k < T; k++)
    {
      const float *d0 = s + (k * T + 0) * tw, *d1 = s + (k * T + 1) * tw;
      const float *d2 = s + (k * T + 2) * tw, *d3 = s + (k * T + 3) * tw;
      const float *d4 = s + (k * T + 4) * tw, *d5 = s + (k * T + 5) * tw;
      float *v0 = v + (k * T + 0) * v_stride, *v1 = v + (k * T + 1) * v_stride;
      float *v2 = v + (k * T + 2) * v_stride, *v3 = v + (k * T + 3) * v_stride;
      float *v4 = v + (k * T + 4) * v_stride, *v5 = v + (k * T + 5) * v_stride;

      for (int tx = 0; tx < tw; tx++)
        {
          float a = d4[tx] - 4.f * d2[tx];
          float b = d3[tx] - 4.f * d1[tx];
          float c = d4[tx] - d2[tx];
          float e = 2.f * (d3[tx] - d1[tx]);

          v0[tx] = 4.f * d0[tx] - 5.f * d2[tx] + d4[tx];
          v1[tx] = a + b;
          v2[tx] = a - b;
          v3[tx] = c + e;
          v4[tx] = c - e;
          v5[tx] = 4.f * d1[tx] - 5.f * d3[tx] + d5[tx];
        }
    }
}

/* One row of tiles of one output channel: m[t][tile0 + tx] -> y (h, w) rows 4 ty .. 4 ty + 3,
 * with bias, residual and ReLU applied on the way out. */
static void
output_row (const float *m,
            size_t       m_stride,
            int          h,
            int          w,
            int          ty,
            int          tw,
            float        bias,
            const float *res,
            int          relu,
            float       *y,
            float       *buf)
{
  float *s = buf;                 /* (6 k, 4 q, tw) */
  float *o = s + T * M_OUT * tw;  /* (4 i, 4 q, tw) */

  /* s[k][q] = sum_l AT[q][l] m[k * 6 + l] */
  for (int k = 0; k < T; k++)
    {
      const float *m0 = m + (k * T + 0) * m_stride, *m1 = m + (k * T + 1) * m_stride;
      const float *m2 = m + (k * T + 2) * m_stride, *m3 = m + (k * T + 3) * m_stride;
      const float *m4 = m + (k * T + 4) * m_stride, *m5 = m + (k * T + 5) * m_stride;
      float *s0 = s + (k * M_OUT + 0) * tw, *s1 = s + (k * M_OUT + 1) * tw;
      float *s2 = s + (k * M_OUT + 2) * tw, *s3 = s + (k * M_OUT + 3) * tw;

      for (int tx = 0; tx < tw; tx++)
        {
          float a = m1[tx] + m2[tx], b = m1[tx] - m2[tx];
          float c = m3[tx] + m4[tx], e = m3[tx] - m4[tx];

          s0[tx] = m0[tx] + a + c;
          s1[tx] = b + 2.f * e;
          s2[tx] = a + 4.f * c;
          s3[tx] = b + 8.f * e + m5[tx];
        }
    }
  /* o[i][q] = sum_k AT[i][k] s[k][q] + bias */
  for (int q = 0; q < M_OUT; q++)
    {
      const float *m0 = s + (0 * M_OUT + q) * tw, *m1 = s + (1 * M_OUT + q) * tw;
      const float *m2 = s + (2 * M_OUT + q) * tw, *m3 = s + (3 * M_OUT + q) * tw;
      const float *m4 = s + (4 * M_OUT + q) * tw, *m5 = s + (5 * M_OUT + q) * tw;
      float *o0 = o + (0 * M_OUT + q) * tw, *o1 = o + (1 * M_OUT + q) * tw;
      float *o2 = o + (2 * M_OUT + q) * tw, *o3 = o + (3 * M_OUT + q) * tw;

      for (int tx = 0; tx < tw; tx++)
        {
          float a = m1[tx] + m2[tx], b = m1[tx] - m2[tx];
          float c = m3[tx] + m4[tx], e = m3[tx] - m4[tx];

          o0[tx] = m0[tx] + a + c + bias;
          o1[tx] = b + 2.f * e + bias;
          o2[tx] = a + 4.f * c + bias;
          o3[tx] = b + 8.f * e + m5[tx] + bias;
        }
    }
  /* Interleave the tiles back into image rows. */
  for (int i = 0; i < M_OUT; i++)
    {
      int oy = M_OUT * ty + i;

      if (oy >= h)
        break;
      float *dst = y + (size_t) oy * w;
      const float *r = res ? res + (size_t) oy * w : NULL;
      const float *oi = o + i * M_OUT * tw;

      for (int tx = 0; tx < tw; tx++)
        {
          int x0 = M_OUT * tx;
          int nq = w - x0 < M_OUT ? w - x0 : M_OUT;

          for (int q = 0; q < nq; q++)
            dst[x0 + q] = oi[q * tw + tx];
        }
      if (r != NULL || relu)
        hepa_nn_epilogue_row (dst, w, 0.f, r, relu);
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

  const int th = n_tiles (h), tw = n_tiles (w);
  const size_t tiles = (size_t) n * th * tw;
  float *v = scratch;                           /* (36, c_in, tiles) */
  float *m = v + TT * c_in * tiles;             /* (36, c_out, tiles) */
  float *bufs = m + TT * c_out * tiles;         /* MAX_THREADS x row_buffer_size */
  const size_t buf_sz = row_buffer_size (w);
  const int in_rows = n * c_in * th, out_rows = n * c_out * th;

  HEPA_NN_PARALLEL_FOR (in_rows > 8)
  for (int job = 0; job < in_rows; job++)
    {
      int ty = job % th, ci = (job / th) % c_in, b = job / (th * c_in);
      size_t tile0 = ((size_t) b * th + ty) * tw;

      input_row (x + ((size_t) b * c_in + ci) * h * w, h, w, ty, tw,
                 v + (size_t) ci * tiles + tile0, (size_t) c_in * tiles,
                 bufs + thread_id () * buf_sz);
    }

  for (int t = 0; t < TT; t++)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, c_out, (int) tiles, c_in,
                 1.0f, u + (size_t) t * c_out * c_in, c_in,
                 v + (size_t) t * c_in * tiles, (int) tiles,
                 0.0f, m + (size_t) t * c_out * tiles, (int) tiles);

  HEPA_NN_PARALLEL_FOR (out_rows > 8)
  for (int job = 0; job < out_rows; job++)
    {
      int ty = job % th, co = (job / th) % c_out, b = job / (th * c_out);
      size_t tile0 = ((size_t) b * th + ty) * tw;
      size_t plane = ((size_t) b * c_out + co) * h * w;

      output_row (m + (size_t) co * tiles + tile0, (size_t) c_out * tiles, h, w, ty, tw,
                  epi && epi->bias ? epi->bias[co] : 0.f,
                  epi && epi->residual ? epi->residual + plane : NULL,
                  epi ? epi->relu : 0, y + plane, bufs + thread_id () * buf_sz);
    }
}
