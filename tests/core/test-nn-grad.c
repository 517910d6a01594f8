/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Backward kernels against finite differences on tiny shapes (ggml "grad" mode), and the
 * trainable resnet18 against PyTorch's autograd on a fixed batch. */
#include "config.h"

#include "hepa-test-utils.h"
#include "nn/hepa-nn-train.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* A scalar loss of some inputs: sum (out * r) for a fixed random r, in double. */
typedef double (*LossFn) (void *ctx);

static void
fill_random (GRand *rand,
             float *x,
             size_t n,
             double lo,
             double hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, lo, hi);
}

static double
dot (const float *a,
     const float *b,
     size_t       n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double) a[i] * b[i];
  return s;
}

/* Compares grad (n) with central differences of @loss in each element of @x. Points where the
 * two one-sided differences disagree (a kink such as ReLU's or a max switching) are skipped.
 * Returns how many points were checked. */
static int
check_fd (const char *what,
          float      *x,
          const float *grad,
          size_t      n,
          LossFn      loss,
          void       *ctx,
          float       eps,
          double      rtol)
{
  int checked = 0;
  /* A whole network is only piecewise smooth: be stricter about what counts as smooth. */
  double skip_tol = rtol > 1e-2 ? 0.01 : 0.05;

  for (size_t i = 0; i < n; i++)
    {
      float saved = x[i];
      double l0, lp, lm, fd, fwd, bwd;

      l0 = loss (ctx);
      x[i] = saved + eps;
      lp = loss (ctx);
      x[i] = saved - eps;
      lm = loss (ctx);
      x[i] = saved;
      fwd = (lp - l0) / eps;
      bwd = (l0 - lm) / eps;
      if (fabs (fwd - bwd) > skip_tol * (fabs (fwd) + fabs (bwd)) + 1e-3)
        continue;
      fd = (lp - lm) / (2.0 * eps);
      if (rtol > 1e-2)
        {
          /* A whole network: the difference must also hold at half the step, or the point
           * is too close to a kink to judge. */
          double fd2;
          x[i] = saved + eps / 2;
          lp = loss (ctx);
          x[i] = saved - eps / 2;
          lm = loss (ctx);
          x[i] = saved;
          fd2 = (lp - lm) / eps;
          if (fabs (fd - fd2) > 0.02 * fabs (fd) + 1e-3)
            continue;
        }
      if (fabs (fd - grad[i]) > rtol * (fabs (fd) + 1e-2))
        g_error ("%s[%zu]: analytic %.6g, finite difference %.6g", what, i, grad[i], fd);
      checked++;
    }
  return checked;
}

/* ---- conv ---- */

typedef struct
{
  int    c_in, b, h, w, c_out, k, stride, pad, oh, ow;
  float *in, *weight, *out, *r, *scratch;
} ConvCase;

static double
conv_loss (void *p)
{
  ConvCase *cc = p;
  size_t n_out = (size_t) cc->c_out * cc->b * cc->oh * cc->ow;

  hepa_nn_train_conv_forward (cc->in, cc->c_in, cc->b, cc->h, cc->w, cc->weight, cc->c_out,
                              cc->k, cc->stride, cc->pad, cc->scratch, cc->out);
  return dot (cc->out, cc->r, n_out);
}

