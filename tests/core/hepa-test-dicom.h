/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test-only DICOM fixture writer over DCMTK's encoders: any photometric, bit depth, planar
 * configuration, palette and transfer syntax, so the loader can be checked against the pixels
 * that went in. Plain C interface; C++ stays inside hepa-test-dicom.cc. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct
{
  int             width;
  int             height;
  int             frames;                 /* 0: no Number of Frames attribute (one frame) */
  int             samples;
  int             bits_allocated;
  int             bits_stored;
  int             high_bit;
  int             pixel_representation;
  int             planar;                 /* -1: attribute absent */
  const char     *photometric;
  const void     *pixels;                 /* native layout as stored, host byte order */
  size_t          n_bytes;                /* bytes of @pixels written (may be wrong on purpose) */
  /* Palette: descriptor and data words per channel; segmented data goes to (0028,122x). */
  int             palette_entries;        /* 0: no palette */
  int             palette_first;
  int             palette_bits;
  const uint16_t *palette_data[3];
  size_t          palette_words[3];
  int             palette_segmented;
  int             modality_lut_entries;   /* 0: no Modality LUT Sequence */
  int             modality_lut_first;
  int             modality_lut_bits;
  const uint16_t *modality_lut_data;
  size_t          modality_lut_words;
  double          window_center;          /* window_width 0: none */
  double          window_width;
  double          slope;                  /* 0: no rescale */
  double          intercept;
  /* Transfer syntax: "explicit-le", "implicit-le", "explicit-be", "deflated", "rle",
   * "jpeg-baseline", "jpeg-extended", "jpeg-lossless", "jpeg-lossless-sv1", "jpegls-lossless",
   * "jpegls-near". */
  const char     *xfer;
  int             no_meta;                /* write the data set only, no preamble or meta */
  int             no_pixel_data;
} HepaTestDicom;

/* Returns 0 on success, else writes a message into @msg. */
int hepa_test_dicom_write (const char          *path,
                           const HepaTestDicom *spec,
                           char                *msg,
                           size_t               msg_size);

/* A text attribute to add to an existing file: at the top level, or in the first item of the
 * sequence (seq_group, seq_element) when seq_group is not 0. Any tag, private ones included,
 * with the VR given (LO, SH, PN, LT, DA, CS). */
typedef struct
{
  uint16_t    seq_group, seq_element;
  uint16_t    group, element;
  const char *vr;
  const char *value;
} HepaTestDicomText;

/* Adds @n texts to the DICOM file @path in place (explicit VR little endian). 0 on success. */
int hepa_test_dicom_add_texts (const char              *path,
                               const HepaTestDicomText *texts,
                               size_t                   n,
                               char                    *msg,
                               size_t                   msg_size);

#ifdef __cplusplus
}
#endif
