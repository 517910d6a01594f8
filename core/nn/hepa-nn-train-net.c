/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A trainable torchvision ResNet: unfolded batch norm, stored activations, backward pass, SGD. */
#include "hepa-nn-train-private.h"

#include <math.h>
#include <string.h>

#define BN_EPS      1e-5f
#define BN_MOMENTUM 0.1f

typedef struct
{
  int c_in, c_out, k, stride, pad;
  int h, w, oh, ow;                /* input and output plane */
  int wi;                          /* index of the weight in params */
} Conv;

typedef struct
{
  int    c;
  int    pi;                       /* params: weight, bias, running_mean, running_var */
  float *mean;                     /* (c) batch mean of the last training forward */
  float *invstd;                   /* (c) */
} Bn;

typedef struct
{
  int          n_conv;             /* 2 (BasicBlock) or 3 (Bottleneck) */
  Conv         conv[3];
  Bn           bn[3];
  int          has_ds;
  Conv         ds;
  Bn           ds_bn;
  float       *c[3];               /* conv outputs (c_out, b, oh, ow) */
  float       *a[2];               /* relu (bn (c[i])) for i < n_conv - 1 */
  float       *cd;                 /* downsample conv output */
  float       *out;                /* block output after the final ReLU */
  const float *x;                  /* block input (borrowed) */
} Block;

struct HepaTrainNet
{
  HepaArch        arch;
  int             n_classes;
  int             max_batch;
  int             size;
  int             batch;           /* of the last forward */
  int             trained_forward; /* the last forward was a training one */
  size_t          bytes;

  HepaTrainParam *params;
  int             n_params;
  int             cap_params;

  Conv            conv1;
  Bn              bn1;
  float          *in;              /* (3, b, size, size) */
  float          *c1;              /* (64, b, h1, h1) */
  float          *a1;              /* relu (bn1 (c1)) */
  float          *pool;            /* (64, b, h2, h2) */
  int32_t        *pool_idx;
  int             pool_h;

  Block          *blocks;
  int             n_blocks;
  int             feat_c;
  float          *feat;            /* (b, feat_c) */
  float          *feat_grad;       /* (b, feat_c) */
  float          *logits_grad;     /* (b, n_classes) */
  int             fc_w, fc_b;      /* param indices */

  float          *scratch;         /* im2col, (max over convs) */
  size_t          scratch_n;
  float          *g[4];            /* gradient buffers, each the largest activation */
  size_t          act_n;
};

static void *
xalloc (HepaTrainNet *net,
        size_t        n_floats)
{
  void *p = NULL;
  size_t bytes = (n_floats == 0 ? 1 : n_floats) * sizeof (float);

  bytes = (bytes + 63) & ~(size_t) 63;
  if (posix_memalign (&p, 64, bytes) != 0)
    return NULL;
  memset (p, 0, bytes);
  net->bytes += bytes;
  return p;
}

/* Returns the index, or -1 when memory runs out. */
static int
add_param (HepaTrainNet *net,
           char         *name,     /* (transfer full) */
           int           ndim,
           const int    *shape,
           int           trainable)
{
  HepaTrainParam *p;

  if (name == NULL)
    return -1;
  if (net->n_params == net->cap_params)
    {
      int cap = net->cap_params ? net->cap_params * 2 : 128;
      HepaTrainParam *np = realloc (net->params, sizeof (HepaTrainParam) * cap);
      if (np == NULL)
        {
          free (name);
          return -1;
        }
      net->params = np;
      net->cap_params = cap;
    }
  p = &net->params[net->n_params];
  memset (p, 0, sizeof *p);
  p->name = name;
  p->ndim = ndim;
  p->n = 1;
  for (int i = 0; i < ndim; i++)
    {
      p->shape[i] = shape[i];
      p->n *= (size_t) shape[i];
    }
  net->n_params++;
  p->data = xalloc (net, p->n);
  if (trainable)
    {
      p->grad = xalloc (net, p->n);
      p->velocity = xalloc (net, p->n);
    }
  if (p->data == NULL || (trainable && (p->grad == NULL || p->velocity == NULL)))
    return -1;
  return net->n_params - 1;
}

