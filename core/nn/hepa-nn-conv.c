/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Convolutions: im2col + SGEMM, direct GEMM for 1x1 stride-1, and the naive reference. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <cblas.h>
#include <string.h>

static void
check_desc (const HepaConvDesc *d)
{
  HEPA_NN_ASSERT (d != NULL);
  HEPA_NN_ASSERT (d->c_in > 0 && d->c_out > 0);
  HEPA_NN_ASSERT (d->k > 0 && d->stride > 0 && d->pad >= 0 && d->pad < d->k);
}

static int
is_direct_gemm (const HepaConvDesc *d)
{
  return d->k == 1 && d->stride == 1 && d->pad == 0;
}

size_t
hepa_nn_conv2d_scratch_size (const HepaConvDesc *d,
                             int                 h,
                             int                 w)
{
  check_desc (d);
  if (is_direct_gemm (d))
    return 0;
  return (size_t) d->c_in * d->k * d->k * hepa_nn_out_size (h, d->k, d->stride, d->pad)
         * hepa_nn_out_size (w, d->k, d->stride, d->pad);
}

/* x (c, h, w) -> col (c * k * k, oh * ow): row (c, ky, kx) holds the input pixel each output
 * pixel sees through that tap, zero where the tap falls in the padding. */
typedef struct
{
  const HepaConvDesc *d;
  const float        *x;
  int                 h, w, oh, ow;
  float              *col;
} Im2colCtx;

static void
im2col_rows (void *data,
             int   begin,
             int   end,
             int   index)
{
  const Im2colCtx *a = data;
  const int k = a->d->k, s = a->d->stride, p = a->d->pad;
  const int h = a->h, w = a->w, oh = a->oh, ow = a->ow;

  (void) index;
  for (int row = begin; row < end; row++)
    {
      int c = row / (k * k), ky = (row / k) % k, kx = row % k;
      const float *xc = a->x + (size_t) c * h * w;
      float *dst = a->col + (size_t) row * oh * ow;
      /* Output columns whose tap lands inside the image: 0 <= ox * s - p + kx < w. */
      int ox0 = p - kx > 0 ? (p - kx + s - 1) / s : 0;
      int ox1 = (w - 1 + p - kx) >= 0 ? (w - 1 + p - kx) / s + 1 : 0;

      if (ox1 > ow)
        ox1 = ow;
      if (ox0 > ox1)
        ox0 = ox1;
      for (int oy = 0; oy < oh; oy++, dst += ow)
        {
          int iy = oy * s - p + ky;

          if (iy < 0 || iy >= h)
            {
              memset (dst, 0, sizeof (float) * ow);
              continue;
            }
          const float *src = xc + (size_t) iy * w - p + kx;
          for (int ox = 0; ox < ox0; ox++)
            dst[ox] = 0.f;
          if (s == 1)
            memcpy (dst + ox0, src + ox0, sizeof (float) * (ox1 - ox0));
          else
            for (int ox = ox0; ox < ox1; ox++)
              dst[ox] = src[ox * s];
          for (int ox = ox1; ox < ow; ox++)
            dst[ox] = 0.f;
        }
    }
}

static void
im2col (const HepaConvDesc *d,
        const float        *x,
        int                 h,
        int                 w,
        int                 oh,
        int                 ow,
        float              *col)
{
  Im2colCtx a = { d, x, h, w, oh, ow, col };
  const int rows = d->c_in * d->k * d->k;

  hepa_nn_team_for (rows, (size_t) rows * oh * ow, im2col_rows, &a);
}

