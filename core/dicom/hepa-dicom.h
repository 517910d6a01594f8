/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The C face of the DCMTK shim: the same calls with GError, file names in every message and
 * GLib-owned results. Used by hepa-image.c; a HepaDicomFile is not thread-safe. */
#pragma once

#include <glib.h>

#include "hepa-dicom-shim.h"
#include "hepa-image.h"

G_BEGIN_DECLS

typedef struct _HepaDicomFile HepaDicomFile;

/* Parses @path (pixel data stays on disk). Errors: HEPA_ERROR_IO, HEPA_ERROR_FORMAT. */
HepaDicomFile *hepa_dicom_file_open          (const char        *path,
                                              GError           **error);
void           hepa_dicom_file_free          (HepaDicomFile     *self);

const char    *hepa_dicom_file_get_path      (HepaDicomFile     *self);
gboolean       hepa_dicom_file_get_pixel_info (HepaDicomFile    *self,
                                              HepaDcmPixelInfo  *info,
                                              GError           **error);
/* (transfer full): value @index of a text attribute, trimmed, valid UTF-8; "" when absent. */
char          *hepa_dicom_file_dup_string    (HepaDicomFile     *self,
                                              guint16            group,
                                              guint16            element,
                                              long               index);
gboolean       hepa_dicom_file_get_int       (HepaDicomFile     *self,
                                              guint16            group,
                                              guint16            element,
                                              long               index,
                                              long              *value);
gboolean       hepa_dicom_file_get_double    (HepaDicomFile     *self,
                                              guint16            group,
                                              guint16            element,
                                              long               index,
                                              double            *value);
/* (transfer full): the 16-bit words of a lookup table attribute, or NULL when absent. */
guint16       *hepa_dicom_file_dup_words     (HepaDicomFile     *self,
                                              guint16            group,
                                              guint16            element,
                                              gsize             *n_words);
/* (transfer full): the data words of the Modality LUT Sequence's first item and its
 * descriptor; NULL when absent. Sets *broken when the sequence is there but unreadable. */
guint16       *hepa_dicom_file_dup_modality_lut (HepaDicomFile  *self,
                                                 long            descriptor[3],
                                                 gsize          *n_words,
                                                 gboolean       *broken);
/* (transfer full): the Sequence of Ultrasound Regions, NULL and *n_regions = 0 when absent. */
HepaUsRegion  *hepa_dicom_file_dup_regions   (HepaDicomFile     *self,
                                              guint             *n_regions);
/* (transfer full): the compressed bytes of frame @frame of @n_frames, or NULL when the fragment
 * layout cannot be told (then *error stays unset) or reading failed (*error set). */
GBytes        *hepa_dicom_file_dup_frame_bitstream (HepaDicomFile  *self,
                                                    guint           frame,
                                                    guint           n_frames,
                                                    GError        **error);
/* Decodes frame @frame into @buf (see hepa_dcm_get_frame). *color_model: (transfer full). */
gboolean       hepa_dicom_file_read_frame    (HepaDicomFile     *self,
                                              guint              frame,
                                              guint8            *buf,
                                              gsize              buf_size,
                                              char             **color_model,
                                              GError           **error);

/* Calls @func with every text value of the file (nested and private included, see
 * hepa_dcm_foreach_string), made valid UTF-8 and trimmed. */
typedef void (*HepaDicomStringFunc) (guint16     group,
                                     guint16     element,
                                     const char *vr,
                                     const char *value,
                                     gpointer    user_data);
void           hepa_dicom_file_foreach_string (HepaDicomFile      *self,
                                               HepaDicomStringFunc func,
                                               gpointer            user_data);

/* Deepest nesting of sequences in the DICOM file open as @fd (hepa-dicom-scan.c), without
 * recursion; stops once past @limit (at most 250). *too_large: a deflated data set inflates to
 * more than 2 GiB. */
#define HEPA_DICOM_MAX_NESTING 64
guint          hepa_dicom_nesting_depth      (int                fd,
                                              guint              limit,
                                              gboolean          *too_large);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaDicomFile, hepa_dicom_file_free)

G_END_DECLS
