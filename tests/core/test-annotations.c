/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-test-utils.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static HepaAnnotations *
make_set (guint n_rois)
{
  HepaAnnotations *set = hepa_annotations_new ("scan.dcm");
  const char *classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };

  set->sop_uid_sha256 = g_strdup ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  for (guint i = 0; i < n_rois; i++)
    {
      HepaRect rect = { (int) i * 3, 7, 64 + (int) i, 48 };
      HepaRoi *roi = hepa_roi_new (i % 4, &rect, i % 3 == 0 ? NULL : "cyst", "rater-ä");

      roi->created = 1795770000 + i;
      roi->modified = roi->created + 60;
      if (i % 2 == 0)
        {
          float p[5] = { 0.1f, 0.6f, 0.1f, 0.15f, 0.05f + i * 1e-7f };

          hepa_roi_set_prediction (roi, "resnet50-0123456789ab", classes, p);
        }
      g_ptr_array_add (set->rois, roi);
    }
  return set;
}

static void
assert_sets_equal (const HepaAnnotations *a,
                   const HepaAnnotations *b)
{
  g_assert_cmpstr (a->image_name, ==, b->image_name);
  g_assert_cmpstr (a->sop_uid_sha256, ==, b->sop_uid_sha256);
  g_assert_cmpuint (a->rois->len, ==, b->rois->len);
  for (guint i = 0; i < a->rois->len; i++)
    {
      const HepaRoi *x = g_ptr_array_index (a->rois, i);
      const HepaRoi *y = g_ptr_array_index (b->rois, i);

      g_assert_cmpstr (x->id, ==, y->id);
      g_assert_cmpuint (x->frame, ==, y->frame);
      g_assert_cmpint (x->rect.x, ==, y->rect.x);
      g_assert_cmpint (x->rect.y, ==, y->rect.y);
      g_assert_cmpint (x->rect.width, ==, y->rect.width);
      g_assert_cmpint (x->rect.height, ==, y->rect.height);
      g_assert_cmpstr (x->label, ==, y->label);
      g_assert_cmpstr (x->rater, ==, y->rater);
      g_assert_cmpint (x->created, ==, y->created);
      g_assert_cmpint (x->modified, ==, y->modified);
      g_assert_cmpstr (x->pred_model_id, ==, y->pred_model_id);
      if (x->pred_classes != NULL)
        {
          g_assert_nonnull (y->pred_classes);
          g_assert_true (g_strv_equal ((const char *const *) x->pred_classes,
                                       (const char *const *) y->pred_classes));
          for (guint k = 0; x->pred_classes[k] != NULL; k++)
            g_assert_cmpfloat (x->pred_probabilities[k], ==, y->pred_probabilities[k]);
        }
      else
        g_assert_null (y->pred_classes);
    }
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

/* Lists a folder's entries, sorted, joined by spaces. */
static char *
list_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static void
test_roi_lifecycle (void)
{
  HepaRect rect = { 1, 2, 30, 40 };
  g_autoptr(HepaRoi) a = hepa_roi_new (3, &rect, "hcc", "me");
  g_autoptr(HepaRoi) b = hepa_roi_new (3, &rect, NULL, NULL);
  g_autoptr(HepaRoi) c = NULL;
  const char *classes[] = { "a", "b", NULL };
  float p[2] = { 0.25f, 0.75f };

  g_assert_true (g_str_has_prefix (a->id, "r-"));
  g_assert_cmpstr (a->id, !=, b->id);
  g_assert_cmpint (a->created, >, 1700000000);
  g_assert_cmpstr (b->rater, ==, "");
  g_assert_null (b->label);

  hepa_roi_set_prediction (a, "m-1", classes, p);
  c = hepa_roi_copy (a);
  g_assert_cmpstr (c->id, ==, a->id);
  g_assert_cmpstr (c->pred_model_id, ==, "m-1");
  g_assert_cmpstr (c->pred_classes[1], ==, "b");
  g_assert_cmpfloat (c->pred_probabilities[1], ==, 0.75f);
  g_assert_true (c->pred_probabilities != a->pred_probabilities);

  hepa_roi_set_prediction (c, NULL, NULL, NULL);
  g_assert_null (c->pred_model_id);
  g_assert_null (c->pred_classes);
}

static void
test_sidecar_path (void)
{
  g_autofree char *next = hepa_annotations_sidecar_path ("/data/a/scan.dcm", NULL);
  g_autofree char *w1 = hepa_annotations_sidecar_path ("/data/a/scan.dcm", "/ws");
  g_autofree char *w2 = hepa_annotations_sidecar_path ("/data/b/scan.dcm", "/ws");
  g_autofree char *w1b = hepa_annotations_sidecar_path ("/data/a/../a/scan.dcm", "/ws");

  g_assert_cmpstr (next, ==, "/data/a/scan.dcm.hepascope.json");
  g_assert_true (g_str_has_prefix (w1, "/ws/scan.dcm-"));
  g_assert_true (g_str_has_suffix (w1, ".hepascope.json"));
  g_assert_cmpstr (w1, !=, w2);
  g_assert_cmpstr (w1, ==, w1b);
}

static void
test_round_trip (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  g_autoptr(HepaAnnotations) set = make_set (7);
  g_autoptr(HepaAnnotations) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listing = NULL;

  g_assert_true (hepa_annotations_save (set, path, &error));
  g_assert_no_error (error);
  back = hepa_annotations_load (path, &error);
  g_assert_no_error (error);
  assert_sets_equal (set, back);

  /* Saving again replaces the file and leaves no temp file behind. */
  g_ptr_array_remove_index (set->rois, 0);
  g_assert_true (hepa_annotations_save (set, path, &error));
  g_clear_pointer (&back, hepa_annotations_free);
  back = hepa_annotations_load (path, &error);
  g_assert_no_error (error);
  assert_sets_equal (set, back);
  listing = list_dir (dir);
  g_assert_cmpstr (listing, ==, "scan.dcm.hepascope.json");

  hepa_test_rmtree (dir);
}

/* Found by fuzz-sidecar: year 226 was written as "226-...", which no ISO 8601 parser reads. */
static void
test_time_round_trip (void)
{
  const char *texts[] = { "0226-11-27T09:00:07Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
                          "2026-11-27T09:00:00Z", "9999-12-31T23:59:59Z" };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      gint64 t = 0;
      g_autofree char *back = NULL;

      g_assert_true (hepa_annotations_parse_time (texts[i], &t));
      back = hepa_annotations_format_time (t);
      g_assert_cmpstr (back, ==, texts[i]);
    }
  {
    gint64 t = 0;

    /* Valid ISO 8601, but year 10000 in UTC: refused rather than written back wrong. */
    g_assert_false (hepa_annotations_parse_time ("9999-12-31T23:59:59-01:00", &t));
  }
}

