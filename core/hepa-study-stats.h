/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Where a study stands: per file labeled / unlabeled / no regions / unreadable, per class and
 * per rater, and the raters' agreement. Reading only: a damaged sidecar is reported, never
 * moved aside (only opening the file in the workbench does that, where the user is told). */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "hepa-raters.h"

G_BEGIN_DECLS

typedef enum
{
  HEPA_FILE_LABELED,     /* regions, every one labeled (or adjudicated, or rated in conflict) */
  HEPA_FILE_UNLABELED,   /* at least one region without a label */
  HEPA_FILE_NO_ROI,      /* no sidecar, or no region in it */
  HEPA_FILE_UNREADABLE,  /* the image or its sidecar cannot be read (see problem) */
} HepaFileState;

typedef struct
{
  char          *path;
  HepaFileState  state;
  guint          n_rois;
  guint          n_labeled;      /* with a label that counts (agreed or adjudicated) */
  guint          n_disagreed;    /* raters differ, not adjudicated */
  char          *problem;        /* one line, for UNREADABLE; else NULL */
} HepaStudyFile;

typedef struct
{
  char           *folder;        /* NULL for a list of files */
  GPtrArray      *files;         /* (element-type HepaStudyFile) in name order */
  guint           n_files[4];    /* by HepaFileState */
  guint           n_rois;
  guint           n_labeled;     /* agreed or adjudicated: what an export takes */
  guint           n_unlabeled;
  guint           n_disagreed;
  guint           n_adjudicated;
  GHashTable     *per_class;     /* label -> GUINT_TO_POINTER (ROIs), the label that counts */
  GHashTable     *per_rater;     /* rater -> GUINT_TO_POINTER (ROIs they labeled) */
  HepaRaterTable *raters;
  double          seconds;       /* the scan's wall time */
} HepaStudyStats;

void            hepa_study_stats_free       (HepaStudyStats *self);

/* TRUE for names a study lists: .dcm, .dicom, .png, .jpg, .jpeg or no extension; never
 * sidecars, damaged copies, temporary or hidden files. */
gboolean        hepa_study_is_image_name    (const char     *name);

/* Scans @folder's image files (not its sub-folders). A sidecar is looked for next to each
 * image, then in @workspace_dir (nullable). Fails only when the folder cannot be listed or
 * holds no image (G_IO_ERROR_NOT_FOUND). */
HepaStudyStats *hepa_study_stats_scan       (const char     *folder,
                                             const char     *workspace_dir,
                                             GCancellable   *cancellable,
                                             GError        **error);
/* The same for a list of files, in their order. */
HepaStudyStats *hepa_study_stats_scan_files (const char *const *paths,
                                             const char     *workspace_dir,
                                             GCancellable   *cancellable,
                                             GError        **error);

/* Sorted keys of per_class / per_rater. (transfer container) */
GPtrArray      *hepa_study_stats_dup_classes (const HepaStudyStats *self);
GPtrArray      *hepa_study_stats_dup_raters  (const HepaStudyStats *self);

/* "37 of 120 files labeled" (transfer full). */
char           *hepa_study_stats_progress_text (const HepaStudyStats *self);

/* The whole report as one JSON object (files, counts, classes, raters, kappa, confusion). */
JsonNode       *hepa_study_stats_to_json    (const HepaStudyStats *self,
                                             gboolean              with_files);

/* The index of the next (@step 1) or previous (@step -1) file after @from that is not labeled
 * (unlabeled or no regions; unreadable files are skipped), wrapping around; -1 when none. */
int             hepa_study_stats_next_unlabeled (const HepaStudyStats *self,
                                                 int                   from,
                                                 int                   step);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaStudyStats, hepa_study_stats_free)

G_END_DECLS
