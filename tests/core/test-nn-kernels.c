/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every fast libhepa-nn kernel against its naive `_ref` twin on ResNet-shaped cases, on every
 * instruction-set build of the hot kernels this CPU can run (the others are skipped). */
#include "config.h"

#include "hepa-nn.h"
#include "hepa-resnet.h"
#include "hepa-test-utils.h"

#include <math.h>
#include <string.h>

static float *
random_floats (GRand *rng,
               gsize  n,
               double lo,
               double hi)
{
  float *v = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (rng, lo, hi);
  return v;
}

static float
max_abs (const float *v,
         gsize        n)
{
  float m = 0;

  for (gsize i = 0; i < n; i++)
    m = fmaxf (m, fabsf (v[i]));
  return m;
}

/* Compares two results: elementwise within rtol and a small fraction of the largest value,
 * and by normalized mean squared error. */
static void
assert_close (const float *fast,
              const float *ref,
              gsize        n,
              double       rtol,
              double       nmse_max)
{
  double nmse = hepa_test_nmse (fast, ref, n);

  hepa_assert_allclose (fast, ref, n, rtol, rtol * max_abs (ref, n));
  g_test_message ("NMSE %.3g over %" G_GSIZE_FORMAT " values", nmse, n);
  g_assert_cmpfloat (nmse, <=, nmse_max);
}

typedef struct
{
  int          n, c_in, c_out, k, stride, pad, h, w;
  gboolean     bias, residual, relu;
} ConvCase;

static const char *const isas[] = { "baseline", "avx2", "avx512" };

/* A test run on one build of the kernels. */
typedef struct
{
  const char    *isa;
  gconstpointer  data;
} IsaCase;

/* Switches to @isa; FALSE (the test skipped) when this CPU cannot run it. */
static gboolean
use_isa (const char *isa)
{
  if (!hepa_nn_isa_available (isa))
    {
      g_autofree char *why = g_strdup_printf ("this CPU cannot run the %s kernels", isa);

      g_test_skip (why);
      return FALSE;
    }
  g_assert_true (hepa_nn_set_isa (isa));
  g_assert_cmpstr (hepa_nn_isa (), ==, isa);
  return TRUE;
}

static void
run_conv_case (gconstpointer data)
{
  const IsaCase *ic = data;
  const ConvCase *cc = ic->data;

  if (!use_isa (ic->isa))
    return;
  HepaConvDesc d = { cc->c_in, cc->c_out, cc->k, cc->stride, cc->pad };
  int oh = hepa_nn_out_size (cc->h, cc->k, cc->stride, cc->pad);
  int ow = hepa_nn_out_size (cc->w, cc->k, cc->stride, cc->pad);
  gsize n_in = (gsize) cc->n * cc->c_in * cc->h * cc->w;
  gsize n_out = (gsize) cc->n * cc->c_out * oh * ow;
  gsize n_w = (gsize) cc->c_out * cc->c_in * cc->k * cc->k;
  g_autoptr(GRand) rng = g_rand_new_with_seed (cc->c_in * 1000 + cc->k * 10 + cc->stride);
  g_autofree float *x = random_floats (rng, n_in, -1, 1);
  g_autofree float *wt = random_floats (rng, n_w, -0.2, 0.2);
  g_autofree float *bias = random_floats (rng, cc->c_out, -0.5, 0.5);
  g_autofree float *res = random_floats (rng, n_out, -1, 1);
  g_autofree float *y = g_new (float, n_out);
  g_autofree float *y_ref = g_new (float, n_out);
  g_autofree float *scratch = NULL;
  HepaEpilogue epi = { cc->bias ? bias : NULL, cc->residual ? res : NULL, cc->relu };
  gsize scratch_n = hepa_nn_conv2d_scratch_size (&d, cc->h, cc->w);

  /* 1x1 stride-1 convs read the input directly: no im2col buffer. */
  if (cc->k == 1 && cc->stride == 1)
    g_assert_cmpuint (scratch_n, ==, 0);
  else
    g_assert_cmpuint (scratch_n, ==, (gsize) cc->c_in * cc->k * cc->k * oh * ow);
  scratch = g_new (float, scratch_n + 1);

  hepa_nn_conv2d (&d, x, cc->n, cc->h, cc->w, wt, &epi, y, scratch);
  hepa_nn_conv2d_ref (&d, x, cc->n, cc->h, cc->w, wt, &epi, y_ref);
  assert_close (y, y_ref, n_out, 1e-4, 1e-10);

  /* The same conv through the packed-weight GEMM. */
  {
    g_autofree float *packed = g_new (float, hepa_nn_conv_pack_size (&d));
    g_autofree float *ps = g_new (float, hepa_nn_conv2d_packed_scratch_size (&d, cc->h, cc->w));

    hepa_nn_conv_pack (&d, wt, packed);
    hepa_nn_conv2d_packed (&d, x, cc->n, cc->h, cc->w, packed, &epi, y, ps);
    assert_close (y, y_ref, n_out, 1e-4, 1e-10);
  }

  /* The same conv through Winograd, where it applies. */
  if (cc->k == 3 && cc->stride == 1 && cc->pad == 1)
    {
      g_autofree float *u = g_new (float, hepa_nn_winograd_weight_size (cc->c_in, cc->c_out));
      g_autofree float *ws = g_new (float, hepa_nn_winograd_scratch_size (cc->c_in, cc->c_out,
                                                                          cc->n, cc->h, cc->w));
      hepa_nn_winograd_pack (wt, cc->c_in, cc->c_out, u);
      hepa_nn_conv3x3_winograd (u, cc->c_in, cc->c_out, x, cc->n, cc->h, cc->w, &epi, y, ws);
      assert_close (y, y_ref, n_out, 1e-3, 1e-9);
    }
}