static void
test_missing_is_empty (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "x.png.hepascope.json", NULL);
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(GError) error = NULL;

  set = hepa_annotations_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (set);
  g_assert_cmpuint (set->rois->len, ==, 0);
  g_assert_cmpstr (set->image_name, ==, "x.png");
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  hepa_test_rmtree (dir);
}

static void
test_damaged_moved_aside (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  const char *damaged = "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [ {\"id";
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *aside = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_true (g_file_set_contents (path, damaged, -1, NULL));
  set = hepa_annotations_load (path, &error);
  g_assert_null (set);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  listing = list_dir (dir);
  names = g_strsplit (listing, " ", -1);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_true (g_str_has_prefix (names[0], "scan.dcm.hepascope.json.damaged-"));
  aside = g_build_filename (dir, names[0], NULL);
  g_assert_nonnull (strstr (error->message, aside));
  g_assert_true (g_file_get_contents (aside, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, damaged);

  /* A second damaged file in the same second gets its own name. */
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "not json", -1, NULL));
  g_assert_null (hepa_annotations_load (path, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_clear_pointer (&listing, g_free);
  g_clear_pointer (&names, g_strfreev);
  listing = list_dir (dir);
  names = g_strsplit (listing, " ", -1);
  g_assert_cmpuint (g_strv_length (names), ==, 2);

  hepa_test_rmtree (dir);
}

/* A sidecar over 64 MiB dereferenced NULL (the move-aside path read a message that was never
 * set). It is kept aside as damaged, with a message saying so; the file itself is untouched. */
static void
test_huge_moved_aside (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listing = NULL;
  GStatBuf st;
  FILE *fp = fopen (path, "wb");

  g_assert_nonnull (fp);
  g_assert_cmpint (ftruncate (fileno (fp), (off_t) HEPA_ANNOTATIONS_MAX_BYTES + 1), ==, 0);
  fclose (fp);
  set = hepa_annotations_load (path, &error);
  g_assert_null (set);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "larger than any sidecar"));
  g_assert_nonnull (strstr (error->message, "moved to"));
  listing = list_dir (dir);
  g_assert_true (g_str_has_prefix (listing, "scan.dcm.hepascope.json.damaged-"));
  g_assert_nonnull (strstr (error->message, listing));
  {
    g_autofree char *aside = g_build_filename (dir, listing, NULL);

    g_assert_cmpint (g_stat (aside, &st), ==, 0);
    g_assert_cmpint (st.st_size, ==, (off_t) HEPA_ANNOTATIONS_MAX_BYTES + 1);
  }
  hepa_test_rmtree (dir);
}

