/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A classification model: ResNet weights plus the model card that says how to use them. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "nn/hepa-resnet.h"
#include "hepa-model-card.h"
#include "hepa-weights.h"

G_BEGIN_DECLS

typedef struct _HepaModel HepaModel;

/* Loads a safetensors or .pth file. Immutable afterwards; usable from any thread. */
HepaModel           *hepa_model_load        (const char    *path,
                                             GError       **error);
/* A model with seeded random weights (He init, randomized BN statistics), for benchmarks and
 * tests. @classes NULL names them class0..N-1. */
HepaModel           *hepa_model_new_random  (HepaArch       arch,
                                             guint          n_classes,
                                             const char   *const *classes,
                                             int            input_size,
                                             guint64        seed);
HepaModel           *hepa_model_ref         (HepaModel     *self);
void                 hepa_model_unref       (HepaModel     *self);
const HepaModelCard *hepa_model_get_card    (HepaModel     *self);
const HepaResnet    *hepa_model_get_network (HepaModel     *self);
/* The path of the default model: $HEPASCOPE_MODEL, else the first data/models/ *.safetensors of
 * the source tree, else of PKGDATADIR/models; NULL when none is found. */
char                *hepa_model_find_default (void);

/* A model from weights already in memory (validated and folded; @weights may be freed
 * afterwards). The card comes from the "hepascope.card" metadata, else defaults are assumed.
 * @name (nullable) is the id when the card has no name. */
HepaModel           *hepa_model_new_from_weights (HepaWeights  *weights,
                                                  const char   *name,
                                                  GError      **error);
/* The weights hepa_model_new_random uses, in torchvision state_dict order: tensor t (its index
 * in hepa_resnet_param_info order), element j derives from
 * u = hepa_nn_seeded_uniform ((seed << 32) | (arch << 16) | t, j), computed in double:
 *   conv weights u * sqrt (6 / fan_in) (He uniform); BN weight 1 + 0.1 u; BN running_var
 *   1 + 0.25 (u + 1); fc.weight u / sqrt (features); BN bias, running_mean and fc.bias 0.1 u.
 * Seed 0 is the scheme of tests/gen-resnet-ref.py, so torchvision can rebuild these weights. */
HepaWeights         *hepa_model_random_weights   (HepaArch      arch,
                                                  guint         n_classes,
                                                  guint64       seed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaModel, hepa_model_unref)

G_END_DECLS
