/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The DICOM loader against fixtures written at test time by DCMTK's encoders (through
 * hepa-test-dicom.cc) and command-line tools: every photometric x every codec, compared pixel by
 * pixel with what went in; lazy cine decoding; the writer's calibration round trip; bad input. */
#include "config.h"

#include "hepa-error.h"
#include "hepa-image.h"
#include "dicom/hepa-dicom-writer.h"

#include "hepa-gen.h"
#include "hepa-test-dicom.h"
#include "hepa-test-utils.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmpdir;

static char *
find_bytes (char       *hay,
            gsize       len,
            const char *needle,
            gsize       n)
{
  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (hay + i, needle, n) == 0)
      return hay + i;
  return NULL;
}

/* ---- Sources ----------------------------------------------------------------------------- */

typedef enum
{
  SRC_MONO8,
  SRC_MONO12,      /* 16 allocated, 12 stored, unsigned, no window: min/max VOI */
  SRC_MONO12S,     /* signed, rescale 2 / -100, window */
  SRC_MONO1,       /* MONOCHROME1, 8 bits */
  SRC_MONO_HB,     /* 16 allocated, 10 stored at high bit 13 (shifted) */
  SRC_MONO_MLUT,   /* 12 bits through a Modality LUT Sequence (non-linear, first mapped 100) */
  SRC_RGB0,
  SRC_RGB1,
  SRC_YBR_FULL0,
  SRC_YBR_FULL1,
  SRC_YBR_422,
  SRC_YBR_PARTIAL_422,
  SRC_PAL8,        /* 8-bit indices, 256 entries of 16 bits */
  SRC_PAL16,       /* 16-bit indices, 3000 entries starting at 100 */
  SRC_PAL_SEG,     /* segmented 16-bit palette */
  SRC_PAL_PACKED,  /* 8-bit entries packed two per word */
  SRC_N
} Source;

static const char *source_names[SRC_N] = {
  "mono8", "mono12", "mono12s", "mono1", "mono-highbit", "mono-modality-lut", "rgb-planar0",
  "rgb-planar1",
  "ybr-full-planar0", "ybr-full-planar1", "ybr-full-422", "ybr-partial-422", "palette8",
  "palette16", "palette-segmented", "palette-8bit-packed",
};

typedef struct
{
  HepaTestDicom  spec;
  guint8        *pixels;      /* as stored */
  gsize          n_bytes;
  /* What the loader must return, per frame: RGB8 or GRAY16. */
  guint8        *expected;
  gsize          frame_bytes;
  guint16       *palette[3];
  guint16       *modality_lut;
  gsize          palette_words;
  double         window_center;
  double         window_width;
} Fixture;

