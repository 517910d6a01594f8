/* SPDX-License-Identifier: GPL-3.0-or-later */
/* safetensors files: every length, dtype, shape and offset is checked against the file. */
#pragma once

#include "hepa-weights.h"

G_BEGIN_DECLS

HepaWeights *hepa_safetensors_load        (const char    *path,
                                           GError       **error);
/* The reader on a file already mapped (hepa_model_file_load maps it once to pick the reader);
 * the weights take a reference to @mapped while tensors point into it. */
HepaWeights *hepa_safetensors_load_mapped (GMappedFile   *mapped,
                                           GError       **error);
/* Parses a safetensors image held in memory, with every check of the file reader; the tensors
 * are copied, so @data may be freed afterwards. */
HepaWeights *hepa_safetensors_parse       (const guint8  *data,
                                           gsize          size,
                                           GError       **error);
/* Writes @self atomically (temporary file, fsync, rename) with tensors stored as @dtype (F32,
 * F16 or BF16) and the weights' metadata as __metadata__. */
gboolean     hepa_safetensors_save        (HepaWeights   *self,
                                           const char    *path,
                                           HepaDType      dtype,
                                           GError       **error);

G_END_DECLS
