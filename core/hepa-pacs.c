/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-pacs.h"

#include "hepa-error.h"
#include "hepa-dicom-net.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

HepaPacsNode *
hepa_pacs_node_parse (const char  *spec,
                      const char  *our_aet,
                      GError     **error)
{
  g_autoptr(HepaPacsNode) node = g_new0 (HepaPacsNode, 1);
  const char *at, *colon, *host_start, *host_end;
  gint64 port;

  g_return_val_if_fail (spec != NULL, NULL);

  at = strchr (spec, '@');
  colon = strrchr (spec, ':');
  if (at == NULL || colon == NULL || colon < at)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a node: expected AET@HOST:PORT"), spec);
      return NULL;
    }
  host_start = at + 1;
  host_end = colon;
  if (*host_start == '[' && host_end > host_start + 1 && host_end[-1] == ']')
    {
      host_start++;
      host_end--;
    }
  node->peer_aet = g_strndup (spec, at - spec);
  node->host = g_strndup (host_start, host_end - host_start);
  node->our_aet = g_strdup (our_aet != NULL ? our_aet : HEPA_PACS_DEFAULT_AET);
  if (!g_ascii_string_to_signed (colon + 1, 10, 1, 65535, &port, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a node: the port must be 1 to 65535"), spec);
      return NULL;
    }
  node->port = (int) port;
  if (node->host[0] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a node: no host"), spec);
      return NULL;
    }
  for (int k = 0; k < 2; k++)
    {
      const char *aet = k == 0 ? node->peer_aet : node->our_aet;
      gsize n = strlen (aet);
      gboolean ok = n >= 1 && n <= 16;

      for (gsize i = 0; ok && i < n; i++)
        ok = g_ascii_isprint (aet[i]) && aet[i] != '\\';
      if (!ok)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("“%s” is not an AE title: 1 to 16 printable characters, no backslash"),
                       aet);
          return NULL;
        }
    }
  return g_steal_pointer (&node);
}

HepaPacsNode *
hepa_pacs_node_copy (const HepaPacsNode *node)
{
  HepaPacsNode *copy = g_new0 (HepaPacsNode, 1);

  *copy = *node;
  copy->peer_aet = g_strdup (node->peer_aet);
  copy->host = g_strdup (node->host);
  copy->our_aet = g_strdup (node->our_aet);
  return copy;
}

void
hepa_pacs_node_free (HepaPacsNode *node)
{
  if (node == NULL)
    return;
  g_free (node->peer_aet);
  g_free (node->host);
  g_free (node->our_aet);
  g_free (node);
}

char *
hepa_pacs_node_to_string (const HepaPacsNode *node)
{
  gboolean v6 = strchr (node->host, ':') != NULL;

  return g_strdup_printf ("%s@%s%s%s:%d", node->peer_aet, v6 ? "[" : "", node->host,
                          v6 ? "]" : "", node->port);
}

void
hepa_pacs_match_free (HepaPacsMatch *match)
{
  if (match == NULL)
    return;
  g_free (match->patient_name);
  g_free (match->patient_id);
  g_free (match->patient_birth_date);
  g_free (match->study_uid);
  g_free (match->study_date);
  g_free (match->study_time);
  g_free (match->accession_number);
  g_free (match->study_description);
  g_free (match->modalities);
  g_free (match->series_uid);
  g_free (match->series_number);
  g_free (match->series_description);
  g_free (match);
}

typedef struct
{
  GCancellable         *cancellable;
  HepaPacsProgressFunc  progress;
  gpointer              user_data;
  GPtrArray            *matches;
} Call;

static int
cancelled_cb (void *user_data)
{
  Call *call = user_data;

  return g_cancellable_is_cancelled (call->cancellable);
}

static void
progress_cb (void     *user_data,
             unsigned  done,
             unsigned  total)
{
  Call *call = user_data;

  if (call->progress != NULL)
    call->progress (done, total, call->user_data);
}

static void
node_init (HepaDcmNode        *dn,
           const HepaPacsNode *node,
           Call               *call)
{
  *dn = (HepaDcmNode) {
    .our_aet = node->our_aet,
    .peer_aet = node->peer_aet,
    .host = node->host,
    .port = node->port,
    .timeout_s = node->timeout_s,
    .our_port = node->our_port,
    .cancelled = cancelled_cb,
    .progress = progress_cb,
    .user_data = call,
  };
}

