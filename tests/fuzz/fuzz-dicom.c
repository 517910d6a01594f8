/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for hepa_image_open: the DCMTK shim (parse, every registered decoder), the C
 * pixel interpretation (palettes, YCbCr, modality LUT, VOI) and the PNG/JPEG readers. Each input
 * goes through a real file, as users' files do (DCMTK checks declared lengths against the file
 * size only for files); up to four frames are decoded and rendered.
 *
 *   CC=clang CXX=clang++ meson setup _build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined
 *   ninja -C _build-fuzz tests/fuzz/fuzz-dicom
 *   _build-fuzz/tests/fuzz/fuzz-dicom -max_total_time=60 -max_len=65536 \
 *     -malloc_limit_mb=4200 CORPUS
 * DCMTK reserves the declared length of a value it cannot check against the file size
 * (deflated data sets): up to 4 GiB of untouched address space, which libFuzzer's default
 * malloc limit reports; a normal run fails cleanly with a few MB of RSS.
 * A seed corpus: HEPA_TEST_KEEP=1 _build/tests/test-dicom leaves its fixtures in /tmp. */
#include "config.h"

#include "hepa-error.h"
#include "hepa-image.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerInitialize (int    *argc,
                          char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

static char *input_path;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autofree char *dir = g_dir_make_tmp ("hepa-fuzz-dicom-XXXXXX", NULL);

  if (dir == NULL)
    __builtin_trap ();
  input_path = g_build_filename (dir, "input.dcm", NULL);
  /* Keep single allocations below libFuzzer's malloc limit: the ceiling is the defence. */
  g_setenv ("HEPASCOPE_MAX_IMAGE_MB", "64", TRUE);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;

  if (!g_file_set_contents (input_path, (const char *) data, size, NULL))
    __builtin_trap ();
  image = hepa_image_open (input_path, &error);
  if (image == NULL)
    {
      /* Every failure is a HepaError of one line naming the file. */
      if (error == NULL || error->domain != HEPA_ERROR || strchr (error->message, '\n') != NULL
          || strstr (error->message, input_path) == NULL)
        __builtin_trap ();
      return 0;
    }
  for (guint k = 0; k < MIN (hepa_image_get_n_frames (image), 4); k++)
    {
      g_autoptr(GError) frame_error = NULL;
      const HepaFrame *frame = hepa_image_get_frame (image, k, &frame_error);
      g_autofree guint8 *rgb = NULL;

      if (frame == NULL)
        {
          if (frame_error == NULL || frame_error->domain != HEPA_ERROR)
            __builtin_trap ();
          continue;
        }
      rgb = g_malloc ((gsize) frame->width * frame->height * 3);
      hepa_frame_render_rgb (frame, 0, 0, rgb);
      hepa_frame_render_rgb (frame, 100, 3, rgb);
    }
  {
    double mx, my;

    hepa_image_get_spacing_at (image, 10, 10, &mx, &my);
  }
  return 0;
}
