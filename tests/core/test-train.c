/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The trainer's data handling and protocol: export trees, bad input, grouped stratified folds,
 * determinism, Ctrl-C checkpoints and resuming, init from a file, evaluation. */
#include "config.h"

#include "hepa-error.h"
#include "hepa-image.h"
#include "hepa-manifest.h"
#include "hepa-model.h"
#include "hepa-report.h"
#include "hepa-test-utils.h"
#include "hepa-train.h"
#include "hepa-train-private.h"
#include "hepa-weights.h"
#include "hepa-safetensors.h"
#include "hepa-model-file.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* Writes a w x h PNG of a clearly recognizable pattern: class 0 a bright disc, class 1
 * horizontal stripes, class 2 a checkerboard, each with random placement and noise. */
static void
write_pattern (const char *path,
               int         cls,
               int         w,
               int         h,
               GRand      *rand)
{
  g_autofree guint8 *rgb = g_new (guint8, (gsize) w * h * 3);
  g_autoptr(GError) error = NULL;
  double cx = g_rand_double_range (rand, 0.35, 0.65) * w;
  double cy = g_rand_double_range (rand, 0.35, 0.65) * h;
  double r = g_rand_double_range (rand, 0.18, 0.3) * MIN (w, h);
  int period = g_rand_int_range (rand, 5, 9);
  int phase = g_rand_int_range (rand, 0, period);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double v = 40 + g_rand_double_range (rand, -20, 20);
        if (cls == 0 && (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r)
          v = 210 + g_rand_double_range (rand, -20, 20);
        else if (cls == 1 && ((y + phase) / period) % 2 == 0)
          v = 190 + g_rand_double_range (rand, -20, 20);
        else if (cls == 2 && (((x + phase) / period) + ((y + phase) / period)) % 2 == 0)
          v = 170 + g_rand_double_range (rand, -20, 20);
        for (int c = 0; c < 3; c++)
          rgb[((gsize) y * w + x) * 3 + c] = (guint8) CLAMP (v, 0, 255);
      }
  hepa_png_write_rgb (path, w, h, rgb, &error);
  g_assert_no_error (error);
}

static const char *const class_names[] = { "cyst", "hcc", "non_fll" };

/* @per_class images for each of @n_classes classes; with @patients > 0 a manifest.json puts
 * them into that many patients per class (consecutive images share a patient). */
static char *
make_tree (int n_classes,
           int per_class,
           int patients,
           int size,
           guint32 seed)
{
  char *dir = hepa_test_mkdtemp ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr(HepaManifest) manifest = NULL;

  if (patients > 0)
    {
      const char *classes[4] = { NULL };
      for (int c = 0; c < n_classes; c++)
        classes[c] = class_names[c];
      manifest = hepa_manifest_new (classes);
    }
  for (int c = 0; c < n_classes; c++)
    {
      g_autofree char *cdir = g_build_filename (dir, class_names[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (cdir, 0755), ==, 0);
      for (int i = 0; i < per_class; i++)
        {
          g_autofree char *name = g_strdup_printf ("c%d-%03d.png", c, i);
          g_autofree char *path = g_build_filename (cdir, name, NULL);

          write_pattern (path, c, size, size, rand);
          if (manifest != NULL)
            {
              HepaManifestRow *row = hepa_manifest_row_new ();
              g_autofree char *contents = NULL;
              gsize len;

              g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
              row->crop_id = g_strdup_printf ("crop%d_%d", c, i);
              row->file = g_strdup_printf ("%s/%s", class_names[c], name);
              row->label = g_strdup (class_names[c]);
              /* Patients span classes too: patient p has images in every class. */
              row->patient = g_strdup_printf ("p%02d", i % patients);
              row->study = g_strdup_printf ("s%02d", i % patients);
              row->sop = g_strdup_printf ("sop%d_%d", c, i);
              row->roi.width = row->roi.height = size;
              row->rater = g_strdup ("test");
              row->sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                                         (const guchar *) contents, len);
              g_ptr_array_add (manifest->rows, row);
            }
        }
    }
  if (manifest != NULL)
    {
      gsize len;
      g_autofree char *json = hepa_manifest_to_json (manifest, &len);
      g_autofree char *path = g_build_filename (dir, "manifest.json", NULL);
      g_assert_true (g_file_set_contents (path, json, len, NULL));
    }
  return dir;
}