static void
fixture_free (Fixture *f)
{
  g_free (f->pixels);
  g_free (f->expected);
  for (int c = 0; c < 3; c++)
    g_free (f->palette[c]);
  g_free (f->modality_lut);
  g_free (f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fixture, fixture_free)

static guint8
clamp8 (double v)
{
  v = round (v);
  return (guint8) (v < 0 ? 0 : v > 255 ? 255 : v);
}

static void
ybr_to_rgb_ref (int      y,
                int      cb,
                int      cr,
                gboolean partial,
                guint8  *rgb)
{
  double Y = y, B = cb - 128.0, R = cr - 128.0;

  if (partial)
    {
      Y = 255.0 / 219.0 * (Y - 16);
      rgb[0] = clamp8 (Y + 255.0 / 224.0 * 1.402 * R);
      rgb[1] = clamp8 (Y - 255.0 / 224.0 * (0.114 * 1.772 / 0.587 * B + 0.299 * 1.402 / 0.587 * R));
      rgb[2] = clamp8 (Y + 255.0 / 224.0 * 1.772 * B);
    }
  else
    {
      rgb[0] = clamp8 (Y + 1.402 * R);
      rgb[1] = clamp8 (Y - 0.114 * 1.772 / 0.587 * B - 0.299 * 1.402 / 0.587 * R);
      rgb[2] = clamp8 (Y + 1.772 * B);
    }
}

/* A smooth picture (lossy codecs keep it) plus optional noise (lossless must keep that too). */
static int
pattern (int      x,
         int      y,
         int      frame,
         int      channel,
         int      max,
         GRand   *noise)
{
  double v = 0.5 + 0.35 * sin ((x + 3 * frame) / 9.0 + channel) * cos ((y - 2 * frame) / 7.0);

  v += 0.1 * (double) x / 64.0;
  if (noise != NULL)
    v += g_rand_double_range (noise, -0.04, 0.04);
  v = CLAMP (v, 0.0, 1.0);
  return (int) lround (v * max);
}

static Fixture *
make_source (Source   src,
             gboolean noisy,
             int      width,
             int      height,
             int      frames)
{
  Fixture *f = g_new0 (Fixture, 1);
  HepaTestDicom *s = &f->spec;
  g_autoptr(GRand) rand = g_rand_new_with_seed (42 + src);
  GRand *noise = noisy ? rand : NULL;
  gsize n = (gsize) width * height;

  s->width = width;
  s->height = height;
  s->frames = frames;
  s->samples = 1;
  s->bits_allocated = 8;
  s->bits_stored = 8;
  s->high_bit = 7;
  s->planar = -1;

  switch (src)
    {
    case SRC_MONO8:
    case SRC_MONO1:
      s->photometric = src == SRC_MONO8 ? "MONOCHROME2" : "MONOCHROME1";
      f->n_bytes = n * frames;
      f->pixels = g_malloc (f->n_bytes);
      f->frame_bytes = n * 2;
      f->expected = g_malloc (f->frame_bytes * frames);
      for (int k = 0; k < frames; k++)
        for (gsize i = 0; i < n; i++)
          {
            int v = pattern (i % width, i / width, k, 0, 255, noise);

            f->pixels[k * n + i] = v;
            ((guint16 *) f->expected)[k * n + i] = src == SRC_MONO8 ? v : 255 - v;
          }
      f->window_center = 128;
      f->window_width = 256;
      break;

    case SRC_MONO12:
    case SRC_MONO12S:
    case SRC_MONO_HB:
      {
        gboolean is_signed = src == SRC_MONO12S;
        int bits = src == SRC_MONO_HB ? 10 : 12;
        int shift = src == SRC_MONO_HB ? 4 : 0;

        s->photometric = "MONOCHROME2";
        s->bits_allocated = 16;
        s->bits_stored = bits;
        s->high_bit = bits - 1 + shift;
        s->pixel_representation = is_signed;
        if (is_signed)
          {
            s->slope = 2;
            s->intercept = -100;
            s->window_center = 300;
            s->window_width = 1000;
          }
        f->n_bytes = n * frames * 2;
        f->pixels = g_malloc (f->n_bytes);
        f->frame_bytes = n * 2;
        f->expected = g_malloc (f->frame_bytes * frames);
        for (int k = 0; k < frames; k++)
          for (gsize i = 0; i < n; i++)
            {
              int max = (1 << bits) - 1;
              int v = pattern (i % width, i / width, k, 0, max, noise);
              guint16 stored;
              int expected;

              if (is_signed)
                {
                  v -= 1 << (bits - 1);                 /* -2048..2047 */
                  stored = (guint16) (v & 0x0fff);       /* two's complement in 12 bits */
                  /* modality -4196..3994, shifted up by 4196 */
                  expected = v * 2 - 100 + 4196;
                }
              else
                {
                  /* Garbage in the unused high bits must be masked off. */
                  stored = (guint16) ((v << shift) | (src == SRC_MONO_HB ? 0x8000 | 0x3 : 0));
                  expected = v;
                }
              ((guint16 *) f->pixels)[k * n + i] = stored;
              ((guint16 *) f->expected)[k * n + i] = (guint16) expected;
            }
        if (is_signed)
          {
            f->window_center = 300 + 4196;
            f->window_width = 1000;
          }
        else
          f->window_width = -1;   /* min/max, checked separately */
      }
      break;

    case SRC_MONO_MLUT:
      s->photometric = "MONOCHROME2";
      s->bits_allocated = 16;
      s->bits_stored = 12;
      s->high_bit = 11;
      s->modality_lut_entries = 3000;
      s->modality_lut_first = 100;
      s->modality_lut_bits = 16;
      f->modality_lut = g_new (guint16, 3000);
      for (int e = 0; e < 3000; e++)
        f->modality_lut[e] = (guint16) ((guint32) e * e / 140);
      s->modality_lut_data = f->modality_lut;
      s->modality_lut_words = 3000;
      f->n_bytes = n * frames * 2;
      f->pixels = g_malloc (f->n_bytes);
      f->frame_bytes = n * 2;
      f->expected = g_malloc (f->frame_bytes * frames);
      for (int k = 0; k < frames; k++)
        for (gsize i = 0; i < n; i++)
          {
            int v = pattern (i % width, i / width, k, 0, 3400, noise);

            ((guint16 *) f->pixels)[k * n + i] = (guint16) v;
            ((guint16 *) f->expected)[k * n + i] = f->modality_lut[CLAMP (v - 100, 0, 2999)];
          }
      f->window_width = -1;
      break;

    case SRC_RGB0:
    case SRC_RGB1:
      s->photometric = "RGB";
      s->samples = 3;
      s->planar = src == SRC_RGB1;
      f->n_bytes = n * 3 * frames;
      f->pixels = g_malloc (f->n_bytes);
      f->frame_bytes = n * 3;
      f->expected = g_malloc (f->frame_bytes * frames);
      for (int k = 0; k < frames; k++)
        for (gsize i = 0; i < n; i++)
          for (int c = 0; c < 3; c++)
            {
              int v = pattern (i % width, i / width, k, c, 255, noise);
              gsize at = s->planar ? k * n * 3 + c * n + i : (k * n + i) * 3 + c;

              f->pixels[at] = v;
              f->expected[(k * n + i) * 3 + c] = v;
            }
      break;

    case SRC_YBR_FULL0:
    case SRC_YBR_FULL1:
      s->photometric = "YBR_FULL";
      s->samples = 3;
      s->planar = src == SRC_YBR_FULL1;
      f->n_bytes = n * 3 * frames;
      f->pixels = g_malloc (f->n_bytes);
      f->frame_bytes = n * 3;
      f->expected = g_malloc (f->frame_bytes * frames);
      for (int k = 0; k < frames; k++)
        for (gsize i = 0; i < n; i++)
          {
            int ybr[3];

            ybr[0] = pattern (i % width, i / width, k, 0, 255, noise);
            ybr[1] = 128 + (pattern (i % width, i / width, k, 1, 255, noise) - 128) / 3;
            ybr[2] = 128 + (pattern (i % width, i / width, k, 2, 255, noise) - 128) / 3;
            for (int c = 0; c < 3; c++)
              f->pixels[s->planar ? k * n * 3 + c * n + i : (k * n + i) * 3 + c] = ybr[c];
            ybr_to_rgb_ref (ybr[0], ybr[1], ybr[2], FALSE, f->expected + (k * n + i) * 3);
          }
      break;

    case SRC_YBR_422:
    case SRC_YBR_PARTIAL_422:
      {
        gboolean partial = src == SRC_YBR_PARTIAL_422;

        s->photometric = partial ? "YBR_PARTIAL_422" : "YBR_FULL_422";
        s->samples = 3;
        s->planar = 0;
        f->n_bytes = n * 2 * frames;
        f->pixels = g_malloc (f->n_bytes);
        f->frame_bytes = n * 3;
        f->expected = g_malloc (f->frame_bytes * frames);
        for (int k = 0; k < frames; k++)
          for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x += 2)
              {
                int lo = partial ? 16 : 0, span = partial ? 219 : 255;
                int y1 = lo + pattern (x, y, k, 0, span, noise);
                int y2 = lo + pattern (x + 1, y, k, 0, span, noise);
                int cb = 128 + (pattern (x, y, k, 1, 255, NULL) - 128) / 3;
                int cr = 128 + (pattern (x, y, k, 2, 255, NULL) - 128) / 3;
                guint8 *d = f->pixels + k * n * 2 + ((gsize) y * width + x) * 2;
                guint8 *e = f->expected + (k * n + (gsize) y * width + x) * 3;

                d[0] = y1, d[1] = y2, d[2] = cb, d[3] = cr;
                ybr_to_rgb_ref (y1, cb, cr, partial, e);
                ybr_to_rgb_ref (y2, cb, cr, partial, e + 3);
              }
      }
      break;

    case SRC_PAL8:
    case SRC_PAL16:
    case SRC_PAL_SEG:
    case SRC_PAL_PACKED:
      {
        int entries = src == SRC_PAL16 ? 3000 : 256;
        int first = src == SRC_PAL16 ? 100 : 0;

        s->photometric = "PALETTE COLOR";
        s->palette_entries = entries;
        s->palette_first = first;
        s->palette_bits = src == SRC_PAL_PACKED ? 8 : 16;
        if (src == SRC_PAL16)
          {
            s->bits_allocated = 16;
            s->bits_stored = 16;
            s->high_bit = 15;
          }
        /* The full table as 8-bit colours, to compute what the loader must show. */
        {
          g_autofree guint8 *table = g_malloc ((gsize) entries * 3);

          for (int e = 0; e < entries; e++)
            {
              table[3 * e] = (guint8) (e * 255 / (entries - 1));
              table[3 * e + 1] = (guint8) (255 - e * 255 / (entries - 1));
              table[3 * e + 2] = (guint8) ((e * 7) & 0xff);
            }
          if (src == SRC_PAL_SEG)
            {
              /* Segments: red and blue one discrete value then a linear ramp to 0xffff,
               * green discrete. */
              for (int e = 0; e < entries; e++)
                {
                  table[3 * e] = (guint8) lround (e * 255.0 / 255.0);
                  table[3 * e + 1] = (guint8) (e < 128 ? 200 : 50);
                  table[3 * e + 2] = table[3 * e];
                }
              f->palette[0] = g_new0 (guint16, 16);
              /* discrete: 1 value; linear: 255 values up to 0xffff */
              f->palette[0][0] = 0, f->palette[0][1] = 1, f->palette[0][2] = 0;
              f->palette[0][3] = 1, f->palette[0][4] = 255, f->palette[0][5] = 0xffff;
              s->palette_words[0] = 6;
              f->palette[1] = g_new0 (guint16, 300);
              f->palette[1][0] = 0, f->palette[1][1] = 256;
              for (int e = 0; e < 256; e++)
                f->palette[1][2 + e] = (guint16) (table[3 * e + 1] * 257);
              s->palette_words[1] = 258;
              f->palette[2] = g_new0 (guint16, 16);
              memcpy (f->palette[2], f->palette[0], 6 * sizeof (guint16));
              s->palette_words[2] = 6;
              s->palette_segmented = 1;
            }
          else
            for (int c = 0; c < 3; c++)
              {
                if (src == SRC_PAL_PACKED)
                  {
                    f->palette[c] = g_new0 (guint16, entries / 2);
                    for (int e = 0; e < entries; e++)
                      f->palette[c][e / 2] |= (guint16) (table[3 * e + c] << ((e % 2) * 8));
                    s->palette_words[c] = entries / 2;
                  }
                else
                  {
                    f->palette[c] = g_new0 (guint16, entries);
                    for (int e = 0; e < entries; e++)
                      f->palette[c][e] = (guint16) (table[3 * e + c] * 257);
                    s->palette_words[c] = entries;
                  }
              }
          for (int c = 0; c < 3; c++)
            s->palette_data[c] = f->palette[c];

          f->n_bytes = n * frames * (s->bits_allocated / 8);
          f->pixels = g_malloc (f->n_bytes);
          f->frame_bytes = n * 3;
          f->expected = g_malloc (f->frame_bytes * frames);
          for (int k = 0; k < frames; k++)
            for (gsize i = 0; i < n; i++)
              {
                int v, e;

                if (src == SRC_PAL16)
                  {
                    /* Below first, inside and above the table. */
                    v = pattern (i % width, i / width, k, 0, 3300, noise);
                    ((guint16 *) f->pixels)[k * n + i] = v;
                  }
                else
                  {
                    v = pattern (i % width, i / width, k, 0, 255, noise);
                    f->pixels[k * n + i] = v;
                  }
                e = CLAMP (v - first, 0, entries - 1);
                memcpy (f->expected + (k * n + i) * 3, table + 3 * e, 3);
              }
        }
      }
      break;

    case SRC_N:
    default:
      g_assert_not_reached ();
    }
  s->pixels = f->pixels;
  s->n_bytes = f->n_bytes;
  return f;
}

