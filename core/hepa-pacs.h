/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A hospital archive (PACS) seen from Hepascope: verify a node, query studies and series,
 * retrieve them into a local folder, send files. The GLib face of core/dicom/hepa-dicom-net.h.
 *
 * Errors (one line, naming the node as AET@HOST:PORT, never patient data):
 *   G_IO_ERROR_HOST_UNREACHABLE     no TCP connection (nothing listens, unknown host, no route)
 *   G_IO_ERROR_CONNECTION_REFUSED   the association was rejected (our AE title not allowed)
 *   G_IO_ERROR_INVALID_ARGUMENT     rejected because the node is not called that (wrong AE title),
 *                                   or a malformed node, UID or AE title
 *   G_IO_ERROR_TIMED_OUT            no answer within the node's timeout
 *   G_IO_ERROR_CANCELLED            @cancellable was cancelled (checked between messages)
 *   G_IO_ERROR_FAILED               the node answered with a failure
 *   HEPA_ERROR_IO                   a local file could not be read or written */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define HEPA_PACS_DEFAULT_AET "HEPASCOPE"

typedef struct
{
  char *peer_aet;
  char *host;
  int   port;
  char *our_aet;
  int   our_port;      /* C-MOVE destination port; 0: none (C-GET only) */
  int   timeout_s;     /* <= 0: 30 s */
} HepaPacsNode;

/* Parses "AET@HOST:PORT" (an IPv6 host in brackets). @our_aet NULL: HEPA_PACS_DEFAULT_AET. */
HepaPacsNode *hepa_pacs_node_parse (const char  *spec,
                                    const char  *our_aet,
                                    GError     **error);
HepaPacsNode *hepa_pacs_node_copy  (const HepaPacsNode *node);
void          hepa_pacs_node_free  (HepaPacsNode *node);
/* "AET@HOST:PORT" (transfer full). */
char         *hepa_pacs_node_to_string (const HepaPacsNode *node);

typedef enum
{
  HEPA_PACS_LEVEL_STUDY,
  HEPA_PACS_LEVEL_SERIES,
} HepaPacsLevel;

/* Query keys; NULL or "" match anything. */
typedef struct
{
  const char *patient_name;
  const char *patient_id;
  const char *study_date;        /* YYYYMMDD or YYYYMMDD-YYYYMMDD */
  const char *accession_number;
  const char *modality;
  const char *study_uid;         /* required at series level */
} HepaPacsQuery;

/* One match. Identifying fields are for display only: never log them. */
typedef struct
{
  char *patient_name;
  char *patient_id;
  char *patient_birth_date;
  char *study_uid;
  char *study_date;
  char *study_time;
  char *accession_number;
  char *study_description;
  char *modalities;              /* study: Modalities in Study, backslash-separated */
  char *series_uid;              /* series level only, else "" */
  char *series_number;
  char *series_description;
  long  n_series;                /* -1: not given */
  long  n_instances;
} HepaPacsMatch;

void hepa_pacs_match_free (HepaPacsMatch *match);

/* Called on the calling thread with @done of @total objects (@total 0 while unknown). */
typedef void (*HepaPacsProgressFunc) (guint    done,
                                      guint    total,
                                      gpointer user_data);

/* C-ECHO. */
gboolean   hepa_pacs_echo     (const HepaPacsNode  *node,
                               GCancellable        *cancellable,
                               GError             **error);
/* C-FIND (Study Root) at @level. Returns (element-type HepaPacsMatch) (transfer full). */
GPtrArray *hepa_pacs_find     (const HepaPacsNode  *node,
                               HepaPacsLevel        level,
                               const HepaPacsQuery *query,
                               GCancellable        *cancellable,
                               GError             **error);
/* Retrieves a study (@series_uid NULL) or a series into @out_dir (created) as
 * `<SOP Instance UID>.dcm`: C-GET, or with @move C-MOVE to node->our_aet received on
 * node->our_port. *n_received (may be NULL) counts the files written, also on failure. A study
 * the node does not hold is an error (G_IO_ERROR_NOT_FOUND). */
gboolean   hepa_pacs_retrieve (const HepaPacsNode   *node,
                               const char           *study_uid,
                               const char           *series_uid,
                               const char           *out_dir,
                               gboolean              move,
                               HepaPacsProgressFunc  progress,
                               gpointer              user_data,
                               guint                *n_received,
                               GCancellable         *cancellable,
                               GError              **error);
/* C-STORE of @n_paths files on one association; *n_sent (may be NULL) counts accepted files. */
gboolean   hepa_pacs_store    (const HepaPacsNode   *node,
                               const char *const    *paths,
                               guint                 n_paths,
                               HepaPacsProgressFunc  progress,
                               gpointer              user_data,
                               guint                *n_sent,
                               GCancellable         *cancellable,
                               GError              **error);

/* The same operations on a worker thread, for the workbench. @progress (may be NULL) is called
 * on the thread-default main context of the caller, as is @callback; cancellation is checked
 * between DIMSE messages. The _finish functions return what the sync ones do. */
void       hepa_pacs_echo_async      (const HepaPacsNode   *node,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
gboolean   hepa_pacs_echo_finish     (GAsyncResult         *result,
                                      GError              **error);
void       hepa_pacs_find_async      (const HepaPacsNode   *node,
                                      HepaPacsLevel         level,
                                      const HepaPacsQuery  *query,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
GPtrArray *hepa_pacs_find_finish     (GAsyncResult         *result,
                                      GError              **error);
void       hepa_pacs_retrieve_async  (const HepaPacsNode   *node,
                                      const char           *study_uid,
                                      const char           *series_uid,
                                      const char           *out_dir,
                                      gboolean              move,
                                      HepaPacsProgressFunc  progress,
                                      gpointer              progress_data,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
/* *n_received (may be NULL): the files written, also on failure. */
gboolean   hepa_pacs_retrieve_finish (GAsyncResult         *result,
                                      guint                *n_received,
                                      GError              **error);
void       hepa_pacs_store_async     (const HepaPacsNode   *node,
                                      const char *const    *paths,
                                      guint                 n_paths,
                                      HepaPacsProgressFunc  progress,
                                      gpointer              progress_data,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
gboolean   hepa_pacs_store_finish    (GAsyncResult         *result,
                                      guint                *n_sent,
                                      GError              **error);

/* The local cache folder for retrieved studies: $XDG_CACHE_HOME/hepascope/pacs/<study UID>
 * (transfer full). */
char      *hepa_pacs_cache_dir (const char *study_uid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaPacsNode, hepa_pacs_node_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaPacsMatch, hepa_pacs_match_free)

G_END_DECLS
