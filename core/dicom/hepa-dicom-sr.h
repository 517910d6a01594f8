/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Results as DICOM, written and read with DCMTK (dcmsr, dcmseg, dcmdata), as plain C:
 *   - a Comprehensive SR following TID 1500 (Measurement Report), one TID 1410 planar ROI group
 *     per ROI: SCOORD on the source image with its SOP reference, finding (label), rater,
 *     tracking identifiers, the model's class probabilities as NUM items, its top class as CODE,
 *     and the algorithm's name, version and model sha256 (TID 4019);
 *   - a fractional (probability) Segmentation holding one ROI's saliency map over the source
 *     frame, derived from the source image;
 *   - a Secondary Capture of an RGB view;
 *   - an Encapsulated PDF.
 * Each new object copies the Patient and Study modules of its source image (same study), starts
 * its own series and is written atomically. Functions return a HepaDcmStatus (hepa-dicom-shim.h)
 * and one message line. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hepa-dicom-shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Classes are coded in this private scheme; the code meaning is the class name. */
#define HEPA_DCM_CODING_SCHEME "99HEPASCOPE"

typedef struct
{
  const char         *tracking_id;     /* the ROI's id (TEXT 112039) */
  const char         *tracking_uid;    /* (UIDREF 112040) */
  uint32_t            frame;           /* 0-based */
  double              x, y, width, height;   /* pixels */
  const char         *label;           /* "": unlabeled */
  const char         *rater;           /* "": none */
  unsigned            n_classes;       /* 0: no model output */
  const char *const  *classes;         /* (n_classes) */
  const float        *probabilities;   /* (n_classes) */
} HepaDcmSrRoi;

/* What every new object shares. */
typedef struct
{
  const char *source_path;             /* the image the results are about */
  const char *series_uid;              /* of the new object */
  const char *sop_uid;
  int         series_number;
  int         instance_number;
  const char *series_description;
  const char *software_version;
} HepaDcmNewObject;

typedef struct
{
  HepaDcmNewObject    object;
  const char         *device_uid;        /* Device Observer UID */
  const char         *algorithm_name;
  const char         *algorithm_version;
  const char         *model_sha256;      /* "": unknown */
  const HepaDcmSrRoi *rois;
  size_t              n_rois;
} HepaDcmSrSpec;

HepaDcmStatus hepa_dcm_write_sr  (const char          *path,
                                  const HepaDcmSrSpec *spec,
                                  char                *msg,
                                  size_t               msg_size);

/* Reading an SR back: @func gets each TID 1410 group of a Hepascope (or compatible TID 1500)
 * SR; strings live until it returns. *source_sop_uid receives the image the regions are on. */
typedef void (*HepaDcmSrRoiFunc) (void               *user_data,
                                  const HepaDcmSrRoi *roi,
                                  const char         *source_sop_uid);

HepaDcmStatus hepa_dcm_read_sr   (const char          *path,
                                  HepaDcmSrRoiFunc     func,
                                  void                *user_data,
                                  char                *msg,
                                  size_t               msg_size);

typedef struct
{
  HepaDcmNewObject  object;
  uint32_t          frame;             /* 0-based frame of the source the map is on */
  int               width, height;     /* = the source frame's */
  const uint8_t    *map;               /* (height, width): 0..255 = probability 0..1 */
  const char       *segment_label;     /* e.g. "Saliency hcc" */
  const char       *algorithm_name;
  const char       *algorithm_version;
  const char       *algorithm_parameters;
} HepaDcmSegSpec;

HepaDcmStatus hepa_dcm_write_seg (const char           *path,
                                  const HepaDcmSegSpec *spec,
                                  char                 *msg,
                                  size_t                msg_size);

HepaDcmStatus hepa_dcm_write_sc  (const char             *path,
                                  const HepaDcmNewObject *object,
                                  int                     width,
                                  int                     height,
                                  const uint8_t          *rgb,        /* (height, width, 3) */
                                  const char             *derivation, /* what the image shows */
                                  char                   *msg,
                                  size_t                  msg_size);

HepaDcmStatus hepa_dcm_write_pdf (const char             *path,
                                  const HepaDcmNewObject *object,
                                  const uint8_t          *pdf,
                                  size_t                  pdf_size,
                                  const char             *title,
                                  char                   *msg,
                                  size_t                  msg_size);

/* A new UID under DCMTK's root ("2.25." form not used): writes at most 65 bytes into @buf. */
void          hepa_dcm_new_uid   (char   *buf,
                                  size_t  size);

#ifdef __cplusplus
}
#endif
