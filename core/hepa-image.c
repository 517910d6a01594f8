/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HepaImage: DICOM (through the DCMTK shim), PNG (libpng) and JPEG (libjpeg-turbo) behind one
 * API. DICOM frames are decoded one at a time on first use and cached; the pixel interpretation
 * (modality LUT, MONOCHROME1, palettes, YCbCr, planar configuration) is done here, in C, so it
 * can be tested and fuzzed without DCMTK's image module. */
#include "config.h"

#include "hepa-image.h"

#include "dicom/hepa-dicom.h"
#include "hepa-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_IMAGE_MB 512
#define MAX_FRAMES 100000
#define HEPA_MAX_FRAGMENTS_PER_FRAME 1024
#define MAX_REGIONS 256

typedef enum
{
  PHOTO_UNKNOWN,
  PHOTO_MONOCHROME1,
  PHOTO_MONOCHROME2,
  PHOTO_RGB,
  PHOTO_PALETTE,
  PHOTO_YBR_FULL,
  PHOTO_YBR_FULL_422,
  PHOTO_YBR_PARTIAL_422,
  PHOTO_YBR_PARTIAL_420,
  PHOTO_YBR_ICT,
  PHOTO_YBR_RCT,
} Photometric;

typedef struct
{
  guint8 *lut[3];         /* (n_entries) 8-bit red, green, blue */
  guint   n_entries;
  long    first;          /* first mapped pixel value */
} Palette;

struct _HepaImage
{
  gatomicrefcount  ref_count;
  HepaImageInfo    info;
  int              width;
  int              height;
  guint            n_frames;
  HepaPixelFormat  format;

  GMutex           lock;           /* guards frames, n_cached_bytes and the DICOM file */
  HepaFrame      **frames;         /* (n_frames) NULL until decoded */
  gsize            cached_bytes;

  /* DICOM only. */
  HepaDicomFile   *dicom;
  gboolean         encapsulated;
  Photometric      photometric;
  int              samples;
  int              bits_allocated;
  int              bits_stored;
  int              high_bit;
  gboolean         is_signed;
  int              planar;
  double           slope;
  double           intercept;
  gboolean         has_window;
  double           window_center;  /* in GRAY16 units */
  double           window_width;
  double           gray_offset;    /* GRAY16 = modality value - gray_offset */
  double           gray_max;       /* largest GRAY16 value */
  int              gray_bits;      /* bits_stored of GRAY16 frames */
  gboolean         spacing_from_tag;
  Palette          palette;
  guint16         *modality_lut;   /* (modality_lut_n) from the Modality LUT Sequence, or NULL */
  guint            modality_lut_n;
  long             modality_lut_first;
  gsize            raw_frame_bytes;
  gboolean         use_turbo;      /* 8-bit baseline/extended JPEG: libjpeg-turbo decodes */
  gboolean         jpeg_family;    /* JPEG or JPEG-LS: frames carry their own size */
};

/* ---- Sizes ------------------------------------------------------------------------------- */

gsize
hepa_image_get_max_frame_bytes (void)
{
  const char *env = g_getenv ("HEPASCOPE_MAX_IMAGE_MB");
  guint64 mb = DEFAULT_MAX_IMAGE_MB;

  if (env != NULL && *env != '\0')
    {
      char *end = NULL;
      guint64 v = g_ascii_strtoull (env, &end, 10);

      if (end != env && *end == '\0' && v > 0 && v < (G_MAXSIZE >> 21))
        mb = v;
    }
  return (gsize) mb * 1024 * 1024;
}

/* The ceiling is on everything one frame takes to show, not on the decoded frame alone: the
 * frame (@bytes_per_pixel), its RGB rendering (3 bytes a pixel, as render and the canvas make)
 * and @other_bytes (the decoder's raw buffer and the compressed frame, for DICOM). */
static gboolean
check_frame_size_full (const char  *path,
                       guint64      width,
                       guint64      height,
                       guint64      bytes_per_pixel,
                       guint64      other_bytes,
                       GError     **error)
{
  gsize max = hepa_image_get_max_frame_bytes ();
  /* Below 2^31 each, so the product fits; a product above the ceiling stops before any more. */
  gboolean sane = width <= G_MAXINT32 && height <= G_MAXINT32 && width * height <= max;
  guint64 shown = sane ? width * height * (bytes_per_pixel + 3) : G_MAXUINT64;

  if (shown <= max && other_bytes <= max - shown)
    return TRUE;
  if (sane && width * height * bytes_per_pixel <= max)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("%s: showing one frame of %llu x %llu pixels needs more than the %zu MB "
                     "allowed per frame (HEPASCOPE_MAX_IMAGE_MB)"),
                   path, (unsigned long long) width, (unsigned long long) height,
                   (size_t) (max / (1024 * 1024)));
      return FALSE;
    }
  g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
               _("%s: image of %llu x %llu pixels is above the %zu MB limit per frame "
                 "(HEPASCOPE_MAX_IMAGE_MB)"),
               path, (unsigned long long) width, (unsigned long long) height,
               (size_t) (max / (1024 * 1024)));
  return FALSE;
}

static gboolean
check_frame_size (const char  *path,
                  guint64      width,
                  guint64      height,
                  guint64      bytes_per_pixel,
                  GError     **error)
{
  return check_frame_size_full (path, width, height, bytes_per_pixel, 0, error);
}

/* ---- Lifetime ---------------------------------------------------------------------------- */

static void
info_clear (HepaImageInfo *info)
{
  g_free (info->path);
  g_free (info->format);
  g_free (info->transfer_syntax_uid);
  g_free (info->transfer_syntax_name);
  g_free (info->photometric);
  g_free (info->modality);
  g_free (info->manufacturer);
  g_free (info->model_name);
  g_free (info->sop_class_uid);
  g_free (info->study_uid);
  g_free (info->series_uid);
  g_free (info->sop_uid);
  g_free (info->series_description);
  g_free (info->regions);
  g_free (info->patient_name);
  g_free (info->patient_id);
  g_free (info->patient_birth_date);
  g_free (info->accession_number);
  g_free (info->institution_name);
  g_free (info->referring_physician);
  g_free (info->study_date);
  g_free (info->study_time);
  g_free (info->study_description);
  g_free (info->image_comments);
}

