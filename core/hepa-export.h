/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export of labeled ROIs for retraining: an ImageFolder tree, a manifest and a COCO file,
 * de-identified. Layout under the output folder:
 *
 *   <class>/<crop-id>.png           model input (input_size x input_size, 8-bit RGB, processed
 *                                   as the model card says: what inference sees)
 *   native/<class>/<crop-id>.png    with native: the ROI at source resolution (RGB8, or 16-bit
 *                                   gray kept 16-bit)
 *   frames/<frame-id>.png           whole frames holding exported ROIs, for coco.json (pixels
 *                                   outside the ultrasound regions blanked)
 *   coco.json                       COCO detection file: frames, boxes, categories
 *   manifest.csv, manifest.json     one row per crop (see hepa-manifest.h), written last
 *
 * Ids are pseudonyms (hepa-pseudonym.h); crop ids are derived from (SOP pseudonym, frame,
 * ROI id), so a re-export gives the same names. No identifying DICOM value, no source path
 * and no PNG text chunk is written. An existing file with other bytes is replaced only with
 * force; files are written atomically; the manifests come last, so an interrupted export never
 * leaves a manifest naming a missing file.
 */
#pragma once

#include <gio/gio.h>

#include "hepa-model.h"
#include "hepa-types.h"

G_BEGIN_DECLS

/* Why a file or ROI was not exported. */
typedef enum
{
  HEPA_EXPORT_SKIP_UNREADABLE,      /* the image could not be opened or decoded */
  HEPA_EXPORT_SKIP_NO_SIDECAR,      /* a file named on the command line has no annotations */
  HEPA_EXPORT_SKIP_DAMAGED_SIDECAR, /* its sidecar is not valid */
  HEPA_EXPORT_SKIP_NEWER_SIDECAR,   /* its sidecar is from a newer Hepascope */
  HEPA_EXPORT_SKIP_WRONG_IMAGE,     /* the sidecar belongs to another image */
  HEPA_EXPORT_SKIP_OUTSIDE,         /* the ROI or its frame is outside the image */
  HEPA_EXPORT_SKIP_UNKNOWN_LABEL,   /* the label is not in the class list */
  HEPA_EXPORT_SKIP_EXISTS,          /* a different file is in the way (force replaces it) */
  HEPA_EXPORT_SKIP_NO_SPACE,        /* the disk is full */
  HEPA_EXPORT_SKIP_PERMISSION,      /* a folder is not writable */
  HEPA_EXPORT_SKIP_IO,              /* another write error */
  HEPA_EXPORT_SKIP_DUPLICATE,       /* the same image was given twice */
  HEPA_EXPORT_SKIP_BURNED_IN,       /* a whole frame with burned-in text and nothing to mask */
  HEPA_EXPORT_SKIP_RATERS_DISAGREE, /* raters gave different labels, none adjudicated */
  HEPA_EXPORT_N_SKIPS,
} HepaExportSkip;

typedef struct
{
  HepaExportSkip  reason;
  char           *path;     /* what it concerns: the input image or the output file */
  char           *message;  /* one line, without the path; never an identifying value */
} HepaExportProblem;

typedef struct
{
  guint       n_images;         /* images with annotations that were read */
  guint       n_labeled;        /* labeled ROIs found */
  guint       n_unlabeled;      /* ROIs without a label (not exported, not a problem) */
  guint       n_exported;       /* crops in the manifest */
  guint       n_written;        /* files written (new or changed) */
  guint       n_unchanged;      /* files already there with the same bytes, left untouched */
  guint       n_removed;        /* files of an earlier export no longer part of it, removed */
  guint       n_frames;         /* whole frames in coco.json */
  guint       n_skipped;        /* problems */
  guint       skipped[HEPA_EXPORT_N_SKIPS];
  GPtrArray  *problems;         /* (element-type HepaExportProblem) */
  gboolean    manifest_written; /* FALSE when the manifests could not be written (a problem
                                 * says why); an older manifest, if any, is then unchanged */
  double      seconds;
} HepaExportSummary;

void hepa_export_summary_free (HepaExportSummary *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaExportSummary, hepa_export_summary_free)

/* A short, translated name of a skip reason ("label not in the class list"). */
const char *hepa_export_skip_describe (HepaExportSkip reason);

typedef struct
{
  const char          *out_dir;
  const HepaModelCard *card;          /* classes (folder names), input size, preprocessing */
  gboolean             native;        /* also native-resolution crops */
  gboolean             force;         /* replace existing files with other bytes */
  gboolean             frames;        /* whole frames + coco.json (default TRUE) */
  const char          *workspace_dir; /* where the workbench keeps sidecars of read-only
                                       * folders; NULL: sidecars next to the images only */
  const char          *key_path;      /* the pseudonym key; NULL: the user's default */
  int                  n_threads;     /* 0: one per processor */
  /* Raters and model ids written as they are (still withheld when they repeat an identifying
   * value of the image); every other rater and model id is written as a keyed pseudonym
   * ("rater-…", "model-…"). NULL-terminated; NULL: none (the card's own id is always allowed
   * as a model id). */
  const char *const   *allowed_names;
} HepaExportOptions;

void hepa_export_options_init (HepaExportOptions   *options,
                               const char          *out_dir,
                               const HepaModelCard *card);

/* A card with the default five classes (non_fll, cyst, hemangioma, ffs, hcc), 224 pixels,
 * grayscale, stretch, ImageNet mean/std: for exports before any model exists.
 * Free with hepa_export_card_free. */
HepaModelCard *hepa_export_card_new_default (const char *const *classes);
/* A card with @classes (NULL: @base's, else the default five) and the preprocessing, input size
 * and id of @base (NULL: the default card's). Free with hepa_export_card_free. */
HepaModelCard *hepa_export_card_new_like    (const HepaModelCard *base,
                                             const char *const   *classes);
void           hepa_export_card_free        (HepaModelCard *card);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaModelCard, hepa_export_card_free)

/* Called in the thread that runs hepa_export_run, after each image. */
typedef void (*HepaExportProgressFunc) (guint        done,
                                        guint        total,
                                        gpointer     user_data);

/* Exports the annotated images among @paths (files, or folders searched recursively for files
 * with a sidecar). Problems with single files or ROIs, and a manifest that cannot be written,
 * are collected in the summary and the rest goes on. Returns NULL with @error only when
 * nothing can be done: the output folder or the key cannot be used, or cancellation. */
HepaExportSummary *hepa_export_run (const HepaExportOptions  *options,
                                    const char *const        *paths,
                                    HepaExportProgressFunc    progress,
                                    gpointer                  user_data,
                                    GCancellable             *cancellable,
                                    GError                  **error);

/* Encodes an 8-bit RGB (channels 3), 8-bit gray (channels 1, depth 8) or 16-bit gray (depth
 * 16, native-endian samples) image as PNG in memory, without text or time chunks, so equal
 * pixels give equal bytes. */
GBytes *hepa_export_encode_png (const guint8 *pixels,
                                int           width,
                                int           height,
                                gsize         stride,
                                int           channels,
                                int           depth,
                                GError      **error);

G_END_DECLS
