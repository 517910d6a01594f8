/* SPDX-License-Identifier: GPL-3.0-or-later */
/* torchvision resnet18 (BasicBlock) and resnet50 (Bottleneck v1.5) for inference. */
#include "hepa-resnet.h"
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MAX_PARAMS 320
#define MAX_BLOCKS 16
#define MAX_CONVS 64
#define BN_EPS 1e-5f
#define IN_CHANNELS 3

/* ---- Topology ---------------------------------------------------------------------------- */

typedef struct
{
  int blocks[4];
  int bottleneck;
  int expansion;
} ArchSpec;

static const ArchSpec *
arch_spec (HepaArch arch)
{
  static const ArchSpec r18 = { { 2, 2, 2, 2 }, 0, 1 };
  static const ArchSpec r50 = { { 3, 4, 6, 3 }, 1, 4 };

  HEPA_NN_ASSERT (arch == HEPA_ARCH_RESNET18 || arch == HEPA_ARCH_RESNET50);
  return arch == HEPA_ARCH_RESNET18 ? &r18 : &r50;
}

/* One conv + its batch norm, in state_dict order. */
typedef struct
{
  char conv[48];   /* "layer1.0.conv1" or "layer1.0.downsample.0" */
  char bn[48];     /* "layer1.0.bn1" or "layer1.0.downsample.1" */
  int  stage;      /* 0 for the stem, 1..4 for layer1..layer4 */
  int  block;      /* index into the net's blocks, -1 for the stem */
  int  slot;       /* 0..2: conv1..conv3, 3: downsample */
  HepaConvDesc d;
} ConvSpec;

typedef struct
{
  int      n_convs;
  ConvSpec convs[MAX_CONVS];
  int      n_blocks;
  int      feat_c;
} Topology;

static void
topology_build (HepaArch  arch,
                Topology *t)
{
  const ArchSpec *a = arch_spec (arch);
  int in = 64, nb = 0;

  memset (t, 0, sizeof *t);
  t->convs[t->n_convs++] = (ConvSpec) { "conv1", "bn1", 0, -1, 0, { IN_CHANNELS, 64, 7, 2, 3 } };
  for (int s = 0; s < 4; s++)
    {
      int width = 64 << s;
      int out = width * a->expansion;

      for (int b = 0; b < a->blocks[s]; b++, nb++)
        {
          int stride = (b == 0 && s > 0) ? 2 : 1;
          ConvSpec *c;

          if (a->bottleneck)
            {
              HepaConvDesc d1 = { in, width, 1, 1, 0 };
              HepaConvDesc d2 = { width, width, 3, stride, 1 };
              HepaConvDesc d3 = { width, out, 1, 1, 0 };
              const HepaConvDesc *ds[3] = { &d1, &d2, &d3 };

              for (int k = 0; k < 3; k++)
                {
                  c = &t->convs[t->n_convs++];
                  snprintf (c->conv, sizeof c->conv, "layer%d.%d.conv%d", s + 1, b, k + 1);
                  snprintf (c->bn, sizeof c->bn, "layer%d.%d.bn%d", s + 1, b, k + 1);
                  c->stage = s + 1, c->block = nb, c->slot = k, c->d = *ds[k];
                }
            }
          else
            {
              HepaConvDesc d1 = { in, width, 3, stride, 1 };
              HepaConvDesc d2 = { width, width, 3, 1, 1 };
              const HepaConvDesc *ds[2] = { &d1, &d2 };

              for (int k = 0; k < 2; k++)
                {
                  c = &t->convs[t->n_convs++];
                  snprintf (c->conv, sizeof c->conv, "layer%d.%d.conv%d", s + 1, b, k + 1);
                  snprintf (c->bn, sizeof c->bn, "layer%d.%d.bn%d", s + 1, b, k + 1);
                  c->stage = s + 1, c->block = nb, c->slot = k, c->d = *ds[k];
                }
            }
          if (stride != 1 || in != out)
            {
              c = &t->convs[t->n_convs++];
              snprintf (c->conv, sizeof c->conv, "layer%d.%d.downsample.0", s + 1, b);
              snprintf (c->bn, sizeof c->bn, "layer%d.%d.downsample.1", s + 1, b);
              c->stage = s + 1, c->block = nb, c->slot = 3;
              c->d = (HepaConvDesc) { in, out, 1, stride, 0 };
            }
          in = out;
        }
    }
  t->n_blocks = nb;
  t->feat_c = in;
  HEPA_NN_ASSERT (nb <= MAX_BLOCKS);
}

