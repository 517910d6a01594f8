/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the safetensors parser (and the model checks behind it).
 * Build: CC=clang meson setup _build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined
 * Run:   mkdir -p tests/fuzz/corpus-safetensors (ignored by git)
 *        _build-fuzz/tests/fuzz/fuzz-safetensors tests/fuzz/corpus-safetensors \
 *          tests/fuzz/seed-safetensors -max_total_time=600 */
#include "config.h"

#include "hepa-model.h"
#include "hepa-weights-private.h"
#include "hepa-safetensors.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) weights = hepa_safetensors_parse (data, size, &error);
  volatile float sink = 0;

  /* Exactly one of a result and an error, and the error is one line. */
  if ((weights == NULL) == (error == NULL))
    __builtin_trap ();
  if (error != NULL)
    {
      if (strchr (error->message, '\n') != NULL)
        __builtin_trap ();
      return 0;
    }

  /* Every byte of every tensor is readable. */
  for (guint i = 0; i < hepa_weights_get_n (weights); i++)
    {
      const HepaTensorEntry *e = hepa_weights_get_nth (weights, i);

      for (gint64 j = 0; j < e->n_elements; j++)
        sink += e->data[j];
    }
  (void) sink;

  /* The model checks (architecture, shapes, card) on whatever parsed. */
  {
    g_autoptr(GError) model_error = NULL;
    g_autoptr(HepaModel) model = hepa_model_new_from_weights (weights, "fuzz", &model_error);

    if ((model == NULL) == (model_error == NULL))
      __builtin_trap ();
  }
  return 0;
}
