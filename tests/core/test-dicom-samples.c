/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opens every public sample in ../shared/dicom-samples (next to the source tree, never
 * committed) and checks the outcome its README table expects: opens, cine, a clear error or
 * "unsupported transfer syntax", plus size, frames and region calibration. Skipped when the
 * folder is absent. */
#include "config.h"

#include "hepa-error.h"
#include "hepa-image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  char   *file;
  char   *photometric;
  int     width;
  int     height;
  int     frames;
  double  region_cm;      /* 0: none listed */
  char   *expect;
} Sample;

static char *samples_dir;

static void
sample_free (gpointer data)
{
  Sample *s = data;

  g_free (s->file);
  g_free (s->photometric);
  g_free (s->expect);
  g_free (s);
}

/* One table row: | file | transfer syntax | photometric | size, frames | expect | */
static Sample *
parse_row (const char *line)
{
  g_auto(GStrv) cells = g_strsplit (line, "|", -1);
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GRegex) size_re = g_regex_new ("(\\d+)x(\\d+)", 0, 0, NULL);
  g_autoptr(GRegex) frames_re = g_regex_new ("(\\d+)[ -]frame", 0, 0, NULL);
  g_autoptr(GRegex) region_re = g_regex_new ("US regions ([0-9.]+) cm/px", 0, 0, NULL);
  Sample *s;
  const char *size;

  if (g_strv_length (cells) < 7)
    return NULL;
  for (int i = 0; cells[i] != NULL; i++)
    g_strstrip (cells[i]);
  if (!g_str_has_suffix (cells[1], ".dcm"))
    return NULL;

  s = g_new0 (Sample, 1);
  s->file = g_strdup (cells[1]);
  s->photometric = g_strdup (cells[3]);
  if (strchr (s->photometric, ',') != NULL)
    *strchr (s->photometric, ',') = '\0';
  s->expect = g_strdup (cells[5]);
  size = cells[4];
  s->frames = 1;
  if (g_regex_match (size_re, size, 0, &match))
    {
      g_autofree char *w = g_match_info_fetch (match, 1);
      g_autofree char *h = g_match_info_fetch (match, 2);

      s->width = atoi (w);
      s->height = atoi (h);
    }
  g_clear_pointer (&match, g_match_info_unref);
  if (g_regex_match (frames_re, size, 0, &match))
    {
      g_autofree char *n = g_match_info_fetch (match, 1);

      s->frames = atoi (n);
    }
  g_clear_pointer (&match, g_match_info_unref);
  if (g_regex_match (region_re, size, 0, &match))
    {
      g_autofree char *d = g_match_info_fetch (match, 1);

      s->region_cm = g_ascii_strtod (d, NULL);
    }
  return s;
}

static void
check_error (const Sample *s,
             const char   *path,
             const GError *error)
{
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (error->domain == HEPA_ERROR);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_null (strchr (error->message, '\n'));
  if (strstr (s->expect, "unsupported") != NULL)
    {
      g_assert_cmpint (error->code, ==, HEPA_ERROR_DICOM_UNSUPPORTED);
      g_assert_nonnull (strstr (error->message, "unsupported transfer syntax"));
    }
  else
    g_assert_cmpint (error->code, !=, HEPA_ERROR_DICOM_UNSUPPORTED);
}