/* Every string of the info set, so none is ever NULL. */
static void
info_fill_empty (HepaImageInfo *info)
{
  char **fields[] = {
    &info->path, &info->format, &info->transfer_syntax_uid, &info->transfer_syntax_name,
    &info->photometric, &info->modality, &info->manufacturer, &info->model_name,
    &info->sop_class_uid, &info->study_uid, &info->series_uid, &info->sop_uid,
    &info->series_description, &info->patient_name, &info->patient_id,
    &info->patient_birth_date, &info->accession_number, &info->institution_name,
    &info->referring_physician, &info->study_date, &info->study_time,
    &info->study_description, &info->image_comments,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (*fields[i] == NULL)
      *fields[i] = g_strdup ("");
}

static HepaImage *
image_new (const char *path,
           const char *format)
{
  HepaImage *self = g_new0 (HepaImage, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->info.path = g_strdup (path);
  self->info.format = g_strdup (format);
  self->info.burned_in_annotation = -1;
  self->slope = 1.0;
  return self;
}

HepaImage *
hepa_image_ref (HepaImage *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
hepa_image_unref (HepaImage *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  for (guint i = 0; self->frames != NULL && i < self->n_frames; i++)
    g_free (self->frames[i]);
  g_free (self->frames);
  for (int c = 0; c < 3; c++)
    g_free (self->palette.lut[c]);
  g_free (self->modality_lut);
  g_clear_pointer (&self->dicom, hepa_dicom_file_free);
  info_clear (&self->info);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* A frame and its pixels in one block. */
static HepaFrame *
frame_alloc (int             width,
             int             height,
             HepaPixelFormat format,
             guint8        **data)
{
  gsize bpp = format == HEPA_PIXEL_RGB8 ? 3 : 2;
  gsize stride = (gsize) width * bpp;
  gsize header = (sizeof (HepaFrame) + 15) & ~(gsize) 15;
  guint8 *block = g_try_malloc (header + stride * height);
  HepaFrame *frame;

  if (block == NULL)
    return NULL;
  frame = (HepaFrame *) block;
  memset (frame, 0, sizeof *frame);
  frame->width = width;
  frame->height = height;
  frame->format = format;
  frame->stride = stride;
  frame->data = block + header;
  frame->bits_stored = 8;
  frame->window_center = 128;
  frame->window_width = 256;
  *data = block + header;
  return frame;
}

static gsize
frame_bytes (const HepaFrame *frame)
{
  return sizeof (HepaFrame) + frame->stride * frame->height;
}

/* Caches @frame as the single frame of @self. */
static void
image_set_single_frame (HepaImage *self,
                        HepaFrame *frame)
{
  self->width = frame->width;
  self->height = frame->height;
  self->format = frame->format;
  self->n_frames = 1;
  self->frames = g_new0 (HepaFrame *, 1);
  self->frames[0] = frame;
  self->cached_bytes = frame_bytes (frame);
}

HepaImage *
hepa_image_new_from_pixels (HepaPixelFormat  format,
                            int              width,
                            int              height,
                            gsize            stride,
                            const guint8    *data,
                            const char      *name)
{
  HepaImage *self;
  HepaFrame *frame;
  guint8 *out;

  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (stride >= (gsize) width * (format == HEPA_PIXEL_RGB8 ? 3 : 2), NULL);

  frame = frame_alloc (width, height, format, &out);
  g_return_val_if_fail (frame != NULL, NULL);
  for (int y = 0; y < height; y++)
    memcpy (out + y * frame->stride, data + y * stride, frame->stride);
  if (format == HEPA_PIXEL_GRAY16)
    {
      const guint16 *px = (const guint16 *) out;
      guint16 max = 0;

      for (gsize i = 0; i < (gsize) width * height; i++)
        max = MAX (max, px[i]);
      frame->bits_stored = max > 255 ? 16 : 8;
      frame->window_center = frame->bits_stored == 8 ? 128 : 32768;
      frame->window_width = frame->bits_stored == 8 ? 256 : 65536;
    }

  self = image_new (name != NULL ? name : "", "RAW");
  self->info.photometric = g_strdup (format == HEPA_PIXEL_RGB8 ? "RGB" : "MONOCHROME2");
  info_fill_empty (&self->info);
  image_set_single_frame (self, frame);
  return self;
}

/* ---- PNG --------------------------------------------------------------------------------- */

typedef struct
{
  const char *path;
  char        message[256];
  HepaFrame  *frame;
  png_bytep  *rows;
  FILE       *file;
} PngContext;

static void
png_error_cb (png_structp     png,
              png_const_charp message)
{
  PngContext *ctx = png_get_error_ptr (png);

  g_snprintf (ctx->message, sizeof ctx->message, "%s", message);
  png_longjmp (png, 1);
}

static void
png_warning_cb (png_structp     png,
                png_const_charp message)
{
}

static HepaImage *
open_png (const char  *path,
          FILE        *file,
          GError     **error)
{
  PngContext *ctx = g_new0 (PngContext, 1);
  png_structp png = NULL;
  png_infop info = NULL;
  HepaImage *self = NULL;

  ctx->path = path;
  ctx->file = file;
  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, ctx, png_error_cb, png_warning_cb);
  if (png != NULL)
    info = png_create_info_struct (png);
  if (png == NULL || info == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FAILED, _("%s: cannot start the PNG decoder"),
                   path);
      png_destroy_read_struct (png != NULL ? &png : NULL, NULL, NULL);
      g_free (ctx);
      return NULL;
    }

  if (setjmp (png_jmpbuf (png)))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("%s: damaged PNG file (%s)"), path,
                   ctx->message);
      goto out;
    }

  png_init_io (png, file);
  /* Sizes come from the file: libpng's own ceiling first, ours below. */
  png_set_user_limits (png, 0x7fffffff, 0x7fffffff);
  png_read_info (png, info);
  {
    png_uint_32 width = png_get_image_width (png, info);
    png_uint_32 height = png_get_image_height (png, info);
    int depth = png_get_bit_depth (png, info);
    int color = png_get_color_type (png, info);
    gboolean gray = (color & PNG_COLOR_MASK_COLOR) == 0;
    HepaPixelFormat format = gray ? HEPA_PIXEL_GRAY16 : HEPA_PIXEL_RGB8;
    guint8 *out;

    if (!check_frame_size (path, width, height, gray ? 2 : 3, error))
      goto out;

    if (color == PNG_COLOR_TYPE_PALETTE)
      png_set_palette_to_rgb (png);
    if (gray && depth < 8)
      png_set_expand_gray_1_2_4_to_8 (png);
    if (color & PNG_COLOR_MASK_ALPHA)
      png_set_strip_alpha (png);
    if (!gray && depth == 16)
      png_set_strip_16 (png);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    if (gray && depth == 16)
      png_set_swap (png);
#endif
    png_set_interlace_handling (png);
    png_read_update_info (png, info);

    ctx->frame = frame_alloc ((int) width, (int) height, format, &out);
    ctx->rows = g_try_new (png_bytep, height);
    if (ctx->frame == NULL || ctx->rows == NULL)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("%s: out of memory"), path);
        goto out;
      }
    /* 8-bit gray is widened to 16 bits after reading, in place from the end of each row. */
    for (png_uint_32 y = 0; y < height; y++)
      ctx->rows[y] = out + y * ctx->frame->stride;
    png_read_image (png, ctx->rows);
    png_read_end (png, NULL);

    if (gray && depth <= 8)
      {
        for (png_uint_32 y = 0; y < height; y++)
          {
            guint8 *row = out + y * ctx->frame->stride;
            guint16 *row16 = (guint16 *) row;

            for (png_uint_32 x = width; x-- > 0;)
              row16[x] = row[x];
          }
        ctx->frame->bits_stored = 8;
        ctx->frame->window_center = 128;
        ctx->frame->window_width = 256;
      }
    else if (gray)
      {
        ctx->frame->bits_stored = 16;
        ctx->frame->window_center = 32768;
        ctx->frame->window_width = 65536;
      }

    self = image_new (path, "PNG");
    self->info.photometric = g_strdup (gray ? "MONOCHROME2" : "RGB");
    info_fill_empty (&self->info);
    image_set_single_frame (self, g_steal_pointer (&ctx->frame));
  }

out:
  png_destroy_read_struct (&png, &info, NULL);
  g_free (ctx->frame);
  g_free (ctx->rows);
  g_free (ctx);
  return self;
}

typedef struct
{
  char message[256];
} PngWriteContext;

static void
png_write_error_cb (png_structp     png,
                    png_const_charp message)
{
  PngWriteContext *ctx = png_get_error_ptr (png);

  g_snprintf (ctx->message, sizeof ctx->message, "%s", message);
  png_longjmp (png, 1);
}

/* Encodes into @file; the only function here that longjmps, with nothing to clobber. */
static gboolean
png_encode (FILE           *file,
            int             width,
            int             height,
            const guint8   *rgb,
            PngWriteContext *ctx)
{
  png_structp png;
  png_infop info = NULL;

  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, ctx, png_write_error_cb, png_warning_cb);
  if (png == NULL || (info = png_create_info_struct (png)) == NULL)
    {
      g_snprintf (ctx->message, sizeof ctx->message, "cannot start the PNG encoder");
      png_destroy_write_struct (png != NULL ? &png : NULL, NULL);
      return FALSE;
    }
  if (setjmp (png_jmpbuf (png)))
    {
      png_destroy_write_struct (&png, &info);
      return FALSE;
    }
  png_init_io (png, file);
  png_set_compression_level (png, 6);
  png_set_IHDR (png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  for (int y = 0; y < height; y++)
    png_write_row (png, rgb + (gsize) y * width * 3);
  png_write_end (png, info);
  png_destroy_write_struct (&png, &info);
  return TRUE;
}