static void
run_conv_case (int c_in,
               int b,
               int h,
               int c_out,
               int k,
               int stride,
               int pad)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42 + k * 7 + stride);
  ConvCase cc = { c_in, b, h, h, c_out, k, stride, pad };
  size_t n_in, n_w, n_out, n_scratch;
  g_autofree float *in = NULL, *weight = NULL, *out = NULL, *r = NULL, *scratch = NULL;
  g_autofree float *dw = NULL, *dx = NULL;
  int checked;

  cc.oh = cc.ow = hepa_nn_train_out_size (h, k, stride, pad);
  n_in = (size_t) c_in * b * h * h;
  n_w = (size_t) c_out * c_in * k * k;
  n_out = (size_t) c_out * b * cc.oh * cc.ow;
  n_scratch = hepa_nn_train_conv_scratch (c_in, b, h, h, k, stride, pad);
  cc.in = in = g_new (float, n_in);
  cc.weight = weight = g_new (float, n_w);
  cc.out = out = g_new (float, n_out);
  cc.r = r = g_new (float, n_out);
  cc.scratch = scratch = g_new0 (float, MAX (n_scratch, 1));
  dw = g_new0 (float, n_w);
  dx = g_new (float, n_in);
  fill_random (rand, in, n_in, -1, 1);
  fill_random (rand, weight, n_w, -1, 1);
  fill_random (rand, r, n_out, -1, 1);

  hepa_nn_train_conv_backward (in, c_in, b, h, h, weight, c_out, k, stride, pad, r, scratch,
                               dw, dx, 0);
  checked = check_fd ("conv dW", weight, dw, n_w, conv_loss, &cc, 1e-2f, 1e-2);
  g_assert_cmpint (checked, ==, (int) n_w);  /* linear in W: no kinks */
  checked = check_fd ("conv dX", in, dx, n_in, conv_loss, &cc, 1e-2f, 1e-2);
  g_assert_cmpint (checked, ==, (int) n_in);

  /* accumulate adds to what is there */
  {
    g_autofree float *dx2 = g_new (float, n_in);
    for (size_t i = 0; i < n_in; i++)
      dx2[i] = 1.0f;
    hepa_nn_train_conv_backward (in, c_in, b, h, h, weight, c_out, k, stride, pad, r, scratch,
                                 NULL, dx2, 1);
    for (size_t i = 0; i < n_in; i++)
      dx2[i] -= 1.0f;
    hepa_assert_allclose (dx2, dx, n_in, 1e-5, 1e-5);
  }
}

static void
test_conv_3x3 (void)
{
  run_conv_case (2, 2, 5, 3, 3, 1, 1);
}

static void
test_conv_3x3_s2 (void)
{
  run_conv_case (3, 2, 7, 2, 3, 2, 1);
}

static void
test_conv_7x7_s2 (void)
{
  run_conv_case (3, 1, 9, 2, 7, 2, 3);
}

static void
test_conv_1x1 (void)
{
  run_conv_case (4, 2, 3, 3, 1, 1, 0);
}

static void
test_conv_1x1_s2 (void)
{
  run_conv_case (4, 2, 5, 3, 1, 2, 0);
}

/* ---- batch norm ---- */

typedef struct
{
  int    c;
  size_t n;
  float *x, *gamma, *beta, *rm, *rv, *mean, *invstd, *y, *r;
} BnCase;

static double
bn_loss (void *p)
{
  BnCase *bc = p;
  float rm[8], rv[8];

  /* The running statistics must not drift between evaluations. */
  memcpy (rm, bc->rm, sizeof (float) * bc->c);
  memcpy (rv, bc->rv, sizeof (float) * bc->c);
  hepa_nn_train_bn_forward (bc->x, bc->c, bc->n, bc->gamma, bc->beta, rm, rv, 0.1f, 1e-5f,
                            bc->mean, bc->invstd, bc->y);
  return dot (bc->y, bc->r, (size_t) bc->c * bc->n);
}