static gboolean
set_error (HepaDcmNetStatus   status,
           const char        *msg,
           GError           **error)
{
  switch (status)
    {
    case HEPA_DCM_NET_OK:
      return TRUE;
    case HEPA_DCM_NET_UNREACHABLE:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, msg);
      break;
    case HEPA_DCM_NET_REFUSED:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, msg);
      break;
    case HEPA_DCM_NET_WRONG_AET:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, msg);
      break;
    case HEPA_DCM_NET_TIMEOUT:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, msg);
      break;
    case HEPA_DCM_NET_CANCELLED:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled"));
      break;
    case HEPA_DCM_NET_IO:
      g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_IO, msg);
      break;
    case HEPA_DCM_NET_FAILED:
    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
      break;
    }
  return FALSE;
}

gboolean
hepa_pacs_echo (const HepaPacsNode  *node,
                GCancellable        *cancellable,
                GError             **error)
{
  Call call = { cancellable, NULL, NULL, NULL };
  HepaDcmNode dn;
  char msg[512] = "";

  g_return_val_if_fail (node != NULL, FALSE);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  node_init (&dn, node, &call);
  return set_error (hepa_dcm_net_echo (&dn, msg, sizeof msg), msg, error);
}

static void
match_cb (void               *user_data,
          const HepaDcmMatch *m)
{
  Call *call = user_data;
  HepaPacsMatch *match = g_new0 (HepaPacsMatch, 1);

  /* Archives may answer in any character set DCMTK did not convert: keep valid UTF-8 only. */
#define DUP(field) g_utf8_make_valid (m->field, -1)
  match->patient_name = DUP (patient_name);
  match->patient_id = DUP (patient_id);
  match->patient_birth_date = DUP (patient_birth_date);
  match->study_uid = DUP (study_uid);
  match->study_date = DUP (study_date);
  match->study_time = DUP (study_time);
  match->accession_number = DUP (accession_number);
  match->study_description = DUP (study_description);
  match->modalities = DUP (modalities);
  match->series_uid = DUP (series_uid);
  match->series_number = DUP (series_number);
  match->series_description = DUP (series_description);
#undef DUP
  match->n_series = m->n_series;
  match->n_instances = m->n_instances;
  g_ptr_array_add (call->matches, match);
}

GPtrArray *
hepa_pacs_find (const HepaPacsNode  *node,
                HepaPacsLevel        level,
                const HepaPacsQuery *query,
                GCancellable        *cancellable,
                GError             **error)
{
  g_autoptr(GPtrArray) matches = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_pacs_match_free);
  Call call = { cancellable, NULL, NULL, matches };
  HepaPacsQuery empty = { 0 };
  HepaDcmQuery q;
  HepaDcmNode dn;
  char msg[512] = "";

  g_return_val_if_fail (node != NULL, NULL);
  if (query == NULL)
    query = &empty;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  q = (HepaDcmQuery) {
    .patient_name = query->patient_name,
    .patient_id = query->patient_id,
    .study_date = query->study_date,
    .accession_number = query->accession_number,
    .modality = query->modality,
    .study_uid = query->study_uid,
  };
  node_init (&dn, node, &call);
  if (!set_error (hepa_dcm_net_find (&dn, level == HEPA_PACS_LEVEL_STUDY ? HEPA_DCM_LEVEL_STUDY
                                                                         : HEPA_DCM_LEVEL_SERIES,
                                     &q, match_cb, &call, msg, sizeof msg), msg, error))
    return NULL;
  return g_steal_pointer (&matches);
}

