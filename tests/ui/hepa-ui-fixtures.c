/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-ui-fixtures.h"

#include "hepa-image.h"
#include "hepa-model.h"
#include "hepa-synth.h"
#include "hepa-weights.h"
#include "hepa-safetensors.h"

#include <stdlib.h>

#define TEST_CARD_FMT \
  "{\"name\": \"ui-test-random\", \"arch\": \"%s\", " \
  "\"classes\": [\"non_fll\", \"cyst\", \"hemangioma\", \"ffs\", \"hcc\"], " \
  "\"input_size\": %d, " \
  "\"preprocess\": {\"grayscale\": true, \"resize\": \"stretch\", " \
  "\"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225]}, " \
  "\"trained_on\": {\"name\": \"none: seeded random weights\", \"sha256\": \"\"}, " \
  "\"metrics\": {}, \"created\": \"2026-11-27T00:00:00Z\", " \
  "\"software_version\": \"" PACKAGE_VERSION "\", " \
  "\"intended_use\": \"UI tests only: random weights, the answers mean nothing\", " \
  "\"warnings\": [\"untrained\"]}"

gboolean
hepa_ui_fixture_write_phantom (const char  *path,
                               const char  *klass,
                               guint64      seed,
                               int         *truth,
                               GError     **error)
{
  HepaSynthParams params;
  HepaSynthInfo info;
  HepaSynthClass k;
  g_autofree guint8 *gray = NULL;
  g_autofree guint8 *rgb = NULL;
  gsize n;

  if (!hepa_synth_class_from_name (klass, &k))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "unknown class %s", klass);
      return FALSE;
    }
  hepa_synth_params_init (&params, k, seed, 0);
  gray = g_malloc (hepa_synth_buffer_size (&params));
  if (!hepa_synth_generate (&params, gray, NULL, &info, error))
    return FALSE;
  n = (gsize) params.width * params.height;
  rgb = g_malloc (n * 3);
  for (gsize i = 0; i < n; i++)
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
  if (truth != NULL)
    {
      truth[0] = info.truth.x;
      truth[1] = info.truth.y;
      truth[2] = info.truth.width;
      truth[3] = info.truth.height;
    }
  return hepa_png_write_rgb (path, params.width, params.height, rgb, error);
}

gboolean
hepa_ui_fixture_write_model_full (const char  *path,
                                  HepaArch     arch,
                                  int          input_size,
                                  GError     **error)
{
  HepaWeights *weights = hepa_model_random_weights (arch, 5, 20261127);
  g_autofree char *card = g_strdup_printf (TEST_CARD_FMT, hepa_arch_to_string (arch),
                                           input_size);
  gboolean ok;

  hepa_weights_set_metadata (weights, "hepascope.card", card);
  ok = hepa_safetensors_save (weights, path, HEPA_DTYPE_F16, error);
  hepa_weights_free (weights);
  return ok;
}

gboolean
hepa_ui_fixture_write_model (const char  *path,
                             GError     **error)
{
  return hepa_ui_fixture_write_model_full (path, HEPA_ARCH_RESNET18, 64, error);
}

int
hepa_ui_fixture_max_difference (cairo_surface_t *a,
                                cairo_surface_t *b)
{
  int w = cairo_image_surface_get_width (a), h = cairo_image_surface_get_height (a);
  int worst = 0;

  g_assert_cmpint (cairo_image_surface_get_width (b), ==, w);
  g_assert_cmpint (cairo_image_surface_get_height (b), ==, h);
  cairo_surface_flush (a);
  cairo_surface_flush (b);
  for (int y = 0; y < h; y++)
    {
      const guint32 *ra = (const guint32 *) (gconstpointer) (cairo_image_surface_get_data (a)
                                                             + y * cairo_image_surface_get_stride (a));
      const guint32 *rb = (const guint32 *) (gconstpointer) (cairo_image_surface_get_data (b)
                                                             + y * cairo_image_surface_get_stride (b));

      for (int x = 0; x < w; x++)
        for (int c = 0; c < 32; c += 8)
          {
            /* RGB24 leaves the top byte undefined. */
            if (c == 24 && cairo_image_surface_get_format (a) == CAIRO_FORMAT_RGB24)
              continue;
            worst = MAX (worst, abs ((int) ((ra[x] >> c) & 0xff) - (int) ((rb[x] >> c) & 0xff)));
          }
    }
  return worst;
}
