/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepa-pacs: node parsing, cancellation of a retrieval between DIMSE messages, and the async
 * twins (results and progress on the caller's thread). The archive cases need an archive holding a study of 5 images: test-pacs.sh runs this binary
 * with HEPASCOPE_TEST_PACS_NODE, _STUDY and _PORT set (our C-MOVE port); alone, they skip. */
#include "config.h"

#include "hepa-pacs.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_node_parse (void)
{
  static const char *const bad[] = {
    "ORTHANC", "ORTHANC@host", "@host:4242", "ORTHANC@:4242", "ORTHANC@host:0",
    "ORTHANC@host:65536", "ORTHANC@host:42x", "A_TITLE_LONGER_THAN_16@host:4242",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaPacsNode) node = hepa_pacs_node_parse ("ORTHANC@pacs.example:4242", NULL, &error);
  g_autoptr(HepaPacsNode) v6 = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (node->peer_aet, ==, "ORTHANC");
  g_assert_cmpstr (node->host, ==, "pacs.example");
  g_assert_cmpint (node->port, ==, 4242);
  g_assert_cmpstr (node->our_aet, ==, HEPA_PACS_DEFAULT_AET);

  v6 = hepa_pacs_node_parse ("PACS@[::1]:104", "WORKSTATION", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v6->host, ==, "::1");
  g_assert_cmpstr (v6->our_aet, ==, "WORKSTATION");
  text = hepa_pacs_node_to_string (v6);
  g_assert_cmpstr (text, ==, "PACS@[::1]:104");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(HepaPacsNode) none = hepa_pacs_node_parse (bad[i], NULL, &error);

      g_assert_null (none);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "“"));
      g_clear_error (&error);
    }
}

static void
test_cancelled_before (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaPacsNode) node = hepa_pacs_node_parse ("X@127.0.0.1:9", NULL, &error);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  g_cancellable_cancel (cancellable);
  g_assert_false (hepa_pacs_echo (node, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

typedef struct
{
  GCancellable *cancellable;
  guint         calls;
  guint         total;
} CancelCtx;

static void
cancel_after_first_cb (guint    done,
                       guint    total,
                       gpointer user_data)
{
  CancelCtx *ctx = user_data;

  ctx->calls++;
  ctx->total = MAX (ctx->total, total);
  if (done >= 1)
    g_cancellable_cancel (ctx->cancellable);
}

static guint
count_files (const char *dir,
             const char *suffix)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, suffix))
      n++;
  return n;
}

static void
cancel_retrieve (gboolean move)
{
  const char *spec = g_getenv ("HEPASCOPE_TEST_PACS_NODE");
  const char *study = g_getenv ("HEPASCOPE_TEST_PACS_STUDY");
  const char *port = g_getenv ("HEPASCOPE_TEST_PACS_PORT");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaPacsNode) node = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *dir = NULL;
  g_autofree char *incoming = NULL;
  CancelCtx ctx = { cancellable, 0, 0 };
  guint n = 99;

  if (spec == NULL || study == NULL || port == NULL)
    {
      g_test_skip ("needs an archive: run by tests/pacs/test-pacs.sh");
      return;
    }
  node = hepa_pacs_node_parse (spec, NULL, &error);
  g_assert_no_error (error);
  node->our_port = atoi (port);
  dir = g_dir_make_tmp ("hepa-pacs-cancel-XXXXXX", &error);
  g_assert_no_error (error);

  /* C-GET stops after the object that saw the cancellation. C-MOVE stops at the archive's next
   * response, and a fast archive may have sent everything by then and finished: then the
   * retrieval succeeded, and says so. */
  if (hepa_pacs_retrieve (node, study, NULL, dir, move, cancel_after_first_cb, &ctx, &n,
                          cancellable, &error))
    {
      g_assert_true (move);
      g_assert_cmpuint (n, ==, 5);
    }
  else
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
    }
  g_assert_cmpuint (ctx.calls, >=, 1);
  /* What was received is complete and counted; nothing half-written is left behind. */
  g_assert_cmpuint (count_files (dir, ".dcm"), ==, n);
  g_assert_cmpuint (count_files (dir, ".part"), ==, 0);
  incoming = g_build_filename (dir, ".incoming", NULL);
  g_assert_false (g_file_test (incoming, G_FILE_TEST_EXISTS));
  if (!move)
    g_assert_cmpuint (n, <, 5);

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
      const char *name;

      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);

          g_unlink (path);
        }
    }
  g_rmdir (dir);

  /* The node still answers: the cancelled association was aborted cleanly. */
  g_assert_true (hepa_pacs_echo (node, NULL, &error));
  g_assert_no_error (error);
}

