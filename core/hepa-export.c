/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export of labeled crops. Images are processed in a thread pool, one job per image; the
 * results are merged in input order so that the manifest does not depend on timing. */
/* syncfs () */
#define _GNU_SOURCE

#include "config.h"

#include "hepa-export.h"
#include "hepa-applicability.h"
#include "hepa-annotations-private.h"
#include "hepa-engine.h"
#include "dicom/hepa-dicom.h"
#include "hepa-error.h"
#include "hepa-json.h"
#include "hepa-burnin.h"
#include "hepa-image.h"
#include "hepa-manifest.h"
#include "hepa-pseudonym.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>

#ifdef HEPA_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

#define SIDECAR_SUFFIX ".hepascope.json"
#define ID_LENGTH 20
/* Identifying values shorter than this are not searched for in free text (too many false
 * matches, and too short to identify anyone). */
#define MIN_IDENTIFYING_LENGTH 4

static const char *const default_classes[] = {
  "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL,
};

/* ---- Options, cards, summaries ---------------------------------------------------------- */

void
hepa_export_options_init (HepaExportOptions   *options,
                          const char          *out_dir,
                          const HepaModelCard *card)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->out_dir = out_dir;
  options->card = card;
  options->frames = TRUE;
}

HepaModelCard *
hepa_export_card_new_default (const char *const *classes)
{
  HepaModelCard *card = g_new0 (HepaModelCard, 1);
  const float mean[3] = { 0.485f, 0.456f, 0.406f };
  const float std[3] = { 0.229f, 0.224f, 0.225f };

  card->id = g_strdup ("none");
  card->arch = g_strdup ("resnet50");
  card->classes = g_strdupv ((char **) (classes != NULL ? classes : default_classes));
  card->n_classes = g_strv_length (card->classes);
  card->input_size = 224;
  card->grayscale = TRUE;
  card->resize = HEPA_RESIZE_STRETCH;
  memcpy (card->mean, mean, sizeof mean);
  memcpy (card->std, std, sizeof std);
  card->has_card = FALSE;
  card->json = g_strdup ("{}");
  card->sha256 = g_strdup ("");
  return card;
}

HepaModelCard *
hepa_export_card_new_like (const HepaModelCard *base,
                           const char *const   *classes)
{
  HepaModelCard *card;

  if (classes == NULL && base != NULL)
    classes = (const char *const *) base->classes;
  card = hepa_export_card_new_default (classes);
  if (base != NULL)
    {
      g_free (card->id);
      card->id = g_strdup (base->id);
      card->input_size = base->input_size;
      card->grayscale = base->grayscale;
      card->resize = base->resize;
      memcpy (card->mean, base->mean, sizeof card->mean);
      memcpy (card->std, base->std, sizeof card->std);
      card->has_card = base->has_card;
      /* Issue 18: the manifest carries the model's intended use and the ROI checks use the
       * training ROI sizes. */
      card->intended_use = g_strdup (base->intended_use);
      card->has_roi_px = base->has_roi_px;
      card->has_roi_mm = base->has_roi_mm;
      memcpy (card->roi_px, base->roi_px, sizeof card->roi_px);
      memcpy (card->roi_mm, base->roi_mm, sizeof card->roi_mm);
    }
  return card;
}

void
hepa_export_card_free (HepaModelCard *card)
{
  if (card == NULL)
    return;
  g_free (card->id);
  g_free (card->arch);
  g_strfreev (card->classes);
  g_free (card->json);
  g_free (card->sha256);
  g_free (card->intended_use);
  g_free (card);
}

static void
problem_free (HepaExportProblem *problem)
{
  g_free (problem->path);
  g_free (problem->message);
  g_free (problem);
}

void
hepa_export_summary_free (HepaExportSummary *summary)
{
  if (summary == NULL)
    return;
  g_ptr_array_unref (summary->problems);
  g_free (summary);
}

const char *
hepa_export_skip_describe (HepaExportSkip reason)
{
  switch (reason)
    {
    case HEPA_EXPORT_SKIP_UNREADABLE:
      return _("unreadable image");
    case HEPA_EXPORT_SKIP_NO_SIDECAR:
      return _("no annotations");
    case HEPA_EXPORT_SKIP_DAMAGED_SIDECAR:
      return _("damaged annotations");
    case HEPA_EXPORT_SKIP_NEWER_SIDECAR:
      return _("annotations from a newer version");
    case HEPA_EXPORT_SKIP_WRONG_IMAGE:
      return _("annotations of another image");
    case HEPA_EXPORT_SKIP_OUTSIDE:
      return _("ROI outside the image");
    case HEPA_EXPORT_SKIP_UNKNOWN_LABEL:
      return _("label not in the class list");
    case HEPA_EXPORT_SKIP_EXISTS:
      return _("a different file is in the way");
    case HEPA_EXPORT_SKIP_NO_SPACE:
      return _("disk full");
    case HEPA_EXPORT_SKIP_PERMISSION:
      return _("no permission");
    case HEPA_EXPORT_SKIP_IO:
      return _("write error");
    case HEPA_EXPORT_SKIP_DUPLICATE:
      return _("image given twice");
    case HEPA_EXPORT_SKIP_BURNED_IN:
      return _("frame with burned-in text not exported");
    case HEPA_EXPORT_N_SKIPS:
    default:
      break;
    }
  return _("skipped");
}

static void
add_problem (GPtrArray      *problems,
             HepaExportSkip  reason,
             const char     *path,
             const char     *format,
             ...) G_GNUC_PRINTF (4, 5);

static void
add_problem (GPtrArray      *problems,
             HepaExportSkip  reason,
             const char     *path,
             const char     *format,
             ...)
{
  HepaExportProblem *problem = g_new0 (HepaExportProblem, 1);
  va_list args;

  va_start (args, format);
  problem->message = g_strdup_vprintf (format, args);
  va_end (args);
  problem->reason = reason;
  problem->path = g_strdup (path);
  g_ptr_array_add (problems, problem);
}

static HepaExportSkip
skip_from_error (const GError *error)
{
  if (error->domain == HEPA_ERROR)
    switch (error->code)
      {
      case HEPA_ERROR_NO_SPACE:
        return HEPA_EXPORT_SKIP_NO_SPACE;
      case HEPA_ERROR_PERMISSION:
        return HEPA_EXPORT_SKIP_PERMISSION;
      default:
        break;
      }
  return HEPA_EXPORT_SKIP_IO;
}

/* ---- PNG ------------------------------------------------------------------------------------ */

typedef struct
{
  GByteArray *out;
  char        message[200];
  jmp_buf     jmp;
} PngSink;

static void
png_sink_write_cb (png_structp  png,
                   png_bytep    data,
                   png_size_t   length)
{
  PngSink *sink = png_get_io_ptr (png);

  g_byte_array_append (sink->out, data, (guint) length);
}

static void
png_sink_flush_cb (png_structp png)
{
}

static void
png_sink_error_cb (png_structp     png,
                   png_const_charp message)
{
  PngSink *sink = png_get_error_ptr (png);

  g_strlcpy (sink->message, message, sizeof sink->message);
  longjmp (sink->jmp, 1);
}

static void
png_sink_warning_cb (png_structp     png,
                     png_const_charp message)
{
}

