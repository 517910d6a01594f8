/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Read-first state machine (issue 24): nothing is revealed before the commit; the commit is
 * stored with the rater and the time to decide, and survives a sidecar round trip. */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-read-first.h"
#include "hepa-test-utils.h"

#include <string.h>

static const char *const classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };

static void
assert_nothing_revealed (HepaReadFirst *rf)
{
  guint n = 99;

  g_assert_false (hepa_read_first_is_revealed (rf));
  g_assert_null (hepa_read_first_get_probabilities (rf, &n));
  g_assert_cmpuint (n, ==, 0);
  n = 99;
  g_assert_null (hepa_read_first_get_prediction_set (rf, &n));
  g_assert_cmpuint (n, ==, 0);
  g_assert_null (hepa_read_first_get_model_id (rf));
  g_assert_null (hepa_read_first_get_expert_label (rf));
  g_assert_cmpint (hepa_read_first_get_model_top (rf), ==, -1);
  g_assert_false (hepa_read_first_may_show_saliency (rf));
  g_assert_null (hepa_read_first_make_read (rf, 0, "read-first"));
}

static void
test_nothing_before_commit (void)
{
  g_autoptr(HepaReadFirst) rf = hepa_read_first_new ("ana", classes);
  const float probs[5] = { 0.05f, 0.10f, 0.60f, 0.05f, 0.20f };
  const guint set[] = { 2, 4 };
  g_autoptr(GError) error = NULL;
  const float *shown;
  const guint *shown_set;
  guint n;

  g_assert_cmpint (hepa_read_first_get_state (rf), ==, HEPA_READ_FIRST_WAITING);
  assert_nothing_revealed (rf);
  /* No ROI: a commit is refused. */
  g_assert_false (hepa_read_first_commit (rf, 0, 10, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  hepa_read_first_begin (rf, "r-1", "hemangioma", 1000000);
  g_assert_cmpint (hepa_read_first_get_state (rf), ==, HEPA_READ_FIRST_READING);
  /* The model answers before the user decides: still held back. */
  hepa_read_first_set_model_answer (rf, "resnet50-test", probs, 5, set, 2);
  assert_nothing_revealed (rf);

  /* Keys 1..5 map to the classes; 0, 6 and letters do not. */
  g_assert_cmpint (hepa_read_first_class_for_key (rf, '1'), ==, 0);
  g_assert_cmpint (hepa_read_first_class_for_key (rf, '5'), ==, 4);
  g_assert_cmpint (hepa_read_first_class_for_key (rf, '6'), ==, -1);
  g_assert_cmpint (hepa_read_first_class_for_key (rf, '0'), ==, -1);
  g_assert_cmpint (hepa_read_first_class_for_key (rf, 'a'), ==, -1);
  g_assert_false (hepa_read_first_commit (rf, 5, 2000000, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  assert_nothing_revealed (rf);

  g_assert_true (hepa_read_first_commit (rf, hepa_read_first_class_for_key (rf, '2'), 5200000,
                                         &error));
  g_assert_no_error (error);
  g_assert_true (hepa_read_first_is_revealed (rf));
  shown = hepa_read_first_get_probabilities (rf, &n);
  g_assert_nonnull (shown);
  g_assert_cmpuint (n, ==, 5);
  g_assert_cmpfloat (shown[2], ==, 0.60f);
  shown_set = hepa_read_first_get_prediction_set (rf, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (shown_set[0], ==, 2);
  g_assert_cmpuint (shown_set[1], ==, 4);
  g_assert_cmpint (hepa_read_first_get_model_top (rf), ==, 2);
  g_assert_cmpstr (hepa_read_first_get_model_id (rf), ==, "resnet50-test");
  g_assert_cmpstr (hepa_read_first_get_expert_label (rf), ==, "hemangioma");
  g_assert_true (hepa_read_first_may_show_saliency (rf));
  g_assert_cmpint (hepa_read_first_get_committed (rf), ==, 1);
  g_assert_cmpint (hepa_read_first_get_time_to_decide_ms (rf), ==, 4200);

  /* A second commit for the same ROI is refused and changes nothing. */
  g_assert_false (hepa_read_first_commit (rf, 3, 9000000, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpint (hepa_read_first_get_committed (rf), ==, 1);
  g_assert_cmpint (hepa_read_first_get_time_to_decide_ms (rf), ==, 4200);

  /* The next ROI hides everything again, the earlier answer included. */
  hepa_read_first_begin (rf, "r-2", NULL, 10000000);
  assert_nothing_revealed (rf);
  g_assert_true (hepa_read_first_commit (rf, 0, 10000000, &error));
  g_assert_null (hepa_read_first_get_probabilities (rf, NULL));  /* no answer came */
  g_assert_null (hepa_read_first_get_expert_label (rf));
  g_assert_true (hepa_read_first_may_show_saliency (rf));
}

static void
test_no_prediction_set (void)
{
  g_autoptr(HepaReadFirst) rf = hepa_read_first_new ("ana", classes);
  const float probs[5] = { 0.9f, 0.025f, 0.025f, 0.025f, 0.025f };
  guint n = 7;

  hepa_read_first_begin (rf, "r-1", "non_fll", 0);
  hepa_read_first_set_model_answer (rf, "m", probs, 5, NULL, 0);
  g_assert_true (hepa_read_first_commit (rf, 0, 1500, NULL));
  g_assert_nonnull (hepa_read_first_get_probabilities (rf, NULL));
  g_assert_null (hepa_read_first_get_prediction_set (rf, &n));
  g_assert_cmpuint (n, ==, 0);
  g_assert_cmpint (hepa_read_first_get_time_to_decide_ms (rf), ==, 2);  /* 1.5 ms rounds up */
}

static void
test_commit_stored_with_time (void)
{
  g_autoptr(HepaReadFirst) rf = hepa_read_first_new ("dr. ana", classes);
  g_autoptr(HepaAnnotations) set = hepa_annotations_new ("scan.dcm");
  g_autoptr(HepaAnnotations) back = NULL;
  g_autoptr(HepaRoiRead) read = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  HepaRect rect = { 5, 6, 70, 80 };
  HepaRoi *roi = hepa_roi_new (0, &rect, "hcc", "expert");
  HepaRoiRead *got;

  g_ptr_array_add (set->rois, roi);
  hepa_read_first_begin (rf, roi->id, roi->label, 3000000);
  g_assert_true (hepa_read_first_commit (rf, hepa_read_first_class_for_key (rf, '5'), 9750000,
                                         &error));
  read = hepa_read_first_make_read (rf, 1796986800, "read-first");
  g_assert_nonnull (read);
  hepa_roi_add_read (roi, read);
  g_assert_true (hepa_annotations_save (set, path, &error));
  g_assert_no_error (error);

  back = hepa_annotations_load (path, &error);
  g_assert_no_error (error);
  got = g_ptr_array_index (((HepaRoi *) g_ptr_array_index (back->rois, 0))->reads, 0);
  g_assert_cmpstr (got->rater, ==, "dr. ana");
  g_assert_cmpstr (got->label, ==, "hcc");
  g_assert_cmpint (got->time_to_decide_ms, ==, 6750);
  g_assert_cmpint (got->decided, ==, 1796986800);
  g_assert_cmpstr (got->mode, ==, "read-first");
  /* The expert's label is untouched by the learner's read. */
  g_assert_cmpstr (((HepaRoi *) g_ptr_array_index (back->rois, 0))->label, ==, "hcc");
  hepa_test_rmtree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/read-first/nothing-before-commit", test_nothing_before_commit);
  g_test_add_func ("/core/read-first/no-prediction-set", test_no_prediction_set);
  g_test_add_func ("/core/read-first/commit-stored-with-time", test_commit_stored_with_time);
  return g_test_run ();
}