static char *
fmt_name (const char *prefix,
          const char *suffix)
{
  size_t len = strlen (prefix) + strlen (suffix) + 2;
  char *s = malloc (len);

  if (s != NULL)
    snprintf (s, len, "%s%s%s", prefix, prefix[0] ? "." : "", suffix);
  return s;
}

static int
setup_conv (HepaTrainNet *net,
            Conv         *conv,
            const char   *name,
            int           c_in,
            int           c_out,
            int           k,
            int           stride,
            int           pad,
            int           h)
{
  int shape[4] = { c_out, c_in, k, k };
  size_t scratch;

  conv->c_in = c_in;
  conv->c_out = c_out;
  conv->k = k;
  conv->stride = stride;
  conv->pad = pad;
  conv->h = conv->w = h;
  conv->oh = conv->ow = hepa_nn_train_out_size (h, k, stride, pad);
  conv->wi = add_param (net, fmt_name (name, "weight"), 4, shape, 1);
  scratch = hepa_nn_train_conv_scratch (c_in, net->max_batch, h, h, k, stride, pad);
  if (scratch > net->scratch_n)
    net->scratch_n = scratch;
  if ((size_t) c_out * net->max_batch * conv->oh * conv->ow > net->act_n)
    net->act_n = (size_t) c_out * net->max_batch * conv->oh * conv->ow;
  return conv->wi >= 0;
}

static int
setup_bn (HepaTrainNet *net,
          Bn           *bn,
          const char   *name,
          int           c)
{
  int shape[1] = { c };
  int w = add_param (net, fmt_name (name, "weight"), 1, shape, 1);
  int b = add_param (net, fmt_name (name, "bias"), 1, shape, 1);
  int rm = add_param (net, fmt_name (name, "running_mean"), 1, shape, 0);
  int rv = add_param (net, fmt_name (name, "running_var"), 1, shape, 0);

  bn->c = c;
  bn->pi = w;
  bn->mean = xalloc (net, c);
  bn->invstd = xalloc (net, c);
  if (w < 0 || b < 0 || rm < 0 || rv < 0 || bn->mean == NULL || bn->invstd == NULL)
    return 0;
  for (int i = 0; i < c; i++)
    {
      net->params[w].data[i] = 1.0f;
      net->params[rv].data[i] = 1.0f;
    }
  return 1;
}

static size_t
conv_out_n (const HepaTrainNet *net,
            const Conv         *conv)
{
  return (size_t) conv->c_out * net->max_batch * conv->oh * conv->ow;
}

