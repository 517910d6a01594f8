/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli synth --out DIR --per-class N [--seed S] [--cine FRAMES] [--size WxH]
 *                     [--format dicom|png] [--probe curved|linear|mixed] [--contact-sheet FILE]
 *                     [--examples K] [--threads T]
 * Synthetic B-mode phantoms of the five default classes, with ground-truth sidecars. Files are
 * named <class>-<NNNN>.dcm|png; every image is a pure function of (seed, class, index), so the
 * output does not depend on the thread count. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-annotations.h"
#include "dicom/hepa-dicom-writer.h"
#include "hepa-error.h"
#include "hepa-image.h"
#include "hepa-synth.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum
{
  PROBE_CURVED,
  PROBE_LINEAR,
  PROBE_MIXED,
} ProbeChoice;

/* Contact sheet: a few thumbnails per class, one row per class, its name under the row. */
#define SHEET_MARGIN 8
#define SHEET_THUMB_W 240
#define SHEET_LABEL_H 22
#define SHEET_TITLE_H 26

typedef struct
{
  char        *out_dir;
  guint64      seed;
  int          per_class;
  int          width;
  int          height;
  guint        n_frames;
  gboolean     png;
  ProbeChoice  probe;
  char        *study_uid;

  /* Contact sheet, (sheet_h, sheet_w, 3); thumbnails are disjoint, so workers write without
   * a lock. */
  guint8      *sheet;
  int          sheet_w;
  int          sheet_h;
  int          thumb_w;
  int          thumb_h;
  int          sheet_cols;

  gint         stop;        /* atomic: set after the first failure */
  GAsyncQueue *results;     /* (element-type JobResult) */
} SynthRun;

typedef struct
{
  GError *error;            /* NULL on success */
} JobResult;

/* ---- a tiny bitmap font (5x7 with descenders: lower case, digits, some punctuation) ------- */

typedef struct
{
  char   c;
  guint8 rows[9];             /* 7 rows above the baseline, 2 for descenders */
} Glyph;

static const Glyph glyphs[] = {
  { 'a', { 0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00 } },
  { 'b', { 0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00, 0x00 } },
  { 'c', { 0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00 } },
  { 'd', { 0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00, 0x00 } },
  { 'e', { 0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00 } },
  { 'f', { 0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00, 0x00 } },
  { 'g', { 0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e } },
  { 'h', { 0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00 } },
  { 'i', { 0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00 } },
  { 'j', { 0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c } },
  { 'k', { 0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00 } },
  { 'l', { 0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00 } },
  { 'm', { 0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11, 0x00, 0x00 } },
  { 'n', { 0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00 } },
  { 'o', { 0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00 } },
  { 'p', { 0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10 } },
  { 'q', { 0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01 } },
  { 'r', { 0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00 } },
  { 's', { 0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00 } },
  { 't', { 0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00 } },
  { 'u', { 0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00, 0x00 } },
  { 'v', { 0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00 } },
  { 'w', { 0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00 } },
  { 'x', { 0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00, 0x00 } },
  { 'y', { 0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e } },
  { 'z', { 0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00 } },
  { '0', { 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00, 0x00 } },
  { '1', { 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00 } },
  { '2', { 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00 } },
  { '3', { 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00, 0x00 } },
  { '4', { 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00, 0x00 } },
  { '5', { 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00, 0x00 } },
  { '6', { 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00, 0x00 } },
  { '7', { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00 } },
  { '8', { 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00, 0x00 } },
  { '9', { 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00, 0x00 } },
  { '_', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00 } },
  { '-', { 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00 } },
  { '.', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00, 0x00 } },
  { ',', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x04, 0x08 } },
  { ':', { 0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00, 0x00 } },
  { '(', { 0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00 } },
  { ')', { 0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00 } },
  { '/', { 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00 } },
  { '=', { 0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00 } },
};

static const Glyph *
find_glyph (char c)
{
  c = g_ascii_tolower (c);
  for (gsize k = 0; k < G_N_ELEMENTS (glyphs); k++)
    if (glyphs[k].c == c)
      return &glyphs[k];
  return NULL;   /* space and anything unknown: blank */
}

