/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Classify an image region and compute class activation maps, in-process. */
#pragma once

#include <gio/gio.h>

#include "hepa-image.h"
#include "hepa-model.h"

G_BEGIN_DECLS

/* CAMs of larger ROIs are computed at this many pixels on the longest side. */
#define HEPA_CAM_MAX_SIDE 1024

typedef struct
{
  guint     n_classes;
  float    *probabilities;  /* (n_classes) softmax, card order; of logits / temperature when
                             * the card is calibrated */
  float    *logits;         /* (n_classes), as the network gives them */
  gboolean  calibrated;     /* the card's temperature was applied */
  guint8   *in_set;         /* (n_classes) the card's conformal prediction set (1 = in), NULL
                             * when the card is not calibrated */
  double    coverage;       /* the set's coverage (0.9), 0 when not calibrated */
  double    ood_score;      /* hepa_ood_score of the pooled features, NAN without a reference */
  double    ood_threshold;  /* the card's p99, NAN without a reference */
  gboolean  ood_outside;    /* ood_score > ood_threshold */
  guint     n_features;
  float    *features;       /* (n_features) the pooled last-layer features */
  double    trust_ms;       /* of latency_ms: pooling, OOD score, calibration and set */
  guint     top;            /* index of the largest probability */
  HepaRect  roi;            /* the region classified, after clamping to the frame */
  gboolean  roi_clamped;    /* TRUE when the requested ROI had to be clamped */
  int       cam_width;      /* = roi.width (scaled down, aspect kept, when a side of the ROI
                             * exceeds HEPA_CAM_MAX_SIDE) */
  int       cam_height;     /* = roi.height (idem) */
  float    *cams;           /* (n_classes, cam_height, cam_width): fc-weighted layer4
                             * activations (Grad-CAM for GAP + linear, before its ReLU and
                             * up to the 1/(h*w) scale), upsampled bilinearly to the ROI, not
                             * normalized; on the layer4 grid its mean is logit - fc bias */
  double    latency_ms;     /* preprocessing + forward + CAM + trust_ms */
} HepaResult;

void hepa_result_free (HepaResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaResult, hepa_result_free)

typedef struct _HepaEngine HepaEngine;

/* One engine per model; its workspace is allocated once. Calls are serialized by a mutex, so
 * an engine may be shared between threads. */
HepaEngine *hepa_engine_new       (HepaModel     *model,
                                   GError       **error);
/* Classifications still running in a worker keep the engine alive until they finish. */
void        hepa_engine_free      (HepaEngine    *self);
HepaModel  *hepa_engine_get_model (HepaEngine    *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaEngine, hepa_engine_free)

/* Classifies @roi of @frame (NULL roi: whole frame). Errors: empty ROI, cancellation. */
HepaResult *hepa_engine_classify  (HepaEngine      *self,
                                   const HepaFrame *frame,
                                   const HepaRect  *roi,
                                   GCancellable    *cancellable,
                                   GError         **error);

/* Classifies @n regions (@rois NULL: whole frames) of @frames in forward passes of up to 8.
 * Returns a GPtrArray of HepaResult in order; on error (any empty ROI, cancellation) none. */
GPtrArray  *hepa_engine_classify_batch  (HepaEngine             *self,
                                         const HepaFrame *const *frames,
                                         const HepaRect         *rois,
                                         guint                   n,
                                         GCancellable           *cancellable,
                                         GError                **error);

/* Runs hepa_engine_classify on the process's one inference thread (so one OpenMP team serves
 * every classification). @image is referenced for the frame's lifetime. */
void        hepa_engine_classify_async  (HepaEngine          *self,
                                         HepaImage           *image,
                                         guint                frame_index,
                                         const HepaRect      *roi,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
HepaResult *hepa_engine_classify_finish (HepaEngine          *self,
                                         GAsyncResult        *result,
                                         GError             **error);

/* Preprocesses @roi (inside the frame, not empty) of @frame as @card says into
 * (3, size, size) floats: GRAY16 through the frame's default VOI window to 8 bits (what the
 * screen shows), gray -> 3 channels, area-aware bilinear resize (stretch or letterbox padded
 * with the mean), then (v / 255 - mean) / std. */
void hepa_preprocess_roi (const HepaModelCard *card,
                          const HepaFrame     *frame,
                          const HepaRect      *roi,
                          float               *out);

G_END_DECLS
