/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model card: what a model is, how to feed it, what it was trained on, how far its
 * probabilities can be trusted. One reader (hepa_model_card_parse) and one writer
 * (hepa_model_card_to_json) for the "hepascope.card" metadata; every other module uses the
 * typed fields. Members the struct does not type (provenance, metrics, protocol) are kept as
 * they were read and written back unchanged. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "nn/hepa-resnet.h"

G_BEGIN_DECLS

#define HEPA_MODEL_CARD_KEY "hepascope.card"

typedef enum
{
  HEPA_RESIZE_STRETCH,    /* the ROI is resized to input_size x input_size (the paper) */
  HEPA_RESIZE_LETTERBOX,  /* aspect kept, padded with the mean */
} HepaResize;

/* The statistics of the pooled last-layer features that the out-of-distribution score is
 * measured against: class means and a shared covariance in low-rank form (probabilistic PCA):
 * the top @rank eigenvectors of the within-class covariance with their eigenvalues, and one
 * variance for every direction outside them. The score of a feature vector f is
 *   min over classes c of (sum_i (v_i . (f - m_c))^2 / l_i + |r|^2 / residual) / dim
 * where r is the part of f - m_c outside the eigenvectors: a squared Mahalanobis distance per
 * feature dimension, about 1 for the data it was fitted on. */
typedef struct
{
  guint    dim;               /* 2048 for resnet50, 512 for resnet18 */
  guint    n_classes;
  guint    rank;
  float   *means;             /* (n_classes, dim) */
  float   *components;        /* (rank, dim), orthonormal rows */
  float   *eigenvalues;       /* (rank) */
  double   residual;          /* variance per direction outside the components */
  double   p95;               /* percentiles of the score on held-out in-distribution crops */
  double   p99;               /* the threshold: above it a crop is "outside" */
  guint    n_fit;
  guint    n_heldout;
  char    *reference;         /* what the statistics were measured on */
} HepaOodReference;

typedef struct
{
  char       *id;              /* short id: card name + first 12 hex of the file sha256 */
  char       *arch;            /* "resnet50", "resnet18" */
  char      **classes;         /* NULL-terminated, in logit order */
  guint       n_classes;
  int         input_size;
  gboolean    grayscale;       /* gray -> 3 channels, as the paper */
  HepaResize  resize;
  float       mean[3];
  float       std[3];
  gboolean    has_card;        /* FALSE when defaults were assumed */
  char       *json;            /* the whole card as JSON, as hepa_model_card_to_json writes it */
  char       *sha256;          /* of the file it was loaded from; empty for in-memory models */

  char       *name;            /* NULL when the card names none */
  char       *intended_use;    /* NULL when the card does not say */
  char      **warnings;        /* NULL-terminated, never NULL */

  /* Calibration ("calibration" member): temperature scaling and split-conformal sets. */
  gboolean    calibrated;
  double      temperature;     /* logits are divided by it; 1 when not calibrated */
  double      conformal_threshold; /* a class is in the set when its calibrated probability
                                    * is at least 1 - threshold */
  double      coverage;        /* the coverage the threshold was set for (0.9) */
  double      ece_before;      /* on the calibration data, -1 when unknown */
  double      ece_after;
  guint       n_calibration;
  char       *calibration_data;

  /* The ROIs the model learned from ("training_roi"): 5th, 50th, 95th percentile of the
   * longer side, in pixels, and in mm when the crops were calibrated. */
  gboolean    has_roi_px;
  double      roi_px[3];
  gboolean    has_roi_mm;
  double      roi_mm[3];

  HepaOodReference *ood;       /* NULL: no out-of-distribution reference */
} HepaModelCard;

/* One line of the card as people read it (the About dialog, `model`). */
typedef struct
{
  const char *label;           /* translated */
  char       *value;
} HepaCardField;

void             hepa_model_card_init      (HepaModelCard       *card,
                                            HepaArch             arch,
                                            guint                n_classes);
void             hepa_model_card_clear     (HepaModelCard       *card);
/* A deep copy (new fields and json; the copy owns them). */
HepaModelCard   *hepa_model_card_copy      (const HepaModelCard *card);
/* (No autoptr here: core/hepa-export.h declares one for its cards, freed with its own free.) */
void             hepa_model_card_free      (HepaModelCard       *card);

/* The reader. Fills @card (initialized with hepa_model_card_init for the tensors' arch and
 * class count) from @json; the card must agree with the tensors. */
gboolean         hepa_model_card_parse     (HepaModelCard       *card,
                                            const char          *json,
                                            HepaArch             tensors_arch,
                                            guint                n_classes,
                                            GError             **error);
/* The writer: the members read (or written) before, with every typed field set from @card. */
char            *hepa_model_card_to_json   (const HepaModelCard *card,
                                            gboolean             pretty);
/* Like hepa_model_card_to_json (pretty), with the arrays of the OOD reference abbreviated:
 * the card as a person reads it. */
char            *hepa_model_card_to_display_json (const HepaModelCard *card);
/* Rebuilds card->json from the typed fields (after setting calibration or OOD fields). */
void             hepa_model_card_sync_json (HepaModelCard       *card);

/* The facts shown about a model, in order: a GPtrArray of HepaCardField. */
GPtrArray       *hepa_model_card_get_display_fields (const HepaModelCard *card);

/* The intended use; for a card without one, a translated "not stated by the model card". */
const char      *hepa_model_card_get_intended_use (const HepaModelCard *card);
/* "Calibrated (temperature 1.23, 90 % sets)" or "Not calibrated". */
char            *hepa_model_card_describe_calibration (const HepaModelCard *card);
/* "Out-of-distribution reference: ..." or "No out-of-distribution reference". */
char            *hepa_model_card_describe_ood (const HepaModelCard *card);

/* Adds the members that identify a model to the object open in @builder:
 * id, arch, classes, input_size, has_card. */
void             hepa_model_card_add_summary (const HepaModelCard *card,
                                              JsonBuilder         *builder);

void             hepa_ood_reference_free   (HepaOodReference    *ood);
HepaOodReference *hepa_ood_reference_copy  (const HepaOodReference *ood);
/* The score (see HepaOodReference) of one pooled feature vector of ood->dim floats. */
double           hepa_ood_score            (const HepaOodReference *ood,
                                            const float            *features);

/* "resnet50" / "resnet18", or NULL. */
const char          *hepa_arch_to_string   (HepaArch     arch);
gboolean             hepa_arch_from_string (const char  *text,
                                            HepaArch    *arch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaOodReference, hepa_ood_reference_free)

G_END_DECLS