GBytes *
hepa_export_encode_png (const guint8 *pixels,
                        int           width,
                        int           height,
                        gsize         stride,
                        int           channels,
                        int           depth,
                        GError      **error)
{
  PngSink sink = { 0 };
  png_structp png;
  png_infop info;
  int color_type;

  g_return_val_if_fail (pixels != NULL && width > 0 && height > 0, NULL);
  g_return_val_if_fail ((channels == 3 && depth == 8) || (channels == 1 && (depth == 8
                                                                            || depth == 16)),
                        NULL);

  color_type = channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
  sink.out = g_byte_array_sized_new ((guint) MIN ((gsize) width * height * channels / 2 + 1024,
                                                  (gsize) G_MAXUINT / 2));
  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, &sink, png_sink_error_cb,
                                 png_sink_warning_cb);
  if (png == NULL)
    {
      g_byte_array_unref (sink.out);
      g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_FAILED, _("Out of memory for PNG"));
      return NULL;
    }
  info = png_create_info_struct (png);
  if (info == NULL || setjmp (sink.jmp) != 0)
    {
      png_destroy_write_struct (&png, &info);
      g_byte_array_unref (sink.out);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FAILED, _("Could not encode a PNG: %s"),
                   sink.message);
      return NULL;
    }
  png_set_write_fn (png, &sink, png_sink_write_cb, png_sink_flush_cb);
  /* Fast settings: crops are small and frames compress well at level 1 already. */
  png_set_compression_level (png, 1);
  png_set_filter (png, 0, PNG_FILTER_SUB);
  png_set_IHDR (png, info, (png_uint_32) width, (png_uint_32) height, depth, color_type,
                PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  if (depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    png_set_swap (png);
  for (int y = 0; y < height; y++)
    png_write_row (png, (png_const_bytep) (pixels + (gsize) y * stride));
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  return g_byte_array_free_to_bytes (sink.out);
}

/* ---- Shared state ------------------------------------------------------------------------- */

typedef struct
{
  char *image_path;
  char *sidecar_path;  /* NULL: none found */
} Input;

static void
input_free (Input *input)
{
  g_free (input->image_path);
  g_free (input->sidecar_path);
  g_free (input);
}

typedef struct
{
  const HepaExportOptions *options;
  const HepaModelCard     *card;
  HepaPseudonymizer       *pseudonymizer;
  char                    *out_dir;
  GCancellable            *cancellable;

  GMutex                   lock;
  GCond                    cond;
  guint                    n_done;
} Context;

/* A box on a whole frame, for coco.json. */
typedef struct
{
  char     *crop_id;
  guint     category;   /* 1-based, card order */
  HepaRect  rect;
} Box;

typedef struct
{
  guint    frame;
  char    *frame_id;
  char    *file;        /* NULL when the frame itself was not written */
  char    *sha256;
  int      width;
  int      height;
  GArray  *boxes;       /* (element-type Box) */
} CocoFrame;

static void
box_clear (Box *box)
{
  g_free (box->crop_id);
}

static void
coco_frame_free (CocoFrame *frame)
{
  g_free (frame->frame_id);
  g_free (frame->file);
  g_free (frame->sha256);
  g_array_unref (frame->boxes);
  g_free (frame);
}

typedef struct
{
  Context    *ctx;
  Input      *input;
  GPtrArray  *rows;       /* (element-type HepaManifestRow) */
  GPtrArray  *frames;     /* (element-type CocoFrame) */
  GPtrArray  *problems;   /* (element-type HepaExportProblem) */
  GPtrArray  *attempted;  /* relative paths this job tried to write */
  char       *patient;
  char       *study;
  char       *sop;
  gboolean    read;
  guint       n_labeled;
  guint       n_unlabeled;
  guint       n_written;
  guint       n_unchanged;
  GHashTable *masked;     /* frame index -> MaskedFrame: burned-in text blanked */
} Job;

static void
job_free (Job *job)
{
  g_ptr_array_unref (job->rows);
  g_ptr_array_unref (job->frames);
  g_ptr_array_unref (job->problems);
  g_ptr_array_unref (job->attempted);
  g_free (job->patient);
  g_free (job->study);
  g_free (job->sop);
  g_clear_pointer (&job->masked, g_hash_table_unref);
  g_free (job);
}

/* ---- Output files ------------------------------------------------------------------------- */

typedef enum
{
  WRITE_FAILED,
  WRITE_WRITTEN,
  WRITE_UNCHANGED,
} WriteResult;

/* Compares the file at @path with @bytes. Returns TRUE when it holds exactly them. */
static gboolean
file_has_bytes (const char *path,
                GBytes     *bytes,
                gboolean   *exists)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  GStatBuf st;

  *exists = g_lstat (path, &st) == 0;
  if (!*exists)
    return FALSE;
  if (!S_ISREG (st.st_mode) || (gsize) st.st_size != g_bytes_get_size (bytes))
    return FALSE;
  if (!hepa_file_get_contents (path, g_bytes_get_size (bytes), &contents, &length, NULL))
    return FALSE;
  return length == g_bytes_get_size (bytes)
         && memcmp (contents, g_bytes_get_data (bytes, NULL), length) == 0;
}

/* Writes @bytes to @relative under the output folder unless it already holds them; a file with
 * other bytes is replaced only with force. Failures become problems about @image_path. */
static WriteResult
write_output (Context    *ctx,
              Job        *job,
              const char *relative,
              GBytes     *bytes)
{
  g_autofree char *path = g_build_filename (ctx->out_dir, relative, NULL);
  g_autoptr(GError) error = NULL;
  gboolean exists = FALSE;

  g_ptr_array_add (job->attempted, g_strdup (relative));
  if (file_has_bytes (path, bytes, &exists))
    {
      job->n_unchanged++;
      return WRITE_UNCHANGED;
    }
  if (exists && !ctx->options->force)
    {
      add_problem (job->problems, HEPA_EXPORT_SKIP_EXISTS, job->input->image_path,
                   _("%s already exists with other content; not replaced (use --force)"), path);
      return WRITE_FAILED;
    }
  /* Class folders appear with their first crop: trainers refuse an empty class folder. */
  if (!exists)
    {
      g_autofree char *dir = g_path_get_dirname (path);

      if (g_mkdir_with_parents (dir, 0777) != 0)
        {
          int errsv = errno;

          add_problem (job->problems,
                       hepa_error_from_errno (errsv) == HEPA_ERROR_NO_SPACE
                       ? HEPA_EXPORT_SKIP_NO_SPACE
                       : hepa_error_from_errno (errsv) == HEPA_ERROR_PERMISSION
                       ? HEPA_EXPORT_SKIP_PERMISSION : HEPA_EXPORT_SKIP_IO,
                       job->input->image_path, _("Could not create the folder %s: %s"), dir,
                       g_strerror (errsv));
          return WRITE_FAILED;
        }
    }
  /* Durable later, all at once, before the manifest names it. */
  if (!hepa_write_file_atomic_full (path, g_bytes_get_data (bytes, NULL),
                                    g_bytes_get_size (bytes), 0666, FALSE, _("a crop"), &error))
    {
      add_problem (job->problems, skip_from_error (error), job->input->image_path, "%s",
                   error->message);
      return WRITE_FAILED;
    }
  job->n_written++;
  return WRITE_WRITTEN;
}

/* Lowercase hex SHA-256; OpenSSL's when the build has it (several times GLib's speed). */
static char *
sha256_hex (const guint8 *data,
            gsize         length)
{
#ifdef HEPA_HAVE_LIBCRYPTO
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;

  if (EVP_Digest (data, length, md, &md_len, EVP_sha256 (), NULL) == 1 && md_len == 32)
    {
      char *hex = g_malloc (65);

      for (unsigned int i = 0; i < md_len; i++)
        g_snprintf (hex + 2 * i, 3, "%02x", md[i]);
      return hex;
    }
#endif
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, length);
}

static char *
sha256_of_bytes (GBytes *bytes)
{
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (bytes, &length);

  return sha256_hex (data, length);
}

static char *
short_hash (const char *kind,
            const char *a,
            guint       b,
            const char *c)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *number = g_strdup_printf ("%u", b);
  char *hex;

  g_checksum_update (checksum, (const guchar *) kind, strlen (kind) + 1);
  g_checksum_update (checksum, (const guchar *) a, strlen (a) + 1);
  g_checksum_update (checksum, (const guchar *) number, strlen (number) + 1);
  if (c != NULL)
    g_checksum_update (checksum, (const guchar *) c, strlen (c));
  hex = g_strdup (g_checksum_get_string (checksum));
  hex[ID_LENGTH] = '\0';
  return hex;
}

/* ---- De-identification ------------------------------------------------------------------ */

/* The text attributes of the DICOM PS3.15 Annex E basic profile that are removed or replaced
 * (names, ids, dates and times, addresses, institution, physicians, operators, devices, free
 * text, UIDs). Their values are what free text from a sidecar must not repeat. */
static const guint16 annex_e_tags[][2] = {
  { 0x0008, 0x0014 }, { 0x0008, 0x0018 }, { 0x0008, 0x0020 }, { 0x0008, 0x0021 },
  { 0x0008, 0x0022 }, { 0x0008, 0x0023 }, { 0x0008, 0x0024 }, { 0x0008, 0x0025 },
  { 0x0008, 0x002A }, { 0x0008, 0x0030 }, { 0x0008, 0x0031 }, { 0x0008, 0x0032 },
  { 0x0008, 0x0033 }, { 0x0008, 0x0050 }, { 0x0008, 0x0080 }, { 0x0008, 0x0081 },
  { 0x0008, 0x0090 }, { 0x0008, 0x0092 }, { 0x0008, 0x0094 }, { 0x0008, 0x1010 },
  { 0x0008, 0x1030 }, { 0x0008, 0x103E }, { 0x0008, 0x1040 }, { 0x0008, 0x1048 },
  { 0x0008, 0x1050 }, { 0x0008, 0x1060 }, { 0x0008, 0x1070 }, { 0x0008, 0x1080 },
  { 0x0008, 0x2111 }, { 0x0010, 0x0010 }, { 0x0010, 0x0020 }, { 0x0010, 0x0021 },
  { 0x0010, 0x0030 }, { 0x0010, 0x0032 }, { 0x0010, 0x1000 }, { 0x0010, 0x1001 },
  { 0x0010, 0x1005 }, { 0x0010, 0x1010 }, { 0x0010, 0x1040 }, { 0x0010, 0x1060 },
  { 0x0010, 0x1090 }, { 0x0010, 0x2150 }, { 0x0010, 0x2152 }, { 0x0010, 0x2154 },
  { 0x0010, 0x2180 }, { 0x0010, 0x21B0 }, { 0x0010, 0x4000 }, { 0x0018, 0x1000 },
  { 0x0018, 0x1030 }, { 0x0020, 0x000D }, { 0x0020, 0x000E }, { 0x0020, 0x0010 },
  { 0x0020, 0x0052 }, { 0x0020, 0x0200 }, { 0x0020, 0x4000 }, { 0x0032, 0x1032 },
  { 0x0032, 0x1060 }, { 0x0032, 0x4000 }, { 0x0038, 0x0010 }, { 0x0038, 0x0300 },
  { 0x0038, 0x0400 }, { 0x0040, 0x0006 }, { 0x0040, 0x0244 }, { 0x0040, 0x0253 },
  { 0x0040, 0x0254 }, { 0x0040, 0x1001 }, { 0x0040, 0xA124 }, { 0x0088, 0x0140 },
  { 0x0400, 0x0100 },
};

