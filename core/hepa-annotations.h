/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ROIs drawn on an image, kept in a sidecar `<file>.hepascope.json` next to it.
 *
 * Sidecar format (version 1):
 * {
 *   "format": "hepascope-annotations", "version": 1,
 *   "image": "scan.dcm",              (base name only)
 *   "sop_instance_uid_sha256": "...", (ties the sidecar to the image without storing the UID)
 *   "rois": [ { "id": "r-...", "frame": 0, "x": 10, "y": 20, "width": 64, "height": 48,
 *               "label": "cyst" | null, "rater": "...",
 *               "created": "2026-11-27T09:00:00Z", "modified": "...",
 *               "prediction": { "model_id": "...", "classes": [...], "probabilities": [...] } | null,
 *               "reads": [ { "rater": "...", "label": "cyst", "decided": "2026-...Z",
 *                            "time_to_decide_ms": 4200, "mode": "read-first" } ]   (optional)
 *             } ]
 * }
 * Version 2 adds, per ROI and only where there is more than one rater or an adjudication:
 *   "ratings": [ { "rater": "...", "label": "cyst", "modified": "..." } ],   (one per rater)
 *   "adjudicated": { "label": "cyst", "by": "...", "modified": "..." } | null
 * A file without them is written as version 1, so older Hepascope versions still read it; one
 * with them is version 2, which older versions refuse (and keep unchanged) instead of dropping
 * the other raters' labels. "label"/"rater" stay the latest rater's label.
 *
 * Version 2 adds the optional per-ROI "reads" array: a rater's own read made before the model's
 * answer was shown (read-first mode). A file is written as version 1 when no ROI has a read, so
 * that older Hepascopes keep opening it; with reads it is version 2, which they refuse rather
 * than drop the reads on their next save. Version 1 files load as before.
 */
#pragma once

#include <gio/gio.h>

#include "hepa-types.h"

G_BEGIN_DECLS

#define HEPA_ANNOTATIONS_VERSION 2

/* One rater's label of a ROI. */
typedef struct
{
  char      *rater;
  char      *label;
  gint64     modified;
} HepaRating;

HepaRating *hepa_rating_new  (const char *rater,
                              const char *label,
                              gint64      modified);
void        hepa_rating_free (HepaRating *rating);
/* One rater's committed read of an ROI (read-first mode). */
typedef struct
{
  char      *rater;
  char      *label;          /* the class the rater committed */
  gint64     decided;        /* unix seconds, UTC */
  gint64     time_to_decide_ms;
  char      *mode;           /* "read-first" or "quiz" */
} HepaRoiRead;

HepaRoiRead *hepa_roi_read_new  (const char        *rater,
                                 const char        *label,
                                 gint64             decided,
                                 gint64             time_to_decide_ms,
                                 const char        *mode);
HepaRoiRead *hepa_roi_read_copy (const HepaRoiRead *read);
void         hepa_roi_read_free (HepaRoiRead       *read);

typedef struct
{
  char      *id;             /* stable, unique within the file */
  guint      frame;
  HepaRect   rect;
  char      *label;          /* NULL: unlabeled */
  char      *rater;
  gint64     created;        /* unix seconds, UTC */
  gint64     modified;
  /* The model's answer when the ROI was last labeled; NULL when none. */
  char      *pred_model_id;
  char     **pred_classes;   /* NULL-terminated */
  float     *pred_probabilities;
  /* Several raters (version 2). @ratings (nullable, element-type HepaRating) holds every
   * rater's label as last set through hepa_roi_set_rating (or loaded); (rater, label) above
   * always wins for its rater, so code that only sets label and rater keeps working and a
   * relabel by another rater keeps the first one's label. hepa_roi_dup_ratings merges both. */
  GPtrArray *ratings;
  char      *adjudicated;    /* the label that counts when raters differ; NULL: none */
  char      *adjudicator;
  gint64     adjudicated_time;
  /* Raters' own reads, oldest first (element-type HepaRoiRead); NULL or empty when none. */
  GPtrArray *reads;
} HepaRoi;

HepaRoi *hepa_roi_new  (guint           frame,
                        const HepaRect *rect,
                        const char     *label,
                        const char     *rater);
HepaRoi *hepa_roi_copy (const HepaRoi  *roi);
void     hepa_roi_free (HepaRoi        *roi);
void     hepa_roi_set_prediction (HepaRoi           *roi,
                                  const char        *model_id,
                                  const char *const *classes,
                                  const float       *probabilities);
/* Every rater's label, one per rater, sorted by rater name: @ratings merged with
 * (rater, label). (transfer full) (element-type HepaRating) */
GPtrArray *hepa_roi_dup_ratings (const HepaRoi *roi);
/* Sets @rater's label (NULL removes it) and makes it the ROI's current label. */
void     hepa_roi_set_rating      (HepaRoi    *roi,
                                   const char *rater,
                                   const char *label);
/* Sets (or with @label NULL clears) the adjudicated label. */
void     hepa_roi_set_adjudicated (HepaRoi    *roi,
                                   const char *label,
                                   const char *by);
/* Appends a copy of @read to the ROI's reads. */
void     hepa_roi_add_read       (HepaRoi           *roi,
                                  const HepaRoiRead *read);

typedef struct
{
  char      *image_name;
  char      *sop_uid_sha256;
  GPtrArray *rois;           /* (element-type HepaRoi) */
} HepaAnnotations;

HepaAnnotations *hepa_annotations_new  (const char *image_name);
void             hepa_annotations_free (HepaAnnotations *self);

/* The sidecar path for @image_path: next to it, or in @workspace_dir (may be NULL) when given. */
char            *hepa_annotations_sidecar_path (const char *image_path,
                                                const char *workspace_dir);
/* Loads a sidecar. A missing file gives an empty set (not an error). A damaged one is renamed
 * to `<sidecar>.damaged-<time>` and reported as HEPA_ERROR_FORMAT naming where it went. */
HepaAnnotations *hepa_annotations_load (const char  *sidecar_path,
                                        GError     **error);
/* Writes atomically: temp file in the same folder, fsync, rename, fsync of the folder. */
gboolean         hepa_annotations_save (const HepaAnnotations *self,
                                        const char            *sidecar_path,
                                        GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaRoi, hepa_roi_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaRating, hepa_rating_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaRoiRead, hepa_roi_read_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaAnnotations, hepa_annotations_free)

/* Parses sidecar JSON held in memory, with every check of the loader. Errors:
 * HEPA_ERROR_FORMAT for anything malformed, HEPA_ERROR_UNSUPPORTED for a newer format version.
 * Never renames anything (the loader moves a damaged file aside; a scan must not). */
HepaAnnotations *hepa_annotations_parse (const char  *data,
                                         gsize        length,
                                         GError     **error);

/* @roi as the sidecar writes it: the one JSON form of a region (transfer full). The typedef
 * repeats json-glib's, so that users of this header need not include json-glib. */
typedef struct _JsonNode JsonNode;
JsonNode *hepa_roi_to_json (const HepaRoi *roi);

G_END_DECLS
