/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-calibrate.h"
#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-model.h"
#include "hepa-weights-private.h"
#include "hepa-test-utils.h"
#include "hepa-safetensors.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define CARD_5 \
  "{\"name\": \"fll-test\", \"arch\": \"resnet18\", " \
  "\"classes\": [\"non_fll\", \"cyst\", \"hemangioma\", \"ffs\", \"hcc\"], " \
  "\"input_size\": 64, " \
  "\"preprocess\": {\"grayscale\": true, \"resize\": \"letterbox\", " \
  "\"mean\": [0.5, 0.5, 0.5], \"std\": [0.25, 0.25, 0.25]}, " \
  "\"trained_on\": {\"name\": \"synthetic\", \"sha256\": \"00\"}, " \
  "\"metrics\": {\"accuracy\": 0.5}, \"created\": \"2026-11-27T09:00:00Z\", " \
  "\"software_version\": \"0.1.0\", \"intended_use\": \"tests\", \"warnings\": []}"

typedef struct
{
  char        *dir;
  char        *path;
  HepaWeights *weights;  /* resnet18, 5 classes, seed 3 */
} Fixture;

/* Generated once; each test gets a copy of the list that points at the same data. */
static HepaWeights *
shared_weights (void)
{
  static HepaWeights *weights;

  if (weights == NULL)
    weights = hepa_model_random_weights (HEPA_ARCH_RESNET18, 5, 3);
  return weights;
}

static HepaWeights *
shallow_copy (HepaWeights *src)
{
  HepaWeights *copy = hepa_weights_new ();

  for (guint i = 0; i < hepa_weights_get_n (src); i++)
    {
      const HepaTensorEntry *e = hepa_weights_get_nth (src, i);

      hepa_weights_take_data (copy, e->name, e->stored_dtype, e->ndim, e->shape, e->data, FALSE);
    }
  return copy;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->dir = hepa_test_mkdtemp ();
  fixture->path = g_build_filename (fixture->dir, "liver-net.safetensors", NULL);
  fixture->weights = shallow_copy (shared_weights ());
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  hepa_weights_free (fixture->weights);
  hepa_test_rmtree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
}

static char *
file_sha256 (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, len);
}

static void
forward_logits (HepaModel *model,
                float     *logits)
{
  const HepaResnet *net = hepa_model_get_network (model);
  int size = hepa_model_get_card (model)->input_size;
  HepaResnetWorkspace *ws = hepa_resnet_workspace_new (net, 1, size);
  g_autofree float *input = g_new (float, 3 * size * size);

  for (int i = 0; i < 3 * size * size; i++)
    input[i] = hepa_nn_seeded_uniform (5, (guint64) i);
  g_assert_cmpint (hepa_resnet_forward (net, ws, input, 1, logits, NULL, NULL), ==, 0);
  hepa_resnet_workspace_free (ws);
}

static void
test_card (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autofree char *sha = NULL;
  g_autofree char *expected_id = NULL;
  const HepaModelCard *card;

  hepa_weights_set_metadata (fixture->weights, "hepascope.card", CARD_5);
  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path, HEPA_DTYPE_F32,
                                                &error));
  model = hepa_model_load (fixture->path, &error);
  g_assert_no_error (error);
  card = hepa_model_get_card (model);
  g_assert_true (card->has_card);
  g_assert_cmpstr (card->arch, ==, "resnet18");
  g_assert_cmpuint (card->n_classes, ==, 5);
  g_assert_cmpstr (card->classes[1], ==, "cyst");
  g_assert_cmpstr (card->classes[4], ==, "hcc");
  g_assert_null (card->classes[5]);
  g_assert_cmpint (card->input_size, ==, 64);
  g_assert_true (card->grayscale);
  g_assert_cmpint (card->resize, ==, HEPA_RESIZE_LETTERBOX);
  g_assert_cmpfloat (card->mean[2], ==, 0.5f);
  g_assert_cmpfloat (card->std[0], ==, 0.25f);
  g_assert_nonnull (strstr (card->json, "intended_use"));
  sha = file_sha256 (fixture->path);
  g_assert_cmpstr (card->sha256, ==, sha);
  expected_id = g_strdup_printf ("fll-test-%.12s", sha);
  g_assert_cmpstr (card->id, ==, expected_id);
  g_assert_cmpint (hepa_resnet_get_arch (hepa_model_get_network (model)), ==, HEPA_ARCH_RESNET18);
}

