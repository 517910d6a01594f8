/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Model files of either format (safetensors or a PyTorch .pth), told apart by content. */
#pragma once

#include "hepa-weights.h"

G_BEGIN_DECLS

/* Ceiling on the size of a model file: 4096 MB, or HEPASCOPE_MAX_MODEL_MB. */
guint64      hepa_model_file_get_max_bytes (void);
/* Maps @path once, refuses files above the ceiling before touching a page, and hands the mapping
 * to the safetensors or the .pth reader by the file's first bytes. */
HepaWeights *hepa_model_file_load          (const char  *path,
                                            GError     **error);

G_END_DECLS