/* Draws @text at (x, y) with each font pixel a @scale x @scale block. */
static void
draw_text (guint8       *rgb,
           int           width,
           int           height,
           int           x,
           int           y,
           int           scale,
           const char   *text,
           const guint8  color[3])
{
  for (const char *p = text; *p != '\0'; p++, x += 6 * scale)
    {
      const Glyph *glyph = find_glyph (*p);

      if (glyph == NULL)
        continue;
      for (int row = 0; row < 9; row++)
        for (int col = 0; col < 5; col++)
          {
            if (!(glyph->rows[row] & (0x10 >> col)))
              continue;
            for (int dy = 0; dy < scale; dy++)
              for (int dx = 0; dx < scale; dx++)
                {
                  int px = x + col * scale + dx, py = y + row * scale + dy;

                  if (px >= 0 && px < width && py >= 0 && py < height)
                    memcpy (rgb + ((gsize) py * width + px) * 3, color, 3);
                }
          }
    }
}

/* ---- one image ---------------------------------------------------------------------------- */

static HepaSynthProbe
probe_for (const SynthRun *run,
           HepaSynthClass  klass,
           guint           index)
{
  if (run->probe == PROBE_MIXED)
    {
      /* About one image in four from the linear probe, fixed by (seed, class, index). */
      guint64 h = run->seed * 0x9e3779b97f4a7c15ull + klass * 0xbf58476d1ce4e5b9ull + index;

      h = (h ^ (h >> 31)) * 0x94d049bb133111ebull;
      h ^= h >> 29;
      return (h % 4) == 0 ? HEPA_SYNTH_PROBE_LINEAR : HEPA_SYNTH_PROBE_CURVED;
    }
  return run->probe == PROBE_LINEAR ? HEPA_SYNTH_PROBE_LINEAR : HEPA_SYNTH_PROBE_CURVED;
}

/* Box-filters frame 0 into the contact sheet cell and marks the ground truth with calipers. */
static void
put_thumbnail (SynthRun            *run,
               HepaSynthClass       klass,
               guint                index,
               const guint8        *gray,
               const HepaSynthInfo *info)
{
  int x0 = SHEET_MARGIN + index * (run->thumb_w + SHEET_MARGIN);
  int y0 = SHEET_TITLE_H + klass * (run->thumb_h + SHEET_LABEL_H + SHEET_MARGIN);
  double sx = (double) run->width / run->thumb_w, sy = (double) run->height / run->thumb_h;
  static const guint8 yellow[3] = { 240, 210, 60 };
  int bx0, by0, bx1, by1, arm;

  for (int ty = 0; ty < run->thumb_h; ty++)
    for (int tx = 0; tx < run->thumb_w; tx++)
      {
        int ax = (int) (tx * sx), bx = MAX (ax + 1, (int) ((tx + 1) * sx));
        int ay = (int) (ty * sy), by = MAX (ay + 1, (int) ((ty + 1) * sy));
        guint sum = 0, n = 0;
        guint8 *dst;

        for (int y = ay; y < MIN (by, run->height); y++)
          for (int x = ax; x < MIN (bx, run->width); x++)
            {
              sum += gray[(gsize) y * run->width + x];
              n++;
            }
        dst = run->sheet + ((gsize) (y0 + ty) * run->sheet_w + x0 + tx) * 3;
        dst[0] = dst[1] = dst[2] = (guint8) (n > 0 ? sum / n : 0);
      }

  /* Corner calipers around the labeled ROI, like a sonographer's measurement marks. */
  bx0 = x0 + (int) (info->roi.x / sx) - 2;
  by0 = y0 + (int) (info->roi.y / sy) - 2;
  bx1 = x0 + (int) ((info->roi.x + info->roi.width) / sx) + 1;
  by1 = y0 + (int) ((info->roi.y + info->roi.height) / sy) + 1;
  arm = MAX (3, MIN (bx1 - bx0, by1 - by0) / 4);
  for (int k = 0; k < arm; k++)
    {
      int pts[8][2] = {
        { bx0 + k, by0 }, { bx0, by0 + k }, { bx1 - k, by0 }, { bx1, by0 + k },
        { bx0 + k, by1 }, { bx0, by1 - k }, { bx1 - k, by1 }, { bx1, by1 - k },
      };

      for (int q = 0; q < 8; q++)
        {
          int px = pts[q][0], py = pts[q][1];

          if (px >= x0 && px < x0 + run->thumb_w && py >= y0 && py < y0 + run->thumb_h)
            memcpy (run->sheet + ((gsize) py * run->sheet_w + px) * 3, yellow, 3);
        }
    }
}

