/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The only boundary between Hepascope's C and DCMTK's C++. Plain C types only; no C++ type or
 * exception crosses it. Every function returns a HepaDcmStatus and, on failure, writes one
 * line into @msg (at most @msg_size bytes, NUL-terminated). hepa-dicom.c turns that into a
 * GError. A HepaDcmFile is not thread-safe: callers serialize calls on one file. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum
{
  HEPA_DCM_OK = 0,
  HEPA_DCM_ERR_FAILED,
  HEPA_DCM_ERR_IO,           /* could not read or write the file */
  HEPA_DCM_ERR_FORMAT,       /* damaged or not DICOM */
  HEPA_DCM_ERR_UNSUPPORTED,  /* a transfer syntax without a decoder */
  HEPA_DCM_ERR_NOT_FOUND,    /* the attribute is absent */
  HEPA_DCM_ERR_NO_MEMORY,
} HepaDcmStatus;

typedef struct HepaDcmFile HepaDcmFile;

typedef struct
{
  char     uid[72];          /* transfer syntax UID as read from the file */
  char     name[96];         /* DCMTK's name, or the UID when unknown to DCMTK */
  int      known;            /* DCMTK knows the syntax */
  int      encapsulated;     /* pixel data in fragments */
  int      can_decode;       /* native, or a decoder is registered */
  int      has_pixel_data;   /* (7FE0,0010) present */
  uint64_t pixel_length;     /* native: bytes of (7FE0,0010) */
  uint32_t n_fragments;      /* encapsulated: fragments, without the offset table */
  int      has_meta_header;
} HepaDcmPixelInfo;

typedef struct
{
  uint32_t x0, y0, x1, y1;
  int      spatial_format;
  int      data_type;
  int      units_x, units_y;
  double   delta_x, delta_y;
} HepaDcmRegion;

/* Registers DCMTK's decoders (JPEG baseline/extended/lossless, JPEG-LS, RLE) once. */
void          hepa_dcm_init            (void);

/* Reads the dataset of @path; large values (pixel data) stay on disk until a frame is asked for.
 * Files without preamble or meta header, any VR, byte order and deflate are detected. */
HepaDcmStatus hepa_dcm_open            (const char        *path,
                                        HepaDcmFile      **out,
                                        char              *msg,
                                        size_t             msg_size);
void          hepa_dcm_close           (HepaDcmFile       *file);

HepaDcmStatus hepa_dcm_get_pixel_info  (HepaDcmFile       *file,
                                        HepaDcmPixelInfo  *info,
                                        char              *msg,
                                        size_t             msg_size);

/* Value @index of a string-valued attribute of the main dataset (UTF-8 when the file's
 * character set could be converted), trimmed. HEPA_DCM_ERR_NOT_FOUND when absent. */
HepaDcmStatus hepa_dcm_get_string      (HepaDcmFile       *file,
                                        uint16_t           group,
                                        uint16_t           element,
                                        long               index,
                                        char              *buf,
                                        size_t             buf_size);
/* Value @index of an integer attribute (US, SS, UL, SL, IS). */
HepaDcmStatus hepa_dcm_get_int         (HepaDcmFile       *file,
                                        uint16_t           group,
                                        uint16_t           element,
                                        long               index,
                                        long              *value);
/* Value @index of a numeric attribute (DS, FD, FL, IS, US...). */
HepaDcmStatus hepa_dcm_get_double      (HepaDcmFile       *file,
                                        uint16_t           group,
                                        uint16_t           element,
                                        long               index,
                                        double            *value);
/* Copies up to @max 16-bit words of a lookup table attribute (OW/US/SS) into @out (may be NULL
 * to ask the count); *count receives the number of words the attribute holds. */
HepaDcmStatus hepa_dcm_get_words       (HepaDcmFile       *file,
                                        uint16_t           group,
                                        uint16_t           element,
                                        uint16_t          *out,
                                        size_t             max,
                                        size_t            *count);

/* The first item of the Modality LUT Sequence (0028,3000): descriptor (entries, 0 = 65536;
 * first mapped value; bits) and up to @max data words; *count is the number of words. */
HepaDcmStatus hepa_dcm_get_modality_lut (HepaDcmFile     *file,
                                         long             descriptor[3],
                                         uint16_t        *out,
                                         size_t           max,
                                         size_t          *count);

/* The Sequence of Ultrasound Regions: copies up to @max items; *count is the number of items. */
HepaDcmStatus hepa_dcm_get_us_regions  (HepaDcmFile       *file,
                                        HepaDcmRegion     *out,
                                        size_t             max,
                                        size_t            *count);

/* Calls @func for every text value in the data set, nested sequences and private attributes
 * included (depth is bounded by the open's nesting check): each value of a text VR (@vr its
 * two letters), and the printable runs of 4 or more characters in UN and private OB values up to
 * 64 KB. Pixel data is skipped. For de-identification checks. */
typedef void (*HepaDcmStringFunc) (uint16_t    group,
                                   uint16_t    element,
                                   const char *vr,
                                   const char *value,
                                   void       *user_data);
HepaDcmStatus hepa_dcm_foreach_string  (HepaDcmFile       *file,
                                        HepaDcmStringFunc  func,
                                        void              *user_data);

/* Decodes frame @frame (0-based) into @buf, which holds @buf_size bytes: rows x columns x
 * samples x bits allocated / 8, in the photometric written into @color_model (which differs from
 * the file's after JPEG's YCbCr -> RGB) and the file's planar configuration. 16-bit samples are
 * in host byte order. */
HepaDcmStatus hepa_dcm_get_frame       (HepaDcmFile       *file,
                                        uint32_t           frame,
                                        uint8_t           *buf,
                                        size_t             buf_size,
                                        char              *color_model,
                                        size_t             color_model_size,
                                        char              *msg,
                                        size_t             msg_size);

/* The compressed bytes of frame @frame of @n_frames (its fragments, concatenated), for decoders
 * outside DCMTK. *out is malloc()ed: release it with free (). HEPA_DCM_ERR_NOT_FOUND when the
 * fragment layout cannot be told (no offset table and fragments != frames). */
HepaDcmStatus hepa_dcm_get_frame_bitstream (HepaDcmFile   *file,
                                            uint32_t       frame,
                                            uint32_t       n_frames,
                                            uint8_t      **out,
                                            size_t        *out_size,
                                            char          *msg,
                                            size_t         msg_size);

/* What hepa_dcm_write_us () writes; see hepa-dicom-writer.h. Strings are never NULL. */
typedef struct
{
  int             width;
  int             height;
  int             n_frames;
  int             rgb;
  const uint8_t  *pixels;              /* (n_frames, height, width, rgb ? 3 : 1) */
  int             has_region;
  uint32_t        region_x0, region_y0, region_x1, region_y1;
  double          delta_x_cm, delta_y_cm;
  double          frame_time_ms;
  const char     *series_description;  /* "" : absent */
  const char     *image_comments;      /* "" : absent */
  const char     *patient_name;
  const char     *patient_id;
  const char     *study_uid;           /* "" : generated */
  const char     *series_uid;
  const char     *sop_uid;
  const char     *manufacturer;
} HepaDcmUsSpec;

HepaDcmStatus hepa_dcm_write_us        (const char          *path,
                                        const HepaDcmUsSpec *spec,
                                        char                *msg,
                                        size_t               msg_size);

#ifdef __cplusplus
}
#endif
