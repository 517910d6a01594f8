/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "hepa-types.h"

G_BEGIN_DECLS

/* What hepa_dicom_write_us () writes: an ultrasound image with synthetic identifiers. */
typedef struct
{
  int            width;
  int            height;
  int            n_frames;             /* 1: US Image Storage; > 1: US Multi-frame Image Storage */
  gboolean       rgb;                  /* RGB (planar 0) when TRUE, else MONOCHROME2; 8 bits */
  const guint8  *pixels;               /* (n_frames, height, width, rgb ? 3 : 1) */
  double         mm_per_pixel_x;       /* <= 0: no Sequence of Ultrasound Regions is written */
  double         mm_per_pixel_y;
  HepaRect       region;               /* the imaged sector/area bounds, for the region sequence;
                                        * width or height <= 0: the whole image */
  double         frame_time_ms;        /* Frame Time (0018,1063) of a cine; <= 0: 33.3 ms */
  const char    *series_description;   /* NULL: absent */
  const char    *image_comments;       /* NULL: absent */
  const char    *patient_name;         /* NULL: "Phantom^Hepascope" */
  const char    *patient_id;           /* NULL: "PHANTOM" */
  const char    *study_uid;            /* NULL: generated */
  const char    *series_uid;           /* NULL: generated */
  const char    *sop_uid;              /* NULL: generated */
  const char    *manufacturer;         /* NULL: "Hepascope" */
} HepaDicomUsParams;

/* Writes @params as an Explicit VR Little Endian US (Multi-frame) Image Storage file with a
 * Sequence of Ultrasound Regions (spatial format 1 = 2D, units 3 = cm, deltas in cm per pixel).
 * The file appears atomically (temporary file, fsync, rename). */
gboolean hepa_dicom_write_us (const char               *path,
                              const HepaDicomUsParams  *params,
                              GError                  **error);

G_END_DECLS
