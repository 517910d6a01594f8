/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Structure-aware input generators: DICOM files with nested sequences in every encoding DCMTK
 * reads, fragment tables, and nested JSON. Byte-level mutation rarely makes these (a nesting of
 * ten thousand levels is 200 KB of consistent headers), so the regression tests and the seed
 * corpora (gen-seeds, run by .ci/run before the fuzzers) make them directly. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  HEPA_GEN_EXPLICIT_LE,
  HEPA_GEN_IMPLICIT_LE,
  HEPA_GEN_EXPLICIT_BE,
  HEPA_GEN_DEFLATED,
  HEPA_GEN_NO_META_IMPLICIT,   /* a bare data set: no preamble, no meta header */
  HEPA_GEN_N_ENCODINGS
} HepaGenEncoding;

const char *hepa_gen_encoding_name   (HepaGenEncoding encoding);

/* An 8 x 8 MONOCHROME2 ultrasound image whose Referenced Series Sequence nests @depth levels of
 * sequences, with defined or undefined lengths. Opens as a normal image when @depth is small. */
GBytes     *hepa_gen_nested_dicom    (guint           depth,
                                      HepaGenEncoding encoding,
                                      gboolean        undefined_lengths);

/* A 64 x 64 JPEG baseline image (one frame) whose pixel data holds @n_fragments empty
 * fragments and an empty offset table. */
GBytes     *hepa_gen_fragments_dicom (guint           n_fragments);

/* A JPEG baseline DICOM of @rows x @columns in its header around @jpeg (a whole JPEG stream). */
GBytes     *hepa_gen_jpeg_dicom      (guint           rows,
                                      guint           columns,
                                      const guint8   *jpeg,
                                      gsize           jpeg_size);

/* @depth nested arrays ("[[[...]]]"), or objects ({"a":{"a":...}}) when @objects. */
char       *hepa_gen_nested_json     (guint           depth,
                                      gboolean        objects);

G_END_DECLS
