/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DICOM decoding figures (issue 4):
 *   open + first frame of a 640x480 RGB file        target <= 30 ms
 *   30-frame 320x240 JPEG cine, every frame decoded   target <= 200 ms
 *   memory growth vs the decoded size of the frames   target <= 1.5x
 * Fixtures are written here (hepa_dicom_write_us, then DCMTK's dcmcjpeg for the JPEG cine);
 * the public samples in ../shared/dicom-samples are timed too when present.
 *   _build/tests/bench-decode [--runs N] */
#include "config.h"

#include "hepa-image.h"
#include "dicom/hepa-dicom-writer.h"

#include "hepa-test-utils.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
compare_double (const void *a,
                const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* Heap bytes in use (glibc): arenas plus mmapped blocks. */
static double
heap_bytes (void)
{
  struct mallinfo2 mi = mallinfo2 ();

  return (double) mi.uordblks + (double) mi.hblkhd;
}

/* Opens @path and decodes its first @n_frames frames (all when 0); returns milliseconds. */
static double
open_and_decode (const char *path,
                 guint       n_frames,
                 gsize      *decoded_bytes)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = hepa_image_open (path, &error);
  guint n;

  if (image == NULL)
    g_error ("%s", error->message);
  n = n_frames == 0 ? hepa_image_get_n_frames (image) : n_frames;
  for (guint k = 0; k < n; k++)
    if (hepa_image_get_frame (image, k, &error) == NULL)
      g_error ("%s", error->message);
  if (decoded_bytes != NULL)
    *decoded_bytes = hepa_image_get_cached_bytes (image);
  return (g_get_monotonic_time () - t0) / 1000.0;
}

static void
time_file (const char *label,
           const char *path,
           guint       n_frames,
           int         runs,
           double      target_ms)
{
  double *ms = g_new (double, runs);
  gsize decoded = 0;

  open_and_decode (path, n_frames, NULL);   /* warm the page cache */
  for (int r = 0; r < runs; r++)
    ms[r] = open_and_decode (path, n_frames, &decoded);
  qsort (ms, runs, sizeof *ms, compare_double);
  printf ("%-44s median %7.2f ms  min %7.2f  max %7.2f  (target <= %.0f ms: %s)  decoded %.2f MB\n",
          label, ms[runs / 2], ms[0], ms[runs - 1], target_ms,
          ms[runs / 2] <= target_ms ? "met" : "MISSED", decoded / 1e6);
  g_free (ms);
}

static void
memory_file (const char *label,
             const char *path)
{
  g_autoptr(GError) error = NULL;
  double before, after;
  gsize decoded;
  HepaImage *image;

  before = heap_bytes ();
  image = hepa_image_open (path, &error);
  if (image == NULL)
    g_error ("%s", error->message);
  for (guint k = 0; k < hepa_image_get_n_frames (image); k++)
    hepa_image_get_frame (image, k, NULL);
  after = heap_bytes ();
  decoded = hepa_image_get_cached_bytes (image);
  printf ("%-44s heap +%.2f MB for %.2f MB of decoded frames: %.2fx (target <= 1.5x: %s)\n",
          label, (after - before) / 1e6, decoded / 1e6, (after - before) / decoded,
          (after - before) / decoded <= 1.5 ? "met" : "MISSED");
  hepa_image_unref (image);
}

static char *
write_fixture (const char *dir,
               const char *name,
               int         width,
               int         height,
               int         frames,
               gboolean    rgb)
{
  char *path = g_build_filename (dir, name, NULL);
  gsize n = (gsize) width * height * (rgb ? 3 : 1) * frames;
  g_autofree guint8 *pixels = g_malloc (n);
  HepaDicomUsParams params = { 0 };
  g_autoptr(GError) error = NULL;

  /* Speckle-like texture over smooth anatomy, so JPEG has realistic work. */
  for (int k = 0; k < frames; k++)
    for (int y = 0; y < height; y++)
      for (int x = 0; x < width; x++)
        for (int c = 0; c < (rgb ? 3 : 1); c++)
          {
            double v = 110 + 60 * sin ((x + 2 * k) / 23.0) * cos (y / 17.0) + (rand () % 40);

            pixels[(((gsize) k * height + y) * width + x) * (rgb ? 3 : 1) + c] =
              (guint8) CLAMP (v + c * 5, 0, 255);
          }
  params.width = width;
  params.height = height;
  params.n_frames = frames;
  params.rgb = rgb;
  params.pixels = pixels;
  params.mm_per_pixel_x = params.mm_per_pixel_y = 0.2;
  if (!hepa_dicom_write_us (path, &params, &error))
    g_error ("%s", error->message);
  return path;
}

int
main (int    argc,
      char **argv)
{
  int runs = 21;
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *rgb = NULL;
  g_autofree char *cine_native = NULL;
  g_autofree char *cine_jpeg = NULL;
  g_autofree char *dcmcjpeg = g_find_program_in_path ("dcmcjpeg");
  const char *root = g_getenv ("HEPASCOPE_SOURCE_ROOT");
  g_autofree char *samples = g_build_filename (root != NULL ? root : "..", "..", "shared",
                                               "dicom-samples", NULL);

  if (argc == 3 && strcmp (argv[1], "--runs") == 0)
    runs = MAX (atoi (argv[2]), 1);
  srand (1);

  rgb = write_fixture (dir, "rgb-640x480.dcm", 640, 480, 1, TRUE);
  time_file ("open + frame 0, 640x480 RGB (generated)", rgb, 1, runs, 30);

  cine_native = write_fixture (dir, "cine-native.dcm", 320, 240, 30, TRUE);
  if (dcmcjpeg != NULL)
    {
      g_autoptr(GError) error = NULL;
      int status = 0;
      const char *args[] = { dcmcjpeg, "+eb", cine_native, NULL, NULL };

      cine_jpeg = g_build_filename (dir, "cine-jpeg.dcm", NULL);
      args[3] = cine_jpeg;
      if (!g_spawn_sync (NULL, (char **) args, NULL, 0, NULL, NULL, NULL, NULL, &status, &error)
          || !g_spawn_check_wait_status (status, &error))
        g_error ("dcmcjpeg: %s", error->message);
      time_file ("30-frame 320x240 JPEG cine, all (generated)", cine_jpeg, 0, runs, 200);
      g_setenv ("HEPASCOPE_DICOM_JPEG", "dcmtk", TRUE);
      time_file ("  same, DCMTK's own JPEG decoder", cine_jpeg, 0, runs, 200);
      g_unsetenv ("HEPASCOPE_DICOM_JPEG");
    }
  else
    printf ("dcmcjpeg not found: no generated JPEG cine\n");
  time_file ("30-frame 320x240 RGB cine, all (native)", cine_native, 0, runs, 200);

  {
    g_autofree char *us1 = g_build_filename (samples, "US1_UNCR.dcm", NULL);
    g_autofree char *ybr = g_build_filename (samples, "examples_ybr_color.dcm", NULL);

    if (g_file_test (us1, G_FILE_TEST_EXISTS))
      time_file ("open + frame 0, US1_UNCR.dcm (sample)", us1, 1, runs, 30);
    if (g_file_test (ybr, G_FILE_TEST_EXISTS))
      time_file ("30-frame JPEG cine, examples_ybr_color.dcm", ybr, 0, runs, 200);
  }

  if (cine_jpeg != NULL)
    memory_file ("memory, JPEG cine (30 frames)", cine_jpeg);
  memory_file ("memory, native cine (30 frames)", cine_native);
  memory_file ("memory, 640x480 RGB", rgb);

  hepa_test_rmtree (dir);
  return 0;
}
