/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HepaImage over PNG and JPEG (written here with libpng and libjpeg), the display path
 * (window/level), the PNG writer, the size ceiling and `hepascope-cli info/render`. */
#include "config.h"

#include "hepa-error.h"
#include "hepa-image.h"
#include "dicom/hepa-dicom-writer.h"

#include "hepa-gen.h"
#include "hepa-test-utils.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <jpeglib.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* Writes rows of @channels samples of @depth bits (16-bit given in host order). */
static void
write_png (const char   *path,
           int           width,
           int           height,
           int           color_type,
           int           depth,
           const void   *pixels,
           gsize         stride,
           png_colorp    palette,
           int           n_palette)
{
  FILE *file = g_fopen (path, "wb");
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);

  g_assert_nonnull (file);
  g_assert_nonnull (png);
  if (setjmp (png_jmpbuf (png)))
    g_error ("libpng failed writing %s", path);
  png_init_io (png, file);
  png_set_IHDR (png, info, width, height, depth, color_type, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette != NULL)
    png_set_PLTE (png, info, palette, n_palette);
  png_write_info (png, info);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (depth == 16)
    png_set_swap (png);
#endif
  for (int y = 0; y < height; y++)
    png_write_row (png, (png_const_bytep) pixels + y * stride);
  png_write_end (png, info);
  png_destroy_write_struct (&png, &info);
  fclose (file);
}