/* The card's trust fields (calibration, OOD reference, training ROI sizes) survive the writer
 * and the reader, and the engine uses them; untyped members are kept. */
static void
test_card_trust_round_trip (Fixture       *fixture,
                            gconstpointer  user_data)
{
  const guint n = 200, dim = 512, nc = 5;
  g_autofree float *features = g_new (float, (gsize) n * dim);
  g_autofree float *logits = g_new (float, (gsize) n * nc);
  g_autofree guint *labels = g_new (guint, n);
  g_autofree double *px = g_new (double, n);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) base = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaEngine) engine = NULL;
  g_autoptr(HepaResult) result = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  g_autofree char *desc_cal = NULL, *desc_ood = NULL;
  HepaModelCard *card;
  const HepaModelCard *back;
  g_autofree guint8 *rgb = g_malloc (96 * 80 * 3);
  HepaFrame frame = { 96, 80, HEPA_PIXEL_RGB8, 96 * 3, NULL, 8, 0, 0 };
  gboolean saw_calibration = FALSE;

  for (guint i = 0; i < n; i++)
    {
      labels[i] = i % nc;
      for (guint j = 0; j < dim; j++)
        features[(gsize) i * dim + j] = (float) (g_rand_double_range (rand, 0, 1)
                                                 + (j % nc == labels[i] ? 2 : 0));
      for (guint k = 0; k < nc; k++)
        logits[(gsize) i * nc + k] = (float) (g_rand_double_range (rand, -1, 1)
                                              + (k == labels[i] ? 3 : 0));
      px[i] = 50 + i % 100;
    }
  hepa_weights_set_metadata (fixture->weights, "hepascope.card", CARD_5);
  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path,
                                                HEPA_DTYPE_F32, &error));
  base = hepa_model_load (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_false (hepa_model_get_card (base)->calibrated);
  g_assert_null (hepa_model_get_card (base)->ood);

  card = hepa_model_card_copy (hepa_model_get_card (base));
  g_assert_true (hepa_calibrate_card (card, features, dim, logits, labels, n, 0.9,
                                      "unit test features", &error));
  g_assert_no_error (error);
  hepa_calibrate_roi_sizes (card, px, NULL, n);
  g_assert_true (card->calibrated);
  g_assert_nonnull (card->ood);
  g_assert_cmpuint (card->ood->rank, >, 0);
  g_assert_cmpfloat (card->ood->p99, >=, card->ood->p95);
  hepa_weights_set_metadata (fixture->weights, "hepascope.card", card->json);
  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path,
                                                HEPA_DTYPE_F32, &error));
  model = hepa_model_load (fixture->path, &error);
  g_assert_no_error (error);
  back = hepa_model_get_card (model);
  g_assert_true (back->calibrated);
  g_assert_cmpfloat_with_epsilon (back->temperature, card->temperature, 1e-9);
  g_assert_cmpfloat_with_epsilon (back->conformal_threshold, card->conformal_threshold, 1e-9);
  g_assert_cmpfloat_with_epsilon (back->coverage, 0.9, 1e-12);
  g_assert_cmpfloat_with_epsilon (back->ece_after, card->ece_after, 1e-9);
  g_assert_cmpstr (back->calibration_data, ==, "unit test features");
  g_assert_true (back->has_roi_px);
  g_assert_false (back->has_roi_mm);
  g_assert_cmpfloat_with_epsilon (back->roi_px[1], card->roi_px[1], 1e-9);
  g_assert_nonnull (back->ood);
  g_assert_cmpuint (back->ood->rank, ==, card->ood->rank);
  g_assert_cmpuint (back->ood->dim, ==, dim);
  g_assert_cmpfloat_with_epsilon (back->ood->p99, card->ood->p99, 1e-9);
  g_assert_cmpfloat_with_epsilon (back->ood->residual, card->ood->residual, 1e-9 * card->ood->residual);
  g_assert_cmpmem (back->ood->means, nc * dim * sizeof (float), card->ood->means,
                   nc * dim * sizeof (float));
  g_assert_cmpmem (back->ood->components, back->ood->rank * dim * sizeof (float),
                   card->ood->components, card->ood->rank * dim * sizeof (float));
  /* The same score from the copy read back. */
  g_assert_cmpfloat_with_epsilon (hepa_ood_score (back->ood, features),
                                  hepa_ood_score (card->ood, features), 1e-9);
  /* Untyped members are kept, typed ones written. */
  g_assert_nonnull (strstr (back->json, "\"trained_on\""));
  g_assert_nonnull (strstr (back->json, "\"software_version\""));
  g_assert_cmpstr (back->intended_use, ==, "tests");
  g_assert_cmpstr (back->name, ==, "fll-test");
  desc_cal = hepa_model_card_describe_calibration (back);
  desc_ood = hepa_model_card_describe_ood (back);
  g_assert_true (g_str_has_prefix (desc_cal, "Calibrated"));
  g_assert_true (g_str_has_prefix (desc_ood, "Out-of-distribution reference"));
  fields = hepa_model_card_get_display_fields (back);
  for (guint i = 0; i < fields->len; i++)
    {
      HepaCardField *f = g_ptr_array_index (fields, i);

      saw_calibration |= g_str_equal (f->label, "Calibration");
    }
  g_assert_true (saw_calibration);

  /* The engine applies them: a score, a set, calibrated probabilities. */
  for (gsize i = 0; i < 96 * 80 * 3; i++)
    rgb[i] = (guint8) (i * 7 % 251);
  frame.data = rgb;
  engine = hepa_engine_new (model, &error);
  g_assert_no_error (error);
  result = hepa_engine_classify (engine, &frame, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (result->calibrated);
  g_assert_nonnull (result->in_set);
  g_assert_true (isfinite (result->ood_score));
  g_assert_cmpfloat (result->ood_threshold, ==, back->ood->p99);
  g_assert_cmpuint (result->n_features, ==, dim);
  hepa_model_card_free (card);
}

