/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Several raters per ROI: the sidecar's version 2 members, consensus and adjudication, and the
 * agreement figures against values computed by hand. */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-raters.h"

#include <math.h>
#include <string.h>

static HepaRoi *
labeled_roi (const char *rater,
             const char *label)
{
  HepaRect rect = { 1, 2, 30, 40 };

  return hepa_roi_new (0, &rect, label, rater);
}

static gint64
sidecar_version (const char *data)
{
  const char *v = strstr (data, "\"version\"");

  g_assert_nonnull (v);
  v = strchr (v, ':');
  return g_ascii_strtoll (v + 1, NULL, 10);
}

static void
test_merge (void)
{
  g_autoptr(HepaRoi) roi = labeled_roi ("alice", "cyst");
  g_autoptr(GPtrArray) ratings = NULL;
  const char *label = NULL;

  /* One rater: agreed, nothing extra. */
  g_assert_cmpint (hepa_roi_get_consensus (roi, &label), ==, HEPA_CONSENSUS_AGREED);
  g_assert_cmpstr (label, ==, "cyst");

  /* A second rater keeps the first one's label. */
  hepa_roi_set_rating (roi, "bob", "hcc");
  g_assert_cmpstr (roi->rater, ==, "bob");
  g_assert_cmpstr (roi->label, ==, "hcc");
  ratings = hepa_roi_dup_ratings (roi);
  g_assert_cmpuint (ratings->len, ==, 2);
  g_assert_cmpstr (((HepaRating *) ratings->pdata[0])->rater, ==, "alice");
  g_assert_cmpstr (((HepaRating *) ratings->pdata[0])->label, ==, "cyst");
  g_assert_cmpstr (((HepaRating *) ratings->pdata[1])->rater, ==, "bob");
  g_assert_cmpint (hepa_roi_get_consensus (roi, &label), ==, HEPA_CONSENSUS_DISAGREED);
  g_assert_null (label);

  /* The same rater again replaces only their own label. */
  hepa_roi_set_rating (roi, "alice", "hcc");
  g_clear_pointer (&ratings, g_ptr_array_unref);
  ratings = hepa_roi_dup_ratings (roi);
  g_assert_cmpuint (ratings->len, ==, 2);
  g_assert_cmpint (hepa_roi_get_consensus (roi, &label), ==, HEPA_CONSENSUS_AGREED);
  g_assert_cmpstr (label, ==, "hcc");

  /* Code that sets label and rater directly (as the ROI store does) adds a rater too. */
  g_free (roi->rater);
  roi->rater = g_strdup ("carol");
  g_free (roi->label);
  roi->label = g_strdup ("ffs");
  g_clear_pointer (&ratings, g_ptr_array_unref);
  ratings = hepa_roi_dup_ratings (roi);
  g_assert_cmpuint (ratings->len, ==, 3);
  g_assert_cmpint (hepa_roi_get_consensus (roi, NULL), ==, HEPA_CONSENSUS_DISAGREED);

  /* Adjudication decides; clearing it brings the disagreement back. */
  hepa_roi_set_adjudicated (roi, "hcc", "dave");
  g_assert_cmpint (hepa_roi_get_consensus (roi, &label), ==, HEPA_CONSENSUS_ADJUDICATED);
  g_assert_cmpstr (label, ==, "hcc");
  hepa_roi_set_adjudicated (roi, NULL, NULL);
  g_assert_cmpint (hepa_roi_get_consensus (roi, &label), ==, HEPA_CONSENSUS_DISAGREED);

  /* Removing ratings down to none: unlabeled. */
  hepa_roi_set_rating (roi, "carol", NULL);
  hepa_roi_set_rating (roi, "alice", NULL);
  hepa_roi_set_rating (roi, "bob", NULL);
  g_assert_cmpint (hepa_roi_get_consensus (roi, &label), ==, HEPA_CONSENSUS_UNLABELED);
  g_assert_null (roi->label);
}