gboolean
hepa_png_write_rgb (const char    *path,
                    int            width,
                    int            height,
                    const guint8  *rgb,
                    GError       **error)
{
  g_autofree char *tmp = NULL;
  g_autofree PngWriteContext *ctx = g_new0 (PngWriteContext, 1);
  FILE *file = NULL;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (width > 0 && height > 0 && rgb != NULL, FALSE);

  /* A temporary file next to the target, renamed over it once complete and synced. */
  tmp = g_strdup_printf ("%s.XXXXXX", path);
  fd = g_mkstemp (tmp);
  if (fd < 0 || (file = fdopen (fd, "wb")) == NULL)
    {
      int errsv = errno;

      if (fd >= 0)
        {
          close (fd);
          g_unlink (tmp);
        }
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", path,
                   g_strerror (errsv));
      return FALSE;
    }
  if (!png_encode (file, width, height, rgb, ctx))
    {
      fclose (file);
      g_unlink (tmp);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("%s: could not write the PNG (%s)"), path,
                   ctx->message);
      return FALSE;
    }
  {
    gboolean synced = fflush (file) == 0 && fsync (fileno (file)) == 0;
    int errsv = errno;

    if (fclose (file) != 0 && synced)
      {
        synced = FALSE;
        errsv = errno;
      }
    if (!synced)
      {
        g_unlink (tmp);
        g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", path,
                     g_strerror (errsv));
        return FALSE;
      }
  }
  if (g_chmod (tmp, 0644) != 0 || g_rename (tmp, path) != 0)
    {
      int errsv = errno;

      g_unlink (tmp);
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", path,
                   g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* ---- JPEG -------------------------------------------------------------------------------- */

typedef struct
{
  struct jpeg_error_mgr  pub;
  jmp_buf                jump;
  char                   message[JMSG_LENGTH_MAX];
} JpegError;

static void
jpeg_error_exit_cb (j_common_ptr cinfo)
{
  JpegError *err = (JpegError *) cinfo->err;

  err->pub.format_message (cinfo, err->message);
  longjmp (err->jump, 1);
}

static void
jpeg_output_message_cb (j_common_ptr cinfo)
{
  /* Warnings (corrupt data that the decoder recovers from) are not printed. */
}

typedef struct
{
  struct jpeg_decompress_struct cinfo;
  JpegError                     err;
  HepaFrame                    *frame;
  guint8                       *row;
} JpegContext;

static HepaImage *
open_jpeg (const char  *path,
           FILE        *file,
           GError     **error)
{
  JpegContext *ctx = g_new0 (JpegContext, 1);
  HepaImage *self = NULL;

  ctx->cinfo.err = jpeg_std_error (&ctx->err.pub);
  ctx->err.pub.error_exit = jpeg_error_exit_cb;
  ctx->err.pub.output_message = jpeg_output_message_cb;
  if (setjmp (ctx->err.jump))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("%s: damaged JPEG file (%s)"), path,
                   ctx->err.message);
      goto out;
    }
  jpeg_create_decompress (&ctx->cinfo);
  jpeg_stdio_src (&ctx->cinfo, file);
  jpeg_read_header (&ctx->cinfo, TRUE);
  {
    gboolean gray = ctx->cinfo.jpeg_color_space == JCS_GRAYSCALE;
    guint8 *out;

    if (ctx->cinfo.jpeg_color_space == JCS_CMYK || ctx->cinfo.jpeg_color_space == JCS_YCCK)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                     _("%s: CMYK JPEG files are not supported"), path);
        goto out;
      }
    if (!check_frame_size (path, ctx->cinfo.image_width, ctx->cinfo.image_height,
                           gray ? 2 : 3, error))
      goto out;
    ctx->cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress (&ctx->cinfo);
    ctx->frame = frame_alloc ((int) ctx->cinfo.output_width, (int) ctx->cinfo.output_height,
                              gray ? HEPA_PIXEL_GRAY16 : HEPA_PIXEL_RGB8, &out);
    ctx->row = g_try_malloc ((gsize) ctx->cinfo.output_width * 3);
    if (ctx->frame == NULL || ctx->row == NULL)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("%s: out of memory"), path);
        goto out;
      }
    while (ctx->cinfo.output_scanline < ctx->cinfo.output_height)
      {
        JDIMENSION y = ctx->cinfo.output_scanline;
        guint8 *dst = out + (gsize) y * ctx->frame->stride;
        JSAMPROW rows[1] = { gray ? ctx->row : dst };

        jpeg_read_scanlines (&ctx->cinfo, rows, 1);
        if (gray)
          {
            guint16 *dst16 = (guint16 *) dst;

            for (JDIMENSION x = 0; x < ctx->cinfo.output_width; x++)
              dst16[x] = ctx->row[x];
          }
      }
    jpeg_finish_decompress (&ctx->cinfo);

    self = image_new (path, "JPEG");
    self->info.photometric = g_strdup (gray ? "MONOCHROME2" : "RGB");
    info_fill_empty (&self->info);
    image_set_single_frame (self, g_steal_pointer (&ctx->frame));
  }

out:
  jpeg_destroy_decompress (&ctx->cinfo);
  g_free (ctx->frame);
  g_free (ctx->row);
  g_free (ctx);
  return self;
}

/* ---- DICOM: header --------------------------------------------------------------------- */

static Photometric
photometric_from_string (const char *s)
{
  static const struct { const char *name; Photometric value; } names[] = {
    { "MONOCHROME1", PHOTO_MONOCHROME1 },
    { "MONOCHROME2", PHOTO_MONOCHROME2 },
    { "RGB", PHOTO_RGB },
    { "PALETTE COLOR", PHOTO_PALETTE },
    { "YBR_FULL", PHOTO_YBR_FULL },
    { "YBR_FULL_422", PHOTO_YBR_FULL_422 },
    { "YBR_PARTIAL_422", PHOTO_YBR_PARTIAL_422 },
    { "YBR_PARTIAL_420", PHOTO_YBR_PARTIAL_420 },
    { "YBR_ICT", PHOTO_YBR_ICT },
    { "YBR_RCT", PHOTO_YBR_RCT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (s, names[i].name) == 0)
      return names[i].value;
  return PHOTO_UNKNOWN;
}

static gboolean
format_error (GError    **error,
              HepaImage  *self,
              const char *format,
              ...) G_GNUC_PRINTF (3, 4);

static gboolean
format_error (GError    **error,
              HepaImage  *self,
              const char *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, "%s: %s", self->info.path, message);
  return FALSE;
}

static long
dicom_int (HepaImage *self,
           guint16    group,
           guint16    element,
           long       fallback)
{
  long v;

  if (!hepa_dicom_file_get_int (self->dicom, group, element, 0, &v))
    return fallback;
  return v;
}

/* Expands a segmented palette (PS3.3 C.7.9.2) into @n entries; FALSE when malformed. */
static gboolean
expand_segmented (const guint16 *seg,
                  gsize          n_seg,
                  guint16       *out,
                  gsize          n,
                  int            depth)
{
  gsize pos = 0, i = 0;

  while (i < n_seg)
    {
      guint16 op, len;

      if (i + 2 > n_seg)
        return FALSE;
      op = seg[i];
      len = seg[i + 1];
      if (op == 0)         /* discrete */
        {
          if (i + 2 + len > n_seg || pos + len > n)
            return FALSE;
          memcpy (out + pos, seg + i + 2, len * sizeof (guint16));
          pos += len;
          i += 2 + len;
        }
      else if (op == 1)    /* linear from the last value to y1 over len entries */
        {
          double y0, y1;

          if (i + 3 > n_seg || pos == 0 || pos + len > n)
            return FALSE;
          y0 = out[pos - 1];
          y1 = seg[i + 2];
          for (guint j = 1; j <= len; j++)
            out[pos++] = (guint16) lround (y0 + (y1 - y0) * j / len);
          i += 3;
        }
      else if (op == 2 && depth == 0) /* indirect: replays @len segments at a word offset */
        {
          guint32 offset;
          gsize start, end, count = 0;

          if (i + 4 > n_seg)
            return FALSE;
          offset = seg[i + 2] | ((guint32) seg[i + 3] << 16);
          if (offset >= i)
            return FALSE;
          start = offset;
          end = start;
          while (count < len && end < i)
            {
              if (end + 2 > i)
                return FALSE;
              if (seg[end] == 0)
                end += 2 + seg[end + 1];
              else if (seg[end] == 1)
                end += 3;
              else
                return FALSE;
              count++;
            }
          if (count != len || end > i)
            return FALSE;
          {
            /* The replayed linear segment needs the last value already written. */
            gsize before = pos;
            guint16 *tmp = g_new (guint16, n);
            gsize tmp_pos = 0;

            if (pos > 0)
              tmp[tmp_pos++] = out[pos - 1];
            for (gsize k = start; k < end;)
              {
                if (seg[k] == 0)
                  {
                    guint16 l = seg[k + 1];

                    if (tmp_pos + l > n)
                      {
                        g_free (tmp);
                        return FALSE;
                      }
                    memcpy (tmp + tmp_pos, seg + k + 2, l * sizeof (guint16));
                    tmp_pos += l;
                    k += 2 + l;
                  }
                else
                  {
                    guint16 l = seg[k + 1];
                    double a, b = seg[k + 2];

                    if (tmp_pos == 0 || tmp_pos + l > n)
                      {
                        g_free (tmp);
                        return FALSE;
                      }
                    a = tmp[tmp_pos - 1];
                    for (guint j = 1; j <= l; j++)
                      tmp[tmp_pos++] = (guint16) lround (a + (b - a) * j / l);
                    k += 3;
                  }
              }
            {
              gsize skip = before > 0 ? 1 : 0;
              gsize add = tmp_pos - skip;

              if (pos + add > n)
                {
                  g_free (tmp);
                  return FALSE;
                }
              memcpy (out + pos, tmp + skip, add * sizeof (guint16));
              pos += add;
            }
            g_free (tmp);
          }
          i += 4;
        }
      else
        return FALSE;
    }
  return pos == n;
}

