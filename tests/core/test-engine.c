/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-applicability.h"
#include "hepa-burnin.h"
#include "hepa-core.h"
#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-preprocess-private.h"
#include "hepa-synth.h"
#include "hepa-weights.h"
#include "hepa-test-utils.h"
#include "nn/hepa-nn.h"

#include <math.h>
#include <string.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* ---- Helpers ------------------------------------------------------------------------------- */

static HepaModelCard
plain_card (int        size,
            gboolean   grayscale,
            HepaResize resize)
{
  HepaModelCard card = { 0 };

  card.input_size = size;
  card.grayscale = grayscale;
  card.resize = resize;
  for (int c = 0; c < 3; c++)
    {
      card.mean[c] = 0.0f;
      card.std[c] = 1.0f;
    }
  return card;
}

static HepaFrame
rgb_frame (int           width,
           int           height,
           const guint8 *data)
{
  HepaFrame frame = { 0 };

  frame.width = width;
  frame.height = height;
  frame.format = HEPA_PIXEL_RGB8;
  frame.stride = (gsize) width * 3;
  frame.data = data;
  frame.bits_stored = 8;
  return frame;
}

static guint8 *
random_rgb (int      width,
            int      height,
            guint32  seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint8 *data = g_malloc ((gsize) width * height * 3);

  for (gsize i = 0; i < (gsize) width * height * 3; i++)
    data[i] = (guint8) g_rand_int_range (rand, 0, 256);
  return data;
}

/* A small resnet18 shared by the engine tests (building one takes a moment). */
static HepaModel *
small_model (void)
{
  static HepaModel *model;

  if (model == NULL)
    model = hepa_model_new_random (HEPA_ARCH_RESNET18, 5, NULL, 64, 7);
  return model;
}

/* ---- Preprocessing ------------------------------------------------------------------------- */

static void
test_preprocess_gray_to_three (void)
{
  HepaModelCard card = plain_card (16, TRUE, HEPA_RESIZE_STRETCH);
  g_autofree guint8 *pixels = random_rgb (16, 16, 1);
  HepaFrame frame = rgb_frame (16, 16, pixels);
  HepaRect roi = { 0, 0, 16, 16 };
  float out[3 * 16 * 16];

  hepa_preprocess_roi (&card, &frame, &roi, out);
  for (int i = 0; i < 16 * 16; i++)
    {
      const guint8 *p = pixels + 3 * i;
      float luma = (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) / 255.0f;

      /* Same size: the resize is the identity. */
      g_assert_cmpfloat_with_epsilon (out[i], luma, 1e-5);
      g_assert_cmpfloat (out[256 + i], ==, out[i]);
      g_assert_cmpfloat (out[512 + i], ==, out[i]);
    }

  /* An RGB card keeps the channels apart. */
  card.grayscale = FALSE;
  hepa_preprocess_roi (&card, &frame, &roi, out);
  for (int i = 0; i < 16 * 16; i++)
    for (int c = 0; c < 3; c++)
      g_assert_cmpfloat_with_epsilon (out[c * 256 + i], pixels[3 * i + c] / 255.0f, 1e-6);
}

static void
test_preprocess_mean_std (void)
{
  HepaModelCard card = plain_card (8, FALSE, HEPA_RESIZE_STRETCH);
  guint8 pixels[8 * 8 * 3];
  HepaFrame frame = rgb_frame (8, 8, pixels);
  HepaRect roi = { 0, 0, 8, 8 };
  float out[3 * 64];
  const float mean[3] = { 0.485f, 0.456f, 0.406f };
  const float std[3] = { 0.229f, 0.224f, 0.225f };

  for (int i = 0; i < 64; i++)
    {
      pixels[3 * i] = 10;
      pixels[3 * i + 1] = 128;
      pixels[3 * i + 2] = 250;
    }
  memcpy (card.mean, mean, sizeof mean);
  memcpy (card.std, std, sizeof std);
  hepa_preprocess_roi (&card, &frame, &roi, out);
  g_assert_cmpfloat_with_epsilon (out[0], (10 / 255.0f - mean[0]) / std[0], 1e-5);
  g_assert_cmpfloat_with_epsilon (out[64 + 5], (128 / 255.0f - mean[1]) / std[1], 1e-5);
  g_assert_cmpfloat_with_epsilon (out[128 + 63], (250 / 255.0f - mean[2]) / std[2], 1e-5);
}