/* A sidecar that is a FIFO blocked the open for ever; one that links to /dev/zero read until
 * memory ran out (the size check read st_size, 0 for a device). Both are refused at once and
 * left where they are (neither is a file a user drew in). */
static void
test_not_regular (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *fifo = g_build_filename (dir, "a.dcm.hepascope.json", NULL);
  g_autofree char *zero = g_build_filename (dir, "b.dcm.hepascope.json", NULL);
  const char *paths[] = { fifo, zero };

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (symlink ("/dev/zero", zero), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaAnnotations) set = hepa_annotations_load (paths[i], &error);

      g_assert_null (set);
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, paths[i]));
      g_assert_nonnull (strstr (error->message, "Not a regular file"));
      g_assert_true (g_file_test (paths[i], G_FILE_TEST_EXISTS));
    }
  hepa_test_rmtree (dir);
}

/* hepa_write_file_atomic (sidecars, export crops and manifests) left its hidden temporary file
 * (.NAME.XXXXXX) when the process was killed while writing. Now the data goes to an unnamed
 * O_TMPFILE first. A child rewrites 48 MB again and again and is SIGKILLed 8 times. */
static void
test_atomic_write_killed (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "big.json", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  guint leftovers = 0;

  for (int round = 0; round < 8; round++)
    {
      pid_t pid = fork ();
      int status = 0;

      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          gsize n = 48 * 1024 * 1024;
          char *data = g_malloc (n);

          memset (data, 'x', n);
          for (;;)
            hepa_write_file_atomic (path, data, n, 0644, "test", NULL);
        }
      g_usleep (g_rand_int_range (rand, 20000, 200000));
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
    }
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (d)) != NULL)
      if (strcmp (name, "big.json") != 0)
        {
          g_test_message ("left behind: %s", name);
          leftovers++;
        }
  }
  g_assert_cmpuint (leftovers, ==, 0);
  hepa_test_rmtree (dir);
}

/* The workbench starts with no regions when the sidecar is from a newer Hepascope; its first
 * autosave replaced that file and every region in it. A save now refuses to. */