static HepaImage *
open_ok (const char *path)
{
  g_autoptr(GError) error = NULL;
  HepaImage *image = hepa_image_open (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (image);
  return image;
}

static void
test_png_gray8 (void)
{
  g_autofree char *path = tmp_path ("gray8.png");
  guint8 px[13 * 7];
  g_autoptr(HepaImage) image = NULL;
  const HepaFrame *frame;

  for (gsize i = 0; i < sizeof px; i++)
    px[i] = (guint8) (i * 37);
  write_png (path, 13, 7, PNG_COLOR_TYPE_GRAY, 8, px, 13, NULL, 0);
  image = open_ok (path);
  g_assert_cmpstr (hepa_image_get_info (image)->format, ==, "PNG");
  g_assert_cmpstr (hepa_image_get_info (image)->photometric, ==, "MONOCHROME2");
  g_assert_cmpstr (hepa_image_get_info (image)->patient_name, ==, "");
  g_assert_cmpint (hepa_image_get_format (image), ==, HEPA_PIXEL_GRAY16);
  frame = hepa_image_get_frame (image, 0, NULL);
  g_assert_cmpint (frame->bits_stored, ==, 8);
  for (int y = 0; y < 7; y++)
    for (int x = 0; x < 13; x++)
      g_assert_cmpuint (((const guint16 *) (frame->data + y * frame->stride))[x], ==,
                        px[y * 13 + x]);
  /* The default window shows 8-bit gray unchanged. */
  {
    guint8 rgb[13 * 7 * 3];

    hepa_frame_render_rgb (frame, 0, 0, rgb);
    for (gsize i = 0; i < sizeof px; i++)
      g_assert_cmpuint (rgb[3 * i + 1], ==, px[i]);
  }
  g_assert_false (hepa_image_get_spacing_at (image, 0, 0, NULL, NULL));
}

static void
test_png_gray16 (void)
{
  g_autofree char *path = tmp_path ("gray16.png");
  guint16 px[9 * 5];
  g_autoptr(HepaImage) image = NULL;
  const HepaFrame *frame;

  for (gsize i = 0; i < G_N_ELEMENTS (px); i++)
    px[i] = (guint16) (i * 1451 + 3);
  write_png (path, 9, 5, PNG_COLOR_TYPE_GRAY, 16, px, 18, NULL, 0);
  image = open_ok (path);
  frame = hepa_image_get_frame (image, 0, NULL);
  g_assert_cmpint (frame->bits_stored, ==, 16);
  for (int y = 0; y < 5; y++)
    g_assert_cmpmem (frame->data + y * frame->stride, 18, px + y * 9, 18);
}

static void
test_png_color (void)
{
  g_autofree char *rgb_path = tmp_path ("rgb.png");
  g_autofree char *rgba_path = tmp_path ("rgba.png");
  g_autofree char *rgb16_path = tmp_path ("rgb16.png");
  g_autofree char *pal_path = tmp_path ("palette.png");
  g_autofree char *gray1_path = tmp_path ("gray1.png");
  int w = 11, h = 6;
  guint8 rgb[11 * 6 * 3], rgba[11 * 6 * 4], idx[11 * 6];
  guint16 rgb16[11 * 6 * 3];
  guint8 bits[6 * 2];
  png_color palette[4] = { { 10, 20, 30 }, { 200, 100, 0 }, { 0, 255, 0 }, { 1, 2, 3 } };

  for (int i = 0; i < w * h; i++)
    {
      for (int c = 0; c < 3; c++)
        {
          rgb[3 * i + c] = (guint8) (i * 5 + c * 70);
          rgba[4 * i + c] = rgb[3 * i + c];
          rgb16[3 * i + c] = (guint16) (rgb[3 * i + c] * 256 + 255 - rgb[3 * i + c]);
        }
      rgba[4 * i + 3] = (guint8) (i * 3);
      idx[i] = i % 4;
    }
  memset (bits, 0, sizeof bits);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if ((x + y) % 2)
        bits[y * 2 + x / 8] |= 0x80 >> (x % 8);

  write_png (rgb_path, w, h, PNG_COLOR_TYPE_RGB, 8, rgb, w * 3, NULL, 0);
  write_png (rgba_path, w, h, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, w * 4, NULL, 0);
  write_png (rgb16_path, w, h, PNG_COLOR_TYPE_RGB, 16, rgb16, w * 6, NULL, 0);
  write_png (pal_path, w, h, PNG_COLOR_TYPE_PALETTE, 8, idx, w, palette, 4);
  write_png (gray1_path, w, h, PNG_COLOR_TYPE_GRAY, 1, bits, 2, NULL, 0);

  {
    const char *paths[] = { rgb_path, rgba_path, rgb16_path };

    for (gsize k = 0; k < G_N_ELEMENTS (paths); k++)
      {
        g_autoptr(HepaImage) image = open_ok (paths[k]);
        const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);

        g_assert_cmpint (frame->format, ==, HEPA_PIXEL_RGB8);
        for (int y = 0; y < h; y++)
          g_assert_cmpmem (frame->data + y * frame->stride, w * 3, rgb + y * w * 3, w * 3);
      }
  }
  {
    g_autoptr(HepaImage) image = open_ok (pal_path);
    const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);

    for (int i = 0; i < w * h; i++)
      {
        const guint8 *p = frame->data + (i / w) * frame->stride + (i % w) * 3;

        g_assert_cmpuint (p[0], ==, palette[idx[i]].red);
        g_assert_cmpuint (p[1], ==, palette[idx[i]].green);
        g_assert_cmpuint (p[2], ==, palette[idx[i]].blue);
      }
  }
  {
    g_autoptr(HepaImage) image = open_ok (gray1_path);
    const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);

    g_assert_cmpint (frame->format, ==, HEPA_PIXEL_GRAY16);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        g_assert_cmpuint (((const guint16 *) (frame->data + y * frame->stride))[x], ==,
                          (x + y) % 2 ? 255 : 0);
  }
}

static void
expect_error (const char *path,
              int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = hepa_image_open (path, &error);

  g_assert_null (image);
  g_assert_error (error, HEPA_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_png_damaged (void)
{
  g_autofree char *path = tmp_path ("damaged.png");
  g_autofree char *data = NULL;
  guint8 rgb[40 * 30 * 3];
  gsize len;

  for (gsize i = 0; i < sizeof rgb; i++)
    rgb[i] = (guint8) (i * 7 + i / 13);
  write_png (path, 40, 30, PNG_COLOR_TYPE_RGB, 8, rgb, 120, NULL, 0);
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_true (g_file_set_contents (path, data, len / 2, NULL));
  expect_error (path, HEPA_ERROR_FORMAT);
  /* A corrupted IHDR (CRC no longer matches). */
  data[20] ^= 0x55;
  g_assert_true (g_file_set_contents (path, data, len, NULL));
  expect_error (path, HEPA_ERROR_FORMAT);
}

static void
write_jpeg (const char   *path,
            int           width,
            int           height,
            gboolean      gray,
            const guint8 *pixels)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  FILE *file = g_fopen (path, "wb");

  g_assert_nonnull (file);
  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&cinfo);
  jpeg_stdio_dest (&cinfo, file);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = gray ? 1 : 3;
  cinfo.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, 95, TRUE);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      JSAMPROW row = (JSAMPROW) pixels + (gsize) cinfo.next_scanline * width * (gray ? 1 : 3);

      jpeg_write_scanlines (&cinfo, &row, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  fclose (file);
}