static void
test_preprocess_letterbox (void)
{
  HepaModelCard card = plain_card (32, TRUE, HEPA_RESIZE_LETTERBOX);
  g_autofree guint8 *pixels = g_malloc (60 * 40 * 3);
  HepaFrame frame = rgb_frame (60, 40, pixels);
  HepaRect roi = { 10, 5, 40, 20 };  /* 2:1 */
  float out[3 * 32 * 32];
  int gx, gy, gw, gh;

  memset (pixels, 204, 60 * 40 * 3);
  hepa_preprocess_geometry (&card, 40, 20, &gx, &gy, &gw, &gh);
  g_assert_cmpint (gx, ==, 0);
  g_assert_cmpint (gy, ==, 8);
  g_assert_cmpint (gw, ==, 32);
  g_assert_cmpint (gh, ==, 16);

  hepa_preprocess_roi (&card, &frame, &roi, out);
  for (int y = 0; y < 32; y++)
    for (int x = 0; x < 32; x++)
      {
        /* Inside: the image; outside: the mean, which normalizes to 0. */
        float expected = y >= 8 && y < 24 ? 0.8f : 0.0f;

        g_assert_cmpfloat_with_epsilon (out[y * 32 + x], expected, 1e-5);
      }

  /* Stretch fills everything. */
  card.resize = HEPA_RESIZE_STRETCH;
  hepa_preprocess_roi (&card, &frame, &roi, out);
  for (int i = 0; i < 32 * 32; i++)
    g_assert_cmpfloat_with_epsilon (out[i], 0.8f, 1e-5);

  /* A tall ROI is centred horizontally. */
  card.resize = HEPA_RESIZE_LETTERBOX;
  hepa_preprocess_geometry (&card, 10, 40, &gx, &gy, &gw, &gh);
  g_assert_cmpint (gx, ==, 12);
  g_assert_cmpint (gw, ==, 8);
  g_assert_cmpint (gh, ==, 32);
}

/* The border pixels' filters are cut by the edge (and renormalized), so only the inside of a
 * pattern averages out exactly. */
static void
assert_flat_inside (const float *plane,
                    int          size,
                    float        value)
{
  for (int y = 1; y < size - 1; y++)
    for (int x = 1; x < size - 1; x++)
      g_assert_cmpfloat_with_epsilon (plane[y * size + x], value, 1e-5);
}

static void
test_preprocess_area_downscale (void)
{
  /* A one-pixel checkerboard has no structure a quarter-size image can show: an area-aware
   * downscale turns it into flat gray, where point sampling would alias to black or white. */
  HepaModelCard card = plain_card (32, TRUE, HEPA_RESIZE_STRETCH);
  g_autofree guint8 *pixels = g_malloc (128 * 128 * 3);
  HepaFrame frame = rgb_frame (128, 128, pixels);
  HepaRect roi = { 0, 0, 128, 128 };
  float out[3 * 32 * 32];

  for (int y = 0; y < 128; y++)
    for (int x = 0; x < 128; x++)
      memset (pixels + 3 * (y * 128 + x), (x + y) % 2 ? 255 : 0, 3);
  hepa_preprocess_roi (&card, &frame, &roi, out);
  assert_flat_inside (out, 32, 0.5f);

  /* Stripes two pixels wide, shrunk 4x (period 4 -> 1): flat too. */
  for (int y = 0; y < 128; y++)
    for (int x = 0; x < 128; x++)
      memset (pixels + 3 * (y * 128 + x), (x / 2) % 2 ? 255 : 0, 3);
  hepa_preprocess_roi (&card, &frame, &roi, out);
  assert_flat_inside (out, 32, 0.5f);

  /* Wide stripes survive: 16-pixel bands -> 4-pixel bands, dark on the left of each period. */
  for (int y = 0; y < 128; y++)
    for (int x = 0; x < 128; x++)
      memset (pixels + 3 * (y * 128 + x), (x / 16) % 2 ? 255 : 0, 3);
  hepa_preprocess_roi (&card, &frame, &roi, out);
  g_assert_cmpfloat (out[1], <, 0.05f);
  g_assert_cmpfloat (out[6], >, 0.95f);
}

