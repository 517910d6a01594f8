/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A study's results as DICOM, for the archive: for every image with labeled ROIs the model is
 * run on each labeled ROI, and written are
 *   <name>.sr.dcm          Comprehensive SR, TID 1500: every ROI (region on the image, label,
 *                          rater, class probabilities, algorithm and model sha256)
 *   <name>.roiN.seg.dcm    the saliency map of ROI N (its top class) as a fractional SEG
 *   <name>.view.dcm        Secondary Capture of the annotated view (frame, maps, boxes, labels)
 *   report.pdf, report.dcm the study's findings as PDF, and as Encapsulated PDF
 * where <name> is the image's file name without its extension. Each kind forms one new series
 * of the source study. Reading the SR back gives the ROIs and labels (hepa_results_import_sr). */
#pragma once

#include <gio/gio.h>

#include "hepa-annotations.h"
#include "hepa-engine.h"

G_BEGIN_DECLS

typedef void (*HepaResultsProgressFunc) (guint        done,
                                         guint        total,
                                         const char  *path,
                                         gpointer     user_data);

/* Writes the results of the labeled ROIs of @paths (DICOM images with sidecars; images without
 * labeled ROIs are skipped) into @out_dir (created). The paths written are appended to
 * @written (element-type filename). Fails when no image has a labeled ROI. */
gboolean         hepa_results_write_study (HepaEngine               *engine,
                                           const char *const        *paths,
                                           guint                     n_paths,
                                           const char               *out_dir,
                                           GPtrArray                *written,
                                           HepaResultsProgressFunc   progress,
                                           gpointer                  user_data,
                                           GCancellable             *cancellable,
                                           GError                  **error);

/* Reads the ROIs of a TID 1500 SR (as hepa_results_write_study writes): ids, frames, rectangles,
 * labels, raters and, when present, the class probabilities (as the ROI's prediction, model id
 * "dicom-sr"). *source_sop_uid (may be NULL) receives the SOP Instance UID of the image. */
HepaAnnotations *hepa_results_import_sr   (const char               *sr_path,
                                           char                    **source_sop_uid,
                                           GError                  **error);

/* Imports @sr_path and merges its ROIs into the sidecar of the image in @dir (not recursive)
 * whose SOP Instance UID the SR references: ROIs with the same id are replaced, others kept.
 * Returns the image's path (transfer full). */
char            *hepa_results_apply_sr    (const char               *sr_path,
                                           const char               *dir,
                                           GError                  **error);

G_END_DECLS
