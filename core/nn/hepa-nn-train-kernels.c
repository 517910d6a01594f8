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
  int oh = hepa_nn_train_out_size (h, k, stride, pad);
  int ow = hepa_nn_train_out_size (w, k, stride, pad);
  size_t row_len = (size_t) b * oh * ow;

  for (int ci = 0; ci < c; ci++)
    for (int kk = 0; kk < k * k; kk++)
      {
        int ki = kk / k, kj = kk % k;
        float *row = col + ((size_t) ci * k * k + kk) * row_len;
        int lo, hi;

        valid_range (w, ow, kj, stride, pad, &lo, &hi);
        for (int bi = 0; bi < b; bi++)
          {
            const float *plane = in + ((size_t) ci * b + bi) * h * w;

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
  int oh = hepa_nn_train_out_size (h, k, stride, pad);
  int ow = hepa_nn_train_out_size (w, k, stride, pad);
  size_t row_len = (size_t) b * oh * ow;

  for (int ci = 0; ci < c; ci++)
    for (int kk = 0; kk < k * k; kk++)
      {
        int ki = kk / k, kj = kk % k;
        const float *row = col + ((size_t) ci * k * k + kk) * row_len;
        int lo, hi;

        valid_range (w, ow, kj, stride, pad, &lo, &hi);
        for (int bi = 0; bi < b; bi++)
          {
            float *plane = in_grad + ((size_t) ci * b + bi) * h * w;

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
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, c_out, n, kdim,
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
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, c_out, kdim, n,
                 1.0f, out_grad, n, col, n, 1.0f, weight_grad, kdim);
  if (in_grad == NULL)
    return;
  if (pointwise)
    {
      /* dX (c_in, n) (+)= W^T (c_in, c_out) x dY (c_out, n) */
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, kdim, n, c_out,
                   1.0f, weight, kdim, out_grad, n, accumulate ? 1.0f : 0.0f, in_grad, n);
      return;
    }
  /* dcol (kdim, n) = W^T x dY, reusing the scratch, then folded back. */
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, kdim, n, c_out,
               1.0f, weight, kdim, out_grad, n, 0.0f, scratch, n);
  if (!accumulate)
    memset (in_grad, 0, sizeof (float) * (size_t) c_in * b * h * w);
  hepa_nn_train_col2im_add (scratch, c_in, b, h, w, k, stride, pad, in_grad);
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
  HEPA_NN_ASSERT (n > 1);
  for (int ci = 0; ci < c; ci++)
    {
      const float *xc = x + (size_t) ci * n;
      float *yc = y + (size_t) ci * n;
      double sum = 0.0, sq = 0.0;
      float mean, var, invstd, scale, shift;

      for (size_t i = 0; i < n; i++)
        sum += xc[i];
      mean = (float) (sum / n);
      for (size_t i = 0; i < n; i++)
        {
          float d = xc[i] - mean;
          sq += (double) d * d;
        }
      var = (float) (sq / n);
      invstd = 1.0f / sqrtf (var + eps);
      save_mean[ci] = mean;
      save_invstd[ci] = invstd;
      running_mean[ci] = (1.0f - momentum) * running_mean[ci] + momentum * mean;
      running_var[ci] = (1.0f - momentum) * running_var[ci]
                        + momentum * (float) (sq / (double) (n - 1));
      scale = gamma[ci] * invstd;
      shift = beta[ci] - mean * scale;
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
  for (int ci = 0; ci < c; ci++)
    {
      const float *xc = x + (size_t) ci * n;
      float *yc = y + (size_t) ci * n;
      float scale = gamma[ci] / sqrtf (running_var[ci] + eps);
      float shift = beta[ci] - running_mean[ci] * scale;

      for (size_t i = 0; i < n; i++)
        yc[i] = xc[i] * scale + shift;
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
  for (int ci = 0; ci < c; ci++)
    {
      const float *xc = x + (size_t) ci * n;
      const float *dy = y_grad + (size_t) ci * n;
      float *dx = x_grad + (size_t) ci * n;
      float mean = save_mean[ci], invstd = save_invstd[ci];
      double sdy = 0.0, sdyx = 0.0;
      float dgamma, dbeta, a, bcoef, ccoef;

      for (size_t i = 0; i < n; i++)
        {
          sdy += dy[i];
          sdyx += (double) dy[i] * (xc[i] - mean);
        }
      dbeta = (float) sdy;
      dgamma = (float) (sdyx * invstd);
      gamma_grad[ci] += dgamma;
      beta_grad[ci] += dbeta;
      /* dx = gamma * invstd * (dy - dbeta / n - xhat * dgamma / n), xhat = (x - mean) * invstd */
      a = gamma[ci] * invstd;
      bcoef = dbeta / (float) n;
      ccoef = dgamma * invstd / (float) n;
      for (size_t i = 0; i < n; i++)
        dx[i] = a * (dy[i] - bcoef - (xc[i] - mean) * ccoef);
    }
}

void
hepa_nn_train_relu_forward (float  *x,
                            size_t  n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
hepa_nn_train_relu_backward (const float *y,
                             float       *grad,
                             size_t       n)
{
  for (size_t i = 0; i < n; i++)
    grad[i] = y[i] > 0.0f ? grad[i] : 0.0f;
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
  int oh = hepa_nn_train_out_size (h, k, stride, pad);
  int ow = hepa_nn_train_out_size (w, k, stride, pad);

  for (int p = 0; p < c * b; p++)
    {
      const float *plane = in + (size_t) p * h * w;
      float *o = out + (size_t) p * oh * ow;
      int32_t *am = argmax + (size_t) p * oh * ow;

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
  memset (in_grad, 0, sizeof (float) * (size_t) c * b * h * w);
  for (int p = 0; p < c * b; p++)
    {
      float *plane = in_grad + (size_t) p * h * w;
      const float *g = out_grad + (size_t) p * oh * ow;
      const int32_t *am = argmax + (size_t) p * oh * ow;

      for (int i = 0; i < oh * ow; i++)
        if (am[i] >= 0)
          plane[am[i]] += g[i];
    }
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
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, b, n_out, n_in,
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
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, b,
               1.0f, y_grad, n_out, x, n_in, 1.0f, weight_grad, n_in);
  for (int i = 0; i < b; i++)
    for (int o = 0; o < n_out; o++)
      bias_grad[o] += y_grad[(size_t) i * n_out + o];
  /* dX (b, n_in) = dY (b, n_out) x W (n_out, n_in) */
  if (x_grad != NULL)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, b, n_in, n_out,
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