static gboolean
source_is_color (Source src)
{
  return src >= SRC_RGB0;
}

/* ---- Codec matrix ------------------------------------------------------------------------ */

typedef struct
{
  Source      src;
  const char *xfer;
  gboolean    lossy;
  gboolean    no_meta;
} CodecCase;

static char *
fixture_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static void
write_fixture (const Fixture *f,
               const char    *path)
{
  char msg[256] = "";
  int rc = hepa_test_dicom_write (path, &f->spec, msg, sizeof msg);

  if (rc != 0)
    g_error ("fixture %s: %s", path, msg);
}

static void
compare_frame (const Fixture   *f,
               const HepaFrame *frame,
               int              k,
               gboolean         lossy,
               int              tolerance)
{
  int w = f->spec.width, h = f->spec.height;
  gsize n = (gsize) w * h;
  double sum = 0;
  int worst = 0, worst_i = -1;

  g_assert_cmpint (frame->width, ==, w);
  g_assert_cmpint (frame->height, ==, h);
  if (frame->format == HEPA_PIXEL_RGB8)
    {
      const guint8 *e = f->expected + k * f->frame_bytes;

      for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++)
          {
            int d = abs ((int) frame->data[y * frame->stride + x] - (int) e[y * w * 3 + x]);

            sum += d;
            if (d > worst)
              worst = d, worst_i = y * w * 3 + x;
          }
      n *= 3;
    }
  else
    {
      const guint16 *e = (const guint16 *) (f->expected + k * f->frame_bytes);

      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            const guint16 *row = (const guint16 *) (frame->data + y * frame->stride);
            int d = abs ((int) row[x] - (int) e[y * w + x]);

            sum += d;
            if (d > worst)
              worst = d, worst_i = y * w + x;
          }
    }
  if (lossy)
    {
      /* JPEG at quality 95 with 4:2:2 chroma on a smooth picture. */
      g_assert_cmpfloat (sum / n, <, 2.5);
      g_assert_cmpint (worst, <=, 40);
    }
  else if (worst > tolerance)
    g_error ("frame %d: sample %d differs by %d (tolerance %d)", k, worst_i, worst, tolerance);
}

