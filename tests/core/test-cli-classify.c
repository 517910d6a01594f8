/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli classify and bench, run as a user would ($HEPASCOPE_CLI). */
#include "config.h"

#include "hepa-engine.h"
#include "hepa-image.h"
#include "hepa-model.h"
#include "hepa-synth.h"
#include "hepa-test-utils.h"
#include "hepa-safetensors.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#define CARD \
  "{\"name\": \"fll-test\", \"arch\": \"resnet18\", " \
  "\"classes\": [\"non_fll\", \"cyst\", \"hemangioma\", \"ffs\", \"hcc\"], \"input_size\": 64, " \
  "\"preprocess\": {\"grayscale\": true, \"resize\": \"stretch\"}}"

static char *dir;
static char *image_path;
static char *model_path;
static char *nocard_path;

static void
make_files (void)
{
  g_autoptr(HepaWeights) w = hepa_model_random_weights (HEPA_ARCH_RESNET18, 5, 21);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *rgb = g_malloc (120 * 90 * 3);

  dir = hepa_test_mkdtemp ();
  image_path = g_build_filename (dir, "scan.png", NULL);
  model_path = g_build_filename (dir, "m.safetensors", NULL);
  nocard_path = g_build_filename (dir, "plain.safetensors", NULL);
  for (int y = 0; y < 90; y++)
    for (int x = 0; x < 120; x++)
      {
        guint8 *p = rgb + 3 * (y * 120 + x);

        p[0] = (guint8) (x * 2);
        p[1] = (guint8) ((x * y) % 256);
        p[2] = (guint8) (y * 2);
      }
  g_assert_true (hepa_png_write_rgb (image_path, 120, 90, rgb, &error));
  g_assert_true (hepa_safetensors_save (w, nocard_path, HEPA_DTYPE_F16, &error));
  hepa_weights_set_metadata (w, "hepascope.card", CARD);
  g_assert_true (hepa_safetensors_save (w, model_path, HEPA_DTYPE_F32, &error));
  g_assert_no_error (error);
}

/* Runs the CLI with @args (NULL-terminated); returns the exit status. */
static int
run_cli (char       **out,
         char       **err,
         const char  *first,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  va_list args;
  int wait_status = 0;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (gpointer) cli);
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               out, err, &wait_status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  return WEXITSTATUS (wait_status);
}

static void
assert_one_error_line (const char *err,
                       const char *prefix,
                       const char *needle)
{
  g_test_message ("stderr: %s", err);
  g_assert_true (g_str_has_prefix (err, prefix));
  g_assert_nonnull (strstr (err, needle));
  /* One line. */
  g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);
}

static void
test_json (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *model, *r0, *r1;
  JsonArray *results, *probs, *roi;
  double sum = 0;

  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", model_path, "--json",
                            "--roi", "10,10,40,30", "--roi", "-5,-5,20,20", NULL), ==, 0);
  g_assert_nonnull (strstr (err, "clamped"));
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  model = json_object_get_object_member (root, "model");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (model, "id"), "fll-test-"));
  g_assert_cmpstr (json_object_get_string_member (model, "arch"), ==, "resnet18");
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (model, "classes"),
                                                  4), ==, "hcc");
  results = json_object_get_array_member (root, "results");
  g_assert_cmpuint (json_array_get_length (results), ==, 2);
  r0 = json_array_get_object_element (results, 0);
  r1 = json_array_get_object_element (results, 1);
  g_assert_cmpint (json_object_get_int_member (r0, "frame"), ==, 0);
  probs = json_object_get_array_member (r0, "probabilities");
  g_assert_cmpuint (json_array_get_length (probs), ==, 5);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (r0, "logits")), ==, 5);
  for (guint k = 0; k < 5; k++)
    sum += json_array_get_double_element (probs, k);
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
  g_assert_nonnull (json_object_get_string_member (r0, "top"));
  g_assert_cmpfloat (json_object_get_double_member (r0, "latency_ms"), >, 0);
  roi = json_object_get_array_member (r1, "roi");
  g_assert_cmpint (json_array_get_int_element (roi, 0), ==, 0);
  g_assert_cmpint (json_array_get_int_element (roi, 2), ==, 15);
  g_assert_cmpint (json_array_get_int_element (roi, 3), ==, 15);
  g_assert_true (json_object_get_boolean_member (r1, "roi_clamped"));

  /* The CLI computes what the library computes. */
  {
    g_autoptr(HepaModel) m = hepa_model_load (model_path, &error);
    g_autoptr(HepaImage) image = hepa_image_open (image_path, &error);
    const HepaFrame *frame = hepa_image_get_frame (image, 0, &error);
    HepaEngine *engine = hepa_engine_new (m, &error);
    HepaRect rect = { 10, 10, 40, 30 };
    g_autoptr(HepaResult) r = hepa_engine_classify (engine, frame, &rect, NULL, &error);
    JsonArray *logits = json_object_get_array_member (r0, "logits");

    g_assert_no_error (error);
    for (guint k = 0; k < 5; k++)
      g_assert_cmpfloat_with_epsilon (json_array_get_double_element (logits, k), r->logits[k],
                                      1e-4 * (1 + fabs (r->logits[k])));
    hepa_engine_free (engine);
  }
}

