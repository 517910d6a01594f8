/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Forward and backward kernels for training, on CNHW activations. */
#include "hepa-nn-train-private.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

int
hepa_nn_train_out_size (int in,
                        int k,
                        int stride,
                        int pad)
{
  HEPA_NN_ASSERT (in > 0 && k > 0 && stride > 0 && pad >= 0);
  HEPA_NN_ASSERT (in + 2 * pad >= k);
  return (in + 2 * pad - k) / stride + 1;
}

/* The output columns [lo, hi) of one kernel tap that read inside a row of width w. */
static inline void
valid_range (int  w,
             int  ow,
             int  kj,
             int  stride,
             int  pad,
             int *lo,
             int *hi)
{
  int l = 0, h = ow;

  /* ix = ox * stride - pad + kj must satisfy 0 <= ix < w. */
  while (l < ow && l * stride - pad + kj < 0)
    l++;
  while (h > l && (h - 1) * stride - pad + kj >= w)
    h--;
  *lo = l;
  *hi = h;
}

typedef struct
{
  const float *in;
  float       *col;
  int          c, b, h, w, k, stride, pad, oh, ow;
} Im2col;

static void
im2col_rows (void *data,
             int   begin,
             int   end)
{
  const Im2col *a = data;
  int k = a->k, h = a->h, w = a->w, b = a->b, oh = a->oh, ow = a->ow;
  int stride = a->stride, pad = a->pad;
  size_t row_len = (size_t) b * oh * ow;

  /* One row per (channel, tap). */
  for (int r = begin; r < end; r++)
    {
      int ci = r / (k * k), kk = r % (k * k);
      int ki = kk / k, kj = kk % k;
      float *row = a->col + (size_t) r * row_len;
      int lo, hi;

      valid_range (w, ow, kj, stride, pad, &lo, &hi);
      for (int bi = 0; bi < b; bi++)
        {
          const float *plane = a->in + ((size_t) ci * b + bi) * h * w;

          for (int oy = 0; oy < oh; oy++)
            {
              float *dst = row + ((size_t) bi * oh + oy) * ow;
              int iy = oy * stride - pad + ki;

              if (iy < 0 || iy >= h)
                {
                  memset (dst, 0, sizeof (float) * ow);
                  continue;
                }
              const float *src = plane + (size_t) iy * w - pad + kj;
              for (int ox = 0; ox < lo; ox++)
                dst[ox] = 0.0f;
              if (stride == 1)
                {
                  if (hi > lo)
                    memcpy (dst + lo, src + lo, sizeof (float) * (hi - lo));
                }
              else
                {
                  for (int ox = lo; ox < hi; ox++)
                    dst[ox] = src[ox * stride];
                }
              for (int ox = hi > lo ? hi : lo; ox < ow; ox++)
                dst[ox] = 0.0f;
            }
        }
    }
}

void
hepa_nn_train_im2col (const float *in,
                      int          c,
                      int          b,
                      int          h,
                      int          w,
                      int          k,
                      int          stride,
                      int          pad,
                      float       *col)
{
  Im2col a = { in, col, c, b, h, w, k, stride, pad,
               hepa_nn_train_out_size (h, k, stride, pad),
               hepa_nn_train_out_size (w, k, stride, pad) };

  hepa_nn_train_parallel (c * k * k, (size_t) c * k * k * b * a.oh * a.ow, im2col_rows, &a);
}

static void
col2im_channels (void *data,
                 int   begin,
                 int   end)
{
  const Im2col *a = data;
  int k = a->k, h = a->h, w = a->w, b = a->b, oh = a->oh, ow = a->ow;
  int stride = a->stride, pad = a->pad;
  size_t row_len = (size_t) b * oh * ow;

  /* Channels are independent; the taps of one channel add into the same pixels. */
  for (int ci = begin; ci < end; ci++)
    for (int kk = 0; kk < k * k; kk++)
      {
        int ki = kk / k, kj = kk % k;
        const float *row = a->in + ((size_t) ci * k * k + kk) * row_len;
        int lo, hi;

        valid_range (w, ow, kj, stride, pad, &lo, &hi);
        for (int bi = 0; bi < b; bi++)
          {
            float *plane = a->col + ((size_t) ci * b + bi) * h * w;

            for (int oy = 0; oy < oh; oy++)
              {
                const float *src = row + ((size_t) bi * oh + oy) * ow;
                int iy = oy * stride - pad + ki;

                if (iy < 0 || iy >= h)
                  continue;
                float *dst = plane + (size_t) iy * w - pad + kj;
                if (stride == 1)
                  for (int ox = lo; ox < hi; ox++)
                    dst[ox] += src[ox];
                else
                  for (int ox = lo; ox < hi; ox++)
                    dst[ox * stride] += src[ox];
              }
          }
      }
}