/* ---- Parameter enumeration --------------------------------------------------------------- */

typedef struct
{
  int           n;
  char          names[MAX_PARAMS][64];
  HepaParamInfo info[MAX_PARAMS];
} ParamTable;

static ParamTable tables[2];
static pthread_once_t table_once[2] = { PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT };

static void
table_add (ParamTable *pt,
           const char *prefix,
           const char *suffix,
           int         ndim,
           int         s0,
           int         s1,
           int         s2,
           int         s3)
{
  HEPA_NN_ASSERT (pt->n < MAX_PARAMS);
  HepaParamInfo *p = &pt->info[pt->n];

  snprintf (pt->names[pt->n], sizeof pt->names[0], "%s.%s", prefix, suffix);
  p->name = pt->names[pt->n];
  p->ndim = ndim;
  p->shape[0] = s0, p->shape[1] = s1, p->shape[2] = s2, p->shape[3] = s3;
  pt->n++;
}

static void
table_fill (HepaArch    arch,
            ParamTable *pt)
{
  static const char *bn_names[4] = { "weight", "bias", "running_mean", "running_var" };
  Topology t;

  topology_build (arch, &t);
  pt->n = 0;
  for (int i = 0; i < t.n_convs; i++)
    {
      const ConvSpec *c = &t.convs[i];

      table_add (pt, c->conv, "weight", 4, c->d.c_out, c->d.c_in, c->d.k, c->d.k);
      for (int j = 0; j < 4; j++)
        table_add (pt, c->bn, bn_names[j], 1, c->d.c_out, 0, 0, 0);
    }
  /* The fc shapes depend on n_classes: hepa_resnet_param_info fills them in. */
  table_add (pt, "fc", "weight", 2, 0, t.feat_c, 0, 0);
  table_add (pt, "fc", "bias", 1, 0, 0, 0, 0);
}

static void
fill_r18 (void)
{
  table_fill (HEPA_ARCH_RESNET18, &tables[0]);
}

static void
fill_r50 (void)
{
  table_fill (HEPA_ARCH_RESNET50, &tables[1]);
}

static const ParamTable *
param_table (HepaArch arch)
{
  arch_spec (arch);
  if (arch == HEPA_ARCH_RESNET18)
    {
      pthread_once (&table_once[0], fill_r18);
      return &tables[0];
    }
  pthread_once (&table_once[1], fill_r50);
  return &tables[1];
}

int
hepa_resnet_n_params (HepaArch arch)
{
  return param_table (arch)->n;
}

void
hepa_resnet_param_info (HepaArch       arch,
                        int            n_classes,
                        int            index,
                        HepaParamInfo *out)
{
  const ParamTable *pt = param_table (arch);

  HEPA_NN_ASSERT (out != NULL && n_classes > 0);
  HEPA_NN_ASSERT (index >= 0 && index < pt->n);
  *out = pt->info[index];
  if (index >= pt->n - 2)
    out->shape[0] = n_classes;
}

/* ---- The network ------------------------------------------------------------------------- */

typedef struct
{
  HepaConvDesc d;
  float       *packed; /* batch norm folded in, packed as hepa_nn_conv_pack does; or NULL */
  float       *b;      /* (c_out) */
  float       *wino;   /* hepa_nn_winograd_pack'ed; or NULL */
  char         name[32];
} Conv;                /* packed and wino point into the net's weight arena */

typedef struct
{
  Conv conv[3];
  int  n_conv;
  Conv ds;
  int  has_ds;
} Block;

struct HepaResnet
{
  HepaArch arch;
  int      n_classes;
  int      feat_c;
  Conv     stem;
  Block    blocks[MAX_BLOCKS];
  int      n_blocks;
  float   *fc_w;   /* (n_classes, feat_c) */
  float   *fc_b;   /* (n_classes) */
  float   *arena;  /* every conv's packed weights */
};

static void
conv_clear (Conv *c)
{
  free (c->b);
  memset (c, 0, sizeof *c);
}

