/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The review grid: collecting labeled regions, sorting by model disagreement and confidence
 * (values worked out by hand below), relabeling from the grid with a number key, and a click
 * naming the file and ROI. */
#include "config.h"

#include "hepa-annotations.h"
#include "hepa-image.h"
#include "hepa-review.h"

#include <gtk/gtk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };
static char *dir;
static char *paths[4];

static HepaRoi *
roi_with (const char *id,
          const char *rater,
          const char *label,
          const float *probs)
{
  HepaRect rect = { 4, 4, 20, 16 };
  HepaRoi *roi = hepa_roi_new (0, &rect, label, rater);

  g_free (roi->id);
  roi->id = g_strdup (id);
  if (probs != NULL)
    hepa_roi_set_prediction (roi, "m", classes, probs);
  return roi;
}

static void
write_image (guint                index,
             const char          *name,
             HepaRoi            **rois,
             guint                n)
{
  g_autofree guint8 *rgb = g_new0 (guint8, 64 * 48 * 3);
  g_autoptr(HepaAnnotations) set = hepa_annotations_new (name);
  g_autofree char *sidecar = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 64 * 48 * 3; i++)
    rgb[i] = (guint8) (i * (index + 3));
  paths[index] = g_build_filename (dir, name, NULL);
  g_assert_true (hepa_png_write_rgb (paths[index], 64, 48, rgb, &error));
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (set->rois, rois[i]);
  sidecar = hepa_annotations_sidecar_path (paths[index], NULL);
  g_assert_true (hepa_annotations_save (set, sidecar, &error));
  g_assert_no_error (error);
}

/* a1: cyst, model cyst 0.9 -> disagreement 0.1, top 0.9
 * a2: hcc, model cyst 0.7 / hcc 0.2 -> disagreement 0.8, top 0.7
 * b1: ffs, no prediction -> NaN, NaN
 * b2: alice cyst, bob hcc (disputed), model hcc 0.5 -> disagreement NaN, top 0.5
 * c1: unlabeled -> not in the grid */
static void
make_study (void)
{
  const float p_a1[5] = { 0.02f, 0.9f, 0.03f, 0.03f, 0.02f };
  const float p_a2[5] = { 0.05f, 0.7f, 0.03f, 0.02f, 0.2f };
  const float p_b2[5] = { 0.02f, 0.4f, 0.04f, 0.04f, 0.5f };
  HepaRoi *a[2], *b[2], *c[1];

  dir = g_dir_make_tmp ("hepa-review-XXXXXX", NULL);
  a[0] = roi_with ("a1", "ann", "cyst", p_a1);
  a[1] = roi_with ("a2", "ann", "hcc", p_a2);
  b[0] = roi_with ("b1", "ann", "ffs", NULL);
  b[1] = roi_with ("b2", "alice", "cyst", p_b2);
  hepa_roi_set_rating (b[1], "bob", "hcc");
  c[0] = roi_with ("c1", "ann", NULL, NULL);
  write_image (0, "a.png", a, 2);
  write_image (1, "b.png", b, 2);
  write_image (2, "c.png", c, 1);
}

static const char *
ids (GPtrArray *items)
{
  static char text[64];

  text[0] = '\0';
  for (guint i = 0; i < items->len; i++)
    {
      g_strlcat (text, ((HepaReviewItem *) items->pdata[i])->roi_id, sizeof text);
      g_strlcat (text, i + 1 < items->len ? " " : "", sizeof text);
    }
  return text;
}

static void
test_sort (void)
{
  g_autoptr(GPtrArray) items = hepa_review_collect ((const char *const *) paths);
  HepaReviewItem *a2;

  g_assert_cmpuint (items->len, ==, 4);
  g_assert_cmpstr (ids (items), ==, "a1 a2 b1 b2");
  a2 = items->pdata[1];
  g_assert_cmpfloat_with_epsilon (a2->disagreement, 0.8, 1e-6);
  g_assert_cmpfloat_with_epsilon (a2->top_probability, 0.7, 1e-6);
  g_assert_cmpstr (a2->pred_top, ==, "cyst");
  g_assert_true (((HepaReviewItem *) items->pdata[3])->raters_disagree);
  g_assert_null (((HepaReviewItem *) items->pdata[3])->label);

  hepa_review_sort (items, HEPA_REVIEW_SORT_DISAGREEMENT);
  g_assert_cmpstr (ids (items), ==, "a2 a1 b1 b2");
  hepa_review_sort (items, HEPA_REVIEW_SORT_CONFIDENCE);
  g_assert_cmpstr (ids (items), ==, "b2 a2 a1 b1");
  /* By file: stable, so within a file the order before stays (b2 before b1, a2 before a1). */
  hepa_review_sort (items, HEPA_REVIEW_SORT_FILE);
  g_assert_cmpstr (ids (items), ==, "a2 a1 b2 b1");
}