static int
setup_block (HepaTrainNet *net,
             Block        *blk,
             const char   *prefix,
             int           c_in,
             int           planes,
             int           stride,
             int           h)
{
  char name[64];
  int bottleneck = net->arch == HEPA_ARCH_RESNET50;
  int c_out = bottleneck ? planes * 4 : planes;
  int ok = 1;

  blk->n_conv = bottleneck ? 3 : 2;
  for (int i = 0; i < blk->n_conv; i++)
    {
      int ci, co, k, s, p, hh;

      if (bottleneck)
        {
          ci = i == 0 ? c_in : planes;
          co = i == 2 ? c_out : planes;
          k = i == 1 ? 3 : 1;
          s = i == 1 ? stride : 1;  /* v1.5: the stride sits on the 3x3 */
          p = i == 1 ? 1 : 0;
          hh = i <= 1 ? h : blk->conv[1].oh;
        }
      else
        {
          ci = i == 0 ? c_in : planes;
          co = planes;
          k = 3;
          s = i == 0 ? stride : 1;
          p = 1;
          hh = i == 0 ? h : blk->conv[0].oh;
        }
      snprintf (name, sizeof name, "%s.conv%d", prefix, i + 1);
      ok = ok && setup_conv (net, &blk->conv[i], name, ci, co, k, s, p, hh);
      snprintf (name, sizeof name, "%s.bn%d", prefix, i + 1);
      ok = ok && setup_bn (net, &blk->bn[i], name, co);
      if (!ok)
        return 0;
    }
  blk->has_ds = stride != 1 || c_in != c_out;
  if (blk->has_ds)
    {
      snprintf (name, sizeof name, "%s.downsample.0", prefix);
      ok = ok && setup_conv (net, &blk->ds, name, c_in, c_out, 1, stride, 0, h);
      snprintf (name, sizeof name, "%s.downsample.1", prefix);
      ok = ok && setup_bn (net, &blk->ds_bn, name, c_out);
      if (!ok)
        return 0;
    }
  for (int i = 0; i < blk->n_conv; i++)
    {
      blk->c[i] = xalloc (net, conv_out_n (net, &blk->conv[i]));
      if (blk->c[i] == NULL)
        return 0;
      if (i < blk->n_conv - 1)
        {
          blk->a[i] = xalloc (net, conv_out_n (net, &blk->conv[i]));
          if (blk->a[i] == NULL)
            return 0;
        }
    }
  if (blk->has_ds && (blk->cd = xalloc (net, conv_out_n (net, &blk->ds))) == NULL)
    return 0;
  blk->out = xalloc (net, conv_out_n (net, &blk->conv[blk->n_conv - 1]));
  return blk->out != NULL;
}

HepaTrainNet *
hepa_train_net_new (HepaArch arch,
                    int      n_classes,
                    int      max_batch,
                    int      size)
{
  static const int depth18[4] = { 2, 2, 2, 2 };
  static const int depth50[4] = { 3, 4, 6, 3 };
  const int *depth;
  HepaTrainNet *net;
  int c, h, bi = 0;

  HEPA_NN_ASSERT (arch == HEPA_ARCH_RESNET18 || arch == HEPA_ARCH_RESNET50);
  HEPA_NN_ASSERT (n_classes >= 1 && max_batch >= 1 && size >= 32);
  depth = arch == HEPA_ARCH_RESNET50 ? depth50 : depth18;

  net = calloc (1, sizeof *net);
  if (net == NULL)
    return NULL;
  net->arch = arch;
  net->n_classes = n_classes;
  net->max_batch = max_batch;
  net->size = size;

  if (!setup_conv (net, &net->conv1, "conv1", 3, 64, 7, 2, 3, size)
      || !setup_bn (net, &net->bn1, "bn1", 64))
    goto fail;
  h = net->conv1.oh;
  net->pool_h = hepa_nn_train_out_size (h, 3, 2, 1);
  net->in = xalloc (net, (size_t) 3 * max_batch * size * size);
  net->c1 = xalloc (net, conv_out_n (net, &net->conv1));
  net->a1 = xalloc (net, conv_out_n (net, &net->conv1));
  net->pool = xalloc (net, (size_t) 64 * max_batch * net->pool_h * net->pool_h);
  net->pool_idx = (int32_t *) xalloc (net, (size_t) 64 * max_batch * net->pool_h * net->pool_h);
  if (net->in == NULL || net->c1 == NULL || net->a1 == NULL || net->pool == NULL
      || net->pool_idx == NULL)
    goto fail;

  net->n_blocks = depth[0] + depth[1] + depth[2] + depth[3];
  net->blocks = calloc (net->n_blocks, sizeof (Block));
  if (net->blocks == NULL)
    goto fail;
  c = 64;
  h = net->pool_h;
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < depth[l]; i++)
      {
        char prefix[32];
        Block *blk = &net->blocks[bi++];
        int stride = (l > 0 && i == 0) ? 2 : 1;

        snprintf (prefix, sizeof prefix, "layer%d.%d", l + 1, i);
        if (!setup_block (net, blk, prefix, c, 64 << l, stride, h))
          goto fail;
        c = blk->conv[blk->n_conv - 1].c_out;
        h = blk->conv[blk->n_conv - 1].oh;
      }
  net->feat_c = c;

  {
    int wshape[2] = { n_classes, c };
    int bshape[1] = { n_classes };
    net->fc_w = add_param (net, fmt_name ("fc", "weight"), 2, wshape, 1);
    net->fc_b = add_param (net, fmt_name ("fc", "bias"), 1, bshape, 1);
    if (net->fc_w < 0 || net->fc_b < 0)
      goto fail;
  }
  net->feat = xalloc (net, (size_t) max_batch * c);
  net->feat_grad = xalloc (net, (size_t) max_batch * c);
  net->logits_grad = xalloc (net, (size_t) max_batch * n_classes);
  net->scratch = xalloc (net, net->scratch_n);
  if (net->feat == NULL || net->feat_grad == NULL || net->logits_grad == NULL
      || net->scratch == NULL)
    goto fail;
  for (int i = 0; i < 4; i++)
    if ((net->g[i] = xalloc (net, net->act_n)) == NULL)
      goto fail;
  return net;

