/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The shared JSON depth check (core/hepa-json.c) and every reader that goes through it: deeply
 * nested JSON overflowed json-glib's recursive parser in a sidecar, a manifest, a safetensors
 * header, a model card and a COCO file (issue 19). Each reader now refuses it with one line. */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-json.h"
#include "hepa-manifest.h"
#include "hepa-model.h"
#include "hepa-model-file.h"
#include "hepa-weights.h"

#include "hepa-gen.h"
#include "hepa-test-utils.h"

#include <glib/gstdio.h>
#include <string.h>

#define DEEP 200000

static char *tmpdir;

static void
test_depth (void)
{
  g_autofree char *deep = hepa_gen_nested_json (65, FALSE);
  g_autofree char *fine = hepa_gen_nested_json (64, TRUE);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (hepa_json_depth ("{}", -1), ==, 1);
  g_assert_cmpuint (hepa_json_depth ("{\"a\": [1, {\"b\": []}]}", -1), ==, 4);
  /* Brackets in strings do not count, escapes included. */
  g_assert_cmpuint (hepa_json_depth ("{\"a\": \"[[[\\\"[[\"}", -1), ==, 1);
  /* json-glib also reads '...' strings and comments: a '"' inside them does not open a string,
   * so the brackets after it count. */
  g_assert_cmpuint (hepa_json_depth ("['\"' [[ \"]\"]]]", -1), >=, 3);
  g_assert_cmpuint (hepa_json_depth ("/* \" */ [[[ ]]]", -1), >=, 3);
  g_assert_cmpuint (hepa_json_depth (fine, -1), ==, 64);
  g_assert_cmpuint (hepa_json_depth (deep, -1), ==, 65);
  g_assert_true (hepa_json_check_depth (fine, -1, &error));
  g_assert_false (hepa_json_check_depth (deep, -1, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "nested deeper than 64 levels"));
}

static void
assert_deep_error (const GError *error)
{
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (error->domain == HEPA_ERROR);
  g_assert_nonnull (strstr (error->message, "nested deeper than 64 levels"));
  g_assert_null (strchr (error->message, '\n'));
}

static void
test_sidecar (void)
{
  g_autofree char *nested = hepa_gen_nested_json (DEEP, FALSE);
  g_autofree char *text = g_strdup_printf ("{\"format\": \"hepascope-roi\", \"version\": 1, "
                                           "\"rois\": [], \"extra\": %s}", nested);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaAnnotations) set = hepa_annotations_parse (text, strlen (text), &error);

  g_assert_null (set);
  assert_deep_error (error);
}

static void
test_manifest (void)
{
  g_autofree char *nested = hepa_gen_nested_json (DEEP, TRUE);
  g_autofree char *text = g_strdup_printf ("{\"format\": \"hepascope-export\", \"crops\": %s}",
                                           nested);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaManifest) manifest = hepa_manifest_parse_json (text, strlen (text), &error);

  g_assert_null (manifest);
  assert_deep_error (error);
}

static void
test_safetensors (void)
{
  g_autofree char *nested = hepa_gen_nested_json (DEEP, FALSE);
  g_autofree char *header = g_strdup_printf ("{\"x\": %s}", nested);
  g_autofree char *path = g_build_filename (tmpdir, "deep.safetensors", NULL);
  gsize n = strlen (header);
  g_autofree guint8 *data = g_malloc (8 + n);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) weights = NULL;

  for (int i = 0; i < 8; i++)
    data[i] = (guint8) ((guint64) n >> (8 * i));
  memcpy (data + 8, header, n);
  g_assert_true (g_file_set_contents (path, (const char *) data, (gssize) (8 + n), NULL));
  weights = hepa_model_file_load (path, &error);
  g_assert_null (weights);
  assert_deep_error (error);
}

static void
test_model_card (void)
{
  g_autoptr(HepaWeights) weights = hepa_model_random_weights (HEPA_ARCH_RESNET18, 4, 1);
  g_autofree char *nested = hepa_gen_nested_json (DEEP, TRUE);
  g_autofree char *card = g_strdup_printf ("{\"arch\": \"resnet18\", \"x\": %s}", nested);
  g_autoptr(GError) error = NULL;
  HepaModel *model;

  hepa_weights_set_metadata (weights, "hepascope.card", card);
  model = hepa_model_new_from_weights (weights, "deep", &error);
  g_assert_null (model);
  assert_deep_error (error);
}

/* hepa_json_parser_load_file reads only regular files, counting bytes read. */
static void
test_load_file (void)
{
  g_autofree char *fifo = g_build_filename (tmpdir, "fifo.json", NULL);
  g_autofree char *zero = g_build_filename (tmpdir, "zero.json", NULL);
  g_autofree char *ok = g_build_filename (tmpdir, "ok.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (symlink ("/dev/zero", zero), ==, 0);
  g_assert_true (g_file_set_contents (ok, "{\"a\": [1]}", -1, NULL));
  g_assert_false (hepa_json_parser_load_file (parser, fifo, 1024, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  g_clear_error (&error);
  g_assert_false (hepa_json_parser_load_file (parser, zero, 1024, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  g_clear_error (&error);
  g_assert_false (hepa_json_parser_load_file (parser, ok, 4, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_true (hepa_json_parser_load_file (parser, ok, 1024, &error));
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  tmpdir = hepa_test_mkdtemp ();
  g_test_add_func ("/core/json/depth", test_depth);
  g_test_add_func ("/core/json/load-file", test_load_file);
  g_test_add_func ("/core/json/deep/sidecar", test_sidecar);
  g_test_add_func ("/core/json/deep/manifest", test_manifest);
  g_test_add_func ("/core/json/deep/safetensors", test_safetensors);
  g_test_add_func ("/core/json/deep/model-card", test_model_card);
  status = g_test_run ();
  hepa_test_rmtree (tmpdir);
  g_free (tmpdir);
  return status;
}