static void
test_bn (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  float x[3 * 10], gamma[3], beta[3], rm[3] = { 0 }, rv[3] = { 1, 1, 1 }, mean[3], invstd[3];
  float y[3 * 10], r[3 * 10], dx[3 * 10], dg[3] = { 0 }, db[3] = { 0 };
  BnCase bc = { 3, 10, x, gamma, beta, rm, rv, mean, invstd, y, r };
  double m0 = 0, v0 = 0;

  fill_random (rand, x, 30, -2, 3);
  fill_random (rand, gamma, 3, 0.5, 1.5);
  fill_random (rand, beta, 3, -0.5, 0.5);
  fill_random (rand, r, 30, -1, 1);
  bn_loss (&bc);
  hepa_nn_train_bn_backward (x, r, 3, 10, gamma, mean, invstd, dg, db, dx);
  g_assert_cmpint (check_fd ("bn dx", x, dx, 30, bn_loss, &bc, 1e-2f, 2e-2), ==, 30);
  g_assert_cmpint (check_fd ("bn dgamma", gamma, dg, 3, bn_loss, &bc, 1e-2f, 1e-2), ==, 3);
  g_assert_cmpint (check_fd ("bn dbeta", beta, db, 3, bn_loss, &bc, 1e-2f, 1e-2), ==, 3);

  /* Running averages: momentum 0.1, unbiased variance. */
  for (int i = 0; i < 10; i++)
    m0 += x[i];
  m0 /= 10;
  for (int i = 0; i < 10; i++)
    v0 += (x[i] - m0) * (x[i] - m0);
  hepa_nn_train_bn_forward (x, 3, 10, gamma, beta, rm, rv, 0.1f, 1e-5f, mean, invstd, y);
  g_assert_cmpfloat_with_epsilon (rm[0], 0.1 * m0, 1e-5);
  g_assert_cmpfloat_with_epsilon (rv[0], 0.9 + 0.1 * v0 / 9, 1e-5);
  g_assert_cmpfloat_with_epsilon (invstd[0], 1.0 / sqrt (v0 / 10 + 1e-5), 1e-4);

  /* in place (x_grad aliasing y_grad) gives the same */
  {
    float g[30], dg2[3] = { 0 }, db2[3] = { 0 };
    memcpy (g, r, sizeof g);
    bn_loss (&bc);
    hepa_nn_train_bn_backward (x, g, 3, 10, gamma, mean, invstd, dg2, db2, g);
    hepa_assert_allclose (g, dx, 30, 1e-6, 1e-6);
  }
}

/* ---- relu, pools, linear, softmax ---- */

typedef struct
{
  size_t n;
  float *x, *y, *r;
} ReluCase;

static double
relu_loss (void *p)
{
  ReluCase *rc = p;

  memcpy (rc->y, rc->x, sizeof (float) * rc->n);
  hepa_nn_train_relu_forward (rc->y, rc->n);
  return dot (rc->y, rc->r, rc->n);
}

static void
test_relu (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  float x[64], y[64], r[64], g[64];
  ReluCase rc = { 64, x, y, r };
  int checked;

  fill_random (rand, x, 64, -1, 1);
  /* Skip the kink: keep every point at least 0.05 away from zero. */
  for (int i = 0; i < 64; i++)
    if (fabsf (x[i]) < 0.05f)
      x[i] = x[i] < 0 ? -0.05f - x[i] : 0.05f + x[i];
  fill_random (rand, r, 64, -1, 1);
  relu_loss (&rc);
  memcpy (g, r, sizeof g);
  hepa_nn_train_relu_backward (y, g, 64);
  checked = check_fd ("relu", x, g, 64, relu_loss, &rc, 1e-3f, 1e-3);
  g_assert_cmpint (checked, ==, 64);
}

typedef struct
{
  int      c, b, h, k, s, p, oh;
  float   *x, *y, *r;
  int32_t *idx;
} PoolCase;

static double
maxpool_loss (void *p)
{
  PoolCase *pc = p;

  hepa_nn_train_maxpool_forward (pc->x, pc->c, pc->b, pc->h, pc->h, pc->k, pc->s, pc->p, pc->y,
                                 pc->idx);
  return dot (pc->y, pc->r, (size_t) pc->c * pc->b * pc->oh * pc->oh);
}

static double
avgpool_loss (void *p)
{
  PoolCase *pc = p;

  hepa_nn_train_avgpool_forward (pc->x, pc->c, pc->b, pc->h, pc->h, pc->k, pc->s, pc->y);
  return dot (pc->y, pc->r, (size_t) pc->c * pc->b * pc->oh * pc->oh);
}

