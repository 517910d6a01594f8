/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PyTorch checkpoints (torch.save zip archives); never executes anything the pickle asks for. */
#pragma once

#include "hepa-weights.h"

G_BEGIN_DECLS

/* Reads the state dict in the torch.save archive @data (@size bytes; only read during the call).
 * @name (nullable) prefixes error messages. F16 and BF16 tensors are converted to F32;
 * integer tensors named *num_batches_tracked and non-tensor entries are skipped. */
HepaWeights *hepa_pth_load_from_data (const guint8 *data,
                                      gsize         size,
                                      const char   *name,
                                      GError      **error);

/* The same from a file, or from a file already mapped (the weights keep a reference to
 * @mapped while tensors point into it). */
HepaWeights *hepa_pth_load           (const char   *path,
                                      GError      **error);
HepaWeights *hepa_pth_load_mapped    (GMappedFile  *mapped,
                                      GError      **error);

/* TRUE when @data starts like a PyTorch checkpoint (a zip archive, or the legacy pickle format,
 * which hepa_pth_load_from_data refuses with a clear message). */
gboolean     hepa_pth_sniff          (const guint8 *data,
                                      gsize         size);

G_END_DECLS
