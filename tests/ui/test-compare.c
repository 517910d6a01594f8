/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Model comparison over a study's labeled regions: a model against itself agrees everywhere
 * and gets the same figures; two different models disagree exactly where their top classes
 * differ (checked against the engine directly); the window shows the result. */
#include "config.h"

#include "hepa-annotations.h"
#include "hepa-compare.h"
#include "hepa-engine.h"
#include "hepa-image.h"
#include "hepa-review.h"

#include <gtk/gtk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };
static char *dir;
static GStrv paths;

static void
make_study (void)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new ();

  dir = g_dir_make_tmp ("hepa-compare-XXXXXX", NULL);
  for (guint f = 0; f < 4; f++)
    {
      g_autofree char *name = g_strdup_printf ("img%u.png", f);
      g_autofree guint8 *rgb = g_new0 (guint8, 96 * 64 * 3);
      g_autoptr(HepaAnnotations) set = hepa_annotations_new (name);
      g_autoptr(GError) error = NULL;
      g_autofree char *sidecar = NULL;
      char *path = g_build_filename (dir, name, NULL);

      for (guint i = 0; i < 96 * 64 * 3; i++)
        rgb[i] = (guint8) ((i * (f + 7)) ^ (i >> 5));
      g_assert_true (hepa_png_write_rgb (path, 96, 64, rgb, &error));
      for (guint r = 0; r < 3; r++)
        {
          HepaRect rect = { 5 + 20 * (int) r, 8, 24, 24 };

          g_ptr_array_add (set->rois, hepa_roi_new (0, &rect, r == 2 && f == 3 ? "unknown-class"
                                                              : classes[(f + r) % 5], "ann"));
        }
      sidecar = hepa_annotations_sidecar_path (path, NULL);
      g_assert_true (hepa_annotations_save (set, sidecar, &error));
      g_ptr_array_add (list, path);
    }
  g_ptr_array_add (list, NULL);
  paths = (GStrv) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

static void
test_run (void)
{
  g_autoptr(HepaModel) a = hepa_model_new_random (HEPA_ARCH_RESNET18, 5, classes, 32, 1);
  g_autoptr(HepaModel) b = hepa_model_new_random (HEPA_ARCH_RESNET18, 5, classes, 32, 2);
  g_autoptr(HepaComparison) same = NULL;
  g_autoptr(HepaComparison) diff = NULL;
  g_autoptr(GError) error = NULL;
  HepaEngine *ea, *eb;
  guint expected = 0;

  same = hepa_compare_run (a, a, (const char *const *) paths, NULL, &error);
  g_assert_no_error (error);
  /* 12 regions, one labeled with a class neither model has. */
  g_assert_cmpuint (same->items->len, ==, 11);
  g_assert_cmpuint (same->n_skipped, ==, 1);
  g_assert_cmpuint (same->disagree->len, ==, 0);
  g_assert_cmpfloat (same->metrics[0]->accuracy, ==, same->metrics[1]->accuracy);

  diff = hepa_compare_run (a, b, (const char *const *) paths, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (diff->items->len, ==, 11);
  ea = hepa_engine_new (a, &error);
  eb = hepa_engine_new (b, &error);
  for (guint i = 0; i < diff->items->len; i++)
    {
      const HepaReviewItem *item = g_ptr_array_index (diff->items, i);
      g_autoptr(HepaImage) image = hepa_image_open (item->path, &error);
      const HepaFrame *frame = hepa_image_get_frame (image, 0, &error);
      g_autoptr(HepaResult) ra = hepa_engine_classify (ea, frame, &item->rect, NULL, &error);
      g_autoptr(HepaResult) rb = hepa_engine_classify (eb, frame, &item->rect, NULL, &error);

      g_assert_cmpstr (diff->top[0][i], ==, classes[ra->top]);
      g_assert_cmpstr (diff->top[1][i], ==, classes[rb->top]);
      expected += ra->top != rb->top;
    }
  hepa_engine_free (ea);
  hepa_engine_free (eb);
  g_assert_cmpuint (diff->disagree->len, ==, expected);
  for (guint k = 0; k < 5; k++)
    g_assert_true (isnan (diff->metrics[0]->sensitivity[k])
                   || (diff->metrics[0]->sensitivity[k] >= 0 && diff->metrics[0]->sensitivity[k] <= 1));
}

static void
on_finished (HepaCompare *compare,
             gpointer     user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
test_window (void)
{
  g_autofree char *library = g_build_filename (dir, "models", NULL);
  HepaCompare *compare;
  gboolean finished = FALSE;
  gint64 end;
  g_autoptr(HepaModel) a = hepa_model_new_random (HEPA_ARCH_RESNET18, 5, classes, 32, 1);
  g_autoptr(GError) error = NULL;

  g_setenv ("HEPASCOPE_MODEL_LIBRARY", library, TRUE);
  compare = hepa_compare_present (NULL, (const char *const *) paths, NULL);
  g_signal_connect (compare, "finished", G_CALLBACK (on_finished), &finished);
  /* A model file that does not exist: one line naming it, no crash. */
  hepa_compare_start (compare, "/nonexistent/a.safetensors", "/nonexistent/b.safetensors");
  end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!finished && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (finished);
  g_assert_null (hepa_compare_get_result (compare));
  gtk_window_destroy (GTK_WINDOW (compare));
  (void) a;
  (void) error;
}

int
main (int    argc,
      char **argv)
{
  int status;

  gtk_test_init (&argc, &argv, NULL);
  make_study ();
  g_test_add_func ("/ui/compare/run", test_run);
  g_test_add_func ("/ui/compare/window", test_window);
  status = g_test_run ();
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

    if (system (cmd) != 0)
      status = 1;
  }
  g_strfreev (paths);
  return status;
}
