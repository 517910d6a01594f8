/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-metrics.h"
#include "hepa-test-utils.h"

#include <math.h>

static void
one_hot (float *probs,
         int    k,
         int    pred,
         int    n_classes)
{
  for (int j = 0; j < n_classes; j++)
    probs[k * n_classes + j] = j == pred ? 0.8f : 0.2f / (n_classes - 1);
}

static void
test_confusion (void)
{
  const char *classes[] = { "cyst", "hcc", "non_fll", NULL };
  int labels[10] = { 0, 0, 0, 1, 1, 1, 2, 2, 2, 2 };
  int preds[10] = { 0, 0, 1, 1, 1, 2, 2, 2, 2, 0 };
  guint expect[9] = { 2, 1, 0, 0, 2, 1, 1, 0, 3 };
  float probs[30];
  g_autoptr(HepaMetrics) m = NULL;

  for (int i = 0; i < 10; i++)
    one_hot (probs, i, preds[i], 3);
  m = hepa_metrics_compute (3, classes, 10, labels, probs);
  for (int i = 0; i < 9; i++)
    g_assert_cmpuint (m->confusion[i], ==, expect[i]);
  g_assert_cmpfloat_with_epsilon (m->accuracy, 0.7, 1e-12);
  /* Equations 1-3 of the paper, by hand. */
  g_assert_cmpfloat_with_epsilon (m->class_accuracy[0], 0.8, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->sensitivity[0], 2.0 / 3, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->specificity[0], 6.0 / 7, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->precision[0], 2.0 / 3, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->f1[0], 2.0 / 3, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->sensitivity[2], 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->specificity[2], 5.0 / 6, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->precision[2], 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->f1[2], 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (m->macro_sensitivity, (2.0 / 3 + 2.0 / 3 + 0.75) / 3, 1e-12);
  g_assert_cmpstr (m->classes[1], ==, "hcc");
}

static void
test_auc (void)
{
  /* Positives 0.9 0.8 0.4, negatives 0.7 0.3 0.4: 7.5 of 9 pairs ordered (the tie counts half). */
  float score[6] = { 0.9f, 0.8f, 0.4f, 0.7f, 0.3f, 0.4f };
  int labels[6] = { 1, 1, 1, 0, 0, 0 };
  float probs[12];
  g_autoptr(HepaMetrics) m = NULL;
  g_autofree double *fpr = NULL, *tpr = NULL;
  guint n;

  for (int i = 0; i < 6; i++)
    {
      probs[2 * i] = 1.0f - score[i];
      probs[2 * i + 1] = score[i];
    }
  m = hepa_metrics_compute (2, NULL, 6, labels, probs);
  g_assert_cmpfloat_with_epsilon (m->auc[1], 7.5 / 9, 1e-9);
  g_assert_cmpfloat_with_epsilon (m->auc[0], 7.5 / 9, 1e-6);
  g_assert_cmpstr (m->classes[0], ==, "class0");
  n = hepa_metrics_roc (2, 6, labels, probs, 1, &fpr, &tpr);
  g_assert_cmpuint (n, ==, 6);  /* origin + 5 distinct scores */
  g_assert_cmpfloat (fpr[0], ==, 0.0);
  g_assert_cmpfloat (tpr[n - 1], ==, 1.0);
  g_assert_cmpfloat (fpr[n - 1], ==, 1.0);
}

static void
test_undefined (void)
{
  /* Class 2 has no samples: its sensitivity and AUC are undefined and left out of the macro
   * averages; JSON writes null. */
  int labels[4] = { 0, 0, 1, 1 };
  float probs[12];
  g_autoptr(HepaMetrics) m = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  for (int i = 0; i < 4; i++)
    one_hot (probs, i, labels[i], 3);
  m = hepa_metrics_compute (3, NULL, 4, labels, probs);
  g_assert_true (isnan (m->sensitivity[2]));
  g_assert_true (isnan (m->auc[2]));
  g_assert_cmpfloat_with_epsilon (m->macro_sensitivity, 1.0, 1e-12);
  json_builder_begin_object (b);
  hepa_metrics_add_json (m, b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_assert_nonnull (strstr (text, "\"sensitivity\":null"));
  g_assert_nonnull (strstr (text, "\"confusion\":[[2,0,0],[0,2,0],[0,0,0]]"));
}

static void
test_mean_sd (void)
{
  double v[4] = { 0.8, 0.9, NAN, 1.0 };
  HepaMeanSd r = hepa_mean_sd (v, 4);

  g_assert_cmpuint (r.n, ==, 3);
  g_assert_cmpfloat_with_epsilon (r.mean, 0.9, 1e-12);
  g_assert_cmpfloat_with_epsilon (r.sd, 0.1, 1e-12);
  r = hepa_mean_sd (v, 1);
  g_assert_cmpfloat (r.sd, ==, 0.0);
}

static void
test_summary (void)
{
  int labels[4] = { 0, 0, 1, 1 };
  float p1[8], p2[8];
  HepaMetrics *folds[2];
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  for (int i = 0; i < 4; i++)
    {
      one_hot (p1, i, labels[i], 2);       /* all right */
      one_hot (p2, i, i == 0 ? 1 : labels[i], 2);  /* one wrong */
    }
  folds[0] = hepa_metrics_compute (2, NULL, 4, labels, p1);
  folds[1] = hepa_metrics_compute (2, NULL, 4, labels, p2);
  json_builder_begin_object (b);
  hepa_metrics_add_summary_json (folds, 2, b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_test_message ("%s", text);
  g_assert_nonnull (strstr (text, "\"accuracy\":{\"mean\":0.875,"));
  g_assert_nonnull (strstr (text, "\"confusion\":[[3,1],[0,4]]"));
  hepa_metrics_free (folds[0]);
  hepa_metrics_free (folds[1]);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/metrics/confusion", test_confusion);
  g_test_add_func ("/core/metrics/auc", test_auc);
  g_test_add_func ("/core/metrics/undefined", test_undefined);
  g_test_add_func ("/core/metrics/mean-sd", test_mean_sd);
  g_test_add_func ("/core/metrics/summary", test_summary);
  return g_test_run ();
}
