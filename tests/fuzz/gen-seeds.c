/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the generated seed corpora the libFuzzer targets start from, besides the committed
 * seed-* folders: inputs whose structure byte-level mutation does not find (sequences nested
 * past the limit in every DICOM encoding, fragment tables past the cap, JSON nested past
 * json-glib's stack) and their near-miss twins just inside the limits.
 *
 *   gen-seeds OUT      -> OUT/dicom, OUT/sidecar, OUT/safetensors, OUT/manifest
 *
 * .ci/run and tests/fuzz/run-long.sh run it into the build tree before fuzzing. */
#include "hepa-gen.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

static void
save (const char *dir,
      const char *name,
      const void *data,
      gsize       size)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, data, (gssize) size, &error))
    {
      fprintf (stderr, "gen-seeds: %s\n", error->message);
      exit (1);
    }
}

static void
save_bytes (const char *dir,
            const char *name,
            GBytes     *bytes)
{
  save (dir, name, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_bytes_unref (bytes);
}

static char *
subdir (const char *out,
        const char *name)
{
  char *dir = g_build_filename (out, name, NULL);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      fprintf (stderr, "gen-seeds: cannot make %s\n", dir);
      exit (1);
    }
  return dir;
}

int
main (int    argc,
      char **argv)
{
  static const guint depths[] = { 3, 64, 65, 300, 10000 };
  static const guint json_depths[] = { 8, 64, 65, 5000, 100000 };
  g_autofree char *dicom = NULL, *sidecar = NULL, *safetensors = NULL, *manifest = NULL;
  guint n = 0;

  if (argc != 2)
    {
      fprintf (stderr, "usage: gen-seeds OUT\n");
      return 2;
    }
  dicom = subdir (argv[1], "dicom");
  sidecar = subdir (argv[1], "sidecar");
  safetensors = subdir (argv[1], "safetensors");
  manifest = subdir (argv[1], "manifest");
  /* No generated .pth seeds (the committed seed-pth corpus covers the zip and pickle layers), but
   * the folder must exist: every fuzz target is given generated/KIND, and libFuzzer exits at
   * once on a corpus folder that is missing. */
  g_free (subdir (argv[1], "pth"));

  for (gsize d = 0; d < G_N_ELEMENTS (depths); d++)
    for (int e = 0; e < HEPA_GEN_N_ENCODINGS; e++)
      for (int u = 0; u < 2; u++)
        {
          g_autofree char *name = g_strdup_printf ("nest-%u-%s-%s.dcm", depths[d],
                                                   hepa_gen_encoding_name (e),
                                                   u ? "undefined" : "defined");

          save_bytes (dicom, name, hepa_gen_nested_dicom (depths[d], e, u));
          n++;
        }
  {
    static const guint fragments[] = { 1, 2, 1024, 1025, 100000 };

    for (gsize i = 0; i < G_N_ELEMENTS (fragments); i++)
      {
        g_autofree char *name = g_strdup_printf ("fragments-%u.dcm", fragments[i]);

        save_bytes (dicom, name, hepa_gen_fragments_dicom (fragments[i]));
        n++;
      }
  }

  for (gsize d = 0; d < G_N_ELEMENTS (json_depths); d++)
    for (int objects = 0; objects < 2; objects++)
      {
        g_autofree char *nested = hepa_gen_nested_json (json_depths[d], objects);
        g_autofree char *tag = g_strdup_printf ("%u-%s", json_depths[d],
                                                objects ? "objects" : "arrays");
        g_autofree char *side = g_strdup_printf ("{\"format\": \"hepascope-roi\", \"version\": 1, "
                                                 "\"image\": \"a.dcm\", \"rois\": [], "
                                                 "\"extra\": %s}\n", nested);
        g_autofree char *man = g_strdup_printf ("{\"format\": \"hepascope-export\", "
                                                "\"version\": 1, \"classes\": [\"cyst\"], "
                                                "\"crops\": %s}\n", nested);
        g_autofree char *header = g_strdup_printf ("{\"__metadata__\": {\"card\": \"{}\"}, "
                                                   "\"x\": %s}", nested);
        g_autofree char *side_name = g_strdup_printf ("nested-%s.json", tag);
        g_autofree char *st_name = g_strdup_printf ("nested-%s.safetensors", tag);
        gsize header_len = strlen (header);
        g_autofree guint8 *st = g_malloc (8 + header_len);

        save (sidecar, side_name, side, strlen (side));
        save (manifest, side_name, man, strlen (man));
        for (int i = 0; i < 8; i++)
          st[i] = (guint8) ((guint64) header_len >> (8 * i));
        memcpy (st + 8, header, header_len);
        save (safetensors, st_name, st, 8 + header_len);
        n += 3;
      }
  printf ("gen-seeds: %u inputs under %s\n", n, argv[1]);
  return 0;
}