static void
test_jpeg (void)
{
  g_autofree char *rgb_path = tmp_path ("rgb.jpg");
  g_autofree char *gray_path = tmp_path ("gray.jpg");
  g_autofree char *bad_path = tmp_path ("bad.jpg");
  int w = 64, h = 48;
  g_autofree guint8 *rgb = g_malloc (w * h * 3);
  g_autofree guint8 *gray = g_malloc (w * h);
  g_autofree char *data = NULL;
  gsize len;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        gray[y * w + x] = (guint8) (x * 3 + y);
        rgb[(y * w + x) * 3] = (guint8) (x * 4);
        rgb[(y * w + x) * 3 + 1] = (guint8) (y * 5);
        rgb[(y * w + x) * 3 + 2] = 128;
      }
  write_jpeg (rgb_path, w, h, FALSE, rgb);
  write_jpeg (gray_path, w, h, TRUE, gray);
  {
    g_autoptr(HepaImage) image = open_ok (rgb_path);
    const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);
    double sum = 0;

    g_assert_cmpstr (hepa_image_get_info (image)->format, ==, "JPEG");
    g_assert_cmpint (frame->format, ==, HEPA_PIXEL_RGB8);
    for (int i = 0; i < w * h * 3; i++)
      sum += abs ((int) frame->data[i] - rgb[i]);
    g_assert_cmpfloat (sum / (w * h * 3), <, 2.0);
  }
  {
    g_autoptr(HepaImage) image = open_ok (gray_path);
    const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);
    double sum = 0;

    g_assert_cmpint (frame->format, ==, HEPA_PIXEL_GRAY16);
    for (int i = 0; i < w * h; i++)
      sum += abs ((int) ((const guint16 *) frame->data)[i] - gray[i]);
    g_assert_cmpfloat (sum / (w * h), <, 1.5);
  }
  /* A damaged header: one clear error, and the process goes on (no exit in libjpeg). */
  g_assert_true (g_file_get_contents (rgb_path, &data, &len, NULL));
  for (gsize i = 4; i < 200 && i < len; i++)
    data[i] = (char) 0xff;
  g_assert_true (g_file_set_contents (bad_path, data, len, NULL));
  expect_error (bad_path, HEPA_ERROR_FORMAT);
  g_assert_true (g_file_set_contents (bad_path, "\xff\xd8\xff", 3, NULL));
  expect_error (bad_path, HEPA_ERROR_FORMAT);
}

static void
test_png_write (void)
{
  g_autofree char *path = tmp_path ("written.png");
  g_autofree char *bad = g_build_filename (tmpdir, "no-such-dir", "x.png", NULL);
  guint8 rgb[17 * 9 * 3];
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < sizeof rgb; i++)
    rgb[i] = (guint8) (i * 11);
  g_assert_true (hepa_png_write_rgb (path, 17, 9, rgb, &error));
  g_assert_no_error (error);
  {
    g_autoptr(HepaImage) image = open_ok (path);
    const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);

    g_assert_cmpmem (frame->data, sizeof rgb, rgb, sizeof rgb);
  }
  g_assert_false (hepa_png_write_rgb (bad, 17, 9, rgb, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, bad));
}

