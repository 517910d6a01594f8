/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The bundled demo study (data/samples) opens: every file decodes, every sidecar loads and
 * belongs to its image, the cine has its frames, and every file is a labeled synthetic phantom. */
#include "config.h"

#include "hepa-annotations.h"
#include "hepa-applicability.h"
#include "hepa-image.h"

static char *
samples_dir (void)
{
  return g_build_filename (HEPA_SOURCE_DATADIR, "samples", NULL);
}

static void
test_demo_opens (void)
{
  g_autofree char *dir = samples_dir ();
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n_files = 0, n_sidecars = 0, n_cine = 0, n_labeled = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *sidecar = NULL;
      g_autoptr(HepaImage) image = NULL;
      g_autoptr(GError) error = NULL;
      const HepaImageInfo *info;
      guint n_frames;

      if (!g_str_has_suffix (name, ".dcm"))
        continue;
      path = g_build_filename (dir, name, NULL);
      image = hepa_image_open (path, &error);
      g_assert_no_error (error);
      n_files++;

      info = hepa_image_get_info (image);
      g_assert_cmpstr (info->modality, ==, "US");
      g_assert_nonnull (strstr (info->series_description, "SYNTHETIC PHANTOM"));
      g_assert_cmpfloat (info->pixel_spacing_mm[0], >, 0.0);
      n_frames = hepa_image_get_n_frames (image);
      if (n_frames > 1)
        n_cine++;
      /* The last frame decodes too. */
      g_assert_nonnull (hepa_image_get_frame (image, n_frames - 1, &error));
      g_assert_no_error (error);

      sidecar = hepa_annotations_sidecar_path (path, NULL);
      if (g_file_test (sidecar, G_FILE_TEST_EXISTS))
        {
          g_autoptr(HepaAnnotations) ann = hepa_annotations_load (sidecar, &error);

          g_assert_no_error (error);
          g_assert_cmpstr (ann->image_name, ==, name);
          n_sidecars++;
          for (guint i = 0; i < ann->rois->len; i++)
            {
              const HepaRoi *roi = g_ptr_array_index (ann->rois, i);

              g_assert_cmpint (roi->rect.x + roi->rect.width, <=, hepa_image_get_width (image));
              g_assert_cmpint (roi->rect.y + roi->rect.height, <=, hepa_image_get_height (image));
              g_assert_cmpuint (roi->frame, <, n_frames);
              /* Clean phantoms: no applicability check may fire (the burned-in graphics check
               * at the masking point flagged the cyst and a hemangioma). */
              {
                const HepaFrame *frame = hepa_image_get_frame (image, roi->frame, &error);
                g_autoptr(HepaApplicability) a = NULL;

                g_assert_no_error (error);
                a = hepa_applicability_check (image, frame, &roi->rect, NULL);
                for (guint k = 0; k < a->reasons->len; k++)
                  g_test_message ("%s: %s", name,
                                  ((HepaReason *) g_ptr_array_index (a->reasons, k))->code);
                g_assert_cmpuint (a->reasons->len, ==, 0);
              }
              if (roi->label != NULL)
                {
                  /* Ground truth from the generator: the file name starts with the class. */
                  g_assert_true (g_str_has_prefix (name, roi->label));
                  n_labeled++;
                }
            }
        }
    }
  g_assert_cmpuint (n_files, >=, 10);
  g_assert_cmpuint (n_cine, >=, 1);
  g_assert_cmpuint (n_sidecars, >=, 5);
  g_assert_cmpuint (n_sidecars, <, n_files);   /* some files are left for the user to label */
  g_assert_cmpuint (n_labeled, >=, 5);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/demo/opens", test_demo_opens);
  return g_test_run ();
}