static void
test_whole_frame_and_cam (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *cam = g_build_filename (dir, "cam.png", NULL);
  g_autoptr(HepaImage) image = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", model_path, "--cam",
                            cam, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "region 0,0,120,90"));
  g_assert_nonnull (strstr (out, "hemangioma"));
  g_assert_cmpstr (err, ==, "");
  image = hepa_image_open (cam, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hepa_image_get_width (image), ==, 120);
  g_assert_cmpint (hepa_image_get_height (image), ==, 90);
}

static void
test_no_card (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", nocard_path, "--json",
                            NULL), ==, 0);
  assert_one_error_line (err, "hepascope-cli: ", "no model card");
  g_assert_nonnull (strstr (out, "\"class4\""));
}

static void
test_errors (void)
{
  g_autofree char *bad_model = g_build_filename (dir, "bad.safetensors", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *prefix = NULL;

  g_assert_cmpint (run_cli (&out, &err, "classify", "/nonexistent/scan.png", "--model",
                            model_path, NULL), ==, 1);
  assert_one_error_line (err, "hepascope-cli: /nonexistent/scan.png: ", "");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", model_path, "--roi",
                            "1,2,3", NULL), ==, 1);
  assert_one_error_line (err, "hepascope-cli: ", "X,Y,W,H");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);

  prefix = g_strdup_printf ("hepascope-cli: %s: ", image_path);
  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", model_path, "--roi",
                            "5,5,0,10", NULL), ==, 1);
  assert_one_error_line (err, prefix, "empty");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", model_path, "--roi",
                            "500,5,10,10", NULL), ==, 1);
  assert_one_error_line (err, prefix, "outside");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", model_path, "--frame",
                            "3", NULL), ==, 1);
  assert_one_error_line (err, prefix, "frame");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);

  /* A truncated model names the model file. */
  {
    g_autofree char *contents = NULL;
    gsize len;

    g_assert_true (g_file_get_contents (model_path, &contents, &len, NULL));
    g_assert_true (g_file_set_contents (bad_model, contents, (gssize) (len / 2), NULL));
  }
  g_clear_pointer (&prefix, g_free);
  prefix = g_strdup_printf ("hepascope-cli: %s: ", bad_model);
  g_assert_cmpint (run_cli (&out, &err, "classify", image_path, "--model", bad_model, NULL), ==, 1);
  assert_one_error_line (err, prefix, "truncated");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (&out, &err, "classify", NULL), ==, 1);
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (&out, &err, "bench", "--batch", "0", NULL), ==, 1);
  assert_one_error_line (err, "hepascope-cli: ", "--batch");
}

