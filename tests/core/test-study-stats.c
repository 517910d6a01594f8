/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Study statistics over a folder of images and sidecars. */
#include "config.h"

#include "hepa-study-stats.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char png_head[] = "\x89PNG\r\n\x1a\n....";

static void
write_image (const char *dir,
             const char *name,
             gboolean    valid)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, valid ? png_head : "garbage", -1, NULL));
}

static void
write_sidecar (const char *dir,
               const char *name,
               const char *const *labels,   /* "rater:label" pairs per ROI, ";" between raters */
               guint       n)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (path, NULL);
  g_autoptr(HepaAnnotations) set = hepa_annotations_new (name);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    {
      HepaRect rect = { 0, 0, 10, 10 };
      HepaRoi *roi = hepa_roi_new (0, &rect, NULL, "a");
      g_auto(GStrv) parts = labels[i] != NULL ? g_strsplit (labels[i], ";", -1) : NULL;

      for (guint p = 0; parts != NULL && parts[p] != NULL; p++)
        {
          g_auto(GStrv) rl = g_strsplit (parts[p], ":", 2);

          if (g_str_equal (rl[0], "adj"))
            hepa_roi_set_adjudicated (roi, rl[1], "chief");
          else
            hepa_roi_set_rating (roi, rl[0], rl[1]);
        }
      g_ptr_array_add (set->rois, roi);
    }
  g_assert_true (hepa_annotations_save (set, sidecar, &error));
  g_assert_no_error (error);
}

static void
test_scan (void)
{
  g_autofree char *dir = g_dir_make_tmp ("hepa-study-stats-XXXXXX", NULL);
  g_autofree char *damaged = NULL;
  g_autofree char *damaged_path = NULL;
  g_autoptr(HepaStudyStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autoptr(GPtrArray) raters = NULL;
  g_autofree char *text = NULL;
  JsonObject *agreement;
  const char *a_labels[] = { "a:cyst", "a:hcc" };
  const char *b_labels[] = { "a:cyst", NULL };
  const char *f_labels[] = { "a:cyst;b:hcc", "a:cyst;b:cyst", "a:hcc;b:cyst;adj:hcc" };

  write_image (dir, "a.png", TRUE);
  write_sidecar (dir, "a.png", a_labels, 2);
  write_image (dir, "b.png", TRUE);
  write_sidecar (dir, "b.png", b_labels, 2);
  write_image (dir, "c.png", TRUE);
  write_image (dir, "d.png", FALSE);
  write_image (dir, "e.png", TRUE);
  damaged_path = g_build_filename (dir, "e.png.hepascope.json", NULL);
  g_assert_true (g_file_set_contents (damaged_path, "{\"format\": ", -1, NULL));
  write_image (dir, "f.png", TRUE);
  write_sidecar (dir, "f.png", f_labels, 3);
  write_image (dir, "notes.txt", TRUE);

  stats = hepa_study_stats_scan (dir, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stats->files->len, ==, 6);
  g_assert_cmpuint (stats->n_files[HEPA_FILE_LABELED], ==, 2);     /* a, f */
  g_assert_cmpuint (stats->n_files[HEPA_FILE_UNLABELED], ==, 1);   /* b */
  g_assert_cmpuint (stats->n_files[HEPA_FILE_NO_ROI], ==, 1);      /* c */
  g_assert_cmpuint (stats->n_files[HEPA_FILE_UNREADABLE], ==, 2);  /* d, e */
  g_assert_nonnull (((HepaStudyFile *) stats->files->pdata[3])->problem);
  g_assert_nonnull (strstr (((HepaStudyFile *) stats->files->pdata[4])->problem, "regions"));
  /* The damaged sidecar was reported, not moved aside. */
  g_assert_true (g_file_test (damaged_path, G_FILE_TEST_EXISTS));

  g_assert_cmpuint (stats->n_rois, ==, 7);
  g_assert_cmpuint (stats->n_labeled, ==, 5);      /* a: 2, b: 1, f: agreed + adjudicated */
  g_assert_cmpuint (stats->n_unlabeled, ==, 1);
  g_assert_cmpuint (stats->n_disagreed, ==, 1);
  g_assert_cmpuint (stats->n_adjudicated, ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats->per_class, "cyst")), ==, 3);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats->per_class, "hcc")), ==, 2);
  raters = hepa_study_stats_dup_raters (stats);
  g_assert_cmpuint (raters->len, ==, 2);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats->per_rater, "a")), ==, 6);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats->per_rater, "b")), ==, 3);

  text = hepa_study_stats_progress_text (stats);
  g_assert_cmpstr (text, ==, "2 of 6 files labeled");

  /* Next unlabeled from a (0): b (1), then c (2); d and e are unreadable; wraps to b. */
  g_assert_cmpint (hepa_study_stats_next_unlabeled (stats, 0, 1), ==, 1);
  g_assert_cmpint (hepa_study_stats_next_unlabeled (stats, 1, 1), ==, 2);
  g_assert_cmpint (hepa_study_stats_next_unlabeled (stats, 2, 1), ==, 1);
  g_assert_cmpint (hepa_study_stats_next_unlabeled (stats, 1, -1), ==, 2);
  g_assert_cmpint (hepa_study_stats_next_unlabeled (stats, -1, 1), ==, 1);

  /* Two raters on f's three ROIs: (cyst, hcc), (cyst, cyst), (hcc, cyst): po = 1/3,
   * a: cyst 2/3 hcc 1/3, b: cyst 2/3 hcc 1/3, pe = 5/9, kappa = (3/9 - 5/9) / (4/9) = -0.5. */
  json = hepa_study_stats_to_json (stats, TRUE);
  agreement = json_object_get_object_member (json_node_get_object (json), "agreement");
  g_assert_cmpstr (json_object_get_string_member (agreement, "method"), ==, "cohen");
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (agreement, "kappa"), -0.5,
                                  1e-12);
  g_assert_cmpint (json_object_get_int_member (agreement, "items"), ==, 3);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (json), "file_list")), ==, 6);

  /* An empty folder is an error that names it. */
  {
    g_autofree char *empty = g_dir_make_tmp ("hepa-study-empty-XXXXXX", NULL);
    g_autoptr(HepaStudyStats) none = hepa_study_stats_scan (empty, NULL, NULL, &error);

    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, empty));
    g_clear_error (&error);
    g_rmdir (empty);
  }
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

    g_assert_cmpint (system (cmd), ==, 0);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/study-stats/scan", test_scan);
  return g_test_run ();
}
