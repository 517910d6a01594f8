/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the .pth reader: the zip container, the pickle machine and the tensor
 * rebuild. The first byte picks the mode: odd, the rest is a whole file; even, the rest is a
 * data.pkl placed in a well-formed archive next to two storages, so mutations reach the pickle
 * and the tensor checks without first having to forge CRCs.
 *
 *   meson setup _build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined (with CC=clang)
 *   ninja -C _build-fuzz tests/fuzz/fuzz-pth
 *   _build-fuzz/tests/fuzz/fuzz-pth -max_total_time=60 CORPUS tests/fuzz/seed-pth
 *   (seed-pth: the fixtures with a leading 0x01, their data.pkl with a leading 0x00) */
#include "config.h"

#include "hepa-pth.h"
#include "hepa-zip.h"

#include <string.h>

static void
put16 (GByteArray *a,
       guint       v)
{
  guint8 b[2] = { v & 0xff, (v >> 8) & 0xff };

  g_byte_array_append (a, b, 2);
}

static void
put32 (GByteArray *a,
       guint32     v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

  g_byte_array_append (a, b, 4);
}

static GByteArray *
wrap (const guint8 *pkl,
      gsize         pkl_size)
{
  static const char *const names[] = { "archive/data.pkl", "archive/data/0", "archive/data/1" };
  static const float storage[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  const guint8 *datas[3] = { pkl, (const guint8 *) storage, (const guint8 *) storage };
  gsize sizes[3] = { pkl_size, sizeof storage, 8 };
  GByteArray *out = g_byte_array_new ();
  g_autoptr(GByteArray) central = g_byte_array_new ();
  guint32 cd_offset;

  for (guint i = 0; i < 3; i++)
    {
      guint32 crc = hepa_zip_crc32 (datas[i], sizes[i]);
      guint32 offset = out->len;
      guint name_len = strlen (names[i]);

      put32 (out, 0x04034b50); put16 (out, 20); put16 (out, 0); put16 (out, 0); put16 (out, 0);
      put16 (out, 0); put32 (out, crc); put32 (out, sizes[i]); put32 (out, sizes[i]);
      put16 (out, name_len); put16 (out, 0);
      g_byte_array_append (out, (const guint8 *) names[i], name_len);
      g_byte_array_append (out, datas[i], sizes[i]);

      put32 (central, 0x02014b50); put16 (central, 20); put16 (central, 20); put16 (central, 0);
      put16 (central, 0); put16 (central, 0); put16 (central, 0); put32 (central, crc);
      put32 (central, sizes[i]); put32 (central, sizes[i]); put16 (central, name_len);
      put16 (central, 0); put16 (central, 0); put16 (central, 0); put16 (central, 0);
      put32 (central, 0); put32 (central, offset);
      g_byte_array_append (central, (const guint8 *) names[i], name_len);
    }
  cd_offset = out->len;
  g_byte_array_append (out, central->data, central->len);
  put32 (out, 0x06054b50); put16 (out, 0); put16 (out, 0); put16 (out, 3); put16 (out, 3);
  put32 (out, central->len); put32 (out, cd_offset); put16 (out, 0);
  return out;
}

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) weights = NULL;

  if (size < 1)
    return 0;
  if (data[0] & 1)
    {
      /* A private copy, so a read past the end is caught by ASan. */
      g_autofree guint8 *copy = g_memdup2 (data + 1, size - 1);

      weights = hepa_pth_load_from_data (copy, size - 1, "fuzz.pth", &error);
    }
  else
    {
      g_autoptr(GByteArray) zip = wrap (data + 1, size - 1);

      weights = hepa_pth_load_from_data (zip->data, zip->len, "fuzz.pth", &error);
    }
  /* Exactly one of a result and an error. */
  if ((weights == NULL) == (error == NULL))
    __builtin_trap ();
  if (weights != NULL)
    for (guint i = 0; i < hepa_weights_get_n (weights); i++)
      {
        const HepaTensorEntry *e = hepa_weights_get_nth (weights, i);
        volatile float sum = 0;

        for (gint64 j = 0; j < e->n_elements; j++)
          sum += e->data[j];
        (void) sum;
      }
  return 0;
}