static void
test_sidecar_round_trip (void)
{
  g_autoptr(HepaAnnotations) set = hepa_annotations_new ("scan.dcm");
  g_autoptr(HepaAnnotations) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *v1 = NULL;
  g_autofree char *v2 = NULL;
  HepaRoi *roi;
  HepaRoi *copy;
  gsize length;

  g_ptr_array_add (set->rois, labeled_roi ("alice", "cyst"));
  g_ptr_array_add (set->rois, labeled_roi ("alice", NULL));

  /* Single rater: still version 1, no new members (older Hepascope reads it). */
  v1 = hepa_annotations_to_data (set, &length);
  g_assert_cmpint (sidecar_version (v1), ==, 1);
  g_assert_null (strstr (v1, "\"ratings\""));
  g_assert_null (strstr (v1, "\"adjudicated\""));

  roi = g_ptr_array_index (set->rois, 0);
  hepa_roi_set_rating (roi, "bob", "hemangioma");
  hepa_roi_set_adjudicated (roi, "cyst", "chief");
  v2 = hepa_annotations_to_data (set, &length);
  g_assert_cmpint (sidecar_version (v2), ==, 2);

  back = hepa_annotations_parse (v2, length, &error);
  g_assert_no_error (error);
  copy = g_ptr_array_index (back->rois, 0);
  g_assert_cmpstr (copy->rater, ==, "bob");
  g_assert_cmpstr (copy->label, ==, "hemangioma");
  g_assert_cmpstr (copy->adjudicated, ==, "cyst");
  g_assert_cmpstr (copy->adjudicator, ==, "chief");
  {
    g_autoptr(GPtrArray) ratings = hepa_roi_dup_ratings (copy);
    g_autoptr(HepaRoi) dup = hepa_roi_copy (copy);
    g_autoptr(GPtrArray) dup_ratings = hepa_roi_dup_ratings (dup);

    g_assert_cmpuint (ratings->len, ==, 2);
    g_assert_cmpstr (((HepaRating *) ratings->pdata[0])->rater, ==, "alice");
    g_assert_cmpstr (((HepaRating *) ratings->pdata[0])->label, ==, "cyst");
    g_assert_cmpuint (dup_ratings->len, ==, 2);
    g_assert_cmpstr (dup->adjudicated, ==, "cyst");
  }
  g_assert_null (((HepaRoi *) g_ptr_array_index (back->rois, 1))->ratings);

  /* Only the current rater left, and no adjudication: back to version 1. */
  hepa_roi_set_adjudicated (copy, NULL, NULL);
  hepa_roi_set_rating (copy, "alice", NULL);
  g_free (v1);
  v1 = hepa_annotations_to_data (back, &length);
  g_assert_cmpint (sidecar_version (v1), ==, 1);
}