static void
test_load (void)
{
  g_autofree char *dir = make_tree (3, 5, 0, 24, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaDataset) d = hepa_dataset_load (dir, &error);
  g_autoptr(HepaDataset) again = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (d->n_classes, ==, 3);
  g_assert_cmpstr (d->classes[1], ==, "hcc");
  g_assert_cmpuint (d->samples->len, ==, 15);
  g_assert_false (d->has_manifest);
  g_assert_cmpuint (d->n_groups, ==, 15);
  g_assert_cmpuint (hepa_dataset_count (d, 2), ==, 5);
  g_assert_cmpuint (strlen (d->hash), ==, 64);
  again = hepa_dataset_load (dir, &error);
  g_assert_cmpstr (again->hash, ==, d->hash);
  g_clear_pointer (&again, hepa_dataset_free);

  /* An export's native/ and frames/ folders are not classes. */
  {
    g_autofree char *frames = g_build_filename (dir, "frames", NULL);
    g_autofree char *native = g_build_filename (dir, "native", "cyst", NULL);
    g_autofree char *f1 = g_build_filename (frames, "f.png", NULL);
    g_autofree char *f2 = g_build_filename (native, "n.png", NULL);
    g_autoptr(GRand) rand = g_rand_new_with_seed (8);

    g_assert_cmpint (g_mkdir_with_parents (frames, 0755), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (native, 0755), ==, 0);
    write_pattern (f1, 0, 20, 20, rand);
    write_pattern (f2, 0, 20, 20, rand);
    again = hepa_dataset_load (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (again->n_classes, ==, 3);
    g_assert_cmpuint (again->samples->len, ==, 15);
  }
  hepa_test_rmtree (dir);
}

static void
expect_error (const char *dir,
              const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaDataset) d = hepa_dataset_load (dir, &error);

  if (d != NULL)
    {
      HepaModelCard card = { 0 };
      card.input_size = 32;
      card.grayscale = TRUE;
      card.std[0] = card.std[1] = card.std[2] = 1;
      g_assert_false (hepa_dataset_preload (d, &card, NULL, NULL, NULL, &error));
    }
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, fragment));
}

static void
test_bad_input (void)
{
  g_autofree char *dir = make_tree (2, 3, 0, 24, 2);
  g_autofree char *empty = g_build_filename (dir, "ffs", NULL);
  g_autofree char *bad = g_build_filename (dir, "cyst", "broken.png", NULL);
  g_autofree char *tiny = g_build_filename (dir, "hcc", "tiny.png", NULL);
  g_autofree char *hcc = g_build_filename (dir, "hcc", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);

  /* An empty class folder */
  g_assert_cmpint (g_mkdir (empty, 0755), ==, 0);
  expect_error (dir, "ffs: class folder has no PNG or JPEG images");
  g_assert_cmpint (g_rmdir (empty), ==, 0);

  /* An unreadable image */
  g_assert_true (g_file_set_contents (bad, "not a png", -1, NULL));
  expect_error (dir, "broken.png");
  g_assert_cmpint (g_unlink (bad), ==, 0);

  /* A tiny image */
  write_pattern (tiny, 1, 8, 8, rand);
  expect_error (dir, "tiny.png: image is 8 x 8 pixels");
  g_assert_cmpint (g_unlink (tiny), ==, 0);

  /* One class only */
  hepa_test_rmtree (hcc);
  expect_error (dir, "at least two class folders");

  /* Not a folder */
  expect_error ("/nonexistent/hepascope", "not a folder");
  hepa_test_rmtree (dir);
}

