/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internals shared by the weight readers (safetensors, .pth). */
#pragma once

#include "hepa-weights.h"

G_BEGIN_DECLS

/* Keeps @data alive as long as @self; @destroy frees it with the weights. */
void                   hepa_weights_keep_alive (HepaWeights    *self,
                                                gpointer        data,
                                                GDestroyNotify  destroy);
/* Adds a tensor without copying: @data (n_elements fp32) must outlive @self, or be g_malloc'd
 * memory handed over when @owned is TRUE. */
const HepaTensorEntry *hepa_weights_take_data  (HepaWeights    *self,
                                                const char     *name,
                                                HepaDType       stored_dtype,
                                                int             ndim,
                                                const gint64   *shape,
                                                const float    *data,
                                                gboolean        owned);

/* @name made fit for a one-line error message: control characters replaced, at most about
 * 200 bytes, valid UTF-8. */
char                  *hepa_weights_printable_name    (const char    *name);

G_END_DECLS