void
hepa_nn_train_col2im_add (const float *col,
                          int          c,
                          int          b,
                          int          h,
                          int          w,
                          int          k,
                          int          stride,
                          int          pad,
                          float       *in_grad)
{
  /* Same argument block as im2col with the roles of the two buffers swapped. */
  Im2col a = { col, in_grad, c, b, h, w, k, stride, pad,
               hepa_nn_train_out_size (h, k, stride, pad),
               hepa_nn_train_out_size (w, k, stride, pad) };

  hepa_nn_train_parallel (c, (size_t) c * k * k * b * a.oh * a.ow, col2im_channels, &a);
}

static inline int
is_pointwise (int k,
              int stride,
              int pad)
{
  return k == 1 && stride == 1 && pad == 0;
}

size_t
hepa_nn_train_conv_scratch (int c_in,
                            int b,
                            int h,
                            int w,
                            int k,
                            int stride,
                            int pad)
{
  if (is_pointwise (k, stride, pad))
    return 0;
  return (size_t) c_in * k * k * b * hepa_nn_train_out_size (h, k, stride, pad)
         * hepa_nn_train_out_size (w, k, stride, pad);
}

void
hepa_nn_train_conv_forward (const float *in,
                            int          c_in,
                            int          b,
                            int          h,
                            int          w,
                            const float *weight,
                            int          c_out,
                            int          k,
                            int          stride,
                            int          pad,
                            float       *scratch,
                            float       *out)
{
  int oh = hepa_nn_train_out_size (h, k, stride, pad);
  int ow = hepa_nn_train_out_size (w, k, stride, pad);
  int kdim = c_in * k * k;
  int n = b * oh * ow;
  const float *col = in;

  HEPA_NN_ASSERT (c_out > 0 && c_in > 0 && b > 0);
  if (!is_pointwise (k, stride, pad))
    {
      HEPA_NN_ASSERT (scratch != NULL);
      hepa_nn_train_im2col (in, c_in, b, h, w, k, stride, pad, scratch);
      col = scratch;
    }
  /* out (c_out, n) = W (c_out, kdim) x col (kdim, n) */
  hepa_nn_sgemm (0, 0, c_out, n, kdim,
                 1.0f, weight, kdim, col, n, 0.0f, out, n);
}

void
hepa_nn_train_conv_backward (const float *in,
                             int          c_in,
                             int          b,
                             int          h,
                             int          w,
                             const float *weight,
                             int          c_out,
                             int          k,
                             int          stride,
                             int          pad,
                             const float *out_grad,
                             float       *scratch,
                             float       *weight_grad,
                             float       *in_grad,
                             int          accumulate)
{
  int oh = hepa_nn_train_out_size (h, k, stride, pad);
  int ow = hepa_nn_train_out_size (w, k, stride, pad);
  int kdim = c_in * k * k;
  int n = b * oh * ow;
  int pointwise = is_pointwise (k, stride, pad);
  const float *col = in;

  if (!pointwise)
    {
      HEPA_NN_ASSERT (scratch != NULL);
      hepa_nn_train_im2col (in, c_in, b, h, w, k, stride, pad, scratch);
      col = scratch;
    }
  /* dW (c_out, kdim) += dY (c_out, n) x col^T (n, kdim) */
  if (weight_grad != NULL)
    hepa_nn_sgemm (0, 1, c_out, kdim, n,
                   1.0f, out_grad, n, col, n, 1.0f, weight_grad, kdim);
  if (in_grad == NULL)
    return;
  if (pointwise)
    {
      /* dX (c_in, n) (+)= W^T (c_in, c_out) x dY (c_out, n) */
      hepa_nn_sgemm (1, 0, kdim, n, c_out,
                     1.0f, weight, kdim, out_grad, n, accumulate ? 1.0f : 0.0f, in_grad, n);
      return;
    }
  /* dcol (kdim, n) = W^T x dY, reusing the scratch, then folded back. */
  hepa_nn_sgemm (1, 0, kdim, n, c_out,
                 1.0f, weight, kdim, out_grad, n, 0.0f, scratch, n);
  if (!accumulate)
    memset (in_grad, 0, sizeof (float) * (size_t) c_in * b * h * w);
  hepa_nn_train_col2im_add (scratch, c_in, b, h, w, k, stride, pad, in_grad);
}