static void
test_maxpool (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  enum { C = 2, B = 2, H = 7 };
  float x[C * B * H * H], y[C * B * 4 * 4], r[C * B * 4 * 4], dx[C * B * H * H];
  int32_t idx[C * B * 4 * 4];
  PoolCase pc = { C, B, H, 3, 2, 1, 0, x, y, r, idx };
  int checked;

  pc.oh = hepa_nn_train_out_size (H, 3, 2, 1);
  g_assert_cmpint (pc.oh, ==, 4);
  /* Distinct values on a coarse grid, so a small step never switches a window's maximum. */
  for (int i = 0; i < C * B * H * H; i++)
    x[i] = (float) ((i * 37) % (C * B * H * H)) * 0.1f;
  fill_random (rand, r, C * B * 16, -1, 1);
  maxpool_loss (&pc);
  hepa_nn_train_maxpool_backward (r, idx, C, B, H, H, 4, 4, dx);
  checked = check_fd ("maxpool", x, dx, C * B * H * H, maxpool_loss, &pc, 1e-2f, 1e-2);
  g_assert_cmpint (checked, ==, C * B * H * H);
}

static void
test_avgpool (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (12);
  enum { C = 2, B = 2, H = 6 };
  float x[C * B * H * H], y[C * B * 9], r[C * B * 9], dx[C * B * H * H];
  PoolCase pc = { C, B, H, 2, 2, 0, 3, x, y, r, NULL };

  fill_random (rand, x, C * B * H * H, -1, 1);
  fill_random (rand, r, C * B * 9, -1, 1);
  hepa_nn_train_avgpool_backward (r, C, B, H, H, 2, 2, dx);
  g_assert_cmpint (check_fd ("avgpool", x, dx, C * B * H * H, avgpool_loss, &pc, 1e-2f, 1e-2),
                   ==, C * B * H * H);
  /* global pooling (k = h) */
  pc.k = pc.s = H;
  pc.oh = 1;
  hepa_nn_train_avgpool_backward (r, C, B, H, H, H, H, dx);
  g_assert_cmpint (check_fd ("avgpool global", x, dx, C * B * H * H, avgpool_loss, &pc, 1e-2f,
                             1e-2), ==, C * B * H * H);
}

typedef struct
{
  float *x, *w, *bias, *y, *r;
} LinCase;

static double
linear_loss (void *p)
{
  LinCase *lc = p;

  hepa_nn_train_linear_forward (lc->x, 3, 5, lc->w, lc->bias, 4, lc->y);
  return dot (lc->y, lc->r, 12);
}

static void
test_linear (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  float x[15], w[20], bias[4], y[12], r[12], dx[15], dw[20] = { 0 }, db[4] = { 0 };
  LinCase lc = { x, w, bias, y, r };

  fill_random (rand, x, 15, -1, 1);
  fill_random (rand, w, 20, -1, 1);
  fill_random (rand, bias, 4, -1, 1);
  fill_random (rand, r, 12, -1, 1);
  hepa_nn_train_linear_backward (x, 3, 5, w, 4, r, dw, db, dx);
  g_assert_cmpint (check_fd ("linear dx", x, dx, 15, linear_loss, &lc, 1e-2f, 1e-2), ==, 15);
  g_assert_cmpint (check_fd ("linear dw", w, dw, 20, linear_loss, &lc, 1e-2f, 1e-2), ==, 20);
  g_assert_cmpint (check_fd ("linear db", bias, db, 4, linear_loss, &lc, 1e-2f, 1e-2), ==, 4);
}

typedef struct
{
  float *z;
  int   *labels;
} XentCase;

static double
xent_loss (void *p)
{
  XentCase *xc = p;

  return hepa_nn_train_softmax_xent (xc->z, xc->labels, 3, 4, NULL, NULL);
}

