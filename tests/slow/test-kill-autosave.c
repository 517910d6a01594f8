/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A child process saves a sidecar again and again, one ROI more each time, as the workbench
 * autosaves every edit; the parent kills it with SIGKILL at random moments. After every kill
 * the sidecar must parse and be exactly one complete version, never older than before. */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-test-utils.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_KILLS_DEFAULT 250

/* Version v names itself in the image name and holds ROIs 0..(v % 300); every field of ROI k
 * is a function of k and v, so a mix of two versions cannot pass the check. The ROI count
 * wraps around to keep the file small enough that kills land mid-write at any version. */
static HepaAnnotations *
make_version (guint v)
{
  g_autofree char *name = g_strdup_printf ("scan-v%u.dcm", v);
  HepaAnnotations *set = hepa_annotations_new (name);
  const char *classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };
  guint n = v % 300 + 1;

  for (guint k = 0; k < n; k++)
    {
      HepaRect rect = { (int) (k * 7 % 500), (int) (k * 13 % 400), 20 + (int) (k % 50), 30 };
      HepaRoi *roi = hepa_roi_new (k % 3, &rect, classes[k % 5], "kill-loop");
      float p[5] = { 0.2f, 0.2f, 0.2f, 0.2f, 0.2f };

      g_free (roi->id);
      roi->id = g_strdup_printf ("r-%08x", k);
      roi->created = 1795770000 + k;
      roi->modified = roi->created + k + v;
      p[k % 5] = 0.2f + (float) (k % 100) / 1000.0f;
      if (k % 2 == 1)
        hepa_roi_set_prediction (roi, "resnet50-kill", classes, p);
      g_ptr_array_add (set->rois, roi);
    }
  return set;
}

/* Returns the version held by @path (0 when absent), or -1 when it is not one complete version. */
static int
check_sidecar (const char *path,
               char      **why)
{
  g_autofree char *data = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(HepaAnnotations) reference = NULL;
  gsize length = 0;
  guint64 v = 0;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return 0;
  if (!g_file_get_contents (path, &data, &length, &error))
    {
      *why = g_strdup (error->message);
      return -1;
    }
  set = hepa_annotations_parse (data, length, &error);
  if (set == NULL)
    {
      *why = g_strdup (error->message);
      return -1;
    }
  if (sscanf (set->image_name, "scan-v%" G_GUINT64_FORMAT ".dcm", &v) != 1 || v < 1
      || v > G_MAXINT)
    {
      *why = g_strdup_printf ("unexpected image name %s", set->image_name);
      return -1;
    }
  reference = make_version ((guint) v);
  expected = hepa_annotations_to_data (reference, NULL);
  if (strcmp (expected, data) != 0)
    {
      *why = g_strdup_printf ("names version %" G_GUINT64_FORMAT " but is not its bytes", v);
      return -1;
    }
  return (int) v;
}

/* The child: continue from whatever version is on disk and save forever. */
static void G_GNUC_NORETURN
child_main (const char *path)
{
  char *why = NULL;
  int start = check_sidecar (path, &why);

  if (start < 0)
    _exit (3);
  for (guint v = (guint) start + 1;; v++)
    {
      g_autoptr(HepaAnnotations) set = make_version (v);
      g_autoptr(GError) error = NULL;

      if (!hepa_annotations_save (set, path, &error))
        _exit (4);
    }
}

static void
test_kill_loop (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "scan.dcm.hepascope.json", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261127);
  const char *env = g_getenv ("HEPASCOPE_KILL_ITERATIONS");
  guint n_kills = env != NULL ? (guint) g_ascii_strtoull (env, NULL, 10) : N_KILLS_DEFAULT;
  guint n_changed = 0;
  guint n_leftover = 0;
  int last = 0;

  g_assert_cmpuint (n_kills, >=, 1);
  for (guint i = 0; i < n_kills; i++)
    {
      pid_t pid;
      int status = 0;
      char *why = NULL;
      int version;
      g_autoptr(GDir) listing = NULL;
      const char *name;

      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        child_main (path);

      /* Random moments from right after the fork to a few dozen saves later. */
      g_usleep (g_rand_int_range (rand, 0, 50000));
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      if (!WIFSIGNALED (status))
        g_error ("iteration %u: the saving child exited by itself (status %d)", i, status);

      version = check_sidecar (path, &why);
      if (version < 0)
        g_error ("iteration %u: the sidecar is not one complete version: %s", i, why);
      if (version < last)
        g_error ("iteration %u: the sidecar went back from version %d to %d", i, last, version);
      if (version != last)
        n_changed++;
      last = version;

      /* A kill between mkstemp and rename leaves a temp file; it never replaces the sidecar. */
      listing = g_dir_open (dir, 0, NULL);
      while ((name = g_dir_read_name (listing)) != NULL)
        if (strcmp (name, "scan.dcm.hepascope.json") != 0)
          {
            g_autofree char *leftover = g_build_filename (dir, name, NULL);

            g_assert_true (g_str_has_prefix (name, ".scan.dcm.hepascope.json."));
            g_unlink (leftover);
            n_leftover++;
          }
    }

  g_test_message ("%u kills; the sidecar changed between %u of them; %u temp files were left "
                  "by kills mid-save (never the sidecar itself)", n_kills, n_changed, n_leftover);
  /* Kills that all land before the first save would prove nothing. */
  g_assert_cmpuint (n_changed, >=, n_kills / 10);
  hepa_test_rmtree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/slow/annotations/kill-autosave", test_kill_loop);
  return g_test_run ();
}