static void
test_newer_version_not_replaced (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  const char *newer = "{\"format\": \"hepascope-annotations\", \"version\": 9, \"rois\": [],"
                      " \"future\": true}";
  g_autoptr(HepaAnnotations) set = hepa_annotations_new ("scan.dcm");
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  HepaRect rect = { 1, 2, 3, 4 };

  g_assert_true (g_file_set_contents (path, newer, -1, NULL));
  g_ptr_array_add (set->rois, hepa_roi_new (0, &rect, "cyst", "me"));
  g_assert_false (hepa_annotations_save (set, path, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, newer);
  hepa_test_rmtree (dir);
}

static void
test_newer_version_left_alone (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  const char *newer = "{\"format\": \"hepascope-annotations\", \"version\": 9, \"rois\": [],"
                      " \"shiny\": true}";
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *listing = NULL;

  g_assert_true (g_file_set_contents (path, newer, -1, NULL));
  g_assert_null (hepa_annotations_load (path, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "newer"));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, newer);
  listing = list_dir (dir);
  g_assert_cmpstr (listing, ==, "scan.dcm.hepascope.json");
  hepa_test_rmtree (dir);
}

static void
test_parse_rejects (void)
{
  /* Each of these must fail cleanly with HEPA_ERROR_FORMAT. */
  const char *bad[] = {
    "",
    "[]",
    "{}",
    "{\"format\": \"other\", \"version\": 1, \"rois\": []}",
    "{\"format\": \"hepascope-annotations\", \"version\": \"1\", \"rois\": []}",
    "{\"format\": \"hepascope-annotations\", \"version\": 0, \"rois\": []}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": {}}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [1]}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"image\": 3, \"rois\": []}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"a\","
    " \"frame\": 0, \"x\": 0, \"y\": 0, \"width\": 0, \"height\": 5,"
    " \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\"}]}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"a\","
    " \"frame\": -1, \"x\": 0, \"y\": 0, \"width\": 5, \"height\": 5,"
    " \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\"}]}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"a\","
    " \"frame\": 0, \"x\": 1e40, \"y\": 0, \"width\": 5, \"height\": 5,"
    " \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\"}]}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"a\","
    " \"frame\": 0, \"x\": 0, \"y\": 0, \"width\": 5, \"height\": 5,"
    " \"created\": \"yesterday\", \"modified\": \"2026-11-27T09:00:00Z\"}]}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"a\","
    " \"frame\": 0, \"x\": 0, \"y\": 0, \"width\": 5, \"height\": 5,"
    " \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\"},"
    " {\"id\": \"a\", \"frame\": 0, \"x\": 0, \"y\": 0, \"width\": 5, \"height\": 5,"
    " \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\"}]}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"a\","
    " \"frame\": 0, \"x\": 0, \"y\": 0, \"width\": 5, \"height\": 5,"
    " \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\","
    " \"prediction\": {\"model_id\": \"m\", \"classes\": [\"a\", \"b\"],"
    " \"probabilities\": [0.5]}}]}",
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"a\","
    " \"frame\": 0, \"x\": 0, \"y\": 0, \"width\": 5, \"height\": 5,"
    " \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\","
    " \"prediction\": {\"model_id\": \"m\", \"classes\": [\"a\"], \"probabilities\": [7]}}]}",
    /* Found by fuzz-sidecar: json-glib quotes the input, newline included, in its message. */
    "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\": \"x\","
    " \"modifi0596,\n 0.05\"\n}]}",
  };
  const char nul[] = "{\"format\": \"hepascope-annotations\"\0, \"version\": 1, \"rois\": []}";

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaAnnotations) set = hepa_annotations_parse (bad[i], strlen (bad[i]), &error);

      if (set != NULL)
        g_error ("case %u parsed: %s", i, bad[i]);
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
      g_assert_null (strchr (error->message, '\n'));
    }
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (hepa_annotations_parse (nul, sizeof nul - 1, &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  }
}