gboolean
hepa_pacs_retrieve (const HepaPacsNode   *node,
                    const char           *study_uid,
                    const char           *series_uid,
                    const char           *out_dir,
                    gboolean              move,
                    HepaPacsProgressFunc  progress,
                    gpointer              user_data,
                    guint                *n_received,
                    GCancellable         *cancellable,
                    GError              **error)
{
  Call call = { cancellable, progress, user_data, NULL };
  HepaDcmNode dn;
  unsigned n = 0;
  char msg[512] = "";
  HepaDcmNetStatus status;

  g_return_val_if_fail (node != NULL && study_uid != NULL && out_dir != NULL, FALSE);
  if (n_received != NULL)
    *n_received = 0;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (g_mkdir_with_parents (out_dir, 0700) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", out_dir,
                   g_strerror (errsv));
      return FALSE;
    }
  node_init (&dn, node, &call);
  status = hepa_dcm_net_retrieve (&dn, study_uid, series_uid, out_dir, move, &n, msg, sizeof msg);
  if (n_received != NULL)
    *n_received = n;
  if (!set_error (status, msg, error))
    return FALSE;
  if (n == 0)
    {
      g_autofree char *name = hepa_pacs_node_to_string (node);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   series_uid != NULL && series_uid[0] != '\0'
                   ? _("%s: the node holds no such series")
                   : _("%s: the node holds no such study"), name);
      return FALSE;
    }
  return TRUE;
}

gboolean
hepa_pacs_store (const HepaPacsNode   *node,
                 const char *const    *paths,
                 guint                 n_paths,
                 HepaPacsProgressFunc  progress,
                 gpointer              user_data,
                 guint                *n_sent,
                 GCancellable         *cancellable,
                 GError              **error)
{
  Call call = { cancellable, progress, user_data, NULL };
  HepaDcmNode dn;
  unsigned n = 0;
  char msg[1024] = "";
  HepaDcmNetStatus status;

  g_return_val_if_fail (node != NULL && (paths != NULL || n_paths == 0), FALSE);
  if (n_sent != NULL)
    *n_sent = 0;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (n_paths == 0)
    return TRUE;
  node_init (&dn, node, &call);
  status = hepa_dcm_net_store (&dn, paths, n_paths, &n, msg, sizeof msg);
  if (n_sent != NULL)
    *n_sent = n;
  return set_error (status, msg, error);
}

char *
hepa_pacs_cache_dir (const char *study_uid)
{
  return g_build_filename (g_get_user_cache_dir (), "hepascope", "pacs", study_uid, NULL);
}

/* Asynchronous twins: one job struct for every operation, run with g_task_run_in_thread. */
typedef enum
{
  JOB_ECHO,
  JOB_FIND,
  JOB_RETRIEVE,
  JOB_STORE,
} JobKind;

typedef struct
{
  JobKind               kind;
  HepaPacsNode         *node;
  HepaPacsLevel         level;
  char                 *query[6];     /* name, id, date, accession, modality, study uid */
  char                 *study_uid;
  char                 *series_uid;
  char                 *out_dir;
  gboolean              move;
  char                **paths;
  HepaPacsProgressFunc  progress;
  gpointer              progress_data;
  GMainContext         *context;      /* where progress is reported */
  guint                 count;        /* files received or sent, also on failure */
} Job;

static void
job_free (Job *job)
{
  hepa_pacs_node_free (job->node);
  for (guint i = 0; i < G_N_ELEMENTS (job->query); i++)
    g_free (job->query[i]);
  g_free (job->study_uid);
  g_free (job->series_uid);
  g_free (job->out_dir);
  g_strfreev (job->paths);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_free (job);
}

static Job *
job_new (JobKind             kind,
         const HepaPacsNode *node)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->node = hepa_pacs_node_copy (node);
  job->context = g_main_context_ref_thread_default ();
  return job;
}

typedef struct
{
  HepaPacsProgressFunc  func;
  gpointer              data;
  guint                 done;
  guint                 total;
} ProgressEvent;

static gboolean
progress_event_cb (gpointer user_data)
{
  ProgressEvent *event = user_data;

  event->func (event->done, event->total, event->data);
  return G_SOURCE_REMOVE;
}

/* On the worker: posts a copy of the counts to the caller's context. */
static void
job_progress_cb (guint    done,
                 guint    total,
                 gpointer user_data)
{
  Job *job = user_data;
  ProgressEvent *event;

  if (job->progress == NULL)
    return;
  event = g_new (ProgressEvent, 1);
  *event = (ProgressEvent) { job->progress, job->progress_data, done, total };
  g_main_context_invoke_full (job->context, G_PRIORITY_DEFAULT, progress_event_cb, event, g_free);
}

