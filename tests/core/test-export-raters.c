/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export with several raters: an adjudicated label is the one exported; a ROI whose raters
 * differ with nobody adjudicating is left out, reported, and named in the manifest. */
#include "config.h"

#include "hepa-annotations.h"
#include "hepa-export.h"
#include "hepa-image.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

static void
test_raters (void)
{
  g_autofree char *in = g_dir_make_tmp ("hepa-export-raters-in-XXXXXX", NULL);
  g_autofree char *out = g_dir_make_tmp ("hepa-export-raters-out-XXXXXX", NULL);
  g_autofree char *image = g_build_filename (in, "a.png", NULL);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image, NULL);
  g_autofree char *manifest_path = g_build_filename (out, "manifest.json", NULL);
  g_autofree guint8 *rgb = g_new0 (guint8, 200 * 150 * 3);
  g_autoptr(HepaAnnotations) set = hepa_annotations_new ("a.png");
  g_autoptr(HepaModelCard) card = hepa_export_card_new_default (NULL);
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  const char *paths[] = { NULL, NULL };
  const char *expect[3] = { "cyst", "hcc", NULL };   /* agreed, adjudicated, disagreed */
  HepaExportOptions options;
  JsonObject *root;
  JsonArray *crops, *excluded;
  guint n_raters_problems = 0;

  /* Gray texture under the burned-in text detector's brightness: nothing to mask. */
  for (guint i = 0; i < 200 * 150; i++)
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (guint8) (40 + i * 7 % 120);
  g_assert_true (hepa_png_write_rgb (image, 200, 150, rgb, &error));
  for (guint i = 0; i < 3; i++)
    {
      HepaRect rect = { 10 + 50 * (int) i, 20, 40, 40 };
      HepaRoi *roi = hepa_roi_new (0, &rect, "cyst", "alice");

      if (i >= 1)
        hepa_roi_set_rating (roi, "bob", "hcc");
      if (i == 1)
        hepa_roi_set_adjudicated (roi, "hcc", "chief");
      g_ptr_array_add (set->rois, roi);
    }
  g_assert_true (hepa_annotations_save (set, sidecar, &error));
  g_assert_no_error (error);

  hepa_export_options_init (&options, out, card);
  paths[0] = image;
  summary = hepa_export_run (&options, paths, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < summary->problems->len; i++)
    g_test_message ("problem: %s",
                    ((HepaExportProblem *) g_ptr_array_index (summary->problems, i))->message);
  g_assert_cmpuint (summary->n_exported, ==, 2);
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_RATERS_DISAGREE], ==, 1);
  for (guint i = 0; i < summary->problems->len; i++)
    {
      HepaExportProblem *p = g_ptr_array_index (summary->problems, i);

      if (p->reason == HEPA_EXPORT_SKIP_RATERS_DISAGREE)
        {
          n_raters_problems++;
          g_assert_nonnull (strstr (p->message, "adjudicated"));
        }
    }
  g_assert_cmpuint (n_raters_problems, ==, 1);

  g_assert_true (json_parser_load_from_file (parser, manifest_path, &error));
  root = json_node_get_object (json_parser_get_root (parser));
  crops = json_object_get_array_member (root, "crops");
  g_assert_cmpuint (json_array_get_length (crops), ==, 2);
  {
    guint n_cyst = 0, n_hcc = 0;

    for (guint i = 0; i < 2; i++)
      {
        const char *label = json_object_get_string_member (json_array_get_object_element (crops, i),
                                                           "label");

        n_cyst += g_str_equal (label, expect[0]);
        n_hcc += g_str_equal (label, expect[1]);
      }
    g_assert_cmpuint (n_cyst, ==, 1);
    g_assert_cmpuint (n_hcc, ==, 1);
  }
  g_assert_true (json_object_has_member (root, "excluded_raters_disagree"));
  excluded = json_object_get_array_member (root, "excluded_raters_disagree");
  g_assert_cmpuint (json_array_get_length (excluded), ==, 1);
  /* A crop id (pseudonymous), never the sidecar's ROI id. */
  g_assert_null (strstr (json_array_get_string_element (excluded, 0), "r-"));

  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s' '%s'", in, out);

    g_assert_cmpint (system (cmd), ==, 0);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/export/raters", test_raters);
  return g_test_run ();
}
