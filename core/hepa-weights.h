/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A named set of tensors with string metadata: what safetensors and .pth files hold. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  HEPA_DTYPE_F32,
  HEPA_DTYPE_F16,
  HEPA_DTYPE_BF16,
} HepaDType;

typedef struct
{
  char       *name;
  HepaDType   stored_dtype;  /* as in the file */
  int         ndim;
  gint64      shape[8];
  gint64      n_elements;
  const float *data;         /* fp32, converted on load; owned by the HepaWeights */
} HepaTensorEntry;

typedef struct _HepaWeights HepaWeights;

HepaWeights *hepa_weights_new          (void);
void         hepa_weights_free         (HepaWeights *self);
/* Copies @data. */
void         hepa_weights_add          (HepaWeights *self,
                                        const char  *name,
                                        int          ndim,
                                        const gint64 *shape,
                                        const float *data);
const HepaTensorEntry *hepa_weights_lookup (HepaWeights *self,
                                            const char  *name);
guint        hepa_weights_get_n        (HepaWeights *self);
const HepaTensorEntry *hepa_weights_get_nth (HepaWeights *self,
                                             guint        index);
/* Free-form string metadata (safetensors __metadata__). */
const char  *hepa_weights_get_metadata (HepaWeights *self,
                                        const char  *key);
/* The metadata keys, sorted (transfer full). */
char       **hepa_weights_dup_metadata_keys (HepaWeights *self);
void         hepa_weights_set_metadata (HepaWeights *self,
                                        const char  *key,
                                        const char  *value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaWeights, hepa_weights_free)

G_END_DECLS