static gboolean
load_palette (HepaImage  *self,
              GError    **error)
{
  static const char *names[3] = { "red", "green", "blue" };
  guint n_entries = 0;
  long first = 0;
  int bits = 0;

  for (int c = 0; c < 3; c++)
    {
      long d0, d1, d2;
      gsize n_words = 0;
      g_autofree guint16 *words = NULL;
      g_autofree guint16 *expanded = NULL;
      const guint16 *entries;
      guint16 max = 0;
      guint n;
      int shift;

      if (!hepa_dicom_file_get_int (self->dicom, 0x0028, 0x1101 + c, 0, &d0)
          || !hepa_dicom_file_get_int (self->dicom, 0x0028, 0x1101 + c, 1, &d1)
          || !hepa_dicom_file_get_int (self->dicom, 0x0028, 0x1101 + c, 2, &d2))
        return format_error (error, self, _("broken palette: the %s lookup table descriptor "
                                            "is missing or incomplete"), names[c]);
      n = d0 == 0 ? 65536 : (guint) (d0 & 0xffff);
      /* The first mapped value may be written as SS or US. */
      if (self->is_signed && d1 > 32767)
        d1 -= 65536;
      if (d2 != 8 && d2 != 16)
        return format_error (error, self, _("broken palette: %s entries have %ld bits "
                                            "(8 or 16 expected)"), names[c], d2);
      if (c > 0 && (n != n_entries || d1 != first))
        return format_error (error, self, _("broken palette: the red, green and blue tables "
                                            "differ in size"));
      n_entries = n;
      first = d1;
      bits = (int) d2;

      words = hepa_dicom_file_dup_words (self->dicom, 0x0028, 0x1201 + c, &n_words);
      if (words == NULL)
        {
          g_autofree guint16 *seg = NULL;
          gsize n_seg = 0;

          seg = hepa_dicom_file_dup_words (self->dicom, 0x0028, 0x1221 + c, &n_seg);
          if (seg == NULL)
            return format_error (error, self, _("broken palette: no %s lookup table data"),
                                 names[c]);
          expanded = g_new0 (guint16, n);
          if (!expand_segmented (seg, n_seg, expanded, n, 0))
            return format_error (error, self, _("broken palette: the segmented %s table does "
                                                "not expand to %u entries"), names[c], n);
          entries = expanded;
        }
      else if (n_words >= n)
        entries = words;
      else if (bits == 8 && n_words >= (n + 1) / 2)
        {
          /* 8-bit entries packed two per word, low byte first. */
          expanded = g_new0 (guint16, n);
          for (guint i = 0; i < n; i++)
            expanded[i] = (words[i / 2] >> ((i % 2) * 8)) & 0xff;
          entries = expanded;
        }
      else
        return format_error (error, self, _("broken palette: the %s table holds %zu words for "
                                            "%u entries"), names[c], (size_t) n_words, n);

      for (guint i = 0; i < n; i++)
        max = MAX (max, entries[i]);
      /* Files disagree on where 8-bit entries sit; scale what is there to 8 bits. */
      shift = max > 255 ? 8 : 0;
      self->palette.lut[c] = g_new (guint8, n);
      for (guint i = 0; i < n; i++)
        self->palette.lut[c][i] = (guint8) (entries[i] >> shift);
    }
  (void) bits;
  self->palette.n_entries = n_entries;
  self->palette.first = first;
  return TRUE;
}

static void
load_metadata (HepaImage *self)
{
  HepaDicomFile *f = self->dicom;
  HepaImageInfo *info = &self->info;
  double v;
  g_autofree char *burned = NULL;

  info->modality = hepa_dicom_file_dup_string (f, 0x0008, 0x0060, 0);
  info->manufacturer = hepa_dicom_file_dup_string (f, 0x0008, 0x0070, 0);
  info->model_name = hepa_dicom_file_dup_string (f, 0x0008, 0x1090, 0);
  info->sop_class_uid = hepa_dicom_file_dup_string (f, 0x0008, 0x0016, 0);
  info->study_uid = hepa_dicom_file_dup_string (f, 0x0020, 0x000d, 0);
  info->series_uid = hepa_dicom_file_dup_string (f, 0x0020, 0x000e, 0);
  info->sop_uid = hepa_dicom_file_dup_string (f, 0x0008, 0x0018, 0);
  info->series_description = hepa_dicom_file_dup_string (f, 0x0008, 0x103e, 0);
  info->patient_name = hepa_dicom_file_dup_string (f, 0x0010, 0x0010, 0);
  info->patient_id = hepa_dicom_file_dup_string (f, 0x0010, 0x0020, 0);
  info->patient_birth_date = hepa_dicom_file_dup_string (f, 0x0010, 0x0030, 0);
  info->accession_number = hepa_dicom_file_dup_string (f, 0x0008, 0x0050, 0);
  info->institution_name = hepa_dicom_file_dup_string (f, 0x0008, 0x0080, 0);
  info->referring_physician = hepa_dicom_file_dup_string (f, 0x0008, 0x0090, 0);
  info->study_date = hepa_dicom_file_dup_string (f, 0x0008, 0x0020, 0);
  info->study_time = hepa_dicom_file_dup_string (f, 0x0008, 0x0030, 0);
  info->study_description = hepa_dicom_file_dup_string (f, 0x0008, 0x1030, 0);
  info->image_comments = hepa_dicom_file_dup_string (f, 0x0020, 0x4000, 0);

  burned = hepa_dicom_file_dup_string (f, 0x0028, 0x0301, 0);
  if (g_ascii_strcasecmp (burned, "YES") == 0)
    info->burned_in_annotation = 1;
  else if (g_ascii_strcasecmp (burned, "NO") == 0)
    info->burned_in_annotation = 0;

  if (hepa_dicom_file_get_double (f, 0x0018, 0x1063, 0, &v) && v > 0 && v < 1e7)
    info->frame_time_ms = v;
  if (hepa_dicom_file_get_double (f, 0x0018, 0x0040, 0, &v) && v > 0 && v < 1e6)
    info->cine_rate = v;
  else if (hepa_dicom_file_get_double (f, 0x0008, 0x2144, 0, &v) && v > 0 && v < 1e6)
    info->cine_rate = v;
  if (info->frame_time_ms == 0 && info->cine_rate > 0)
    info->frame_time_ms = 1000.0 / info->cine_rate;
  if (info->cine_rate == 0 && info->frame_time_ms > 0)
    info->cine_rate = 1000.0 / info->frame_time_ms;

  info->regions = hepa_dicom_file_dup_regions (f, &info->n_regions);

  /* Pixel Spacing is row spacing \ column spacing, i.e. y then x. */
  {
    double sy, sx;

    if (hepa_dicom_file_get_double (f, 0x0028, 0x0030, 0, &sy)
        && hepa_dicom_file_get_double (f, 0x0028, 0x0030, 1, &sx)
        && sx > 0 && sy > 0 && sx < 1e4 && sy < 1e4)
      {
        info->pixel_spacing_mm[0] = sx;
        info->pixel_spacing_mm[1] = sy;
        self->spacing_from_tag = TRUE;
      }
  }
  if (!self->spacing_from_tag)
    for (guint i = 0; i < info->n_regions; i++)
      {
        const HepaUsRegion *r = &info->regions[i];

        if (r->spatial_format == 1 && r->units_x == 3 && r->units_y == 3
            && r->delta_x > 0 && r->delta_y > 0 && r->delta_x < 1e3 && r->delta_y < 1e3)
          {
            info->pixel_spacing_mm[0] = r->delta_x * 10.0;
            info->pixel_spacing_mm[1] = r->delta_y * 10.0;
            break;
          }
      }
}

