/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench's model objects without a display: HepaDocument (open, edit, save, notices,
 * latest wins, cancel), HepaClassifier (a real engine on a seeded ResNet18: results, the
 * live/finished scheduling policy, cancel) and HepaStudy (scan and per-file counts). Real files
 * made with the UI fixtures; nothing is mocked. */
#include "config.h"

#include "hepa-annotations.h"
#include "hepa-classifier.h"
#include "hepa-document.h"
#include "hepa-study.h"
#include "hepa-test-utils.h"
#include "hepa-ui-fixtures.h"

#include <glib/gstdio.h>
#include <unistd.h>

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->dir = hepa_test_mkdtemp ();
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  hepa_test_rmtree (f->dir);
  g_free (f->dir);
}

/* Iterates the main loop until *@flag is set (or fails after 60 s). */
static void
wait_for (gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (!*flag)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static char *
write_phantom (const char *dir,
               const char *name,
               guint64     seed)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (hepa_ui_fixture_write_phantom (path, "hemangioma", seed, NULL, &error));
  g_assert_no_error (error);
  return path;
}

/* ---- Document ------------------------------------------------------------------------- */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} Outcome;

static void
open_done_cb (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Outcome *o = user_data;

  o->ok = hepa_document_open_finish (HEPA_DOCUMENT (source), res, &o->error);
  o->done = TRUE;
}

static void
save_done_cb (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Outcome *o = user_data;

  o->ok = hepa_document_save_finish (HEPA_DOCUMENT (source), res, &o->error);
  o->done = TRUE;
}

static void
open_and_wait (HepaDocument *doc,
               const char   *path)
{
  Outcome o = { 0 };

  hepa_document_open_async (doc, path, NULL, open_done_cb, &o);
  wait_for (&o.done);
  g_assert_no_error (o.error);
  g_assert_true (o.ok);
}

typedef struct
{
  int    kind;
  char  *message;
  guint  n;
} Notice;

static void
notice_cb (HepaDocument *doc,
           int           kind,
           const char   *message,
           Notice       *n)
{
  g_free (n->message);
  n->kind = kind;
  n->message = g_strdup (message);
  n->n++;
}

static gboolean
not_saving (HepaDocument *doc)
{
  return !hepa_document_get_saving (doc);
}

static void
wait_saved (HepaDocument *doc)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (!not_saving (doc))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
test_document_open_edit_save (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *image = write_phantom (f->dir, "liver.png", 7);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image, NULL);
  g_autoptr(HepaDocument) doc = hepa_document_new ();
  HepaRoiStore *store = hepa_document_get_store (doc);
  g_autoptr(HepaAnnotations) saved = NULL;
  g_autoptr(GError) error = NULL;
  HepaRect rect = { 100, 120, 80, 60 };
  const HepaRoi *roi;
  const char *id;

  g_assert_null (hepa_document_get_image (doc));
  open_and_wait (doc, image);
  g_assert_nonnull (hepa_document_get_image (doc));
  g_assert_cmpint (hepa_image_get_width (hepa_document_get_image (doc)), ==, 640);
  g_assert_cmpstr (hepa_document_get_path (doc), ==, image);
  g_assert_cmpstr (hepa_document_get_sidecar_path (doc), ==, sidecar);
  g_assert_cmpuint (hepa_roi_store_get_rois (store)->len, ==, 0);
  g_assert_false (hepa_document_get_modified (doc));
  g_assert_false (g_file_test (sidecar, G_FILE_TEST_EXISTS));

  /* An edit is written by itself. */
  id = hepa_roi_store_add (store, 0, &rect);
  g_assert_nonnull (id);
  g_assert_true (hepa_document_get_modified (doc));
  g_assert_true (hepa_roi_store_set_label (store, id, "cyst", NULL, NULL, NULL));
  wait_saved (doc);
  g_assert_false (hepa_document_get_modified (doc));
  saved = hepa_annotations_load (sidecar, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (saved->rois->len, ==, 1);
  roi = g_ptr_array_index (saved->rois, 0);
  g_assert_cmpint (roi->rect.x, ==, 100);
  g_assert_cmpint (roi->rect.width, ==, 80);
  g_assert_cmpstr (roi->label, ==, "cyst");

  /* Opened again, the region is there and selected. */
  {
    g_autoptr(HepaDocument) again = hepa_document_new ();

    open_and_wait (again, image);
    g_assert_cmpuint (hepa_roi_store_get_rois (hepa_document_get_store (again))->len, ==, 1);
    g_assert_cmpstr (hepa_roi_store_get_selected (hepa_document_get_store (again)), ==,
                     roi->id);
  }

  /* An explicit save answers once the write is done. */
  {
    Outcome o = { 0 };

    hepa_document_save_async (doc, NULL, save_done_cb, &o);
    wait_for (&o.done);
    g_assert_no_error (o.error);
    g_assert_true (o.ok);
  }
}