/* Sums in blocks of float lanes (which vectorize) added into a double per block. */
#define LANES 8
#define BLOCK 2048

static double
sum_floats (const float *x,
            size_t       n)
{
  double total = 0.0;

  for (size_t start = 0; start < n; start += BLOCK)
    {
      size_t len = n - start < BLOCK ? n - start : BLOCK;
      size_t i = 0;
      float acc[LANES] = { 0 };
      float s = 0.0f;

      for (; i + LANES <= len; i += LANES)
        for (int l = 0; l < LANES; l++)
          acc[l] += x[start + i + l];
      for (; i < len; i++)
        s += x[start + i];
      for (int l = 0; l < LANES; l++)
        s += acc[l];
      total += s;
    }
  return total;
}

static double
sum_sq_dev (const float *x,
            size_t       n,
            float        mean)
{
  double total = 0.0;

  for (size_t start = 0; start < n; start += BLOCK)
    {
      size_t len = n - start < BLOCK ? n - start : BLOCK;
      size_t i = 0;
      float acc[LANES] = { 0 };
      float s = 0.0f;

      for (; i + LANES <= len; i += LANES)
        for (int l = 0; l < LANES; l++)
          {
            float d = x[start + i + l] - mean;
            acc[l] += d * d;
          }
      for (; i < len; i++)
        s += (x[start + i] - mean) * (x[start + i] - mean);
      for (int l = 0; l < LANES; l++)
        s += acc[l];
      total += s;
    }
  return total;
}

/* sum (dy) and sum (dy * (x - mean)) */
static void
sum_dy_dyx (const float *dy,
            const float *x,
            size_t       n,
            float        mean,
            double      *sdy,
            double      *sdyx)
{
  double t1 = 0.0, t2 = 0.0;

  for (size_t start = 0; start < n; start += BLOCK)
    {
      size_t len = n - start < BLOCK ? n - start : BLOCK;
      size_t i = 0;
      float a1[LANES] = { 0 }, a2[LANES] = { 0 };
      float s1 = 0.0f, s2 = 0.0f;

      for (; i + LANES <= len; i += LANES)
        for (int l = 0; l < LANES; l++)
          {
            float g = dy[start + i + l];
            a1[l] += g;
            a2[l] += g * (x[start + i + l] - mean);
          }
      for (; i < len; i++)
        {
          s1 += dy[start + i];
          s2 += dy[start + i] * (x[start + i] - mean);
        }
      for (int l = 0; l < LANES; l++)
        {
          s1 += a1[l];
          s2 += a2[l];
        }
      t1 += s1;
      t2 += s2;
    }
  *sdy = t1;
  *sdyx = t2;
}

typedef struct
{
  const float *x;
  const float *dy;
  size_t       n;
  const float *gamma, *beta;
  float       *running_mean, *running_var;
  float        momentum, eps;
  float       *save_mean, *save_invstd;
  float       *gamma_grad, *beta_grad;
  float       *y;
} BnArgs;

static void
bn_forward_channels (void *data,
                     int   begin,
                     int   end)
{
  const BnArgs *a = data;
  size_t n = a->n;

  for (int ci = begin; ci < end; ci++)
    {
      const float *xc = a->x + (size_t) ci * n;
      float *yc = a->y + (size_t) ci * n;
      float mean, var, invstd, scale, shift;
      double sq;

      mean = (float) (sum_floats (xc, n) / n);
      sq = sum_sq_dev (xc, n, mean);
      var = (float) (sq / n);
      invstd = 1.0f / sqrtf (var + a->eps);
      a->save_mean[ci] = mean;
      a->save_invstd[ci] = invstd;
      a->running_mean[ci] = (1.0f - a->momentum) * a->running_mean[ci] + a->momentum * mean;
      a->running_var[ci] = (1.0f - a->momentum) * a->running_var[ci]
                           + a->momentum * (float) (sq / (double) (n - 1));
      scale = a->gamma[ci] * invstd;
      shift = a->beta[ci] - mean * scale;
      for (size_t i = 0; i < n; i++)
        yc[i] = xc[i] * scale + shift;
    }
}

