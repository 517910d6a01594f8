/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-prob-panel.h"

#include <gtk/gtk.h>
#include <string.h>

static const char *const classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };

static void
test_uncertain_logic (void)
{
  const float clear[] = { 0.05f, 0.70f, 0.10f, 0.10f, 0.05f };
  const float close[] = { 0.05f, 0.42f, 0.35f, 0.10f, 0.08f };
  const float edge_in[] = { 0.451f, 0.549f };   /* 9.8 points apart */
  const float edge_out[] = { 0.40f, 0.55f };    /* 15 points apart */
  const float tie[] = { 0.5f, 0.5f };
  int first, second;

  g_assert_false (hepa_probabilities_uncertain (clear, 5, 10.0, &first, &second));
  g_assert_cmpint (first, ==, 1);
  g_assert_true (second == 2 || second == 3);
  g_assert_true (hepa_probabilities_uncertain (close, 5, 10.0, &first, &second));
  g_assert_cmpint (first, ==, 1);
  g_assert_cmpint (second, ==, 2);
  g_assert_true (hepa_probabilities_uncertain (edge_in, 2, 10.0, &first, NULL));
  g_assert_cmpint (first, ==, 1);
  g_assert_false (hepa_probabilities_uncertain (edge_out, 2, 10.0, NULL, NULL));
  g_assert_true (hepa_probabilities_uncertain (tie, 2, 10.0, NULL, NULL));
  /* The top class first even when it comes last. */
  {
    const float last[] = { 0.1f, 0.2f, 0.7f };
    g_assert_false (hepa_probabilities_uncertain (last, 3, 10.0, &first, &second));
    g_assert_cmpint (first, ==, 2);
    g_assert_cmpint (second, ==, 1);
  }
  g_assert_false (hepa_probabilities_uncertain (clear, 1, 10.0, &first, &second));
  g_assert_cmpint (second, ==, -1);
}

static void
test_panel_text (void)
{
  const float probs[] = { 0.02f, 0.91f, 0.04f, 0.02f, 0.01f };
  const float close[] = { 0.02f, 0.44f, 0.40f, 0.09f, 0.05f };
  GtkWidget *panel = g_object_ref_sink (hepa_prob_panel_new ());
  g_autofree char *empty = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *uncertain = NULL;

  hepa_prob_panel_set_classes (HEPA_PROB_PANEL (panel), classes);
  g_assert_cmpint (hepa_prob_panel_get_top (HEPA_PROB_PANEL (panel)), ==, -1);
  empty = hepa_prob_panel_dup_summary (HEPA_PROB_PANEL (panel));
  g_assert_cmpstr (empty, ==, "No prediction");

  hepa_prob_panel_set_result (HEPA_PROB_PANEL (panel), probs, 5, "model-abc", 42.0);
  g_assert_cmpint (hepa_prob_panel_get_top (HEPA_PROB_PANEL (panel)), ==, 1);
  g_assert_false (hepa_prob_panel_get_uncertain (HEPA_PROB_PANEL (panel)));
  summary = hepa_prob_panel_dup_summary (HEPA_PROB_PANEL (panel));
  /* A screen reader gets the top class, every class with its value, and the model. */
  g_assert_nonnull (strstr (summary, "Most likely cyst, 91 percent."));
  g_assert_nonnull (strstr (summary, "hcc: 1.0 percent."));
  g_assert_nonnull (strstr (summary, "non_fll: 2.0 percent."));
  g_assert_nonnull (strstr (summary, "Model model-abc."));
  g_assert_null (strstr (summary, "Uncertain"));

  hepa_prob_panel_set_result (HEPA_PROB_PANEL (panel), close, 5, "model-abc", 0);
  g_assert_true (hepa_prob_panel_get_uncertain (HEPA_PROB_PANEL (panel)));
  uncertain = hepa_prob_panel_dup_summary (HEPA_PROB_PANEL (panel));
  g_assert_nonnull (strstr (uncertain, "Uncertain"));

  hepa_prob_panel_clear (HEPA_PROB_PANEL (panel), "Draw a region");
  g_assert_cmpint (hepa_prob_panel_get_top (HEPA_PROB_PANEL (panel)), ==, -1);
  g_assert_false (hepa_prob_panel_get_uncertain (HEPA_PROB_PANEL (panel)));

  /* Changing the class list rebuilds the rows. */
  {
    const char *const two[] = { "benign", "malignant", NULL };
    const float p2[] = { 0.3f, 0.7f };

    hepa_prob_panel_set_classes (HEPA_PROB_PANEL (panel), two);
    hepa_prob_panel_set_result (HEPA_PROB_PANEL (panel), p2, 2, "m2", 0);
    g_assert_cmpint (hepa_prob_panel_get_top (HEPA_PROB_PANEL (panel)), ==, 1);
  }
  g_assert_finalize_object (panel);
}