static void
test_codec (gconstpointer data)
{
  const CodecCase *c = data;
  /* DCMTK 3.6.7's JPEG and JPEG-LS encoders scramble multi-frame planar-configuration-1
   * input (dcmdjpeg decodes those files exactly as we do), so those fixtures hold one frame. */
  int frames = (c->src == SRC_RGB1 || c->src == SRC_YBR_FULL1)
               && g_str_has_prefix (c->xfer, "jpeg") ? 1 : 2;
  g_autoptr(Fixture) f = make_source (c->src, !c->lossy, 34, 26, frames);
  g_autofree char *name = g_strdup_printf ("%s-%s%s.dcm", source_names[c->src], c->xfer,
                                           c->no_meta ? "-nometa" : "");
  g_autofree char *path = fixture_path (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;
  /* YCbCr -> RGB rounding differs by one between our float and the reference formula. */
  int tolerance = c->src >= SRC_YBR_FULL0 && c->src <= SRC_YBR_PARTIAL_422 ? 1 : 0;

  f->spec.xfer = c->xfer;
  f->spec.no_meta = c->no_meta;
  write_fixture (f, path);

  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
  g_assert_cmpint (hepa_image_get_width (image), ==, 34);
  g_assert_cmpint (hepa_image_get_height (image), ==, 26);
  g_assert_cmpuint (hepa_image_get_n_frames (image), ==, frames);
  g_assert_cmpint (hepa_image_get_format (image), ==,
                   source_is_color (c->src) ? HEPA_PIXEL_RGB8 : HEPA_PIXEL_GRAY16);
  g_assert_cmpstr (hepa_image_get_info (image)->format, ==, "DICOM");
  for (int k = frames - 1; k >= 0; k--)
    {
      const HepaFrame *frame = hepa_image_get_frame (image, k, &error);

      g_assert_no_error (error);
      compare_frame (f, frame, k, c->lossy, tolerance);
      if (g_str_equal (c->xfer, "jpeg-baseline") || g_str_equal (c->xfer, "jpeg-extended"))
        {
          /* libjpeg-turbo decodes 8-bit JPEG; DCMTK's own decoder must agree. */
          g_autoptr(HepaImage) other = NULL;
          const HepaFrame *ref;

          g_setenv ("HEPASCOPE_DICOM_JPEG", "dcmtk", TRUE);
          other = hepa_image_open (path, &error);
          g_unsetenv ("HEPASCOPE_DICOM_JPEG");
          g_assert_no_error (error);
          ref = hepa_image_get_frame (other, k, &error);
          g_assert_no_error (error);
          g_assert_cmpmem (frame->data, frame->stride * frame->height, ref->data,
                           ref->stride * ref->height);
        }
      if (frame->format == HEPA_PIXEL_GRAY16 && f->window_width > 0 && !c->lossy)
        {
          g_assert_cmpfloat (frame->window_center, ==, f->window_center);
          g_assert_cmpfloat (frame->window_width, ==, f->window_width);
        }
    }
}

static void
test_min_max_window (void)
{
  g_autoptr(Fixture) f = make_source (SRC_MONO12, TRUE, 20, 10, 1);
  g_autofree char *path = fixture_path ("minmax.dcm");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;
  const HepaFrame *frame;
  guint16 lo = G_MAXUINT16, hi = 0;
  guint8 rgb[20 * 10 * 3];
  int n_black = 0, n_white = 0;

  f->spec.xfer = "explicit-le";
  write_fixture (f, path);
  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  frame = hepa_image_get_frame (image, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (frame->bits_stored, ==, 12);
  for (int i = 0; i < 200; i++)
    {
      guint16 v = ((const guint16 *) frame->data)[i];

      lo = MIN (lo, v);
      hi = MAX (hi, v);
    }
  g_assert_cmpfloat (frame->window_width, ==, hi - lo + 1);
  hepa_frame_render_rgb (frame, 0, 0, rgb);
  for (int i = 0; i < 200; i++)
    {
      n_black += rgb[3 * i] == 0;
      n_white += rgb[3 * i] == 255;
    }
  /* Default VOI spans exactly the values present. */
  g_assert_cmpint (n_black, >=, 1);
  g_assert_cmpint (n_white, >=, 1);
}

/* ---- Cine -------------------------------------------------------------------------------- */

static void
test_cine_lazy (gconstpointer data)
{
  const char *xfer = data;
  g_autoptr(Fixture) f = make_source (SRC_RGB0, FALSE, 64, 48, 12);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;
  const HepaFrame *frame;

  g_autofree char *name = g_strdup_printf ("cine-%s.dcm", xfer);

  path = fixture_path (name);
  f->spec.xfer = xfer;
  write_fixture (f, path);
  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hepa_image_get_n_frames (image), ==, 12);
  g_assert_cmpuint (hepa_image_get_cached_bytes (image), ==, 0);

  frame = hepa_image_get_frame (image, 7, &error);
  g_assert_no_error (error);
  for (guint k = 0; k < 12; k++)
    g_assert_true (hepa_image_is_frame_cached (image, k) == (k == 7));
  g_assert_cmpuint (hepa_image_get_cached_bytes (image), <, 64 * 48 * 3 + 1024);
  compare_frame (f, frame, 7, g_str_has_prefix (xfer, "jpeg-baseline"), 0);
  /* The frame is cached: asking again returns the same memory. */
  g_assert_true (hepa_image_get_frame (image, 7, NULL) == frame);

  /* Frames after and before, out of order. */
  compare_frame (f, hepa_image_get_frame (image, 11, &error), 11,
                 g_str_has_prefix (xfer, "jpeg-baseline"), 0);
  compare_frame (f, hepa_image_get_frame (image, 2, &error), 2,
                 g_str_has_prefix (xfer, "jpeg-baseline"), 0);
  g_assert_no_error (error);

  g_assert_null (hepa_image_get_frame (image, 12, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
}

typedef struct
{
  HepaImage *image;
  Fixture   *fixture;
  int        start;
} ThreadData;

static gpointer
decode_thread (gpointer data)
{
  ThreadData *t = data;

  for (int i = 0; i < 12; i++)
    {
      int k = (t->start + i * 5) % 12;
      const HepaFrame *frame = hepa_image_get_frame (t->image, k, NULL);

      g_assert_nonnull (frame);
      compare_frame (t->fixture, frame, k, FALSE, 0);
    }
  return NULL;
}

static void
test_cine_threads (void)
{
  g_autoptr(Fixture) f = make_source (SRC_YBR_FULL0, FALSE, 64, 48, 12);
  g_autofree char *path = fixture_path ("cine-threads.dcm");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;
  GThread *threads[4];
  ThreadData data[4];

  f->spec.xfer = "rle";
  write_fixture (f, path);
  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 4; i++)
    {
      data[i] = (ThreadData) { image, f, i * 3 };
      threads[i] = g_thread_new ("decode", decode_thread, &data[i]);
    }
  for (int i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  for (guint k = 0; k < 12; k++)
    g_assert_true (hepa_image_is_frame_cached (image, k));
}

/* ---- Writer ------------------------------------------------------------------------------ */

static void
test_writer_round_trip (void)
{
  g_autofree char *path = fixture_path ("written.dcm");
  int w = 120, h = 90, frames = 3;
  g_autofree guint8 *pixels = g_malloc ((gsize) w * h * 3 * frames);
  HepaDicomUsParams params = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;
  const HepaImageInfo *info;
  double mx, my;

  for (gsize i = 0; i < (gsize) w * h * 3 * frames; i++)
    pixels[i] = (guint8) (i * 31 + i / 7);
  params.width = w;
  params.height = h;
  params.n_frames = frames;
  params.rgb = TRUE;
  params.pixels = pixels;
  params.mm_per_pixel_x = 0.3;
  params.mm_per_pixel_y = 0.35;
  params.region = (HepaRect) { 10, 5, 100, 80 };
  params.frame_time_ms = 40;
  params.series_description = "phantom cine";
  params.image_comments = "synthetic";
  params.patient_name = "Doe^Jane";
  params.patient_id = "P-123";
  params.sop_uid = "1.2.3.4.5";
  params.manufacturer = "Test Maker";
  g_assert_true (hepa_dicom_write_us (path, &params, &error));
  g_assert_no_error (error);

  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  info = hepa_image_get_info (image);
  g_assert_cmpstr (info->sop_class_uid, ==, "1.2.840.10008.5.1.4.1.1.3.1");
  g_assert_cmpstr (info->sop_uid, ==, "1.2.3.4.5");
  g_assert_true (g_str_has_prefix (info->study_uid, "1.2.276.0.7230010.3"));
  g_assert_cmpstr (info->transfer_syntax_uid, ==, "1.2.840.10008.1.2.1");
  g_assert_cmpstr (info->modality, ==, "US");
  g_assert_cmpstr (info->manufacturer, ==, "Test Maker");
  g_assert_cmpstr (info->patient_name, ==, "Doe^Jane");
  g_assert_cmpstr (info->patient_id, ==, "P-123");
  g_assert_cmpstr (info->series_description, ==, "phantom cine");
  g_assert_cmpstr (info->image_comments, ==, "synthetic");
  g_assert_cmpstr (info->photometric, ==, "RGB");
  g_assert_cmpint (info->burned_in_annotation, ==, 0);
  g_assert_cmpfloat_with_epsilon (info->frame_time_ms, 40, 1e-9);
  g_assert_cmpfloat_with_epsilon (info->cine_rate, 25, 1e-9);
  g_assert_cmpuint (info->n_regions, ==, 1);
  g_assert_cmpint (info->regions[0].x0, ==, 10);
  g_assert_cmpint (info->regions[0].y0, ==, 5);
  g_assert_cmpint (info->regions[0].x1, ==, 109);
  g_assert_cmpint (info->regions[0].y1, ==, 84);
  g_assert_cmpint (info->regions[0].spatial_format, ==, 1);
  g_assert_cmpint (info->regions[0].units_x, ==, 3);
  g_assert_cmpfloat_with_epsilon (info->regions[0].delta_x, 0.03, 1e-12);
  g_assert_cmpfloat_with_epsilon (info->pixel_spacing_mm[0], 0.3, 1e-12);
  g_assert_cmpfloat_with_epsilon (info->pixel_spacing_mm[1], 0.35, 1e-12);
  g_assert_true (hepa_image_get_spacing_at (image, 50, 40, &mx, &my));
  g_assert_cmpfloat_with_epsilon (mx, 0.3, 1e-12);
  g_assert_cmpfloat_with_epsilon (my, 0.35, 1e-12);
  g_assert_false (hepa_image_get_spacing_at (image, 5, 40, &mx, &my));
  g_assert_false (hepa_image_get_spacing_at (image, 50, 88, &mx, &my));
  g_assert_cmpuint (hepa_image_get_n_frames (image), ==, 3);
  for (int k = 0; k < frames; k++)
    {
      const HepaFrame *frame = hepa_image_get_frame (image, k, &error);

      g_assert_no_error (error);
      g_assert_cmpmem (frame->data, (gsize) w * h * 3, pixels + (gsize) k * w * h * 3,
                       (gsize) w * h * 3);
    }

  /* A gray single frame without calibration. */
  g_clear_pointer (&image, hepa_image_unref);
  params = (HepaDicomUsParams) { 0 };
  params.width = 7;
  params.height = 5;
  params.n_frames = 1;
  params.pixels = pixels;
  g_assert_true (hepa_dicom_write_us (path, &params, &error));
  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  info = hepa_image_get_info (image);
  g_assert_cmpstr (info->sop_class_uid, ==, "1.2.840.10008.5.1.4.1.1.6.1");
  g_assert_cmpstr (info->photometric, ==, "MONOCHROME2");
  g_assert_cmpuint (info->n_regions, ==, 0);
  g_assert_cmpfloat (info->pixel_spacing_mm[0], ==, 0);
  g_assert_false (hepa_image_get_spacing_at (image, 1, 1, &mx, &my));
  {
    const HepaFrame *frame = hepa_image_get_frame (image, 0, &error);

    g_assert_no_error (error);
    for (int i = 0; i < 35; i++)
      g_assert_cmpuint (((const guint16 *) frame->data)[i], ==, pixels[i]);
  }

  /* Invalid sizes are refused and leave nothing behind. */
  params.width = 0;
  g_assert_false (hepa_dicom_write_us (path, &params, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
}

/* ---- Bad input --------------------------------------------------------------------------- */

static void
expect_open_error (const char *path,
                   int         code,
                   const char *phrase)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = hepa_image_open (path, &error);

  if (image != NULL)
    {
      /* Some damage only shows when the pixels are decoded. */
      for (guint k = 0; k < hepa_image_get_n_frames (image) && error == NULL; k++)
        hepa_image_get_frame (image, k, &error);
    }
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, HEPA_ERROR, code);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_null (strchr (error->message, '\n'));
  if (phrase != NULL && strstr (error->message, phrase) == NULL)
    g_error ("“%s” does not say “%s”", error->message, phrase);
}

static void
test_bad_truncated (void)
{
  g_autoptr(Fixture) f = make_source (SRC_RGB0, TRUE, 64, 48, 2);
  g_autofree char *path = fixture_path ("truncated.dcm");
  g_autofree char *data = NULL;
  gsize len;

  f->spec.xfer = "explicit-le";
  write_fixture (f, path);
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_true (g_file_set_contents (path, data, len - 5000, NULL));
  expect_open_error (path, HEPA_ERROR_FORMAT, "truncated");

  /* Cut inside the header. */
  g_assert_true (g_file_set_contents (path, data, 200, NULL));
  expect_open_error (path, HEPA_ERROR_FORMAT, NULL);

  /* Compressed, cut inside a fragment. */
  f->spec.xfer = "rle";
  write_fixture (f, path);
  g_clear_pointer (&data, g_free);
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_true (g_file_set_contents (path, data, len - 300, NULL));
  expect_open_error (path, HEPA_ERROR_FORMAT, NULL);
}

static void
test_bad_not_dicom (void)
{
  g_autofree char *path = fixture_path ("notes.txt");
  g_autofree char *empty = fixture_path ("empty.dcm");
  g_autofree char *missing = fixture_path ("missing.dcm");
  g_autofree char *junk = fixture_path ("junk.dcm");
  guint8 bytes[4096];
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);

  g_assert_true (g_file_set_contents (path, "Liver ultrasound notes\nnothing else\n", -1, NULL));
  expect_open_error (path, HEPA_ERROR_FORMAT, "not a DICOM file");
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  expect_open_error (empty, HEPA_ERROR_FORMAT, "empty");
  expect_open_error (missing, HEPA_ERROR_IO, NULL);
  expect_open_error (tmpdir, HEPA_ERROR_IO, "folder");
  for (gsize i = 0; i < sizeof bytes; i++)
    bytes[i] = g_rand_int (rand);
  g_assert_true (g_file_set_contents (junk, (char *) bytes, sizeof bytes, NULL));
  expect_open_error (junk, HEPA_ERROR_FORMAT, NULL);
}

static void
test_bad_header (void)
{
  g_autofree char *path = fixture_path ("bad.dcm");
  g_autoptr(Fixture) f = NULL;

  /* No pixel data. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.no_pixel_data = 1;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "no pixel data");
  g_clear_pointer (&f, fixture_free);

  /* Zero rows. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.height = 0;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "0 rows");
  g_clear_pointer (&f, fixture_free);

  /* Absurd rows x columns: refused by the size ceiling before any allocation. */
  f = make_source (SRC_RGB0, TRUE, 16, 16, 1);
  f->spec.width = 65535;
  f->spec.height = 65535;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_TOO_LARGE, "limit");
  g_clear_pointer (&f, fixture_free);

  /* Absurd number of frames for the data there is. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.frames = 99999;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "pixel data holds");
  f->spec.frames = 1000000000;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "out of range");
  g_clear_pointer (&f, fixture_free);

  /* Compressed data without a meta header: nothing says which codec. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.xfer = "rle";
  f->spec.no_meta = 1;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "meta header");
  g_clear_pointer (&f, fixture_free);

  /* Same for compressed data: more frames than fragments. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 2);
  f->spec.xfer = "rle";
  write_fixture (f, path);
  {
    /* Rewrite Number of Frames "2" -> "9" in place. */
    g_autofree char *data = NULL;
    gsize len;
    char *at;

    g_assert_true (g_file_get_contents (path, &data, &len, NULL));
    at = find_bytes (data, len, "\x28\x00\x08\x00IS\x02\x00" "2 ", 10);
    g_assert_nonnull (at);
    at[8] = '9';
    g_assert_true (g_file_set_contents (path, data, len, NULL));
  }
  expect_open_error (path, HEPA_ERROR_FORMAT, "fragments");
  g_clear_pointer (&f, fixture_free);

  /* Bits allocated 16 over 8-bit data: the pixel data is half as long as it must be. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.bits_allocated = 16;
  f->spec.bits_stored = 16;
  f->spec.high_bit = 15;
  f->spec.n_bytes = 16 * 16;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "pixel data holds");
  g_clear_pointer (&f, fixture_free);

  /* Odd length on 8-bit data is fine (padded); one byte short is not. */
  f = make_source (SRC_MONO8, TRUE, 3, 3, 1);
  write_fixture (f, path);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(HepaImage) image = hepa_image_open (path, &error);

    g_assert_no_error (error);
    g_assert_nonnull (hepa_image_get_frame (image, 0, &error));
    g_assert_no_error (error);
  }
  f->spec.n_bytes = 8;
  write_fixture (f, path);
  {
    /* DCMTK pads to 8 bytes: 8 < 9. */
    expect_open_error (path, HEPA_ERROR_FORMAT, "pixel data holds");
  }
  g_clear_pointer (&f, fixture_free);

  /* Bits stored above bits allocated, high bit outside. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.bits_stored = 12;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "bits stored");
  f->spec.bits_stored = 8;
  f->spec.high_bit = 9;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "high bit");
  g_clear_pointer (&f, fixture_free);

  /* Colour with one sample, monochrome with three. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.photometric = "RGB";
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "samples per pixel");
  f->spec.photometric = "HSV";
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_UNSUPPORTED, "HSV");
  g_clear_pointer (&f, fixture_free);

  /* A modality LUT shorter than its descriptor. */
  f = make_source (SRC_MONO_MLUT, TRUE, 16, 16, 1);
  f->spec.modality_lut_words = 10;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "broken modality LUT");
  g_clear_pointer (&f, fixture_free);

  /* 32 bits allocated. */
  f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  f->spec.bits_allocated = 32;
  f->spec.bits_stored = 32;
  f->spec.high_bit = 31;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_UNSUPPORTED, "32 bits");
}