void
hepa_nn_train_bn_forward (const float *x,
                          int          c,
                          size_t       n,
                          const float *gamma,
                          const float *beta,
                          float       *running_mean,
                          float       *running_var,
                          float        momentum,
                          float        eps,
                          float       *save_mean,
                          float       *save_invstd,
                          float       *y)
{
  BnArgs a = { x, NULL, n, gamma, beta, running_mean, running_var, momentum, eps, save_mean,
               save_invstd, NULL, NULL, y };

  HEPA_NN_ASSERT (n > 1);
  hepa_nn_train_parallel (c, (size_t) c * n, bn_forward_channels, &a);
}

static void
bn_eval_channels (void *data,
                  int   begin,
                  int   end)
{
  const BnArgs *a = data;
  size_t n = a->n;

  for (int ci = begin; ci < end; ci++)
    {
      const float *xc = a->x + (size_t) ci * n;
      float *yc = a->y + (size_t) ci * n;
      float scale = a->gamma[ci] / sqrtf (a->running_var[ci] + a->eps);
      float shift = a->beta[ci] - a->running_mean[ci] * scale;

      for (size_t i = 0; i < n; i++)
        yc[i] = xc[i] * scale + shift;
    }
}

void
hepa_nn_train_bn_forward_eval (const float *x,
                               int          c,
                               size_t       n,
                               const float *gamma,
                               const float *beta,
                               const float *running_mean,
                               const float *running_var,
                               float        eps,
                               float       *y)
{
  BnArgs a = { x, NULL, n, gamma, beta, (float *) running_mean, (float *) running_var, 0, eps,
               NULL, NULL, NULL, NULL, y };

  hepa_nn_train_parallel (c, (size_t) c * n, bn_eval_channels, &a);
}

static void
bn_backward_channels (void *data,
                      int   begin,
                      int   end)
{
  const BnArgs *a = data;
  size_t n = a->n;

  for (int ci = begin; ci < end; ci++)
    {
      const float *xc = a->x + (size_t) ci * n;
      const float *dy = a->dy + (size_t) ci * n;
      float *dx = a->y + (size_t) ci * n;
      float mean = a->save_mean[ci], invstd = a->save_invstd[ci];
      double sdy, sdyx;
      float dgamma, dbeta, k1, k2, k3;

      sum_dy_dyx (dy, xc, n, mean, &sdy, &sdyx);
      dbeta = (float) sdy;
      dgamma = (float) (sdyx * invstd);
      a->gamma_grad[ci] += dgamma;
      a->beta_grad[ci] += dbeta;
      /* dx = gamma * invstd * (dy - dbeta / n - xhat * dgamma / n), xhat = (x - mean) * invstd */
      k1 = a->gamma[ci] * invstd;
      k2 = dbeta / (float) n;
      k3 = dgamma * invstd / (float) n;
      for (size_t i = 0; i < n; i++)
        dx[i] = k1 * (dy[i] - k2 - (xc[i] - mean) * k3);
    }
}

void
hepa_nn_train_bn_backward (const float *x,
                           const float *y_grad,
                           int          c,
                           size_t       n,
                           const float *gamma,
                           const float *save_mean,
                           const float *save_invstd,
                           float       *gamma_grad,
                           float       *beta_grad,
                           float       *x_grad)
{
  BnArgs a = { x, y_grad, n, gamma, NULL, NULL, NULL, 0, 0, (float *) save_mean,
               (float *) save_invstd, gamma_grad, beta_grad, x_grad };

  hepa_nn_train_parallel (c, (size_t) c * n, bn_backward_channels, &a);
}

#define ELEMENT_CHUNK 16384

typedef struct
{
  const float *y;
  float       *x;
  size_t       n;
} Elementwise;

static void
relu_forward_chunks (void *data,
                     int   begin,
                     int   end)
{
  const Elementwise *a = data;
  size_t lo = (size_t) begin * ELEMENT_CHUNK;
  size_t hi = (size_t) end * ELEMENT_CHUNK < a->n ? (size_t) end * ELEMENT_CHUNK : a->n;

  for (size_t i = lo; i < hi; i++)
    a->x[i] = a->x[i] > 0.0f ? a->x[i] : 0.0f;
}

static void
relu_backward_chunks (void *data,
                      int   begin,
                      int   end)
{
  const Elementwise *a = data;
  size_t lo = (size_t) begin * ELEMENT_CHUNK;
  size_t hi = (size_t) end * ELEMENT_CHUNK < a->n ? (size_t) end * ELEMENT_CHUNK : a->n;

  for (size_t i = lo; i < hi; i++)
    a->x[i] = a->y[i] > 0.0f ? a->x[i] : 0.0f;
}

