/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The train dialog end to end, through its own API (the window's menu entry comes with the
 * window wiring): label phantoms, train the quick preset on a tiny set (resnet18 at 32 px,
 * 1 epoch), adopt the model and classify with it; cancel and resume a run. */
#include "config.h"

#include "hepa-annotations.h"
#include "hepa-engine.h"
#include "hepa-image.h"
#include "hepa-model-library.h"
#include "hepa-train-dialog.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char *study_dir;
static GStrv study_paths;

/* @per_class phantoms of each class from hepascope-cli synth (PNG) in a new folder, labeled by a
 * rater "tester" as a user would (the synth's own labels are cleared first). */
static GStrv
make_phantoms (guint  per_class,
               char **folder)
{
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  g_autofree char *cmd = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  const char *name;
  int status;

  g_assert_nonnull (cli);
  const char *out;

  *folder = g_dir_make_tmp ("hepa-train-dialog-XXXXXX", NULL);
  out = *folder;
  cmd = g_strdup_printf ("'%s' synth -o '%s' -n %u --size 128x96 --format png -j 2", cli, out,
                         per_class);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);

  dir = g_dir_open (out, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *sidecar = NULL;
      g_autoptr(HepaAnnotations) set = NULL;
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) parts = NULL;

      if (!g_str_has_suffix (name, ".png"))
        continue;
      path = g_build_filename (out, name, NULL);
      sidecar = hepa_annotations_sidecar_path (path, NULL);
      set = hepa_annotations_load (sidecar, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (set->rois->len, >=, 1);
      parts = g_strsplit (name, "-", 2);
      for (guint i = 0; i < set->rois->len; i++)
        {
          HepaRoi *roi = g_ptr_array_index (set->rois, i);

          hepa_roi_set_rating (roi, roi->rater, NULL);
          g_assert_null (roi->label);
          hepa_roi_set_rating (roi, "tester", parts[0]);
        }
      g_assert_true (hepa_annotations_save (set, sidecar, &error));
      g_assert_no_error (error);
      g_ptr_array_add (paths, g_steal_pointer (&path));
    }
  g_ptr_array_add (paths, NULL);
  g_assert_cmpuint (paths->len, ==, 5 * per_class + 1);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&paths), FALSE);
}