fail:
  hepa_train_net_free (net);
  return NULL;
}

static void
free_bn (Bn *bn)
{
  free (bn->mean);
  free (bn->invstd);
}

void
hepa_train_net_free (HepaTrainNet *net)
{
  if (net == NULL)
    return;
  for (int i = 0; i < net->n_params; i++)
    {
      free ((char *) net->params[i].name);
      free (net->params[i].data);
      free (net->params[i].grad);
      free (net->params[i].velocity);
    }
  free (net->params);
  free_bn (&net->bn1);
  free (net->in);
  free (net->c1);
  free (net->a1);
  free (net->pool);
  free (net->pool_idx);
  if (net->blocks != NULL)
    for (int b = 0; b < net->n_blocks; b++)
      {
        Block *blk = &net->blocks[b];
        for (int i = 0; i < 3; i++)
          {
            free (blk->c[i]);
            free_bn (&blk->bn[i]);
          }
        free (blk->a[0]);
        free (blk->a[1]);
        free (blk->cd);
        free (blk->out);
        free_bn (&blk->ds_bn);
      }
  free (net->blocks);
  free (net->feat);
  free (net->feat_grad);
  free (net->logits_grad);
  free (net->scratch);
  for (int i = 0; i < 4; i++)
    free (net->g[i]);
  free (net);
}

HepaArch
hepa_train_net_get_arch (const HepaTrainNet *net)
{
  return net->arch;
}

int
hepa_train_net_get_n_classes (const HepaTrainNet *net)
{
  return net->n_classes;
}

int
hepa_train_net_get_size (const HepaTrainNet *net)
{
  return net->size;
}

int
hepa_train_net_get_max_batch (const HepaTrainNet *net)
{
  return net->max_batch;
}

static double
conv_macs (const Conv *c)
{
  return (double) c->c_out * c->oh * c->ow * c->c_in * c->k * c->k;
}

double
hepa_train_net_macs (const HepaTrainNet *net)
{
  double macs = conv_macs (&net->conv1) + (double) net->feat_c * net->n_classes;

  for (int b = 0; b < net->n_blocks; b++)
    {
      const Block *blk = &net->blocks[b];
      for (int i = 0; i < blk->n_conv; i++)
        macs += conv_macs (&blk->conv[i]);
      if (blk->has_ds)
        macs += conv_macs (&blk->ds);
    }
  return macs;
}

size_t
hepa_train_net_get_bytes (const HepaTrainNet *net)
{
  return net->bytes;
}

int
hepa_train_net_n_params (const HepaTrainNet *net)
{
  return net->n_params;
}

HepaTrainParam *
hepa_train_net_param (HepaTrainNet *net,
                      int           index)
{
  HEPA_NN_ASSERT (index >= 0 && index < net->n_params);
  return &net->params[index];
}

HepaTrainParam *
hepa_train_net_find (HepaTrainNet *net,
                     const char   *name)
{
  for (int i = 0; i < net->n_params; i++)
    if (strcmp (net->params[i].name, name) == 0)
      return &net->params[i];
  return NULL;
}

