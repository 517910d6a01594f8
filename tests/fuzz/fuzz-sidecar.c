/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the sidecar (annotations) parser.
 * Build: CC=clang CXX=clang++ meson setup _build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined
 * Run:   mkdir -p tests/fuzz/corpus-sidecar (ignored by git)
 *        _build-fuzz/tests/fuzz/fuzz-sidecar tests/fuzz/corpus-sidecar tests/fuzz/seed-sidecar \
 *          -max_total_time=600
 * Besides "no crash, no leak", it checks: exactly one of a result and an error; one-line
 * errors; and that whatever parses survives a save/load round trip byte for byte. */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(HepaAnnotations) again = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  gsize first_length = 0;

  set = hepa_annotations_parse ((const char *) data, size, &error);
  if ((set == NULL) == (error == NULL))
    __builtin_trap ();
  if (error != NULL)
    {
      if (error->domain != HEPA_ERROR || strchr (error->message, '\n') != NULL)
        __builtin_trap ();
      return 0;
    }

  /* What was read can be written, and reads back as the same bytes. */
  first = hepa_annotations_to_data (set, &first_length);
  again = hepa_annotations_parse (first, first_length, &error);
  if (again == NULL || again->rois->len != set->rois->len)
    __builtin_trap ();
  second = hepa_annotations_to_data (again, NULL);
  if (strcmp (first, second) != 0)
    __builtin_trap ();
  return 0;
}
