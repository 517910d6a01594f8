/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "hepa-types.h"

G_BEGIN_DECLS

/* How a decoded frame stores its pixels. */
typedef enum
{
  HEPA_PIXEL_RGB8,    /* 3 bytes per pixel, R G B */
  HEPA_PIXEL_GRAY16,  /* one guint16 per pixel, after the modality LUT, MONOCHROME1 inverted */
} HepaPixelFormat;

/* One decoded frame. Owned by its HepaImage and valid while the image lives; never modified. */
typedef struct
{
  int              width;
  int              height;
  HepaPixelFormat  format;
  gsize            stride;         /* bytes from one row to the next */
  const guint8    *data;           /* (height, stride) */
  int              bits_stored;    /* significant bits of GRAY16 (8..16); 8 for RGB8 */
  double           window_center;  /* default VOI of GRAY16 frames, in GRAY16 units */
  double           window_width;
} HepaFrame;

/* One region of the DICOM Sequence of Ultrasound Regions (0018,6011). */
typedef struct
{
  int     x0, y0, x1, y1;          /* pixel bounds, inclusive, as in the file */
  int     spatial_format;          /* (0018,6012): 1 = 2D, 2 = M-mode, 3 = spectral, ... */
  int     data_type;               /* (0018,6014) */
  int     units_x, units_y;        /* (0018,6024/6026): 3 = cm */
  double  delta_x, delta_y;        /* (0018,602C/602E) physical units per pixel */
} HepaUsRegion;

/* What we know of a file apart from its pixels. Strings are never NULL (empty when absent). */
typedef struct
{
  char    *path;
  char    *format;                 /* "DICOM", "PNG", "JPEG" */
  char    *transfer_syntax_uid;
  char    *transfer_syntax_name;
  char    *photometric;            /* "RGB", "YBR_FULL_422", "MONOCHROME2", "PALETTE COLOR", ... */
  char    *modality;
  char    *manufacturer;
  char    *model_name;
  char    *sop_class_uid;
  char    *study_uid;
  char    *series_uid;
  char    *sop_uid;
  char    *series_description;
  double   frame_time_ms;          /* 0 when unknown */
  double   cine_rate;              /* frames per second, 0 when unknown */
  int      burned_in_annotation;   /* -1 unknown, 0 NO, 1 YES */
  double   pixel_spacing_mm[2];    /* x, y; 0 when uncalibrated (whole image, from Pixel Spacing
                                    * or the first 2D region in cm) */
  HepaUsRegion *regions;
  guint    n_regions;

  /* Identifying fields: for display and pseudonymization only. Never log them. */
  char    *patient_name;
  char    *patient_id;
  char    *patient_birth_date;
  char    *accession_number;
  char    *institution_name;
  char    *referring_physician;
  char    *study_date;
  char    *study_time;
  char    *study_description;
  char    *image_comments;
} HepaImageInfo;

typedef struct _HepaImage HepaImage;

/* Ceiling on decoded bytes of one frame; larger files are refused before allocation.
 * HEPASCOPE_MAX_IMAGE_MB overrides it. */
gsize             hepa_image_get_max_frame_bytes (void);

/* Opens a DICOM, PNG or JPEG file. Reads the header and metadata; frames decode on demand. */
HepaImage        *hepa_image_open            (const char       *path,
                                              GError          **error);
/* Wraps caller pixels (copied) as a one-frame image, for generated data and tests. */
HepaImage        *hepa_image_new_from_pixels (HepaPixelFormat   format,
                                              int               width,
                                              int               height,
                                              gsize             stride,
                                              const guint8     *data,
                                              const char       *name);
HepaImage        *hepa_image_ref             (HepaImage        *self);
void              hepa_image_unref           (HepaImage        *self);

const HepaImageInfo *hepa_image_get_info     (HepaImage        *self);
int               hepa_image_get_width       (HepaImage        *self);
int               hepa_image_get_height      (HepaImage        *self);
guint             hepa_image_get_n_frames    (HepaImage        *self);
HepaPixelFormat   hepa_image_get_format      (HepaImage        *self);

/* Decodes frame @index on first use and caches it; safe from any thread.
 * (transfer none): valid until the image is freed. */
const HepaFrame  *hepa_image_get_frame       (HepaImage        *self,
                                              guint             index,
                                              GError          **error);

/* Whether frame @index is decoded and cached (for tests of lazy decoding and for the UI). */
gboolean          hepa_image_is_frame_cached (HepaImage        *self,
                                              guint             index);
/* Bytes held by the decoded frames cached so far. */
gsize             hepa_image_get_cached_bytes (HepaImage       *self);

/* mm per pixel at (x, y): from the ultrasound region holding the pixel, else the image-wide
 * spacing. Returns FALSE when the image is not calibrated there. */
gboolean          hepa_image_get_spacing_at  (HepaImage        *self,
                                              int               x,
                                              int               y,
                                              double           *mm_x,
                                              double           *mm_y);

/* Renders a frame as displayed: RGB8 as is, GRAY16 through the window (center/width; pass
 * window_width <= 0 for the frame's default). Writes (height, width, 3) into @rgb_out. */
void              hepa_frame_render_rgb      (const HepaFrame  *frame,
                                              double            window_center,
                                              double            window_width,
                                              guint8           *rgb_out);

/* Writes (height, width, 3) RGB8 as a PNG, atomically. */
gboolean          hepa_png_write_rgb         (const char       *path,
                                              int               width,
                                              int               height,
                                              const guint8     *rgb,
                                              GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaImage, hepa_image_unref)

G_END_DECLS
