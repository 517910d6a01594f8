/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The manifest of an export: one row per crop, as manifest.json and manifest.csv.
 *
 * manifest.json:
 * { "format": "hepascope-export", "version": 1,
 *   "classes": ["non_fll", ...], "input_size": 224,
 *   "preprocess": { "grayscale": true, "resize": "stretch" },
 *   "software_version": "0.1.0",
 *   "crops": [ { "crop_id": "...", "file": "cyst/<crop_id>.png", "native_file": null | "...",
 *                "label": "cyst", "patient": "...", "study": "...", "sop": "...", "frame": 0,
 *                "roi_px": [x, y, w, h], "roi_mm": [x, y, w, h] | null, "rater": "...",
 *                "created": "...Z", "modified": "...Z",
 *                "prediction": { "model_id": "...", "classes": [...], "probabilities": [...] }
 *                              | null,
 *                "sha256": "...", "native_sha256": null | "...",
 *                "manufacturer": "...", "transfer_syntax": "1.2.840.10008.1.2.1",
 *                "pixel_spacing_mm": [x, y] | null } ] }
 *
 * manifest.csv holds the same rows, RFC 4180, with the columns of HEPA_MANIFEST_CSV_HEADER;
 * the prediction is flattened to pred_model_id, pred_label (top class), pred_probability and
 * pred_probabilities ("class=p;class=p"). Ids are pseudonyms; no identifying value is kept.
 */
#pragma once

#include <gio/gio.h>

#include "hepa-types.h"

G_BEGIN_DECLS

#define HEPA_MANIFEST_VERSION 1
#define HEPA_MANIFEST_CSV_HEADER \
  "crop_id,file,native_file,label,patient,study,sop,frame,x,y,width,height," \
  "x_mm,y_mm,width_mm,height_mm,rater,created,modified,pred_model_id,pred_label," \
  "pred_probability,pred_probabilities,sha256,native_sha256,manufacturer,transfer_syntax," \
  "pixel_spacing_x_mm,pixel_spacing_y_mm"

typedef struct
{
  char      *crop_id;
  char      *file;            /* relative to the export folder, '/'-separated */
  char      *native_file;     /* NULL when no native crop was written */
  char      *label;
  char      *patient;         /* pseudonyms */
  char      *study;
  char      *sop;
  guint      frame;
  HepaRect   roi;             /* pixels */
  gboolean   has_mm;
  double     roi_mm[4];       /* x, y, width, height in mm when has_mm */
  char      *rater;
  gint64     created;         /* unix seconds */
  gint64     modified;
  char      *pred_model_id;   /* NULL when the ROI had no prediction */
  char     **pred_classes;    /* NULL-terminated, or NULL */
  float     *pred_probabilities;
  char      *sha256;          /* of the file's bytes, lowercase hex */
  char      *native_sha256;   /* NULL when no native crop */
  /* Issue 18 (trust): codes of the applicability checks the ROI failed (hepa-applicability.h);
   * NULL when not checked. JSON only ("applicability"), not in the CSV. */
  char     **applicability;
  char      *manufacturer;
  char      *transfer_syntax;
  double     pixel_spacing_mm[2]; /* 0 when uncalibrated */
} HepaManifestRow;

typedef struct
{
  char      **classes;        /* NULL-terminated */
  int         input_size;
  gboolean    grayscale;
  char       *resize;         /* "stretch" or "letterbox" */
  char       *software_version;
  char       *intended_use;   /* issue 18: the model card's intended use; NULL when unknown */
  GPtrArray  *rows;           /* (element-type HepaManifestRow) */
} HepaManifest;

HepaManifestRow *hepa_manifest_row_new  (void);
void             hepa_manifest_row_free (HepaManifestRow *row);
HepaManifest    *hepa_manifest_new      (const char *const *classes);
void             hepa_manifest_free     (HepaManifest    *self);

/* Reads DIR/manifest.json (or, when it is absent, DIR/manifest.csv); @path may also name either
 * file. Every field is checked: relative paths without "..", known labels, unique crop ids,
 * hex digests. Errors: HEPA_ERROR_IO, HEPA_ERROR_FORMAT, HEPA_ERROR_UNSUPPORTED (newer). */
HepaManifest    *hepa_manifest_load       (const char  *path,
                                           GError     **error);
HepaManifest    *hepa_manifest_parse_json (const char  *data,
                                           gsize        length,
                                           GError     **error);
/* A CSV has no header block: the class list is the sorted set of labels seen. */
HepaManifest    *hepa_manifest_parse_csv  (const char  *data,
                                           gsize        length,
                                           GError     **error);

/* (transfer full): the two serializations, byte-stable for equal content. */
char            *hepa_manifest_to_json    (const HepaManifest *self,
                                           gsize              *length);
char            *hepa_manifest_to_csv     (const HepaManifest *self,
                                           gsize              *length);

/* TRUE when @relative is a safe relative path ('/'-separated, no "..", "." or empty parts, not
 * absolute, no backslash or control characters). */
gboolean         hepa_manifest_path_is_safe (const char *relative);

/* TRUE when a prediction can be written to both formats: a model id and classes that are
 * valid UTF-8, non-empty, at most 256 bytes, without control characters, ';' or '='. */
gboolean         hepa_manifest_prediction_is_safe (const char  *model_id,
                                                   char *const *classes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaManifestRow, hepa_manifest_row_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaManifest, hepa_manifest_free)

G_END_DECLS
