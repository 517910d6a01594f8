/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model library: listing from safetensors headers, problems listed, adding with new names. */
#include "config.h"

#include "hepa-model-library.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A safetensors file with no tensors and a card in its metadata. */
static void
write_header_only (const char *path,
                   const char *card)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *header = NULL;
  GString *data = g_string_new (NULL);
  guint64 n;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "__metadata__");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "hepascope.card");
  json_builder_add_string_value (b, card);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  header = json_generator_to_data (gen, NULL);
  n = strlen (header);
  for (int i = 0; i < 8; i++)
    g_string_append_c (data, (char) ((n >> (8 * i)) & 0xff));
  g_string_append (data, header);
  g_assert_true (g_file_set_contents (path, data->str, (gssize) data->len, NULL));
  g_string_free (data, TRUE);
}

static void
test_list (void)
{
  g_autofree char *dir = g_dir_make_tmp ("hepa-models-XXXXXX", NULL);
  g_autofree char *a = g_build_filename (dir, "a.safetensors", NULL);
  g_autofree char *b = g_build_filename (dir, "b.safetensors", NULL);
  g_autofree char *bad = g_build_filename (dir, "broken.safetensors", NULL);
  g_autofree char *notes = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *outside = g_dir_make_tmp ("hepa-models-src-XXXXXX", NULL);
  g_autofree char *src = g_build_filename (outside, "a.safetensors", NULL);
  g_autofree char *added = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  HepaModelEntry *e;

  write_header_only (a, "{\"name\": \"quick\", \"arch\": \"resnet18\", \"input_size\": 64,"
                        " \"classes\": [\"cyst\", \"hcc\"], \"created\": \"2026-12-01T10:00:00Z\","
                        " \"trained_on\": {\"name\": \"study\", \"images\": 200, \"sha256\": \"ab\"},"
                        " \"protocol\": {\"folds\": 5}, \"metrics\": {\"cross_validation\":"
                        " {\"accuracy\": {\"mean\": 0.9, \"sd\": 0.05},"
                        " \"macro_auc\": {\"mean\": 0.95, \"sd\": 0.01}}}}");
  write_header_only (b, "{\"name\": \"older\", \"arch\": \"resnet50\", \"input_size\": 224,"
                        " \"created\": \"2026-01-01T10:00:00Z\"}");
  g_assert_true (g_file_set_contents (bad, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, NULL));
  g_assert_true (g_file_set_contents (notes, "x", 1, NULL));

  list = hepa_model_library_list (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  /* Newest first: the broken one has the file's time (now), then a (December), then b. */
  e = list->pdata[0];
  g_assert_cmpstr (e->file_name, ==, "broken.safetensors");
  g_assert_nonnull (e->problem);
  text = hepa_model_entry_describe (e);
  g_assert_true (g_str_has_prefix (text, "unreadable: "));
  g_clear_pointer (&text, g_free);

  e = list->pdata[1];
  g_assert_cmpstr (e->name, ==, "quick");
  g_assert_cmpstr (e->arch, ==, "resnet18");
  g_assert_cmpint (e->input_size, ==, 64);
  g_assert_cmpuint (g_strv_length (e->classes), ==, 2);
  g_assert_cmpstr (e->data_name, ==, "study");
  g_assert_cmpuint (e->data_images, ==, 200);
  g_assert_cmpint (e->folds, ==, 5);
  g_assert_cmpfloat_with_epsilon (e->accuracy, 0.9, 1e-12);
  g_assert_cmpfloat_with_epsilon (e->macro_auc, 0.95, 1e-12);
  text = hepa_model_entry_describe (e);
  g_assert_cmpstr (text, ==, "resnet18 · 64 px · 200 images · CV accuracy 0.900 ± 0.050");
  g_clear_pointer (&text, g_free);

  e = list->pdata[2];
  g_assert_cmpstr (e->name, ==, "older");
  g_assert_true (isnan (e->accuracy));

  /* Adding a model whose name is taken gives it a new one; the source stays with a copy. */
  write_header_only (src, "{\"name\": \"again\", \"arch\": \"resnet18\"}");
  added = hepa_model_library_add (dir, src, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (added, "/a-2.safetensors"));
  g_assert_true (g_file_test (src, G_FILE_TEST_EXISTS));
  g_clear_pointer (&added, g_free);
  added = hepa_model_library_add (dir, src, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (added, "/a-3.safetensors"));
  g_assert_false (g_file_test (src, G_FILE_TEST_EXISTS));
  g_clear_pointer (&added, g_free);
  g_assert_null (hepa_model_library_add (dir, notes, FALSE, &error));
  g_assert_nonnull (strstr (error->message, notes));
  g_clear_error (&error);

  /* A missing library is empty, not an error. */
  {
    g_autofree char *missing = g_build_filename (dir, "nothing-here", NULL);
    g_autoptr(GPtrArray) none = hepa_model_library_list (missing, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (none->len, ==, 0);
  }
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s' '%s'", dir, outside);

    g_assert_cmpint (system (cmd), ==, 0);
  }
}

/* The shipped phantom model, read from its header only. */
static void
test_shipped (void)
{
  const char *root = g_getenv ("HEPASCOPE_SOURCE_ROOT");
  g_autofree char *path = NULL;
  g_autoptr(HepaModelEntry) e = NULL;
  gint64 start;

  if (root == NULL)
    {
      g_test_skip ("HEPASCOPE_SOURCE_ROOT not set");
      return;
    }
  path = g_build_filename (root, "data", "models", "hepascope-phantom-r50.safetensors", NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no shipped model");
      return;
    }
  start = g_get_monotonic_time ();
  e = hepa_model_library_read (path);
  g_assert_null (e->problem);
  g_assert_cmpstr (e->arch, ==, "resnet50");
  g_assert_true (e->has_card);
  g_assert_cmpuint (g_strv_length (e->classes), ==, 5);
  g_assert_false (isnan (e->accuracy));
  /* Header only: far under the time to read 100 MB. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/model-library/list", test_list);
  g_test_add_func ("/core/model-library/shipped", test_shipped);
  return g_test_run ();
}