static void
test_document_damaged_sidecar (Fixture       *f,
                               gconstpointer  data)
{
  g_autofree char *image = write_phantom (f->dir, "damaged.png", 8);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image, NULL);
  g_autoptr(HepaDocument) doc = hepa_document_new ();
  g_autoptr(GDir) dir = NULL;
  Notice n = { 0 };
  const char *name;
  gboolean aside = FALSE;

  g_assert_true (g_file_set_contents (sidecar, "{\"format\": \"hepascope-annotations\", [", -1,
                                      NULL));
  g_signal_connect (doc, "notice", G_CALLBACK (notice_cb), &n);
  open_and_wait (doc, image);
  g_assert_cmpuint (n.n, ==, 1);
  g_assert_cmpint (n.kind, ==, HEPA_NOTICE_WARNING);
  g_assert_nonnull (strstr (n.message, "damaged.png"));
  g_assert_cmpuint (hepa_roi_store_get_rois (hepa_document_get_store (doc))->len, ==, 0);
  /* Kept aside, not lost. */
  g_assert_false (g_file_test (sidecar, G_FILE_TEST_EXISTS));
  dir = g_dir_open (f->dir, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    aside |= strstr (name, ".damaged-") != NULL;
  g_assert_true (aside);
  g_free (n.message);
}

static void
test_document_workspace (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *sub = g_build_filename (f->dir, "ro", NULL);
  g_autofree char *image = NULL;
  g_autofree char *ws = hepa_document_workspace_dir ();
  g_autoptr(HepaDocument) doc = hepa_document_new ();
  Notice n = { 0 };

  if (getuid () == 0)
    {
      g_test_skip ("root writes into read-only folders");
      return;
    }
  g_mkdir (sub, 0755);
  image = write_phantom (sub, "ro.png", 9);
  g_chmod (sub, 0555);
  g_signal_connect (doc, "notice", G_CALLBACK (notice_cb), &n);
  open_and_wait (doc, image);
  g_chmod (sub, 0755);
  g_assert_cmpuint (n.n, ==, 1);
  g_assert_cmpint (n.kind, ==, HEPA_NOTICE_INFO);
  g_assert_true (g_str_has_prefix (hepa_document_get_sidecar_path (doc), ws));
  g_free (n.message);
}

static void
test_document_failed_save (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *image = write_phantom (f->dir, "full.png", 10);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image, NULL);
  g_autoptr(HepaDocument) doc = hepa_document_new ();
  HepaRect rect = { 10, 10, 64, 64 };
  Notice n = { 0 };

  open_and_wait (doc, image);
  /* A folder where the sidecar goes: no write can replace it. */
  g_assert_cmpint (g_mkdir (sidecar, 0755), ==, 0);
  g_signal_connect (doc, "notice", G_CALLBACK (notice_cb), &n);
  g_assert_nonnull (hepa_roi_store_add (hepa_document_get_store (doc), 0, &rect));
  wait_saved (doc);
  g_assert_cmpuint (n.n, ==, 1);
  g_assert_cmpint (n.kind, ==, HEPA_NOTICE_ERROR);
  /* Kept in memory and still to be written. */
  g_assert_true (hepa_document_get_modified (doc));
  g_assert_cmpuint (hepa_roi_store_get_rois (hepa_document_get_store (doc))->len, ==, 1);

  /* Once the way is clear, the next save writes it. */
  g_assert_cmpint (g_rmdir (sidecar), ==, 0);
  {
    Outcome o = { 0 };

    hepa_document_save_async (doc, NULL, save_done_cb, &o);
    wait_for (&o.done);
    g_assert_no_error (o.error);
  }
  g_assert_false (hepa_document_get_modified (doc));
  g_assert_true (g_file_test (sidecar, G_FILE_TEST_IS_REGULAR));
  g_free (n.message);
}