static void
test_parse_accepts_minimal (void)
{
  const char *ok = "{\"format\": \"hepascope-annotations\", \"version\": 1, \"rois\": [{\"id\":"
                   " \"a\", \"frame\": 2, \"x\": -3, \"y\": 4, \"width\": 5, \"height\": 6,"
                   " \"label\": \"\", \"created\": \"2026-11-27T09:00:00Z\","
                   " \"modified\": \"2026-11-27T10:00:00+01:00\", \"unknown\": [1]}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaAnnotations) set = hepa_annotations_parse (ok, strlen (ok), &error);
  const HepaRoi *roi;

  g_assert_no_error (error);
  g_assert_cmpuint (set->rois->len, ==, 1);
  roi = g_ptr_array_index (set->rois, 0);
  g_assert_cmpuint (roi->frame, ==, 2);
  g_assert_cmpint (roi->rect.x, ==, -3);
  g_assert_null (roi->label);
  g_assert_cmpstr (roi->rater, ==, "");
  g_assert_cmpint (roi->created, ==, roi->modified);
  g_assert_null (roi->pred_model_id);
}

/* ---- Fault injection ------------------------------------------------------------------ */

static gsize hook_budget;

/* Behaves like a disk with @hook_budget bytes left. */
static ssize_t
enospc_write (int         fd,
              const void *buf,
              size_t      count)
{
  if (hook_budget == 0)
    {
      errno = ENOSPC;
      return -1;
    }
  count = MIN (count, hook_budget);
  hook_budget -= count;
  return write (fd, buf, count);
}

/* Writes one byte at a time, as a slow pipe or an interrupted write would. */
static ssize_t
short_write (int         fd,
             const void *buf,
             size_t      count)
{
  return write (fd, buf, MIN (count, 1));
}

static void
test_save_enospc_hook (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  g_autoptr(HepaAnnotations) old_set = make_set (2);
  g_autoptr(HepaAnnotations) new_set = make_set (40);
  g_autoptr(HepaAnnotations) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listing = NULL;

  g_assert_true (hepa_annotations_save (old_set, path, &error));

  for (gsize budget = 0; budget < 5000; budget += 997)
    {
      hook_budget = budget;
      hepa_annotations_set_write_func_for_testing (enospc_write);
      g_assert_false (hepa_annotations_save (new_set, path, &error));
      hepa_annotations_set_write_func_for_testing (NULL);
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_NO_SPACE);
      g_assert_nonnull (strstr (error->message, path));
      g_assert_nonnull (strstr (error->message, "full"));
      g_clear_error (&error);

      back = hepa_annotations_load (path, &error);
      g_assert_no_error (error);
      assert_sets_equal (old_set, back);
      g_clear_pointer (&back, hepa_annotations_free);
      listing = list_dir (dir);
      g_assert_cmpstr (listing, ==, "scan.dcm.hepascope.json");
      g_clear_pointer (&listing, g_free);
    }

  hepa_annotations_set_write_func_for_testing (short_write);
  g_assert_true (hepa_annotations_save (new_set, path, &error));
  hepa_annotations_set_write_func_for_testing (NULL);
  g_assert_no_error (error);
  back = hepa_annotations_load (path, &error);
  g_assert_no_error (error);
  assert_sets_equal (new_set, back);

  hepa_test_rmtree (dir);
}

/* Run inside `unshare -rm` by the tests below: MODE is "enospc" (a 64 KiB tmpfs) or "erofs"
 * (a tmpfs remounted read-only). Exits 0 when the save failed cleanly and nothing was lost. */
