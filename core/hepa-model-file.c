/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A model file of either format, told apart by its first bytes. */
#include "config.h"

#include "hepa-model-file.h"
#include "hepa-error.h"
#include "hepa-pth.h"
#include "hepa-safetensors.h"

#include <glib/gi18n.h>

guint64
hepa_model_file_get_max_bytes (void)
{
  const char *env = g_getenv ("HEPASCOPE_MAX_MODEL_MB");
  guint64 mb = 4096;

  if (env != NULL && *env != '\0')
    {
      guint64 v = g_ascii_strtoull (env, NULL, 10);
      if (v > 0)
        mb = v;
    }
  return mb * 1048576;
}

HepaWeights *
hepa_model_file_load (const char  *path,
                   GError     **error)
{
  g_autoptr(GMappedFile) mapped = NULL;
  gsize size;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Mapping reads nothing yet: absurd files are refused before any page is touched. */
  mapped = hepa_map_file (path, error);
  if (mapped == NULL)
    return NULL;
  size = g_mapped_file_get_length (mapped);
  if ((guint64) size > hepa_model_file_get_max_bytes ())
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Model file is %.0f MB, above the %.0f MB ceiling (HEPASCOPE_MAX_MODEL_MB)"),
                   size / 1048576.0, hepa_model_file_get_max_bytes () / 1048576.0);
      return NULL;
    }
  /* torch.save writes a zip archive (or, before PyTorch 1.6, a bare pickle, which the .pth
   * reader refuses with its own message); safetensors starts with a little-endian length. */
  if (hepa_pth_sniff ((const guint8 *) g_mapped_file_get_contents (mapped), size))
    return hepa_pth_load_mapped (mapped, error);
  return hepa_safetensors_load_mapped (mapped, error);
}
