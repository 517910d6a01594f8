/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libhepa-nn kernels: float32, NCHW, caller-owned buffers, no allocation, cannot fail.
 * Every fast kernel has a naive `_ref` twin that the tests compare it against.
 * OpenBLAS and libm only; no GLib, no I/O. */
#pragma once

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* A wrong shape silently corrupts memory, so this stays on in release builds (as GGML_ASSERT). */
#define HEPA_NN_ASSERT(expr)                                                      \
  do                                                                              \
    {                                                                             \
      if (!(expr))                                                                \
        {                                                                         \
          fprintf (stderr, "%s:%d: HEPA_NN_ASSERT (%s) failed\n", __FILE__,       \
                   __LINE__, #expr);                                              \
          abort ();                                                               \
        }                                                                         \
    }                                                                             \
  while (0)

/* A 2-D convolution with square kernel, stride and zero padding. */
typedef struct
{
  int c_in;
  int c_out;
  int k;       /* kernel size: k x k */
  int stride;
  int pad;
} HepaConvDesc;

/* What happens to a conv output: y = act (conv (x) + bias + residual). */
typedef struct
{
  const float *bias;      /* (c_out) or NULL */
  const float *residual;  /* (n, c_out, oh, ow) or NULL; may not alias y */
  int          relu;      /* non-zero: max (., 0) last */
} HepaEpilogue;

/* Output extent of a convolution or pool along one axis. */
int    hepa_nn_out_size            (int in,
                                    int k,
                                    int stride,
                                    int pad);

/* Floats of scratch hepa_nn_conv2d needs for inputs of h x w (the im2col buffer of one image;
 * 0 for 1x1 stride-1 convs, which multiply the input directly). */
size_t hepa_nn_conv2d_scratch_size (const HepaConvDesc *d,
                                    int                 h,
                                    int                 w);

/* x (n, c_in, h, w), weight (c_out, c_in, k, k) -> y (n, c_out, oh, ow).
 * im2col + cblas_sgemm per image; 1x1 stride-1 convs are one GEMM over the input itself. */
void   hepa_nn_conv2d              (const HepaConvDesc *d,
                                    const float        *x,
                                    int                 n,
                                    int                 h,
                                    int                 w,
                                    const float        *weight,
                                    const HepaEpilogue *epi,
                                    float              *y,
                                    float              *scratch);
/* Direct seven-loop convolution accumulated in double. */
void   hepa_nn_conv2d_ref          (const HepaConvDesc *d,
                                    const float        *x,
                                    int                 n,
                                    int                 h,
                                    int                 w,
                                    const float        *weight,
                                    const HepaEpilogue *epi,
                                    float              *y);

/* The same convolution with weights packed once for libhepa-nn's own GEMM kernel, which reads
 * the input (or its im2col buffer) in place, applies the epilogue as it stores, and runs on
 * the team (see hepa_nn_set_threads). weight (c_out, c_in, k, k) -> packed;
 * c_in * k * k <= HEPA_NN_GEMM_PANEL_FLOATS / 16. */
size_t hepa_nn_conv_pack_size      (const HepaConvDesc *d);
void   hepa_nn_conv_pack           (const HepaConvDesc *d,
                                    const float        *weight,
                                    float              *packed);
/* Scratch: hepa_nn_conv2d_packed_scratch_size floats. */
size_t hepa_nn_conv2d_packed_scratch_size (const HepaConvDesc *d,
                                          int                 h,
                                          int                 w);
void   hepa_nn_conv2d_packed       (const HepaConvDesc *d,
                                    const float        *x,
                                    int                 n,
                                    int                 h,
                                    int                 w,
                                    const float        *packed,
                                    const HepaEpilogue *epi,
                                    float              *y,
                                    float              *scratch);

/* y (m, n) = act (a (m, k) * b (k, n; row stride ldb) + bias (m) + residual (m, n)), with a
 * packed by hepa_nn_gemm_pack; k <= HEPA_NN_GEMM_PANEL_FLOATS / 16. Columns of b are packed per
 * thread into @scratch (hepa_nn_gemm_scratch_size floats); threads past HEPA_NN_MAX_THREADS are
 * not used. */
#define HEPA_NN_MAX_THREADS 16
#define HEPA_NN_GEMM_PANEL_FLOATS 294912
size_t hepa_nn_gemm_scratch_size   (void);
size_t hepa_nn_gemm_pack_size      (int                 m,
                                    int                 k);
void   hepa_nn_gemm_pack           (const float        *a,
                                    int                 m,
                                    int                 k,
                                    float              *packed);
/* The same with row i of a multiplied by row_scale[i] (NULL: none) as it is packed, each value
 * rounded once from the double product: hepa_nn_bn_fold and hepa_nn_gemm_pack in one pass, with
 * no folded copy of the weights. */
void   hepa_nn_gemm_pack_scaled    (const float        *a,
                                    const double       *row_scale,
                                    int                 m,
                                    int                 k,
                                    float              *packed);
void   hepa_nn_gemm_packed         (const float        *packed,
                                    int                 m,
                                    int                 k,
                                    const float        *b,
                                    int                 n,
                                    int                 ldb,
                                    const HepaEpilogue *epi,
                                    float              *y,
                                    float              *scratch);

/* The same over a batch in one parallel region: image i reads b + i * b_stride and writes
 * y + i * y_stride, its residual at the same offset as its output. */
void   hepa_nn_gemm_packed_batch   (const float        *packed,
                                    int                 m,
                                    int                 k,
                                    const float        *b,
                                    size_t              b_stride,
                                    int                 n,
                                    int                 ldb,
                                    const HepaEpilogue *epi,
                                    float              *y,
                                    size_t              y_stride,
                                    int                 batch,
                                    float              *scratch);

/* The size of libhepa-nn's one thread team (hepa-nn-team.c), which runs every parallel loop of
 * inference and training, for every calling thread; at most HEPA_NN_MAX_THREADS. Until set: the
 * CPUs this process may run on (its affinity mask). OpenBLAS is kept to one thread: the team
 * splits the GEMMs that need more. */
void   hepa_nn_set_threads         (int                 n);
/* @n_floats floats in one block of 2 MB pages where the kernel gives them on request
 * (transparent huge pages, "madvise" mode): a large block's first touch then costs a few page
 * faults, not thousands. free () it. NULL when out of memory or too large. */
float *hepa_nn_arena_new           (size_t              n_floats);
/* Floats to set aside in an arena for a block of @n_floats (at least one), so that the next
 * block starts 64-byte aligned: a multiple of 16. */
size_t hepa_nn_arena_block         (size_t              n_floats);
int    hepa_nn_get_threads         (void);

/* The instruction set of the hot kernels in use: "avx512", "avx2" or "baseline" (x86-64).
 * Chosen on first use: $HEPASCOPE_ISA where this CPU has it, else the widest it has. */
const char *hepa_nn_isa            (void);
/* Non-zero when this CPU (and the build) can run @name. */
int    hepa_nn_isa_available       (const char *name);
/* Switches to @name (NULL: the widest available); 0, changing nothing, when this CPU cannot run
 * it. Not while a forward or training pass runs. */
int    hepa_nn_set_isa             (const char *name);

/* Winograd F(4x4, 3x3) for 3x3, stride 1, pad 1 convolutions, on the team with its own
 * 8x8 kernel. The weights are transformed once: (c_out, c_in, 3, 3) -> u (36, c_out rounded up
 * to 8 / 8, c_in, 8). */
size_t hepa_nn_winograd_weight_size  (int          c_in,
                                      int          c_out);
void   hepa_nn_winograd_pack         (const float *weight,
                                      int          c_in,
                                      int          c_out,
                                      float       *u);
/* The same with output channel c's weights multiplied by out_scale[c] (NULL: none) first,
 * rounded to float as hepa_nn_bn_fold rounds them. */
void   hepa_nn_winograd_pack_scaled  (const float  *weight,
                                      const double *out_scale,
                                      int           c_in,
                                      int           c_out,
                                      float        *u);
/* Floats of scratch for n images of h x w. */
size_t hepa_nn_winograd_scratch_size (int          c_in,
                                      int          c_out,
                                      int          n,
                                      int          h,
                                      int          w);
/* x (n, c_in, h, w), u from hepa_nn_winograd_pack -> y (n, c_out, h, w). */
void   hepa_nn_conv3x3_winograd      (const float        *u,
                                      int                 c_in,
                                      int                 c_out,
                                      const float        *x,
                                      int                 n,
                                      int                 h,
                                      int                 w,
                                      const HepaEpilogue *epi,
                                      float              *y,
                                      float              *scratch);

/* Folds an inference batch norm into the preceding bias-free conv:
 * w' = w * g / sqrt (v + eps), b' = beta - m * g / sqrt (v + eps).
 * weight (c_out, per_out) -> w_out (c_out, per_out) (may alias), b_out (c_out). */
void   hepa_nn_bn_fold             (const float *weight,
                                    int          c_out,
                                    int          per_out,
                                    const float *gamma,
                                    const float *beta,
                                    const float *mean,
                                    const float *var,
                                    float        eps,
                                    float       *w_out,
                                    float       *b_out);
/* Only the per-channel factors: scale_out (c_out) = g / sqrt (v + eps) in double, for
 * hepa_nn_gemm_pack_scaled and hepa_nn_winograd_pack_scaled, and b_out (c_out) as above; the
 * same values hepa_nn_bn_fold uses. */
void   hepa_nn_bn_scale            (int          c_out,
                                    const float *gamma,
                                    const float *beta,
                                    const float *mean,
                                    const float *var,
                                    float        eps,
                                    double      *scale_out,
                                    float       *b_out);

/* y = act (y + bias[c] + residual) in place over y (n, c, hw). */
void   hepa_nn_epilogue            (float              *y,
                                    int                 n,
                                    int                 c,
                                    int                 hw,
                                    const HepaEpilogue *epi);
void   hepa_nn_epilogue_ref        (float              *y,
                                    int                 n,
                                    int                 c,
                                    int                 hw,
                                    const HepaEpilogue *epi);

/* 3x3 max pool, stride 2, pad 1 (padding never wins): x (n, c, h, w) -> y (n, c, oh, ow). */
void   hepa_nn_maxpool3x3s2        (const float *x,
                                    int          n,
                                    int          c,
                                    int          h,
                                    int          w,
                                    float       *y);
void   hepa_nn_maxpool3x3s2_ref    (const float *x,
                                    int          n,
                                    int          c,
                                    int          h,
                                    int          w,
                                    float       *y);

/* x (n, c, hw) -> y (n, c): the mean over hw. */
void   hepa_nn_global_avgpool      (const float *x,
                                    int          n,
                                    int          c,
                                    int          hw,
                                    float       *y);
void   hepa_nn_global_avgpool_ref  (const float *x,
                                    int          n,
                                    int          c,
                                    int          hw,
                                    float       *y);

/* x (n, in), weight (out, in), bias (out) or NULL -> y (n, out). */
void   hepa_nn_linear              (const float *x,
                                    int          n,
                                    int          in,
                                    int          out,
                                    const float *weight,
                                    const float *bias,
                                    float       *y);
void   hepa_nn_linear_ref          (const float *x,
                                    int          n,
                                    int          in,
                                    int          out,
                                    const float *weight,
                                    const float *bias,
                                    float       *y);

/* Row-wise softmax with max subtraction: x (n, k) -> y (n, k); y may alias x. */
void   hepa_nn_softmax             (const float *x,
                                    int          n,
                                    int          k,
                                    float       *y);
void   hepa_nn_softmax_ref         (const float *x,
                                    int          n,
                                    int          k,
                                    float       *y);

/* Class activation maps: cam[k] = sum_c fc_weight[k, c] * feat[c] for one image.
 * feat (c, hw), fc_weight (n_classes, c) -> cam (n_classes, hw). */
void   hepa_nn_cam                 (const float *feat,
                                    int          c,
                                    int          hw,
                                    const float *fc_weight,
                                    int          n_classes,
                                    float       *cam);
void   hepa_nn_cam_ref             (const float *feat,
                                    int          c,
                                    int          hw,
                                    const float *fc_weight,
                                    int          n_classes,
                                    float       *cam);