static void
test_softmax_xent (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (14);
  float z[12], g[12], probs[12];
  int labels[3] = { 0, 3, 1 };
  XentCase xc = { z, labels };
  double loss;

  fill_random (rand, z, 12, -3, 3);
  loss = hepa_nn_train_softmax_xent (z, labels, 3, 4, probs, g);
  g_assert_cmpfloat (loss, >, 0.0);
  for (int i = 0; i < 3; i++)
    {
      double s = 0;
      for (int j = 0; j < 4; j++)
        s += probs[i * 4 + j];
      g_assert_cmpfloat_with_epsilon (s, 1.0, 1e-5);
    }
  g_assert_cmpint (check_fd ("xent", z, g, 12, xent_loss, &xc, 1e-2f, 1e-2), ==, 12);

  /* Large logits do not overflow. */
  z[0] = 1000.0f;
  loss = hepa_nn_train_softmax_xent (z, labels, 3, 4, probs, g);
  g_assert_true (isfinite (loss));
}

/* ---- The whole network against finite differences (a few points) ---- */

typedef struct
{
  HepaTrainNet *net;
  const float  *input;
  const int    *labels;
} NetCase;

static double
net_loss (void *p)
{
  NetCase *nc = p;
  float logits[4 * 3];

  hepa_train_net_forward (nc->net, nc->input, 4, 1, logits);
  return hepa_nn_train_softmax_xent (logits, nc->labels, 4, 3, NULL, NULL);
}

/* Batch 4 at 64 x 64, so that batch norm in layer4 normalizes over 16 values: with fewer its
 * curvature makes finite differences meaningless. */
static void
test_net_fd (void)
{
  HepaTrainNet *net = hepa_train_net_new (HEPA_ARCH_RESNET18, 3, 4, 64);
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  g_autofree float *input = g_new (float, 4 * 3 * 64 * 64);
  int labels[4] = { 1, 2, 0, 1 };
  NetCase nc = { net, input, labels };
  const char *names[] = { "fc.weight", "layer4.1.bn2.weight", "layer3.0.conv1.weight",
                          "layer1.0.bn1.bias", "layer2.0.downsample.0.weight" };
  int checked = 0;

  g_assert_nonnull (net);
  hepa_train_net_init_he (net, 1);
  fill_random (rand, input, 4 * 3 * 64 * 64, -1, 1);
  hepa_train_net_loss_grad (net, input, labels, 4, NULL);
  for (guint t = 0; t < G_N_ELEMENTS (names); t++)
    {
      HepaTrainParam *p = hepa_train_net_find (net, names[t]);
      g_autofree float *grad = NULL;
      float picked_grad[6];
      float *picked[6];

      g_assert_nonnull (p);
      grad = g_memdup2 (p->grad, sizeof (float) * p->n);
      for (int i = 0; i < 6; i++)
        {
          size_t j = (size_t) g_rand_int_range (rand, 0, (gint32) p->n);
          picked[i] = &p->data[j];
          picked_grad[i] = grad[j];
        }
      for (int i = 0; i < 6; i++)
        {
          /* One element at a time through check_fd's interface. */
          checked += check_fd (names[t], picked[i], &picked_grad[i], 1, net_loss, &nc, 1e-3f,
                               5e-2);
        }
    }
  /* Points near a ReLU kink or a max switch are skipped; test_resnet18_torch checks every
   * element of several tensors. */
  g_test_message ("%d of 30 points smooth enough to check", checked);
  g_assert_cmpint (checked, >=, 10);
  hepa_train_net_free (net);
}

/* ---- resnet18 against PyTorch (tests/gen-grad-ref.py) ---- */

static float
recipe_value (const HepaTrainParam *p,
              int                   t,
              size_t                j)
{
  float v = hepa_nn_seeded_uniform (1000 + (uint64_t) t, j);
  const char *name = p->name;

  if (g_str_has_suffix (name, "running_mean"))
    return 0.1f * v;
  if (g_str_has_suffix (name, "running_var"))
    return 1.0f + 0.25f * (v + 1.0f);
  if (p->ndim >= 2)
    {
      int fan_in = 1;
      for (int i = 1; i < p->ndim; i++)
        fan_in *= p->shape[i];
      return v * sqrtf (3.0f / (float) fan_in);
    }
  if (g_str_has_prefix (name, "fc."))
    return 0.1f * v;
  if (g_str_has_suffix (name, "weight"))
    return 1.0f + 0.25f * v;
  return 0.25f * v;
}

