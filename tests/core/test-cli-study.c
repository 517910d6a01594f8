/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli study and models, run as a user would ($HEPASCOPE_CLI); a study of 1,000 files
 * scans and reports in at most 2 s. */
#include "config.h"

#include "hepa-annotations-private.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

/* @n PNG-headed files; every third has a second rater "bob" who differs on every ninth. */
static char *
make_study (guint n)
{
  char *dir = g_dir_make_tmp ("hepa-cli-study-XXXXXX", NULL);
  const char *classes[] = { "cyst", "hcc", "ffs" };

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("img-%04u.png", i);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *sidecar = hepa_annotations_sidecar_path (path, NULL);
      g_autoptr(HepaAnnotations) set = hepa_annotations_new (name);
      g_autofree char *data = NULL;
      HepaRect rect = { 1, 1, 8, 8 };
      HepaRoi *roi;
      gsize length;

      g_assert_true (g_file_set_contents (path, "\x89PNG\r\n\x1a\n", 8, NULL));
      if (i % 5 == 4)
        continue;   /* no regions */
      roi = hepa_roi_new (0, &rect, i % 7 == 6 ? NULL : classes[i % 3], "ann");
      if (i % 3 == 0 && roi->label != NULL)
        hepa_roi_set_rating (roi, "bob", i % 9 == 0 ? classes[(i + 1) % 3] : classes[i % 3]);
      g_ptr_array_add (set->rois, roi);
      data = hepa_annotations_to_data (set, &length);
      g_assert_true (g_file_set_contents (sidecar, data, (gssize) length, NULL));
    }
  return dir;
}

static void
remove_tree (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

  g_assert_cmpint (system (cmd), ==, 0);
}

static void
test_study_json (void)
{
  g_autofree char *dir = make_study (30);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *files, *agreement;

  g_assert_cmpint (run_cli (&out, &err, "study", dir, "--json", NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  root = json_node_get_object (json_parser_get_root (parser));
  files = json_object_get_object_member (root, "files");
  /* 30 files: 6 without regions (i % 5 == 4); of the other 24, i % 7 == 6 unlabeled: 6, 13, 20,
   * 27 -> 4 (none of them i % 5 == 4). */
  g_assert_cmpint (json_object_get_int_member (files, "total"), ==, 30);
  g_assert_cmpint (json_object_get_int_member (files, "no_roi"), ==, 6);
  g_assert_cmpint (json_object_get_int_member (files, "unlabeled"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (files, "labeled"), ==, 20);
  g_assert_cmpint (json_object_get_int_member (files, "unreadable"), ==, 0);
  agreement = json_object_get_object_member (root, "agreement");
  g_assert_cmpstr (json_object_get_string_member (agreement, "method"), ==, "cohen");
  /* bob rated i % 3 == 0 with a label and regions: 0, 3, 12, 15, 18, 21 (6 and 27 are
   * unlabeled, 9 and 24 have no regions). */
  g_assert_cmpint (json_object_get_int_member (agreement, "items"), ==, 6);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (agreement,
                                                                          "confusion")), ==, 1);

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "study", dir, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "20 of 30 files labeled"));
  g_assert_nonnull (strstr (out, "Cohen's kappa:"));

  /* A folder that is not there: one error line naming it, status 1. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "study", "/nonexistent-hepa", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent-hepa"));
  g_assert_cmpuint (strchr (err, '\n') - err + 1, ==, strlen (err));
  remove_tree (dir);
}

static void
test_study_1000 (void)
{
  g_autofree char *dir = make_study (1000);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *load = NULL;
  gint64 start = g_get_monotonic_time ();
  double seconds;

  g_assert_cmpint (run_cli (&out, &err, "study", dir, NULL), ==, 0);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  g_file_get_contents ("/proc/loadavg", &load, NULL, NULL);
  g_test_message ("study of 1000 files: %.3f s end to end (load %s)", seconds,
                  load != NULL ? g_strstrip (load) : "?");
  g_assert_nonnull (strstr (out, "of 1000 files labeled"));
  g_assert_cmpfloat (seconds, <=, 2.0);
  remove_tree (dir);
}

static void
test_models (void)
{
  g_autofree char *dir = g_dir_make_tmp ("hepa-cli-models-XXXXXX", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *root = g_getenv ("HEPASCOPE_SOURCE_ROOT");

  g_assert_cmpint (run_cli (&out, &err, "models", "--dir", dir, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "No models yet"));
  if (root != NULL)
    {
      g_autofree char *shipped = g_build_filename (root, "data", "models", NULL);

      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (run_cli (&out, &err, "models", "--dir", shipped, "--json", NULL), ==, 0);
      g_assert_nonnull (strstr (out, "\"arch\" : \"resnet50\""));
    }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "models", "--dir", dir, "--add", "/etc/hostname", NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err, "/etc/hostname"));
  remove_tree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/cli-study/json", test_study_json);
  g_test_add_func ("/core/cli-study/1000-files", test_study_1000);
  g_test_add_func ("/core/cli-study/models", test_models);
  return g_test_run ();
}