static void
test_cancel_get (void)
{
  cancel_retrieve (FALSE);
}

static void
test_cancel_move (void)
{
  cancel_retrieve (TRUE);
}

typedef struct
{
  GMainLoop    *loop;
  GAsyncResult *result;
  guint         progress_calls;
  guint         last_done;
  GThread      *main_thread;
} AsyncCtx;

static void
async_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncCtx *ctx = user_data;

  ctx->result = g_object_ref (result);
  g_main_loop_quit (ctx->loop);
}

static void
async_progress_cb (guint    done,
                   guint    total,
                   gpointer user_data)
{
  AsyncCtx *ctx = user_data;

  /* Progress arrives on the caller's thread, in order. */
  g_assert_true (g_thread_self () == ctx->main_thread);
  g_assert_cmpuint (done, >=, ctx->last_done);
  g_assert_true (total == 0 || done <= total);   /* 0: not known yet */
  ctx->last_done = done;
  ctx->progress_calls++;
}

static GAsyncResult *
wait_result (AsyncCtx *ctx)
{
  g_main_loop_run (ctx->loop);
  return ctx->result;
}

static void
test_async (void)
{
  const char *spec = g_getenv ("HEPASCOPE_TEST_PACS_NODE");
  const char *study = g_getenv ("HEPASCOPE_TEST_PACS_STUDY");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaPacsNode) node = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GPtrArray) matches = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = NULL;
  g_autoptr(GDir) d = NULL;
  AsyncCtx ctx = { loop, NULL, 0, 0, g_thread_self () };
  HepaPacsQuery query = { .study_uid = study };
  const char *name;
  guint n = 0;

  if (spec == NULL || study == NULL)
    {
      g_test_skip ("needs an archive: run by tests/pacs/test-pacs.sh");
      return;
    }
  node = hepa_pacs_node_parse (spec, NULL, &error);
  g_assert_no_error (error);

  hepa_pacs_echo_async (node, NULL, async_done_cb, &ctx);
  g_assert_true (hepa_pacs_echo_finish (wait_result (&ctx), &error));
  g_assert_no_error (error);
  g_clear_object (&ctx.result);

  hepa_pacs_find_async (node, HEPA_PACS_LEVEL_SERIES, &query, NULL, async_done_cb, &ctx);
  matches = hepa_pacs_find_finish (wait_result (&ctx), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (matches->len, >=, 5);
  g_clear_object (&ctx.result);

  dir = g_dir_make_tmp ("hepa-pacs-async-XXXXXX", &error);
  g_assert_no_error (error);
  hepa_pacs_retrieve_async (node, study, NULL, dir, FALSE, async_progress_cb, &ctx, NULL,
                            async_done_cb, &ctx);
  g_assert_true (hepa_pacs_retrieve_finish (wait_result (&ctx), &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, >=, 5);
  g_assert_cmpuint (ctx.progress_calls, >=, 1);
  g_clear_object (&ctx.result);

  d = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (files, g_build_filename (dir, name, NULL));
  g_assert_cmpuint (files->len, ==, n);
  ctx.progress_calls = ctx.last_done = 0;
  hepa_pacs_store_async (node, (const char *const *) files->pdata, files->len, async_progress_cb,
                         &ctx, NULL, async_done_cb, &ctx);
  g_assert_true (hepa_pacs_store_finish (wait_result (&ctx), &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, files->len);
  g_assert_cmpuint (ctx.last_done, ==, files->len);
  g_clear_object (&ctx.result);

  for (guint i = 0; i < files->len; i++)
    g_unlink (g_ptr_array_index (files, i));
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pacs/node/parse", test_node_parse);
  g_test_add_func ("/pacs/cancel/before", test_cancelled_before);
  g_test_add_func ("/pacs/cancel/get", test_cancel_get);
  g_test_add_func ("/pacs/cancel/move", test_cancel_move);
  g_test_add_func ("/pacs/async/echo-find-retrieve-store", test_async);
  return g_test_run ();
}
