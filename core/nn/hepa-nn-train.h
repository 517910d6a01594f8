/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training: backward kernels and a trainable ResNet (torchvision resnet18 / resnet50).
 *
 * Unlike the inference network (hepa-resnet.h), batch norm stays unfolded here: training uses
 * batch statistics and updates running averages (momentum 0.1, eps 1e-5), as torch.nn.BatchNorm2d.
 *
 * Activations are stored channel-major, (c, batch, h, w) ("CNHW"), so that a convolution over the
 * whole batch is one GEMM whose output is already in that layout, and batch norm works on one
 * contiguous run per channel. Inputs and logits keep the usual (batch, ...) order.
 *
 * libhepa-nn: OpenBLAS and libm only; no GLib, no I/O. Kernels take caller-owned buffers, return
 * void and cannot fail; shapes are checked with HEPA_NN_ASSERT. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hepa-resnet.h"

/* ---- Kernels (CNHW activations) ------------------------------------------------------------ */

/* Output size of a convolution or pooling window along one axis. */
int  hepa_nn_train_out_size        (int          in,
                                    int          k,
                                    int          stride,
                                    int          pad);

/* in (c, b, h, w) -> col (c * k * k, b * oh * ow). */
void hepa_nn_train_im2col          (const float *in,
                                    int          c,
                                    int          b,
                                    int          h,
                                    int          w,
                                    int          k,
                                    int          stride,
                                    int          pad,
                                    float       *col);
/* Adds col (c * k * k, b * oh * ow) back into in_grad (c, b, h, w). */
void hepa_nn_train_col2im_add      (const float *col,
                                    int          c,
                                    int          b,
                                    int          h,
                                    int          w,
                                    int          k,
                                    int          stride,
                                    int          pad,
                                    float       *in_grad);

/* Scratch floats a convolution needs (0 for 1x1 stride 1 without padding). */
size_t hepa_nn_train_conv_scratch  (int          c_in,
                                    int          b,
                                    int          h,
                                    int          w,
                                    int          k,
                                    int          stride,
                                    int          pad);
/* in (c_in, b, h, w), weight (c_out, c_in, k, k) -> out (c_out, b, oh, ow). No bias. */
void hepa_nn_train_conv_forward    (const float *in,
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
                                    float       *out);
/* Given out_grad (c_out, b, oh, ow): weight_grad (c_out, c_in, k, k) += dL/dW; in_grad
 * (c_in, b, h, w) = dL/din, or += when @accumulate, or skipped when NULL. */
void hepa_nn_train_conv_backward   (const float *in,
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
                                    int          accumulate);

/* Training batch norm over x (c, n): y = (x - mean) * invstd * gamma + beta with the batch's
 * mean and biased variance; running_mean/var (c) move by @momentum (running_var takes the
 * unbiased variance). Saves mean and invstd (c) for the backward pass. y may alias x only when
 * the backward pass will not need x. */
void hepa_nn_train_bn_forward      (const float *x,
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
                                    float       *y);
/* Inference batch norm with the running statistics. y may alias x. */
void hepa_nn_train_bn_forward_eval (const float *x,
                                    int          c,
                                    size_t       n,
                                    const float *gamma,
                                    const float *beta,
                                    const float *running_mean,
                                    const float *running_var,
                                    float        eps,
                                    float       *y);
/* x (c, n) as given to the forward pass, y_grad (c, n): gamma_grad, beta_grad (c) +=; x_grad
 * (c, n) = dL/dx. x_grad may alias y_grad. */
void hepa_nn_train_bn_backward     (const float *x,
                                    const float *y_grad,
                                    int          c,
                                    size_t       n,
                                    const float *gamma,
                                    const float *save_mean,
                                    const float *save_invstd,
                                    float       *gamma_grad,
                                    float       *beta_grad,
                                    float       *x_grad);

/* In place. */
void hepa_nn_train_relu_forward    (float       *x,
                                    size_t       n);
/* grad (n) is zeroed where the forward output y (n) is not positive. In place. */
void hepa_nn_train_relu_backward   (const float *y,
                                    float       *grad,
                                    size_t       n);

/* in (c, b, h, w) -> out (c, b, oh, ow), argmax (c, b, oh, ow) as an index into the plane. */
void hepa_nn_train_maxpool_forward (const float *in,
                                    int          c,
                                    int          b,
                                    int          h,
                                    int          w,
                                    int          k,
                                    int          stride,
                                    int          pad,
                                    float       *out,
                                    int32_t     *argmax);
/* in_grad (c, b, h, w) = scatter of out_grad (c, b, oh, ow) through argmax. */
void hepa_nn_train_maxpool_backward (const float   *out_grad,
                                     const int32_t *argmax,
                                     int            c,
                                     int            b,
                                     int            h,
                                     int            w,
                                     int            oh,
                                     int            ow,
                                     float         *in_grad);
/* Average pooling with a k x k window (no padding). in (c, b, h, w) -> out (c, b, oh, ow). */
void hepa_nn_train_avgpool_forward (const float *in,
                                    int          c,
                                    int          b,
                                    int          h,
                                    int          w,
                                    int          k,
                                    int          stride,
                                    float       *out);