/* A DICOM date (YYYYMMDD) as people write it: 1931-04-17, 17.04.1931, 17/04/1931, 04/17/1931,
 * 1931/04/17, 17-04-1931, 17.4.1931, 4/17/1931, 19310417's digits with other separators. */
static void
add_date_forms (GPtrArray  *values,
                const char *value)
{
  int y, m, d;
  char tail;

  if (strlen (value) != 8 || sscanf (value, "%4d%2d%2d%c", &y, &m, &d, &tail) != 3
      || m < 1 || m > 12 || d < 1 || d > 31)
    return;
  g_ptr_array_add (values, g_strdup_printf ("%04d-%02d-%02d", y, m, d));
  g_ptr_array_add (values, g_strdup_printf ("%04d/%02d/%02d", y, m, d));
  g_ptr_array_add (values, g_strdup_printf ("%04d.%02d.%02d", y, m, d));
  g_ptr_array_add (values, g_strdup_printf ("%02d.%02d.%04d", d, m, y));
  g_ptr_array_add (values, g_strdup_printf ("%02d/%02d/%04d", d, m, y));
  g_ptr_array_add (values, g_strdup_printf ("%02d-%02d-%04d", d, m, y));
  g_ptr_array_add (values, g_strdup_printf ("%02d/%02d/%04d", m, d, y));
  g_ptr_array_add (values, g_strdup_printf ("%d.%d.%04d", d, m, y));
  g_ptr_array_add (values, g_strdup_printf ("%d/%d/%04d", d, m, y));
  g_ptr_array_add (values, g_strdup_printf ("%d/%d/%04d", m, d, y));
  g_ptr_array_add (values, g_strdup_printf ("%d-%d-%04d", d, m, y));
}

static void
add_identifying (GPtrArray  *values,
                 const char *value)
{
  g_auto(GStrv) parts = NULL;

  if (value == NULL || strlen (value) < MIN_IDENTIFYING_LENGTH)
    return;
  g_ptr_array_add (values, g_utf8_casefold (value, -1));
  add_date_forms (values, value);
  /* Multiple values of one attribute. */
  if (strchr (value, '\\') != NULL)
    {
      g_auto(GStrv) values_of = g_strsplit (value, "\\", -1);

      for (guint k = 0; values_of[k] != NULL; k++)
        {
          g_strstrip (values_of[k]);
          if (strlen (values_of[k]) >= MIN_IDENTIFYING_LENGTH)
            {
              g_ptr_array_add (values, g_utf8_casefold (values_of[k], -1));
              add_date_forms (values, values_of[k]);
            }
        }
    }
  /* Person names: family^given^middle, and alphabetic=ideographic=phonetic groups. */
  parts = g_strsplit_set (value, "^=", -1);
  if (g_strv_length (parts) < 2)
    return;
  for (guint k = 0; parts[k] != NULL; k++)
    {
      g_strstrip (parts[k]);
      if (strlen (parts[k]) >= MIN_IDENTIFYING_LENGTH)
        g_ptr_array_add (values, g_utf8_casefold (parts[k], -1));
    }
}

/* Attributes that describe the device or the encoding, not a person or a visit: their values
 * (a manufacturer's name, a SOP class) may appear in free text without identifying anyone. */
static gboolean
descriptive_attribute (guint16     group,
                       guint16     element,
                       const char *vr,
                       const char *value)
{
  static const guint16 descriptive[][2] = {
    { 0x0008, 0x0070 }, { 0x0008, 0x1090 }, { 0x0018, 0x1020 }, { 0x0008, 0x0016 },
    { 0x0008, 0x0005 }, { 0x0008, 0x0060 },
  };

  if (group == 0x0002 || group == 0x0028)
    return TRUE;
  /* Codes and numbers: "MONOCHROME2", "0.2". Identifying codes (sex, ethnic group as CS in
   * old files) are short or covered by the person's other values. */
  if (strcmp (vr, "CS") == 0 || strcmp (vr, "DS") == 0 || strcmp (vr, "IS") == 0)
    return TRUE;
  if (strcmp (vr, "UI") == 0 && g_str_has_prefix (value, "1.2.840.10008."))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (descriptive); i++)
    if (group == descriptive[i][0] && element == descriptive[i][1])
      return TRUE;
  return FALSE;
}

static void
add_dataset_string (guint16     group,
                    guint16     element,
                    const char *vr,
                    const char *value,
                    gpointer    user_data)
{
  if (!descriptive_attribute (group, element, vr, value))
    add_identifying (user_data, value);
}

/* Every identifying value of the image that text from a sidecar could repeat: the fields
 * HepaImageInfo carries, the file's name and, for DICOM files, every text value of the data
 * set (nested sequences and private attributes included) but the descriptive ones above. */
static GPtrArray *
identifying_values (const HepaImageInfo *info,
                    const char          *path)
{
  GPtrArray *values = g_ptr_array_new_with_free_func (g_free);
  const char *fields[] = {
    info->patient_name, info->patient_id, info->patient_birth_date, info->accession_number,
    info->institution_name, info->referring_physician, info->study_date, info->study_time,
    info->study_description, info->image_comments, info->study_uid, info->series_uid,
    info->sop_uid, info->series_description,
  };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    add_identifying (values, fields[i]);
  /* File names often carry a name or a record number. */
  {
    g_autofree char *base = g_path_get_basename (path);
    char *dot = strrchr (base, '.');

    add_identifying (values, base);
    if (dot != NULL && dot != base)
      {
        *dot = '\0';
        add_identifying (values, base);
      }
  }

  if (g_strcmp0 (info->format, "DICOM") == 0)
    {
      g_autoptr(HepaDicomFile) file = hepa_dicom_file_open (path, NULL);

      if (file != NULL)
        hepa_dicom_file_foreach_string (file, add_dataset_string, values);

      for (guint i = 0; file != NULL && i < G_N_ELEMENTS (annex_e_tags); i++)
        for (long k = 0; k < 16; k++)
          {
            g_autofree char *value = hepa_dicom_file_dup_string (file, annex_e_tags[i][0],
                                                                 annex_e_tags[i][1], k);

            if (value == NULL || *value == '\0')
              break;
            add_identifying (values, value);
          }
    }
  return values;
}

/* @name is on the options' allow list (or, for a model id, the card's own id). */
static gboolean
name_allowed (Context    *ctx,
              const char *name,
              gboolean    model_id)
{
  if (model_id && ctx->options->card != NULL && ctx->options->card->id != NULL
      && strcmp (name, ctx->options->card->id) == 0)
    return TRUE;
  return ctx->options->allowed_names != NULL
         && g_strv_contains ((const char *const *) ctx->options->allowed_names, name);
}

static gboolean
mentions_identifying (const char *text,
                      GPtrArray  *values)
{
  g_autofree char *folded = NULL;

  if (text == NULL || *text == '\0')
    return FALSE;
  folded = g_utf8_casefold (text, -1);
  for (guint i = 0; i < values->len; i++)
    if (strstr (folded, g_ptr_array_index (values, i)) != NULL)
      return TRUE;
  return FALSE;
}

/* (transfer full): @text for a log line: one line, or a placeholder when it repeats an
 * identifying value of the image. */
static char *
loggable (const char *text,
          GPtrArray  *identifying)
{
  if (mentions_identifying (text, identifying))
    return g_strdup (_("(withheld: it repeats an identifying value of the image)"));
  return hepa_one_line (g_strdup (text != NULL ? text : ""));
}

/* ---- One image ---------------------------------------------------------------------------- */

static gboolean
label_known (const HepaModelCard *card,
             const char          *label,
             guint               *category)
{
  for (guint i = 0; card->classes[i] != NULL; i++)
    if (strcmp (card->classes[i], label) == 0)
      {
        *category = i + 1;
        return TRUE;
      }
  return FALSE;
}

static HepaAnnotations *
read_sidecar (Job *job)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  HepaAnnotations *set;
  GStatBuf st;
  const char *path = job->input->sidecar_path;

  /* The export only reads: a damaged sidecar is reported, never moved. */
  if (g_stat (path, &st) != 0)
    {
      int errsv = errno;

      add_problem (job->problems, HEPA_EXPORT_SKIP_UNREADABLE, job->input->image_path,
                   _("Could not read its annotations %s: %s"), path, g_strerror (errsv));
      return NULL;
    }
  if (st.st_size > HEPA_ANNOTATIONS_MAX_BYTES)
    {
      add_problem (job->problems, HEPA_EXPORT_SKIP_DAMAGED_SIDECAR, job->input->image_path,
                   _("Its annotations %s are damaged: larger than any sidecar"), path);
      return NULL;
    }
  /* A FIFO or a link to a device is refused without blocking; bytes read are counted. */
  if (!hepa_file_get_contents (path, HEPA_ANNOTATIONS_MAX_BYTES, &contents, &length, &error))
    {
      if (g_error_matches (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE))
        add_problem (job->problems, HEPA_EXPORT_SKIP_DAMAGED_SIDECAR, job->input->image_path,
                     _("Its annotations %s are damaged: larger than any sidecar"), path);
      else
        add_problem (job->problems, HEPA_EXPORT_SKIP_UNREADABLE, job->input->image_path,
                     _("Could not read its annotations %s: %s"), path, error->message);
      return NULL;
    }
  set = hepa_annotations_parse (contents, length, &error);
  if (set == NULL)
    {
      if (g_error_matches (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED))
        add_problem (job->problems, HEPA_EXPORT_SKIP_NEWER_SIDECAR, job->input->image_path,
                     _("Its annotations %s: %s"), path, error->message);
      else
        add_problem (job->problems, HEPA_EXPORT_SKIP_DAMAGED_SIDECAR, job->input->image_path,
                     _("Its annotations %s are damaged: %s"), path, error->message);
    }
  return set;
}

