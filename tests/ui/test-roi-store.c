/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-roi-store.h"

typedef struct
{
  guint n_live;
  guint n_edit;
  guint n_loaded;
  guint n_prediction;
  guint n_selection;
} Counts;

static void
changed_cb (HepaRoiStore *store,
            guint         change,
            Counts       *counts)
{
  switch (change)
    {
    case HEPA_ROI_CHANGE_LIVE:
      counts->n_live++;
      break;
    case HEPA_ROI_CHANGE_EDIT:
      counts->n_edit++;
      break;
    case HEPA_ROI_CHANGE_LOADED:
      counts->n_loaded++;
      break;
    case HEPA_ROI_CHANGE_PREDICTION:
      counts->n_prediction++;
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
selection_cb (HepaRoiStore *store,
              Counts       *counts)
{
  counts->n_selection++;
}

static HepaRoiStore *
new_store (Counts *counts)
{
  HepaRoiStore *store = hepa_roi_store_new ();

  hepa_roi_store_set_bounds (store, 200, 100);
  hepa_roi_store_set_rater (store, "tester");
  if (counts != NULL)
    {
      g_signal_connect (store, "changed", G_CALLBACK (changed_cb), counts);
      g_signal_connect (store, "selection-changed", G_CALLBACK (selection_cb), counts);
    }
  return store;
}

static const HepaRoi *
nth (HepaRoiStore *store,
     guint         i)
{
  return g_ptr_array_index (hepa_roi_store_get_rois (store), i);
}

static void
test_add_clamps (void)
{
  HepaRoiStore *store = new_store (NULL);
  HepaRect r = { 190, 90, 40, 40 };
  HepaRect tiny = { 50, 50, 2, 3 };
  HepaRect outside = { 300, 10, 20, 20 };
  HepaRect upside = { 60, 60, -20, -30 };
  const char *id;

  id = hepa_roi_store_add (store, 0, &r);
  g_assert_nonnull (id);
  /* Clamped to the 200x100 image, then grown back to the minimum inside it. */
  g_assert_cmpint (nth (store, 0)->rect.x, ==, 190);
  g_assert_cmpint (nth (store, 0)->rect.width, ==, 10);
  g_assert_cmpint (nth (store, 0)->rect.height, ==, 10);
  g_assert_cmpstr (nth (store, 0)->rater, ==, "tester");
  g_assert_null (nth (store, 0)->label);
  g_assert_cmpstr (hepa_roi_store_get_selected (store), ==, id);

  g_assert_nonnull (hepa_roi_store_add (store, 0, &tiny));
  g_assert_cmpint (nth (store, 1)->rect.width, ==, HEPA_ROI_MIN_SIZE);
  g_assert_cmpint (nth (store, 1)->rect.height, ==, HEPA_ROI_MIN_SIZE);

  g_assert_null (hepa_roi_store_add (store, 0, &outside));
  g_assert_cmpuint (hepa_roi_store_get_rois (store)->len, ==, 2);

  g_assert_nonnull (hepa_roi_store_add (store, 2, &upside));
  g_assert_cmpint (nth (store, 2)->rect.x, ==, 40);
  g_assert_cmpint (nth (store, 2)->rect.y, ==, 30);
  g_assert_cmpint (nth (store, 2)->rect.width, ==, 20);
  g_assert_cmpint (nth (store, 2)->rect.height, ==, 30);
  g_assert_cmpuint (nth (store, 2)->frame, ==, 2);

  /* A minimum-size ROI pushed against the corner stays inside. */
  {
    HepaRect corner = { 198, 99, 1, 1 };
    g_assert_true (hepa_roi_store_fit_rect (store, &corner));
    g_assert_cmpint (corner.x + corner.width, <=, 200);
    g_assert_cmpint (corner.y + corner.height, <=, 100);
    g_assert_cmpint (corner.width, ==, HEPA_ROI_MIN_SIZE);
  }
  g_assert_finalize_object (store);
}

static void
test_undo_redo (void)
{
  Counts counts = { 0 };
  HepaRoiStore *store = new_store (&counts);
  HepaRect a = { 10, 10, 20, 20 };
  HepaRect moved = { 30, 40, 20, 20 };
  g_autofree char *id = NULL;

  g_assert_false (hepa_roi_store_can_undo (store));
  id = g_strdup (hepa_roi_store_add (store, 0, &a));
  g_assert_cmpuint (counts.n_edit, ==, 1);
  g_assert_true (hepa_roi_store_set_rect (store, id, &moved));
  g_assert_true (hepa_roi_store_set_label (store, id, "cyst", NULL, NULL, NULL));
  g_assert_cmpuint (counts.n_edit, ==, 3);
  g_assert_cmpuint (hepa_roi_store_count_labeled (store), ==, 1);

  /* Three steps back: unlabeled, back in place, gone. */
  g_assert_true (hepa_roi_store_undo (store));
  g_assert_null (nth (store, 0)->label);
  g_assert_true (hepa_roi_store_undo (store));
  g_assert_cmpint (nth (store, 0)->rect.x, ==, 10);
  g_assert_true (hepa_roi_store_undo (store));
  g_assert_cmpuint (hepa_roi_store_get_rois (store)->len, ==, 0);
  g_assert_null (hepa_roi_store_get_selected (store));
  g_assert_false (hepa_roi_store_undo (store));

  /* And forward again, to the same state and id. */
  g_assert_true (hepa_roi_store_redo (store));
  g_assert_true (hepa_roi_store_redo (store));
  g_assert_true (hepa_roi_store_redo (store));
  g_assert_false (hepa_roi_store_redo (store));
  g_assert_cmpstr (nth (store, 0)->id, ==, id);
  g_assert_cmpint (nth (store, 0)->rect.y, ==, 40);
  g_assert_cmpstr (nth (store, 0)->label, ==, "cyst");

  /* A new edit after an undo drops the redo branch. */
  g_assert_true (hepa_roi_store_undo (store));
  g_assert_true (hepa_roi_store_can_redo (store));
  g_assert_true (hepa_roi_store_set_label (store, id, "hcc", NULL, NULL, NULL));
  g_assert_false (hepa_roi_store_can_redo (store));

  /* Removing, then undoing, restores the ROI with its label. */
  g_assert_true (hepa_roi_store_remove (store, id));
  g_assert_cmpuint (hepa_roi_store_get_rois (store)->len, ==, 0);
  g_assert_true (hepa_roi_store_undo (store));
  g_assert_cmpstr (nth (store, 0)->label, ==, "hcc");
  g_assert_finalize_object (store);
}

static void
test_drag_is_one_step (void)
{
  Counts counts = { 0 };
  HepaRoiStore *store = new_store (&counts);
  HepaRect r = { 10, 10, 10, 10 };
  const char *id;

  hepa_roi_store_begin_edit (store);
  g_assert_true (hepa_roi_store_in_edit (store));
  id = hepa_roi_store_add (store, 0, &r);
  for (int i = 0; i < 20; i++)
    {
      r.width = 10 + i;
      r.height = 10 + i;
      hepa_roi_store_set_rect (store, id, &r);
    }
  g_assert_false (hepa_roi_store_can_undo (store));
  g_assert_cmpuint (counts.n_edit, ==, 0);
  g_assert_cmpuint (counts.n_live, ==, 20);  /* the first set_rect changes nothing */
  hepa_roi_store_end_edit (store);
  g_assert_cmpuint (counts.n_edit, ==, 1);
  g_assert_cmpint (nth (store, 0)->rect.width, ==, 29);

  g_assert_true (hepa_roi_store_undo (store));
  g_assert_cmpuint (hepa_roi_store_get_rois (store)->len, ==, 0);
  g_assert_false (hepa_roi_store_can_undo (store));

  /* A drag that changes nothing (a click) leaves no step. */
  hepa_roi_store_begin_edit (store);
  hepa_roi_store_end_edit (store);
  g_assert_false (hepa_roi_store_can_undo (store));
  g_assert_cmpuint (counts.n_edit, ==, 2);  /* the undo above */
  g_assert_finalize_object (store);
}

static void
test_prediction (void)
{
  Counts counts = { 0 };
  HepaRoiStore *store = new_store (&counts);
  HepaRect r = { 10, 10, 30, 30 };
  const char *classes[] = { "a", "b", "c", NULL };
  const float probs[] = { 0.1f, 0.7f, 0.2f };
  const char *id = hepa_roi_store_add (store, 0, &r);

  g_assert_true (hepa_roi_store_set_label (store, id, "b", "model-1", classes, probs));
  g_assert_cmpstr (nth (store, 0)->pred_model_id, ==, "model-1");
  g_assert_cmpfloat (nth (store, 0)->pred_probabilities[1], ==, 0.7f);
  g_assert_cmpstr (nth (store, 0)->pred_classes[2], ==, "c");

  /* Recording a newer answer is not an undo step. */
  g_assert_true (hepa_roi_store_set_prediction (store, id, "model-2", classes, probs));
  g_assert_cmpuint (counts.n_prediction, ==, 1);
  g_assert_cmpstr (nth (store, 0)->pred_model_id, ==, "model-2");
  g_assert_true (hepa_roi_store_undo (store));
  g_assert_null (nth (store, 0)->label);
  g_assert_false (hepa_roi_store_set_prediction (store, "r-missing", "m", classes, probs));
  g_assert_finalize_object (store);
}

static void
test_load (void)
{
  Counts counts = { 0 };
  HepaRoiStore *store = new_store (&counts);
  g_autoptr(GPtrArray) rois = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_roi_free);
  HepaRect r = { 5, 5, 20, 20 };

  hepa_roi_store_add (store, 0, &r);
  g_ptr_array_add (rois, hepa_roi_new (0, &r, "cyst", "x"));
  g_ptr_array_add (rois, hepa_roi_new (1, &r, NULL, "x"));
  hepa_roi_store_load (store, rois);
  g_assert_cmpuint (counts.n_loaded, ==, 1);
  g_assert_cmpuint (hepa_roi_store_get_rois (store)->len, ==, 2);
  g_assert_false (hepa_roi_store_can_undo (store));
  g_assert_null (hepa_roi_store_get_selected (store));
  g_assert_cmpuint (hepa_roi_store_count_labeled (store), ==, 1);
  /* The store holds copies. */
  g_assert_true (nth (store, 0) != g_ptr_array_index (rois, 0));

  hepa_roi_store_select (store, nth (store, 1)->id);
  g_assert_cmpstr (hepa_roi_store_get_selected (store), ==, nth (store, 1)->id);
  hepa_roi_store_select (store, "r-unknown");
  g_assert_null (hepa_roi_store_get_selected (store));
  g_assert_cmpuint (counts.n_selection, ==, 4);  /* add, load, select, unknown */

  hepa_roi_store_clear (store);
  g_assert_cmpuint (hepa_roi_store_get_rois (store)->len, ==, 0);
  g_assert_finalize_object (store);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/roi-store/add-clamps", test_add_clamps);
  g_test_add_func ("/ui/roi-store/undo-redo", test_undo_redo);
  g_test_add_func ("/ui/roi-store/drag-is-one-step", test_drag_is_one_step);
  g_test_add_func ("/ui/roi-store/prediction", test_prediction);
  g_test_add_func ("/ui/roi-store/load", test_load);
  return g_test_run ();
}
