/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ResNet topologies for inference (torchvision resnet18 / resnet50, Bottleneck v1.5).
 * libhepa-nn: OpenBLAS and libm only; no GLib, no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef enum
{
  HEPA_ARCH_RESNET18 = 18,
  HEPA_ARCH_RESNET50 = 50,
} HepaArch;

/* One parameter or buffer of the torchvision state_dict (num_batches_tracked excluded). */
typedef struct
{
  const char *name;    /* e.g. "layer3.5.conv2.weight"; static storage */
  int         ndim;
  int         shape[4];
} HepaParamInfo;

/* Number of named tensors of @arch, and the i-th one, in torchvision state_dict order. */
int  hepa_resnet_n_params   (HepaArch       arch);
void hepa_resnet_param_info (HepaArch       arch,
                             int            n_classes,
                             int            index,
                             HepaParamInfo *out);

/* Returns the fp32 data for @name with the shape given, or NULL. The data is only read
 * during hepa_resnet_new. */
typedef const float *(*HepaParamLookup) (void       *user,
                                         const char *name,
                                         const int  *shape,
                                         int         ndim);

typedef struct HepaResnet HepaResnet;
typedef struct HepaResnetWorkspace HepaResnetWorkspace;

/* Builds an inference network: folds every batch norm into its conv (eps 1e-5) and packs the
 * weights for the fast kernels. Returns NULL when a lookup returns NULL or memory runs out. */
HepaResnet *hepa_resnet_new  (HepaArch        arch,
                              int             n_classes,
                              HepaParamLookup lookup,
                              void           *user);
void        hepa_resnet_free (HepaResnet     *net);

HepaArch    hepa_resnet_get_arch      (const HepaResnet *net);
int         hepa_resnet_get_n_classes (const HepaResnet *net);
/* Multiply-accumulates of one forward pass at size x size. */
double      hepa_resnet_macs          (const HepaResnet *net,
                                       int               size);
/* The head: weight (n_classes, feat_c), bias (n_classes). */
const float *hepa_resnet_fc_weight    (const HepaResnet *net,
                                       int              *feat_c);
const float *hepa_resnet_fc_bias      (const HepaResnet *net);

/* The smallest input every layer accepts (each stride keeps at least one pixel). */
#define HEPA_RESNET_MIN_SIZE 32

/* Activations and scratch for a batch of size x size inputs, allocated once. Returns NULL when
 * memory runs out or size is below HEPA_RESNET_MIN_SIZE or too large to address. */
HepaResnetWorkspace *hepa_resnet_workspace_new  (const HepaResnet    *net,
                                                 int                  max_batch,
                                                 int                  size);
void                 hepa_resnet_workspace_free (HepaResnetWorkspace *ws);

/* Returns non-zero to abort the forward pass; checked between blocks. */
typedef int (*HepaCancelFn) (void *user);

/* input (batch, 3, size, size) -> logits (batch, n_classes). Allocates nothing.
 * Returns 0, or 1 when @cancel asked to stop. */
int hepa_resnet_forward (const HepaResnet    *net,
                         HepaResnetWorkspace *ws,
                         const float         *input,
                         int                  batch,
                         float               *logits,
                         HepaCancelFn         cancel,
                         void                *cancel_user);

/* Where a forward pass's time goes: one entry per convolution (named as in the state_dict,
 * e.g. "layer3.1.conv2"), then "maxpool" and "avgpool+fc". */
typedef struct
{
  char        name[32];
  const char *method;     /* "winograd", "gemm" (1x1 stride 1, no copy), "im2col+gemm", "other" */
  double      ms;
  double      cpu_ms;     /* CPU time of the whole process (every team member) in the layer */
  double      macs;       /* multiply-accumulates of the batch */
} HepaLayerTime;

/* hepa_resnet_forward, timing each layer into @layers (up to @max_layers entries). Returns the
 * number of entries written. */
int hepa_resnet_forward_timed (const HepaResnet    *net,
                               HepaResnetWorkspace *ws,
                               const float         *input,
                               int                  batch,
                               float               *logits,
                               HepaLayerTime       *layers,
                               int                  max_layers);

/* The layer4 output of the last forward (after the final ReLU): (batch, c, h, w). */
const float *hepa_resnet_workspace_features (const HepaResnetWorkspace *ws,
                                             int                       *c,
                                             int                       *h,
                                             int                       *w);

/* Seeded, counter-based uniform numbers in [-1, 1): the same in C and in the Python fixture
 * script, so both sides can build identical random weights. */
float hepa_nn_seeded_uniform (uint64_t seed,
                              uint64_t index);