/* The pseudonyms of the image: SOP from the SOP Instance UID (for files without one, from the
 * file's bytes), study from the Study Instance UID, patient from the Patient ID (else name and
 * birth date; else the study). */
static gboolean
compute_pseudonyms (Context             *ctx,
                    Job                 *job,
                    const HepaImageInfo *info)
{
  HepaPseudonymizer *p = ctx->pseudonymizer;

  if (info->sop_uid[0] != '\0')
    job->sop = hepa_pseudonymizer_hash (p, "sop", info->sop_uid);
  else
    {
      g_autoptr(GMappedFile) file = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *digest = NULL;

      file = hepa_map_file (job->input->image_path, &error);
      if (file == NULL)
        {
          add_problem (job->problems, HEPA_EXPORT_SKIP_UNREADABLE, job->input->image_path,
                       "%s", error->message);
          return FALSE;
        }
      bytes = g_mapped_file_get_bytes (file);
      digest = sha256_of_bytes (bytes);
      job->sop = hepa_pseudonymizer_hash (p, "file", digest);
    }
  if (info->study_uid[0] != '\0')
    job->study = hepa_pseudonymizer_hash (p, "study", info->study_uid);
  else
    job->study = g_strdup (job->sop);
  if (info->patient_id[0] != '\0')
    job->patient = hepa_pseudonymizer_hash (p, "patient", info->patient_id);
  else if (info->patient_name[0] != '\0' || info->patient_birth_date[0] != '\0')
    {
      g_autofree char *key = g_strdup_printf ("%s\x1f%s", info->patient_name,
                                              info->patient_birth_date);

      job->patient = hepa_pseudonymizer_hash (p, "patient-name", key);
    }
  else
    job->patient = g_strdup (job->study);
  return TRUE;
}

/* The model-input crop: the engine's own preprocessing, mapped back to 8-bit RGB. */
static guint8 *
render_input_crop (const HepaModelCard *card,
                   const HepaFrame     *frame,
                   const HepaRect      *rect)
{
  int size = card->input_size;
  gsize plane = (gsize) size * size;
  g_autofree float *chw = g_new (float, 3 * plane);
  guint8 *rgb = g_new (guint8, 3 * plane);

  hepa_preprocess_roi (card, frame, rect, chw);
  for (int c = 0; c < 3; c++)
    {
      const float *src = chw + c * plane;
      float std = card->std[c];
      float mean = card->mean[c];

      for (gsize i = 0; i < plane; i++)
        {
          float v = (src[i] * std + mean) * 255.0f;

          /* Round to nearest; no lrintf () call per sample. */
          v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
          rgb[3 * i + c] = (guint8) (v + 0.5f);
        }
    }
  return rgb;
}

static GBytes *
encode_native_crop (const HepaFrame *frame,
                    const HepaRect  *rect,
                    GError         **error)
{
  int bpp = frame->format == HEPA_PIXEL_GRAY16 ? 2 : 3;
  const guint8 *origin = frame->data + (gsize) rect->y * frame->stride + (gsize) rect->x * bpp;

  if (frame->format == HEPA_PIXEL_GRAY16)
    return hepa_export_encode_png (origin, rect->width, rect->height, frame->stride, 1, 16,
                                   error);
  return hepa_export_encode_png (origin, rect->width, rect->height, frame->stride, 3, 8, error);
}

/* Blanks everything outside the ultrasound regions, where scanners burn in names and dates. */
static void
mask_outside_regions (const HepaImageInfo *info,
                      guint8              *rgb,
                      int                  width,
                      int                  height)
{
  g_autofree guint8 *keep = g_new0 (guint8, (gsize) width * height);

  for (guint i = 0; i < info->n_regions; i++)
    {
      const HepaUsRegion *r = &info->regions[i];
      int x0 = CLAMP (r->x0, 0, width - 1), x1 = CLAMP (r->x1, 0, width - 1);
      int y0 = CLAMP (r->y0, 0, height - 1), y1 = CLAMP (r->y1, 0, height - 1);

      for (int y = y0; y <= y1; y++)
        memset (keep + (gsize) y * width + x0, 1, (gsize) MAX (x1 - x0 + 1, 0));
    }
  for (gsize i = 0; i < (gsize) width * height; i++)
    if (!keep[i])
      memset (rgb + 3 * i, 0, 3);
}

/* ---- Burned-in text ----------------------------------------------------------------------- */

/* The text-and-marker detector (hepa-burnin.c). */
static guint8 *
overlay_mask (const HepaFrame *frame,
              const HepaRect  *rect,
              guint           *n_marked)
{
  return hepa_burnin_mask (frame, rect, n_marked);
}

/* A frame as exported: burned-in text and markers the detector finds are blanked, and with
 * BurnedInAnnotation YES everything outside the ultrasound regions too. */
typedef struct
{
  HepaFrame  frame;      /* data points into pixels */
  guint8    *pixels;
  guint8    *mask;       /* (height, width): 1 where blanked */
} MaskedFrame;

static void
masked_frame_free (MaskedFrame *m)
{
  g_free (m->pixels);
  g_free (m->mask);
  g_free (m);
}

/* Crops where more than this share of the ROI is burned-in graphics are refused: what lies
 * under the text is lost, and a crop that is mostly blanked is no lesion. */
#define MAX_MASKED_PERCENT 20

static const MaskedFrame *
masked_frame (Job             *job,
              const HepaImageInfo *info,
              const HepaFrame *frame,
              guint            index)
{
  MaskedFrame *m;
  HepaRect all = { 0, 0, frame->width, frame->height };
  gsize n = (gsize) frame->width * frame->height;
  int bpp = frame->format == HEPA_PIXEL_GRAY16 ? 2 : 3;
  g_autofree guint8 *found = NULL;

  if (job->masked == NULL)
    job->masked = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) masked_frame_free);
  m = g_hash_table_lookup (job->masked, GUINT_TO_POINTER (index + 1));
  if (m != NULL)
    return m;

  m = g_new0 (MaskedFrame, 1);
  m->frame = *frame;
  m->pixels = g_memdup2 (frame->data, frame->stride * frame->height);
  m->frame.data = m->pixels;
  m->mask = g_new0 (guint8, n);
  found = overlay_mask (frame, &all, NULL);
  if (found != NULL)
    memcpy (m->mask, found, n);
  if (info->burned_in_annotation == 1 && info->n_regions > 0)
    {
      g_autofree guint8 *keep = g_new0 (guint8, n);

      for (guint i = 0; i < info->n_regions; i++)
        {
          const HepaUsRegion *r = &info->regions[i];
          int x0 = CLAMP (r->x0, 0, frame->width - 1), x1 = CLAMP (r->x1, 0, frame->width - 1);
          int y0 = CLAMP (r->y0, 0, frame->height - 1), y1 = CLAMP (r->y1, 0, frame->height - 1);

          for (int y = y0; y <= y1; y++)
            memset (keep + (gsize) y * frame->width + x0, 1, (gsize) MAX (x1 - x0 + 1, 0));
        }
      for (gsize i = 0; i < n; i++)
        if (!keep[i])
          m->mask[i] = 1;
    }
  for (int y = 0; y < frame->height; y++)
    for (int x = 0; x < frame->width; x++)
      if (m->mask[(gsize) y * frame->width + x])
        memset (m->pixels + (gsize) y * frame->stride + (gsize) x * bpp, 0, bpp);
  g_hash_table_insert (job->masked, GUINT_TO_POINTER (index + 1), m);
  return m;
}

/* Percent of @rect blanked in @m. */
static guint
masked_percent (const MaskedFrame *m,
                const HepaRect    *rect)
{
  guint64 count = 0;

  for (int y = rect->y; y < rect->y + rect->height; y++)
    for (int x = rect->x; x < rect->x + rect->width; x++)
      count += m->mask[(gsize) y * m->frame.width + x];
  return (guint) (100 * count / MAX ((guint64) rect->width * rect->height, 1));
}

/* B-mode frames are gray even when stored as RGB: when every pixel of @rgb (n pixels) has
 * R = G = B, packs them to one byte per pixel in place and returns TRUE, so the frame is
 * written as an 8-bit gray PNG, a third of the data to compress. */
static gboolean
pack_gray (guint8 *rgb,
           gsize   n)
{
  for (gsize i = 0; i < n; i++)
    if (rgb[3 * i] != rgb[3 * i + 1] || rgb[3 * i] != rgb[3 * i + 2])
      return FALSE;
  for (gsize i = 0; i < n; i++)
    rgb[i] = rgb[3 * i];
  return TRUE;
}