void
hepa_nn_conv2d (const HepaConvDesc *d,
                const float        *x,
                int                 n,
                int                 h,
                int                 w,
                const float        *weight,
                const HepaEpilogue *epi,
                float              *y,
                float              *scratch)
{
  check_desc (d);
  HEPA_NN_ASSERT (x != NULL && weight != NULL && y != NULL && n > 0);
  HEPA_NN_ASSERT (x != y);

  const int oh = hepa_nn_out_size (h, d->k, d->stride, d->pad);
  const int ow = hepa_nn_out_size (w, d->k, d->stride, d->pad);
  const int kk = d->c_in * d->k * d->k;
  const size_t in_sz = (size_t) d->c_in * h * w;
  const size_t out_sz = (size_t) d->c_out * oh * ow;

  HEPA_NN_ASSERT (is_direct_gemm (d) || scratch != NULL);
  for (int b = 0; b < n; b++)
    {
      const float *src = x + b * in_sz;

      if (!is_direct_gemm (d))
        {
          im2col (d, src, h, w, oh, ow, scratch);
          src = scratch;
        }
      /* y (c_out, oh * ow) = weight (c_out, kk) * col (kk, oh * ow) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, d->c_out, oh * ow, kk,
                   1.0f, weight, kk, src, oh * ow, 0.0f, y + b * out_sz, oh * ow);
    }
  if (epi != NULL)
    hepa_nn_epilogue (y, n, d->c_out, oh * ow, epi);
}

size_t
hepa_nn_conv_pack_size (const HepaConvDesc *d)
{
  check_desc (d);
  return hepa_nn_gemm_pack_size (d->c_out, d->c_in * d->k * d->k);
}

void
hepa_nn_conv_pack (const HepaConvDesc *d,
                   const float        *weight,
                   float              *packed)
{
  check_desc (d);
  hepa_nn_gemm_pack (weight, d->c_out, d->c_in * d->k * d->k, packed);
}

size_t
hepa_nn_conv2d_packed_scratch_size (const HepaConvDesc *d,
                                    int                 h,
                                    int                 w)
{
  return hepa_nn_conv2d_scratch_size (d, h, w) + hepa_nn_gemm_scratch_size ();
}

void
hepa_nn_conv2d_packed (const HepaConvDesc *d,
                       const float        *x,
                       int                 n,
                       int                 h,
                       int                 w,
                       const float        *packed,
                       const HepaEpilogue *epi,
                       float              *y,
                       float              *scratch)
{
  check_desc (d);
  HEPA_NN_ASSERT (x != NULL && packed != NULL && y != NULL && n > 0);
  HEPA_NN_ASSERT (x != y);

  const int oh = hepa_nn_out_size (h, d->k, d->stride, d->pad);
  const int ow = hepa_nn_out_size (w, d->k, d->stride, d->pad);
  const int kk = d->c_in * d->k * d->k;
  const size_t in_sz = (size_t) d->c_in * h * w;
  const size_t out_sz = (size_t) d->c_out * oh * ow;

  const size_t col_sz = hepa_nn_conv2d_scratch_size (d, h, w);

  HEPA_NN_ASSERT (scratch != NULL);
  if (is_direct_gemm (d))
    {
      /* The whole batch in one parallel region: no im2col buffer to share. */
      hepa_nn_gemm_packed_batch (packed, d->c_out, kk, x, in_sz, oh * ow, oh * ow, epi, y, out_sz,
                                 n, scratch + col_sz);
      return;
    }
  for (int b = 0; b < n; b++)
    {
      const float *src = x + b * in_sz;
      HepaEpilogue e = { NULL, NULL, 0 };

      if (epi != NULL)
        {
          e = *epi;
          if (e.residual)
            e.residual += b * out_sz;
        }
      if (!is_direct_gemm (d))
        {
          im2col (d, src, h, w, oh, ow, scratch);
          src = scratch;
        }
      hepa_nn_gemm_packed (packed, d->c_out, kk, src, oh * ow, oh * ow, &e, y + b * out_sz,
                           scratch + col_sz);
    }
}

void
hepa_nn_conv2d_ref (const HepaConvDesc *d,
                    const float        *x,
                    int                 n,
                    int                 h,
                    int                 w,
                    const float        *weight,
                    const HepaEpilogue *epi,
                    float              *y)
{
  check_desc (d);
  HEPA_NN_ASSERT (x != NULL && weight != NULL && y != NULL && n > 0);

  const int oh = hepa_nn_out_size (h, d->k, d->stride, d->pad);
  const int ow = hepa_nn_out_size (w, d->k, d->stride, d->pad);
  const int k = d->k;

  for (int b = 0; b < n; b++)
    for (int co = 0; co < d->c_out; co++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            double acc = 0;

            for (int ci = 0; ci < d->c_in; ci++)
              for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                  {
                    int iy = oy * d->stride - d->pad + ky;
                    int ix = ox * d->stride - d->pad + kx;

                    if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                      continue;
                    acc += (double) x[(((size_t) b * d->c_in + ci) * h + iy) * w + ix]
                           * weight[(((size_t) co * d->c_in + ci) * k + ky) * k + kx];
                  }
            y[(((size_t) b * d->c_out + co) * oh + oy) * ow + ox] = (float) acc;
          }
  if (epi != NULL)
    hepa_nn_epilogue_ref (y, n, d->c_out, oh * ow, epi);
}

typedef struct
{
  float              *y;
  int                 c, hw;
  const HepaEpilogue *epi;
} EpilogueCtx;

static void
epilogue_rows (void *data,
               int   begin,
               int   end,
               int   index)
{
  const EpilogueCtx *a = data;
  const HepaEpilogue *epi = a->epi;

  (void) index;
  for (int nc = begin; nc < end; nc++)
    {
      float *row = a->y + (size_t) nc * a->hw;
      const float *res = epi->residual ? epi->residual + (size_t) nc * a->hw : NULL;

      hepa_nn_epilogue_row (row, a->hw, epi->bias ? epi->bias[nc % a->c] : 0.f, res, epi->relu);
    }
}

void
hepa_nn_epilogue (float              *y,
                  int                 n,
                  int                 c,
                  int                 hw,
                  const HepaEpilogue *epi)
{
  HEPA_NN_ASSERT (y != NULL && epi != NULL && n > 0 && c > 0 && hw > 0);
  HEPA_NN_ASSERT (epi->residual != y);

  EpilogueCtx a = { y, c, hw, epi };

  hepa_nn_team_for (n * c, (size_t) n * c * hw, epilogue_rows, &a);
}

void
hepa_nn_epilogue_ref (float              *y,
                      int                 n,
                      int                 c,
                      int                 hw,
                      const HepaEpilogue *epi)
{
  HEPA_NN_ASSERT (y != NULL && epi != NULL);
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++)
      for (int i = 0; i < hw; i++)
        {
          size_t at = ((size_t) b * c + ch) * hw + i;
          float v = y[at];

          if (epi->bias)
            v += epi->bias[ch];
          if (epi->residual)
            v += epi->residual[at];
          if (epi->relu && !(v > 0.f))
            v = 0.f;
          y[at] = v;
        }
}