/* With a manifest, the classes come in its order (the model card's), not sorted. */
static void
test_manifest_class_order (void)
{
  g_autofree char *dir = make_tree (3, 4, 2, 20, 9);
  g_autofree char *path = g_build_filename (dir, "manifest.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaManifest) m = hepa_manifest_load (dir, &error);
  g_autoptr(HepaDataset) d = NULL;
  g_autofree char *json = NULL;
  gsize len;

  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (m->classes), ==, 3);
  /* cyst, hcc, non_fll -> non_fll, cyst, hcc */
  g_free (m->classes[0]);
  g_free (m->classes[1]);
  g_free (m->classes[2]);
  m->classes[0] = g_strdup ("non_fll");
  m->classes[1] = g_strdup ("cyst");
  m->classes[2] = g_strdup ("hcc");
  json = hepa_manifest_to_json (m, &len);
  g_assert_true (g_file_set_contents (path, json, len, NULL));

  d = hepa_dataset_load (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (d->n_classes, ==, 3);
  g_assert_cmpstr (d->classes[0], ==, "non_fll");
  g_assert_cmpstr (d->classes[1], ==, "cyst");
  g_assert_cmpstr (d->classes[2], ==, "hcc");
  for (guint i = 0; i < d->samples->len; i++)
    {
      const HepaSample *s = g_ptr_array_index (d->samples, i);

      g_assert_true (g_str_has_prefix (s->rel, d->classes[s->label]));
    }
  hepa_test_rmtree (dir);
}

static void
test_split_grouped (void)
{
  g_autofree char *dir = make_tree (3, 12, 6, 20, 4);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaDataset) d = hepa_dataset_load (dir, &error);
  int fold_of[36], again[36];
  g_autoptr(GHashTable) fold_of_patient = g_hash_table_new (NULL, NULL);
  guint per_fold[3][3] = { { 0 } };

  g_assert_no_error (error);
  g_assert_true (d->has_manifest);
  g_assert_cmpuint (d->n_classes, ==, 3);
  g_assert_cmpuint (d->n_groups, ==, 6);
  g_assert_true (hepa_dataset_split (d, 3, 7, fold_of, &error));
  for (guint i = 0; i < 36; i++)
    {
      const HepaSample *s = g_ptr_array_index (d->samples, i);
      gpointer f;

      /* No patient in two folds. */
      if (g_hash_table_lookup_extended (fold_of_patient, GINT_TO_POINTER (s->group), NULL, &f))
        g_assert_cmpint (GPOINTER_TO_INT (f), ==, fold_of[i]);
      else
        g_hash_table_insert (fold_of_patient, GINT_TO_POINTER (s->group),
                             GINT_TO_POINTER (fold_of[i]));
      per_fold[fold_of[i]][s->label]++;
    }
  /* Stratified: 6 patients with 2 images per class each -> 4 per class per fold. */
  for (int f = 0; f < 3; f++)
    for (int c = 0; c < 3; c++)
      g_assert_cmpuint (per_fold[f][c], ==, 4);
  g_assert_true (hepa_dataset_split (d, 3, 7, again, &error));
  g_assert_cmpmem (fold_of, sizeof fold_of, again, sizeof again);

  /* Fewer patients than folds */
  g_assert_false (hepa_dataset_split (d, 7, 7, fold_of, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "6 patients for 7 folds"));
  hepa_test_rmtree (dir);
}