/* Winograd pays where a 3x3 stride-1 conv has many tiles for its weights: layer1..layer3. In
 * layer4 (7x7 at 224) a batch-1 pass would stream 4x larger transformed weights for 4 tiles. */
static int
use_winograd (const ConvSpec *c)
{
  return c->d.k == 3 && c->d.stride == 1 && c->d.pad == 1 && c->stage >= 1 && c->stage <= 3;
}

/* Floats of the arena for this conv's packed weights. */
static size_t
conv_arena_floats (const ConvSpec *spec)
{
  return hepa_nn_arena_block (use_winograd (spec)
                              ? hepa_nn_winograd_weight_size (spec->d.c_in, spec->d.c_out)
                              : hepa_nn_conv_pack_size (&spec->d));
}

/* One conv's tensors, looked up before the packing starts. */
typedef struct
{
  const ConvSpec *spec;
  Conv           *dst;
  float          *arena;   /* conv_arena_floats (spec) floats */
  const float    *w;
  const float    *bn[4];
  int             ok;      /* set by pack_job */
} ConvJob;

static int
conv_lookup (ConvJob         *job,
             HepaParamLookup  lookup,
             void            *user)
{
  const HepaConvDesc *d = &job->spec->d;
  const int wshape[4] = { d->c_out, d->c_in, d->k, d->k };
  const int bshape[1] = { d->c_out };
  static const char *bn_names[4] = { "weight", "bias", "running_mean", "running_var" };
  char name[64];

  snprintf (name, sizeof name, "%s.weight", job->spec->conv);
  job->w = lookup (user, name, wshape, 4);
  if (job->w == NULL)
    return 0;
  for (int j = 0; j < 4; j++)
    {
      snprintf (name, sizeof name, "%s.%s", job->spec->bn, bn_names[j]);
      job->bn[j] = lookup (user, name, bshape, 1);
      if (job->bn[j] == NULL)
        return 0;
    }
  return 1;
}

/* Folds the batch norm in as the weights are packed (the same roundings as hepa_nn_bn_fold
 * then a pack), with no folded copy of the weights in between. */
static int
conv_pack (const ConvJob *job)
{
  const HepaConvDesc *d = &job->spec->d;
  Conv *c = job->dst;
  double *scale = malloc (sizeof (double) * d->c_out);

  c->d = *d;
  snprintf (c->name, sizeof c->name, "%s", job->spec->conv);
  c->b = malloc (sizeof (float) * d->c_out);
  if (scale == NULL || c->b == NULL)
    {
      free (scale);
      return 0;
    }
  hepa_nn_bn_scale (d->c_out, job->bn[0], job->bn[1], job->bn[2], job->bn[3], BN_EPS, scale,
                    c->b);
  if (use_winograd (job->spec))
    {
      c->wino = job->arena;
      hepa_nn_winograd_pack_scaled (job->w, scale, d->c_in, d->c_out, c->wino);
    }
  else
    {
      c->packed = job->arena;
      hepa_nn_gemm_pack_scaled (job->w, scale, d->c_out, d->c_in * d->k * d->k, c->packed);
    }
  free (scale);
  return 1;
}

static void
pack_job (void *data,
          int   i,
          int   index)
{
  ConvJob *jobs = data;

  (void) index;
  jobs[i].ok = conv_pack (&jobs[i]);
}

static int
compare_job_size (const void *a,
                  const void *b)
{
  size_t na = conv_arena_floats (((const ConvJob *) a)->spec);
  size_t nb = conv_arena_floats (((const ConvJob *) b)->spec);

  return na < nb ? 1 : na > nb ? -1 : 0;
}

/* One block for all packed weights (about 100 MB for ResNet50), in 2 MB pages where the
 * kernel gives them on request (transparent huge pages in "madvise" mode): its first touch
 * then costs some fifty page faults, not 25,000, which was most of a model load's time. */
#define ARENA_ALIGN ((size_t) 2 << 20)

size_t
hepa_nn_arena_block (size_t n_floats)
{
  return ((n_floats > 0 ? n_floats : 1) + 15) / 16 * 16;
}