static void
test_sidecar_versions (void)
{
  const char *old =
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"r-1\","
    " \"frame\": 0, \"x\": 1, \"y\": 2, \"width\": 3, \"height\": 4, \"label\": \"cyst\","
    " \"rater\": \"ann\", \"created\": \"2026-01-01T00:00:00Z\","
    " \"modified\": \"2026-01-01T00:00:00Z\"}]}";
  const char *newer =
    "{\"format\": \"hepascope-annotations\", \"version\": 3, \"rois\": []}";
  const char *bad[] = {
    /* ratings not an array; a rating without a rater; two ratings by one rater;
     * adjudicated without a label */
    "\"ratings\": 5",
    "\"ratings\": [{\"label\": \"cyst\"}]",
    "\"ratings\": [{\"rater\": \"a\", \"label\": \"cyst\"}, {\"rater\": \"a\", \"label\": \"hcc\"}]",
    "\"adjudicated\": {\"by\": \"x\"}",
    "\"ratings\": [{\"rater\": \"a\", \"label\": \"cyst\", \"modified\": \"yesterday\"}]",
  };
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(GError) error = NULL;
  const char *label;

  set = hepa_annotations_parse (old, strlen (old), &error);
  g_assert_no_error (error);
  g_assert_cmpint (hepa_roi_get_consensus (g_ptr_array_index (set->rois, 0), &label), ==,
                   HEPA_CONSENSUS_AGREED);
  g_assert_cmpstr (label, ==, "cyst");

  g_assert_null (hepa_annotations_parse (newer, strlen (newer), &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf (
        "{\"format\": \"hepascope-annotations\", \"version\": 2, \"rois\": [{\"id\": \"r-1\","
        " \"frame\": 0, \"x\": 1, \"y\": 2, \"width\": 3, \"height\": 4, \"label\": \"cyst\","
        " \"rater\": \"ann\", \"created\": \"2026-01-01T00:00:00Z\","
        " \"modified\": \"2026-01-01T00:00:00Z\", %s}]}", bad[i]);
      g_autoptr(HepaAnnotations) none = hepa_annotations_parse (text, strlen (text), &error);

      g_assert_null (none);
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
      g_clear_error (&error);
    }
}

/* Two raters, ten items, labels cyst/hcc: 5 both cyst, 1 cyst/hcc, 1 hcc/cyst, 3 both hcc.
 * po = 0.8; marginals 0.6/0.4 for both, pe = 0.36 + 0.16 = 0.52;
 * kappa = 0.28 / 0.48 = 0.583333...; specific agreement for cyst 2*5 / (2*5 + 1 + 1) = 10/12,
 * for hcc 2*3 / (2*3 + 2) = 0.75. */
static void
test_cohen (void)
{
  g_autoptr(HepaRaterTable) table = hepa_rater_table_new ();
  const char *pairs[10][2] = {
    { "cyst", "cyst" }, { "cyst", "cyst" }, { "cyst", "cyst" }, { "cyst", "cyst" },
    { "cyst", "cyst" }, { "cyst", "hcc" }, { "hcc", "cyst" }, { "hcc", "hcc" },
    { "hcc", "hcc" }, { "hcc", "hcc" },
  };
  g_autofree guint *confusion = NULL;
  guint n = 0, agree = 0;

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *key = g_strdup_printf ("item%u", i);

      hepa_rater_table_add (table, key, "a", pairs[i][0]);
      hepa_rater_table_add (table, key, "b", pairs[i][1]);
    }
  /* An item only "a" rated counts for neither figure. */
  hepa_rater_table_add (table, "lonely", "a", "hcc");

  g_assert_cmpfloat_with_epsilon (hepa_rater_table_cohen_kappa (table, "a", "b", &n),
                                  0.28 / 0.48, 1e-12);
  g_assert_cmpuint (n, ==, 10);
  g_assert_cmpuint (hepa_rater_table_count_pair (table, "a", "b", &agree), ==, 10);
  g_assert_cmpuint (agree, ==, 8);
  g_assert_cmpuint (hepa_rater_table_count_rater (table, "a"), ==, 11);
  g_assert_cmpfloat_with_epsilon (hepa_rater_table_class_agreement (table, "cyst"), 10.0 / 12,
                                  1e-12);
  g_assert_cmpfloat_with_epsilon (hepa_rater_table_class_agreement (table, "hcc"), 0.75, 1e-12);
  /* Two raters: Fleiss' kappa over the same items, (0.8 - 0.52) / 0.48 with pooled
   * marginals (0.6, 0.4) happens to equal Cohen's here. */
  g_assert_cmpfloat_with_epsilon (hepa_rater_table_fleiss_kappa (table, &n), 0.28 / 0.48,
                                  1e-12);
  g_assert_cmpuint (n, ==, 10);

  confusion = hepa_rater_table_confusion (table, "a", "b");
  g_assert_cmpuint (hepa_rater_table_get_labels (table)->len, ==, 2);
  g_assert_cmpuint (confusion[0], ==, 5);   /* cyst, cyst */
  g_assert_cmpuint (confusion[1], ==, 1);   /* cyst, hcc */
  g_assert_cmpuint (confusion[2], ==, 1);
  g_assert_cmpuint (confusion[3], ==, 3);

  /* Perfect agreement on one label only: pe = 1, kappa undefined. */
  {
    g_autoptr(HepaRaterTable) one = hepa_rater_table_new ();

    hepa_rater_table_add (one, "x", "a", "cyst");
    hepa_rater_table_add (one, "x", "b", "cyst");
    g_assert_true (isnan (hepa_rater_table_cohen_kappa (one, "a", "b", NULL)));
    g_assert_true (isnan (hepa_rater_table_cohen_kappa (one, "a", "nobody", &n)));
    g_assert_cmpuint (n, ==, 0);
  }
}