static CocoFrame *
find_coco_frame (Job   *job,
                 guint  frame)
{
  CocoFrame *entry;

  for (guint i = 0; i < job->frames->len; i++)
    {
      entry = g_ptr_array_index (job->frames, i);
      if (entry->frame == frame)
        return entry;
    }
  entry = g_new0 (CocoFrame, 1);
  entry->frame = frame;
  entry->frame_id = short_hash ("frame", job->sop, frame, NULL);
  entry->boxes = g_array_new (FALSE, TRUE, sizeof (Box));
  g_array_set_clear_func (entry->boxes, (GDestroyNotify) box_clear);
  g_ptr_array_add (job->frames, entry);
  return entry;
}

static void
write_coco_frames (Context   *ctx,
                   Job       *job,
                   HepaImage *image)
{
  const HepaImageInfo *info = hepa_image_get_info (image);

  for (guint i = 0; i < job->frames->len; i++)
    {
      CocoFrame *entry = g_ptr_array_index (job->frames, i);
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *rgb = NULL;
      g_autofree char *relative = NULL;
      g_autoptr(GBytes) png = NULL;
      const HepaFrame *frame;

      if (entry->boxes->len == 0)
        continue;
      if (info->burned_in_annotation == 1 && info->n_regions == 0)
        {
          add_problem (job->problems, HEPA_EXPORT_SKIP_BURNED_IN, job->input->image_path,
                       _("Frame %u not written for coco.json: the file says its pixels hold "
                         "burned-in text and has no ultrasound region to keep"), entry->frame);
          continue;
        }
      frame = hepa_image_get_frame (image, entry->frame, &error);
      if (frame == NULL)
        continue;  /* reported with its crops already */
      /* Text the detector finds is blanked wherever it is, regions or not. */
      frame = &masked_frame (job, info, frame, entry->frame)->frame;
      rgb = g_malloc ((gsize) frame->width * frame->height * 3);
      hepa_frame_render_rgb (frame, 0, 0, rgb);
      if (info->n_regions > 0)
        mask_outside_regions (info, rgb, frame->width, frame->height);
      if (pack_gray (rgb, (gsize) frame->width * frame->height))
        png = hepa_export_encode_png (rgb, frame->width, frame->height, (gsize) frame->width, 1,
                                      8, &error);
      else
        png = hepa_export_encode_png (rgb, frame->width, frame->height,
                                      (gsize) frame->width * 3, 3, 8, &error);
      if (png == NULL)
        {
          add_problem (job->problems, HEPA_EXPORT_SKIP_IO, job->input->image_path, "%s",
                       error->message);
          continue;
        }
      relative = g_strdup_printf ("frames/%s.png", entry->frame_id);
      if (write_output (ctx, job, relative, png) == WRITE_FAILED)
        continue;
      entry->file = g_steal_pointer (&relative);
      entry->sha256 = sha256_of_bytes (png);
      entry->width = frame->width;
      entry->height = frame->height;
    }
}

static void
export_roi (Context         *ctx,
            Job             *job,
            HepaImage       *image,
            GPtrArray       *identifying,
            const HepaRoi   *roi,
            guint            category)
{
  const HepaModelCard *card = ctx->card;
  const HepaImageInfo *info = hepa_image_get_info (image);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaManifestRow) row = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GBytes) native = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree char *crop_id = NULL;
  g_autofree char *relative = NULL;
  g_autofree char *native_relative = NULL;
  const HepaFrame *frame;
  HepaRect rect = roi->rect;
  double mm_x = 0, mm_y = 0;
  CocoFrame *coco;
  Box box;

  if (roi->frame >= hepa_image_get_n_frames (image))
    {
      g_autofree char *id = loggable (roi->id, identifying);

      add_problem (job->problems, HEPA_EXPORT_SKIP_OUTSIDE, job->input->image_path,
                   _("ROI %s is on frame %u, but the image has %u frames"), id, roi->frame,
                   hepa_image_get_n_frames (image));
      return;
    }
  frame = hepa_image_get_frame (image, roi->frame, &error);
  if (frame == NULL)
    {
      add_problem (job->problems, HEPA_EXPORT_SKIP_UNREADABLE, job->input->image_path,
                   _("Frame %u could not be decoded: %s"), roi->frame, error->message);
      return;
    }
  if (rect.x < 0 || rect.y < 0 || rect.width <= 0 || rect.height <= 0
      || rect.x > frame->width - rect.width || rect.y > frame->height - rect.height)
    {
      g_autofree char *id = loggable (roi->id, identifying);

      add_problem (job->problems, HEPA_EXPORT_SKIP_OUTSIDE, job->input->image_path,
                   _("ROI %s (%d,%d %dx%d) is not inside the %dx%d image"), id, rect.x,
                   rect.y, rect.width, rect.height, frame->width, frame->height);
      return;
    }

  /* Burned-in text inside or near the ROI is blanked in every crop; an ROI mostly covered by
   * it is refused. */
  {
    const MaskedFrame *m = masked_frame (job, info, frame, roi->frame);
    guint percent = masked_percent (m, &rect);

    if (percent > MAX_MASKED_PERCENT)
      {
        g_autofree char *id = loggable (roi->id, identifying);

        add_problem (job->problems, HEPA_EXPORT_SKIP_BURNED_IN, job->input->image_path,
                     _("ROI %s not exported: burned-in text or markers cover %u%% of it"), id,
                     percent);
        return;
      }
    frame = &m->frame;
  }
  crop_id = short_hash ("crop", job->sop, roi->frame, roi->id);
  rgb = render_input_crop (card, frame, &rect);
  png = hepa_export_encode_png (rgb, card->input_size, card->input_size,
                                (gsize) card->input_size * 3, 3, 8, &error);
  if (png == NULL)
    {
      add_problem (job->problems, HEPA_EXPORT_SKIP_IO, job->input->image_path, "%s",
                   error->message);
      return;
    }
  relative = g_strdup_printf ("%s/%s.png", roi->label, crop_id);
  if (ctx->options->native)
    {
      native = encode_native_crop (frame, &rect, &error);
      if (native == NULL)
        {
          add_problem (job->problems, HEPA_EXPORT_SKIP_IO, job->input->image_path, "%s",
                       error->message);
          return;
        }
      native_relative = g_strdup_printf ("native/%s/%s.png", roi->label, crop_id);
    }
  if (write_output (ctx, job, relative, png) == WRITE_FAILED)
    return;
  if (native != NULL && write_output (ctx, job, native_relative, native) == WRITE_FAILED)
    return;

  row = hepa_manifest_row_new ();
  row->crop_id = g_strdup (crop_id);
  row->file = g_steal_pointer (&relative);
  row->label = g_strdup (roi->label);
  row->patient = g_strdup (job->patient);
  row->study = g_strdup (job->study);
  row->sop = g_strdup (job->sop);
  row->frame = roi->frame;
  row->roi = rect;
  if (hepa_image_get_spacing_at (image, rect.x + rect.width / 2, rect.y + rect.height / 2,
                                 &mm_x, &mm_y))
    {
      row->has_mm = TRUE;
      row->roi_mm[0] = rect.x * mm_x;
      row->roi_mm[1] = rect.y * mm_y;
      row->roi_mm[2] = rect.width * mm_x;
      row->roi_mm[3] = rect.height * mm_y;
      row->pixel_spacing_mm[0] = mm_x;
      row->pixel_spacing_mm[1] = mm_y;
    }
  /* Free text from the sidecar must not carry an identifying value out: a rater is written as
   * a keyed pseudonym unless allow-listed, and never when it repeats a value of the image. */
  if (roi->rater == NULL || roi->rater[0] == '\0')
    row->rater = g_strdup ("");
  else if (name_allowed (ctx, roi->rater, FALSE) && !mentions_identifying (roi->rater, identifying))
    row->rater = g_strdup (roi->rater);
  else
    {
      g_autofree char *hash = hepa_pseudonymizer_hash (ctx->pseudonymizer, "rater", roi->rater);

      row->rater = g_strconcat ("rater-", hash, NULL);
    }
  row->created = roi->created;
  row->modified = roi->modified;
  if (roi->pred_model_id != NULL && roi->pred_classes != NULL)
    {
      gboolean clean = !mentions_identifying (roi->pred_model_id, identifying)
                       && hepa_manifest_prediction_is_safe (roi->pred_model_id,
                                                            roi->pred_classes);

      for (guint k = 0; clean && roi->pred_classes[k] != NULL; k++)
        clean = !mentions_identifying (roi->pred_classes[k], identifying);
      if (clean)
        {
          guint n = g_strv_length (roi->pred_classes);

          /* A model id is a name someone chose (a file name, a person's initials): written as
           * it is only when allow-listed or the card's own, else as a keyed pseudonym. */
          if (name_allowed (ctx, roi->pred_model_id, TRUE))
            row->pred_model_id = g_strdup (roi->pred_model_id);
          else
            {
              g_autofree char *hash = hepa_pseudonymizer_hash (ctx->pseudonymizer, "model",
                                                               roi->pred_model_id);

              row->pred_model_id = g_strconcat ("model-", hash, NULL);
            }
          row->pred_classes = g_strdupv (roi->pred_classes);
          row->pred_probabilities = g_memdup2 (roi->pred_probabilities, n * sizeof (float));
        }
    }
  /* Issue 18: the applicability checks of this ROI, by code. */
  {
    g_autoptr(HepaApplicability) app = hepa_applicability_check (image, frame, &rect, card);
    g_autoptr(GStrvBuilder) codes = g_strv_builder_new ();

    for (guint k = 0; k < app->reasons->len; k++)
      g_strv_builder_add (codes, ((HepaReason *) g_ptr_array_index (app->reasons, k))->code);
    row->applicability = g_strv_builder_end (codes);
  }
  row->sha256 = sha256_of_bytes (png);
  if (native != NULL)
    {
      row->native_file = g_steal_pointer (&native_relative);
      row->native_sha256 = sha256_of_bytes (native);
    }
  row->manufacturer = g_strdup (mentions_identifying (info->manufacturer, identifying)
                                ? "" : info->manufacturer);
  row->transfer_syntax = g_strdup (info->transfer_syntax_uid);

  coco = find_coco_frame (job, roi->frame);
  box.crop_id = g_strdup (crop_id);
  box.category = category;
  box.rect = rect;
  g_array_append_val (coco->boxes, box);
  g_ptr_array_add (job->rows, g_steal_pointer (&row));
}