static void
test_render_window (void)
{
  guint16 px[6] = { 0, 74, 75, 100, 124, 4000 };
  g_autoptr(HepaImage) image = hepa_image_new_from_pixels (HEPA_PIXEL_GRAY16, 6, 1, 12,
                                                           (const guint8 *) px, "pixels");
  const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);
  guint8 rgb[18];

  g_assert_cmpint (frame->bits_stored, ==, 16);
  /* Center 100, width 50: [75, 124] maps onto [0, 255] (PS3.3 C.11.2.1.2.1). */
  hepa_frame_render_rgb (frame, 100, 50, rgb);
  g_assert_cmpuint (rgb[0], ==, 0);
  g_assert_cmpuint (rgb[3], ==, 0);
  g_assert_cmpuint (rgb[6], <=, 3);
  g_assert_cmpuint (rgb[9], >=, 127);
  g_assert_cmpuint (rgb[9], <=, 133);
  g_assert_cmpuint (rgb[12], >=, 250);
  g_assert_cmpuint (rgb[15], ==, 255);
  g_assert_cmpuint (rgb[15], ==, rgb[16]);
  /* Width 1: a threshold. */
  hepa_frame_render_rgb (frame, 100, 1, rgb);
  g_assert_cmpuint (rgb[6], ==, 0);
  g_assert_cmpuint (rgb[12], ==, 255);
}

static void
test_new_from_pixels (void)
{
  guint8 data[4 * 8];   /* 2 rows of 2 RGB pixels with a stride of 8 (2 padding bytes) */
  g_autoptr(HepaImage) image = NULL;
  const HepaFrame *frame;
  const HepaImageInfo *info;

  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guint8) i;
  image = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, 2, 2, 8, data, "generated");
  g_assert_cmpint (hepa_image_get_width (image), ==, 2);
  g_assert_cmpuint (hepa_image_get_n_frames (image), ==, 1);
  g_assert_true (hepa_image_is_frame_cached (image, 0));
  frame = hepa_image_get_frame (image, 0, NULL);
  g_assert_cmpmem (frame->data, 6, data, 6);
  g_assert_cmpmem (frame->data + frame->stride, 6, data + 8, 6);
  info = hepa_image_get_info (image);
  g_assert_cmpstr (info->path, ==, "generated");
  g_assert_cmpstr (info->study_uid, ==, "");
  g_assert_true (hepa_image_ref (image) == image);
  hepa_image_unref (image);
}

static void
test_max_size (void)
{
  g_autofree char *path = tmp_path ("big.png");
  int w = 1000, h = 600;
  g_autofree guint8 *rgb = g_malloc0 ((gsize) w * h * 3);

  write_png (path, w, h, PNG_COLOR_TYPE_RGB, 8, rgb, w * 3, NULL, 0);
  g_setenv ("HEPASCOPE_MAX_IMAGE_MB", "1", TRUE);
  g_assert_cmpuint (hepa_image_get_max_frame_bytes (), ==, 1024 * 1024);
  expect_error (path, HEPA_ERROR_TOO_LARGE);
  g_setenv ("HEPASCOPE_MAX_IMAGE_MB", "nonsense", TRUE);
  g_assert_cmpuint (hepa_image_get_max_frame_bytes (), >, 1024 * 1024);
  g_unsetenv ("HEPASCOPE_MAX_IMAGE_MB");
  {
    g_autoptr(HepaImage) image = open_ok (path);
  }
}

/* ---- hepascope-cli ----------------------------------------------------------------------- */

