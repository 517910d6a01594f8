/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A folder (or a list of files) opened as a study: its image files in name order, how many
 * regions each one's sidecar holds ("3 regions, 2 labeled"), and which one is open. The scan and
 * the counts run on a worker; the newest scan wins (an older one, or a cancelled one, finishes
 * with G_IO_ERROR_CANCELLED and changes nothing). A folder that holds no image gives
 * G_IO_ERROR_NOT_FOUND and leaves the study as it was. Counting never moves a damaged sidecar
 * aside (only opening the file does, where the user is told). No widgets. */

#define HEPA_TYPE_STUDY (hepa_study_get_type ())
G_DECLARE_FINAL_TYPE (HepaStudy, hepa_study, HEPA, STUDY, GObject)

HepaStudy  *hepa_study_new              (void);

/* Scans @folder. */
void        hepa_study_scan_async       (HepaStudy           *self,
                                         const char          *folder,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
/* Takes @paths as they are (in their order) and counts their regions. */
void        hepa_study_scan_files_async (HepaStudy           *self,
                                         const char *const   *paths,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
gboolean    hepa_study_scan_finish      (HepaStudy           *self,
                                         GAsyncResult        *result,
                                         GError             **error);
/* No study: a single file is open. */
void        hepa_study_clear            (HepaStudy           *self);

/* The folder scanned, or NULL for a list of files or none. */
const char *hepa_study_get_folder       (HepaStudy           *self);
guint       hepa_study_get_n_files      (HepaStudy           *self);
const char *hepa_study_get_path         (HepaStudy           *self,
                                         guint                index);
const char *hepa_study_get_count        (HepaStudy           *self,
                                         guint                index);
/* The open file's count after an edit. */
void        hepa_study_set_count        (HepaStudy           *self,
                                         guint                index,
                                         const char          *count);
/* The open file, or -1. */
int         hepa_study_get_index        (HepaStudy           *self);
void        hepa_study_set_index        (HepaStudy           *self,
                                         int                  index);

/* "3 regions, 2 labeled" (transfer full). */
char       *hepa_study_count_text       (guint                n_regions,
                                         guint                n_labeled);

G_END_DECLS