static void
test_preprocess_upscale (void)
{
  /* Upscaling is plain bilinear with half-pixel centres: a 2-pixel ramp doubles to
   * 0, 0.25, 0.75, 1 (times the step) per row. */
  float src[2] = { 0.0f, 1.0f };
  float dst[4];
  float tmp[4];

  hepa_resample_plane (src, 2, 1, dst, 4, 1, tmp);
  g_assert_cmpfloat_with_epsilon (dst[0], 0.0f, 1e-6);
  g_assert_cmpfloat_with_epsilon (dst[1], 0.25f, 1e-6);
  g_assert_cmpfloat_with_epsilon (dst[2], 0.75f, 1e-6);
  g_assert_cmpfloat_with_epsilon (dst[3], 1.0f, 1e-6);
}

static void
test_preprocess_gray16 (void)
{
  /* A 12-bit frame through a window [1000, 3000): the model sees the displayed 8 bits. */
  HepaModelCard card = plain_card (8, TRUE, HEPA_RESIZE_STRETCH);
  guint16 pixels[8 * 8];
  guint8 rendered[8 * 8 * 3];
  HepaFrame frame = { 0 };
  HepaFrame rgb;
  HepaRect roi = { 0, 0, 8, 8 };
  float out16[3 * 64];
  float out8[3 * 64];

  for (int i = 0; i < 64; i++)
    pixels[i] = (guint16) (i * 64);
  frame.width = 8;
  frame.height = 8;
  frame.format = HEPA_PIXEL_GRAY16;
  frame.stride = 16;
  frame.data = (const guint8 *) pixels;
  frame.bits_stored = 12;
  frame.window_center = 2000;
  frame.window_width = 2000;
  hepa_frame_render_rgb (&frame, 0, 0, rendered);
  rgb = rgb_frame (8, 8, rendered);

  hepa_preprocess_roi (&card, &frame, &roi, out16);
  hepa_preprocess_roi (&card, &rgb, &roi, out8);
  hepa_assert_allclose (out16, out8, 3 * 64, 0, 1e-5);
  g_assert_cmpfloat (out16[0], ==, 0.0f);    /* below the window */
  g_assert_cmpfloat (out16[63], ==, 1.0f);   /* above it */

  /* A sub-ROI reads the right pixels. */
  roi = (HepaRect) { 3, 2, 4, 4 };
  hepa_preprocess_roi (&card, &frame, &roi, out16);
  hepa_preprocess_roi (&card, &rgb, &roi, out8);
  hepa_assert_allclose (out16, out8, 3 * 64, 0, 1e-5);

  /* Taller than one windowing chunk (64 rows), at an offset. */
  {
    g_autofree guint16 *tall = g_new (guint16, 40 * 150);
    g_autofree guint8 *tall_rgb = g_malloc (40 * 150 * 3);
    HepaRect part = { 3, 7, 30, 140 };

    for (int i = 0; i < 40 * 150; i++)
      tall[i] = (guint16) ((i * 37) % 4096);
    frame.width = 40;
    frame.height = 150;
    frame.stride = 80;
    frame.data = (const guint8 *) tall;
    hepa_frame_render_rgb (&frame, 0, 0, tall_rgb);
    rgb = rgb_frame (40, 150, tall_rgb);
    hepa_preprocess_roi (&card, &frame, &part, out16);
    hepa_preprocess_roi (&card, &rgb, &part, out8);
    hepa_assert_allclose (out16, out8, 3 * 64, 0, 1e-5);
  }
}

/* ---- Engine -------------------------------------------------------------------------------- */