static void
test_bad_palette (void)
{
  g_autofree char *path = fixture_path ("bad-palette.dcm");
  g_autoptr(Fixture) f = make_source (SRC_PAL8, TRUE, 16, 16, 1);
  static const guint16 seg_short[] = { 0, 300, 1, 2, 3 };
  static const guint16 seg_bad_op[] = { 0, 1, 5, 7, 255, 0 };
  static const guint16 seg_linear_first[] = { 1, 256, 65535 };
  static const guint16 seg_indirect[] = { 0, 1, 0, 2, 1, 100, 0 };

  /* Data shorter than the descriptor says. */
  f->spec.palette_words[1] = 10;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "broken palette");
  f->spec.palette_words[1] = 256;

  /* 12-bit entries. */
  f->spec.palette_bits = 12;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "broken palette");
  f->spec.palette_bits = 16;

  /* No table data at all. */
  f->spec.palette_data[2] = NULL;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "broken palette");

  /* No descriptors. */
  f->spec.palette_entries = 0;
  write_fixture (f, path);
  expect_open_error (path, HEPA_ERROR_FORMAT, "broken palette");
  f->spec.palette_entries = 256;
  f->spec.palette_data[2] = f->palette[2];

  /* Segmented tables that do not expand to 256 entries or use unknown opcodes. */
  f->spec.palette_segmented = 1;
  for (int i = 0; i < 4; i++)
    {
      const guint16 *seg[] = { seg_short, seg_bad_op, seg_linear_first, seg_indirect };
      gsize len[] = { G_N_ELEMENTS (seg_short), G_N_ELEMENTS (seg_bad_op),
                      G_N_ELEMENTS (seg_linear_first), G_N_ELEMENTS (seg_indirect) };

      for (int c = 0; c < 3; c++)
        {
          f->spec.palette_data[c] = seg[i];
          f->spec.palette_words[c] = len[i];
        }
      write_fixture (f, path);
      expect_open_error (path, HEPA_ERROR_FORMAT, "broken palette");
    }
}