/* The Modality LUT Sequence, when there is one, replaces Rescale Slope/Intercept. */
static gboolean
load_modality_lut (HepaImage  *self,
                   GError    **error)
{
  long desc[3] = { 0, 0, 0 };
  gsize n_words = 0;
  gboolean broken = FALSE;
  g_autofree guint16 *lut = hepa_dicom_file_dup_modality_lut (self->dicom, desc, &n_words,
                                                               &broken);
  guint n;
  long first;
  guint16 mask;

  if (broken)
    return format_error (error, self, _("broken modality LUT: descriptor or data missing"));
  if (lut == NULL)
    return TRUE;
  n = desc[0] == 0 ? 65536 : (guint) (desc[0] & 0xffff);
  first = desc[1];
  if (self->is_signed && first > 32767)
    first -= 65536;
  if (desc[2] < 8 || desc[2] > 16 || n_words < n)
    return format_error (error, self, _("broken modality LUT: %u entries of %ld bits in %zu "
                                        "words"), n, desc[2], (size_t) n_words);
  mask = (guint16) ((1u << desc[2]) - 1);
  for (guint i = 0; i < n; i++)
    lut[i] &= mask;
  self->modality_lut = g_steal_pointer (&lut);
  self->modality_lut_n = n;
  self->modality_lut_first = first;
  return TRUE;
}

/* Checks the image pixel module and derives how stored values become GRAY16 or RGB8. */
static gboolean
load_pixel_description (HepaImage         *self,
                        HepaDcmPixelInfo  *px,
                        GError           **error)
{
  long rows, cols, frames = 1;
  g_autofree char *photometric = NULL;
  g_autofree char *frames_str = NULL;
  gboolean color;
  guint64 raw_bytes;

  if (!px->has_pixel_data)
    return format_error (error, self, _("no pixel data"));
  if (!px->can_decode)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_DICOM_UNSUPPORTED,
                   _("%s: unsupported transfer syntax %s (%s)"), self->info.path, px->name,
                   px->uid);
      return FALSE;
    }

  rows = dicom_int (self, 0x0028, 0x0010, -1);
  cols = dicom_int (self, 0x0028, 0x0011, -1);
  if (rows < 0 || cols < 0)
    return format_error (error, self, _("rows or columns missing"));
  if (rows == 0 || cols == 0)
    return format_error (error, self, _("image has %ld rows and %ld columns"), rows, cols);

  frames_str = hepa_dicom_file_dup_string (self->dicom, 0x0028, 0x0008, 0);
  if (*frames_str != '\0')
    {
      char *end = NULL;
      gint64 n = g_ascii_strtoll (frames_str, &end, 10);

      if (end == frames_str || *end != '\0' || n < 0 || n > MAX_FRAMES)
        return format_error (error, self, _("number of frames “%s” is out of range"),
                             frames_str);
      /* Zero frames is read as one, as DCMTK does. */
      frames = n == 0 ? 1 : n;
    }

  self->samples = (int) dicom_int (self, 0x0028, 0x0002, 1);
  self->bits_allocated = (int) dicom_int (self, 0x0028, 0x0100, -1);
  self->bits_stored = (int) dicom_int (self, 0x0028, 0x0101, self->bits_allocated);
  self->high_bit = (int) dicom_int (self, 0x0028, 0x0102, self->bits_stored - 1);
  self->is_signed = dicom_int (self, 0x0028, 0x0103, 0) == 1;
  self->planar = (int) dicom_int (self, 0x0028, 0x0006, 0);

  photometric = hepa_dicom_file_dup_string (self->dicom, 0x0028, 0x0004, 0);
  g_free (self->info.photometric);
  self->info.photometric = g_strdup (photometric);
  self->photometric = photometric_from_string (photometric);

  if (self->bits_allocated != 8 && self->bits_allocated != 16)
    {
      if (self->bits_allocated <= 0)
        return format_error (error, self, _("bits allocated missing"));
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                   _("%s: %d bits allocated per sample are not supported (8 or 16)"),
                   self->info.path, self->bits_allocated);
      return FALSE;
    }
  if (self->bits_stored < 1 || self->bits_stored > self->bits_allocated
      || self->high_bit < self->bits_stored - 1 || self->high_bit >= self->bits_allocated)
    return format_error (error, self, _("bits stored %d and high bit %d do not fit %d bits "
                                        "allocated"),
                         self->bits_stored, self->high_bit, self->bits_allocated);

  switch (self->photometric)
    {
    case PHOTO_MONOCHROME1:
    case PHOTO_MONOCHROME2:
    case PHOTO_PALETTE:
      if (self->samples != 1)
        return format_error (error, self, _("%s with %d samples per pixel"), photometric,
                             self->samples);
      break;
    case PHOTO_RGB:
    case PHOTO_YBR_FULL:
    case PHOTO_YBR_FULL_422:
    case PHOTO_YBR_PARTIAL_422:
    case PHOTO_YBR_PARTIAL_420:
    case PHOTO_YBR_ICT:
    case PHOTO_YBR_RCT:
      if (self->samples != 3)
        return format_error (error, self, _("%s with %d samples per pixel"), photometric,
                             self->samples);
      if (self->planar != 0 && self->planar != 1)
        return format_error (error, self, _("planar configuration %d"), self->planar);
      break;
    case PHOTO_UNKNOWN:
    default:
      if (*photometric == '\0')
        return format_error (error, self, _("photometric interpretation missing"));
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                   _("%s: photometric interpretation “%s” is not supported"),
                   self->info.path, photometric);
      return FALSE;
    }
  if (self->photometric == PHOTO_PALETTE && self->bits_stored > 16)
    return format_error (error, self, _("palette image with %d bits stored"),
                         self->bits_stored);
  if ((self->photometric == PHOTO_YBR_FULL_422 || self->photometric == PHOTO_YBR_PARTIAL_422
       || self->photometric == PHOTO_YBR_PARTIAL_420) && !px->encapsulated)
    {
      if (self->bits_allocated != 8)
        return format_error (error, self, _("%s with %d bits allocated"), photometric,
                             self->bits_allocated);
      if (cols % 2 != 0)
        return format_error (error, self, _("%s with an odd number of columns"), photometric);
      if (self->photometric == PHOTO_YBR_PARTIAL_420)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                       _("%s: uncompressed YBR_PARTIAL_420 is not supported"), self->info.path);
          return FALSE;
        }
    }

  color = self->photometric != PHOTO_MONOCHROME1 && self->photometric != PHOTO_MONOCHROME2;
  /* What the decoder hands back: full samples, even for 4:2:2 (upsampled by the codecs). The
   * raw buffer counts against the ceiling with the frame and its rendering. */
  raw_bytes = (guint64) rows * cols * self->samples * (self->bits_allocated / 8);
  if (!check_frame_size_full (self->info.path, (guint64) cols, (guint64) rows, color ? 3 : 2,
                              raw_bytes + 2, error))
    return FALSE;

  if (!px->encapsulated)
    {
      guint64 stored = raw_bytes;

      if ((self->photometric == PHOTO_YBR_FULL_422 || self->photometric == PHOTO_YBR_PARTIAL_422))
        stored = (guint64) rows * cols * 2;
      if (px->pixel_length < stored * frames)
        return format_error (error, self,
                             _("pixel data holds %llu bytes; %ld x %ld x %ld frames at %d bits "
                               "x %d samples need %llu"),
                             (unsigned long long) px->pixel_length, cols, rows, frames,
                             self->bits_allocated, self->samples,
                             (unsigned long long) (stored * frames));
    }
  else
    {
      if (px->n_fragments == 0)
        return format_error (error, self, _("compressed pixel data has no fragments"));
      if ((guint64) px->n_fragments < (guint64) frames)
        return format_error (error, self, _("%ld frames but only %u compressed fragments"),
                             frames, px->n_fragments);
      /* Writers split a frame into a few fragments at most; a hundred thousand empty ones
       * only make every frame lookup slow. */
      if ((guint64) px->n_fragments > (guint64) frames * HEPA_MAX_FRAGMENTS_PER_FRAME)
        return format_error (error, self,
                             _("%u compressed fragments for %ld frames (at most %d a frame)"),
                             px->n_fragments, frames, HEPA_MAX_FRAGMENTS_PER_FRAME);
    }

  self->width = (int) cols;
  self->height = (int) rows;
  self->n_frames = (guint) frames;
  self->format = color ? HEPA_PIXEL_RGB8 : HEPA_PIXEL_GRAY16;
  self->encapsulated = px->encapsulated;
  /* One extra word: DCMTK rounds odd frame sizes up to even. */
  self->raw_frame_bytes = (gsize) raw_bytes + 2;

  /* 8-bit JPEG baseline/extended frames go to libjpeg-turbo (SIMD), 3-4x faster than DCMTK's
   * IJG 6b copy; anything unusual (planar 1, palette, 12 bits) stays with DCMTK.
   * HEPASCOPE_DICOM_JPEG=dcmtk turns this off (for comparisons). */
  self->jpeg_family = px->encapsulated
                      && (g_str_has_prefix (px->uid, "1.2.840.10008.1.2.4.5")
                          || g_str_has_prefix (px->uid, "1.2.840.10008.1.2.4.7")
                          || g_str_has_prefix (px->uid, "1.2.840.10008.1.2.4.8"));
  self->use_turbo = px->encapsulated && self->bits_allocated == 8 && self->bits_stored == 8
                    && (g_strcmp0 (px->uid, "1.2.840.10008.1.2.4.50") == 0
                        || g_strcmp0 (px->uid, "1.2.840.10008.1.2.4.51") == 0)
                    && g_strcmp0 (g_getenv ("HEPASCOPE_DICOM_JPEG"), "dcmtk") != 0
                    && ((self->samples == 1 && !color)
                        || (self->samples == 3 && self->planar == 0
                            && (self->photometric == PHOTO_RGB
                                || self->photometric == PHOTO_YBR_FULL
                                || self->photometric == PHOTO_YBR_FULL_422)));

  if (self->photometric == PHOTO_PALETTE && !load_palette (self, error))
    return FALSE;

  if (!color)
    {
      double smin, smax, m0, m1;
      double c, w;

      if (!hepa_dicom_file_get_double (self->dicom, 0x0028, 0x1053, 0, &self->slope)
          || !isfinite (self->slope) || self->slope == 0 || fabs (self->slope) > 1e6)
        self->slope = 1.0;
      if (!hepa_dicom_file_get_double (self->dicom, 0x0028, 0x1052, 0, &self->intercept)
          || !isfinite (self->intercept) || fabs (self->intercept) > 1e9)
        self->intercept = 0.0;
      if (!load_modality_lut (self, error))
        return FALSE;
      smin = self->is_signed ? -(double) (1 << (self->bits_stored - 1)) : 0;
      smax = self->is_signed ? (double) ((1 << (self->bits_stored - 1)) - 1)
                             : (double) ((1u << self->bits_stored) - 1);
      m0 = smin * self->slope + self->intercept;
      m1 = smax * self->slope + self->intercept;
      if (m0 > m1)
        {
          double t = m0;
          m0 = m1;
          m1 = t;
        }
      /* GRAY16 holds unsigned values: shift negative modality values up. */
      self->gray_offset = m0 < 0 ? floor (m0) : 0;
      self->gray_max = MIN (round (m1 - self->gray_offset), 65535.0);
      if (self->modality_lut != NULL)
        {
          self->gray_offset = 0;
          self->gray_max = 0;
          for (guint i = 0; i < self->modality_lut_n; i++)
            self->gray_max = MAX (self->gray_max, self->modality_lut[i]);
        }
      self->gray_bits = 8;
      while (self->gray_bits < 16 && self->gray_max >= (double) (1 << self->gray_bits))
        self->gray_bits++;

      if (hepa_dicom_file_get_double (self->dicom, 0x0028, 0x1050, 0, &c)
          && hepa_dicom_file_get_double (self->dicom, 0x0028, 0x1051, 0, &w)
          && isfinite (c) && isfinite (w) && w >= 1 && w < 1e7 && fabs (c) < 1e9)
        {
          self->has_window = TRUE;
          c -= self->gray_offset;
          if (self->photometric == PHOTO_MONOCHROME1)
            c = self->gray_max - c;
          self->window_center = c;
          self->window_width = w;
        }
    }
  return TRUE;
}