static void
test_bench_json (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;

  g_assert_cmpint (run_cli (&out, &err, "bench", "--arch", "resnet18", "--size", "64", "--runs",
                            "3", "--batch", "2", "--threads", "1", "--json", NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "arch"), ==, "resnet18");
  g_assert_cmpint (json_object_get_int_member (root, "batch"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (root, "threads"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (root, "min_ms"), <=,
                     json_object_get_double_member (root, "median_ms"));
  g_assert_cmpfloat (json_object_get_double_member (root, "median_ms"), <=,
                     json_object_get_double_member (root, "max_ms"));
  g_assert_cmpfloat (json_object_get_double_member (root, "img_per_s"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (root, "gflops_per_s"), >, 0);
}

/* classify --json on @file with @roi ("x,y,w,h" or NULL); returns result 0's object and keeps
 * the parser in @parser. */
static JsonObject *
classify_json (JsonParser *parser,
               const char *file,
               const char *roi,
               JsonObject **root_out)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *root;

  if (roi != NULL)
    g_assert_cmpint (run_cli (&out, &err, "classify", file, "--model", model_path, "--json",
                              "--roi", roi, NULL), ==, 0);
  else
    g_assert_cmpint (run_cli (&out, &err, "classify", file, "--model", model_path, "--json",
                              NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  if (root_out != NULL)
    *root_out = root;
  return json_array_get_object_element (json_object_get_array_member (root, "results"), 0);
}

static gboolean
has_reason (JsonObject *result,
            const char *code)
{
  JsonArray *reasons = json_object_get_array_member (result, "applicability");

  for (guint i = 0; i < json_array_get_length (reasons); i++)
    {
      JsonObject *r = json_array_get_object_element (reasons, i);

      g_assert_true (*json_object_get_string_member (r, "message") != '\0');
      if (g_str_equal (json_object_get_string_member (r, "code"), code))
        return TRUE;
    }
  return FALSE;
}

static char *
synth_phantom (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *phantoms = g_build_filename (dir, "phantoms", NULL);

  if (!g_file_test (phantoms, G_FILE_TEST_IS_DIR))
    g_assert_cmpint (run_cli (&out, &err, "synth", "--out", phantoms, "--per-class", "1",
                              "--seed", "5", NULL), ==, 0);
  return g_build_filename (phantoms, "cyst-0000.dcm", NULL);
}

/* The trust members of every result, for a model without calibration or OOD reference; a
 * phantom ROI inside the fan passes every check; one outside the ultrasound region does not. */
static void
test_trust_json (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *phantom = synth_phantom ();
  g_autofree char *sidecar = g_strconcat (phantom, ".hepascope.json", NULL);
  g_autoptr(GError) error = NULL;
  JsonObject *root, *r;
  JsonArray *rois;
  JsonObject *roi;
  g_autofree char *roi_text = NULL;
  g_autoptr(JsonParser) sp = json_parser_new ();

  g_assert_true (json_parser_load_from_file (sp, sidecar, &error));
  rois = json_object_get_array_member (json_node_get_object (json_parser_get_root (sp)), "rois");
  roi = json_array_get_object_element (rois, 0);
  roi_text = g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                              ",%" G_GINT64_FORMAT, json_object_get_int_member (roi, "x"),
                              json_object_get_int_member (roi, "y"),
                              json_object_get_int_member (roi, "width"),
                              json_object_get_int_member (roi, "height"));

  r = classify_json (parser, phantom, roi_text, &root);
  g_assert_cmpstr (json_object_get_string_member (root, "intended_use"), ==,
                   "Intended use not stated by the model card");
  g_assert_cmpstr (json_object_get_string_member (root, "calibration"), ==, "Not calibrated");
  g_assert_cmpstr (json_object_get_string_member (root, "ood_reference"), ==,
                   "No out-of-distribution reference");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (r, "applicability")),
                    ==, 0);
  g_assert_true (json_object_get_null_member (r, "ood"));
  g_assert_false (json_object_get_boolean_member (r, "calibrated"));
  g_assert_true (json_object_get_null_member (r, "prediction_set"));
  g_assert_cmpfloat (json_object_get_double_member (r, "checks_ms"), <, 50);

  /* The top-left corner of a curved-probe phantom is outside its ultrasound region. */
  r = classify_json (parser, phantom, "0,0,80,60", NULL);
  g_assert_true (has_reason (r, "outside-region"));
  g_assert_false (has_reason (r, "not-ultrasound"));
}

/* A DICOM file that says MR (made with DCMTK's dcmodify) is flagged "not ultrasound". */
static void
test_not_ultrasound (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *phantom = synth_phantom ();
  g_autofree char *mr = g_build_filename (dir, "mr.dcm", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "dcmodify", "-nb", "-m", "(0008,0060)=MR", mr, NULL };
  int wait_status = 0;
  gsize len;
  JsonObject *r;
  g_autofree char *dcmodify = g_find_program_in_path ("dcmodify");

  if (dcmodify == NULL)
    {
      g_test_skip ("DCMTK's dcmodify is not installed");
      return;
    }
  g_assert_true (g_file_get_contents (phantom, &contents, &len, &error));
  g_assert_true (g_file_set_contents (mr, contents, len, &error));
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH
                               | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                               &wait_status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));

  r = classify_json (parser, mr, "200,150,150,120", NULL);
  g_assert_true (has_reason (r, "not-ultrasound"));
  /* PNG files carry no modality: not checked rather than failed. */
  r = classify_json (parser, image_path, NULL, NULL);
  g_assert_false (has_reason (r, "not-ultrasound"));
  {
    JsonArray *nc = json_object_get_array_member (r, "not_checked");
    gboolean found = FALSE;

    for (guint i = 0; i < json_array_get_length (nc); i++)
      found |= g_str_equal (json_array_get_string_element (nc, i), "not-ultrasound");
    g_assert_true (found);
  }
}