static void
on_finished (HepaTrainDialog *dialog,
             gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
on_adopted (HepaTrainDialog *dialog,
            const char      *path,
            gpointer         user_data)
{
  *(char **) user_data = g_strdup (path);
}

static void
wait_for (gboolean *flag,
          int       seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;

  while (!*flag && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (*flag);
}

static void
tiny_options (HepaTrainDialog *dialog,
              int              epochs)
{
  HepaTrainOptions opts = *hepa_train_dialog_get_options (dialog);

  opts.size = 32;
  opts.epochs = epochs;
  opts.folds = 1;
  opts.batch = 8;
  hepa_train_dialog_set_options (dialog, &opts);
  g_assert_cmpint (hepa_train_dialog_get_options (dialog)->size, ==, 32);
  g_assert_cmpint (hepa_train_dialog_get_options (dialog)->arch, ==, HEPA_ARCH_RESNET18);
}

static void
test_train_adopt (void)
{
  HepaTrainDialog *dialog = hepa_train_dialog_present (NULL, (const char *const *) study_paths,
                                                       NULL);
  const HepaTrainResult *result;
  g_autofree char *adopted = NULL;
  g_autoptr(HepaModel) model = NULL;
  HepaEngine *engine = NULL;
  g_autoptr(HepaImage) image = NULL;
  g_autoptr(HepaResult) answer = NULL;
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) library = NULL;
  g_autofree char *sidecar = NULL;
  gboolean finished = FALSE;
  double sum = 0;
  gint64 start = g_get_monotonic_time ();

  g_signal_connect (dialog, "finished", G_CALLBACK (on_finished), &finished);
  g_signal_connect (dialog, "model-adopted", G_CALLBACK (on_adopted), &adopted);
  hepa_train_dialog_set_preset (dialog, HEPA_TRAIN_PRESET_QUICK);
  tiny_options (dialog, 1);
  hepa_train_dialog_start (dialog);
  g_assert_true (hepa_train_dialog_is_running (dialog));
  wait_for (&finished, 600);
  g_test_message ("quick preset, 20 phantoms, resnet18 32 px, 1 epoch: %.1f s",
                  (g_get_monotonic_time () - start) / 1e6);
  g_assert_null (hepa_train_dialog_get_error (dialog));
  result = hepa_train_dialog_get_result (dialog);
  g_assert_nonnull (result);
  g_assert_false (result->interrupted);
  g_assert_cmpuint (result->n_samples, ==, 20);
  g_assert_cmpuint (result->n_classes, ==, 5);

  g_assert_true (hepa_train_dialog_adopt (dialog, &error));
  g_assert_no_error (error);
  g_assert_nonnull (adopted);
  library = hepa_model_library_list (NULL, &error);
  g_assert_cmpuint (library->len, ==, 1);
  g_assert_cmpstr (((HepaModelEntry *) library->pdata[0])->path, ==, adopted);
  g_assert_cmpstr (((HepaModelEntry *) library->pdata[0])->arch, ==, "resnet18");
  /* Adopting twice is refused: the model has moved. */
  g_assert_false (hepa_train_dialog_adopt (dialog, &error));
  g_clear_error (&error);

  /* New probabilities from the adopted model on a labeled phantom. */
  model = hepa_model_load (adopted, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hepa_model_get_card (model)->input_size, ==, 32);
  engine = hepa_engine_new (model, &error);
  g_assert_no_error (error);
  image = hepa_image_open (study_paths[0], &error);
  g_assert_no_error (error);
  sidecar = hepa_annotations_sidecar_path (study_paths[0], NULL);
  set = hepa_annotations_load (sidecar, &error);
  answer = hepa_engine_classify (engine, hepa_image_get_frame (image, 0, NULL),
                                 &((HepaRoi *) set->rois->pdata[0])->rect, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (answer->n_classes, ==, 5);
  for (guint i = 0; i < answer->n_classes; i++)
    sum += answer->probabilities[i];
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-4);
  hepa_engine_free (engine);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
on_progress (HepaTrainDialog *dialog,
             double           fraction,
             const char      *text,
             gboolean         training,
             gpointer         user_data)
{
  /* Cancel at the first training step. */
  if (training)
    hepa_train_dialog_cancel (dialog);
}

static void
test_cancel_resume (void)
{
  HepaTrainDialog *dialog = hepa_train_dialog_new (NULL, (const char *const *) study_paths, NULL);
  const HepaTrainResult *result;
  gboolean finished = FALSE;
  gulong handler;

  g_signal_connect (dialog, "finished", G_CALLBACK (on_finished), &finished);
  handler = g_signal_connect (dialog, "progress", G_CALLBACK (on_progress), NULL);
  tiny_options (dialog, 2);
  hepa_train_dialog_start (dialog);
  wait_for (&finished, 600);
  g_assert_cmpstr (hepa_train_dialog_get_error (dialog), ==, NULL);
  result = hepa_train_dialog_get_result (dialog);
  g_assert_nonnull (result);
  g_assert_true (result->interrupted);
  g_assert_nonnull (result->checkpoint);
  g_assert_true (g_file_test (result->checkpoint, G_FILE_TEST_EXISTS));
  g_assert_false (hepa_train_dialog_adopt (dialog, NULL));

  /* Resume: the same button, from the checkpoint, to the end. */
  g_signal_handler_disconnect (dialog, handler);
  finished = FALSE;
  hepa_train_dialog_start (dialog);
  wait_for (&finished, 600);
  g_assert_cmpstr (hepa_train_dialog_get_error (dialog), ==, NULL);
  result = hepa_train_dialog_get_result (dialog);
  g_assert_nonnull (result);
  g_assert_false (result->interrupted);
  g_assert_cmpuint (((HepaTrainRun *) result->runs->pdata[0])->n_epochs, ==, 2);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* The figure: the quick preset as shipped (resnet18, 64 px, 3 epochs) on 200 labeled
 * phantom ROIs, end to end (export, load, train, report) in at most 3 minutes. Slow: -m slow. */
static void
test_quick_200 (void)
{
  g_autofree char *folder = NULL;
  g_auto(GStrv) paths = NULL;
  HepaTrainDialog *dialog;
  g_autofree char *load = NULL;
  gboolean finished = FALSE;
  gint64 start;
  double seconds;

  if (!g_test_slow ())
    {
      g_test_skip ("slow: run with -m slow");
      return;
    }
  paths = make_phantoms (40, &folder);
  dialog = hepa_train_dialog_new (NULL, (const char *const *) paths, NULL);
  g_signal_connect (dialog, "finished", G_CALLBACK (on_finished), &finished);
  hepa_train_dialog_set_preset (dialog, HEPA_TRAIN_PRESET_QUICK);
  start = g_get_monotonic_time ();
  hepa_train_dialog_start (dialog);
  wait_for (&finished, 900);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  g_file_get_contents ("/proc/loadavg", &load, NULL, NULL);
  g_test_message ("quick check on 200 phantom ROIs (resnet18, 64 px, %d epochs): %.1f s end to "
                  "end, load %s", hepa_train_dialog_get_options (dialog)->epochs, seconds,
                  load != NULL ? g_strstrip (load) : "?");
  g_assert_cmpstr (hepa_train_dialog_get_error (dialog), ==, NULL);
  g_assert_cmpuint (hepa_train_dialog_get_result (dialog)->n_samples, ==, 200);
  g_assert_cmpfloat (seconds, <=, 180.0);
  gtk_window_destroy (GTK_WINDOW (dialog));
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", folder);

    g_assert_cmpint (system (cmd), ==, 0);
  }
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *home = g_dir_make_tmp ("hepa-train-home-XXXXXX", NULL);
  g_autofree char *cache = g_build_filename (home, "cache", NULL);
  g_autofree char *library = g_build_filename (home, "models", NULL);
  int status;

  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("HEPASCOPE_MODEL_LIBRARY", library, TRUE);
  gtk_test_init (&argc, &argv, NULL);
  study_paths = make_phantoms (4, &study_dir);
  g_test_add_func ("/ui/e2e/train-adopt", test_train_adopt);
  g_test_add_func ("/ui/train-dialog/cancel-resume", test_cancel_resume);
  g_test_add_func ("/ui/train-dialog/quick-200", test_quick_200);
  status = g_test_run ();
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s' '%s'", home, study_dir);

    if (system (cmd) != 0)
      status = 1;
  }
  g_strfreev (study_paths);
  g_free (study_dir);
  return status;
}