static float *
json_floats (JsonArray *a,
             guint     *n)
{
  float *v;

  *n = json_array_get_length (a);
  v = g_new (float, *n);
  for (guint i = 0; i < *n; i++)
    v[i] = (float) json_array_get_double_element (a, i);
  return v;
}

static double
rel_err (const float *a,
         const float *b,
         size_t       n)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++)
    {
      num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
      den += (double) b[i] * b[i];
    }
  return sqrt (num / (den > 0 ? den : 1));
}

static void
test_resnet18_torch (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fixtures", "grad",
                                                 "resnet18-grad.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *tensors, *jl;
  HepaTrainNet *net;
  int batch, size, n_classes, labels[8];
  g_autofree float *input = NULL, *ref_logits = NULL;
  float logits[64];
  double loss;
  guint n;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  batch = json_object_get_int_member (root, "batch");
  size = json_object_get_int_member (root, "size");
  n_classes = json_object_get_int_member (root, "n_classes");
  g_assert_cmpint (batch, <=, 8);
  g_assert_cmpint (batch * n_classes, <=, 64);
  jl = json_object_get_array_member (root, "labels");
  for (int i = 0; i < batch; i++)
    labels[i] = json_array_get_int_element (jl, i);

  net = hepa_train_net_new (HEPA_ARCH_RESNET18, n_classes, batch, size);
  g_assert_nonnull (net);
  for (int t = 0; t < hepa_train_net_n_params (net); t++)
    {
      HepaTrainParam *p = hepa_train_net_param (net, t);
      for (size_t j = 0; j < p->n; j++)
        p->data[j] = recipe_value (p, t, j);
    }
  input = g_new (float, (size_t) batch * 3 * size * size);
  for (size_t j = 0; j < (size_t) batch * 3 * size * size; j++)
    input[j] = hepa_nn_seeded_uniform (7, j);

  loss = hepa_train_net_loss_grad (net, input, labels, batch, logits);
  g_test_message ("loss C %.7f, torch %.7f", loss, json_object_get_double_member (root, "loss"));
  g_assert_cmpfloat_with_epsilon (loss, json_object_get_double_member (root, "loss"),
                                  1e-3 * fabs (json_object_get_double_member (root, "loss")));
  ref_logits = json_floats (json_object_get_array_member (root, "logits"), &n);
  g_assert_cmpuint (n, ==, (guint) (batch * n_classes));
  hepa_assert_allclose (logits, ref_logits, n, 1e-3, 1e-4);

  tensors = json_object_get_array_member (root, "tensors");
  for (guint i = 0; i < json_array_get_length (tensors); i++)
    {
      JsonObject *o = json_array_get_object_element (tensors, i);
      const char *name = json_object_get_string_member (o, "name");
      const char *kind = json_object_get_string_member (o, "kind");
      HepaTrainParam *p = hepa_train_net_find (net, name);
      g_autofree float *ref = json_floats (json_object_get_array_member (o, "values"), &n);
      const float *mine;
      double err, amax = 0;

      g_assert_nonnull (p);
      g_assert_cmpuint (n, <=, p->n);
      mine = g_str_equal (kind, "grad") ? p->grad : p->data;
      err = rel_err (mine, ref, n);
      for (guint j = 0; j < n; j++)
        amax = MAX (amax, fabs (ref[j]));
      g_test_message ("%s %s: relative error %.2e", name, kind, err);
      g_assert_cmpfloat (err, <, 1e-3);
      /* and elementwise, relative to the tensor's scale */
      hepa_assert_allclose (mine, ref, n, 1e-3, 1e-3 * amax);
    }
  hepa_train_net_free (net);
}

/* ---- SGD ---- */

