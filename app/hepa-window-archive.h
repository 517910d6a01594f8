/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window's archive and export actions (issue 23): Save view as PNG, Copy view, Query and
 * retrieve from a PACS. Attached by whoever makes the window, after hepa_window_actions_attach. */
#pragma once

#include "hepa-window.h"

G_BEGIN_DECLS

void     hepa_window_archive_attach       (HepaWindow           *self);

/* "Send Results": saves the open file's regions, writes the study's results (SR, SEG, SC,
 * Encapsulated PDF and report.pdf, core/hepa-results.h) with the window's model on a worker
 * into a new folder of $XDG_CACHE_HOME/hepascope/results, then sends the DICOM files to the
 * chosen node (pacs-node) with C-STORE; a small window shows the progress and has Cancel. */
void     hepa_window_send_results_async  (HepaWindow           *self,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
/* *n_sent: the files the node accepted; *out_dir: where the results are (transfer full). */
gboolean hepa_window_send_results_finish (HepaWindow           *self,
                                          GAsyncResult         *result,
                                          guint                *n_sent,
                                          char                **out_dir,
                                          GError              **error);
/* "Open SR…": merges the ROIs and labels of @sr_path into the sidecar of the image it
 * references, looked for in the open study's folder (or the open file's), and shows that
 * image with them. The open file's regions are saved first. */
void     hepa_window_open_sr_async       (HepaWindow           *self,
                                          const char           *sr_path,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
/* Returns the image's path (transfer full). */
char    *hepa_window_open_sr_finish      (HepaWindow           *self,
                                          GAsyncResult         *result,
                                          GError              **error);

G_END_DECLS