static void
test_document_latest_wins (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *a = write_phantom (f->dir, "a.png", 11);
  g_autofree char *b = write_phantom (f->dir, "b.png", 12);
  g_autofree char *c = write_phantom (f->dir, "c.png", 13);
  g_autoptr(HepaDocument) doc = hepa_document_new ();
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  Outcome oa = { 0 }, ob = { 0 }, oc = { 0 };

  /* Two opens at once: the first one changes nothing. */
  hepa_document_open_async (doc, a, NULL, open_done_cb, &oa);
  hepa_document_open_async (doc, b, NULL, open_done_cb, &ob);
  g_assert_true (hepa_document_get_loading (doc));
  wait_for (&oa.done);
  wait_for (&ob.done);
  g_assert_error (oa.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_no_error (ob.error);
  g_assert_cmpstr (hepa_document_get_path (doc), ==, b);
  g_assert_false (hepa_document_get_loading (doc));

  /* A cancelled open leaves the document as it was. */
  hepa_document_open_async (doc, c, cancel, open_done_cb, &oc);
  g_cancellable_cancel (cancel);
  wait_for (&oc.done);
  g_assert_error (oc.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (hepa_document_get_path (doc), ==, b);
  g_clear_error (&oa.error);
  g_clear_error (&oc.error);
}

static void
test_document_unreadable (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *good = write_phantom (f->dir, "good.png", 14);
  g_autofree char *bad = g_build_filename (f->dir, "bad.png", NULL);
  g_autoptr(HepaDocument) doc = hepa_document_new ();
  Outcome o = { 0 };

  g_assert_true (g_file_set_contents (bad, "not a png", -1, NULL));
  open_and_wait (doc, good);
  hepa_document_open_async (doc, bad, NULL, open_done_cb, &o);
  wait_for (&o.done);
  g_assert_false (o.ok);
  g_assert_nonnull (o.error);
  /* The good file stays open. */
  g_assert_cmpstr (hepa_document_get_path (doc), ==, good);
  g_clear_error (&o.error);
}

/* ---- Classifier ----------------------------------------------------------------------- */

typedef struct
{
  GPtrArray *answered;  /* (element-type utf8) region ids, in order */
  guint      failed;
} Answers;

static void
result_cb (HepaClassifier *classifier,
           const char     *roi_id,
           Answers        *a)
{
  g_ptr_array_add (a->answered, g_strdup (roi_id));
}

static void
failed_cb (HepaClassifier *classifier,
           const char     *roi_id,
           const char     *message,
           Answers        *a)
{
  a->failed++;
}

static HepaModelHandle *
load_model (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  HepaModel *model;
  HepaEngine *engine;

  g_assert_true (hepa_ui_fixture_write_model (path, &error));
  model = hepa_model_load (path, &error);
  g_assert_no_error (error);
  engine = hepa_engine_new (model, &error);
  g_assert_no_error (error);
  return hepa_model_handle_new (model, engine, path);
}

static void
wait_idle (HepaClassifier *classifier)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  while (hepa_classifier_get_busy (classifier))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static HepaRoi *
roi_at (const char *id,
        int         x)
{
  HepaRect rect = { x, 100, 120, 100 };
  HepaRoi *roi = hepa_roi_new (0, &rect, NULL, NULL);

  g_free (roi->id);
  roi->id = g_strdup (id);
  return roi;
}

static void
test_classifier (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *image_path = write_phantom (f->dir, "c.png", 21);
  g_autoptr(HepaModelHandle) model = load_model (f->dir);
  g_autoptr(HepaImage) image = hepa_image_open (image_path, NULL);
  g_autoptr(HepaClassifier) classifier = hepa_classifier_new ();
  g_autoptr(HepaRoi) a = roi_at ("a", 50);
  g_autoptr(HepaRoi) b = roi_at ("b", 200);
  g_autoptr(HepaRoi) c = roi_at ("c", 350);
  Answers ans = { g_ptr_array_new_with_free_func (g_free), 0 };
  const HepaResult *r;
  float sum = 0;

  g_assert_nonnull (image);
  g_signal_connect (classifier, "result", G_CALLBACK (result_cb), &ans);
  g_signal_connect (classifier, "failed", G_CALLBACK (failed_cb), &ans);
  hepa_classifier_set_model (classifier, model);
  hepa_classifier_set_image (classifier, image);

  /* One request, one real answer. */
  hepa_classifier_request (classifier, a, FALSE);
  g_assert_true (hepa_classifier_get_busy (classifier));
  wait_idle (classifier);
  g_assert_cmpuint (ans.answered->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (ans.answered, 0), ==, "a");
  r = hepa_classifier_get_result (classifier);
  g_assert_nonnull (r);
  g_assert_cmpuint (r->n_classes, ==, 5);
  for (guint i = 0; i < r->n_classes; i++)
    sum += r->probabilities[i];
  g_assert_cmpfloat_with_epsilon (sum, 1.0f, 1e-4f);
  g_assert_true (hepa_classifier_answers (classifier, a));
  g_assert_false (hepa_classifier_answers (classifier, b));

  /* Asked again for the same region: answered at once, nothing runs. */
  hepa_classifier_request (classifier, a, FALSE);
  g_assert_false (hepa_classifier_get_busy (classifier));
  g_assert_cmpuint (ans.answered->len, ==, 2);

  /* Finished edits, latest wins: b is cancelled, c answered. */
  g_ptr_array_set_size (ans.answered, 0);
  hepa_classifier_request (classifier, b, FALSE);
  hepa_classifier_request (classifier, c, FALSE);
  wait_idle (classifier);
  g_assert_cmpuint (ans.answered->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (ans.answered, 0), ==, "c");
  g_assert_true (hepa_classifier_answers (classifier, c));

  /* A live drag: the running job (a) finishes, one request waits and the newest (c moved)
   * replaces the queued one (b). */
  g_ptr_array_set_size (ans.answered, 0);
  c->rect.x += 8;
  hepa_classifier_request (classifier, a, TRUE);
  hepa_classifier_request (classifier, b, TRUE);
  g_assert_true (hepa_classifier_get_pending (classifier));
  hepa_classifier_request (classifier, c, TRUE);
  wait_idle (classifier);
  g_assert_cmpuint (ans.answered->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (ans.answered, 0), ==, "a");
  g_assert_cmpstr (g_ptr_array_index (ans.answered, 1), ==, "c");
  g_assert_true (hepa_classifier_answers (classifier, c));

  /* Cancel: nothing arrives. */
  g_ptr_array_set_size (ans.answered, 0);
  b->rect.y += 4;
  hepa_classifier_request (classifier, b, FALSE);
  hepa_classifier_request (classifier, NULL, FALSE);
  wait_idle (classifier);
  g_assert_cmpuint (ans.answered->len, ==, 0);
  g_assert_cmpuint (ans.failed, ==, 0);

  /* A new image drops the kept answer. */
  hepa_classifier_set_image (classifier, image);
  g_assert_null (hepa_classifier_get_result (classifier));
  g_ptr_array_unref (ans.answered);
}

/* ---- Study ---------------------------------------------------------------------------- */

static void
scan_done_cb (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Outcome *o = user_data;

  o->ok = hepa_study_scan_finish (HEPA_STUDY (source), res, &o->error);
  o->done = TRUE;
}

static void
write_sidecar (const char *image,
               guint       n,
               guint       labeled)
{
  g_autofree char *base = g_path_get_basename (image);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image, NULL);
  g_autoptr(HepaAnnotations) ann = hepa_annotations_new (base);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    {
      HepaRect rect = { 10 + 70 * (int) i, 10, 64, 64 };

      g_ptr_array_add (ann->rois, hepa_roi_new (0, &rect, i < labeled ? "cyst" : NULL, "t"));
    }
  g_assert_true (hepa_annotations_save (ann, sidecar, &error));
  g_assert_no_error (error);
}

static void
test_study_scan (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *one = write_phantom (f->dir, "01-two.png", 31);
  g_autofree char *two = write_phantom (f->dir, "02-damaged.png", 32);
  g_autofree char *three = write_phantom (f->dir, "03-none.png", 33);
  g_autofree char *notes = g_build_filename (f->dir, "notes.txt", NULL);
  g_autofree char *damaged = hepa_annotations_sidecar_path (two, NULL);
  g_autofree char *empty = g_build_filename (f->dir, "empty", NULL);
  g_autoptr(HepaStudy) study = hepa_study_new ();
  Outcome o = { 0 }, o2 = { 0 }, o3 = { 0 };

  write_sidecar (one, 3, 2);
  g_assert_true (g_file_set_contents (damaged, "{ broken", -1, NULL));
  g_assert_true (g_file_set_contents (notes, "not an image", -1, NULL));
  g_mkdir (empty, 0755);

  hepa_study_scan_async (study, f->dir, NULL, scan_done_cb, &o);
  wait_for (&o.done);
  g_assert_no_error (o.error);
  g_assert_cmpstr (hepa_study_get_folder (study), ==, f->dir);
  g_assert_cmpuint (hepa_study_get_n_files (study), ==, 3);
  g_assert_cmpstr (hepa_study_get_path (study, 0), ==, one);
  g_assert_cmpstr (hepa_study_get_path (study, 2), ==, three);
  g_assert_cmpstr (hepa_study_get_count (study, 0), ==, "3 regions, 2 labeled");
  g_assert_cmpstr (hepa_study_get_count (study, 1), ==, "regions file unreadable");
  g_assert_cmpstr (hepa_study_get_count (study, 2), ==, "no regions");
  g_assert_cmpint (hepa_study_get_index (study), ==, -1);
  /* Counting does not move the damaged sidecar aside. */
  g_assert_true (g_file_test (damaged, G_FILE_TEST_EXISTS));

  /* A folder without images leaves the study as it was; of two scans the newer one wins. */
  hepa_study_set_index (study, 1);
  hepa_study_scan_async (study, empty, NULL, scan_done_cb, &o2);
  wait_for (&o2.done);
  g_assert_error (o2.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpuint (hepa_study_get_n_files (study), ==, 3);
  g_assert_cmpint (hepa_study_get_index (study), ==, 1);

  memset (&o, 0, sizeof o);
  {
    const char *const files[] = { three, one, NULL };

    hepa_study_scan_async (study, f->dir, NULL, scan_done_cb, &o);
    hepa_study_scan_files_async (study, files, NULL, scan_done_cb, &o3);
  }
  wait_for (&o.done);
  wait_for (&o3.done);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_no_error (o3.error);
  g_assert_null (hepa_study_get_folder (study));
  g_assert_cmpuint (hepa_study_get_n_files (study), ==, 2);
  g_assert_cmpstr (hepa_study_get_path (study, 0), ==, three);
  g_assert_cmpstr (hepa_study_get_count (study, 1), ==, "3 regions, 2 labeled");
  g_clear_error (&o.error);
  g_clear_error (&o2.error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/app/document/open-edit-save", test_document_open_edit_save);
  ADD ("/app/document/damaged-sidecar", test_document_damaged_sidecar);
  ADD ("/app/document/workspace", test_document_workspace);
  ADD ("/app/document/failed-save", test_document_failed_save);
  ADD ("/app/document/latest-wins", test_document_latest_wins);
  ADD ("/app/document/unreadable", test_document_unreadable);
  ADD ("/app/classifier/schedule", test_classifier);
  ADD ("/app/study/scan", test_study_scan);
#undef ADD
  return g_test_run ();
}