void hepa_nn_train_avgpool_backward (const float *out_grad,
                                     int          c,
                                     int          b,
                                     int          h,
                                     int          w,
                                     int          k,
                                     int          stride,
                                     float       *in_grad);

/* x (b, n_in), weight (n_out, n_in), bias (n_out) -> y (b, n_out). */
void hepa_nn_train_linear_forward  (const float *x,
                                    int          b,
                                    int          n_in,
                                    const float *weight,
                                    const float *bias,
                                    int          n_out,
                                    float       *y);
/* weight_grad, bias_grad +=; x_grad (b, n_in) = dL/dx unless NULL. */
void hepa_nn_train_linear_backward (const float *x,
                                    int          b,
                                    int          n_in,
                                    const float *weight,
                                    int          n_out,
                                    const float *y_grad,
                                    float       *weight_grad,
                                    float       *bias_grad,
                                    float       *x_grad);

/* Mean softmax cross-entropy of logits (b, k) against labels (b). Writes probs (b, k) unless
 * NULL and logits_grad (b, k) = (softmax - onehot) / b unless NULL. */
double hepa_nn_train_softmax_xent  (const float *logits,
                                    const int   *labels,
                                    int          b,
                                    int          k,
                                    float       *probs,
                                    float       *logits_grad);

/* ---- Trainable ResNet ------------------------------------------------------------------------ */

typedef struct
{
  const char *name;      /* torchvision state_dict name, e.g. "layer1.0.bn1.running_mean" */
  int         ndim;
  int         shape[4];
  size_t      n;
  float      *data;      /* (shape) */
  float      *grad;      /* (shape); NULL for the running statistics */
  float      *velocity;  /* SGD momentum (shape); NULL for the running statistics */
} HepaTrainParam;

typedef struct HepaTrainNet HepaTrainNet;

/* A network for batches of up to @max_batch inputs of @size x @size (size >= 32). Parameters are
 * zero until initialized or set. Returns NULL when memory runs out. */
HepaTrainNet *hepa_train_net_new        (HepaArch      arch,
                                         int           n_classes,
                                         int           max_batch,
                                         int           size);
void          hepa_train_net_free       (HepaTrainNet *net);

HepaArch      hepa_train_net_get_arch   (const HepaTrainNet *net);
int           hepa_train_net_get_n_classes (const HepaTrainNet *net);
int           hepa_train_net_get_size   (const HepaTrainNet *net);
int           hepa_train_net_get_max_batch (const HepaTrainNet *net);
/* Multiply-accumulates of one forward pass of one image. */
double        hepa_train_net_macs       (const HepaTrainNet *net);
/* Bytes allocated for parameters, gradients, momentum and activations. */
size_t        hepa_train_net_get_bytes  (const HepaTrainNet *net);

/* Parameters and buffers in torchvision state_dict order (num_batches_tracked excluded). */
int             hepa_train_net_n_params (const HepaTrainNet *net);
HepaTrainParam *hepa_train_net_param    (HepaTrainNet       *net,
                                         int                 index);
HepaTrainParam *hepa_train_net_find     (HepaTrainNet       *net,
                                         const char         *name);

/* He (Kaiming) init as torchvision: convolutions normal with variance 2 / fan_out, BN gamma 1,
 * beta 0, running statistics (0, 1); the fc layer uniform in +-1/sqrt(fan_in). Seeded. */
void          hepa_train_net_init_he    (HepaTrainNet *net,
                                         uint64_t      seed);
/* Sets the gamma of the last batch norm in every residual block (bn3 in a bottleneck, bn2 in a
 * basic block) to zero, so each block starts as the identity (Goyal et al. 2017, torchvision's
 * zero_init_residual): from scratch, the first steps no longer blow up the loss. */
void          hepa_train_net_zero_init_residual (HepaTrainNet *net);
/* Re-initializes only fc.weight and fc.bias (as above). */
void          hepa_train_net_init_head  (HepaTrainNet *net,
                                         uint64_t      seed);

/* Forward pass of input (batch, 3, size, size) -> logits (batch, n_classes). @training uses batch
 * statistics, updates running averages and keeps what the backward pass needs; otherwise the
 * running statistics are used (eval mode). */
void          hepa_train_net_forward    (HepaTrainNet *net,
                                         const float  *input,
                                         int           batch,
                                         int           training,
                                         float        *logits);
/* Sets every gradient to zero. */
void          hepa_train_net_zero_grad  (HepaTrainNet *net);
/* After a training forward: adds the gradients of the loss whose logits gradient is given
 * (batch, n_classes) to every parameter's grad. */
void          hepa_train_net_backward   (HepaTrainNet *net,
                                         const float  *logits_grad);
/* zero_grad + forward (training) + mean cross-entropy + backward. Returns the loss; writes the
 * logits (batch, n_classes) unless NULL. */
double        hepa_train_net_loss_grad  (HepaTrainNet *net,
                                         const float  *input,
                                         const int    *labels,
                                         int           batch,
                                         float        *logits);
/* SGD with momentum and weight decay, as torch.optim.SGD (dampening 0, not Nesterov):
 * v = momentum * v + (grad + weight_decay * w); w -= lr * v. */
void          hepa_train_net_sgd_step   (HepaTrainNet *net,
                                         float         lr,
                                         float         momentum,
                                         float         weight_decay);