static void
test_sgd (void)
{
  HepaTrainNet *net = hepa_train_net_new (HEPA_ARCH_RESNET18, 2, 1, 32);
  HepaTrainParam *p;
  float w0, g0;

  g_assert_nonnull (net);
  hepa_train_net_init_he (net, 3);
  p = hepa_train_net_find (net, "fc.weight");
  g_assert_nonnull (p);
  hepa_train_net_zero_grad (net);
  p->grad[0] = 0.5f;
  w0 = p->data[0];
  g0 = p->grad[0] + 0.01f * w0;
  hepa_train_net_sgd_step (net, 0.1f, 0.9f, 0.01f);
  g_assert_cmpfloat_with_epsilon (p->velocity[0], g0, 1e-6);
  g_assert_cmpfloat_with_epsilon (p->data[0], w0 - 0.1f * g0, 1e-6);
  /* second step: v = 0.9 v + g */
  {
    float w1 = p->data[0];
    float g1 = 0.5f + 0.01f * w1;
    float v1 = 0.9f * g0 + g1;
    hepa_train_net_sgd_step (net, 0.1f, 0.9f, 0.01f);
    g_assert_cmpfloat_with_epsilon (p->velocity[0], v1, 1e-6);
    g_assert_cmpfloat_with_epsilon (p->data[0], w1 - 0.1f * v1, 1e-6);
  }
  /* running statistics are not trained */
  g_assert_null (hepa_train_net_find (net, "bn1.running_mean")->grad);
  hepa_train_net_free (net);
}

/* A few steps on one batch drive the loss down (the gradients point the right way). */
static void
test_overfit (void)
{
  HepaTrainNet *net = hepa_train_net_new (HEPA_ARCH_RESNET18, 2, 4, 32);
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  g_autofree float *input = g_new (float, 4 * 3 * 32 * 32);
  int labels[4] = { 0, 1, 0, 1 };
  double first = 0, last = 0;

  g_assert_nonnull (net);
  hepa_train_net_init_he (net, 2);
  fill_random (rand, input, 4 * 3 * 32 * 32, -1, 1);
  for (int step = 0; step < 15; step++)
    {
      double loss = hepa_train_net_loss_grad (net, input, labels, 4, NULL);
      if (step == 0)
        first = loss;
      last = loss;
      hepa_train_net_sgd_step (net, 0.05f, 0.9f, 0.0f);
    }
  g_test_message ("loss %.4f -> %.4f", first, last);
  g_assert_cmpfloat (last, <, 0.5 * first);
  hepa_train_net_free (net);
}

int
main (int    argc,
      char **argv)
{
  /* Two pool threads even under OPENBLAS_NUM_THREADS=1, so the parallel kernels are tested. */
  g_setenv ("HEPASCOPE_THREADS", "2", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/nn-grad/conv-3x3", test_conv_3x3);
  g_test_add_func ("/core/nn-grad/conv-3x3-s2", test_conv_3x3_s2);
  g_test_add_func ("/core/nn-grad/conv-7x7-s2", test_conv_7x7_s2);
  g_test_add_func ("/core/nn-grad/conv-1x1", test_conv_1x1);
  g_test_add_func ("/core/nn-grad/conv-1x1-s2", test_conv_1x1_s2);
  g_test_add_func ("/core/nn-grad/batch-norm", test_bn);
  g_test_add_func ("/core/nn-grad/relu", test_relu);
  g_test_add_func ("/core/nn-grad/maxpool", test_maxpool);
  g_test_add_func ("/core/nn-grad/avgpool", test_avgpool);
  g_test_add_func ("/core/nn-grad/linear", test_linear);
  g_test_add_func ("/core/nn-grad/softmax-xent", test_softmax_xent);
  g_test_add_func ("/core/nn-grad/resnet18-finite-diff", test_net_fd);
  g_test_add_func ("/core/nn-grad/resnet18-torch", test_resnet18_torch);
  g_test_add_func ("/core/nn-grad/sgd", test_sgd);
  g_test_add_func ("/core/nn-grad/overfit-one-batch", test_overfit);
  return g_test_run ();
}
