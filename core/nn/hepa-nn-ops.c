/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Batch-norm folding, pooling, the linear head, softmax and class activation maps. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* One channel's folded scale g / sqrt (v + eps) and bias beta - m * scale, in double: a
 * variance near zero must not lose the scale's digits. */
static inline double
bn_channel (const float *gamma,
            const float *beta,
            const float *mean,
            const float *var,
            float        eps,
            int          c,
            float       *bias)
{
  double scale = (double) gamma[c] / sqrt ((double) var[c] + (double) eps);

  *bias = (float) ((double) beta[c] - (double) mean[c] * scale);
  return scale;
}

void
hepa_nn_bn_fold (const float *weight,
                 int          c_out,
                 int          per_out,
                 const float *gamma,
                 const float *beta,
                 const float *mean,
                 const float *var,
                 float        eps,
                 float       *w_out,
                 float       *b_out)
{
  HEPA_NN_ASSERT (weight != NULL && gamma != NULL && beta != NULL && mean != NULL);
  HEPA_NN_ASSERT (var != NULL && w_out != NULL && b_out != NULL);
  HEPA_NN_ASSERT (c_out > 0 && per_out > 0 && eps >= 0.f);

  for (int c = 0; c < c_out; c++)
    {
      double scale = bn_channel (gamma, beta, mean, var, eps, c, &b_out[c]);

      for (int i = 0; i < per_out; i++)
        w_out[(size_t) c * per_out + i] = (float) (weight[(size_t) c * per_out + i] * scale);
    }
}

void
hepa_nn_bn_scale (int          c_out,
                  const float *gamma,
                  const float *beta,
                  const float *mean,
                  const float *var,
                  float        eps,
                  double      *scale_out,
                  float       *b_out)
{
  HEPA_NN_ASSERT (gamma != NULL && beta != NULL && mean != NULL && var != NULL);
  HEPA_NN_ASSERT (scale_out != NULL && b_out != NULL && c_out > 0 && eps >= 0.f);

  for (int c = 0; c < c_out; c++)
    scale_out[c] = bn_channel (gamma, beta, mean, var, eps, c, &b_out[c]);
}

/* One output row of the 3x3/2 pool, pad 1: the max over input rows iy0..iy1. */
static void
maxpool_row (const float *x,
             int          h,
             int          w,
             int          oy,
             int          ow,
             float       *dst)
{
  int iy0 = 2 * oy - 1 < 0 ? 0 : 2 * oy - 1;
  int iy1 = 2 * oy + 1 >= h ? h - 1 : 2 * oy + 1;

  for (int ox = 0; ox < ow; ox++)
    {
      int ix0 = 2 * ox - 1 < 0 ? 0 : 2 * ox - 1;
      int ix1 = 2 * ox + 1 >= w ? w - 1 : 2 * ox + 1;
      float best = -FLT_MAX;

      for (int iy = iy0; iy <= iy1; iy++)
        {
          const float *r = x + (size_t) iy * w;
          for (int ix = ix0; ix <= ix1; ix++)
            best = r[ix] > best ? r[ix] : best;
        }
      dst[ox] = best;
    }
}

typedef struct
{
  const float *x;
  int          h, w, oh, ow;
  float       *y;
} MaxpoolCtx;

static void
maxpool_planes (void *data,
                int   begin,
                int   end,
                int   index)
{
  const MaxpoolCtx *a = data;

  (void) index;
  for (int nc = begin; nc < end; nc++)
    {
      const float *xp = a->x + (size_t) nc * a->h * a->w;
      float *yp = a->y + (size_t) nc * a->oh * a->ow;

      for (int oy = 0; oy < a->oh; oy++)
        maxpool_row (xp, a->h, a->w, oy, a->ow, yp + (size_t) oy * a->ow);
    }
}

void
hepa_nn_maxpool3x3s2 (const float *x,
                      int          n,
                      int          c,
                      int          h,
                      int          w,
                      float       *y)
{
  HEPA_NN_ASSERT (x != NULL && y != NULL && x != y && n > 0 && c > 0);
  const int oh = hepa_nn_out_size (h, 3, 2, 1), ow = hepa_nn_out_size (w, 3, 2, 1);

  MaxpoolCtx a = { x, h, w, oh, ow, y };

  hepa_nn_team_for (n * c, (size_t) n * c * h * w, maxpool_planes, &a);
}

void
hepa_nn_maxpool3x3s2_ref (const float *x,
                          int          n,
                          int          c,
                          int          h,
                          int          w,
                          float       *y)
{
  HEPA_NN_ASSERT (x != NULL && y != NULL);
  const int oh = hepa_nn_out_size (h, 3, 2, 1), ow = hepa_nn_out_size (w, 3, 2, 1);

  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            float best = -INFINITY;

            for (int ky = 0; ky < 3; ky++)
              for (int kx = 0; kx < 3; kx++)
                {
                  int iy = 2 * oy - 1 + ky, ix = 2 * ox - 1 + kx;

                  if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                    continue;
                  float v = x[(((size_t) b * c + ch) * h + iy) * w + ix];
                  if (v > best)
                    best = v;
                }
            y[(((size_t) b * c + ch) * oh + oy) * ow + ox] = best;
          }
}