/* Each tensor draws from its own stream, keyed by its position. */
static void
fill_uniform (HepaTrainParam *p,
              uint64_t        seed,
              int             index,
              float           bound)
{
  uint64_t s = seed * 0x100000001b3ull + (uint64_t) index;

  for (size_t i = 0; i < p->n; i++)
    p->data[i] = bound * hepa_nn_seeded_uniform (s, i);
}

/* Normal with standard deviation @std (Box-Muller over the tensor's own uniform stream). */
static void
fill_normal (HepaTrainParam *p,
             uint64_t        seed,
             int             index,
             float           std)
{
  uint64_t s = seed * 0x100000001b3ull + (uint64_t) index;

  for (size_t i = 0; i < p->n; i++)
    {
      /* u1 in (0, 1], u2 in [0, 1) */
      double u1 = 1.0 - 0.5 * (hepa_nn_seeded_uniform (s, 2 * i) + 1.0);
      double u2 = 0.5 * (hepa_nn_seeded_uniform (s, 2 * i + 1) + 1.0);

      p->data[i] = (float) (std * sqrt (-2.0 * log (u1)) * cos (2.0 * M_PI * u2));
    }
}

static void
init_head (HepaTrainNet *net,
           uint64_t      seed)
{
  float bound = 1.0f / sqrtf ((float) net->feat_c);

  fill_uniform (&net->params[net->fc_w], seed, net->fc_w, bound);
  fill_uniform (&net->params[net->fc_b], seed, net->fc_b, bound);
  memset (net->params[net->fc_w].velocity, 0, sizeof (float) * net->params[net->fc_w].n);
  memset (net->params[net->fc_b].velocity, 0, sizeof (float) * net->params[net->fc_b].n);
}

void
hepa_train_net_init_he (HepaTrainNet *net,
                        uint64_t      seed)
{
  for (int i = 0; i < net->n_params; i++)
    {
      HepaTrainParam *p = &net->params[i];
      size_t len = strlen (p->name);

      if (p->velocity != NULL)
        memset (p->velocity, 0, sizeof (float) * p->n);
      if (p->ndim == 4)
        {
          /* kaiming_normal_(mode="fan_out", nonlinearity="relu"): normal, variance
           * 2 / fan_out: torchvision's distribution, not only its variance (issue 27). */
          float fan_out = (float) p->shape[0] * p->shape[2] * p->shape[3];
          fill_normal (p, seed, i, sqrtf (2.0f / fan_out));
        }
      else if (len > 7 && strcmp (p->name + len - 7, ".weight") == 0)
        {
          for (size_t j = 0; j < p->n; j++)
            p->data[j] = 1.0f;
        }
      else if (len > 12 && strcmp (p->name + len - 12, ".running_var") == 0)
        {
          for (size_t j = 0; j < p->n; j++)
            p->data[j] = 1.0f;
        }
      else
        memset (p->data, 0, sizeof (float) * p->n);
    }
  init_head (net, seed);
}

static int
is_block_bn (const char *name,
             const char *which)     /* ".bn3.weight" or ".bn2.weight" */
{
  size_t len = strlen (name), wl = strlen (which);

  return strncmp (name, "layer", 5) == 0 && len > wl && strcmp (name + len - wl, which) == 0;
}

void
hepa_train_net_zero_init_residual (HepaTrainNet *net)
{
  const char *last = ".bn2.weight";

  for (int i = 0; i < net->n_params; i++)
    if (is_block_bn (net->params[i].name, ".bn3.weight"))
      last = ".bn3.weight";           /* bottleneck blocks */
  for (int i = 0; i < net->n_params; i++)
    if (is_block_bn (net->params[i].name, last))
      memset (net->params[i].data, 0, sizeof (float) * net->params[i].n);
}

void
hepa_train_net_init_head (HepaTrainNet *net,
                          uint64_t      seed)
{
  init_head (net, seed);
}

/* ---- Forward ---- */

static float *
pdata (HepaTrainNet *net,
       int           index)
{
  return net->params[index].data;
}