static void
test_engine_basic (void)
{
  HepaModel *model = small_model ();
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = random_rgb (64, 64, 3);
  HepaFrame frame = rgb_frame (64, 64, pixels);
  HepaEngine *engine = hepa_engine_new (model, &error);
  g_autoptr(HepaResult) r = NULL;
  const float *bias;
  double sum = 0;

  g_assert_no_error (error);
  g_assert_true (hepa_engine_get_model (engine) == model);
  r = hepa_engine_classify (engine, &frame, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->n_classes, ==, 5);
  g_assert_false (r->roi_clamped);
  g_assert_cmpint (r->roi.width, ==, 64);
  g_assert_cmpint (r->cam_width, ==, 64);
  g_assert_cmpint (r->cam_height, ==, 64);
  g_assert_cmpfloat (r->latency_ms, >, 0.0);
  for (guint k = 0; k < 5; k++)
    {
      g_assert_true (isfinite (r->logits[k]));
      g_assert_cmpfloat (r->probabilities[k], >=, 0.0f);
      g_assert_cmpfloat (r->probabilities[k], <=, r->probabilities[r->top]);
      sum += r->probabilities[k];
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);

  /* CAM: the fc-weighted layer4 map, whose spatial mean is the logit minus the bias
   * (GAP commutes with the fc). At 64x64 layer4 is 2x2; a 2x bilinear upsample keeps the mean. */
  bias = hepa_resnet_fc_bias (hepa_model_get_network (model));
  for (guint k = 0; k < 5; k++)
    {
      double mean = 0;

      for (int i = 0; i < 64 * 64; i++)
        mean += r->cams[k * 64 * 64 + i];
      mean /= 64 * 64;
      g_assert_cmpfloat_with_epsilon (mean, r->logits[k] - bias[k],
                                      1e-4 * (1 + fabs (r->logits[k])));
    }
  hepa_engine_free (engine);
}

static void
test_engine_batch (void)
{
  HepaModel *model = small_model ();
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = random_rgb (90, 70, 4);
  HepaFrame frame = rgb_frame (90, 70, pixels);
  const HepaFrame *frames[11];
  HepaRect rois[11];
  HepaEngine *engine = hepa_engine_new (model, &error);
  g_autoptr(GPtrArray) results = NULL;

  /* 11 ROIs: one batch of 8, then 3, against one at a time. */
  for (int i = 0; i < 11; i++)
    {
      frames[i] = &frame;
      rois[i] = (HepaRect) { i * 3, i * 2, 40 + i, 30 + 2 * i };
    }
  results = hepa_engine_classify_batch (engine, frames, rois, 11, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 11);
  for (int i = 0; i < 11; i++)
    {
      g_autoptr(HepaResult) one = hepa_engine_classify (engine, &frame, &rois[i], NULL, &error);
      const HepaResult *r = g_ptr_array_index (results, i);

      g_assert_no_error (error);
      g_assert_cmpint (r->roi.width, ==, 40 + i);
      g_assert_cmpint (r->cam_height, ==, 30 + 2 * i);
      hepa_assert_allclose (r->logits, one->logits, 5, 1e-4, 1e-5);
      hepa_assert_allclose (r->cams, one->cams, (gsize) 5 * r->cam_width * r->cam_height, 1e-4,
                            1e-4);
    }
  hepa_engine_free (engine);
}