/* A model whose card lacks the fields says so, and the engine leaves the answer as it was. */
static void
test_card_without_trust (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaEngine) engine = NULL;
  g_autoptr(HepaResult) result = NULL;
  g_autofree char *cal = NULL, *ood = NULL;
  g_autofree guint8 *rgb = g_malloc0 (64 * 64 * 3);
  HepaFrame frame = { 64, 64, HEPA_PIXEL_RGB8, 64 * 3, NULL, 8, 0, 0 };
  const HepaModelCard *card;
  float expected[5];

  hepa_weights_set_metadata (fixture->weights, "hepascope.card", CARD_5);
  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path,
                                                HEPA_DTYPE_F32, &error));
  model = hepa_model_load (fixture->path, &error);
  g_assert_no_error (error);
  card = hepa_model_get_card (model);
  cal = hepa_model_card_describe_calibration (card);
  ood = hepa_model_card_describe_ood (card);
  g_assert_cmpstr (cal, ==, "Not calibrated");
  g_assert_cmpstr (ood, ==, "No out-of-distribution reference");
  frame.data = rgb;
  engine = hepa_engine_new (model, &error);
  result = hepa_engine_classify (engine, &frame, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (result->calibrated);
  g_assert_null (result->in_set);
  g_assert_true (isnan (result->ood_score));
  g_assert_false (result->ood_outside);
  /* Plain softmax of the logits. */
  {
    double mx = -INFINITY, sum = 0;

    for (int k = 0; k < 5; k++)
      mx = MAX (mx, result->logits[k]);
    for (int k = 0; k < 5; k++)
      sum += expected[k] = (float) exp (result->logits[k] - mx);
    for (int k = 0; k < 5; k++)
      g_assert_cmpfloat_with_epsilon (result->probabilities[k], expected[k] / sum, 1e-5);
  }
  /* A damaged trust member is one clear error, not a crash. */
  hepa_weights_set_metadata (fixture->weights, "hepascope.card",
                             "{\"arch\": \"resnet18\", \"classes\": [\"a\", \"b\", \"c\", "
                             "\"d\", \"e\"], \"calibration\": {\"temperature\": -1}}");
  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path,
                                                HEPA_DTYPE_F32, &error));
  g_clear_pointer (&model, hepa_model_unref);
  model = hepa_model_load (fixture->path, &error);
  g_assert_null (model);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "calibration.temperature"));
}