static void
process_image (Context *ctx,
               Job     *job)
{
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(HepaImage) image = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) valid = g_ptr_array_new ();
  g_autoptr(GArray) categories = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GPtrArray) identifying = NULL;
  const HepaImageInfo *info;
  guint n_labeled = 0;

  if (job->input->sidecar_path == NULL)
    {
      add_problem (job->problems, HEPA_EXPORT_SKIP_NO_SIDECAR, job->input->image_path,
                   _("No annotations found for it"));
      return;
    }
  set = read_sidecar (job);
  if (set == NULL)
    return;
  job->read = TRUE;

  for (guint i = 0; i < set->rois->len; i++)
    {
      HepaRoi *roi = g_ptr_array_index (set->rois, i);

      if (roi->label == NULL)
        job->n_unlabeled++;
      else
        n_labeled++;
    }
  job->n_labeled = n_labeled;
  if (n_labeled == 0)
    return;

  image = hepa_image_open (job->input->image_path, &error);
  if (image == NULL)
    {
      const char *reason = error->message;

      /* Messages of hepa_image_open start with the path, which the problem names already. */
      if (g_str_has_prefix (reason, job->input->image_path)
          && g_str_has_prefix (reason + strlen (job->input->image_path), ": "))
        reason += strlen (job->input->image_path) + 2;
      add_problem (job->problems, HEPA_EXPORT_SKIP_UNREADABLE, job->input->image_path,
                   _("Could not open it (%u labeled ROIs not exported): %s"), n_labeled,
                   reason);
      return;
    }
  info = hepa_image_get_info (image);
  identifying = identifying_values (info, job->input->image_path);

  if (set->sop_uid_sha256 != NULL && info->sop_uid[0] != '\0')
    {
      g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, info->sop_uid,
                                                               -1);

      if (g_ascii_strcasecmp (digest, set->sop_uid_sha256) != 0)
        {
          add_problem (job->problems, HEPA_EXPORT_SKIP_WRONG_IMAGE, job->input->image_path,
                       _("Its annotations were drawn on another image (the SOP Instance UID "
                         "differs); %u labeled ROIs not exported"), n_labeled);
          return;
        }
    }

  for (guint i = 0; i < set->rois->len; i++)
    {
      HepaRoi *roi = g_ptr_array_index (set->rois, i);
      guint category = 0;

      if (roi->label == NULL)
        continue;
      if (!label_known (ctx->card, roi->label, &category))
        {
          g_autofree char *list = g_strjoinv (", ", ctx->card->classes);
          g_autofree char *id = loggable (roi->id, identifying);
          g_autofree char *label = loggable (roi->label, identifying);

          add_problem (job->problems, HEPA_EXPORT_SKIP_UNKNOWN_LABEL, job->input->image_path,
                       _("ROI %s is labeled “%s”, which is not among the classes (%s)"), id,
                       label, list);
          continue;
        }
      g_ptr_array_add (valid, roi);
      g_array_append_val (categories, category);
    }
  if (valid->len == 0)
    return;
  if (!compute_pseudonyms (ctx, job, info))
    return;

  for (guint i = 0; i < valid->len; i++)
    {
      if (g_cancellable_is_cancelled (ctx->cancellable))
        return;
      export_roi (ctx, job, image, identifying, g_ptr_array_index (valid, i),
                  g_array_index (categories, guint, i));
    }
  if (ctx->options->frames)
    write_coco_frames (ctx, job, image);
}

static void
job_thread (gpointer data,
            gpointer user_data)
{
  Job *job = data;
  Context *ctx = user_data;

  if (!g_cancellable_is_cancelled (ctx->cancellable))
    process_image (ctx, job);

  g_mutex_lock (&ctx->lock);
  ctx->n_done++;
  g_cond_signal (&ctx->cond);
  g_mutex_unlock (&ctx->lock);
}

/* ---- Finding the inputs ----------------------------------------------------------------- */