/* A transfer syntax DCMTK parses but cannot decode: JPEG-LS relabelled as JPEG 2000. */
static void
test_unsupported_syntax (void)
{
  g_autofree char *path = fixture_path ("j2k.dcm");
  g_autoptr(Fixture) f = make_source (SRC_MONO8, TRUE, 16, 16, 1);
  g_autofree char *data = NULL;
  gsize len;
  char *at;

  f->spec.xfer = "jpegls-lossless";
  write_fixture (f, path);
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  at = find_bytes (data, len, "1.2.840.10008.1.2.4.80", 22);
  g_assert_nonnull (at);
  memcpy (at, "1.2.840.10008.1.2.4.90", 22);
  g_assert_true (g_file_set_contents (path, data, len, NULL));
  expect_open_error (path, HEPA_ERROR_DICOM_UNSUPPORTED,
                     "unsupported transfer syntax JPEG 2000 (Lossless only) "
                     "(1.2.840.10008.1.2.4.90)");
}

/* ---- Nesting, fragments, files that are not files (issue 19) ------------------------------ */

typedef struct
{
  HepaGenEncoding encoding;
  gboolean        undefined;
} NestCase;

static char *
write_generated (const char *name,
                 GBytes     *bytes)
{
  char *path = fixture_path (name);

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
                                      (gssize) g_bytes_get_size (bytes), NULL));
  return path;
}

/* Ten thousand nested sequences overflowed DCMTK's recursive reader (a segfault in the CLI, an
 * abort in the workbench); the file is refused with one line before DCMTK parses it, in every
 * encoding. Twenty levels still open, pixels intact. */