static void
test_no_card (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autofree char *sha = NULL;
  g_autofree char *expected_id = NULL;
  const HepaModelCard *card;

  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path, HEPA_DTYPE_F16,
                                                &error));
  model = hepa_model_load (fixture->path, &error);
  g_assert_no_error (error);
  card = hepa_model_get_card (model);
  g_assert_false (card->has_card);
  g_assert_cmpstr (card->arch, ==, "resnet18");
  g_assert_cmpuint (card->n_classes, ==, 5);
  g_assert_cmpstr (card->classes[0], ==, "class0");
  g_assert_cmpstr (card->classes[4], ==, "class4");
  g_assert_cmpint (card->input_size, ==, 224);
  g_assert_false (card->grayscale);
  g_assert_cmpint (card->resize, ==, HEPA_RESIZE_STRETCH);
  g_assert_cmpfloat_with_epsilon (card->mean[0], 0.485f, 1e-7);
  g_assert_cmpfloat_with_epsilon (card->std[2], 0.225f, 1e-7);
  g_assert_nonnull (strstr (card->json, "No model card"));
  sha = file_sha256 (fixture->path);
  expected_id = g_strdup_printf ("liver-net-%.12s", sha);
  g_assert_cmpstr (card->id, ==, expected_id);
}

static void
test_same_logits (Fixture       *fixture,
                  gconstpointer  user_data)
{
  /* Saved and loaded (F32 exactly, F16 closely), the model computes what the in-memory one
   * computes. */
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) direct = hepa_model_new_random (HEPA_ARCH_RESNET18, 5, NULL, 64, 3);
  g_autoptr(HepaModel) loaded = NULL;
  g_autoptr(HepaModel) loaded16 = NULL;
  float a[5], b[5], c[5];
  float scale = 0;

  hepa_weights_set_metadata (fixture->weights, "hepascope.card",
                             "{\"arch\": \"resnet18\", \"classes\": [\"a\",\"b\",\"c\",\"d\",\"e\"],"
                             " \"input_size\": 64}");
  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path, HEPA_DTYPE_F32,
                                                &error));
  loaded = hepa_model_load (fixture->path, &error);
  g_assert_no_error (error);
  forward_logits (direct, a);
  forward_logits (loaded, b);
  hepa_assert_allclose (b, a, 5, 0, 0);

  g_assert_true (hepa_safetensors_save (fixture->weights, fixture->path, HEPA_DTYPE_F16,
                                                &error));
  loaded16 = hepa_model_load (fixture->path, &error);
  g_assert_no_error (error);
  forward_logits (loaded16, c);
  for (int k = 0; k < 5; k++)
    scale = MAX (scale, fabsf (a[k]));
  hepa_assert_allclose (c, a, 5, 0, 2e-2 * scale);
}

typedef struct
{
  const char *name;
  const char *remove;     /* tensor to drop, or NULL */
  const char *add;        /* tensor to add (shape [3]), or NULL */
  const char *reshape;    /* tensor to replace with shape [3], or NULL */
  const char *card;       /* card JSON, or NULL */
  const char *needle;
} BadModel;