/* Takes @dicom. */
static HepaImage *
open_dicom_file (const char     *path,
                 HepaDicomFile  *dicom,
                 GError        **error)
{
  g_autoptr(HepaImage) self = image_new (path, "DICOM");
  HepaDcmPixelInfo px;

  self->dicom = dicom;
  if (self->dicom == NULL)
    return NULL;
  if (!hepa_dicom_file_get_pixel_info (self->dicom, &px, error))
    return NULL;
  self->info.transfer_syntax_uid = g_strdup (px.uid);
  self->info.transfer_syntax_name = g_strdup (px.name);
  load_metadata (self);
  if (!load_pixel_description (self, &px, error))
    return NULL;
  self->frames = g_new0 (HepaFrame *, self->n_frames);
  info_fill_empty (&self->info);
  return g_steal_pointer (&self);
}

static HepaImage *
open_dicom (const char  *path,
            GError     **error)
{
  return open_dicom_file (path, hepa_dicom_file_open (path, error), error);
}

/* ---- DICOM: pixels ----------------------------------------------------------------------- */

static inline guint8
clamp_u8 (int v)
{
  return (guint8) CLAMP (v, 0, 255);
}

/* Sample @i of a native buffer as an unsigned or sign-extended integer of bits_stored bits. */
static inline int
raw_sample (const HepaImage *self,
            const guint8    *raw,
            gsize            i)
{
  guint32 v = self->bits_allocated == 8 ? raw[i] : ((const guint16 *) raw)[i];
  int shift = self->high_bit - self->bits_stored + 1;
  guint32 mask = self->bits_stored >= 32 ? 0xffffffffu : ((1u << self->bits_stored) - 1);

  v = (v >> shift) & mask;
  if (self->is_signed && (v & (1u << (self->bits_stored - 1))))
    return (int) v - (int) (1u << self->bits_stored);
  return (int) v;
}

/* 8-bit value of a colour sample, scaling down deeper samples. */
static inline guint8
color_sample (const HepaImage *self,
              const guint8    *raw,
              gsize            i)
{
  int v = raw_sample (self, raw, i);

  if (self->is_signed)
    v += 1 << (self->bits_stored - 1);
  if (self->bits_stored > 8)
    v >>= self->bits_stored - 8;
  else if (self->bits_stored < 8)
    v <<= 8 - self->bits_stored;
  return clamp_u8 (v);
}

static void
ycbcr_to_rgb (guint8   *px,
              gboolean  partial)
{
  double y = px[0], cb = px[1] - 128.0, cr = px[2] - 128.0, r, g, b;

  if (partial)
    {
      y = 1.164383 * (y - 16.0);
      r = y + 1.596027 * cr;
      g = y - 0.391762 * cb - 0.812968 * cr;
      b = y + 2.017232 * cb;
    }
  else
    {
      r = y + 1.402 * cr;
      g = y - 0.344136 * cb - 0.714136 * cr;
      b = y + 1.772 * cb;
    }
  px[0] = clamp_u8 ((int) lround (r));
  px[1] = clamp_u8 ((int) lround (g));
  px[2] = clamp_u8 ((int) lround (b));
}