static int
run_cli (const char *const *args,
         char              **out,
         char              **err)
{
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_ptr_array_add (argv, (char *) cli);
  for (int i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, 0, NULL, NULL, out, err, &status,
                     &error))
    g_error ("%s: %s", cli, error->message);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_cli_info_render (void)
{
  g_autofree char *dcm = tmp_path ("cli.dcm");
  g_autofree char *bad = tmp_path ("cli-bad.dcm");
  g_autofree char *png = tmp_path ("cli-frame.png");
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  guint8 pixels[32 * 20 * 2];
  HepaDicomUsParams params = { 0 };
  JsonArray *files;
  JsonObject *o;

  if (g_getenv ("HEPASCOPE_CLI") == NULL)
    {
      g_test_skip ("HEPASCOPE_CLI not set");
      return;
    }
  for (gsize i = 0; i < sizeof pixels; i++)
    pixels[i] = (guint8) (i * 3);
  params.width = 32;
  params.height = 20;
  params.n_frames = 2;
  params.pixels = pixels;
  params.mm_per_pixel_x = params.mm_per_pixel_y = 0.2;
  params.frame_time_ms = 50;
  params.patient_name = "Secret^Name";
  params.patient_id = "SECRET-ID";
  g_assert_true (hepa_dicom_write_us (dcm, &params, &error));
  g_assert_true (g_file_set_contents (bad, "not dicom at all", -1, NULL));

  g_assert_cmpint (run_cli ((const char *[]) { "info", "--json", bad, dcm, NULL }, &out, &err),
                   ==, 1);
  /* One line for the bad file, naming it; no identifying value anywhere. */
  g_assert_nonnull (strstr (err, bad));
  g_assert_null (strchr (g_strstrip (err), '\n'));
  g_assert_null (strstr (out, "Secret"));
  g_assert_null (strstr (out, "SECRET-ID"));
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  files = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (files), ==, 2);
  o = json_array_get_object_element (files, 0);
  g_assert_false (json_object_get_boolean_member (o, "ok"));
  g_assert_nonnull (strstr (json_object_get_string_member (o, "error"), "not a DICOM file"));
  o = json_array_get_object_element (files, 1);
  g_assert_true (json_object_get_boolean_member (o, "ok"));
  g_assert_true (json_object_get_null_member (o, "error"));
  g_assert_cmpint (json_object_get_int_member (o, "rows"), ==, 20);
  g_assert_cmpint (json_object_get_int_member (o, "columns"), ==, 32);
  g_assert_cmpint (json_object_get_int_member (o, "frames"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (o, "photometric"), ==, "MONOCHROME2");
  g_assert_cmpstr (json_object_get_string_member (o, "transfer_syntax"), ==,
                   "1.2.840.10008.1.2.1");
  g_assert_cmpstr (json_object_get_string_member (o, "modality"), ==, "US");
  g_assert_cmpstr (json_object_get_string_member (o, "manufacturer"), ==, "Hepascope");
  g_assert_cmpfloat_with_epsilon (
    json_array_get_double_element (json_object_get_array_member (o, "pixel_spacing_mm"), 0),
    0.2, 1e-9);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "frame_time_ms"), 50, 1e-9);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* All good: exit 0. Text mode. */
  g_assert_cmpint (run_cli ((const char *[]) { "info", dcm, NULL }, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "32 x 20"));
  g_assert_null (strstr (out, "Secret"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Render frame 1. */
  g_assert_cmpint (run_cli ((const char *[]) { "render", dcm, "-o", png, "--frame", "1", NULL },
                            &out, &err), ==, 0);
  {
    g_autoptr(HepaImage) image = open_ok (png);
    const HepaFrame *frame = hepa_image_get_frame (image, 0, NULL);

    g_assert_cmpint (frame->width, ==, 32);
    for (int i = 0; i < 32 * 20; i++)
      g_assert_cmpuint (frame->data[(i / 32) * frame->stride + (i % 32) * 3], ==,
                        pixels[32 * 20 + i]);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli ((const char *[]) { "render", dcm, "-o", png, "--frame", "2", NULL },
                            &out, &err), ==, 1);
  g_assert_nonnull (strstr (err, "frame 2"));
}

/* A gray JPEG stream of @width x @height in memory. */
static guint8 *
make_jpeg (int    width,
           int    height,
           gsize *size)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  unsigned char *out = NULL;
  unsigned long out_size = 0;
  g_autofree guint8 *row = g_new (guint8, width);
  guint8 *copy;

  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&cinfo);
  jpeg_mem_dest (&cinfo, &out, &out_size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults (&cinfo);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      for (int x = 0; x < width; x++)
        row[x] = (guint8) (x + cinfo.next_scanline);
      jpeg_write_scanlines (&cinfo, &row, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  copy = g_memdup2 (out, out_size);
  free (out);
  *size = out_size;
  return copy;
}

/* A 320 x 240 JPEG in a header that says otherwise rendered silently as a sheared picture; now
 * an error naming both sizes. A header of 13000 x 13000 needs more than the ceiling to show
 * (raw buffer, frame and rendering together): refused before anything is allocated. Both with
 * libjpeg-turbo and with DCMTK's decoder. */
static void
test_frame_size_mismatch (void)
{
  gsize jpeg_size = 0;
  g_autofree guint8 *jpeg = make_jpeg (320, 240, &jpeg_size);
  g_autoptr(GBytes) wrong = hepa_gen_jpeg_dicom (300, 400, jpeg, jpeg_size);
  g_autoptr(GBytes) huge = hepa_gen_jpeg_dicom (13000, 13000, jpeg, jpeg_size);
  g_autoptr(GBytes) right = hepa_gen_jpeg_dicom (240, 320, jpeg, jpeg_size);
  g_autofree char *wrong_path = tmp_path ("mismatch.dcm");
  g_autofree char *huge_path = tmp_path ("mismatch-huge.dcm");
  g_autofree char *right_path = tmp_path ("mismatch-none.dcm");
  const char *decoders[] = { NULL, "dcmtk" };

  g_assert_true (g_file_set_contents (wrong_path, g_bytes_get_data (wrong, NULL),
                                      (gssize) g_bytes_get_size (wrong), NULL));
  g_assert_true (g_file_set_contents (huge_path, g_bytes_get_data (huge, NULL),
                                      (gssize) g_bytes_get_size (huge), NULL));
  g_assert_true (g_file_set_contents (right_path, g_bytes_get_data (right, NULL),
                                      (gssize) g_bytes_get_size (right), NULL));
  for (gsize d = 0; d < G_N_ELEMENTS (decoders); d++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaImage) image = NULL;
      const HepaFrame *frame;

      if (decoders[d] != NULL)
        g_setenv ("HEPASCOPE_DICOM_JPEG", decoders[d], TRUE);
      else
        g_unsetenv ("HEPASCOPE_DICOM_JPEG");

      image = hepa_image_open (right_path, &error);
      g_assert_no_error (error);
      frame = hepa_image_get_frame (image, 0, &error);
      g_assert_no_error (error);
      g_assert_nonnull (frame);
      g_clear_pointer (&image, hepa_image_unref);

      image = hepa_image_open (wrong_path, &error);
      g_assert_no_error (error);
      frame = hepa_image_get_frame (image, 0, &error);
      g_assert_null (frame);
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "frame 1 is 320 x 240 pixels, but the header "
                                                "says 400 x 300"));
      g_clear_error (&error);
      g_clear_pointer (&image, hepa_image_unref);

      image = hepa_image_open (huge_path, &error);
      if (image != NULL)
        frame = hepa_image_get_frame (image, 0, &error);
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE);
      g_test_message ("%s", error->message);
    }
  g_unsetenv ("HEPASCOPE_DICOM_JPEG");
}