static float *
pgrad (HepaTrainNet *net,
       int           index)
{
  return net->params[index].grad;
}

static void
conv_fwd (HepaTrainNet *net,
          const Conv   *conv,
          const float  *in,
          float        *out)
{
  hepa_nn_train_conv_forward (in, conv->c_in, net->batch, conv->h, conv->w, pdata (net, conv->wi),
                              conv->c_out, conv->k, conv->stride, conv->pad, net->scratch, out);
}

static void
bn_fwd (HepaTrainNet *net,
        Bn           *bn,
        const float  *x,
        size_t        n,
        float        *y)
{
  if (net->trained_forward)
    hepa_nn_train_bn_forward (x, bn->c, n, pdata (net, bn->pi), pdata (net, bn->pi + 1),
                              pdata (net, bn->pi + 2), pdata (net, bn->pi + 3), BN_MOMENTUM,
                              BN_EPS, bn->mean, bn->invstd, y);
  else
    hepa_nn_train_bn_forward_eval (x, bn->c, n, pdata (net, bn->pi), pdata (net, bn->pi + 1),
                                   pdata (net, bn->pi + 2), pdata (net, bn->pi + 3), BN_EPS, y);
}

static size_t
plane_n (const HepaTrainNet *net,
         const Conv         *conv)
{
  return (size_t) net->batch * conv->oh * conv->ow;
}

static void
block_forward (HepaTrainNet *net,
               Block        *blk,
               const float  *x)
{
  int last = blk->n_conv - 1;
  const Conv *cl = &blk->conv[last];
  size_t n_out = (size_t) cl->c_out * plane_n (net, cl);
  const float *in = x;

  blk->x = x;
  for (int i = 0; i < last; i++)
    {
      conv_fwd (net, &blk->conv[i], in, blk->c[i]);
      bn_fwd (net, &blk->bn[i], blk->c[i], plane_n (net, &blk->conv[i]), blk->a[i]);
      hepa_nn_train_relu_forward (blk->a[i], (size_t) blk->conv[i].c_out
                                             * plane_n (net, &blk->conv[i]));
      in = blk->a[i];
    }
  conv_fwd (net, cl, in, blk->c[last]);
  bn_fwd (net, &blk->bn[last], blk->c[last], plane_n (net, cl), blk->out);
  if (blk->has_ds)
    {
      float *tmp = net->g[0];

      conv_fwd (net, &blk->ds, x, blk->cd);
      bn_fwd (net, &blk->ds_bn, blk->cd, plane_n (net, &blk->ds), tmp);
      hepa_nn_train_add (blk->out, tmp, n_out);
    }
  else
    hepa_nn_train_add (blk->out, x, n_out);
  hepa_nn_train_relu_forward (blk->out, n_out);
}

void
hepa_train_net_forward (HepaTrainNet *net,
                        const float  *input,
                        int           batch,
                        int           training,
                        float        *logits)
{
  int s = net->size;
  size_t plane = (size_t) s * s;
  const float *x;
  const Block *lb;
  int p;

  HEPA_NN_ASSERT (batch >= 1 && batch <= net->max_batch);
  HEPA_NN_ASSERT (!training || batch * net->pool_h * net->pool_h > 1);
  net->batch = batch;
  net->trained_forward = training != 0;

  /* (b, 3, s, s) -> (3, b, s, s) */
  for (int b = 0; b < batch; b++)
    for (int c = 0; c < 3; c++)
      memcpy (net->in + ((size_t) c * batch + b) * plane, input + ((size_t) b * 3 + c) * plane,
              sizeof (float) * plane);

  conv_fwd (net, &net->conv1, net->in, net->c1);
  bn_fwd (net, &net->bn1, net->c1, plane_n (net, &net->conv1), net->a1);
  hepa_nn_train_relu_forward (net->a1, 64 * plane_n (net, &net->conv1));
  hepa_nn_train_maxpool_forward (net->a1, 64, batch, net->conv1.oh, net->conv1.ow, 3, 2, 1,
                                 net->pool, net->pool_idx);
  x = net->pool;
  for (int i = 0; i < net->n_blocks; i++)
    {
      block_forward (net, &net->blocks[i], x);
      x = net->blocks[i].out;
    }

  /* Global average pool: (c, b, p) -> (b, c) */
  lb = &net->blocks[net->n_blocks - 1];
  p = lb->conv[lb->n_conv - 1].oh * lb->conv[lb->n_conv - 1].ow;
  for (int c = 0; c < net->feat_c; c++)
    for (int b = 0; b < batch; b++)
      {
        const float *src = x + ((size_t) c * batch + b) * p;
        double sum = 0.0;
        for (int i = 0; i < p; i++)
          sum += src[i];
        net->feat[(size_t) b * net->feat_c + c] = (float) (sum / p);
      }
  hepa_nn_train_linear_forward (net->feat, batch, net->feat_c, pdata (net, net->fc_w),
                                pdata (net, net->fc_b), net->n_classes, logits);
}