/* Three raters, four items, labels a/b: (a,a,a) P=1, (a,a,b) P=1/3, (b,b,b) P=1, (a,b,b) 1/3.
 * Pbar = 2/3; p_a = p_b = 6/12, Pe = 0.5; kappa = (2/3 - 1/2) / (1/2) = 1/3.
 * Specific agreement for a: (6 + 2 + 0 + 0) / (6 + 4 + 0 + 2) = 2/3. */
static void
test_fleiss (void)
{
  g_autoptr(HepaRaterTable) table = hepa_rater_table_new ();
  const char *items[4][3] = {
    { "a", "a", "a" }, { "a", "a", "b" }, { "b", "b", "b" }, { "a", "b", "b" },
  };
  const char *raters[3] = { "r1", "r2", "r3" };
  guint n = 0;

  for (guint i = 0; i < 4; i++)
    for (guint r = 0; r < 3; r++)
      {
        g_autofree char *key = g_strdup_printf ("item%u", i);

        hepa_rater_table_add (table, key, raters[r], items[i][r]);
      }
  /* Not rated by all three: left out of Fleiss' kappa. */
  hepa_rater_table_add (table, "partial", "r1", "a");
  hepa_rater_table_add (table, "partial", "r2", "b");

  g_assert_cmpfloat_with_epsilon (hepa_rater_table_fleiss_kappa (table, &n), 1.0 / 3, 1e-12);
  g_assert_cmpuint (n, ==, 4);
  /* The partial item does count for specific agreement: a gets 0 / 1 more in the denominator. */
  g_assert_cmpfloat_with_epsilon (hepa_rater_table_class_agreement (table, "a"), 8.0 / 13,
                                  1e-12);
}

/* ROIs go into the table through their merged ratings. */
static void
test_table_from_rois (void)
{
  g_autoptr(HepaRaterTable) table = hepa_rater_table_new ();
  g_autoptr(HepaRoi) r1 = labeled_roi ("a", "cyst");
  g_autoptr(HepaRoi) r2 = labeled_roi ("a", "hcc");
  g_autoptr(HepaRoi) r3 = labeled_roi ("a", NULL);

  hepa_roi_set_rating (r1, "b", "cyst");
  hepa_roi_set_rating (r2, "b", "cyst");
  hepa_rater_table_add_roi (table, r1);
  hepa_rater_table_add_roi (table, r2);
  hepa_rater_table_add_roi (table, r3);
  g_assert_cmpuint (hepa_rater_table_get_n_items (table), ==, 2);
  g_assert_cmpuint (hepa_rater_table_get_raters (table)->len, ==, 2);
  /* po = 0.5; a: cyst .5 hcc .5; b: cyst 1; pe = 0.5; kappa = 0. */
  g_assert_cmpfloat_with_epsilon (hepa_rater_table_cohen_kappa (table, "a", "b", NULL), 0.0,
                                  1e-12);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/raters/merge", test_merge);
  g_test_add_func ("/core/raters/sidecar-round-trip", test_sidecar_round_trip);
  g_test_add_func ("/core/raters/sidecar-versions", test_sidecar_versions);
  g_test_add_func ("/core/raters/cohen", test_cohen);
  g_test_add_func ("/core/raters/fleiss", test_fleiss);
  g_test_add_func ("/core/raters/table-from-rois", test_table_from_rois);
  return g_test_run ();
}