static char *
find_sidecar (const char *image_path,
              const char *workspace_dir)
{
  g_autofree char *next = hepa_annotations_sidecar_path (image_path, NULL);

  if (g_file_test (next, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&next);
  if (workspace_dir != NULL)
    {
      g_autofree char *ws = hepa_annotations_sidecar_path (image_path, workspace_dir);

      if (g_file_test (ws, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&ws);
    }
  return NULL;
}

static void
add_input (GPtrArray  *inputs,
           GHashTable *seen,
           const char *image_path,
           char       *sidecar_path)
{
  char *canonical = g_canonicalize_filename (image_path, NULL);
  Input *input;

  if (!g_hash_table_add (seen, canonical))
    {
      g_free (sidecar_path);
      return;
    }
  input = g_new0 (Input, 1);
  input->image_path = g_strdup (image_path);
  input->sidecar_path = sidecar_path;
  g_ptr_array_add (inputs, input);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Collects the files of @dir with a sidecar, recursively, in name order; symbolic links to
 * folders are not followed, so a loop cannot trap the walk. */
static void
walk_folder (const char *dir,
             const char *skip_dir,
             const char *workspace_dir,
             GPtrArray  *inputs,
             GHashTable *seen,
             GPtrArray  *problems,
             guint       depth)
{
  g_autoptr(GDir) handle = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  const char *name;

  if (depth > 64)
    return;
  handle = g_dir_open (dir, 0, &error);
  if (handle == NULL)
    {
      add_problem (problems, HEPA_EXPORT_SKIP_UNREADABLE, dir, "%s", error->message);
      return;
    }
  while ((name = g_dir_read_name (handle)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    g_hash_table_add (present, g_ptr_array_index (names, i));

  for (guint i = 0; i < names->len; i++)
    {
      const char *entry = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      GStatBuf st;

      if (entry[0] == '.' || g_str_has_suffix (entry, SIDECAR_SUFFIX)
          || strstr (entry, SIDECAR_SUFFIX ".damaged-") != NULL)
        continue;
      if (g_lstat (path, &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          g_autofree char *canonical = g_canonicalize_filename (path, NULL);

          if (skip_dir == NULL || strcmp (canonical, skip_dir) != 0)
            walk_folder (path, skip_dir, workspace_dir, inputs, seen, problems, depth + 1);
          continue;
        }
      {
        g_autofree char *sidecar_name = g_strconcat (entry, SIDECAR_SUFFIX, NULL);

        if (g_hash_table_contains (present, sidecar_name))
          add_input (inputs, seen, path, g_build_filename (dir, sidecar_name, NULL));
        else if (workspace_dir != NULL)
          {
            char *ws = find_sidecar (path, workspace_dir);

            if (ws != NULL)
              add_input (inputs, seen, path, ws);
          }
      }
    }
}

static GPtrArray *
collect_inputs (const char *const *paths,
                const char        *out_canonical,
                const char        *workspace_dir,
                GPtrArray         *problems)
{
  GPtrArray *inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) input_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; paths[i] != NULL; i++)
    {
      const char *path = paths[i];

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        walk_folder (path, out_canonical, workspace_dir, inputs, seen, problems, 0);
      else if (g_str_has_suffix (path, SIDECAR_SUFFIX)
               && g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          /* A sidecar named directly stands for its image. */
          g_autofree char *image = g_strndup (path, strlen (path) - strlen (SIDECAR_SUFFIX));

          add_input (inputs, seen, image, g_strdup (path));
        }
      else if (g_file_test (path, G_FILE_TEST_EXISTS))
        add_input (inputs, seen, path, find_sidecar (path, workspace_dir));
      else
        add_problem (problems, HEPA_EXPORT_SKIP_UNREADABLE, path, _("No such file or folder"));
    }
  return inputs;
}

/* ---- Earlier exports ---------------------------------------------------------------------- */

/* Files an earlier export wrote, with their digests: they may be removed when they are no
 * longer part of the export and still hold exactly what was written. */
static GHashTable *
owned_files (const char        *out_dir,
             const HepaManifest *old_manifest)
{
  GHashTable *owned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *coco_path = g_build_filename (out_dir, "coco.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (old_manifest != NULL)
    for (guint i = 0; i < old_manifest->rows->len; i++)
      {
        HepaManifestRow *row = g_ptr_array_index (old_manifest->rows, i);

        g_hash_table_replace (owned, g_strdup (row->file), g_strdup (row->sha256));
        if (row->native_file != NULL)
          g_hash_table_replace (owned, g_strdup (row->native_file),
                                g_strdup (row->native_sha256));
      }
  if (!hepa_json_parser_load_file (parser, coco_path, G_MAXINT32, NULL))
    return owned;
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonNode *images = json_object_get_member (json_node_get_object (root), "images");

      if (images != NULL && JSON_NODE_HOLDS_ARRAY (images))
        {
          JsonArray *array = json_node_get_array (images);

          for (guint i = 0; i < json_array_get_length (array); i++)
            {
              JsonNode *node = json_array_get_element (array, i);
              JsonObject *object;
              const char *file, *sha;

              if (!JSON_NODE_HOLDS_OBJECT (node))
                continue;
              object = json_node_get_object (node);
              file = json_object_get_string_member_with_default (object, "file_name", NULL);
              sha = json_object_get_string_member_with_default (object, "sha256", NULL);
              if (file != NULL && sha != NULL && g_str_has_prefix (file, "frames/")
                  && hepa_manifest_path_is_safe (file))
                g_hash_table_replace (owned, g_strdup (file), g_strdup (sha));
            }
        }
    }
  return owned;
}

/* Removes temp files left by an export that was killed mid-write (".<name>.XXXXXX"). */
static void
remove_stale_temps (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  if (handle == NULL)
    return;
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      gsize len = strlen (name);
      g_autofree char *path = NULL;

      if (name[0] != '.' || len < 9 || name[len - 7] != '.')
        continue;
      if (strstr (name, ".png.") == NULL && strstr (name, ".json.") == NULL
          && strstr (name, ".csv.") == NULL)
        continue;
      path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_unlink (path);
    }
}

static gboolean
make_folder (const char  *path,
             GError     **error)
{
  if (g_mkdir_with_parents (path, 0777) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not create the folder %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  if (g_access (path, W_OK) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("The folder %s is not writable: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* ---- COCO --------------------------------------------------------------------------------- */

static char *
coco_to_json (const HepaModelCard *card,
              GPtrArray           *jobs,
              guint               *n_frames)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  guint image_id = 0;
  guint annotation_id = 0;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "info");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, "Hepascope export: labeled ROIs on whole frames");
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, "1");
  json_builder_set_member_name (b, "software_version");
  json_builder_add_string_value (b, PACKAGE_VERSION);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "licenses");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "categories");
  json_builder_begin_array (b);
  for (guint i = 0; card->classes[i] != NULL; i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, i + 1);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, card->classes[i]);
      json_builder_set_member_name (b, "supercategory");
      json_builder_add_string_value (b, "liver");
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "images");
  json_builder_begin_array (b);
  for (guint j = 0; j < jobs->len; j++)
    {
      Job *job = g_ptr_array_index (jobs, j);

      for (guint i = 0; i < job->frames->len; i++)
        {
          CocoFrame *entry = g_ptr_array_index (job->frames, i);

          if (entry->file == NULL)
            continue;
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_int_value (b, ++image_id);
          json_builder_set_member_name (b, "file_name");
          json_builder_add_string_value (b, entry->file);
          json_builder_set_member_name (b, "width");
          json_builder_add_int_value (b, entry->width);
          json_builder_set_member_name (b, "height");
          json_builder_add_int_value (b, entry->height);
          json_builder_set_member_name (b, "frame_id");
          json_builder_add_string_value (b, entry->frame_id);
          json_builder_set_member_name (b, "patient");
          json_builder_add_string_value (b, job->patient);
          json_builder_set_member_name (b, "study");
          json_builder_add_string_value (b, job->study);
          json_builder_set_member_name (b, "sop");
          json_builder_add_string_value (b, job->sop);
          json_builder_set_member_name (b, "frame");
          json_builder_add_int_value (b, entry->frame);
          json_builder_set_member_name (b, "sha256");
          json_builder_add_string_value (b, entry->sha256);
          json_builder_end_object (b);
        }
    }
  json_builder_end_array (b);

  image_id = 0;
  json_builder_set_member_name (b, "annotations");
  json_builder_begin_array (b);
  for (guint j = 0; j < jobs->len; j++)
    {
      Job *job = g_ptr_array_index (jobs, j);

      for (guint i = 0; i < job->frames->len; i++)
        {
          CocoFrame *entry = g_ptr_array_index (job->frames, i);

          if (entry->file == NULL)
            continue;
          image_id++;
          for (guint k = 0; k < entry->boxes->len; k++)
            {
              Box *box = &g_array_index (entry->boxes, Box, k);

              json_builder_begin_object (b);
              json_builder_set_member_name (b, "id");
              json_builder_add_int_value (b, ++annotation_id);
              json_builder_set_member_name (b, "image_id");
              json_builder_add_int_value (b, image_id);
              json_builder_set_member_name (b, "category_id");
              json_builder_add_int_value (b, box->category);
              json_builder_set_member_name (b, "bbox");
              json_builder_begin_array (b);
              json_builder_add_int_value (b, box->rect.x);
              json_builder_add_int_value (b, box->rect.y);
              json_builder_add_int_value (b, box->rect.width);
              json_builder_add_int_value (b, box->rect.height);
              json_builder_end_array (b);
              json_builder_set_member_name (b, "area");
              json_builder_add_int_value (b, (gint64) box->rect.width * box->rect.height);
              json_builder_set_member_name (b, "iscrowd");
              json_builder_add_int_value (b, 0);
              json_builder_set_member_name (b, "crop_id");
              json_builder_add_string_value (b, box->crop_id);
              json_builder_end_object (b);
            }
        }
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  *n_frames = image_id;
  root = json_builder_get_root (b);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 1);
  text = json_generator_to_data (generator, NULL);
  return g_strconcat (text, "\n", NULL);
}

/* Drops boxes whose crop did not make it into the manifest (a duplicate). */
static void
drop_box (Job        *job,
          const char *crop_id)
{
  for (guint i = 0; i < job->frames->len; i++)
    {
      CocoFrame *entry = g_ptr_array_index (job->frames, i);

      for (guint k = 0; k < entry->boxes->len; k++)
        if (strcmp (g_array_index (entry->boxes, Box, k).crop_id, crop_id) == 0)
          {
            g_array_remove_index (entry->boxes, k);
            return;
          }
    }
}

/* Writes a text file of the export unless it already holds these bytes. */
static gboolean
write_text (const char  *out_dir,
            const char  *name,
            const char  *text,
            guint       *n_written,
            guint       *n_unchanged,
            GError     **error)
{
  g_autofree char *path = g_build_filename (out_dir, name, NULL);
  g_autoptr(GBytes) bytes = g_bytes_new_static (text, strlen (text));
  gboolean exists;

  if (file_has_bytes (path, bytes, &exists))
    {
      (*n_unchanged)++;
      return TRUE;
    }
  if (!hepa_write_file_atomic (path, text, strlen (text), 0666, name, error))
    return FALSE;
  (*n_written)++;
  return TRUE;
}

/* ---- The export --------------------------------------------------------------------------- */