static gboolean
convert_color (HepaImage    *self,
               const guint8 *raw,
               Photometric   model,
               HepaFrame    *frame,
               guint8       *out)
{
  gsize n = (gsize) self->width * self->height;

  if (model == PHOTO_PALETTE)
    {
      const Palette *p = &self->palette;

      for (gsize i = 0; i < n; i++)
        {
          long v = raw_sample (self, raw, i) - p->first;
          gsize k = v < 0 ? 0 : (gsize) v >= p->n_entries ? p->n_entries - 1 : (gsize) v;

          out[3 * i] = p->lut[0][k];
          out[3 * i + 1] = p->lut[1][k];
          out[3 * i + 2] = p->lut[2][k];
        }
      return TRUE;
    }

  if ((model == PHOTO_YBR_FULL_422 || model == PHOTO_YBR_PARTIAL_422) && !self->encapsulated)
    {
      /* Y1 Y2 Cb Cr for each pair of pixels on a row. */
      gboolean partial = model == PHOTO_YBR_PARTIAL_422;

      for (int y = 0; y < self->height; y++)
        for (int x = 0; x < self->width; x += 2)
          {
            const guint8 *s = raw + ((gsize) y * self->width + x) * 2;
            guint8 *d = out + ((gsize) y * self->width + x) * 3;

            d[0] = s[0], d[1] = s[2], d[2] = s[3];
            d[3] = s[1], d[4] = s[2], d[5] = s[3];
            ycbcr_to_rgb (d, partial);
            ycbcr_to_rgb (d + 3, partial);
          }
      return TRUE;
    }

  /* Full samples, interleaved or by plane. */
  if (self->bits_allocated == 8 && self->bits_stored == 8 && self->high_bit == 7
      && !self->is_signed && self->planar == 0)
    memcpy (out, raw, n * 3);
  else
    for (gsize i = 0; i < n; i++)
      for (int c = 0; c < 3; c++)
        out[3 * i + c] = color_sample (self, raw, self->planar == 0 ? 3 * i + c : c * n + i);

  if (model == PHOTO_YBR_FULL || model == PHOTO_YBR_FULL_422)
    for (gsize i = 0; i < n; i++)
      ycbcr_to_rgb (out + 3 * i, FALSE);
  else if (model == PHOTO_YBR_PARTIAL_422 || model == PHOTO_YBR_PARTIAL_420)
    for (gsize i = 0; i < n; i++)
      ycbcr_to_rgb (out + 3 * i, TRUE);
  else if (model != PHOTO_RGB)
    return FALSE;
  return TRUE;
}

static void
convert_gray (HepaImage    *self,
              const guint8 *raw,
              Photometric   model,
              HepaFrame    *frame,
              guint16      *out)
{
  gsize n = (gsize) self->width * self->height;
  guint16 lo = G_MAXUINT16, hi = 0;
  gsize n_lut = (gsize) 1 << self->bits_stored;
  g_autofree guint16 *lut = g_new (guint16, n_lut);
  int base = self->is_signed ? -(1 << (self->bits_stored - 1)) : 0;

  /* Stored value -> GRAY16 for every possible stored value. */
  for (gsize k = 0; k < n_lut; k++)
    {
      double m = (double) (base + (long) k) * self->slope + self->intercept - self->gray_offset;
      double g;

      if (self->modality_lut != NULL)
        {
          long e = base + (long) k - self->modality_lut_first;

          m = self->modality_lut[CLAMP (e, 0, (long) self->modality_lut_n - 1)];
        }
      g = CLAMP (round (m), 0.0, self->gray_max);

      if (model == PHOTO_MONOCHROME1)
        g = self->gray_max - g;
      lut[k] = (guint16) g;
    }
  for (gsize i = 0; i < n; i++)
    {
      guint16 g = lut[raw_sample (self, raw, i) - base];

      out[i] = g;
      lo = MIN (lo, g);
      hi = MAX (hi, g);
    }

  frame->bits_stored = self->gray_bits;
  if (self->has_window)
    {
      frame->window_center = self->window_center;
      frame->window_width = self->window_width;
    }
  else if (self->gray_bits <= 8 && self->gray_offset == 0)
    {
      /* 8-bit ultrasound shows as the scanner wrote it. */
      frame->window_center = 128;
      frame->window_width = 256;
    }
  else
    {
      frame->window_width = (double) hi - lo + 1;
      frame->window_center = lo + frame->window_width / 2;
    }
}

typedef struct
{
  struct jpeg_decompress_struct cinfo;
  JpegError                     err;
} JpegFrameContext;

/* Decodes one JPEG frame of a DICOM file into @out: (height, width, 3) RGB or (height, width)
 * gray. FALSE on any problem; DCMTK then gets the frame and reports the error. */
static gboolean
turbo_decode_frame (const guint8 *data,
                    gsize         size,
                    int           width,
                    int           height,
                    int           components,
                    gboolean      ycbcr,
                    guint8       *out)
{
  JpegFrameContext *ctx = g_new0 (JpegFrameContext, 1);
  gboolean ok = FALSE;

  ctx->cinfo.err = jpeg_std_error (&ctx->err.pub);
  ctx->err.pub.error_exit = jpeg_error_exit_cb;
  ctx->err.pub.output_message = jpeg_output_message_cb;
  if (setjmp (ctx->err.jump))
    goto out;
  jpeg_create_decompress (&ctx->cinfo);
  jpeg_mem_src (&ctx->cinfo, data, (unsigned long) size);
  jpeg_read_header (&ctx->cinfo, TRUE);
  if ((int) ctx->cinfo.image_width != width || (int) ctx->cinfo.image_height != height
      || ctx->cinfo.num_components != components || ctx->cinfo.data_precision != 8)
    goto out;
  if (components == 3)
    {
      ctx->cinfo.jpeg_color_space = ycbcr ? JCS_YCbCr : JCS_RGB;
      ctx->cinfo.out_color_space = JCS_RGB;
    }
  else
    ctx->cinfo.out_color_space = JCS_GRAYSCALE;
  jpeg_start_decompress (&ctx->cinfo);
  while (ctx->cinfo.output_scanline < ctx->cinfo.output_height)
    {
      JSAMPROW row = out + (gsize) ctx->cinfo.output_scanline * width * components;

      jpeg_read_scanlines (&ctx->cinfo, &row, 1);
    }
  /* A stream cut short leaves gray rows behind a warning: not good enough here. */
  ok = ctx->err.pub.num_warnings == 0;
  jpeg_finish_decompress (&ctx->cinfo);

out:
  jpeg_destroy_decompress (&ctx->cinfo);
  g_free (ctx);
  return ok;
}

/* The size a JPEG or JPEG-LS stream says it holds, from its first start-of-frame marker. */
static gboolean
jpeg_stream_size (const guint8 *data,
                  gsize         size,
                  guint        *width,
                  guint        *height)
{
  gsize i = 2;

  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
    return FALSE;
  while (i + 4 <= size)
    {
      guint8 marker;
      gsize length;

      if (data[i] != 0xFF)
        return FALSE;
      marker = data[i + 1];
      if (marker == 0xFF)
        {
          i++;
          continue;
        }
      if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8))
        {
          i += 2;
          continue;
        }
      length = (gsize) data[i + 2] << 8 | data[i + 3];
      /* SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC); SOF55 is JPEG-LS's. */
      if ((marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8
           && marker != 0xCC) || marker == 0xF7)
        {
          if (length < 7 || i + 9 > size)
            return FALSE;
          *height = (guint) data[i + 5] << 8 | data[i + 6];
          *width = (guint) data[i + 7] << 8 | data[i + 8];
          return TRUE;
        }
      if (marker == 0xDA || length < 2)
        return FALSE;
      i += 2 + length;
    }
  return FALSE;
}

static HepaFrame *
decode_dicom_frame (HepaImage  *self,
                    guint       index,
                    GError    **error)
{
  g_autoptr(GBytes) bitstream = NULL;
  g_autofree guint8 *raw = g_try_malloc (self->raw_frame_bytes);
  g_autofree char *model_name = NULL;
  HepaFrame *frame;
  guint8 *out;
  Photometric model;

  if (raw == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("%s: out of memory for frame %u"),
                   self->info.path, index + 1);
      return NULL;
    }
  if (self->jpeg_family)
    {
      g_autoptr(GError) local_error = NULL;
      guint w = 0, h = 0;

      bitstream = hepa_dicom_file_dup_frame_bitstream (self->dicom, index, self->n_frames,
                                                       &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      /* The compressed frame is held while it decodes: it counts against the ceiling too. */
      if (bitstream != NULL
          && !check_frame_size_full (self->info.path, (guint64) self->width,
                                     (guint64) self->height,
                                     self->format == HEPA_PIXEL_RGB8 ? 3 : 2,
                                     self->raw_frame_bytes + g_bytes_get_size (bitstream),
                                     error))
        return NULL;
      /* A decoder fills the buffer the header asked for with whatever size the stream holds:
       * a 320 x 240 stream in a 13000 x 13000 header would show as a sheared picture. */
      if (bitstream != NULL
          && jpeg_stream_size (g_bytes_get_data (bitstream, NULL), g_bytes_get_size (bitstream),
                               &w, &h)
          && w > 0 && h > 0 && (w != (guint) self->width || h != (guint) self->height))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("%s: frame %u is %u x %u pixels, but the header says %d x %d"),
                       self->info.path, index + 1, w, h, self->width, self->height);
          return NULL;
        }
    }
  if (self->use_turbo)
    {
      if (bitstream != NULL
          && turbo_decode_frame (g_bytes_get_data (bitstream, NULL),
                                 g_bytes_get_size (bitstream), self->width, self->height,
                                 self->samples, self->photometric != PHOTO_RGB, raw))
        model_name = g_strdup (self->samples == 3 ? "RGB" : self->info.photometric);
    }
  if (model_name == NULL
      && !hepa_dicom_file_read_frame (self->dicom, index, raw, self->raw_frame_bytes,
                                      &model_name, error))
    return NULL;

  model = photometric_from_string (model_name);
  /* A decoder may only change YCbCr into RGB; anything else is the file's own model. */
  if (model == PHOTO_UNKNOWN
      || (self->photometric == PHOTO_PALETTE && model != PHOTO_PALETTE)
      || ((self->photometric == PHOTO_MONOCHROME1 || self->photometric == PHOTO_MONOCHROME2)
          && model != PHOTO_MONOCHROME1 && model != PHOTO_MONOCHROME2))
    model = self->photometric;

  frame = frame_alloc (self->width, self->height, self->format, &out);
  if (frame == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("%s: out of memory for frame %u"),
                   self->info.path, index + 1);
      return NULL;
    }
  if (self->format == HEPA_PIXEL_GRAY16)
    convert_gray (self, raw, model, frame, (guint16 *) out);
  else if (!convert_color (self, raw, model, frame, out))
    {
      g_free (frame);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                   _("%s: decoded colour model “%s” is not supported"), self->info.path,
                   model_name);
      return NULL;
    }
  return frame;
}