/* ---- Backward ---- */

void
hepa_train_net_zero_grad (HepaTrainNet *net)
{
  for (int i = 0; i < net->n_params; i++)
    if (net->params[i].grad != NULL)
      memset (net->params[i].grad, 0, sizeof (float) * net->params[i].n);
}

static void
conv_bwd (HepaTrainNet *net,
          const Conv   *conv,
          const float  *in,
          const float  *out_grad,
          float        *in_grad,
          int           accumulate)
{
  hepa_nn_train_conv_backward (in, conv->c_in, net->batch, conv->h, conv->w,
                               pdata (net, conv->wi), conv->c_out, conv->k, conv->stride,
                               conv->pad, out_grad, net->scratch, pgrad (net, conv->wi), in_grad,
                               accumulate);
}

static void
bn_bwd (HepaTrainNet *net,
        const Bn     *bn,
        const float  *x,
        const float  *y_grad,
        size_t        n,
        float        *x_grad)
{
  hepa_nn_train_bn_backward (x, y_grad, bn->c, n, pdata (net, bn->pi), bn->mean, bn->invstd,
                             pgrad (net, bn->pi), pgrad (net, bn->pi + 1), x_grad);
}

/* gy: gradient of the block output, consumed (overwritten). gx: gradient of the block input,
 * written. t1, t2: scratch. */
static void
block_backward (HepaTrainNet *net,
                Block        *blk,
                float        *gy,
                float        *gx,
                float        *t1,
                float        *t2)
{
  int last = blk->n_conv - 1;
  const Conv *cl = &blk->conv[last];
  size_t n_out = (size_t) cl->c_out * plane_n (net, cl);
  float *cur = t1, *other = t2;

  hepa_nn_train_relu_backward (blk->out, gy, n_out);

  /* Main branch, from the last conv back to the first. */
  bn_bwd (net, &blk->bn[last], blk->c[last], gy, plane_n (net, cl), cur);
  for (int i = last; i >= 0; i--)
    {
      const Conv *cv = &blk->conv[i];
      const float *in = i == 0 ? blk->x : blk->a[i - 1];

      if (i == 0)
        {
          conv_bwd (net, cv, in, cur, gx, 0);
          break;
        }
      conv_bwd (net, cv, in, cur, other, 0);
      {
        float *t = cur;
        cur = other;
        other = t;
      }
      /* cur: gradient of a[i - 1] */
      hepa_nn_train_relu_backward (blk->a[i - 1], cur,
                                   (size_t) blk->conv[i - 1].c_out
                                   * plane_n (net, &blk->conv[i - 1]));
      bn_bwd (net, &blk->bn[i - 1], blk->c[i - 1], cur, plane_n (net, &blk->conv[i - 1]), cur);
    }

  /* Shortcut. */
  if (blk->has_ds)
    {
      bn_bwd (net, &blk->ds_bn, blk->cd, gy, plane_n (net, &blk->ds), t1);
      conv_bwd (net, &blk->ds, blk->x, t1, gx, 1);
    }
  else
    hepa_nn_train_add (gx, gy, n_out);
}

