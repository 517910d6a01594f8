/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "hepa-image.h"
#include "hepa-roi-store.h"

G_BEGIN_DECLS

/* One open image and its regions: the image, the annotations (a HepaRoiStore, live), and the
 * sidecar they are written to. No widgets: it works without a display.
 *
 * Opening decodes the image and reads the sidecar on a worker; the newest open wins: an open
 * started before another one, or whose cancellable was cancelled, finishes with
 * G_IO_ERROR_CANCELLED and changes nothing.
 *
 * Sidecars live next to the image; a folder that cannot be written sends them to the workspace
 * folder (<user data>/hepascope/workspace), reading the one next to the image the first time.
 * A damaged sidecar is moved aside by the loader and the document starts with no regions. Both
 * are told through "notice".
 *
 * Saving: every finished edit of the store (an edit, undo or redo, a recorded prediction) is
 * written at once on a worker, atomically; one write is in flight at a time and edits made
 * meanwhile are written next. A failed write keeps the regions in memory, says so through
 * "notice" and leaves the document modified; the next edit or hepa_document_save_async writes
 * again. */

typedef enum
{
  HEPA_NOTICE_INFO,
  HEPA_NOTICE_WARNING,
  HEPA_NOTICE_ERROR,
} HepaNoticeKind;

#define HEPA_TYPE_DOCUMENT (hepa_document_get_type ())
G_DECLARE_FINAL_TYPE (HepaDocument, hepa_document, HEPA, DOCUMENT, GObject)

HepaDocument *hepa_document_new              (void);

/* The regions (transfer none; the same store for the document's life). */
HepaRoiStore *hepa_document_get_store        (HepaDocument        *self);
/* The open image, or NULL (transfer none). */
HepaImage    *hepa_document_get_image        (HepaDocument        *self);
const char   *hepa_document_get_path         (HepaDocument        *self);
const char   *hepa_document_get_sidecar_path (HepaDocument        *self);
/* An open is in flight. */
gboolean      hepa_document_get_loading      (HepaDocument        *self);
/* A write is in flight. */
gboolean      hepa_document_get_saving       (HepaDocument        *self);
/* Edits not yet written to the sidecar (a write in flight or a failed one). */
gboolean      hepa_document_get_modified     (HepaDocument        *self);

void          hepa_document_open_async       (HepaDocument        *self,
                                              const char          *path,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
gboolean      hepa_document_open_finish      (HepaDocument        *self,
                                              GAsyncResult        *result,
                                              GError             **error);

/* Writes the regions as they are now to the sidecar (after the write in flight, if any). */
void          hepa_document_save_async       (HepaDocument        *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
gboolean      hepa_document_save_finish      (HepaDocument        *self,
                                              GAsyncResult        *result,
                                              GError             **error);

/* Where sidecars go when the image's folder cannot be written (transfer full). */
char         *hepa_document_workspace_dir    (void);
/* The sidecar an open of @image_path would read (transfer full). */
char         *hepa_document_find_sidecar     (const char          *image_path);

G_END_DECLS
