/* SPDX-License-Identifier: GPL-3.0-or-later */
/* End to end through hepascope-cli: generated PNG classes -> train (resnet18, small size,
 * 2-fold cross-validation + final model, report) -> eval on fresh held-out images. */
#include "config.h"

#include "hepa-image.h"
#include "hepa-test-utils.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

static const char *const class_names[] = { "cyst", "hcc", "non_fll" };

/* Class 0 a bright disc, class 1 horizontal stripes, class 2 a checkerboard; random placement,
 * period and noise. */
static void
write_pattern (const char *path,
               int         cls,
               int         size,
               GRand      *rand)
{
  g_autofree guint8 *rgb = g_new (guint8, (gsize) size * size * 3);
  g_autoptr(GError) error = NULL;
  double cx = g_rand_double_range (rand, 0.35, 0.65) * size;
  double cy = g_rand_double_range (rand, 0.35, 0.65) * size;
  double r = g_rand_double_range (rand, 0.18, 0.3) * size;
  int period = g_rand_int_range (rand, 5, 9);
  int phase = g_rand_int_range (rand, 0, period);

  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      {
        double v = 40 + g_rand_double_range (rand, -20, 20);
        if (cls == 0 && (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r)
          v = 210 + g_rand_double_range (rand, -20, 20);
        else if (cls == 1 && ((y + phase) / period) % 2 == 0)
          v = 190 + g_rand_double_range (rand, -20, 20);
        else if (cls == 2 && (((x + phase) / period) + ((y + phase) / period)) % 2 == 0)
          v = 170 + g_rand_double_range (rand, -20, 20);
        for (int c = 0; c < 3; c++)
          rgb[((gsize) y * size + x) * 3 + c] = (guint8) CLAMP (v, 0, 255);
      }
  hepa_png_write_rgb (path, size, size, rgb, &error);
  g_assert_no_error (error);
}

static void
make_tree (const char *dir,
           const int  *per_class,
           guint32     seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

  for (int c = 0; c < 3; c++)
    {
      g_autofree char *cdir = g_build_filename (dir, class_names[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (cdir, 0755), ==, 0);
      for (int i = 0; i < per_class[c]; i++)
        {
          g_autofree char *name = g_strdup_printf ("%03d.png", i);
          g_autofree char *path = g_build_filename (cdir, name, NULL);
          write_pattern (path, c, 40, rand);
        }
    }
}

static int
run_cli (char       **out,
         char       **err,
         const char  *first,
         ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  va_list ap;
  int status = 0;

  g_assert_nonnull (cli);
  g_ptr_array_add (args, (char *) cli);
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (char *) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err, &status,
                &error);
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static JsonObject *
load_json (JsonParser *parser,
           const char *text_or_path,
           gboolean    is_path)
{
  g_autoptr(GError) error = NULL;

  if (is_path)
    json_parser_load_from_file (parser, text_or_path, &error);
  else
    json_parser_load_from_data (parser, text_or_path, -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_train_eval (void)
{
  g_autofree char *tmp = hepa_test_mkdtemp ();
  g_autofree char *data = g_build_filename (tmp, "synthetic-fll", NULL);
  g_autofree char *held = g_build_filename (tmp, "held-out", NULL);
  g_autofree char *model = g_build_filename (tmp, "model.safetensors", NULL);
  g_autofree char *report = g_build_filename (tmp, "report", NULL);
  g_autofree char *ereport = g_build_filename (tmp, "eval-report", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) p1 = json_parser_new ();
  g_autoptr(JsonParser) p2 = json_parser_new ();
  const int counts[3] = { 14, 10, 12 };   /* unbalanced on purpose */
  const int held_counts[3] = { 8, 8, 8 };
  const char *files[] = { "report.json", "report.md", "loss.png", "accuracy.png",
                          "confusion.png", "roc.png" };
  JsonObject *o, *per_class;
  int status;

  make_tree (data, counts, 1);
  make_tree (held, held_counts, 2);

  status = run_cli (&out, &err, "train", "--data", data, "--out", model, "--arch", "resnet18",
                    "--size", "40", "--epochs", "10", "--batch", "8", "--lr", "0.005", "--folds",
                    "2", "--seed", "3", "--report", report, "--threads", "2", "--val", held,
                    NULL);
  g_test_message ("train stdout:\n%s\nstderr:\n%s", out, err);
  g_assert_cmpint (status, ==, 0);
  /* Not a terminal: one summary line per epoch, the final run's against the --val tree. */
  g_assert_nonnull (strstr (err, "fold 1/3 epoch 1/10: training loss "));
  g_assert_nonnull (strstr (err, ", test loss "));
  g_assert_nonnull (strstr (err, "final 3/3 epoch 10/10: training loss "));
  g_assert_nonnull (strstr (err, ", validation loss "));
  g_assert_true (g_file_test (model, G_FILE_TEST_EXISTS));
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *f = g_build_filename (report, files[i], NULL);
      g_assert_true (g_file_test (f, G_FILE_TEST_EXISTS));
    }
  {
    g_autofree char *rj = g_build_filename (report, "report.json", NULL);
    g_autofree char *md_path = g_build_filename (report, "report.md", NULL);
    g_autofree char *md = NULL;

    o = load_json (p1, rj, TRUE);
    g_test_message ("cross-validated accuracy %.3f", json_object_get_double_member (o, "accuracy"));
    g_assert_cmpfloat (json_object_get_double_member (o, "accuracy"), >=, 0.85);
    g_assert_cmpint (json_array_get_length (json_object_get_array_member (o, "runs")), ==, 3);
    g_assert_true (g_file_get_contents (md_path, &md, NULL, NULL));
    g_assert_nonnull (strstr (md, "leakage"));
    g_assert_nonnull (strstr (md, "mean ± SD"));
    /* Training and held-out accuracy per epoch side by side, every run a column. */
    g_assert_nonnull (strstr (md, "| epoch | fold 1 | fold 2 | final |"));
    g_assert_nonnull (strstr (md, "\n| 10 | "));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = run_cli (&out, &err, "eval", "--model", model, "--data", held, "--json", "--report",
                    ereport, NULL);
  g_test_message ("eval stdout:\n%s\nstderr:\n%s", out, err);
  g_assert_cmpint (status, ==, 0);
  o = load_json (p2, out, FALSE);
  g_assert_cmpfloat (json_object_get_double_member (o, "accuracy"), >=, 0.85);
  per_class = json_object_get_object_member (o, "per_class");
  g_assert_nonnull (json_object_get_object_member (per_class, "hcc"));
  g_assert_true (json_object_has_member (json_object_get_object_member (per_class, "hcc"), "auc"));
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (o, "confusion")), ==, 3);
  {
    g_autofree char *f = g_build_filename (ereport, "roc.png", NULL);
    g_assert_true (g_file_test (f, G_FILE_TEST_EXISTS));
  }
  hepa_test_rmtree (tmp);
}

/* Bad input through the CLI: exit 1 and one line naming the file, before any training. */
static void
test_cli_bad_input (void)
{
  g_autofree char *tmp = hepa_test_mkdtemp ();
  g_autofree char *data = g_build_filename (tmp, "d", NULL);
  g_autofree char *empty = g_build_filename (data, "ffs", NULL);
  g_autofree char *model = g_build_filename (tmp, "m.safetensors", NULL);
  g_autofree char *out = NULL, *err = NULL;
  const int counts[3] = { 3, 3, 3 };
  int status;

  make_tree (data, counts, 5);
  g_assert_cmpint (g_mkdir (empty, 0755), ==, 0);
  status = run_cli (&out, &err, "train", "--data", data, "--out", model, NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "ffs: class folder has no PNG or JPEG images"));
  g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);  /* one line */
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (empty), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = run_cli (&out, &err, "train", "--data", data, "--out", model, "--folds", "12",
                    "--arch", "resnet18", "--size", "32", NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "9 images for 12 folds"));
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  hepa_test_rmtree (tmp);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/slow/train/cli-bad-input", test_cli_bad_input);
  g_test_add_func ("/slow/train/train-eval", test_train_eval);
  return g_test_run ();
}