static void
test_panel_trust (void)
{
  const float probs[] = { 0.02f, 0.55f, 0.40f, 0.02f, 0.01f };
  const guint8 set[] = { 0, 1, 1, 0, 0 };
  const guint8 none[] = { 0, 0, 0, 0, 0 };
  const char *const reasons[] = { "Not ultrasound: the file's modality is MR", NULL };
  GtkWidget *panel = g_object_ref_sink (hepa_prob_panel_new ());
  HepaProbPanel *p = HEPA_PROB_PANEL (panel);
  HepaProbTrust trust = { 0 };
  g_autofree char *plain = NULL, *flagged = NULL, *set_text = NULL, *empty = NULL;
  g_autofree char *summary = NULL;

  hepa_prob_panel_set_classes (p, classes);
  hepa_prob_panel_set_intended_use (p, "trained on synthetic phantoms only; not for diagnosis");
  g_assert_cmpstr (hepa_prob_panel_get_intended_use (p), ==,
                   "trained on synthetic phantoms only; not for diagnosis");

  /* A model without the card fields says so. */
  hepa_prob_panel_set_result_full (p, probs, 5, "m", 10, NULL);
  plain = hepa_prob_panel_dup_summary (p);
  g_assert_nonnull (strstr (plain, "Not calibrated · No out-of-distribution reference"));
  g_assert_nonnull (strstr (plain, "Intended use: trained on synthetic phantoms only"));
  g_assert_false (hepa_prob_panel_get_greyed (p));
  g_assert_null (hepa_prob_panel_dup_set_text (p));

  /* Calibrated, in distribution, checks pass: the set, nothing greyed. */
  trust.has_ood = TRUE;
  trust.calibrated = TRUE;
  trust.in_set = set;
  trust.coverage = 0.9;
  hepa_prob_panel_set_result_full (p, probs, 5, "m", 10, &trust);
  set_text = hepa_prob_panel_dup_set_text (p);
  g_assert_cmpstr (set_text, ==, "cyst or hemangioma, 90 %");
  g_assert_false (hepa_prob_panel_get_greyed (p));

  /* Outside and a failed check: said first, before any class name; values greyed. */
  trust.outside = TRUE;
  trust.reasons = reasons;
  hepa_prob_panel_set_result_full (p, probs, 5, "m", 10, &trust);
  g_assert_true (hepa_prob_panel_get_greyed (p));
  flagged = hepa_prob_panel_dup_summary (p);
  g_assert_true (g_str_has_prefix (flagged, "Outside what this model learned Not ultrasound"));
  g_assert_true (strstr (flagged, "Outside") < strstr (flagged, "cyst"));
  /* The probabilities are still there. */
  g_assert_nonnull (strstr (flagged, "Most likely cyst, 55 percent."));

  /* An empty set says so. */
  trust.outside = FALSE;
  trust.reasons = NULL;
  trust.in_set = none;
  hepa_prob_panel_set_result_full (p, probs, 5, "m", 10, &trust);
  empty = hepa_prob_panel_dup_set_text (p);
  g_assert_cmpstr (empty, ==, "No class is likely enough for a 90 % set");

  /* The intended use stays when the result goes. */
  hepa_prob_panel_clear (p, "Draw a region");
  g_assert_false (hepa_prob_panel_get_greyed (p));
  g_assert_null (hepa_prob_panel_dup_set_text (p));
  summary = hepa_prob_panel_dup_summary (p);
  g_assert_cmpstr (summary, ==, "No prediction");
  g_assert_nonnull (hepa_prob_panel_get_intended_use (p));
  g_assert_finalize_object (panel);
}

static void
test_panel_in_window (void)
{
  const float probs[] = { 0.1f, 0.2f, 0.3f, 0.15f, 0.25f };
  GtkWidget *window = gtk_window_new ();
  GtkWidget *panel = hepa_prob_panel_new ();

  hepa_prob_panel_set_classes (HEPA_PROB_PANEL (panel), classes);
  gtk_window_set_child (GTK_WINDOW (window), panel);
  gtk_window_present (GTK_WINDOW (window));
  hepa_prob_panel_set_result (HEPA_PROB_PANEL (panel), probs, 5, "m", 10);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (hepa_prob_panel_get_uncertain (HEPA_PROB_PANEL (panel)));  /* 30 vs 25 */
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int    argc,
      char **argv)
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/prob-panel/uncertain-logic", test_uncertain_logic);
  g_test_add_func ("/ui/prob-panel/text", test_panel_text);
  g_test_add_func ("/ui/prob-panel/trust", test_panel_trust);
  g_test_add_func ("/ui/prob-panel/in-window", test_panel_in_window);
  return g_test_run ();
}