void
hepa_nn_train_relu_forward (float  *x,
                            size_t  n)
{
  Elementwise a = { NULL, x, n };

  hepa_nn_train_parallel ((int) ((n + ELEMENT_CHUNK - 1) / ELEMENT_CHUNK), n,
                          relu_forward_chunks, &a);
}

void
hepa_nn_train_relu_backward (const float *y,
                             float       *grad,
                             size_t       n)
{
  Elementwise a = { y, grad, n };

  hepa_nn_train_parallel ((int) ((n + ELEMENT_CHUNK - 1) / ELEMENT_CHUNK), n,
                          relu_backward_chunks, &a);
}

static void
add_chunks (void *data,
            int   begin,
            int   end)
{
  const Elementwise *a = data;
  size_t lo = (size_t) begin * ELEMENT_CHUNK;
  size_t hi = (size_t) end * ELEMENT_CHUNK < a->n ? (size_t) end * ELEMENT_CHUNK : a->n;

  for (size_t i = lo; i < hi; i++)
    a->x[i] += a->y[i];
}

void
hepa_nn_train_add (float       *x,
                   const float *y,
                   size_t       n)
{
  Elementwise a = { y, x, n };

  hepa_nn_train_parallel ((int) ((n + ELEMENT_CHUNK - 1) / ELEMENT_CHUNK), n, add_chunks, &a);
}

typedef struct
{
  const float   *in;
  float         *out;
  int32_t       *argmax;
  const int32_t *cargmax;
  int            h, w, k, stride, pad, oh, ow;
} Pool2d;

static void
maxpool_planes (void *data,
                int   begin,
                int   end)
{
  const Pool2d *a = data;
  int h = a->h, w = a->w, k = a->k, stride = a->stride, pad = a->pad, oh = a->oh, ow = a->ow;

  for (int p = begin; p < end; p++)
    {
      const float *plane = a->in + (size_t) p * h * w;
      float *o = a->out + (size_t) p * oh * ow;
      int32_t *am = a->argmax + (size_t) p * oh * ow;

      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            float best = -INFINITY;
            int32_t best_i = -1;

            for (int ki = 0; ki < k; ki++)
              {
                int iy = oy * stride - pad + ki;
                if (iy < 0 || iy >= h)
                  continue;
                for (int kj = 0; kj < k; kj++)
                  {
                    int ix = ox * stride - pad + kj;
                    if (ix < 0 || ix >= w)
                      continue;
                    /* First maximum wins, as PyTorch's CPU kernel (NaN propagates). */
                    float v = plane[iy * w + ix];
                    if (v > best || isnan (v) || best_i < 0)
                      {
                        best = v;
                        best_i = iy * w + ix;
                        if (isnan (v))
                          goto done;
                      }
                  }
              }
          done:
            o[oy * ow + ox] = best;
            am[oy * ow + ox] = best_i;
          }
    }
}

void
hepa_nn_train_maxpool_forward (const float *in,
                               int          c,
                               int          b,
                               int          h,
                               int          w,
                               int          k,
                               int          stride,
                               int          pad,
                               float       *out,
                               int32_t     *argmax)
{
  Pool2d a = { in, out, argmax, NULL, h, w, k, stride, pad,
               hepa_nn_train_out_size (h, k, stride, pad),
               hepa_nn_train_out_size (w, k, stride, pad) };

  hepa_nn_train_parallel (c * b, (size_t) c * b * h * w, maxpool_planes, &a);
}

static void
maxpool_back_planes (void *data,
                     int   begin,
                     int   end)
{
  const Pool2d *a = data;
  size_t plane_in = (size_t) a->h * a->w, plane_out = (size_t) a->oh * a->ow;

  for (int p = begin; p < end; p++)
    {
      float *dst = a->out + (size_t) p * plane_in;
      const float *g = a->in + (size_t) p * plane_out;
      const int32_t *am = a->cargmax + (size_t) p * plane_out;

      memset (dst, 0, sizeof (float) * plane_in);
      for (size_t i = 0; i < plane_out; i++)
        if (am[i] >= 0)
          dst[am[i]] += g[i];
    }
}

void
hepa_nn_train_maxpool_backward (const float   *out_grad,
                                const int32_t *argmax,
                                int            c,
                                int            b,
                                int            h,
                                int            w,
                                int            oh,
                                int            ow,
                                float         *in_grad)
{
  Pool2d a = { out_grad, in_grad, NULL, argmax, h, w, 0, 0, 0, oh, ow };

  hepa_nn_train_parallel (c * b, (size_t) c * b * h * w, maxpool_back_planes, &a);
}