void
hepa_nn_global_avgpool (const float *x,
                        int          n,
                        int          c,
                        int          hw,
                        float       *y)
{
  HEPA_NN_ASSERT (x != NULL && y != NULL && n > 0 && c > 0 && hw > 0);
  const float inv = 1.0f / hw;

  for (int nc = 0; nc < n * c; nc++)
    {
      const float *p = x + (size_t) nc * hw;
      float acc[8] = { 0 };
      int i = 0;

      /* Eight partial sums: vectorizes, and sums of 49 or 3136 values lose fewer bits. */
      for (; i + 8 <= hw; i += 8)
        for (int j = 0; j < 8; j++)
          acc[j] += p[i + j];
      for (; i < hw; i++)
        acc[i & 7] += p[i];
      y[nc] = (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])))
              * inv;
    }
}

void
hepa_nn_global_avgpool_ref (const float *x,
                            int          n,
                            int          c,
                            int          hw,
                            float       *y)
{
  HEPA_NN_ASSERT (x != NULL && y != NULL);
  for (int nc = 0; nc < n * c; nc++)
    {
      double acc = 0;

      for (int i = 0; i < hw; i++)
        acc += x[(size_t) nc * hw + i];
      y[nc] = (float) (acc / hw);
    }
}

void
hepa_nn_linear (const float *x,
                int          n,
                int          in,
                int          out,
                const float *weight,
                const float *bias,
                float       *y)
{
  HEPA_NN_ASSERT (x != NULL && weight != NULL && y != NULL && x != y);
  HEPA_NN_ASSERT (n > 0 && in > 0 && out > 0);

  for (int b = 0; b < n; b++)
    for (int o = 0; o < out; o++)
      y[(size_t) b * out + o] = bias ? bias[o] : 0.f;
  /* y (n, out) += x (n, in) * weight^T (in, out) */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, weight, in,
               1.0f, y, out);
}

void
hepa_nn_linear_ref (const float *x,
                    int          n,
                    int          in,
                    int          out,
                    const float *weight,
                    const float *bias,
                    float       *y)
{
  HEPA_NN_ASSERT (x != NULL && weight != NULL && y != NULL);
  for (int b = 0; b < n; b++)
    for (int o = 0; o < out; o++)
      {
        double acc = bias ? bias[o] : 0.0;

        for (int i = 0; i < in; i++)
          acc += (double) x[(size_t) b * in + i] * weight[(size_t) o * in + i];
        y[(size_t) b * out + o] = (float) acc;
      }
}

void
hepa_nn_softmax (const float *x,
                 int          n,
                 int          k,
                 float       *y)
{
  HEPA_NN_ASSERT (x != NULL && y != NULL && n > 0 && k > 0);
  for (int b = 0; b < n; b++)
    {
      const float *xr = x + (size_t) b * k;
      float *yr = y + (size_t) b * k;
      float mx = xr[0], sum = 0.f;

      for (int i = 1; i < k; i++)
        mx = xr[i] > mx ? xr[i] : mx;
      for (int i = 0; i < k; i++)
        {
          yr[i] = expf (xr[i] - mx);
          sum += yr[i];
        }
      for (int i = 0; i < k; i++)
        yr[i] /= sum;
    }
}

void
hepa_nn_softmax_ref (const float *x,
                     int          n,
                     int          k,
                     float       *y)
{
  HEPA_NN_ASSERT (x != NULL && y != NULL);
  for (int b = 0; b < n; b++)
    {
      double mx = -INFINITY, sum = 0;

      for (int i = 0; i < k; i++)
        mx = fmax (mx, x[(size_t) b * k + i]);
      for (int i = 0; i < k; i++)
        sum += exp (x[(size_t) b * k + i] - mx);
      for (int i = 0; i < k; i++)
        y[(size_t) b * k + i] = (float) (exp (x[(size_t) b * k + i] - mx) / sum);
    }
}

void
hepa_nn_cam (const float *feat,
             int          c,
             int          hw,
             const float *fc_weight,
             int          n_classes,
             float       *cam)
{
  HEPA_NN_ASSERT (feat != NULL && fc_weight != NULL && cam != NULL);
  HEPA_NN_ASSERT (c > 0 && hw > 0 && n_classes > 0);
  /* cam (n_classes, hw) = fc_weight (n_classes, c) * feat (c, hw): half a million multiply-adds
   * for ResNet50 at 224, a fraction of a millisecond in this loop. Not OpenBLAS: a product this
   * size is above its threading threshold, so it woke OpenBLAS's thread pool, whose threads then
   * spun in sched_yield for about 0.1 s after every classification, on a 2-core machine taking a
   * core from the GTK main thread painting the answer and from the next forward pass. */
  for (int k = 0; k < n_classes; k++)
    {
      const float *w = fc_weight + (size_t) k * c;
      float *out = cam + (size_t) k * hw;

      for (int i = 0; i < hw; i++)
        out[i] = 0.f;
      for (int ch = 0; ch < c; ch++)
        {
          const float wk = w[ch];
          const float *f = feat + (size_t) ch * hw;

          for (int i = 0; i < hw; i++)
            out[i] += wk * f[i];
        }
    }
}

void
hepa_nn_cam_ref (const float *feat,
                 int          c,
                 int          hw,
                 const float *fc_weight,
                 int          n_classes,
                 float       *cam)
{
  HEPA_NN_ASSERT (feat != NULL && fc_weight != NULL && cam != NULL);
  for (int k = 0; k < n_classes; k++)
    for (int i = 0; i < hw; i++)
      {
        double acc = 0;

        for (int ch = 0; ch < c; ch++)
          acc += (double) fc_weight[(size_t) k * c + ch] * feat[(size_t) ch * hw + i];
        cam[(size_t) k * hw + i] = (float) acc;
      }
}