static void
test_split_by_image (void)
{
  const int per_class[3] = { 11, 7, 4 };
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaDataset) d = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  int fold_of[22];
  guint n[5] = { 0 }, nc[5][3] = { { 0 } };

  for (int c = 0; c < 3; c++)
    {
      g_autofree char *cdir = g_build_filename (dir, class_names[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (cdir, 0755), ==, 0);
      for (int i = 0; i < per_class[c]; i++)
        {
          g_autofree char *name = g_strdup_printf ("%d.png", i);
          g_autofree char *path = g_build_filename (cdir, name, NULL);
          write_pattern (path, c, 16, 16, rand);
        }
    }
  d = hepa_dataset_load (dir, &error);
  g_assert_no_error (error);
  g_assert_true (hepa_dataset_split (d, 5, 1, fold_of, &error));
  for (int i = 0; i < 22; i++)
    {
      n[fold_of[i]]++;
      nc[fold_of[i]][((HepaSample *) g_ptr_array_index (d->samples, i))->label]++;
    }
  /* Equal sizes (22 = 4 + 4 + 4 + 5 + 5) and each class spread within one image. */
  for (int f = 0; f < 5; f++)
    {
      g_assert_cmpuint (n[f], >=, 4);
      g_assert_cmpuint (n[f], <=, 5);
      for (int c = 0; c < 3; c++)
        {
          g_assert_cmpuint (nc[f][c], >=, per_class[c] / 5);
          g_assert_cmpuint (nc[f][c], <=, (per_class[c] + 4) / 5);
        }
    }
  hepa_test_rmtree (dir);
}

typedef struct
{
  GCancellable *cancellable;
  int           cancel_at;
  int           calls;
} CancelAt;

static void
cancel_progress_cb (const HepaTrainProgress *p,
                    gpointer                 user_data)
{
  CancelAt *c = user_data;

  c->calls++;
  if (c->cancel_at > 0 && p->global_step == c->cancel_at)
    g_cancellable_cancel (c->cancellable);
}

static void
small_options (HepaTrainOptions *o)
{
  hepa_train_options_init (o);
  o->arch = HEPA_ARCH_RESNET18;
  o->size = 32;
  o->batch = 4;
  o->epochs = 2;
  o->folds = 2;
  o->lr = 0.01;
  o->seed = 11;
}

static HepaWeights *
load_weights (const char *path)
{
  g_autoptr(GError) error = NULL;
  HepaWeights *w = hepa_safetensors_load (path, &error);

  g_assert_no_error (error);
  return w;
}

static void
assert_same_weights (const char *a,
                     const char *b)
{
  g_autoptr(HepaWeights) wa = load_weights (a);
  g_autoptr(HepaWeights) wb = load_weights (b);

  g_assert_cmpuint (hepa_weights_get_n (wa), ==, hepa_weights_get_n (wb));
  for (guint i = 0; i < hepa_weights_get_n (wa); i++)
    {
      const HepaTensorEntry *ea = hepa_weights_get_nth (wa, i);
      const HepaTensorEntry *eb = hepa_weights_lookup (wb, ea->name);
      g_assert_nonnull (eb);
      g_assert_cmpint (ea->n_elements, ==, eb->n_elements);
      if (memcmp (ea->data, eb->data, sizeof (float) * ea->n_elements) != 0)
        g_error ("tensor %s differs", ea->name);
    }
}