void
hepa_nn_train_avgpool_forward (const float *in,
                               int          c,
                               int          b,
                               int          h,
                               int          w,
                               int          k,
                               int          stride,
                               float       *out)
{
  int oh = hepa_nn_train_out_size (h, k, stride, 0);
  int ow = hepa_nn_train_out_size (w, k, stride, 0);
  float inv = 1.0f / (float) (k * k);

  for (int p = 0; p < c * b; p++)
    {
      const float *plane = in + (size_t) p * h * w;
      float *o = out + (size_t) p * oh * ow;

      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            double s = 0.0;
            for (int ki = 0; ki < k; ki++)
              for (int kj = 0; kj < k; kj++)
                s += plane[(oy * stride + ki) * w + ox * stride + kj];
            o[oy * ow + ox] = (float) s * inv;
          }
    }
}

void
hepa_nn_train_avgpool_backward (const float *out_grad,
                                int          c,
                                int          b,
                                int          h,
                                int          w,
                                int          k,
                                int          stride,
                                float       *in_grad)
{
  int oh = hepa_nn_train_out_size (h, k, stride, 0);
  int ow = hepa_nn_train_out_size (w, k, stride, 0);
  float inv = 1.0f / (float) (k * k);

  memset (in_grad, 0, sizeof (float) * (size_t) c * b * h * w);
  for (int p = 0; p < c * b; p++)
    {
      float *plane = in_grad + (size_t) p * h * w;
      const float *g = out_grad + (size_t) p * oh * ow;

      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            float v = g[oy * ow + ox] * inv;
            for (int ki = 0; ki < k; ki++)
              for (int kj = 0; kj < k; kj++)
                plane[(oy * stride + ki) * w + ox * stride + kj] += v;
          }
    }
}

void
hepa_nn_train_linear_forward (const float *x,
                              int          b,
                              int          n_in,
                              const float *weight,
                              const float *bias,
                              int          n_out,
                              float       *y)
{
  for (int i = 0; i < b; i++)
    memcpy (y + (size_t) i * n_out, bias, sizeof (float) * n_out);
  /* y (b, n_out) += x (b, n_in) x W^T (n_in, n_out) */
  hepa_nn_sgemm (0, 1, b, n_out, n_in,
                 1.0f, x, n_in, weight, n_in, 1.0f, y, n_out);
}

void
hepa_nn_train_linear_backward (const float *x,
                               int          b,
                               int          n_in,
                               const float *weight,
                               int          n_out,
                               const float *y_grad,
                               float       *weight_grad,
                               float       *bias_grad,
                               float       *x_grad)
{
  /* dW (n_out, n_in) += dY^T (n_out, b) x X (b, n_in) */
  hepa_nn_sgemm (1, 0, n_out, n_in, b,
                 1.0f, y_grad, n_out, x, n_in, 1.0f, weight_grad, n_in);
  for (int i = 0; i < b; i++)
    for (int o = 0; o < n_out; o++)
      bias_grad[o] += y_grad[(size_t) i * n_out + o];
  /* dX (b, n_in) = dY (b, n_out) x W (n_out, n_in) */
  if (x_grad != NULL)
    hepa_nn_sgemm (0, 0, b, n_in, n_out,
                   1.0f, y_grad, n_out, weight, n_in, 0.0f, x_grad, n_in);
}

double
hepa_nn_train_softmax_xent (const float *logits,
                            const int   *labels,
                            int          b,
                            int          k,
                            float       *probs,
                            float       *logits_grad)
{
  double loss = 0.0;

  HEPA_NN_ASSERT (b > 0 && k > 0);
  for (int i = 0; i < b; i++)
    {
      const float *z = logits + (size_t) i * k;
      double m = z[0], s = 0.0;
      int y = labels[i];

      HEPA_NN_ASSERT (y >= 0 && y < k);
      for (int j = 1; j < k; j++)
        m = z[j] > m ? z[j] : m;
      for (int j = 0; j < k; j++)
        s += exp (z[j] - m);
      loss += -(z[y] - m - log (s));
      for (int j = 0; j < k; j++)
        {
          double p = exp (z[j] - m) / s;
          if (probs != NULL)
            probs[(size_t) i * k + j] = (float) p;
          if (logits_grad != NULL)
            logits_grad[(size_t) i * k + j] = (float) ((p - (j == y ? 1.0 : 0.0)) / b);
        }
    }
  return loss / b;
}