static void
test_engine_roi (void)
{
  HepaModel *model = small_model ();
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = random_rgb (40, 35, 5);
  HepaFrame frame = rgb_frame (40, 35, pixels);
  HepaEngine *engine = hepa_engine_new (model, &error);
  HepaRect across = { -10, -5, 30, 100 };
  HepaRect outside = { 50, 0, 10, 10 };
  HepaRect empty = { 5, 5, 0, 10 };
  HepaRect huge = { G_MAXINT - 1, G_MAXINT - 1, G_MAXINT, G_MAXINT };
  g_autoptr(HepaResult) r = NULL;

  r = hepa_engine_classify (engine, &frame, &across, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (r->roi_clamped);
  g_assert_cmpint (r->roi.x, ==, 0);
  g_assert_cmpint (r->roi.y, ==, 0);
  g_assert_cmpint (r->roi.width, ==, 20);
  g_assert_cmpint (r->roi.height, ==, 35);
  g_assert_cmpint (r->cam_width, ==, 20);
  g_assert_cmpint (r->cam_height, ==, 35);

  g_assert_null (hepa_engine_classify (engine, &frame, &outside, NULL, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "outside the 40×35 image"));
  g_clear_error (&error);

  g_assert_null (hepa_engine_classify (engine, &frame, &empty, NULL, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);

  g_assert_null (hepa_engine_classify (engine, &frame, &huge, NULL, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A one-pixel ROI works. */
  {
    HepaRect dot = { 39, 34, 1, 1 };
    g_autoptr(HepaResult) d = hepa_engine_classify (engine, &frame, &dot, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpint (d->cam_width, ==, 1);
  }
  hepa_engine_free (engine);
}

static void
test_engine_large_cam (void)
{
  HepaModel *model = small_model ();
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = g_malloc0 (2100 * 30 * 3);
  HepaFrame frame = rgb_frame (2100, 30, pixels);
  HepaEngine *engine = hepa_engine_new (model, &error);
  g_autoptr(HepaResult) r = hepa_engine_classify (engine, &frame, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (r->cam_width, ==, HEPA_CAM_MAX_SIDE);
  g_assert_cmpint (r->cam_height, ==, 15);
  hepa_engine_free (engine);
}

typedef struct
{
  GCancellable *cancellable;
  guint         delay_us;
} CancelLater;

static gpointer
cancel_later (gpointer data)
{
  CancelLater *c = data;

  g_usleep (c->delay_us);
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

static void
test_engine_cancel (void)
{
  g_autoptr(HepaModel) model = hepa_model_new_random (HEPA_ARCH_RESNET18, 3, NULL, 224, 11);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = random_rgb (224, 224, 6);
  HepaFrame frame = rgb_frame (224, 224, pixels);
  HepaEngine *engine = hepa_engine_new (model, &error);
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  gboolean stopped_midway = FALSE;

  g_cancellable_cancel (cancelled);
  g_assert_null (hepa_engine_classify (engine, &frame, NULL, cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* Cancelled from another thread while the forward runs: it stops between blocks. A loaded
   * machine may finish a pass before the other thread runs, so allow a few tries. */
  for (int attempt = 0; attempt < 5 && !stopped_midway; attempt++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      CancelLater later = { cancellable, 2000 };
      GThread *thread = g_thread_new ("cancel", cancel_later, &later);
      g_autoptr(HepaResult) r = hepa_engine_classify (engine, &frame, NULL, cancellable, &error);

      g_thread_join (thread);
      if (r == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_clear_error (&error);
          stopped_midway = TRUE;
        }
    }
  g_assert_true (stopped_midway);

  /* The engine still works afterwards. */
  {
    g_autoptr(HepaResult) r = hepa_engine_classify (engine, &frame, NULL, NULL, &error);

    g_assert_no_error (error);
    g_assert_nonnull (r);
  }
  hepa_engine_free (engine);
}

typedef struct
{
  GMainLoop  *loop;
  HepaEngine *engine;
  HepaResult *result;
  GError     *error;
} AsyncData;

static void
classified_cb (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  AsyncData *data = user_data;

  data->result = hepa_engine_classify_finish (data->engine, res, &data->error);
  g_main_loop_quit (data->loop);
}

static void
test_engine_async (void)
{
  HepaModel *model = small_model ();
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = random_rgb (50, 60, 8);
  g_autoptr(HepaImage) image = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, 50, 60, 150, pixels,
                                                           "test");
  HepaFrame frame = rgb_frame (50, 60, pixels);
  HepaRect roi = { 5, 5, 30, 40 };
  HepaEngine *engine = hepa_engine_new (model, &error);
  g_autoptr(HepaResult) sync = hepa_engine_classify (engine, &frame, &roi, NULL, &error);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  AsyncData data = { loop, engine, NULL, NULL };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  hepa_engine_classify_async (engine, image, 0, &roi, NULL, classified_cb, &data);
  /* The engine is freed before the task finishes: the task keeps it alive. */
  g_main_loop_run (loop);
  g_assert_no_error (data.error);
  hepa_assert_allclose (data.result->logits, sync->logits, 5, 1e-5, 1e-6);
  g_assert_cmpint (data.result->roi.width, ==, 30);
  g_clear_pointer (&data.result, hepa_result_free);

  /* A bad frame index fails cleanly. */
  hepa_engine_classify_async (engine, image, 3, &roi, NULL, classified_cb, &data);
  g_main_loop_run (loop);
  g_assert_null (data.result);
  g_assert_nonnull (data.error);
  g_clear_error (&data.error);

  /* Cancelled before it runs. */
  g_cancellable_cancel (cancellable);
  hepa_engine_classify_async (engine, image, 0, &roi, cancellable, classified_cb, &data);
  hepa_engine_free (engine);
  g_main_loop_run (loop);
  g_assert_error (data.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&data.error);
}

/* ---- Golden, end to end ------------------------------------------------------------------- */

static void
test_engine_golden (void)
{
  /* tests/gen-engine-golden.py made these with Pillow and torchvision from the same image,
   * weights (seed 0) and card: region -> preprocessing -> resnet18 -> logits and CAMs. */
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fixtures", "engine-golden.ini",
                                                 NULL);
  g_autoptr(GKeyFile) ini = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) weights = hepa_model_random_weights (HEPA_ARCH_RESNET18, 5, 0);
  g_auto(GStrv) groups = NULL;
  g_autofree guint8 *pixels = NULL;
  HepaFrame frame;
  int width, height, size;
  guint n_cases = 0;

  g_assert_true (g_key_file_load_from_file (ini, path, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  width = g_key_file_get_integer (ini, "image", "width", NULL);
  height = g_key_file_get_integer (ini, "image", "height", NULL);
  size = g_key_file_get_integer (ini, "image", "size", NULL);
  pixels = g_malloc ((gsize) width * height * 3);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = pixels + 3 * (y * width + x);

        p[0] = (guint8) ((x * 3 + y * 2) % 256);
        p[1] = (guint8) (((x * y) >> 2) % 256);
        p[2] = (guint8) ((255 - x + (y * y) % 97) % 256);
      }
  frame = rgb_frame (width, height, pixels);

  groups = g_key_file_get_groups (ini, NULL);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_autofree char *card = NULL;
      g_autofree char *resize = NULL;
      g_autofree int *roi_values = NULL;
      g_autofree double *logits = NULL;
      g_autofree double *cam_top = NULL;
      g_autofree double *cam_second = NULL;
      g_autoptr(HepaModel) model = NULL;
      g_autoptr(HepaResult) r = NULL;
      HepaEngine *engine;
      HepaRect roi;
      gsize n = 0, n_top = 0, n_second = 0;
      int step_y, step_x, second = 0;
      double max_logit = 0, max_cam = 0;
      gsize i = 0;

      if (strcmp (groups[g], "image") == 0)
        continue;
      resize = g_key_file_get_string (ini, groups[g], "resize", NULL);
      card = g_strdup_printf ("{\"arch\": \"resnet18\", \"classes\": [\"a\", \"b\", \"c\", "
                              "\"d\", \"e\"], \"input_size\": %d, \"preprocess\": "
                              "{\"grayscale\": %s, \"resize\": \"%s\"}}", size,
                              g_key_file_get_boolean (ini, groups[g], "grayscale", NULL)
                              ? "true" : "false", resize);
      hepa_weights_set_metadata (weights, "hepascope.card", card);
      model = hepa_model_new_from_weights (weights, "golden", &error);
      g_assert_no_error (error);
      roi_values = g_key_file_get_integer_list (ini, groups[g], "roi", &n, NULL);
      g_assert_cmpuint (n, ==, 4);
      roi = (HepaRect) { roi_values[0], roi_values[1], roi_values[2], roi_values[3] };
      engine = hepa_engine_new (model, &error);
      r = hepa_engine_classify (engine, &frame, &roi, NULL, &error);
      g_assert_no_error (error);
      hepa_engine_free (engine);

      logits = g_key_file_get_double_list (ini, groups[g], "logits", &n, NULL);
      g_assert_cmpuint (n, ==, 5);
      for (int k = 0; k < 5; k++)
        max_logit = MAX (max_logit, fabs (logits[k]));
      for (int k = 0; k < 5; k++)
        {
          g_test_message ("%s: logit %d: %.6f, torch %.6f", groups[g], k, r->logits[k], logits[k]);
          g_assert_cmpfloat_with_epsilon (r->logits[k], logits[k], 1e-3 * max_logit);
          if (k != r->top && (second == (int) r->top || logits[k] > logits[second]))
            second = k;
        }
      g_assert_cmpint (r->top, ==, g_key_file_get_integer (ini, groups[g], "top", NULL));

      step_y = g_key_file_get_integer (ini, groups[g], "cam_step_y", NULL);
      step_x = g_key_file_get_integer (ini, groups[g], "cam_step_x", NULL);
      cam_top = g_key_file_get_double_list (ini, groups[g], "cam_top", &n_top, NULL);
      cam_second = g_key_file_get_double_list (ini, groups[g], "cam_second", &n_second, NULL);
      g_assert_cmpint (r->cam_width, ==, roi.width);
      for (gsize j = 0; j < n_top; j++)
        max_cam = MAX (max_cam, fabs (cam_top[j]));
      for (int y = 0; y < r->cam_height; y += step_y)
        for (int x = 0; x < r->cam_width; x += step_x, i++)
          {
            gsize at = (gsize) y * r->cam_width + x;

            g_assert_cmpuint (i, <, n_top);
            g_assert_cmpfloat_with_epsilon (r->cams[r->top * r->cam_width * r->cam_height + at],
                                            cam_top[i], 1e-4 * max_cam);
            g_assert_cmpfloat_with_epsilon (r->cams[second * r->cam_width * r->cam_height + at],
                                            cam_second[i], 1e-4 * max_cam);
          }
      g_assert_cmpuint (i, ==, n_top);
      g_assert_cmpuint (n_second, ==, n_top);
      n_cases++;
    }
  g_assert_cmpuint (n_cases, ==, 3);
}

#ifdef __linux__
typedef struct
{
  GMutex  lock;
  GCond   cond;
  guint   started;
  gboolean done;
  pid_t   tids[3];
} PriorityThreads;

static gpointer
priority_thread (gpointer data)
{
  PriorityThreads *t = data;

  g_mutex_lock (&t->lock);
  t->tids[t->started++] = (pid_t) syscall (SYS_gettid);
  g_cond_broadcast (&t->cond);
  while (!t->done)
    g_cond_wait (&t->cond, &t->lock);
  g_mutex_unlock (&t->lock);
  return NULL;
}

static int
nice_of (pid_t tid)
{
  return getpriority (PRIO_PROCESS, (id_t) tid);
}
#endif

/* Worker threads (unnamed ones, which carry the process's name, and GLib's "pool-" threads) go
 * to the nice value asked for; a thread another library named, and the caller, keep theirs. */
static void
test_worker_priority (void)
{
#ifdef __linux__
  PriorityThreads t = { 0 };
  GThread *threads[3];
  pid_t self = (pid_t) syscall (SYS_gettid);
  int base = nice_of (self), target;
  guint lowered;

  if (base >= 18)
    {
      g_test_skip ("already running at nice 18 or lower priority");
      return;
    }
  target = base + 2;
  g_mutex_init (&t.lock);
  g_cond_init (&t.cond);
  /* Started one after the other, so tids[i] belongs to threads[i]. */
  for (guint i = 0; i < 3; i++)
    {
      threads[i] = g_thread_new (i == 0 ? NULL : i == 1 ? "pool-test" : "other-lib",
                                 priority_thread, &t);
      g_mutex_lock (&t.lock);
      while (t.started <= i)
        g_cond_wait (&t.cond, &t.lock);
      g_mutex_unlock (&t.lock);
    }

  lowered = hepa_core_lower_worker_priority (target);
  g_assert_cmpuint (lowered, >=, 2);
  g_assert_cmpint (nice_of (t.tids[0]), ==, target);
  g_assert_cmpint (nice_of (t.tids[1]), ==, target);
  g_assert_cmpint (nice_of (t.tids[2]), ==, base);
  g_assert_cmpint (nice_of (self), ==, base);
  /* Idempotent: nothing is left to lower. */
  g_assert_cmpuint (hepa_core_lower_worker_priority (target), ==, 0);

  g_mutex_lock (&t.lock);
  t.done = TRUE;
  g_cond_broadcast (&t.cond);
  g_mutex_unlock (&t.lock);
  for (guint i = 0; i < 3; i++)
    g_thread_join (threads[i]);
  g_mutex_clear (&t.lock);
  g_cond_clear (&t.cond);
#else
  g_test_skip ("per-thread nice values are Linux's");
#endif
}

/* The burned-in graphics detector: nothing on a clean phantom ROI; a caliper cross, a dotted
 * line and a few white glyph strokes pasted into it are found, and the mask covers them. The
 * fan estimate: a phantom ROI is inside, a box in the black corner is not. */
static void
test_applicability_overlay_and_fan (void)
{
  HepaSynthParams params;
  HepaSynthInfo info;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *gray = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree guint8 *mask = NULL;
  g_autoptr(HepaImage) clean = NULL;
  g_autoptr(HepaImage) marked = NULL;
  g_autoptr(HepaApplicability) a = NULL;
  g_autoptr(HepaApplicability) b = NULL;
  g_autoptr(HepaApplicability) c = NULL;
  const HepaFrame *frame;
  guint n = 0;
  int cx, cy;
  HepaRect corner = { 2, 2, 60, 50 };

  hepa_synth_params_init (&params, HEPA_SYNTH_CYST, 4, 1);
  gray = g_malloc (hepa_synth_buffer_size (&params));
  g_assert_true (hepa_synth_generate (&params, gray, NULL, &info, &error));
  rgb = g_malloc ((gsize) params.width * params.height * 3);
  for (gsize i = 0; i < (gsize) params.width * params.height; i++)
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
  clean = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, params.width, params.height,
                                      (gsize) params.width * 3, rgb, "clean");
  frame = hepa_image_get_frame (clean, 0, &error);
  g_assert_no_error (error);
  mask = hepa_burnin_mask (frame, &info.roi, &n);
  g_assert_cmpuint (n, <, 12);
  a = hepa_applicability_check (clean, frame, &info.roi, NULL);
  g_assert_cmpuint (a->reasons->len, ==, 0);
  g_assert_cmpfloat (a->inside_fraction, >=, 0.9);
  g_assert_cmpfloat (a->colour_fraction, ==, 0);
  c = hepa_applicability_check (clean, frame, &corner, NULL);
  g_assert_cmpuint (c->reasons->len, >=, 1);
  g_assert_cmpstr (((HepaReason *) g_ptr_array_index (c->reasons, 0))->code, ==,
                   HEPA_REASON_OUTSIDE_FAN);

  /* A caliper "+" and a dotted line across the lesion, white. */
  cx = info.roi.x + info.roi.width / 4;
  cy = info.roi.y + info.roi.height / 2;
  for (int d = -5; d <= 5; d++)
    {
      memset (rgb + ((gsize) cy * params.width + cx + d) * 3, 255, 3);
      memset (rgb + ((gsize) (cy + d) * params.width + cx) * 3, 255, 3);
    }
  for (int x = cx + 8; x < info.roi.x + 3 * info.roi.width / 4; x++)
    if (x % 6 < 3)
      memset (rgb + ((gsize) cy * params.width + x) * 3, 255, 3);
  marked = hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, params.width, params.height,
                                       (gsize) params.width * 3, rgb, "marked");
  frame = hepa_image_get_frame (marked, 0, &error);
  g_clear_pointer (&mask, g_free);
  mask = hepa_burnin_mask (frame, &info.roi, &n);
  g_assert_cmpuint (n, >=, 20);
  /* The caliper's centre is masked. */
  g_assert_cmpuint (mask[(gsize) (cy - info.roi.y) * info.roi.width + (cx - info.roi.x)], ==, 1);
  b = hepa_applicability_check (marked, frame, &info.roi, NULL);
  g_assert_cmpuint (b->reasons->len, ==, 1);
  g_assert_cmpstr (((HepaReason *) g_ptr_array_index (b->reasons, 0))->code, ==,
                   HEPA_REASON_BURNED_IN);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/preprocess/gray-to-three", test_preprocess_gray_to_three);
  g_test_add_func ("/core/preprocess/mean-std", test_preprocess_mean_std);
  g_test_add_func ("/core/preprocess/letterbox", test_preprocess_letterbox);
  g_test_add_func ("/core/preprocess/area-downscale", test_preprocess_area_downscale);
  g_test_add_func ("/core/preprocess/upscale", test_preprocess_upscale);
  g_test_add_func ("/core/preprocess/gray16-window", test_preprocess_gray16);
  g_test_add_func ("/core/engine/basic", test_engine_basic);
  g_test_add_func ("/core/applicability/overlay-and-fan", test_applicability_overlay_and_fan);
  g_test_add_func ("/core/engine/batch", test_engine_batch);
  g_test_add_func ("/core/engine/roi", test_engine_roi);
  g_test_add_func ("/core/engine/large-cam", test_engine_large_cam);
  g_test_add_func ("/core/engine/cancel", test_engine_cancel);
  g_test_add_func ("/core/engine/async", test_engine_async);
  g_test_add_func ("/core/engine/golden", test_engine_golden);
  g_test_add_func ("/core/engine/worker-priority", test_worker_priority);

  status = g_test_run ();
  hepa_model_unref (small_model ());
  return status;
}