static const ConvCase conv_cases[] = {
  /* name order matches conv_names below */
  { 1, 3, 16, 7, 2, 3, 37, 35, TRUE, FALSE, TRUE },      /* stem 7x7/2, odd sizes */
  { 2, 3, 8, 7, 2, 3, 32, 32, TRUE, FALSE, TRUE },       /* stem, batch 2 */
  { 1, 16, 24, 3, 1, 1, 15, 13, TRUE, FALSE, TRUE },     /* 3x3/1 */
  { 2, 32, 32, 3, 1, 1, 14, 14, TRUE, TRUE, TRUE },      /* 3x3/1 + residual (BasicBlock) */
  { 1, 8, 8, 3, 1, 1, 7, 7, TRUE, FALSE, FALSE },        /* 3x3/1, layer4-like 7x7 */
  { 1, 8, 4, 3, 1, 1, 1, 2, TRUE, TRUE, TRUE },          /* 3x3/1 on a 1x2 image */
  { 1, 16, 8, 3, 2, 1, 14, 14, TRUE, FALSE, TRUE },      /* 3x3/2 (Bottleneck v1.5) */
  { 1, 16, 8, 3, 2, 1, 13, 11, TRUE, FALSE, TRUE },      /* 3x3/2, odd */
  { 2, 32, 16, 1, 1, 0, 9, 9, TRUE, TRUE, TRUE },        /* 1x1/1 direct GEMM + residual */
  { 1, 24, 48, 1, 1, 0, 7, 5, FALSE, FALSE, FALSE },     /* 1x1/1, no epilogue */
  { 2, 16, 32, 1, 2, 0, 13, 13, TRUE, FALSE, FALSE },    /* 1x1/2 downsample, odd */
  { 1, 64, 32, 1, 2, 0, 14, 14, TRUE, FALSE, FALSE },    /* 1x1/2 downsample */
  { 1, 64, 64, 3, 1, 1, 56, 56, TRUE, FALSE, TRUE },     /* layer1 3x3 at 224 */
  /* 3x3/1, 90 tiles: Winograd groups of 4 blocks and a last group of 3, and 10 output
   * channel blocks, i.e. a chunk of 8 and a partial one of 2. */
  { 3, 24, 80, 3, 1, 1, 19, 23, TRUE, TRUE, TRUE },
  /* 1x1/1 with 16 row blocks: with two or more threads the rows are split, and b is packed
   * once and shared by the row parts (a last panel of 3 columns). */
  { 2, 64, 96, 1, 1, 0, 15, 13, TRUE, TRUE, TRUE },
};

static const char *conv_names[] = {
  "stem-7x7-s2-odd", "stem-7x7-s2-batch2", "3x3-s1-odd", "3x3-s1-residual-batch2", "3x3-s1-7x7",
  "3x3-s1-1x2", "3x3-s2", "3x3-s2-odd", "1x1-s1-residual", "1x1-s1-plain", "1x1-s2-odd",
  "1x1-s2", "3x3-s1-56x56", "3x3-s1-wino-groups",
  "1x1-s1-shared-pack",
};