static void
on_activated (HepaReview *review,
              const char *path,
              const char *roi_id,
              gpointer    user_data)
{
  *(char **) user_data = g_strconcat (path, "#", roi_id, NULL);
}

static void
test_grid (void)
{
  HepaReview *review = hepa_review_new (NULL, (const char *const *) paths, NULL, "ann");
  g_autofree char *activated = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *items;
  guint pick[2];

  g_signal_connect (review, "roi-activated", G_CALLBACK (on_activated), &activated);
  gtk_window_present (GTK_WINDOW (review));
  hepa_review_set_sort (review, HEPA_REVIEW_SORT_DISAGREEMENT);
  items = hepa_review_get_items (review);
  g_assert_cmpstr (ids (items), ==, "a2 a1 b1 b2");

  /* A click (activation) names the file and the ROI. */
  {
    GtkFlowBoxChild *first = NULL;
    const guint zero = 0;

    /* The first item's child, found through the selection. */
    hepa_review_select (review, &zero, 1);
    {
      GQueue queue = G_QUEUE_INIT;

      g_queue_push_tail (&queue, GTK_WIDGET (review));
      while (!g_queue_is_empty (&queue) && first == NULL)
        {
          GtkWidget *w = g_queue_pop_head (&queue);

          if (GTK_IS_FLOW_BOX_CHILD (w) && gtk_flow_box_child_is_selected (GTK_FLOW_BOX_CHILD (w)))
            first = GTK_FLOW_BOX_CHILD (w);
          for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
               c = gtk_widget_get_next_sibling (c))
            g_queue_push_tail (&queue, c);
        }
      g_queue_clear (&queue);
    }
    g_assert_nonnull (first);
    g_signal_emit_by_name (first, "activate");
    g_assert_nonnull (activated);
    g_assert_true (g_str_has_suffix (activated, "a.png#a2"));
    gtk_flow_box_unselect_child (GTK_FLOW_BOX (gtk_widget_get_parent (GTK_WIDGET (first))),
                                 first);
  }

  /* Select a2 and b2, press "2": both get ann's "cyst". */
  pick[0] = 0;
  pick[1] = 3;
  hepa_review_select (review, pick, 2);
  g_assert_true (hepa_review_relabel_selection (review, 2, &error));
  g_assert_no_error (error);

  after = hepa_review_collect ((const char *const *) paths);
  g_assert_cmpstr (ids (after), ==, "a1 a2 b1 b2");
  /* a2 was ann's hcc, now ann's cyst; b2 had alice cyst, bob hcc, and now ann cyst too: the
   * raters still disagree. */
  g_assert_cmpstr (((HepaReviewItem *) after->pdata[1])->label, ==, "cyst");
  g_assert_false (((HepaReviewItem *) after->pdata[1])->raters_disagree);
  g_assert_true (((HepaReviewItem *) after->pdata[3])->raters_disagree);
  g_assert_cmpstr (((HepaReviewItem *) after->pdata[0])->label, ==, "cyst");
  g_assert_cmpstr (((HepaReviewItem *) after->pdata[2])->label, ==, "ffs");

  /* Thumbnails arrive from the worker. */
  for (int i = 0; i < 200; i++)
    g_main_context_iteration (NULL, FALSE);
  gtk_window_destroy (GTK_WINDOW (review));
}

int
main (int    argc,
      char **argv)
{
  int status;

  gtk_test_init (&argc, &argv, NULL);
  make_study ();
  g_test_add_func ("/ui/review/sort", test_sort);
  g_test_add_func ("/ui/review/grid", test_grid);
  status = g_test_run ();
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

    if (system (cmd) != 0)
      status = 1;
  }
  return status;
}