/* Same seed, same model, bit for bit; a Ctrl-C checkpoint resumes to the same model too. */
static void
test_deterministic_resume (void)
{
  g_autofree char *dir = make_tree (2, 6, 0, 24, 6);
  g_autofree char *out = hepa_test_mkdtemp ();
  g_autofree char *m1 = g_build_filename (out, "a.safetensors", NULL);
  g_autofree char *m2 = g_build_filename (out, "b.safetensors", NULL);
  g_autofree char *m3 = g_build_filename (out, "c.safetensors", NULL);
  g_autofree char *ckpt = g_strconcat (m3, ".checkpoint", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaDataset) d = hepa_dataset_load (dir, &error);
  g_autoptr(HepaTrainResult) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  CancelAt cancel = { cancellable, 5, 0 };
  HepaTrainOptions o;
  g_autoptr(HepaModel) model = NULL;

  small_options (&o);
  r1 = hepa_train_run (d, &o, m1, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r1->runs->len, ==, 3);   /* 2 folds + final */
  g_assert_nonnull (((HepaTrainRun *) g_ptr_array_index (r1->runs, 0))->metrics);
  g_assert_null (((HepaTrainRun *) g_ptr_array_index (r1->runs, 2))->metrics);
  r2 = hepa_train_run (d, &o, m2, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_same_weights (m1, m2);

  /* Interrupt at step 5 (inside the second fold), then resume. */
  r3 = hepa_train_run (d, &o, m3, NULL, cancel_progress_cb, &cancel, cancellable, &error);
  g_assert_no_error (error);
  g_assert_true (r3->interrupted);
  g_assert_true (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (m3, G_FILE_TEST_EXISTS));
  r4 = hepa_train_run (d, &o, m3, ckpt, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (r4->interrupted);
  g_assert_cmpuint (r4->runs->len, ==, 3);
  assert_same_weights (m1, m3);
  g_assert_false (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  for (guint i = 0; i < 2; i++)
    {
      HepaTrainRun *a = g_ptr_array_index (r1->runs, i), *b = g_ptr_array_index (r4->runs, i);
      g_assert_cmpfloat (a->metrics->accuracy, ==, b->metrics->accuracy);
      g_assert_cmpfloat (a->train_loss[1], ==, b->train_loss[1]);
    }

  /* The model loads in the engine with its card. */
  model = hepa_model_load (m1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hepa_model_get_card (model)->n_classes, ==, 2);
  g_assert_cmpstr (hepa_model_get_card (model)->classes[1], ==, "hcc");
  g_assert_cmpint (hepa_model_get_card (model)->input_size, ==, 32);
  g_assert_true (hepa_model_get_card (model)->grayscale);
  g_assert_nonnull (strstr (hepa_model_get_card (model)->json, "not for diagnosis"));
  g_assert_nonnull (strstr (hepa_model_get_card (model)->json, "\"cross_validation\""));
  g_assert_nonnull (strstr (hepa_model_get_card (model)->json, d->hash));

  /* Resuming on other data is refused. */
  {
    g_autofree char *other = make_tree (2, 5, 0, 24, 9);
    g_autoptr(HepaDataset) d2 = hepa_dataset_load (other, &error);
    g_autoptr(HepaTrainResult) r5 = NULL;
    g_autoptr(GCancellable) c2 = g_cancellable_new ();
    CancelAt cancel2 = { c2, 2, 0 };

    r5 = hepa_train_run (d, &o, m3, NULL, cancel_progress_cb, &cancel2, c2, &error);
    g_assert_no_error (error);
    g_clear_pointer (&r5, hepa_train_result_free);
    r5 = hepa_train_run (d2, &o, m3, ckpt, NULL, NULL, NULL, &error);
    g_assert_null (r5);
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    hepa_test_rmtree (other);
  }
  hepa_train_options_clear (&o);
  hepa_test_rmtree (dir);
  hepa_test_rmtree (out);
}

/* --init: a model for two classes starts a three-class job (head re-initialized); eval refuses
 * data with a class the model lacks. */
static void
test_init_and_eval (void)
{
  g_autofree char *dir2 = make_tree (2, 4, 0, 24, 12);
  g_autofree char *dir3 = make_tree (3, 4, 0, 24, 13);
  g_autofree char *out = hepa_test_mkdtemp ();
  g_autofree char *m2 = g_build_filename (out, "two.safetensors", NULL);
  g_autofree char *m3 = g_build_filename (out, "three.safetensors", NULL);
  g_autofree char *bad = g_build_filename (out, "bad.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaDataset) d2 = hepa_dataset_load (dir2, &error);
  g_autoptr(HepaDataset) d3 = hepa_dataset_load (dir3, &error);
  g_autoptr(HepaTrainResult) r = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaTrainRun) run = NULL;
  HepaTrainOptions o;

  small_options (&o);
  o.folds = 1;
  o.epochs = 1;
  r = hepa_train_run (d2, &o, m2, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&r, hepa_train_result_free);

  o.init = g_strdup (m2);
  r = hepa_train_run (d3, &o, m3, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  g_clear_pointer (&r, hepa_train_result_free);

  /* An init of the wrong architecture is refused before training. */
  o.arch = HEPA_ARCH_RESNET50;
  r = hepa_train_run (d3, &o, bad, NULL, NULL, NULL, NULL, &error);
  g_assert_null (r);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_MODEL);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (g_file_test (bad, G_FILE_TEST_EXISTS));

  /* Fewer groups than folds is refused before training. */
  o.arch = HEPA_ARCH_RESNET18;
  o.folds = 20;
  r = hepa_train_run (d3, &o, bad, NULL, NULL, NULL, NULL, &error);
  g_assert_null (r);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* eval: the two-class model on three-class data. */
  model = hepa_model_load (m2, &error);
  g_assert_no_error (error);
  run = hepa_train_evaluate (model, d3, NULL, &error);
  g_assert_null (run);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "non_fll"));
  g_clear_error (&error);
  run = hepa_train_evaluate (model, d2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (run->metrics->n, ==, 8);
  g_assert_cmpuint (run->metrics->n_classes, ==, 2);

  hepa_train_options_clear (&o);
  hepa_test_rmtree (dir2);
  hepa_test_rmtree (dir3);
  hepa_test_rmtree (out);
}

static void
test_report_plots (void)
{
  g_autofree char *out = hepa_test_mkdtemp ();
  g_autofree char *png = g_build_filename (out, "c.png", NULL);
  g_autoptr(GError) error = NULL;
  guint confusion[4] = { 5, 1, 2, 7 };
  char *classes[] = { (char *) "cyst", (char *) "hcc", NULL };
  int labels[4] = { 0, 0, 1, 1 };
  float probs[8] = { 0.9f, 0.1f, 0.4f, 0.6f, 0.3f, 0.7f, 0.2f, 0.8f };
  g_autoptr(HepaImage) image = NULL;

  g_assert_true (hepa_report_plot_confusion (confusion, 2, classes, "t", png, &error));
  g_assert_no_error (error);
  image = hepa_image_open (png, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hepa_image_get_width (image), >, 200);
  g_clear_pointer (&image, hepa_image_unref);
  g_assert_true (hepa_report_plot_roc (labels, probs, 4, 2, classes, png, &error));
  g_assert_no_error (error);
  /* An unwritable place is an error, not a crash. */
  g_assert_false (hepa_report_plot_roc (labels, probs, 4, 2, classes,
                                        "/nonexistent/dir/roc.png", &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  hepa_test_rmtree (out);
}

/* Leaves the first @keep images of class @c (file names c<c>-NNN.png). */
static void
cut_class (const char *dir,
           int         c,
           int         per_class,
           int         keep)
{
  for (int i = keep; i < per_class; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/c%d-%03d.png", class_names[c], c, i);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
}

typedef struct
{
  guint  n, copies, hflips, vflips, whole;
  float  scale_min, scale_max, tx_min, tx_max;
  double scale_sum, tx_sum;
} AugStats;

static void
aug_stats (GArray   *augs,
           AugStats *st)
{
  memset (st, 0, sizeof *st);
  st->scale_min = st->tx_min = INFINITY;
  st->scale_max = st->tx_max = -INFINITY;
  for (guint i = 0; i < augs->len; i++)
    {
      const HepaTrainAug *a = &g_array_index (augs, HepaTrainAug, i);

      st->n++;
      st->hflips += a->hflip != 0;
      st->vflips += a->vflip != 0;
      st->whole += a->tx == rintf (a->tx) && a->ty == rintf (a->ty);
      st->tx_min = MIN (st->tx_min, MIN (a->tx, a->ty));
      st->tx_max = MAX (st->tx_max, MAX (a->tx, a->ty));
      st->tx_sum += a->tx + a->ty;
      if (!a->copy)
        {
          g_assert_cmpfloat (a->scale, ==, 1.0f);
          continue;
        }
      st->copies++;
      st->scale_min = MIN (st->scale_min, a->scale);
      st->scale_max = MAX (st->scale_max, a->scale);
      st->scale_sum += a->scale;
    }
}

/* Issue 27 / 25 item 4: the augmentation the trainer draws is what its options say, measured
 * over the epochs of a run on an imbalanced tree (40 / 10 / 5 images: 65 balancing copies). */
static void
test_augment_flags (void)
{
  g_autofree char *dir = make_tree (3, 40, 0, 16, 31);
  g_autoptr(HepaDataset) data = NULL;
  g_autoptr(GError) error = NULL;
  HepaTrainOptions opts;
  const int epochs = 6;
  g_autofree float *first_scale = NULL;
  guint changed = 0;
  AugStats st;

  cut_class (dir, 1, 40, 10);
  cut_class (dir, 2, 40, 5);
  data = hepa_dataset_load (dir, &error);
  g_assert_no_error (error);

  /* Defaults, as the torchvision reference: copies rescaled once in [0.9, 1.1], whole-pixel
   * translation within round (0.1 * 64) = 6 pixels, horizontal flips only. */
  hepa_train_options_init (&opts);
  opts.size = 64;
  g_assert_cmpfloat (opts.rescale, ==, 0.1);
  g_assert_false (opts.copies_per_epoch);
  g_assert_false (opts.subpixel);
  g_assert_false (opts.zero_init_residual);
  first_scale = g_new (float, 120);
  for (int e = 0; e < epochs; e++)
    {
      g_autoptr(GArray) augs = hepa_train_epoch_augs (data, &opts, NULL, 0, e);

      g_assert_cmpuint (augs->len, ==, 120);
      aug_stats (augs, &st);
      g_assert_cmpuint (st.copies, ==, 65);
      g_assert_cmpuint (st.whole, ==, st.n);
      g_assert_cmpfloat (st.tx_min, ==, -6.0f);
      g_assert_cmpfloat (st.tx_max, ==, 6.0f);
      g_assert_cmpfloat (fabs (st.tx_sum / (2 * st.n)), <, 1.0);
      g_assert_cmpuint (st.hflips, >, st.n * 35 / 100);
      g_assert_cmpuint (st.hflips, <, st.n * 65 / 100);
      g_assert_cmpuint (st.vflips, ==, 0);
      g_assert_cmpfloat (st.scale_min, >=, 0.9f);
      g_assert_cmpfloat (st.scale_max, <=, 1.1f);
      g_assert_cmpfloat (st.scale_max - st.scale_min, >, 0.15f);
      g_assert_cmpfloat (fabs (st.scale_sum / st.copies - 1.0), <, 0.02);
      /* Drawn once: each copy (a list entry) keeps its scale in every epoch. */
      for (guint i = 0; i < augs->len; i++)
        {
          const HepaTrainAug *a = &g_array_index (augs, HepaTrainAug, i);
          if (e == 0)
            first_scale[a->entry] = a->scale;
          else
            g_assert_cmpfloat (first_scale[a->entry], ==, a->scale);
        }
    }

  /* The previous behaviour, one switch each: copies rescaled anew every epoch within +-15 %,
   * translation by fractions of a pixel, vertical flips. */
  opts.copies_per_epoch = TRUE;
  opts.rescale = 0.15;
  opts.subpixel = TRUE;
  opts.vflip = TRUE;
  for (int e = 0; e < epochs; e++)
    {
      g_autoptr(GArray) augs = hepa_train_epoch_augs (data, &opts, NULL, 0, e);

      aug_stats (augs, &st);
      g_assert_cmpuint (st.copies, ==, 65);
      g_assert_cmpuint (st.whole, <, st.n / 20);
      g_assert_cmpfloat (st.tx_min, >=, -6.4f);
      g_assert_cmpfloat (st.tx_max, <=, 6.4f);
      g_assert_cmpfloat (st.tx_max - st.tx_min, >, 11.0f);
      g_assert_cmpuint (st.vflips, >, st.n * 35 / 100);
      g_assert_cmpuint (st.vflips, <, st.n * 65 / 100);
      g_assert_cmpfloat (st.scale_min, >=, 0.85f);
      g_assert_cmpfloat (st.scale_max, <=, 1.15f);
      g_assert_cmpfloat (st.scale_max - st.scale_min, >, 0.24f);
      for (guint i = 0; i < augs->len; i++)
        {
          const HepaTrainAug *a = &g_array_index (augs, HepaTrainAug, i);
          if (e == 0)
            first_scale[a->entry] = a->scale;
          else if (a->copy)
            changed += first_scale[a->entry] != a->scale;
        }
    }
  /* Every copy got a new scale in (nearly) every later epoch. */
  g_assert_cmpuint (changed, >, 65 * (epochs - 1) * 95 / 100);
  hepa_train_options_clear (&opts);
  hepa_test_rmtree (dir);
}

/* Zero-init of the last batch norm of each residual block: off by default (torchvision's
 * default), on with zero_init_residual; seen in the traced initial weights. */
static void
test_zero_init_flag (void)
{
  g_autofree char *dir = make_tree (2, 4, 0, 32, 5);
  g_autofree char *out = hepa_test_mkdtemp ();
  g_autoptr(HepaDataset) data = hepa_dataset_load (dir, NULL);

  for (int zero = 0; zero < 2; zero++)
    {
      g_autofree char *trace = g_build_filename (out, zero ? "zero" : "plain", NULL);
      g_autofree char *model = g_build_filename (out, "m.safetensors", NULL);
      g_autofree char *init = g_build_filename (trace, "init.safetensors", NULL);
      g_autoptr(HepaTrainResult) r = NULL;
      g_autoptr(HepaWeights) w = NULL;
      g_autoptr(GError) error = NULL;
      const HepaTensorEntry *bn2, *bn1;
      HepaTrainOptions opts;

      hepa_train_options_init (&opts);
      opts.arch = HEPA_ARCH_RESNET18;
      opts.size = 32;
      opts.batch = 4;
      opts.epochs = 1;
      opts.folds = 1;
      opts.max_steps = 1;
      opts.zero_init_residual = zero;
      opts.trace = g_strdup (trace);
      opts.trace_steps = 1;
      r = hepa_train_run (data, &opts, model, NULL, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (r);
      w = hepa_model_file_load (init, &error);
      g_assert_no_error (error);
      bn2 = hepa_weights_lookup (w, "layer3.1.bn2.weight");
      bn1 = hepa_weights_lookup (w, "layer3.1.bn1.weight");
      g_assert_nonnull (bn2);
      g_assert_nonnull (bn1);
      for (gint64 i = 0; i < bn2->shape[0]; i++)
        {
          g_assert_cmpfloat (bn2->data[i], ==, zero ? 0.0f : 1.0f);
          g_assert_cmpfloat (bn1->data[i], ==, 1.0f);
        }
      hepa_train_options_clear (&opts);
    }
  hepa_test_rmtree (out);
  hepa_test_rmtree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/train/load", test_load);
  g_test_add_func ("/core/train/bad-input", test_bad_input);
  g_test_add_func ("/core/train/manifest-class-order", test_manifest_class_order);
  g_test_add_func ("/core/train/split-grouped", test_split_grouped);
  g_test_add_func ("/core/train/split-by-image", test_split_by_image);
  g_test_add_func ("/core/train/deterministic-resume", test_deterministic_resume);
  g_test_add_func ("/core/train/init-and-eval", test_init_and_eval);
  g_test_add_func ("/core/train/report-plots", test_report_plots);
  g_test_add_func ("/core/train/augment-flags", test_augment_flags);
  g_test_add_func ("/core/train/zero-init-flag", test_zero_init_flag);
  return g_test_run ();
}