HepaExportSummary *
hepa_export_run (const HepaExportOptions  *options,
                 const char *const        *paths,
                 HepaExportProgressFunc    progress,
                 gpointer                  user_data,
                 GCancellable             *cancellable,
                 GError                  **error)
{
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(GPtrArray) inputs = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(HepaManifest) old_manifest = NULL;
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(GHashTable) owned = NULL;
  g_autoptr(GHashTable) keep = NULL;
  g_autoptr(GHashTable) crop_ids = NULL;
  g_autoptr(HepaPseudonymizer) pseudonymizer = NULL;
  g_autofree char *out_canonical = NULL;
  g_autofree char *manifest_path = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *json = NULL;
  g_autofree char *coco = NULL;
  GThreadPool *pool;
  Context ctx = { 0 };
  gint64 start = g_get_monotonic_time ();
  guint reported = 0;
  int n_threads;

  g_return_val_if_fail (options != NULL && options->out_dir != NULL, NULL);
  g_return_val_if_fail (options->card != NULL && options->card->classes != NULL, NULL);
  g_return_val_if_fail (paths != NULL, NULL);

  for (guint i = 0; options->card->classes[i] != NULL; i++)
    {
      const char *name = options->card->classes[i];

      if (!hepa_manifest_path_is_safe (name) || strchr (name, '/') != NULL
          || strcmp (name, "native") == 0 || strcmp (name, "frames") == 0)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                       _("The class name “%s” cannot be a folder name of the export"), name);
          return NULL;
        }
    }

  summary = g_new0 (HepaExportSummary, 1);
  summary->problems = g_ptr_array_new_with_free_func ((GDestroyNotify) problem_free);

  pseudonymizer = hepa_pseudonymizer_new (options->key_path, error);
  if (pseudonymizer == NULL)
    return NULL;

  /* The output folder, one folder per class, and the manifest of an earlier export. */
  if (!make_folder (options->out_dir, error))
    return NULL;
  out_canonical = g_canonicalize_filename (options->out_dir, NULL);
  manifest_path = g_build_filename (options->out_dir, "manifest.json", NULL);
  if (g_file_test (manifest_path, G_FILE_TEST_EXISTS))
    {
      g_autoptr(GError) local_error = NULL;

      old_manifest = hepa_manifest_load (manifest_path, &local_error);
      if (old_manifest == NULL && !options->force)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                       _("%s is not the manifest of an earlier export (%s); choose another "
                         "folder or use --force"), manifest_path, local_error->message);
          return NULL;
        }
    }
  owned = owned_files (options->out_dir, old_manifest);
  remove_stale_temps (options->out_dir);
  for (guint i = 0; options->card->classes[i] != NULL; i++)
    {
      g_autofree char *dir = g_build_filename (options->out_dir, options->card->classes[i], NULL);
      g_autofree char *native = g_build_filename (options->out_dir, "native",
                                                  options->card->classes[i], NULL);

      remove_stale_temps (dir);
      remove_stale_temps (native);
    }
  {
    g_autofree char *frames = g_build_filename (options->out_dir, "frames", NULL);

    remove_stale_temps (frames);
  }

  inputs = collect_inputs (paths, out_canonical, options->workspace_dir, summary->problems);

  /* One job per image, in a pool; results are merged in input order. */
  ctx.options = options;
  ctx.card = options->card;
  ctx.pseudonymizer = pseudonymizer;
  ctx.out_dir = g_strdup (options->out_dir);
  ctx.cancellable = cancellable;
  g_mutex_init (&ctx.lock);
  g_cond_init (&ctx.cond);
  jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) job_free);
  n_threads = options->n_threads > 0 ? options->n_threads : (int) g_get_num_processors ();
  pool = g_thread_pool_new (job_thread, &ctx, MAX (n_threads, 1), FALSE, NULL);
  for (guint i = 0; i < inputs->len; i++)
    {
      Job *job = g_new0 (Job, 1);

      job->ctx = &ctx;
      job->input = g_ptr_array_index (inputs, i);
      job->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_manifest_row_free);
      job->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) coco_frame_free);
      job->problems = g_ptr_array_new_with_free_func ((GDestroyNotify) problem_free);
      job->attempted = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (jobs, job);
      g_thread_pool_push (pool, job, NULL);
    }
  g_mutex_lock (&ctx.lock);
  while (ctx.n_done < inputs->len)
    {
      if (ctx.n_done == reported)
        g_cond_wait (&ctx.cond, &ctx.lock);
      if (ctx.n_done != reported)
        {
          reported = ctx.n_done;
          if (progress != NULL)
            {
              g_mutex_unlock (&ctx.lock);
              progress (reported, inputs->len, user_data);
              g_mutex_lock (&ctx.lock);
            }
        }
    }
  g_mutex_unlock (&ctx.lock);
  g_thread_pool_free (pool, FALSE, TRUE);
  g_mutex_clear (&ctx.lock);
  g_cond_clear (&ctx.cond);
  g_free (ctx.out_dir);
  if (progress != NULL && inputs->len == 0)
    progress (0, 0, user_data);

  /* An interrupted export writes no manifest: the old one, if any, still names files that
   * exist. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* Merge in input order. */
  manifest = hepa_manifest_new ((const char *const *) options->card->classes);
  manifest->input_size = options->card->input_size;
  manifest->grayscale = options->card->grayscale;
  /* Issue 18. */
  manifest->intended_use = g_strdup (hepa_model_card_get_intended_use (options->card));
  g_free (manifest->resize);
  manifest->resize = g_strdup (options->card->resize == HEPA_RESIZE_LETTERBOX ? "letterbox"
                                                                               : "stretch");
  crop_ids = g_hash_table_new (g_str_hash, g_str_equal);
  keep = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint j = 0; j < jobs->len; j++)
    {
      Job *job = g_ptr_array_index (jobs, j);

      if (job->read)
        summary->n_images++;
      summary->n_labeled += job->n_labeled;
      summary->n_unlabeled += job->n_unlabeled;
      summary->n_written += job->n_written;
      summary->n_unchanged += job->n_unchanged;
      for (guint i = 0; i < job->attempted->len; i++)
        g_hash_table_add (keep, g_ptr_array_index (job->attempted, i));
      for (guint i = 0; i < job->rows->len; i++)
        {
          HepaManifestRow *row = g_ptr_array_index (job->rows, i);

          if (!g_hash_table_add (crop_ids, row->crop_id))
            {
              add_problem (job->problems, HEPA_EXPORT_SKIP_DUPLICATE, job->input->image_path,
                           _("The same image (SOP instance) was given twice; its ROIs were "
                             "exported once"));
              drop_box (job, row->crop_id);
              continue;
            }
          /* Move the row; the job's array frees NULL harmlessly. */
          g_ptr_array_add (manifest->rows, row);
          job->rows->pdata[i] = NULL;
        }
      for (guint i = 0; i < job->problems->len; i++)
        {
          g_ptr_array_add (summary->problems, job->problems->pdata[i]);
          job->problems->pdata[i] = NULL;
        }
      g_ptr_array_set_free_func (job->problems, NULL);
    }
  /* crop_ids borrowed row strings; the rows moved into the manifest keep them alive. */

  coco = options->frames ? coco_to_json (options->card, jobs, &summary->n_frames) : NULL;
  csv = hepa_manifest_to_csv (manifest, NULL);
  json = hepa_manifest_to_json (manifest, NULL);

  /* The crops reach the disk before a manifest names them: one syncfs () instead of an
   * fsync per file, which made a thousand crops take seconds on a busy disk. */
  {
    g_autoptr(GError) local_error = NULL;
    gboolean csv_written;
    int dir_fd = open (options->out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dir_fd < 0 || syncfs (dir_fd) != 0)
      {
        int errsv = errno;

        g_set_error (&local_error, HEPA_ERROR, hepa_error_from_errno (errsv),
                     _("Could not flush the export to disk: %s"), g_strerror (errsv));
      }
    if (dir_fd >= 0)
      close (dir_fd);

    /* The manifests come last: whatever they name exists by now. */
    if (local_error == NULL && coco != NULL)
      write_text (options->out_dir, "coco.json", coco, &summary->n_written,
                  &summary->n_unchanged, &local_error);
    if (local_error == NULL)
      write_text (options->out_dir, "manifest.csv", csv, &summary->n_written,
                  &summary->n_unchanged, &local_error);
    csv_written = local_error == NULL;
    if (local_error == NULL)
      write_text (options->out_dir, "manifest.json", json, &summary->n_written,
                  &summary->n_unchanged, &local_error);
    if (local_error != NULL)
      {
        /* Say what is on disk: manifest.csv may be new while manifest.json failed. */
        if (csv_written)
          add_problem (summary->problems, skip_from_error (local_error), options->out_dir,
                       _("%s; manifest.csv is new but manifest.json is not: export again"),
                       local_error->message);
        else
          add_problem (summary->problems, skip_from_error (local_error), options->out_dir,
                       _("%s; the export has no new manifest"), local_error->message);
        summary->n_exported = 0;
        summary->n_skipped = summary->problems->len;
        for (guint i = 0; i < summary->problems->len; i++)
          summary->skipped[((HepaExportProblem *) g_ptr_array_index (summary->problems,
                                                                     i))->reason]++;
        summary->seconds = (g_get_monotonic_time () - start) / 1e6;
        return g_steal_pointer (&summary);
      }
    summary->manifest_written = TRUE;
  }

  /* Files of an earlier export that this one no longer has (a label changed, an ROI was
   * deleted, native crops not asked for) go, but only while they hold what was written. */
  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, owned);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        g_autofree char *path = NULL;
        g_autofree char *contents = NULL;
        g_autofree char *digest = NULL;
        gsize length = 0;

        if (g_hash_table_contains (keep, key) || !hepa_manifest_path_is_safe (key))
          continue;
        path = g_build_filename (options->out_dir, (const char *) key, NULL);
        if (!hepa_file_get_contents (path, G_MAXINT32, &contents, &length, NULL))
          continue;
        digest = sha256_hex ((const guint8 *) contents, length);
        if (g_strcmp0 (digest, value) == 0 && g_unlink (path) == 0)
          summary->n_removed++;
      }
  }

  /* Folders left empty (a class no longer labeled, native crops no longer asked for) go too:
   * trainers take every class folder for a class. rmdir () leaves non-empty ones alone. */
  for (guint i = 0; options->card->classes[i] != NULL; i++)
    {
      g_autofree char *dir = g_build_filename (options->out_dir, options->card->classes[i], NULL);
      g_autofree char *native = g_build_filename (options->out_dir, "native",
                                                  options->card->classes[i], NULL);

      g_rmdir (dir);
      g_rmdir (native);
    }
  {
    g_autofree char *native = g_build_filename (options->out_dir, "native", NULL);
    g_autofree char *frames = g_build_filename (options->out_dir, "frames", NULL);

    g_rmdir (native);
    g_rmdir (frames);
  }

  summary->n_exported = manifest->rows->len;
  summary->n_skipped = summary->problems->len;
  for (guint i = 0; i < summary->problems->len; i++)
    {
      HepaExportProblem *problem = g_ptr_array_index (summary->problems, i);

      summary->skipped[problem->reason]++;
    }
  summary->seconds = (g_get_monotonic_time () - start) / 1e6;
  return g_steal_pointer (&summary);
}