/* The ceiling counted the decoded frame only: showing it takes its RGB rendering too. A 600 x
 * 600 RGB PNG (1.08 MB decoded, 2.16 MB with its rendering) under a 2 MB ceiling. */
static void
test_ceiling_counts_render (void)
{
  g_autofree char *path = tmp_path ("ceiling.png");
  g_autofree guint8 *rgb = g_new0 (guint8, 600 * 600 * 3);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;

  g_assert_true (hepa_png_write_rgb (path, 600, 600, rgb, &error));
  g_setenv ("HEPASCOPE_MAX_IMAGE_MB", "2", TRUE);
  image = hepa_image_open (path, &error);
  g_unsetenv ("HEPASCOPE_MAX_IMAGE_MB");
  g_assert_null (image);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "HEPASCOPE_MAX_IMAGE_MB"));
  g_clear_error (&error);
  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  tmpdir = hepa_test_mkdtemp ();

  g_test_add_func ("/core/image/png/gray8", test_png_gray8);
  g_test_add_func ("/core/image/png/gray16", test_png_gray16);
  g_test_add_func ("/core/image/png/color", test_png_color);
  g_test_add_func ("/core/image/png/damaged", test_png_damaged);
  g_test_add_func ("/core/image/png/write", test_png_write);
  g_test_add_func ("/core/image/jpeg", test_jpeg);
  g_test_add_func ("/core/image/render/window", test_render_window);
  g_test_add_func ("/core/image/new-from-pixels", test_new_from_pixels);
  g_test_add_func ("/core/image/max-size", test_max_size);
  g_test_add_func ("/core/image/frame-size-mismatch", test_frame_size_mismatch);
  g_test_add_func ("/core/image/ceiling-counts-render", test_ceiling_counts_render);
  g_test_add_func ("/core/image/cli/info-render", test_cli_info_render);

  status = g_test_run ();
  hepa_test_rmtree (tmpdir);
  g_free (tmpdir);
  return status;
}
