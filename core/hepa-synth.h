/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Synthetic B-mode liver phantoms for the five default classes.
 *
 * A physics-motivated simulator, not a picture generator: tissue is a field of random point
 * scatterers whose density and amplitude depend on the tissue class; the echo of each beam line is
 * the scatterer field attenuated along the beam, convolved with an axial/lateral point-spread
 * function, demodulated to its envelope, compensated by time-gain control, log-compressed and
 * scan-converted from beam space to the displayed image. Lesions follow their textbook sonographic
 * appearance (sources cited in hepa-synth.c).
 *
 * Every image is a pure function of (class, seed, index, size, probe, frames): random numbers come
 * from a counter-based generator keyed by those values, so images may be made in any order, in any
 * number of threads, and come out byte-identical.
 *
 * These images are SYNTHETIC. They are for software testing, teaching and demonstrations; they
 * say nothing about how a model performs on patients.
 */
#pragma once

#include <glib.h>

#include "hepa-types.h"

G_BEGIN_DECLS

/* The default label set, in the order models list it. */
typedef enum
{
  HEPA_SYNTH_NON_FLL,
  HEPA_SYNTH_CYST,
  HEPA_SYNTH_HEMANGIOMA,
  HEPA_SYNTH_FFS,
  HEPA_SYNTH_HCC,
  HEPA_SYNTH_N_CLASSES,
} HepaSynthClass;

typedef enum
{
  HEPA_SYNTH_PROBE_CURVED,   /* curvilinear sector, as abdominal probes (2.5-4.5 MHz) */
  HEPA_SYNTH_PROBE_LINEAR,   /* linear array for the near liver (5-8 MHz) */
} HepaSynthProbe;

/* What a pixel of the optional label map shows (frame 0). */
typedef enum
{
  HEPA_SYNTH_LABEL_OUTSIDE,      /* outside the imaged region */
  HEPA_SYNTH_LABEL_BODY_WALL,    /* skin, fat, muscle */
  HEPA_SYNTH_LABEL_LIVER,        /* parenchyma */
  HEPA_SYNTH_LABEL_LESION,       /* inside the lesion (FFS: the spared area) */
  HEPA_SYNTH_LABEL_LESION_RIM,   /* cyst wall, HCC halo/capsule */
  HEPA_SYNTH_LABEL_VESSEL,       /* lumen and wall */
  HEPA_SYNTH_LABEL_GALLBLADDER,
  HEPA_SYNTH_LABEL_BEYOND,       /* diaphragm and what lies past it */
} HepaSynthLabel;

typedef struct
{
  HepaSynthClass  klass;
  guint64         seed;
  guint           index;       /* image number within the class */
  int             width;       /* 64..4096 */
  int             height;      /* 64..4096 */
  HepaSynthProbe  probe;
  guint           n_frames;    /* 1..1000; > 1: a cine with a slow probe sweep */
} HepaSynthParams;

typedef struct
{
  HepaRect  truth;             /* frame 0: lesion bounding box; non_fll: a parenchyma box */
  HepaRect  roi;               /* the box a rater draws: the lesion with a margin of parenchyma
                                * on every side (the paper's Figure 1); non_fll: the truth box */
  HepaRect  region;            /* bounds of the imaged sector or rectangle */
  double    mm_per_pixel_x;    /* true scale inside the region */
  double    mm_per_pixel_y;
  double    frame_time_ms;
  double    depth_mm;          /* displayed depth along the beam */
  double    frequency_mhz;
  gboolean  fatty;             /* diffusely fatty background liver */
  gboolean  has_gallbladder;
  gboolean  has_diaphragm;
  guint     n_vessels;
} HepaSynthInfo;

/* "non_fll", "cyst", "hemangioma", "ffs", "hcc"; NULL when out of range. */
const char *hepa_synth_class_name      (HepaSynthClass         klass);
/* Looks up a class by its name. Returns FALSE when the name is unknown. */
gboolean    hepa_synth_class_from_name (const char            *name,
                                        HepaSynthClass        *klass);

/* Fills @params with defaults: 640x480, curved probe, one frame. */
void        hepa_synth_params_init     (HepaSynthParams       *params,
                                        HepaSynthClass         klass,
                                        guint64                seed,
                                        guint                  index);

/* Bytes of the pixel buffer hepa_synth_generate () fills: n_frames * height * width. */
gsize       hepa_synth_buffer_size     (const HepaSynthParams *params);

/* Generates one image into @pixels, (n_frames, height, width) 8-bit gray, and describes it in
 * @info. @labels (may be NULL) receives a (height, width) HepaSynthLabel map of frame 0.
 * Fails with HEPA_ERROR_INVALID_ARGUMENT when a parameter is out of range. Thread-safe. */
gboolean    hepa_synth_generate        (const HepaSynthParams *params,
                                        guint8                *pixels,
                                        guint8                *labels,
                                        HepaSynthInfo         *info,
                                        GError               **error);

/* A deterministic DICOM UID ("2.25." + 128-bit decimal) for (seed, what, index). */
char       *hepa_synth_uid             (guint64                seed,
                                        const char            *what,
                                        guint64                index);

G_END_DECLS