static const BadModel bad_models[] = {
  { "missing-tensor", "layer3.1.bn2.running_var", NULL, NULL, NULL,
    "Missing tensor “layer3.1.bn2.running_var” for resnet18" },
  { "unknown-tensor", NULL, "layer5.0.conv1.weight", NULL, NULL,
    "Unknown tensor “layer5.0.conv1.weight” for resnet18" },
  { "wrong-shape", NULL, NULL, "layer2.0.conv1.weight", NULL,
    "Tensor “layer2.0.conv1.weight” has shape [3]; resnet18 with 5 classes needs [128, 64, 3, 3]" },
  { "no-fc", "fc.weight", NULL, NULL, NULL, "Missing tensor “fc.weight”" },
  { "not-resnet", "layer1.0.conv1.weight", NULL, NULL, NULL, "Not a ResNet" },
  { "card-not-json", NULL, NULL, NULL, "{arch", "not valid JSON" },
  { "card-arch-mismatch", NULL, NULL, NULL,
    "{\"arch\": \"resnet50\", \"classes\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}",
    "says resnet50 but the tensors are resnet18" },
  { "card-arch-unknown", NULL, NULL, NULL,
    "{\"arch\": \"vgg16\", \"classes\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "arch must be" },
  { "card-class-count", NULL, NULL, NULL,
    "{\"arch\": \"resnet18\", \"classes\": [\"a\",\"b\"]}", "names 2 classes but “fc.weight” has 5" },
  { "card-duplicate-class", NULL, NULL, NULL,
    "{\"arch\": \"resnet18\", \"classes\": [\"a\",\"b\",\"a\",\"d\",\"e\"]}", "class “a” twice" },
  { "card-no-classes", NULL, NULL, NULL, "{\"arch\": \"resnet18\"}", "no list of classes" },
  { "card-bad-resize", NULL, NULL, NULL,
    "{\"arch\": \"resnet18\", \"classes\": [\"a\",\"b\",\"c\",\"d\",\"e\"], "
    "\"preprocess\": {\"resize\": \"crop\"}}", "preprocess.resize" },
  { "card-zero-std", NULL, NULL, NULL,
    "{\"arch\": \"resnet18\", \"classes\": [\"a\",\"b\",\"c\",\"d\",\"e\"], "
    "\"preprocess\": {\"std\": [0.2, 0, 0.2]}}", "preprocess.std" },
  { "card-input-size", NULL, NULL, NULL,
    "{\"arch\": \"resnet18\", \"classes\": [\"a\",\"b\",\"c\",\"d\",\"e\"], \"input_size\": 100000}",
    "input_size" },
};

static void
test_bad_model (Fixture       *fixture,
                gconstpointer  user_data)
{
  const BadModel *c = user_data;
  g_autoptr(HepaWeights) w = hepa_weights_new ();
  g_autoptr(GError) error = NULL;
  const gint64 shape3[1] = { 3 };
  const float three[3] = { 1, 2, 3 };

  for (guint i = 0; i < hepa_weights_get_n (fixture->weights); i++)
    {
      const HepaTensorEntry *e = hepa_weights_get_nth (fixture->weights, i);

      if (g_strcmp0 (e->name, c->remove) == 0)
        continue;
      if (g_strcmp0 (e->name, c->reshape) == 0)
        hepa_weights_add (w, e->name, 1, shape3, three);
      else
        hepa_weights_add (w, e->name, e->ndim, e->shape, e->data);
    }
  if (c->add != NULL)
    hepa_weights_add (w, c->add, 1, shape3, three);
  if (c->card != NULL)
    hepa_weights_set_metadata (w, "hepascope.card", c->card);
  g_assert_true (hepa_safetensors_save (w, fixture->path, HEPA_DTYPE_F32, &error));

  g_assert_null (hepa_model_load (fixture->path, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_MODEL);
  g_test_message ("%s: %s", c->name, error->message);
  g_assert_nonnull (strstr (error->message, c->needle));
}

static void
test_num_batches_tracked (Fixture       *fixture,
                          gconstpointer  user_data)
{
  /* torchvision state dicts carry BN step counters; they are not weights and are skipped. */
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  const gint64 scalar_shape[1] = { 1 };
  const float zero = 0;

  hepa_weights_add (fixture->weights, "bn1.num_batches_tracked", 0, scalar_shape, &zero);
  model = hepa_model_new_from_weights (fixture->weights, "x", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (hepa_model_get_card (model)->id, ==, "x");
}

static void
test_random_resnet50 (void)
{
  g_autoptr(HepaModel) model = hepa_model_new_random (HEPA_ARCH_RESNET50, 3, NULL, 64, 1);
  const char *const names[] = { "x", "y", NULL };
  g_autoptr(HepaModel) named = hepa_model_new_random (HEPA_ARCH_RESNET18, 2, names, 32, 2);
  float logits[3];

  g_assert_cmpstr (hepa_model_get_card (model)->arch, ==, "resnet50");
  g_assert_false (hepa_model_get_card (model)->has_card);
  g_assert_cmpstr (hepa_model_get_card (model)->sha256, ==, "");
  forward_logits (model, logits);
  for (int k = 0; k < 3; k++)
    g_assert_true (isfinite (logits[k]));
  g_assert_cmpstr (hepa_model_get_card (named)->classes[1], ==, "y");
  g_assert_cmpint (hepa_model_get_card (named)->input_size, ==, 32);
  /* Seeded: the same seed gives the same weights. */
  {
    g_autoptr(HepaWeights) a = hepa_model_random_weights (HEPA_ARCH_RESNET18, 2, 9);
    g_autoptr(HepaWeights) b = hepa_model_random_weights (HEPA_ARCH_RESNET18, 2, 9);
    const HepaTensorEntry *ea = hepa_weights_lookup (a, "layer4.1.conv2.weight");
    const HepaTensorEntry *eb = hepa_weights_lookup (b, "layer4.1.conv2.weight");

    hepa_assert_allclose (ea->data, eb->data, (gsize) ea->n_elements, 0, 0);
    g_assert_cmpfloat (hepa_weights_lookup (a, "bn1.running_var")->data[0], >=, 0.5f);
  }
}

static void
test_torchvision_parity (void)
{
  /* hepa_model_new_random with seed 0 builds the weights tests/gen-resnet-ref.py gave
   * torchvision: its recorded logits check the whole load-validate-fold path. */
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fixtures", "resnet-ref.ini", NULL);
  g_autoptr(GKeyFile) ini = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) groups = NULL;
  guint checked = 0;

  g_assert_true (g_key_file_load_from_file (ini, path, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  groups = g_key_file_get_groups (ini, NULL);
  for (guint g = 0; groups[g] != NULL && checked < 3; g++)
    {
      int arch = g_key_file_get_integer (ini, groups[g], "arch", NULL);
      int classes = g_key_file_get_integer (ini, groups[g], "classes", NULL);
      int size = g_key_file_get_integer (ini, groups[g], "size", NULL);
      guint64 seed = g_key_file_get_uint64 (ini, groups[g], "input_seed", NULL);
      int top = g_key_file_get_integer (ini, groups[g], "top", NULL);
      gsize n = 0;
      g_autofree double *expected = g_key_file_get_double_list (ini, groups[g], "logits", &n, NULL);
      g_autoptr(HepaModel) model = NULL;
      g_autofree float *input = NULL;
      g_autofree float *logits = NULL;
      HepaResnetWorkspace *ws;
      double max = 0;
      int best = 0;

      if (arch != 18 || size > 96)
        continue;
      model = hepa_model_new_random ((HepaArch) arch, (guint) classes, NULL, size, 0);
      ws = hepa_resnet_workspace_new (hepa_model_get_network (model), 1, size);
      input = g_new (float, 3 * size * size);
      logits = g_new (float, classes);
      for (int i = 0; i < 3 * size * size; i++)
        input[i] = hepa_nn_seeded_uniform (seed, (guint64) i);
      hepa_resnet_forward (hepa_model_get_network (model), ws, input, 1, logits, NULL, NULL);
      hepa_resnet_workspace_free (ws);
      g_assert_cmpuint (n, ==, (gsize) classes);
      for (int k = 0; k < classes; k++)
        max = MAX (max, fabs (expected[k]));
      for (int k = 0; k < classes; k++)
        {
          g_assert_cmpfloat_with_epsilon (logits[k], expected[k], 1e-3 * max);
          if (logits[k] > logits[best])
            best = k;
        }
      g_assert_cmpint (best, ==, top);
      checked++;
    }
  g_assert_cmpuint (checked, >, 0);
}

static void
test_find_default (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autofree char *found = NULL;

  g_setenv ("HEPASCOPE_MODEL", fixture->path, TRUE);
  found = hepa_model_find_default ();
  g_assert_cmpstr (found, ==, fixture->path);
  g_unsetenv ("HEPASCOPE_MODEL");
  g_clear_pointer (&found, g_free);
  /* Without the variable, whatever is found is a .safetensors file under a models folder. */
  found = hepa_model_find_default ();
  if (found != NULL)
    g_assert_true (g_str_has_suffix (found, ".safetensors"));
}

static void
test_load_errors (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (hepa_model_load ("/nonexistent/m.safetensors", &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add ("/core/model/card", Fixture, NULL, fixture_set_up, test_card, fixture_tear_down);
  g_test_add ("/core/model/card-trust-round-trip", Fixture, NULL, fixture_set_up,
              test_card_trust_round_trip, fixture_tear_down);
  g_test_add ("/core/model/card-without-trust", Fixture, NULL, fixture_set_up,
              test_card_without_trust, fixture_tear_down);
  g_test_add ("/core/model/no-card", Fixture, NULL, fixture_set_up, test_no_card,
              fixture_tear_down);
  g_test_add ("/core/model/same-logits", Fixture, NULL, fixture_set_up, test_same_logits,
              fixture_tear_down);
  g_test_add ("/core/model/num-batches-tracked", Fixture, NULL, fixture_set_up,
              test_num_batches_tracked, fixture_tear_down);
  g_test_add ("/core/model/find-default", Fixture, NULL, fixture_set_up, test_find_default,
              fixture_tear_down);
  g_test_add_func ("/core/model/random-resnet50", test_random_resnet50);
  g_test_add_func ("/core/model/load-errors", test_load_errors);
  g_test_add_func ("/core/model/torchvision-parity", test_torchvision_parity);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_models); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/model/bad/%s", bad_models[i].name);

      g_test_add (path, Fixture, &bad_models[i], fixture_set_up, test_bad_model,
                  fixture_tear_down);
    }
  status = g_test_run ();
  hepa_weights_free (shared_weights ());
  return status;
}