static int
fault_helper (const char *mode,
              const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  g_autoptr(HepaAnnotations) old_set = make_set (2);
  g_autoptr(HepaAnnotations) new_set = make_set (1200);
  g_autoptr(HepaAnnotations) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listing = NULL;
  HepaError expected = HEPA_ERROR_NO_SPACE;

  if (!hepa_annotations_save (old_set, path, &error))
    {
      g_printerr ("first save failed: %s\n", error->message);
      return 2;
    }
  if (strcmp (mode, "erofs") == 0)
    {
      g_autofree char *cmd = g_strdup_printf ("mount -o remount,ro '%s'", dir);

      expected = HEPA_ERROR_PERMISSION;
      if (system (cmd) != 0)
        return 3;
    }
  if (hepa_annotations_save (new_set, path, &error))
    {
      g_printerr ("save succeeded unexpectedly\n");
      return 4;
    }
  if (!g_error_matches (error, HEPA_ERROR, expected))
    {
      g_printerr ("wrong error: %s\n", error->message);
      return 5;
    }
  g_print ("%s\n", error->message);
  g_clear_error (&error);
  back = hepa_annotations_load (path, &error);
  if (back == NULL || back->rois->len != old_set->rois->len)
    {
      g_printerr ("old sidecar lost\n");
      return 6;
    }
  listing = list_dir (dir);
  if (strcmp (listing, "scan.dcm.hepascope.json") != 0)
    {
      g_printerr ("left behind: %s\n", listing);
      return 7;
    }
  return 0;
}

static void
run_fault_helper (const char *mode)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *script = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *unshare = g_find_program_in_path ("unshare");
  int status = 0;

  if (unshare == NULL || self == NULL)
    {
      g_test_skip ("unshare(1) is not available");
      hepa_test_rmtree (dir);
      return;
    }
  /* A private mount namespace lets an unprivileged user mount a tiny tmpfs. */
  script = g_strdup_printf ("mount -t tmpfs -o size=64k tmpfs '%s' || exit 77; "
                            "exec '%s' --fault-helper %s '%s'", dir, self, mode, dir);
  {
    const char *argv[] = { unshare, "-rm", "sh", "-c", script, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                 &out, &err, &status, &error));
  }
  if (WIFEXITED (status) && (WEXITSTATUS (status) == 77 || WEXITSTATUS (status) == 1)
      && strstr (out, "Could not save") == NULL)
    {
      g_test_message ("unshare/mount refused: %s", err);
      g_test_skip ("cannot mount a tmpfs in a user namespace here");
      hepa_test_rmtree (dir);
      return;
    }
  g_test_message ("%s%s", out, err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_nonnull (strstr (out, "Could not save annotations"));
  hepa_test_rmtree (dir);
}

static void
test_save_full_tmpfs (void)
{
  run_fault_helper ("enospc");
}

static void
test_save_read_only_mount (void)
{
  run_fault_helper ("erofs");
}

/* A folder without write permission (meaningful when not running as root). */
static void
test_save_read_only_folder (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  g_autoptr(HepaAnnotations) old_set = make_set (2);
  g_autoptr(HepaAnnotations) new_set = make_set (5);
  g_autoptr(HepaAnnotations) back = NULL;
  g_autoptr(GError) error = NULL;

  if (geteuid () == 0)
    {
      g_test_skip ("root ignores folder permissions; see read-only-mount");
      hepa_test_rmtree (dir);
      return;
    }
  g_assert_true (hepa_annotations_save (old_set, path, &error));
  g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
  g_assert_false (hepa_annotations_save (new_set, path, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "not writable"));
  g_clear_error (&error);
  back = hepa_annotations_load (path, &error);
  g_assert_no_error (error);
  assert_sets_equal (old_set, back);
  g_chmod (dir, 0755);
  hepa_test_rmtree (dir);
}

/* fuzz-sidecar finding: json-glib reads "\706" as a raw byte, so a pure-ASCII file parsed into
 * an id that was not UTF-8, and what was written back could not be read. Refused now. */
static void
test_octal_escape_refused (void)
{
  static const char text[] =
    "{ \"format\": \"hepascope-annotations\", \"version\": 1, \"image\": \"a.dcm\","
    "  \"rois\": [ { \"id\": \"r-99c\\7069a9\", \"frame\": 0, \"x\": 0, \"y\": 0,"
    "  \"width\": 64, \"height\": 48, \"label\": null, \"rater\": \"\","
    "  \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\" } ] }";
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaAnnotations) set = hepa_annotations_parse (text, strlen (text), &error);

  g_assert_null (set);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "UTF-8"));
}

