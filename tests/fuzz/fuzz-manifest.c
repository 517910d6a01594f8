/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the export manifest reader (manifest.json and manifest.csv), which the
 * trainer uses on trees it did not write.
 * Build: CC=clang CXX=clang++ meson setup _build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined
 * Run:   mkdir -p tests/fuzz/corpus-manifest (ignored by git)
 *        _build-fuzz/tests/fuzz/fuzz-manifest tests/fuzz/corpus-manifest tests/fuzz/seed-manifest \
 *          -max_total_time=600
 * Each input goes to both readers. Whatever parses must be written and read back by both
 * formats with the same rows, and every path it names must be a safe relative path. */
#include "config.h"

#include "hepa-error.h"
#include "hepa-manifest.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

static void
check_round_trip (const HepaManifest *manifest)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaManifest) from_json = NULL;
  g_autoptr(HepaManifest) from_csv = NULL;
  g_autofree char *json = NULL;
  g_autofree char *csv = NULL;
  gsize length = 0;

  for (guint i = 0; i < manifest->rows->len; i++)
    {
      const HepaManifestRow *row = g_ptr_array_index (manifest->rows, i);

      if (!hepa_manifest_path_is_safe (row->file)
          || (row->native_file != NULL && !hepa_manifest_path_is_safe (row->native_file)))
        __builtin_trap ();
    }

  json = hepa_manifest_to_json (manifest, &length);
  from_json = hepa_manifest_parse_json (json, length, &error);
  if (from_json == NULL || from_json->rows->len != manifest->rows->len)
    __builtin_trap ();
  csv = hepa_manifest_to_csv (manifest, &length);
  from_csv = hepa_manifest_parse_csv (csv, length, &error);
  if (from_csv == NULL || from_csv->rows->len != manifest->rows->len)
    __builtin_trap ();
  for (guint i = 0; i < manifest->rows->len; i++)
    {
      const HepaManifestRow *a = g_ptr_array_index (manifest->rows, i);
      const HepaManifestRow *b = g_ptr_array_index (from_json->rows, i);
      const HepaManifestRow *c = g_ptr_array_index (from_csv->rows, i);

      if (strcmp (a->crop_id, b->crop_id) != 0 || strcmp (a->crop_id, c->crop_id) != 0
          || strcmp (a->file, c->file) != 0 || strcmp (a->label, c->label) != 0
          || g_strcmp0 (a->rater, c->rater) != 0 || a->roi.x != c->roi.x
          || a->roi.height != c->roi.height || a->frame != c->frame)
        __builtin_trap ();
    }
}

static void
check_one (HepaManifest *manifest,
           GError       *error)
{
  if ((manifest == NULL) == (error == NULL))
    __builtin_trap ();
  if (error != NULL)
    {
      if (error->domain != HEPA_ERROR || strchr (error->message, '\n') != NULL)
        __builtin_trap ();
      return;
    }
  check_round_trip (manifest);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) json_error = NULL;
  g_autoptr(GError) csv_error = NULL;
  g_autoptr(HepaManifest) from_json = NULL;
  g_autoptr(HepaManifest) from_csv = NULL;

  from_json = hepa_manifest_parse_json ((const char *) data, size, &json_error);
  check_one (from_json, json_error);
  from_csv = hepa_manifest_parse_csv ((const char *) data, size, &csv_error);
  check_one (from_csv, csv_error);
  return 0;
}