static void
test_nesting (gconstpointer data)
{
  const NestCase *c = data;
  g_autofree char *name = g_strdup_printf ("nest-%s-%s", hepa_gen_encoding_name (c->encoding),
                                           c->undefined ? "undefined" : "defined");
  g_autofree char *shallow_name = g_strconcat (name, "-20.dcm", NULL);
  g_autofree char *deep_name = g_strconcat (name, "-10000.dcm", NULL);
  g_autoptr(GBytes) shallow = hepa_gen_nested_dicom (20, c->encoding, c->undefined);
  g_autoptr(GBytes) deep = hepa_gen_nested_dicom (10000, c->encoding, c->undefined);
  g_autofree char *shallow_path = write_generated (shallow_name, shallow);
  g_autofree char *deep_path = write_generated (deep_name, deep);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = hepa_image_open (shallow_path, &error);
  const HepaFrame *frame;

  g_assert_no_error (error);
  g_assert_cmpint (hepa_image_get_width (image), ==, 8);
  frame = hepa_image_get_frame (image, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (((const guint16 *) frame->data)[9], ==, 9 * 4);

  expect_open_error (deep_path, HEPA_ERROR_FORMAT, "sequences nested deeper than 64 levels");
}

/* The same through the CLI: one line on stderr, exit status 1, no signal. */
static void
test_nesting_cli (void)
{
  g_autoptr(GBytes) deep = hepa_gen_nested_dicom (10000, HEPA_GEN_EXPLICIT_LE, TRUE);
  g_autofree char *path = write_generated ("nest-cli.dcm", deep);
  g_autofree char *png = fixture_path ("nest-cli.png");
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  const char *const commands[][6] = {
    { cli, "info", path, NULL },
    { cli, "render", path, "-o", png, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      int status = 0;

      g_assert_true (g_spawn_sync (NULL, (char **) commands[i], NULL, 0, NULL, NULL, &out, &err,
                                   &status, NULL));
      g_test_message ("%s: %s", commands[i][1], err);
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 1);
      g_assert_nonnull (strstr (err, "nested deeper than 64 levels"));
      g_assert_nonnull (strstr (err, path));
      g_assert_cmpint (strlen (err) - 1, ==, strchr (err, '\n') - err);
    }
}

/* 100,000 empty fragments in a 64 x 64 frame took 20 s (the shim fetched each fragment by
 * index from a linked list); now they are refused at once, and fetching stays linear. */
static void
test_many_fragments (void)
{
  g_autoptr(GBytes) bytes = hepa_gen_fragments_dicom (100000);
  g_autofree char *path = write_generated ("fragments.dcm", bytes);
  gint64 start = g_get_monotonic_time ();

  expect_open_error (path, HEPA_ERROR_FORMAT, "100000 compressed fragments for 1 frames");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
}

/* fuzz-dicom's finding in the nesting scan: a deflated data set whose stream ends a few bytes
 * into an element header made the scan spin for ever (the reader reported bytes already
 * buffered as new). Now DCMTK's own error, at once. */
static void
test_nesting_scan_short_deflate (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("HEPASCOPE_SOURCE_ROOT"), "tests", "fuzz",
                                            "seed-dicom", "hang-deflated-short-header.dcm",
                                            NULL);
  gint64 start = g_get_monotonic_time ();

  expect_open_error (path, HEPA_ERROR_FORMAT, "damaged DICOM file");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

/* A FIFO named as an image blocked the open for ever; a link to /dev/zero read without end. */
static void
test_not_regular (void)
{
  g_autofree char *fifo = fixture_path ("fifo.dcm");
  g_autofree char *zero = fixture_path ("zero.dcm");

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (symlink ("/dev/zero", zero), ==, 0);
  expect_open_error (fifo, HEPA_ERROR_IO, "Not a regular file");
  expect_open_error (zero, HEPA_ERROR_IO, "Not a regular file");
}

/* synth left its temporary files (PATH.XXXXXX) behind when killed while DCMTK wrote: the
 * writer now writes an unnamed O_TMPFILE and names it only when complete. A child writes a 24
 * MB cine again and again; it is SIGKILLed at random moments, eight times; only the complete
 * file may be in the folder afterwards. */
static void
test_writer_killed (void)
{
  g_autofree char *dir = fixture_path ("killed");
  g_autofree char *path = g_build_filename (dir, "cine.dcm", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (19);
  guint leftovers = 0, kills = 0;

  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  for (int round = 0; round < 8; round++)
    {
      pid_t pid = fork ();
      int status = 0;

      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          HepaDicomUsParams params = { 0 };
          guint8 *pixels = g_malloc0 (640 * 480 * 3 * 26);

          params.width = 640;
          params.height = 480;
          params.n_frames = 26;
          params.rgb = TRUE;
          params.pixels = pixels;
          for (;;)
            hepa_dicom_write_us (path, &params, NULL);
        }
      g_usleep (g_rand_int_range (rand, 20000, 250000));
      if (kill (pid, SIGKILL) == 0)
        kills++;
      waitpid (pid, &status, 0);
    }
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (d)) != NULL)
      if (strcmp (name, "cine.dcm") != 0)
        {
          g_test_message ("left behind: %s", name);
          leftovers++;
        }
  }
  g_test_message ("%u kills, %u files left behind", kills, leftovers);
  g_assert_cmpuint (kills, ==, 8);
  g_assert_cmpuint (leftovers, ==, 0);
}

/* ---- DCMTK's command-line tools ---------------------------------------------------------- */

static gboolean
run_tool (const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, &error))
    g_error ("%s: %s", argv[0], error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
  return TRUE;
}

/* A 24-bit bottom-up BMP, which img2dcm reads. */
static void
write_bmp (const char   *path,
           int           w,
           int           h,
           const guint8 *rgb)
{
  int row = (w * 3 + 3) & ~3;
  gsize size = 54 + (gsize) row * h;
  g_autofree guint8 *b = g_malloc0 (size);

  guint32 le32[] = { GUINT32_TO_LE (size), GUINT32_TO_LE (54), GUINT32_TO_LE (40),
                     GUINT32_TO_LE (w), GUINT32_TO_LE (h), GUINT32_TO_LE ((guint32) row * h) };
  guint16 le16[] = { GUINT16_TO_LE (1), GUINT16_TO_LE (24) };

  b[0] = 'B', b[1] = 'M';
  memcpy (b + 2, &le32[0], 4);
  memcpy (b + 10, &le32[1], 4);
  memcpy (b + 14, &le32[2], 4);
  memcpy (b + 18, &le32[3], 4);
  memcpy (b + 22, &le32[4], 4);
  memcpy (b + 26, &le16[0], 2);
  memcpy (b + 28, &le16[1], 2);
  memcpy (b + 34, &le32[5], 4);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        b[54 + (gsize) (h - 1 - y) * row + x * 3 + (2 - c)] = rgb[((gsize) y * w + x) * 3 + c];
  g_assert_true (g_file_set_contents (path, (char *) b, size, NULL));
}

static void
test_tools (void)
{
  const char *tools[] = { "img2dcm", "dcmcjpeg", "dcmcrle", "dcmcjpls", "dcmdjpeg", "dcmodify" };
  g_autoptr(Fixture) f = make_source (SRC_RGB0, FALSE, 50, 38, 1);
  g_autofree char *bmp = fixture_path ("src.bmp");
  g_autofree char *native = fixture_path ("tool-native.dcm");
  struct { const char *tool; const char *opt; const char *name; gboolean lossy; } steps[] = {
    { "dcmcrle", NULL, "tool-rle.dcm", FALSE },
    { "dcmcjpls", NULL, "tool-jls.dcm", FALSE },
    { "dcmcjpeg", "+e1", "tool-jpeg-lossless.dcm", FALSE },
    { "dcmcjpeg", "+eb", "tool-jpeg-baseline.dcm", TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *found = g_find_program_in_path (tools[i]);

      if (found == NULL)
        {
          g_test_skip_printf ("%s not installed (apt install dcmtk)", tools[i]);
          return;
        }
    }
  write_bmp (bmp, 50, 38, f->expected);
  run_tool ((const char *[]) { "img2dcm", "-i", "BMP", bmp, native, NULL });
  /* Calibration put in by dcmodify, as a scanner would. */
  run_tool ((const char *[]) { "dcmodify", "-nb", "-i", "(0008,0060)=US",
                               "-i", "(0018,6011)[0].(0018,6012)=1",
                               "-i", "(0018,6011)[0].(0018,6018)=2",
                               "-i", "(0018,6011)[0].(0018,601a)=3",
                               "-i", "(0018,6011)[0].(0018,601c)=40",
                               "-i", "(0018,6011)[0].(0018,601e)=30",
                               "-i", "(0018,6011)[0].(0018,6024)=3",
                               "-i", "(0018,6011)[0].(0018,6026)=3",
                               "-i", "(0018,6011)[0].(0018,602c)=0.025",
                               "-i", "(0018,6011)[0].(0018,602e)=0.025",
                               native, NULL });
  for (gsize i = 0; i <= G_N_ELEMENTS (steps); i++)
    {
      g_autofree char *path = i < G_N_ELEMENTS (steps) ? fixture_path (steps[i].name)
                                                       : fixture_path ("tool-decompressed.dcm");
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaImage) image = NULL;
      gboolean lossy = i < G_N_ELEMENTS (steps) && steps[i].lossy;
      double mx, my;

      if (i < G_N_ELEMENTS (steps))
        {
          if (steps[i].opt != NULL)
            run_tool ((const char *[]) { steps[i].tool, steps[i].opt, native, path, NULL });
          else
            run_tool ((const char *[]) { steps[i].tool, native, path, NULL });
        }
      else
        {
          g_autofree char *jpeg = fixture_path ("tool-jpeg-lossless.dcm");

          run_tool ((const char *[]) { "dcmdjpeg", jpeg, path, NULL });
        }
      image = hepa_image_open (path, &error);
      g_assert_no_error (error);
      compare_frame (f, hepa_image_get_frame (image, 0, &error), 0, lossy, 0);
      g_assert_no_error (error);
      g_assert_true (hepa_image_get_spacing_at (image, 10, 10, &mx, &my));
      g_assert_cmpfloat_with_epsilon (mx, 0.25, 1e-9);
      g_assert_false (hepa_image_get_spacing_at (image, 45, 10, &mx, &my));
    }
}