/* A phantom with a colour Doppler box in the ROI is flagged; the same phantom without the box
 * is not. */
static void
test_colour_box (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  HepaSynthParams params;
  HepaSynthInfo info;
  g_autofree guint8 *gray = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree char *plain = g_build_filename (dir, "phantom-gray.png", NULL);
  g_autofree char *colour = g_build_filename (dir, "phantom-doppler.png", NULL);
  g_autofree char *roi = NULL;
  HepaRect box;
  JsonObject *r;

  hepa_synth_params_init (&params, HEPA_SYNTH_HEMANGIOMA, 11, 0);
  gray = g_malloc (hepa_synth_buffer_size (&params));
  g_assert_true (hepa_synth_generate (&params, gray, NULL, &info, &error));
  rgb = g_malloc ((gsize) params.width * params.height * 3);
  for (gsize i = 0; i < (gsize) params.width * params.height; i++)
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
  g_assert_true (hepa_png_write_rgb (plain, params.width, params.height, rgb, &error));
  roi = g_strdup_printf ("%d,%d,%d,%d", info.roi.x, info.roi.y, info.roi.width,
                         info.roi.height);
  r = classify_json (parser, plain, roi, NULL);
  g_assert_false (has_reason (r, "colour"));
  g_assert_false (has_reason (r, "outside-fan"));

  /* A Doppler box over the middle of the ROI: red and blue flow. */
  box = (HepaRect) { info.roi.x + info.roi.width / 4, info.roi.y + info.roi.height / 4,
                     info.roi.width / 2, info.roi.height / 2 };
  for (int y = box.y; y < box.y + box.height; y++)
    for (int x = box.x; x < box.x + box.width; x++)
      if ((x / 4 + y / 6) % 3 != 0)
        {
          guint8 *p = rgb + ((gsize) y * params.width + x) * 3;
          gboolean red = (x / 8) % 2 == 0;

          p[0] = red ? 220 : 20;
          p[1] = 30;
          p[2] = red ? 20 : 210;
        }
  g_assert_true (hepa_png_write_rgb (colour, params.width, params.height, rgb, &error));
  r = classify_json (parser, colour, roi, NULL);
  g_assert_true (has_reason (r, "colour"));
}

/* Export manifests carry the model's intended use and each crop's failed checks. */
static void
test_manifest_trust (void)
{
  g_autofree char *phantom = synth_phantom ();
  g_autofree char *phantoms = g_path_get_dirname (phantom);
  g_autofree char *tree = g_build_filename (dir, "export", NULL);
  g_autofree char *manifest = g_build_filename (tree, "manifest.json", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *crops;

  g_assert_cmpint (run_cli (&out, &err, "export", phantoms, "--out", tree, "--model",
                            model_path, "--no-frames", NULL), ==, 0);
  g_assert_true (json_parser_load_from_file (parser, manifest, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "intended_use"), ==,
                   "Intended use not stated by the model card");
  crops = json_object_get_array_member (root, "crops");
  g_assert_cmpuint (json_array_get_length (crops), ==, 5);
  for (guint i = 0; i < json_array_get_length (crops); i++)
    {
      JsonObject *c = json_array_get_object_element (crops, i);

      /* Phantom ROIs pass every check. */
      g_assert_true (json_object_has_member (c, "applicability"));
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (c,
                                                                            "applicability")),
                        ==, 0);
    }
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  make_files ();

  g_test_add_func ("/core/cli-classify/json", test_json);
  g_test_add_func ("/core/cli-classify/whole-frame-and-cam", test_whole_frame_and_cam);
  g_test_add_func ("/core/cli-classify/no-card", test_no_card);
  g_test_add_func ("/core/cli-classify/errors", test_errors);
  g_test_add_func ("/core/cli-classify/bench-json", test_bench_json);
  g_test_add_func ("/core/cli-classify/trust-json", test_trust_json);
  g_test_add_func ("/core/cli-classify/not-ultrasound", test_not_ultrasound);
  g_test_add_func ("/core/cli-classify/colour-box", test_colour_box);
  g_test_add_func ("/core/cli-classify/manifest-trust", test_manifest_trust);

  status = g_test_run ();
  hepa_test_rmtree (dir);
  g_free (dir);
  g_free (image_path);
  g_free (model_path);
  g_free (nocard_path);
  return status;
}