static void
job_thread (GTask        *task,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;

  switch (job->kind)
    {
    case JOB_ECHO:
      if (hepa_pacs_echo (job->node, cancellable, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
      break;
    case JOB_FIND:
      {
        HepaPacsQuery query = { job->query[0], job->query[1], job->query[2], job->query[3],
                                job->query[4], job->query[5] };
        GPtrArray *matches = hepa_pacs_find (job->node, job->level, &query, cancellable, &error);

        if (matches != NULL)
          g_task_return_pointer (task, matches, (GDestroyNotify) g_ptr_array_unref);
        else
          g_task_return_error (task, error);
      }
      break;
    case JOB_RETRIEVE:
      if (hepa_pacs_retrieve (job->node, job->study_uid, job->series_uid, job->out_dir, job->move,
                              job_progress_cb, job, &job->count, cancellable, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
      break;
    case JOB_STORE:
      if (hepa_pacs_store (job->node, (const char *const *) job->paths,
                           g_strv_length (job->paths), job_progress_cb, job, &job->count,
                           cancellable, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
job_run (Job                 *job,
         gpointer             source_tag,
         GCancellable        *cancellable,
         GAsyncReadyCallback  callback,
         gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, job_thread);
}

void
hepa_pacs_echo_async (const HepaPacsNode  *node,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (node != NULL);
  job_run (job_new (JOB_ECHO, node), hepa_pacs_echo_async, cancellable, callback, user_data);
}

gboolean
hepa_pacs_echo_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
hepa_pacs_find_async (const HepaPacsNode  *node,
                      HepaPacsLevel        level,
                      const HepaPacsQuery *query,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  Job *job;

  g_return_if_fail (node != NULL);
  job = job_new (JOB_FIND, node);
  job->level = level;
  if (query != NULL)
    {
      job->query[0] = g_strdup (query->patient_name);
      job->query[1] = g_strdup (query->patient_id);
      job->query[2] = g_strdup (query->study_date);
      job->query[3] = g_strdup (query->accession_number);
      job->query[4] = g_strdup (query->modality);
      job->query[5] = g_strdup (query->study_uid);
    }
  job_run (job, hepa_pacs_find_async, cancellable, callback, user_data);
}

GPtrArray *
hepa_pacs_find_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
hepa_pacs_retrieve_async (const HepaPacsNode   *node,
                          const char           *study_uid,
                          const char           *series_uid,
                          const char           *out_dir,
                          gboolean              move,
                          HepaPacsProgressFunc  progress,
                          gpointer              progress_data,
                          GCancellable         *cancellable,
                          GAsyncReadyCallback   callback,
                          gpointer              user_data)
{
  Job *job;

  g_return_if_fail (node != NULL && study_uid != NULL && out_dir != NULL);
  job = job_new (JOB_RETRIEVE, node);
  job->study_uid = g_strdup (study_uid);
  job->series_uid = g_strdup (series_uid);
  job->out_dir = g_strdup (out_dir);
  job->move = move;
  job->progress = progress;
  job->progress_data = progress_data;
  job_run (job, hepa_pacs_retrieve_async, cancellable, callback, user_data);
}

gboolean
hepa_pacs_retrieve_finish (GAsyncResult  *result,
                           guint         *n_received,
                           GError       **error)
{
  Job *job;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  job = g_task_get_task_data (G_TASK (result));
  if (n_received != NULL)
    *n_received = job->count;
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
hepa_pacs_store_async (const HepaPacsNode   *node,
                       const char *const    *paths,
                       guint                 n_paths,
                       HepaPacsProgressFunc  progress,
                       gpointer              progress_data,
                       GCancellable         *cancellable,
                       GAsyncReadyCallback   callback,
                       gpointer              user_data)
{
  Job *job;

  g_return_if_fail (node != NULL && (paths != NULL || n_paths == 0));
  job = job_new (JOB_STORE, node);
  job->paths = g_new0 (char *, n_paths + 1);
  for (guint i = 0; i < n_paths; i++)
    job->paths[i] = g_strdup (paths[i]);
  job->progress = progress;
  job->progress_data = progress_data;
  job_run (job, hepa_pacs_store_async, cancellable, callback, user_data);
}

gboolean
hepa_pacs_store_finish (GAsyncResult  *result,
                        guint         *n_sent,
                        GError       **error)
{
  Job *job;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  job = g_task_get_task_data (G_TASK (result));
  if (n_sent != NULL)
    *n_sent = job->count;
  return g_task_propagate_boolean (G_TASK (result), error);
}