/* fuzz-dicom finding: an RLE frame whose segment offset points past its fragment crashed
 * DCMTK 3.6.7's decoder. The header is checked first now. */
static void
test_bad_rle_segment_table (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fixtures", "dicom",
                                                 "rle-segment-offset-past-end.dcm", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = hepa_image_open (path, &error);

  g_assert_no_error (error);
  g_assert_null (hepa_image_get_frame (image, 0, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "segment table"));
}

int
main (int    argc,
      char **argv)
{
  static const char *lossless[] = {
    "explicit-le", "implicit-le", "explicit-be", "deflated", "rle", "jpeg-lossless",
    "jpeg-lossless-sv1", "jpegls-lossless",
  };
  GPtrArray *cases = g_ptr_array_new_with_free_func (g_free);
  int status;

  g_test_init (&argc, &argv, NULL);
  tmpdir = hepa_test_mkdtemp ();

  for (int s = 0; s < SRC_N; s++)
    for (gsize x = 0; x < G_N_ELEMENTS (lossless); x++)
      {
        CodecCase *c;
        g_autofree char *name = NULL;
        gboolean encapsulated = x >= 4;

        /* 4:2:2 is a native layout; JPEG and JPEG-LS lossless of signed data, RLE of
         * anything, are all DCMTK can write, so every other pair is covered. */
        if (encapsulated && (s == SRC_YBR_422 || s == SRC_YBR_PARTIAL_422))
          continue;
        if (g_str_has_prefix (lossless[x], "jpeg") && s == SRC_MONO_HB)
          continue;
        /* DCMTK's JPEG encoders refuse or apply the modality LUT themselves. */
        if (g_str_has_prefix (lossless[x], "jpeg") && s == SRC_MONO_MLUT)
          continue;
        /* DCMTK 3.6.7's JPEG-LS encoder (CharLS) asserts on signed 12-bit input. */
        if (g_str_has_prefix (lossless[x], "jpegls") && s == SRC_MONO12S)
          continue;
        c = g_new0 (CodecCase, 1);
        c->src = s;
        c->xfer = lossless[x];
        g_ptr_array_add (cases, c);
        name = g_strdup_printf ("/core/dicom/codec/%s/%s", source_names[s], lossless[x]);
        g_test_add_data_func (name, c, test_codec);
      }
  {
    static const struct { Source src; const char *xfer; } lossy[] = {
      { SRC_MONO8, "jpeg-baseline" }, { SRC_MONO8, "jpegls-near" },
      { SRC_MONO12, "jpeg-extended" }, { SRC_RGB0, "jpeg-baseline" },
      { SRC_RGB0, "jpeg-extended" }, { SRC_RGB1, "jpeg-baseline" }, { SRC_RGB0, "jpegls-near" },
      { SRC_MONO1, "jpeg-baseline" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (lossy); i++)
      {
        CodecCase *c = g_new0 (CodecCase, 1);
        g_autofree char *name = NULL;

        c->src = lossy[i].src;
        c->xfer = lossy[i].xfer;
        c->lossy = TRUE;
        g_ptr_array_add (cases, c);
        name = g_strdup_printf ("/core/dicom/codec/%s/%s", source_names[c->src], c->xfer);
        g_test_add_data_func (name, c, test_codec);
      }
  }
  {
    static const Source srcs[] = { SRC_MONO8, SRC_RGB1, SRC_PAL8 };
    static const char *xfers[] = { "implicit-le", "explicit-le", "explicit-be" };

    for (gsize i = 0; i < G_N_ELEMENTS (srcs); i++)
      {
        CodecCase *c = g_new0 (CodecCase, 1);
        g_autofree char *name = NULL;

        c->src = srcs[i];
        c->xfer = xfers[i];
        c->no_meta = TRUE;
        g_ptr_array_add (cases, c);
        name = g_strdup_printf ("/core/dicom/no-meta/%s/%s", source_names[c->src], c->xfer);
        g_test_add_data_func (name, c, test_codec);
      }
  }
  g_test_add_func ("/core/dicom/voi/min-max", test_min_max_window);
  g_test_add_data_func ("/core/dicom/cine/lazy-native", "explicit-le", test_cine_lazy);
  g_test_add_data_func ("/core/dicom/cine/lazy-rle", "rle", test_cine_lazy);
  g_test_add_data_func ("/core/dicom/cine/lazy-jpeg-baseline", "jpeg-baseline", test_cine_lazy);
  g_test_add_data_func ("/core/dicom/cine/lazy-jpegls", "jpegls-lossless", test_cine_lazy);
  g_test_add_func ("/core/dicom/cine/threads", test_cine_threads);
  g_test_add_func ("/core/dicom/writer/round-trip", test_writer_round_trip);
  g_test_add_func ("/core/dicom/bad/truncated", test_bad_truncated);
  g_test_add_func ("/core/dicom/bad/not-dicom", test_bad_not_dicom);
  g_test_add_func ("/core/dicom/bad/header", test_bad_header);
  g_test_add_func ("/core/dicom/bad/palette", test_bad_palette);
  g_test_add_func ("/core/dicom/bad/unsupported-syntax", test_unsupported_syntax);
  g_test_add_func ("/core/dicom/tools", test_tools);
  g_test_add_func ("/core/dicom/bad/rle-segment-table", test_bad_rle_segment_table);
  for (int e = 0; e < HEPA_GEN_N_ENCODINGS; e++)
    for (int u = 0; u < 2; u++)
      {
        NestCase *c = g_new0 (NestCase, 1);
        g_autofree char *name = NULL;

        c->encoding = (HepaGenEncoding) e;
        c->undefined = u;
        g_ptr_array_add (cases, c);
        name = g_strdup_printf ("/core/dicom/bad/nesting/%s-%s", hepa_gen_encoding_name (e),
                                u ? "undefined" : "defined");
        g_test_add_data_func (name, c, test_nesting);
      }
  g_test_add_func ("/core/dicom/bad/nesting-cli", test_nesting_cli);
  g_test_add_func ("/core/dicom/bad/many-fragments", test_many_fragments);
  g_test_add_func ("/core/dicom/bad/nesting-scan-short-deflate", test_nesting_scan_short_deflate);
  g_test_add_func ("/core/dicom/bad/not-regular", test_not_regular);
  g_test_add_func ("/core/dicom/writer/killed", test_writer_killed);

  status = g_test_run ();
  if (g_getenv ("HEPA_TEST_KEEP") == NULL)
    hepa_test_rmtree (tmpdir);
  else
    g_printerr ("# fixtures kept in %s\n", tmpdir);
  g_free (tmpdir);
  g_ptr_array_unref (cases);
  return status;
}