static void
test_winograd_odd_sizes (gconstpointer data)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);

  if (!use_isa (data))
    return;
  /* Every tile remainder (h, w mod 4) and tiny images. */
  for (int h = 1; h <= 9; h++)
    for (int w = 1; w <= 9; w += 2)
      {
        const int n = 2, c_in = 5, c_out = 3;
        HepaConvDesc d = { c_in, c_out, 3, 1, 1 };
        gsize n_in = (gsize) n * c_in * h * w, n_out = (gsize) n * c_out * h * w;
        g_autofree float *x = random_floats (rng, n_in, -1, 1);
        g_autofree float *wt = random_floats (rng, (gsize) c_out * c_in * 9, -1, 1);
        g_autofree float *b = random_floats (rng, c_out, -1, 1);
        g_autofree float *y = g_new (float, n_out);
        g_autofree float *y_ref = g_new (float, n_out);
        g_autofree float *u = g_new (float, hepa_nn_winograd_weight_size (c_in, c_out));
        g_autofree float *ws = g_new (float, hepa_nn_winograd_scratch_size (c_in, c_out, n, h, w));
        HepaEpilogue epi = { b, NULL, FALSE };

        hepa_nn_conv2d_ref (&d, x, n, h, w, wt, &epi, y_ref);
        hepa_nn_winograd_pack (wt, c_in, c_out, u);
        hepa_nn_conv3x3_winograd (u, c_in, c_out, x, n, h, w, &epi, y, ws);
        assert_close (y, y_ref, n_out, 1e-3, 1e-9);
      }
}

static void
test_gemm_packed (gconstpointer data)
{
  /* Row and column counts that leave partial 6-row and 16-column tiles, a row stride wider than
   * the columns used, and k past one packed panel's column budget. */
  static const int shapes[][3] = { { 1, 1, 1 }, { 7, 17, 3 }, { 13, 50, 33 }, { 64, 196, 257 },
                                   { 6, 16, 2048 }, { 30, 300, 600 } };
  g_autoptr(GRand) rng = g_rand_new_with_seed (21);

  if (!use_isa (data))
    return;
  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ldb = n + 3;
      g_autofree float *a = random_floats (rng, (gsize) m * k, -1, 1);
      g_autofree float *b = random_floats (rng, (gsize) k * ldb, -1, 1);
      g_autofree float *bias = random_floats (rng, m, -1, 1);
      g_autofree float *res = random_floats (rng, (gsize) m * n, -1, 1);
      g_autofree float *packed = g_new (float, hepa_nn_gemm_pack_size (m, k));
      g_autofree float *scratch = g_new (float, hepa_nn_gemm_scratch_size ());
      g_autofree float *y = g_new (float, (gsize) m * n);
      g_autofree float *y_ref = g_new (float, (gsize) m * n);
      HepaEpilogue epi = { bias, res, TRUE };

      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          {
            double acc = 0;

            for (int kk = 0; kk < k; kk++)
              acc += (double) a[(gsize) i * k + kk] * b[(gsize) kk * ldb + j];
            y_ref[(gsize) i * n + j] = (float) acc;
          }
      hepa_nn_epilogue_ref (y_ref, 1, m, n, &epi);
      hepa_nn_gemm_pack (a, m, k, packed);
      hepa_nn_gemm_packed (packed, m, k, b, n, ldb, &epi, y, scratch);
      assert_close (y, y_ref, (gsize) m * n, 1e-4, 1e-10);
    }
}

static void
test_epilogue (void)
{
  const int n = 2, c = 5, hw = 37;
  gsize len = (gsize) n * c * hw;
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);
  g_autofree float *y0 = random_floats (rng, len, -2, 2);
  g_autofree float *res = random_floats (rng, len, -1, 1);
  g_autofree float *bias = random_floats (rng, c, -1, 1);
  g_autofree float *a = g_new (float, len);
  g_autofree float *b = g_new (float, len);

  for (int mode = 0; mode < 8; mode++)
    {
      HepaEpilogue epi = { mode & 1 ? bias : NULL, mode & 2 ? res : NULL, mode & 4 };
      gsize zeros = 0;

      memcpy (a, y0, sizeof (float) * len);
      memcpy (b, y0, sizeof (float) * len);
      hepa_nn_epilogue (a, n, c, hw, &epi);
      hepa_nn_epilogue_ref (b, n, c, hw, &epi);
      hepa_assert_allclose (a, b, len, 1e-6, 1e-6);
      for (gsize i = 0; i < len; i++)
        zeros += a[i] == 0.f;
      if (epi.relu)
        g_assert_cmpuint (zeros, >, 0);
    }
}