/* Issue 24: a rater's read-first reads ride along per ROI. Without reads the file stays
 * version 1 (older Hepascopes open it); with reads it is version 2 and round-trips. */
static void
test_reads_round_trip (void)
{
  g_autoptr(HepaAnnotations) set = hepa_annotations_new ("scan.dcm");
  HepaRect rect = { 10, 20, 64, 48 };
  HepaRoi *roi = hepa_roi_new (0, &rect, "cyst", "expert");
  g_autoptr(HepaRoiRead) read = hepa_roi_read_new ("ana", "hcc", 1796000000, 4200, "read-first");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaAnnotations) back = NULL;
  g_autofree char *v1 = NULL;
  g_autofree char *v2 = NULL;
  HepaRoi *got;
  HepaRoiRead *got_read;

  g_ptr_array_add (set->rois, roi);
  v1 = hepa_annotations_to_data (set, NULL);
  g_assert_nonnull (strstr (v1, "\"version\" : 1"));
  g_assert_null (strstr (v1, "reads"));

  hepa_roi_add_read (roi, read);
  v2 = hepa_annotations_to_data (set, NULL);
  g_assert_nonnull (strstr (v2, "\"version\" : 2"));
  back = hepa_annotations_parse (v2, strlen (v2), &error);
  g_assert_no_error (error);
  got = g_ptr_array_index (back->rois, 0);
  g_assert_cmpstr (got->label, ==, "cyst");
  g_assert_nonnull (got->reads);
  g_assert_cmpuint (got->reads->len, ==, 1);
  got_read = g_ptr_array_index (got->reads, 0);
  g_assert_cmpstr (got_read->rater, ==, "ana");
  g_assert_cmpstr (got_read->label, ==, "hcc");
  g_assert_cmpint (got_read->decided, ==, 1796000000);
  g_assert_cmpint (got_read->time_to_decide_ms, ==, 4200);
  g_assert_cmpstr (got_read->mode, ==, "read-first");

  /* A copy carries the reads. */
  {
    g_autoptr(HepaRoi) copy = hepa_roi_copy (got);

    g_assert_cmpuint (copy->reads->len, ==, 1);
    g_assert_cmpstr (((HepaRoiRead *) g_ptr_array_index (copy->reads, 0))->label, ==, "hcc");
  }
}

static void
test_reads_rejects (void)
{
  static const char *const bad[] = {
    "\"reads\": 3",
    "\"reads\": [1]",
    "\"reads\": [{\"rater\": \"a\", \"decided\": \"2026-11-27T09:00:00Z\", \"time_to_decide_ms\": 5}]",
    "\"reads\": [{\"rater\": \"a\", \"label\": \"\", \"decided\": \"2026-11-27T09:00:00Z\", \"time_to_decide_ms\": 5}]",
    "\"reads\": [{\"rater\": \"a\", \"label\": \"cyst\", \"decided\": \"yesterday\", \"time_to_decide_ms\": 5}]",
    "\"reads\": [{\"rater\": \"a\", \"label\": \"cyst\", \"decided\": \"2026-11-27T09:00:00Z\", \"time_to_decide_ms\": -1}]",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf (
        "{ \"format\": \"hepascope-annotations\", \"version\": 2, \"image\": \"a.dcm\","
        "  \"rois\": [ { \"id\": \"r-1\", \"frame\": 0, \"x\": 0, \"y\": 0,"
        "  \"width\": 64, \"height\": 48, \"label\": null, \"rater\": \"\","
        "  \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\", %s } ] }",
        bad[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaAnnotations) set = hepa_annotations_parse (text, strlen (text), &error);

      g_test_message ("%s", bad[i]);
      g_assert_null (set);
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
      g_assert_null (strchr (error->message, '\n'));
    }
  /* A version-1 file without reads still loads; a version 3 file is refused unchanged. */
  {
    static const char v1[] =
      "{ \"format\": \"hepascope-annotations\", \"version\": 1, \"image\": \"a.dcm\","
      "  \"rois\": [ { \"id\": \"r-1\", \"frame\": 0, \"x\": 0, \"y\": 0,"
      "  \"width\": 64, \"height\": 48, \"label\": \"cyst\", \"rater\": \"\","
      "  \"created\": \"2026-11-27T09:00:00Z\", \"modified\": \"2026-11-27T09:00:00Z\" } ] }";
    static const char v3[] =
      "{ \"format\": \"hepascope-annotations\", \"version\": 3, \"rois\": [] }";
    g_autoptr(GError) error = NULL;
    g_autoptr(HepaAnnotations) set = hepa_annotations_parse (v1, strlen (v1), &error);
    g_autoptr(HepaAnnotations) newer = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (set->rois->len, ==, 1);
    g_assert_null (((HepaRoi *) g_ptr_array_index (set->rois, 0))->reads);
    newer = hepa_annotations_parse (v3, strlen (v3), &error);
    g_assert_null (newer);
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED);
  }
}