static void
test_sample (gconstpointer data)
{
  const Sample *s = data;
  g_autofree char *path = g_build_filename (samples_dir, s->file, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = hepa_image_open (path, &error);
  gboolean expect_open = g_str_has_prefix (s->expect, "opens");
  const HepaImageInfo *info;

  if (!expect_open)
    {
      /* Damage may only show when a frame is decoded. */
      for (guint k = 0; image != NULL && k < hepa_image_get_n_frames (image) && error == NULL; k++)
        hepa_image_get_frame (image, k, &error);
      check_error (s, path, error);
      return;
    }

  g_assert_no_error (error);
  info = hepa_image_get_info (image);
  g_assert_cmpstr (info->format, ==, "DICOM");
  g_assert_cmpstr (info->photometric, ==, s->photometric);
  g_assert_cmpint (hepa_image_get_width (image), ==, s->width);
  g_assert_cmpint (hepa_image_get_height (image), ==, s->height);
  g_assert_cmpuint (hepa_image_get_n_frames (image), ==, s->frames);
  if (strstr (s->expect, "cine") != NULL)
    g_assert_cmpuint (hepa_image_get_n_frames (image), >, 1);

  /* Every frame decodes and renders; a cine decodes lazily. */
  if (s->frames > 1)
    {
      g_assert_nonnull (hepa_image_get_frame (image, s->frames - 1, &error));
      g_assert_no_error (error);
      g_assert_false (hepa_image_is_frame_cached (image, 0));
    }
  for (int k = 0; k < s->frames; k++)
    {
      const HepaFrame *frame = hepa_image_get_frame (image, k, &error);
      g_autofree guint8 *rgb = NULL;
      guint64 sum = 0;

      g_assert_no_error (error);
      g_assert_cmpint (frame->width, ==, s->width);
      rgb = g_malloc ((gsize) frame->width * frame->height * 3);
      hepa_frame_render_rgb (frame, 0, 0, rgb);
      for (gsize i = 0; i < (gsize) frame->width * frame->height * 3; i++)
        sum += rgb[i];
      /* Not a black frame. */
      g_assert_cmpuint (sum, >, 0);
    }

  if (s->region_cm > 0)
    {
      const HepaUsRegion *region = NULL;
      double mx = 0, my = 0;

      g_assert_cmpfloat (fabs (info->pixel_spacing_mm[0] - s->region_cm * 10), <, 1e-3);
      g_assert_cmpfloat (fabs (info->pixel_spacing_mm[1] - s->region_cm * 10), <, 1e-3);
      for (guint i = 0; i < info->n_regions; i++)
        if (fabs (info->regions[i].delta_x - s->region_cm) < 1e-4)
          region = &info->regions[i];
      g_assert_nonnull (region);
      g_assert_cmpint (region->spatial_format, ==, 1);
      g_assert_cmpint (region->units_x, ==, 3);
      g_assert_true (hepa_image_get_spacing_at (image, (region->x0 + region->x1) / 2,
                                                (region->y0 + region->y1) / 2, &mx, &my));
      g_assert_cmpfloat (fabs (mx - s->region_cm * 10), <, 1e-3);
      g_assert_cmpfloat (fabs (my - s->region_cm * 10), <, 1e-3);
    }
}

static void
test_missing (void)
{
  g_test_skip ("../shared/dicom-samples is absent (its files are not part of the project)");
}

int
main (int    argc,
      char **argv)
{
  const char *root = g_getenv ("HEPASCOPE_SOURCE_ROOT");
  g_autofree char *readme = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) samples = g_ptr_array_new_with_free_func (sample_free);

  g_test_init (&argc, &argv, NULL);

  samples_dir = g_build_filename (root != NULL ? root : ".", "..", "shared", "dicom-samples",
                                  NULL);
  readme = g_build_filename (samples_dir, "README.md", NULL);
  if (!g_file_get_contents (readme, &text, NULL, NULL))
    g_test_add_func ("/core/dicom-samples/absent", test_missing);
  else
    {
      g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

      for (int i = 0; lines[i] != NULL; i++)
        {
          Sample *s = g_str_has_prefix (lines[i], "|") ? parse_row (lines[i]) : NULL;
          g_autofree char *name = NULL;

          if (s == NULL)
            continue;
          g_ptr_array_add (samples, s);
          name = g_strdup_printf ("/core/dicom-samples/%s", s->file);
          g_test_add_data_func (name, s, test_sample);
        }
      if (samples->len == 0)
        g_error ("%s: no sample rows found in the table", readme);
    }

  {
    int status = g_test_run ();

    g_free (samples_dir);
    return status;
  }
}