static gboolean
write_sidecar (const char           *path,
               HepaSynthClass        klass,
               const char           *sop_uid,
               const HepaSynthInfo  *info,
               GError              **error)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (path, NULL);
  g_autoptr(HepaAnnotations) set = hepa_annotations_new (base);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                           sop_uid != NULL ? sop_uid : base, -1);
  HepaRoi *roi = hepa_roi_new (0, &info->roi, hepa_synth_class_name (klass), "synth");

  if (sop_uid != NULL)
    set->sop_uid_sha256 = g_strdup (digest);
  /* The ROI's id follows from the image, so equal seeds give equal sidecars and equal export
   * file names (crop ids hash it), and a training run on them repeats exactly. */
  g_free (roi->id);
  roi->id = g_strdup_printf ("r-%.16s", digest);
  g_ptr_array_add (set->rois, roi);
  return hepa_annotations_save (set, sidecar, error);
}

static gboolean
make_one (SynthRun        *run,
          HepaSynthClass   klass,
          guint            index,
          GError         **error)
{
  const char *name = hepa_synth_class_name (klass);
  HepaSynthParams params;
  HepaSynthInfo info;
  g_autofree guint8 *pixels = NULL;
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  g_autofree char *sop_uid = NULL;

  hepa_synth_params_init (&params, klass, run->seed, index);
  params.width = run->width;
  params.height = run->height;
  params.n_frames = run->n_frames;
  params.probe = probe_for (run, klass, index);
  pixels = g_try_malloc (hepa_synth_buffer_size (&params));
  if (pixels == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("Out of memory for %s-%04u"),
                   name, index);
      return FALSE;
    }
  if (!hepa_synth_generate (&params, pixels, NULL, &info, error))
    return FALSE;

  file = g_strdup_printf ("%s-%04u.%s", name, index, run->png ? "png" : "dcm");
  path = g_build_filename (run->out_dir, file, NULL);
  if (run->png)
    {
      gsize n = (gsize) run->width * run->height;
      g_autofree guint8 *rgb = g_malloc (n * 3);

      for (gsize k = 0; k < n; k++)
        rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] = pixels[k];
      if (!hepa_png_write_rgb (path, run->width, run->height, rgb, error))
        return FALSE;
    }
  else
    {
      g_autofree char *sop_what = g_strdup_printf ("sop-%s", name);
      g_autofree char *series_what = g_strdup_printf ("series-%s", name);
      g_autofree char *series_uid = hepa_synth_uid (run->seed, series_what, 0);
      g_autofree char *description = g_strdup_printf ("SYNTHETIC PHANTOM %s", name);
      g_autofree char *comments = NULL;
      g_autofree char *patient_name = g_strdup_printf ("PHANTOM^%s", name);
      g_autofree char *patient_id = NULL;
      HepaDicomUsParams dicom = { 0 };

      sop_uid = hepa_synth_uid (run->seed, sop_what, index);
      comments = g_strdup_printf ("SYNTHETIC PHANTOM, not a patient image: hepascope-cli synth, "
                                  "class %s, seed %" G_GUINT64_FORMAT ", index %u, %s probe, "
                                  "%.1f MHz, depth %.0f mm", name, run->seed, index,
                                  params.probe == HEPA_SYNTH_PROBE_CURVED ? "curved" : "linear",
                                  info.frequency_mhz, info.depth_mm);
      /* Each phantom is its own synthetic "patient", so grouped cross-validation treats the
       * images as independent; nothing here identifies anyone. */
      patient_id = g_strdup_printf ("PHANTOM-%" G_GUINT64_FORMAT "-%s-%04u", run->seed, name,
                                    index);
      dicom.width = run->width;
      dicom.height = run->height;
      dicom.n_frames = (int) run->n_frames;
      dicom.rgb = FALSE;
      dicom.pixels = pixels;
      dicom.mm_per_pixel_x = info.mm_per_pixel_x;
      dicom.mm_per_pixel_y = info.mm_per_pixel_y;
      dicom.region = info.region;
      dicom.frame_time_ms = info.frame_time_ms;
      dicom.series_description = description;
      dicom.image_comments = comments;
      dicom.patient_name = patient_name;
      dicom.patient_id = patient_id;
      dicom.study_uid = run->study_uid;
      dicom.series_uid = series_uid;
      dicom.sop_uid = sop_uid;
      dicom.manufacturer = "Hepascope synthetic phantom";
      if (!hepa_dicom_write_us (path, &dicom, error))
        return FALSE;
    }

  if (!write_sidecar (path, klass, sop_uid, &info, error))
    return FALSE;

  if (run->sheet != NULL && (int) index < run->sheet_cols)
    put_thumbnail (run, klass, index, pixels, &info);
  return TRUE;
}