int
main (int    argc,
      char **argv)
{
  if (argc == 4 && strcmp (argv[1], "--fault-helper") == 0)
    return fault_helper (argv[2], argv[3]);
  /* Writes the seed corpus of tests/fuzz/fuzz-sidecar.c. */
  if (argc == 3 && strcmp (argv[1], "--write-fuzz-seeds") == 0)
    {
      const guint sizes[] = { 0, 1, 3, 8 };

      for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
        {
          g_autoptr(HepaAnnotations) set = make_set (sizes[i]);
          g_autofree char *name = g_strdup_printf ("rois-%u.json", sizes[i]);
          g_autofree char *path = g_build_filename (argv[2], name, NULL);
          g_autofree char *data = hepa_annotations_to_data (set, NULL);

          if (!g_file_set_contents (path, data, -1, NULL))
            return 1;
        }
      return 0;
    }

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/annotations/roi-lifecycle", test_roi_lifecycle);
  g_test_add_func ("/core/annotations/reads-round-trip", test_reads_round_trip);
  g_test_add_func ("/core/annotations/reads-rejects", test_reads_rejects);
  g_test_add_func ("/core/annotations/sidecar-path", test_sidecar_path);
  g_test_add_func ("/core/annotations/round-trip", test_round_trip);
  g_test_add_func ("/core/annotations/octal-escape-refused", test_octal_escape_refused);
  g_test_add_func ("/core/annotations/time-round-trip", test_time_round_trip);
  g_test_add_func ("/core/annotations/missing-is-empty", test_missing_is_empty);
  g_test_add_func ("/core/annotations/damaged-moved-aside", test_damaged_moved_aside);
  g_test_add_func ("/core/annotations/newer-version-left-alone", test_newer_version_left_alone);
  g_test_add_func ("/core/annotations/huge-moved-aside", test_huge_moved_aside);
  g_test_add_func ("/core/annotations/not-regular", test_not_regular);
  g_test_add_func ("/core/annotations/newer-version-not-replaced", test_newer_version_not_replaced);
  g_test_add_func ("/core/annotations/atomic-write-killed", test_atomic_write_killed);
  g_test_add_func ("/core/annotations/parse-rejects", test_parse_rejects);
  g_test_add_func ("/core/annotations/parse-accepts-minimal", test_parse_accepts_minimal);
  g_test_add_func ("/core/annotations/save-enospc-hook", test_save_enospc_hook);
  g_test_add_func ("/core/annotations/save-full-tmpfs", test_save_full_tmpfs);
  g_test_add_func ("/core/annotations/save-read-only-mount", test_save_read_only_mount);
  g_test_add_func ("/core/annotations/save-read-only-folder", test_save_read_only_folder);
  return g_test_run ();
}