static void
test_bn_fold (void)
{
  /* conv with folded weights == batch norm applied to the conv's output. */
  const int n = 1, c_in = 6, c_out = 5, h = 9, w = 8;
  HepaConvDesc d = { c_in, c_out, 3, 1, 1 };
  gsize n_in = (gsize) n * c_in * h * w, n_out = (gsize) n * c_out * h * w;
  g_autoptr(GRand) rng = g_rand_new_with_seed (3);
  g_autofree float *x = random_floats (rng, n_in, -1, 1);
  g_autofree float *wt = random_floats (rng, (gsize) c_out * c_in * 9, -1, 1);
  g_autofree float *gamma = random_floats (rng, c_out, 0.5, 1.5);
  g_autofree float *beta = random_floats (rng, c_out, -1, 1);
  g_autofree float *mean = random_floats (rng, c_out, -1, 1);
  g_autofree float *var = random_floats (rng, c_out, 0.0, 2.0);
  g_autofree float *wf = g_new (float, (gsize) c_out * c_in * 9);
  g_autofree float *bf = g_new (float, c_out);
  g_autofree float *y = g_new (float, n_out);
  g_autofree float *y_ref = g_new (float, n_out);
  HepaEpilogue epi = { bf, NULL, FALSE };

  var[0] = 0.f;   /* eps keeps this finite */
  hepa_nn_conv2d_ref (&d, x, n, h, w, wt, NULL, y_ref);
  for (int c = 0; c < c_out; c++)
    for (int i = 0; i < h * w; i++)
      {
        float *v = &y_ref[(gsize) c * h * w + i];
        *v = (float) ((*v - mean[c]) / sqrt (var[c] + 1e-5) * gamma[c] + beta[c]);
      }
  hepa_nn_bn_fold (wt, c_out, c_in * 9, gamma, beta, mean, var, 1e-5f, wf, bf);
  hepa_nn_conv2d_ref (&d, x, n, h, w, wf, &epi, y);
  assert_close (y, y_ref, n_out, 1e-3, 1e-10);
}

/* Folding while packing (hepa_resnet_new's path) gives bit for bit what folding into a copy
 * and packing that gives, for the GEMM layout (rows not a multiple of 6) and the Winograd one
 * (output channels not a multiple of 8); and without a scale both copy as they are. */
static void
test_pack_scaled (void)
{
  static const int shapes[][2] = { { 64, 3 * 49 }, { 13, 20 }, { 1, 9 }, { 256, 64 } };
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);

  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const int c_out = shapes[s][0], per_out = shapes[s][1];
      const int c_in = per_out % 9 == 0 ? per_out / 9 : 0;
      gsize n_w = (gsize) c_out * per_out;
      g_autofree float *wt = random_floats (rng, n_w, -1, 1);
      g_autofree float *gamma = random_floats (rng, c_out, 0.5, 1.5);
      g_autofree float *beta = random_floats (rng, c_out, -1, 1);
      g_autofree float *mean = random_floats (rng, c_out, -1, 1);
      g_autofree float *var = random_floats (rng, c_out, 0.0, 2.0);
      g_autofree float *wf = g_new (float, n_w);
      g_autofree float *bf = g_new (float, c_out);
      g_autofree float *bs = g_new (float, c_out);
      g_autofree double *scale = g_new (double, c_out);
      gsize n_p = hepa_nn_gemm_pack_size (c_out, per_out);
      g_autofree float *p_ref = g_new (float, n_p);
      g_autofree float *p = g_new (float, n_p);

      var[0] = 0.f;
      hepa_nn_bn_fold (wt, c_out, per_out, gamma, beta, mean, var, 1e-5f, wf, bf);
      hepa_nn_bn_scale (c_out, gamma, beta, mean, var, 1e-5f, scale, bs);
      g_assert_cmpmem (bs, sizeof (float) * c_out, bf, sizeof (float) * c_out);

      hepa_nn_gemm_pack (wf, c_out, per_out, p_ref);
      memset (p, 0xff, sizeof (float) * n_p);
      hepa_nn_gemm_pack_scaled (wt, scale, c_out, per_out, p);
      g_assert_cmpmem (p, sizeof (float) * n_p, p_ref, sizeof (float) * n_p);
      hepa_nn_gemm_pack (wt, c_out, per_out, p_ref);
      memset (p, 0xff, sizeof (float) * n_p);
      hepa_nn_gemm_pack_scaled (wt, NULL, c_out, per_out, p);
      g_assert_cmpmem (p, sizeof (float) * n_p, p_ref, sizeof (float) * n_p);

      if (c_in > 0)
        {
          gsize n_u = hepa_nn_winograd_weight_size (c_in, c_out);
          g_autofree float *u_ref = g_new (float, n_u);
          g_autofree float *u = g_new (float, n_u);

          hepa_nn_winograd_pack (wf, c_in, c_out, u_ref);
          hepa_nn_winograd_pack_scaled (wt, scale, c_in, c_out, u);
          g_assert_cmpmem (u, sizeof (float) * n_u, u_ref, sizeof (float) * n_u);
        }
    }
}