float *
hepa_nn_arena_new (size_t n_floats)
{
  size_t bytes;
  void *p = NULL;

  if (n_floats > (SIZE_MAX - ARENA_ALIGN) / sizeof (float))
    return NULL;
  bytes = (n_floats * sizeof (float) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  if (posix_memalign (&p, ARENA_ALIGN, bytes) != 0)
    return NULL;
#ifdef MADV_HUGEPAGE
  madvise (p, bytes, MADV_HUGEPAGE);   /* advice only: without it, 4 KB pages */
#endif
  return p;
}

HepaResnet *
hepa_resnet_new (HepaArch        arch,
                 int             n_classes,
                 HepaParamLookup lookup,
                 void           *user)
{
  Topology t;
  HepaResnet *net;
  const float *fw, *fb;
  int fw_shape[2], fb_shape[1];
  size_t arena_floats = 0, offset = 0;
  ConvJob jobs[MAX_CONVS];
  int failed = 0;

  HEPA_NN_ASSERT (lookup != NULL && n_classes > 0);
  topology_build (arch, &t);
  net = calloc (1, sizeof *net);
  if (net == NULL)
    return NULL;
  net->arch = arch;
  net->n_classes = n_classes;
  net->feat_c = t.feat_c;
  net->n_blocks = t.n_blocks;
  for (int i = 0; i < t.n_convs; i++)
    arena_floats += conv_arena_floats (&t.convs[i]);
  net->arena = hepa_nn_arena_new (arena_floats);
  if (net->arena == NULL)
    goto fail;

  for (int i = 0; i < t.n_convs; i++)
    {
      const ConvSpec *c = &t.convs[i];
      Conv *dst;

      if (c->block < 0)
        dst = &net->stem;
      else if (c->slot == 3)
        {
          dst = &net->blocks[c->block].ds;
          net->blocks[c->block].has_ds = 1;
        }
      else
        {
          dst = &net->blocks[c->block].conv[c->slot];
          net->blocks[c->block].n_conv = c->slot + 1;
        }
      jobs[i] = (ConvJob) { .spec = c, .dst = dst, .arena = net->arena + offset };
      offset += conv_arena_floats (c);
      /* The lookups stay on this thread: @lookup need not be thread-safe. */
      if (!conv_lookup (&jobs[i], lookup, user))
        goto fail;
    }
  /* Packing is most of a model load; the convs are independent, so they are packed on the
   * team's threads, largest first. (The arena's 2 MB pages keep their first-touch faults
   * few, so the threads do not queue on the page-fault path as they did with per-conv
   * buffers.) */
  qsort (jobs, t.n_convs, sizeof jobs[0], compare_job_size);
  hepa_nn_team_run (t.n_convs, pack_job, jobs);
  for (int i = 0; i < t.n_convs; i++)
    failed |= !jobs[i].ok;
  if (failed)
    goto fail;

  fw_shape[0] = n_classes, fw_shape[1] = t.feat_c;
  fb_shape[0] = n_classes;
  fw = lookup (user, "fc.weight", fw_shape, 2);
  fb = fw ? lookup (user, "fc.bias", fb_shape, 1) : NULL;
  if (fw == NULL || fb == NULL)
    goto fail;
  net->fc_w = malloc (sizeof (float) * n_classes * t.feat_c);
  net->fc_b = malloc (sizeof (float) * n_classes);
  if (net->fc_w == NULL || net->fc_b == NULL)
    goto fail;
  memcpy (net->fc_w, fw, sizeof (float) * n_classes * t.feat_c);
  memcpy (net->fc_b, fb, sizeof (float) * n_classes);
  return net;

fail:
  hepa_resnet_free (net);
  return NULL;
}

void
hepa_resnet_free (HepaResnet *net)
{
  if (net == NULL)
    return;
  conv_clear (&net->stem);
  for (int i = 0; i < net->n_blocks; i++)
    {
      for (int k = 0; k < 3; k++)
        conv_clear (&net->blocks[i].conv[k]);
      conv_clear (&net->blocks[i].ds);
    }
  free (net->fc_w);
  free (net->fc_b);
  free (net->arena);
  free (net);
}

HepaArch
hepa_resnet_get_arch (const HepaResnet *net)
{
  HEPA_NN_ASSERT (net != NULL);
  return net->arch;
}

int
hepa_resnet_get_n_classes (const HepaResnet *net)
{
  HEPA_NN_ASSERT (net != NULL);
  return net->n_classes;
}

const float *
hepa_resnet_fc_weight (const HepaResnet *net,
                       int              *feat_c)
{
  HEPA_NN_ASSERT (net != NULL);
  if (feat_c)
    *feat_c = net->feat_c;
  return net->fc_w;
}

const float *
hepa_resnet_fc_bias (const HepaResnet *net)
{
  HEPA_NN_ASSERT (net != NULL);
  return net->fc_b;
}

/* ---- Shapes ------------------------------------------------------------------------------ */

/* Calls @fn for every conv in forward order with its input extent. */
typedef void (*ConvVisit) (const Conv *c,
                           int         h,
                           int         w,
                           void       *user);

static void
walk (const HepaResnet *net,
      int               size,
      int              *out_h,
      ConvVisit         fn,
      void             *user)
{
  int h = size;

  fn (&net->stem, h, h, user);
  h = hepa_nn_out_size (h, 7, 2, 3);
  h = hepa_nn_out_size (h, 3, 2, 1);
  for (int i = 0; i < net->n_blocks; i++)
    {
      const Block *b = &net->blocks[i];
      int bh = h;

      for (int k = 0; k < b->n_conv; k++)
        {
          fn (&b->conv[k], bh, bh, user);
          bh = hepa_nn_out_size (bh, b->conv[k].d.k, b->conv[k].d.stride, b->conv[k].d.pad);
        }
      if (b->has_ds)
        fn (&b->ds, h, h, user);
      h = bh;
    }
  if (out_h)
    *out_h = h;
}

static void
macs_visit (const Conv *c,
            int         h,
            int         w,
            void       *user)
{
  double oh = hepa_nn_out_size (h, c->d.k, c->d.stride, c->d.pad);
  double ow = hepa_nn_out_size (w, c->d.k, c->d.stride, c->d.pad);

  *(double *) user += oh * ow * c->d.c_out * c->d.c_in * c->d.k * c->d.k;
}

#define MIN_SIZE HEPA_RESNET_MIN_SIZE

double
hepa_resnet_macs (const HepaResnet *net,
                  int               size)
{
  double macs = 0;

  HEPA_NN_ASSERT (net != NULL && size >= MIN_SIZE);
  walk (net, size, NULL, macs_visit, &macs);
  return macs + (double) net->n_classes * net->feat_c;
}

/* ---- Workspace and forward --------------------------------------------------------------- */

struct HepaResnetWorkspace
{
  int          max_batch;
  int          size;
  size_t       act_sz;     /* floats per image in each activation buffer */
  float       *act[4];     /* (max_batch, act_sz) each */
  float       *scratch;    /* im2col / Winograd */
  size_t       scratch_sz;
  float       *pooled;     /* (max_batch, feat_c) */
  const float *feat;       /* into act[]: layer4's output */
  int          feat_c, feat_h, feat_w;
};

typedef struct
{
  int    batch;
  size_t act;
  size_t scratch;
} SizeAcc;

static void
size_visit (const Conv *c,
            int         h,
            int         w,
            void       *user)
{
  SizeAcc *acc = user;
  size_t in = (size_t) c->d.c_in * h * w;
  size_t out = (size_t) c->d.c_out * hepa_nn_out_size (h, c->d.k, c->d.stride, c->d.pad)
               * hepa_nn_out_size (w, c->d.k, c->d.stride, c->d.pad);
  size_t s;

  if (c->wino)
    s = hepa_nn_winograd_scratch_size (c->d.c_in, c->d.c_out, acc->batch, h, w);
  else
    s = hepa_nn_conv2d_packed_scratch_size (&c->d, h, w);
  acc->act = in > acc->act ? in : acc->act;
  acc->act = out > acc->act ? out : acc->act;
  acc->scratch = s > acc->scratch ? s : acc->scratch;
}

HepaResnetWorkspace *
hepa_resnet_workspace_new (const HepaResnet *net,
                           int               max_batch,
                           int               size)
{
  HepaResnetWorkspace *ws;
  SizeAcc acc = { max_batch, 0, 0 };
  int fh;

  HEPA_NN_ASSERT (net != NULL && max_batch > 0);
  /* The kernels index one batch of activations with int offsets; the stem's output is the
   * largest activation: (batch, 64, size / 2, size / 2). */
  if (size < MIN_SIZE || size > 65536 || (double) max_batch * 64 * (size / 2 + 1) * (size / 2 + 1)
                                           >= 2147483647.0)
    return NULL;
  walk (net, size, &fh, size_visit, &acc);
  ws = calloc (1, sizeof *ws);
  if (ws == NULL)
    return NULL;
  ws->max_batch = max_batch;
  ws->size = size;
  ws->act_sz = acc.act;
  ws->scratch_sz = acc.scratch > 0 ? acc.scratch : 1;
  ws->feat_c = net->feat_c;
  ws->feat_h = ws->feat_w = fh;
  for (int i = 0; i < 4; i++)
    if ((ws->act[i] = malloc (sizeof (float) * acc.act * max_batch)) == NULL)
      goto fail;
  ws->scratch = malloc (sizeof (float) * ws->scratch_sz);
  ws->pooled = malloc (sizeof (float) * max_batch * net->feat_c);
  if (ws->scratch == NULL || ws->pooled == NULL)
    goto fail;
  return ws;

fail:
  hepa_resnet_workspace_free (ws);
  return NULL;
}

void
hepa_resnet_workspace_free (HepaResnetWorkspace *ws)
{
  if (ws == NULL)
    return;
  for (int i = 0; i < 4; i++)
    free (ws->act[i]);
  free (ws->scratch);
  free (ws->pooled);
  free (ws);
}

const float *
hepa_resnet_workspace_features (const HepaResnetWorkspace *ws,
                                int                       *c,
                                int                       *h,
                                int                       *w)
{
  HEPA_NN_ASSERT (ws != NULL);
  if (c)
    *c = ws->feat_c;
  if (h)
    *h = ws->feat_h;
  if (w)
    *w = ws->feat_w;
  return ws->feat;
}

/* Per-layer timing of one forward pass (hepa_resnet_forward_timed), or NULL. */
typedef struct
{
  HepaLayerTime *layers;
  int            max, n;
  double         t0, cpu0;
} Prof;

static double
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the process, all threads: what a layer costs whatever the load on the machine
 * (the team blocks rather than spins, so waiting costs next to nothing). */
static double
cpu_now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
prof_start (Prof *p)
{
  if (p != NULL)
    {
      p->t0 = now_ms ();
      p->cpu0 = cpu_now_ms ();
    }
}

static void
prof_end (Prof       *p,
          const char *name,
          const char *method,
          double      macs)
{
  HepaLayerTime *l;

  if (p == NULL || p->n >= p->max)
    return;
  l = &p->layers[p->n++];
  snprintf (l->name, sizeof l->name, "%s", name);
  l->method = method;
  l->ms = now_ms () - p->t0;
  l->cpu_ms = cpu_now_ms () - p->cpu0;
  l->macs = macs;
}

/* x (batch, c_in, h, w) -> y (batch, c_out, oh, ow) with the conv's folded bias. */
static void
conv_run_inner (const Conv          *c,
          HepaResnetWorkspace *ws,
          const float         *x,
          int                  batch,
          int                  h,
          int                  w,
          const float         *residual,
          int                  relu,
          float               *y)
{
  HepaEpilogue epi = { c->b, residual, relu };

  if (c->wino)
    hepa_nn_conv3x3_winograd (c->wino, c->d.c_in, c->d.c_out, x, batch, h, w, &epi, y,
                              ws->scratch);
  else
    hepa_nn_conv2d_packed (&c->d, x, batch, h, w, c->packed, &epi, y, ws->scratch);
}

static void
conv_run (const Conv          *c,
          HepaResnetWorkspace *ws,
          const float         *x,
          int                  batch,
          int                  h,
          int                  w,
          const float         *residual,
          int                  relu,
          float               *y,
          Prof                *prof)
{
  double macs;

  prof_start (prof);
  conv_run_inner (c, ws, x, batch, h, w, residual, relu, y);
  if (prof == NULL)
    return;
  macs = (double) batch * c->d.c_out * c->d.c_in * c->d.k * c->d.k
         * hepa_nn_out_size (h, c->d.k, c->d.stride, c->d.pad)
         * hepa_nn_out_size (w, c->d.k, c->d.stride, c->d.pad);
  prof_end (prof, c->name, c->wino ? "winograd"
                           : c->d.k == 1 && c->d.stride == 1 ? "gemm" : "im2col+gemm", macs);
}

/* A buffer of ws->act that is none of @a, @b, @c. */
static float *
free_buffer (HepaResnetWorkspace *ws,
             const float         *a,
             const float         *b,
             const float         *c)
{
  for (int i = 0; i < 4; i++)
    if (ws->act[i] != a && ws->act[i] != b && ws->act[i] != c)
      return ws->act[i];
  HEPA_NN_ASSERT (!"no free activation buffer");
  return NULL;
}

static int
forward (const HepaResnet    *net,
         HepaResnetWorkspace *ws,
         const float         *input,
         int                  batch,
         float               *logits,
         HepaCancelFn         cancel,
         void                *cancel_user,
         Prof                *prof)
{
  float *x, *t;
  int h;

  HEPA_NN_ASSERT (net != NULL && ws != NULL && input != NULL && logits != NULL);
  HEPA_NN_ASSERT (batch > 0 && batch <= ws->max_batch);
  HEPA_NN_ASSERT (ws->feat_c == net->feat_c);

  ws->feat = NULL;
  if (cancel && cancel (cancel_user))
    return 1;

  /* Stem: conv 7x7/2 + ReLU, then max pool 3x3/2. */
  t = ws->act[1];
  conv_run (&net->stem, ws, input, batch, ws->size, ws->size, NULL, 1, t, prof);
  h = hepa_nn_out_size (ws->size, 7, 2, 3);
  x = ws->act[0];
  prof_start (prof);
  hepa_nn_maxpool3x3s2 (t, batch, net->stem.d.c_out, h, h, x);
  prof_end (prof, "maxpool", "other", 0);
  h = hepa_nn_out_size (h, 3, 2, 1);

  for (int i = 0; i < net->n_blocks; i++)
    {
      const Block *b = &net->blocks[i];
      const Conv *last = &b->conv[b->n_conv - 1];
      const float *identity = x;
      float *cur = x, *out;
      int bh = h;

      if (cancel && cancel (cancel_user))
        return 1;
      if (b->has_ds)
        {
          float *ds = free_buffer (ws, x, NULL, NULL);

          conv_run (&b->ds, ws, x, batch, h, h, NULL, 0, ds, prof);
          identity = ds;
        }
      /* conv1 (, conv2) with ReLU, each into a buffer that is neither its input nor the
       * identity; the last conv adds the identity before its ReLU. */
      for (int k = 0; k < b->n_conv - 1; k++)
        {
          float *nxt = free_buffer (ws, cur, identity, x);

          conv_run (&b->conv[k], ws, cur, batch, bh, bh, NULL, 1, nxt, prof);
          bh = hepa_nn_out_size (bh, b->conv[k].d.k, b->conv[k].d.stride, b->conv[k].d.pad);
          cur = nxt;
        }
      out = free_buffer (ws, cur, identity, x);
      conv_run (last, ws, cur, batch, bh, bh, identity, 1, out, prof);
      x = out;
      h = bh;
    }

  HEPA_NN_ASSERT (h == ws->feat_h);
  ws->feat = x;
  prof_start (prof);
  hepa_nn_global_avgpool (x, batch, net->feat_c, h * h, ws->pooled);
  hepa_nn_linear (ws->pooled, batch, net->feat_c, net->n_classes, net->fc_w, net->fc_b, logits);
  prof_end (prof, "avgpool+fc", "other", (double) batch * net->feat_c * net->n_classes);
  return 0;
}

int
hepa_resnet_forward (const HepaResnet    *net,
                     HepaResnetWorkspace *ws,
                     const float         *input,
                     int                  batch,
                     float               *logits,
                     HepaCancelFn         cancel,
                     void                *cancel_user)
{
  return forward (net, ws, input, batch, logits, cancel, cancel_user, NULL);
}

int
hepa_resnet_forward_timed (const HepaResnet    *net,
                           HepaResnetWorkspace *ws,
                           const float         *input,
                           int                  batch,
                           float               *logits,
                           HepaLayerTime       *layers,
                           int                  max_layers)
{
  Prof prof = { layers, max_layers, 0, 0 };

  HEPA_NN_ASSERT (layers != NULL && max_layers >= 0);
  forward (net, ws, input, batch, logits, NULL, NULL, &prof);
  return prof.n;
}