void
hepa_train_net_backward (HepaTrainNet *net,
                         const float  *logits_grad)
{
  int batch = net->batch;
  const Block *lb = &net->blocks[net->n_blocks - 1];
  int p = lb->conv[lb->n_conv - 1].oh * lb->conv[lb->n_conv - 1].ow;
  float *gy = net->g[0], *gx = net->g[1];

  HEPA_NN_ASSERT (net->trained_forward);
  hepa_nn_train_linear_backward (net->feat, batch, net->feat_c, pdata (net, net->fc_w),
                                 net->n_classes, logits_grad, pgrad (net, net->fc_w),
                                 pgrad (net, net->fc_b), net->feat_grad);
  for (int c = 0; c < net->feat_c; c++)
    for (int b = 0; b < batch; b++)
      {
        float v = net->feat_grad[(size_t) b * net->feat_c + c] / (float) p;
        float *dst = gy + ((size_t) c * batch + b) * p;
        for (int i = 0; i < p; i++)
          dst[i] = v;
      }

  for (int i = net->n_blocks - 1; i >= 0; i--)
    {
      float *t;

      block_backward (net, &net->blocks[i], gy, gx, net->g[2], net->g[3]);
      t = gy;
      gy = gx;
      gx = t;
    }

  /* gy: gradient of the max pool output. */
  hepa_nn_train_maxpool_backward (gy, net->pool_idx, 64, batch, net->conv1.oh, net->conv1.ow,
                                  net->pool_h, net->pool_h, gx);
  hepa_nn_train_relu_backward (net->a1, gx, 64 * plane_n (net, &net->conv1));
  bn_bwd (net, &net->bn1, net->c1, gx, plane_n (net, &net->conv1), gx);
  conv_bwd (net, &net->conv1, net->in, gx, NULL, 0);
}

double
hepa_train_net_loss_grad (HepaTrainNet *net,
                          const float  *input,
                          const int    *labels,
                          int           batch,
                          float        *logits)
{
  float *lg = net->logits_grad;
  float *z = logits;
  double loss;

  /* The logits go through feat_grad's storage when the caller does not want them; it is free
   * until the backward pass overwrites it. */
  if (z == NULL)
    {
      HEPA_NN_ASSERT (net->feat_c >= net->n_classes);
      z = net->feat_grad;
    }
  hepa_train_net_zero_grad (net);
  hepa_train_net_forward (net, input, batch, 1, z);
  loss = hepa_nn_train_softmax_xent (z, labels, batch, net->n_classes, NULL, lg);
  hepa_train_net_backward (net, lg);
  return loss;
}

typedef struct
{
  HepaTrainParam *p;
  float           lr, momentum, weight_decay;
} SgdArgs;

#define SGD_CHUNK 16384

static void
sgd_chunks (void *data,
            int   begin,
            int   end)
{
  const SgdArgs *a = data;
  HepaTrainParam *p = a->p;
  size_t lo = (size_t) begin * SGD_CHUNK;
  size_t hi = (size_t) end * SGD_CHUNK < p->n ? (size_t) end * SGD_CHUNK : p->n;

  for (size_t j = lo; j < hi; j++)
    {
      float d = p->grad[j] + a->weight_decay * p->data[j];
      p->velocity[j] = a->momentum * p->velocity[j] + d;
      p->data[j] -= a->lr * p->velocity[j];
    }
}

void
hepa_train_net_sgd_step (HepaTrainNet *net,
                         float         lr,
                         float         momentum,
                         float         weight_decay)
{
  for (int i = 0; i < net->n_params; i++)
    {
      SgdArgs a = { &net->params[i], lr, momentum, weight_decay };

      if (a.p->grad == NULL)
        continue;
      hepa_nn_train_parallel ((int) ((a.p->n + SGD_CHUNK - 1) / SGD_CHUNK), a.p->n * 3,
                              sgd_chunks, &a);
    }
}