static void
test_maxpool (void)
{
  /* The stem's 112x112, odd sizes, and sizes where the last window hangs over the border. */
  static const int sizes[][2] = { { 112, 112 }, { 17, 15 }, { 1, 1 }, { 2, 3 }, { 36, 37 } };
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);

  for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      const int n = 2, c = 3, h = sizes[s][0], w = sizes[s][1];
      int oh = hepa_nn_out_size (h, 3, 2, 1), ow = hepa_nn_out_size (w, 3, 2, 1);
      gsize n_out = (gsize) n * c * oh * ow;
      /* All negative: zero padding would win wrongly if it took part. */
      g_autofree float *x = random_floats (rng, (gsize) n * c * h * w, -3, -1);
      g_autofree float *y = g_new (float, n_out);
      g_autofree float *y_ref = g_new (float, n_out);

      hepa_nn_maxpool3x3s2 (x, n, c, h, w, y);
      hepa_nn_maxpool3x3s2_ref (x, n, c, h, w, y_ref);
      hepa_assert_allclose (y, y_ref, n_out, 0, 0);
      for (gsize i = 0; i < n_out; i++)
        g_assert_cmpfloat (y[i], <, 0);
    }
  g_assert_cmpint (hepa_nn_out_size (112, 3, 2, 1), ==, 56);
}

static void
test_global_avgpool (void)
{
  static const int hws[] = { 49, 3136, 1, 9, 4 };
  g_autoptr(GRand) rng = g_rand_new_with_seed (9);

  for (gsize s = 0; s < G_N_ELEMENTS (hws); s++)
    {
      const int n = 2, c = 64, hw = hws[s];
      g_autofree float *x = random_floats (rng, (gsize) n * c * hw, 0, 4);
      g_autofree float *y = g_new (float, n * c);
      g_autofree float *y_ref = g_new (float, n * c);

      hepa_nn_global_avgpool (x, n, c, hw, y);
      hepa_nn_global_avgpool_ref (x, n, c, hw, y_ref);
      assert_close (y, y_ref, n * c, 1e-5, 1e-12);
    }
}

static void
test_linear (void)
{
  const int n = 3, in = 2048, out = 5;
  g_autoptr(GRand) rng = g_rand_new_with_seed (13);
  g_autofree float *x = random_floats (rng, (gsize) n * in, 0, 2);
  g_autofree float *wt = random_floats (rng, (gsize) out * in, -0.05, 0.05);
  g_autofree float *b = random_floats (rng, out, -1, 1);
  float y[15], y_ref[15];

  hepa_nn_linear (x, n, in, out, wt, b, y);
  hepa_nn_linear_ref (x, n, in, out, wt, b, y_ref);
  assert_close (y, y_ref, n * out, 1e-4, 1e-10);
  hepa_nn_linear (x, n, in, out, wt, NULL, y);
  hepa_nn_linear_ref (x, n, in, out, wt, NULL, y_ref);
  assert_close (y, y_ref, n * out, 1e-4, 1e-10);
}