static void
worker (gpointer data,
        gpointer user_data)
{
  SynthRun *run = user_data;
  guint job = GPOINTER_TO_UINT (data) - 1;
  JobResult *result = g_new0 (JobResult, 1);

  if (!g_atomic_int_get (&run->stop)
      && !make_one (run, (HepaSynthClass) (job / run->per_class), job % run->per_class,
                    &result->error))
    g_atomic_int_set (&run->stop, 1);
  g_async_queue_push (run->results, result);
}

/* ---- the command -------------------------------------------------------------------------- */

static gboolean
parse_size (const char *text,
            int        *width,
            int        *height)
{
  char *end = NULL;
  gint64 w, h;

  w = g_ascii_strtoll (text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X'))
    return FALSE;
  text = end + 1;
  h = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0' || w < 64 || w > 4096 || h < 64 || h > 4096)
    return FALSE;
  *width = (int) w;
  *height = (int) h;
  return TRUE;
}

static void
sheet_init (SynthRun *run,
            int       columns)
{
  static const guint8 white[3] = { 235, 235, 235 };
  static const guint8 grey[3] = { 150, 150, 150 };
  g_autofree char *title = NULL;

  run->sheet_cols = columns;
  run->thumb_w = MIN (SHEET_THUMB_W, run->width);
  run->thumb_h = MAX (1, (int) ((double) run->height * run->thumb_w / run->width + 0.5));
  run->sheet_w = SHEET_MARGIN + columns * (run->thumb_w + SHEET_MARGIN);
  run->sheet_h = SHEET_TITLE_H + HEPA_SYNTH_N_CLASSES * (run->thumb_h + SHEET_LABEL_H
                                                         + SHEET_MARGIN);
  run->sheet = g_malloc0 ((gsize) run->sheet_w * run->sheet_h * 3);
  for (gsize k = 0; k < (gsize) run->sheet_w * run->sheet_h * 3; k++)
    run->sheet[k] = 24;

  title = g_strdup_printf ("synthetic phantoms, seed %" G_GUINT64_FORMAT
                           " - not patient images", run->seed);
  draw_text (run->sheet, run->sheet_w, run->sheet_h, SHEET_MARGIN, 6, 2, title, grey);
  for (int c = 0; c < HEPA_SYNTH_N_CLASSES; c++)
    {
      int y = SHEET_TITLE_H + c * (run->thumb_h + SHEET_LABEL_H + SHEET_MARGIN) + run->thumb_h + 4;

      draw_text (run->sheet, run->sheet_w, run->sheet_h, SHEET_MARGIN, y, 2,
                 hepa_synth_class_name (c), white);
    }
}

int
hepa_cli_synth (int    argc,
                char **argv)
{
  g_autofree char *out_dir = NULL;
  g_autofree char *size = NULL;
  g_autofree char *format = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *sheet_path = NULL;
  gint64 seed = 1;
  int per_class = 0, cine = 1, threads = 0, examples = 4;
  int status = 0;
  SynthRun run = { 0 };
  g_autoptr(GError) first_error = NULL;
  g_autoptr(HepaCliProgress) progress = NULL;
  GThreadPool *pool;
  gint64 total, done = 0, t0;
  const GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, N_("Folder to write into (created)"),
      N_("DIR") },
    { "per-class", 'n', 0, G_OPTION_ARG_INT, &per_class, N_("Images per class"), N_("N") },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, N_("Seed (default 1); equal seeds give equal "
                                                     "images"), N_("S") },
    { "cine", 0, 0, G_OPTION_ARG_INT, &cine, N_("Frames per image: a cine with a slow probe "
                                                 "sweep (default 1, DICOM only)"), N_("FRAMES") },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, N_("Image size (default 640x480)"), N_("WxH") },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, N_("dicom (default) or png"),
      N_("FORMAT") },
    { "probe", 0, 0, G_OPTION_ARG_STRING, &probe, N_("curved (default), linear or mixed"),
      N_("PROBE") },
    { "contact-sheet", 0, 0, G_OPTION_ARG_FILENAME, &sheet_path,
      N_("Also write a PNG with a few examples of each class"), N_("FILE") },
    { "examples", 0, 0, G_OPTION_ARG_INT, &examples,
      N_("Examples per class on the contact sheet (default 4)"), N_("K") },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &threads, N_("Worker threads (default: cores + 2)"),
      N_("T") },
    { NULL },
  };

  if (!hepa_cli_parse ("synth", "",
                       _("Generate synthetic B-mode liver phantoms of the five default classes "
                         "(non_fll, cyst, hemangioma, ffs, hcc) as DICOM or PNG files named "
                         "<class>-<NNNN>, each with a ground-truth sidecar <file>.hepascope.json. "
                         "The images are SYNTHETIC: for testing, teaching and demonstrations."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return hepa_cli_failf (argv[1], _("unexpected argument (see --help)"));
  if (out_dir == NULL)
    return hepa_cli_failf (NULL, _("synth: no output folder (use --out DIR)"));
  if (per_class < 1 || per_class > 100000)
    return hepa_cli_failf (NULL, _("synth: --per-class must be between 1 and 100000"));
  if (seed < 0)
    return hepa_cli_failf (NULL, _("synth: --seed must not be negative"));
  if (cine < 1 || cine > 1000)
    return hepa_cli_failf (NULL, _("synth: --cine must be between 1 and 1000 frames"));
  if (examples < 1 || examples > 16)
    return hepa_cli_failf (NULL, _("synth: --examples must be between 1 and 16"));
  if (threads < 0 || threads > 256)
    return hepa_cli_failf (NULL, _("synth: --threads must be between 1 and 256"));

  run.width = 640;
  run.height = 480;
  if (size != NULL && !parse_size (size, &run.width, &run.height))
    return hepa_cli_failf (size, _("not a size WxH between 64x64 and 4096x4096"));
  if (format == NULL || g_ascii_strcasecmp (format, "dicom") == 0)
    run.png = FALSE;
  else if (g_ascii_strcasecmp (format, "png") == 0)
    run.png = TRUE;
  else
    return hepa_cli_failf (format, _("unknown format (use dicom or png)"));
  if (run.png && cine > 1)
    return hepa_cli_failf (NULL, _("synth: a cine needs --format dicom"));
  if (probe == NULL || g_ascii_strcasecmp (probe, "curved") == 0)
    run.probe = PROBE_CURVED;
  else if (g_ascii_strcasecmp (probe, "linear") == 0)
    run.probe = PROBE_LINEAR;
  else if (g_ascii_strcasecmp (probe, "mixed") == 0)
    run.probe = PROBE_MIXED;
  else
    return hepa_cli_failf (probe, _("unknown probe (use curved, linear or mixed)"));
  if ((guint64) run.width * run.height * cine > G_MAXUINT32 / 2)
    return hepa_cli_failf (NULL, _("synth: %d frames of %dx%d are too large for one file"),
                           cine, run.width, run.height);

  if (g_mkdir_with_parents (out_dir, 0755) != 0)
    {
      int errsv = errno;

      return hepa_cli_failf (out_dir, "%s", g_strerror (errsv));
    }

  run.out_dir = out_dir;
  run.seed = (guint64) seed;
  run.per_class = per_class;
  run.n_frames = (guint) cine;
  run.study_uid = hepa_synth_uid (run.seed, "study", 0);
  run.results = g_async_queue_new ();
  if (sheet_path != NULL)
    sheet_init (&run, MIN (examples, per_class));

  /* Every file is fsync'ed before its rename; two workers more than cores keep the cores busy
   * while others wait on the disk. */
  if (threads == 0)
    threads = (int) g_get_num_processors () + 2;
  total = (gint64) per_class * HEPA_SYNTH_N_CLASSES;
  pool = g_thread_pool_new (worker, &run, threads, TRUE, NULL);
  for (gint64 job = 0; job < total; job++)
    g_thread_pool_push (pool, GUINT_TO_POINTER ((guint) job + 1), NULL);

  t0 = g_get_monotonic_time ();
  progress = hepa_cli_progress_new ("synth", total);
  while (done < total)
    {
      JobResult *result = g_async_queue_pop (run.results);

      done++;
      if (result->error != NULL && first_error == NULL)
        first_error = g_steal_pointer (&result->error);
      g_clear_error (&result->error);
      g_free (result);
      if (first_error == NULL)
        hepa_cli_progress_update (progress, done, NULL);
    }
  g_thread_pool_free (pool, FALSE, TRUE);
  g_clear_pointer (&progress, hepa_cli_progress_free);
  g_async_queue_unref (run.results);

  if (first_error == NULL && sheet_path != NULL
      && !hepa_png_write_rgb (sheet_path, run.sheet_w, run.sheet_h, run.sheet, &first_error))
    g_prefix_error (&first_error, "%s: ", sheet_path);
  g_free (run.sheet);
  g_free (run.study_uid);
  if (first_error != NULL)
    return hepa_cli_fail (NULL, first_error);

  {
    double seconds = (g_get_monotonic_time () - t0) / 1e6;

    g_print (_("Wrote %lld synthetic images to %s in %.1f s (%.1f images/s, %d threads)\n"),
             (long long) total, out_dir, seconds, total / MAX (seconds, 1e-9), threads);
  }
  return 0;
}