/* ---- Public API -------------------------------------------------------------------------- */

HepaImage *
hepa_image_open (const char  *path,
                 GError     **error)
{
  guint8 magic[8] = { 0 };
  FILE *file;
  size_t n;
  HepaImage *self = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("%s: is a folder, not an image file"),
                   path);
      return NULL;
    }
  /* Only regular files, opened without blocking: a FIFO or a device named as an image is
   * refused at once instead of waiting for a writer or reading without end. */
  {
    g_autoptr(GError) local_error = NULL;
    int fd = hepa_open_regular_file (path, &local_error);

    if (fd < 0)
      {
        g_set_error (error, HEPA_ERROR, local_error->code, "%s: %s", path,
                     local_error->message);
        return NULL;
      }
    file = fdopen (fd, "rb");
    if (file == NULL)
      {
        int errsv = errno;

        close (fd);
        g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", path,
                     g_strerror (errsv));
        return NULL;
      }
  }
  n = fread (magic, 1, sizeof magic, file);
  if (n == 8 && png_sig_cmp (magic, 0, 8) == 0)
    {
      rewind (file);
      self = open_png (path, file, error);
      fclose (file);
      return self;
    }
  if (n >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff)
    {
      rewind (file);
      self = open_jpeg (path, file, error);
      fclose (file);
      return self;
    }
  fclose (file);
  if (n == 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("%s: empty file"), path);
      return NULL;
    }
  return open_dicom (path, error);
}

const HepaImageInfo *
hepa_image_get_info (HepaImage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return &self->info;
}

int
hepa_image_get_width (HepaImage *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->width;
}

int
hepa_image_get_height (HepaImage *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->height;
}

guint
hepa_image_get_n_frames (HepaImage *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_frames;
}

HepaPixelFormat
hepa_image_get_format (HepaImage *self)
{
  g_return_val_if_fail (self != NULL, HEPA_PIXEL_RGB8);
  return self->format;
}

const HepaFrame *
hepa_image_get_frame (HepaImage  *self,
                      guint       index,
                      GError    **error)
{
  HepaFrame *frame;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (index >= self->n_frames)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("%s: frame %u does not exist (the image has %u)"), self->info.path,
                   index + 1, self->n_frames);
      return NULL;
    }
  g_mutex_lock (&self->lock);
  frame = self->frames[index];
  if (frame == NULL && self->dicom != NULL)
    {
      frame = decode_dicom_frame (self, index, error);
      if (frame != NULL)
        {
          self->frames[index] = frame;
          self->cached_bytes += frame_bytes (frame);
        }
    }
  g_mutex_unlock (&self->lock);
  return frame;
}

gboolean
hepa_image_is_frame_cached (HepaImage *self,
                            guint      index)
{
  gboolean cached;

  g_return_val_if_fail (self != NULL, FALSE);
  if (index >= self->n_frames)
    return FALSE;
  g_mutex_lock (&self->lock);
  cached = self->frames[index] != NULL;
  g_mutex_unlock (&self->lock);
  return cached;
}

gsize
hepa_image_get_cached_bytes (HepaImage *self)
{
  gsize bytes;

  g_return_val_if_fail (self != NULL, 0);
  g_mutex_lock (&self->lock);
  bytes = self->cached_bytes;
  g_mutex_unlock (&self->lock);
  return bytes;
}

gboolean
hepa_image_get_spacing_at (HepaImage *self,
                           int        x,
                           int        y,
                           double    *mm_x,
                           double    *mm_y)
{
  const HepaImageInfo *info;
  const HepaUsRegion *best = NULL;
  gboolean in_region = FALSE;

  g_return_val_if_fail (self != NULL, FALSE);

  info = &self->info;
  for (guint i = 0; i < info->n_regions; i++)
    {
      const HepaUsRegion *r = &info->regions[i];

      if (x < r->x0 || x > r->x1 || y < r->y0 || y > r->y1)
        continue;
      in_region = TRUE;
      if (r->units_x == 3 && r->units_y == 3 && r->delta_x > 0 && r->delta_y > 0
          && (best == NULL || (best->spatial_format != 1 && r->spatial_format == 1)))
        best = r;
    }
  if (best != NULL)
    {
      if (mm_x != NULL)
        *mm_x = best->delta_x * 10.0;
      if (mm_y != NULL)
        *mm_y = best->delta_y * 10.0;
      return TRUE;
    }
  /* A pixel inside a region without a length scale (Doppler, M-mode time axis) has none;
   * outside every region only an explicit Pixel Spacing applies. */
  if (in_region || (info->n_regions > 0 && !self->spacing_from_tag)
      || info->pixel_spacing_mm[0] <= 0 || info->pixel_spacing_mm[1] <= 0)
    return FALSE;
  if (mm_x != NULL)
    *mm_x = info->pixel_spacing_mm[0];
  if (mm_y != NULL)
    *mm_y = info->pixel_spacing_mm[1];
  return TRUE;
}

void
hepa_frame_render_rgb (const HepaFrame *frame,
                       double           window_center,
                       double           window_width,
                       guint8          *rgb_out)
{
  g_return_if_fail (frame != NULL);
  g_return_if_fail (rgb_out != NULL);

  if (frame->format == HEPA_PIXEL_RGB8)
    {
      for (int y = 0; y < frame->height; y++)
        memcpy (rgb_out + (gsize) y * frame->width * 3, frame->data + y * frame->stride,
                (gsize) frame->width * 3);
      return;
    }

  {
    int bits = CLAMP (frame->bits_stored, 1, 16);
    gsize n_lut = (gsize) 1 << bits;
    g_autofree guint8 *lut = g_malloc (n_lut);
    double c, w, lo, hi;

    if (window_width <= 0)
      {
        window_center = frame->window_center;
        window_width = frame->window_width;
      }
    c = window_center;
    w = MAX (window_width, 1.0);
    /* PS3.3 C.11.2.1.2.1, the linear VOI function. */
    lo = c - 0.5 - (w - 1) / 2;
    hi = c - 0.5 + (w - 1) / 2;
    for (gsize k = 0; k < n_lut; k++)
      {
        double v = (double) k;

        if (v <= lo)
          lut[k] = 0;
        else if (v > hi)
          lut[k] = 255;
        else if (w <= 1)
          lut[k] = 255;
        else
          lut[k] = clamp_u8 ((int) lround (((v - (c - 0.5)) / (w - 1) + 0.5) * 255.0));
      }
    for (int y = 0; y < frame->height; y++)
      {
        const guint16 *src = (const guint16 *) (frame->data + y * frame->stride);
        guint8 *dst = rgb_out + (gsize) y * frame->width * 3;

        for (int x = 0; x < frame->width; x++)
          {
            guint8 g = lut[MIN ((gsize) src[x], n_lut - 1)];

            dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = g;
          }
      }
  }
}