static void
test_softmax (void)
{
  /* Large logits must not overflow: the max is subtracted first. */
  float x[2][4] = { { 1, 2, 3, 4 }, { 1000, 999, -1000, 1000 } };
  float y[8], y_ref[8];

  hepa_nn_softmax (&x[0][0], 2, 4, y);
  hepa_nn_softmax_ref (&x[0][0], 2, 4, y_ref);
  hepa_assert_allclose (y, y_ref, 8, 1e-6, 1e-7);
  g_assert_cmpfloat_with_epsilon (y[0] + y[1] + y[2] + y[3], 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (y[4], y[7], 1e-7);
  g_assert_cmpfloat (y[6], ==, 0.f);
  /* In place. */
  hepa_nn_softmax (&x[0][0], 2, 4, &x[0][0]);
  hepa_assert_allclose (&x[0][0], y_ref, 8, 1e-6, 1e-7);
}

static void
test_cam (void)
{
  const int c = 512, hw = 49, k = 5;
  g_autoptr(GRand) rng = g_rand_new_with_seed (17);
  g_autofree float *feat = random_floats (rng, (gsize) c * hw, 0, 3);
  g_autofree float *wt = random_floats (rng, (gsize) k * c, -0.1, 0.1);
  g_autofree float *cam = g_new (float, k * hw);
  g_autofree float *cam_ref = g_new (float, k * hw);

  hepa_nn_cam (feat, c, hw, wt, k, cam);
  hepa_nn_cam_ref (feat, c, hw, wt, k, cam_ref);
  assert_close (cam, cam_ref, k * hw, 1e-4, 1e-10);
}

static void
test_seeded_uniform (void)
{
  double sum = 0;
  float lo = 1, hi = -1;

  for (guint64 i = 0; i < 100000; i++)
    {
      float u = hepa_nn_seeded_uniform (42, i);

      sum += u;
      lo = fminf (lo, u);
      hi = fmaxf (hi, u);
    }
  g_assert_cmpfloat (lo, >=, -1.f);
  g_assert_cmpfloat (hi, <, 1.f);
  g_assert_cmpfloat (fabs (sum / 100000), <, 0.01);
  g_assert_cmpfloat (hepa_nn_seeded_uniform (42, 7), ==, hepa_nn_seeded_uniform (42, 7));
  g_assert_cmpfloat (hepa_nn_seeded_uniform (42, 7), !=, hepa_nn_seeded_uniform (43, 7));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  G_STATIC_ASSERT (G_N_ELEMENTS (conv_cases) == G_N_ELEMENTS (conv_names));
  static IsaCase cases[G_N_ELEMENTS (isas)][G_N_ELEMENTS (conv_cases)];

  for (gsize k = 0; k < G_N_ELEMENTS (isas); k++)
    {
      g_autofree char *wino = g_strdup_printf ("/core/nn/%s/winograd/odd-sizes", isas[k]);
      g_autofree char *gemm = g_strdup_printf ("/core/nn/%s/gemm/packed", isas[k]);

      for (gsize i = 0; i < G_N_ELEMENTS (conv_cases); i++)
        {
          g_autofree char *path = g_strdup_printf ("/core/nn/%s/conv/%s", isas[k], conv_names[i]);

          cases[k][i] = (IsaCase) { isas[k], &conv_cases[i] };
          g_test_add_data_func (path, &cases[k][i], run_conv_case);
        }
      g_test_add_data_func (wino, isas[k], test_winograd_odd_sizes);
      g_test_add_data_func (gemm, isas[k], test_gemm_packed);
    }
  g_test_add_func ("/core/nn/epilogue", test_epilogue);
  g_test_add_func ("/core/nn/bn-fold", test_bn_fold);
  g_test_add_func ("/core/nn/pack-scaled", test_pack_scaled);
  g_test_add_func ("/core/nn/maxpool/3x3-s2", test_maxpool);
  g_test_add_func ("/core/nn/global-avgpool", test_global_avgpool);
  g_test_add_func ("/core/nn/linear", test_linear);
  g_test_add_func ("/core/nn/softmax", test_softmax);
  g_test_add_func ("/core/nn/cam", test_cam);
  g_test_add_func ("/core/nn/seeded-uniform", test_seeded_uniform);
  return g_test_run ();
}
