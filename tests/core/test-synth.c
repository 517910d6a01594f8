/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Synthetic phantoms: determinism, textbook class statistics, files written by the CLI. */
#include "config.h"

#include "hepa-synth.h"

#include "hepa-annotations.h"
#include "hepa-error.h"
#include "hepa-image.h"
#include "hepa-test-utils.h"

#include <math.h>
#include <string.h>
#include <sys/wait.h>

static guint8 *
generate (HepaSynthClass  klass,
          guint64         seed,
          guint           index,
          int             width,
          int             height,
          guint           n_frames,
          HepaSynthProbe  probe,
          guint8        **labels,
          HepaSynthInfo  *info)
{
  HepaSynthParams p;
  g_autoptr(GError) error = NULL;
  guint8 *pixels;
  gboolean ok;

  hepa_synth_params_init (&p, klass, seed, index);
  p.width = width;
  p.height = height;
  p.n_frames = n_frames;
  p.probe = probe;
  pixels = g_malloc (hepa_synth_buffer_size (&p));
  if (labels != NULL)
    *labels = g_malloc ((gsize) width * height);
  ok = hepa_synth_generate (&p, pixels, labels != NULL ? *labels : NULL, info, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return pixels;
}

static void
test_class_names (void)
{
  static const char *const expected[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc" };
  HepaSynthClass k;

  for (int c = 0; c < HEPA_SYNTH_N_CLASSES; c++)
    {
      g_assert_cmpstr (hepa_synth_class_name (c), ==, expected[c]);
      g_assert_true (hepa_synth_class_from_name (expected[c], &k));
      g_assert_cmpint (k, ==, c);
    }
  g_assert_null (hepa_synth_class_name (HEPA_SYNTH_N_CLASSES));
  g_assert_false (hepa_synth_class_from_name ("lipoma", &k));
  g_assert_false (hepa_synth_class_from_name (NULL, &k));
}

static void
test_deterministic (void)
{
  for (int c = 0; c < HEPA_SYNTH_N_CLASSES; c++)
    {
      HepaSynthInfo i1, i2, i3, i4;
      g_autofree guint8 *l1 = NULL;
      g_autofree guint8 *l2 = NULL;
      g_autofree guint8 *a = generate (c, 7, 3, 256, 192, 1, HEPA_SYNTH_PROBE_CURVED, &l1, &i1);
      g_autofree guint8 *b = generate (c, 7, 3, 256, 192, 1, HEPA_SYNTH_PROBE_CURVED, &l2, &i2);
      g_autofree guint8 *other_seed = generate (c, 8, 3, 256, 192, 1, HEPA_SYNTH_PROBE_CURVED,
                                                NULL, &i3);
      g_autofree guint8 *other_index = generate (c, 7, 4, 256, 192, 1,
                                                 HEPA_SYNTH_PROBE_CURVED, NULL, &i4);

      g_assert_cmpmem (a, 256 * 192, b, 256 * 192);
      g_assert_cmpmem (l1, 256 * 192, l2, 256 * 192);
      g_assert_cmpmem (&i1, sizeof i1, &i2, sizeof i2);
      g_assert_true (memcmp (a, other_seed, 256 * 192) != 0);
      g_assert_true (memcmp (a, other_index, 256 * 192) != 0);
    }
}

typedef struct
{
  HepaSynthClass klass;
  guint          index;
  guint8        *pixels;
} ThreadJob;

static gpointer
thread_job (gpointer data)
{
  ThreadJob *job = data;

  job->pixels = generate (job->klass, 11, job->index, 200, 150, 1, HEPA_SYNTH_PROBE_CURVED,
                          NULL, NULL);
  return NULL;
}

/* Images made in parallel threads, in another order, equal those made one by one. */
static void
test_thread_independent (void)
{
  ThreadJob jobs[6];
  GThread *threads[6];

  /* Every job is set up before any thread starts: thread k takes job 5 - k. */
  for (int k = 0; k < 6; k++)
    jobs[k] = (ThreadJob) { (HepaSynthClass) (k % HEPA_SYNTH_N_CLASSES), (guint) k, NULL };
  for (int k = 0; k < 6; k++)
    threads[k] = g_thread_new ("synth", thread_job, &jobs[5 - k]);
  for (int k = 0; k < 6; k++)
    g_thread_join (threads[k]);
  for (int k = 0; k < 6; k++)
    {
      g_autofree guint8 *serial = generate (jobs[k].klass, 11, jobs[k].index, 200, 150, 1,
                                            HEPA_SYNTH_PROBE_CURVED, NULL, NULL);

      g_assert_cmpmem (serial, 200 * 150, jobs[k].pixels, 200 * 150);
      g_free (jobs[k].pixels);
    }
}

static void
test_invalid (void)
{
  HepaSynthParams p;
  guint8 buf[64];

  hepa_synth_params_init (&p, HEPA_SYNTH_CYST, 1, 0);
  p.width = 10;
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (hepa_synth_generate (&p, buf, NULL, NULL, &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  }
  hepa_synth_params_init (&p, HEPA_SYNTH_CYST, 1, 0);
  p.n_frames = 0;
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (hepa_synth_generate (&p, buf, NULL, NULL, &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  }
  hepa_synth_params_init (&p, (HepaSynthClass) 42, 1, 0);
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (hepa_synth_generate (&p, buf, NULL, NULL, &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  }
}

static double
correlation (const guint8 *a,
             const guint8 *b,
             gsize         n)
{
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  gsize m = 0;

  for (gsize k = 0; k < n; k++)
    {
      if (a[k] == 0 && b[k] == 0)
        continue;
      sa += a[k];
      sb += b[k];
      saa += (double) a[k] * a[k];
      sbb += (double) b[k] * b[k];
      sab += (double) a[k] * b[k];
      m++;
    }
  sa /= m;
  sb /= m;
  return (sab / m - sa * sb) / sqrt ((saa / m - sa * sa) * (sbb / m - sb * sb));
}

/* A cine starts with the single-frame image, then moves a little every frame. */
static void
test_cine (void)
{
  const gsize n = 320 * 240;
  HepaSynthInfo i1, i4;
  g_autofree guint8 *still = generate (HEPA_SYNTH_HEMANGIOMA, 5, 2, 320, 240, 1,
                                       HEPA_SYNTH_PROBE_CURVED, NULL, &i1);
  g_autofree guint8 *cine = generate (HEPA_SYNTH_HEMANGIOMA, 5, 2, 320, 240, 4,
                                      HEPA_SYNTH_PROBE_CURVED, NULL, &i4);
  double r01 = correlation (cine, cine + n, n);
  double r03 = correlation (cine, cine + 3 * n, n);

  g_assert_cmpmem (still, n, cine, n);
  g_assert_true (memcmp (cine, cine + n, n) != 0);
  g_test_message ("frame correlation 0-1 %.3f, 0-3 %.3f", r01, r03);
  g_assert_cmpfloat (r01, >, 0.5);
  g_assert_cmpfloat (r01, <, 0.999);
  g_assert_cmpfloat (r03, <, r01);
  g_assert_cmpfloat (i4.frame_time_ms, >, 0.0);
}

/* The truth box lies in the image and the imaged region and holds the lesion (or liver). */
static void
test_truth (void)
{
  for (int probe = 0; probe < 2; probe++)
    for (int c = 0; c < HEPA_SYNTH_N_CLASSES; c++)
      for (guint i = 0; i < 4; i++)
        {
          HepaSynthInfo info;
          g_autofree guint8 *labels = NULL;
          g_autofree guint8 *px = generate (c, 3, i, 320, 240, 1, probe, &labels, &info);
          const HepaRect *t = &info.truth;
          guint n = 0, wanted = 0;
          /* Geographic FFS fills less of its box, and vessels cross it. */
          double min_fraction = c == HEPA_SYNTH_NON_FLL ? 0.95 : c == HEPA_SYNTH_FFS ? 0.25 : 0.45;

          g_assert_cmpint (t->width, >, 2);
          g_assert_cmpint (t->height, >, 2);
          g_assert_cmpint (t->x, >=, info.region.x);
          g_assert_cmpint (t->y, >=, info.region.y);
          g_assert_cmpint (t->x + t->width, <=, info.region.x + info.region.width);
          g_assert_cmpint (t->y + t->height, <=, info.region.y + info.region.height);
          /* The rater's ROI holds the truth box, stays in the imaged region, and around a
           * lesion leaves a rim of liver on at least two sides. */
          {
            const HepaRect *q = &info.roi;
            int sides = (t->x - q->x > 0) + (t->y - q->y > 0)
                        + (q->x + q->width - t->x - t->width > 0)
                        + (q->y + q->height - t->y - t->height > 0);

            g_assert_cmpint (q->x, <=, t->x);
            g_assert_cmpint (q->y, <=, t->y);
            g_assert_cmpint (q->x + q->width, >=, t->x + t->width);
            g_assert_cmpint (q->y + q->height, >=, t->y + t->height);
            g_assert_cmpint (q->x, >=, info.region.x);
            g_assert_cmpint (q->y, >=, info.region.y);
            g_assert_cmpint (q->x + q->width, <=, info.region.x + info.region.width);
            g_assert_cmpint (q->y + q->height, <=, info.region.y + info.region.height);
            if (c == HEPA_SYNTH_NON_FLL)
              g_assert_cmpmem (q, sizeof *q, t, sizeof *t);
            else
              g_assert_cmpint (sides, >=, 2);
          }
          g_assert_cmpfloat (info.mm_per_pixel_x, >, 0.05);
          g_assert_cmpfloat (info.mm_per_pixel_x, <, 2.0);
          for (int y = t->y; y < t->y + t->height; y++)
            for (int x = t->x; x < t->x + t->width; x++)
              {
                guint8 l = labels[y * 320 + x];

                n++;
                if (c == HEPA_SYNTH_NON_FLL ? (l == HEPA_SYNTH_LABEL_LIVER
                                               || l == HEPA_SYNTH_LABEL_VESSEL)
                                            : (l == HEPA_SYNTH_LABEL_LESION
                                               || l == HEPA_SYNTH_LABEL_LESION_RIM
                                               || (c == HEPA_SYNTH_FFS
                                                   && l == HEPA_SYNTH_LABEL_VESSEL)))
                  wanted++;
              }
          g_test_message ("%s %u probe %d: %.2f of the truth box is %s",
                          hepa_synth_class_name (c), i, probe, (double) wanted / n,
                          c == HEPA_SYNTH_NON_FLL ? "liver" : "lesion");
          g_assert_cmpfloat ((double) wanted / n, >, min_fraction);
        }
}

/* ---- class statistics --------------------------------------------------------------------- */

typedef struct
{
  double lesion, rim, ring, posterior, lateral, near_liver;
} Stats;

static double
mean_or_nan (double sum,
             guint  n)
{
  return n > 0 ? sum / n : NAN;
}

static void
measure (const guint8        *px,
         const guint8        *lab,
         int                  w,
         int                  h,
         const HepaSynthInfo *info,
         Stats               *st)
{
  const HepaRect *t = &info->truth;
  int x0 = t->x, x1 = t->x + t->width, y0 = t->y, y1 = t->y + t->height;
  int span = t->width, pad = MAX (t->width, t->height) / 2;
  double s_les = 0, s_rim = 0, s_ring = 0, s_post = 0, s_lat = 0, s_near = 0;
  guint n_les = 0, n_rim = 0, n_ring = 0, n_post = 0, n_lat = 0, n_near = 0;
  int near_end = info->region.y + info->region.height / 3;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint8 l = lab[y * w + x], v = px[y * w + x];
        gboolean inside = x >= x0 && x < x1 && y >= y0 && y < y1;

        if (l == HEPA_SYNTH_LABEL_LESION)
          {
            s_les += v;
            n_les++;
          }
        else if (l == HEPA_SYNTH_LABEL_LESION_RIM)
          {
            s_rim += v;
            n_rim++;
          }
        if (l != HEPA_SYNTH_LABEL_LIVER)
          continue;
        if (!inside && y >= y0 && y < y1 && x >= x0 - pad && x < x1 + pad)
          {
            s_ring += v;
            n_ring++;
          }
        if (y >= y1 + 2 && y < y1 + 2 + t->height / 2)
          {
            if (x >= x0 + span / 4 && x < x1 - span / 4)
              {
                s_post += v;
                n_post++;
              }
            else if ((x >= x0 - span && x < x0 - span / 4) || (x >= x1 + span / 4 && x < x1 + span))
              {
                s_lat += v;
                n_lat++;
              }
          }
        if (y < near_end)
          {
            s_near += v;
            n_near++;
          }
      }
  st->lesion = mean_or_nan (s_les, n_les);
  st->rim = mean_or_nan (s_rim, n_rim);
  st->ring = mean_or_nan (s_ring, n_ring);
  st->posterior = mean_or_nan (s_post, n_post);
  st->lateral = mean_or_nan (s_lat, n_lat);
  st->near_liver = mean_or_nan (s_near, n_near);
}

/* The mean over images of a ratio, skipping images where it is undefined. */
typedef struct
{
  double sum;
  guint  n;
} Mean;

static void
mean_add (Mean   *m,
          double  v)
{
  if (isfinite (v))
    {
      m->sum += v;
      m->n++;
    }
}

static double
mean_get (const Mean *m)
{
  g_assert_cmpuint (m->n, >, 0);
  return m->sum / m->n;
}

#define N_STATS_IMAGES 8

static void
test_class_statistics (void)
{
  Mean les_ring[HEPA_SYNTH_N_CLASSES] = { { 0 } };
  Mean post_lat[HEPA_SYNTH_N_CLASSES] = { { 0 } };
  Mean rim_les = { 0 };
  Mean normal_near = { 0 }, ffs_near = { 0 };
  const int w = 480, h = 360;

  for (int c = 0; c < HEPA_SYNTH_N_CLASSES; c++)
    for (guint i = 0; i < N_STATS_IMAGES; i++)
      {
        HepaSynthInfo info;
        Stats st;
        g_autofree guint8 *lab = NULL;
        g_autofree guint8 *px = generate (c, 2024, i, w, h, 1, HEPA_SYNTH_PROBE_CURVED, &lab,
                                          &info);

        measure (px, lab, w, h, &info, &st);
        if (c != HEPA_SYNTH_NON_FLL)
          mean_add (&les_ring[c], st.lesion / st.ring);
        mean_add (&post_lat[c], st.posterior / st.lateral);
        if (c == HEPA_SYNTH_HCC)
          mean_add (&rim_les, st.rim / st.lesion);
        if (c == HEPA_SYNTH_NON_FLL && !info.fatty)
          mean_add (&normal_near, st.near_liver);
        if (c == HEPA_SYNTH_FFS)
          {
            g_assert_true (info.fatty);
            mean_add (&ffs_near, st.near_liver);
          }
      }

  for (int c = 1; c < HEPA_SYNTH_N_CLASSES; c++)
    g_test_message ("%s: lesion/ring %.2f posterior/lateral %.2f", hepa_synth_class_name (c),
                    mean_get (&les_ring[c]), mean_get (&post_lat[c]));
  g_test_message ("hcc rim/lesion %.2f; near liver: normal %.1f, ffs (fatty) %.1f",
                  mean_get (&rim_les), mean_get (&normal_near), mean_get (&ffs_near));

  /* Cyst: anechoic, with posterior acoustic enhancement. */
  g_assert_cmpfloat (mean_get (&les_ring[HEPA_SYNTH_CYST]), <, 0.3);
  g_assert_cmpfloat (mean_get (&post_lat[HEPA_SYNTH_CYST]), >, 1.1);
  /* Hemangioma: hyperechoic. */
  g_assert_cmpfloat (mean_get (&les_ring[HEPA_SYNTH_HEMANGIOMA]), >, 1.25);
  /* HCC: hypoechoic, with a darker halo. The tumour itself is at least 6.5 dB under the liver,
   * so the thin halo (blurred by the PSF) is only a little darker than it: 0.93 for these
   * images; a halo no darker than the tumour would give about 1. */
  g_assert_cmpfloat (mean_get (&les_ring[HEPA_SYNTH_HCC]), <, 0.9);
  g_assert_cmpfloat (mean_get (&rim_les), <, 0.96);
  /* FFS: darker than the liver around it, which is brighter than a normal liver. */
  g_assert_cmpfloat (mean_get (&les_ring[HEPA_SYNTH_FFS]), <, 0.85);
  g_assert_cmpfloat (mean_get (&ffs_near), >, 1.15 * mean_get (&normal_near));
  /* No lesion: no posterior effect to speak of. */
  g_assert_cmpfloat (fabs (mean_get (&post_lat[HEPA_SYNTH_NON_FLL]) - 1.0), <, 0.12);
}

static void
test_uid (void)
{
  g_autofree char *a = hepa_synth_uid (1, "sop-cyst", 7);
  g_autofree char *b = hepa_synth_uid (1, "sop-cyst", 7);
  g_autofree char *c = hepa_synth_uid (1, "sop-cyst", 8);
  g_autofree char *d = hepa_synth_uid (2, "sop-cyst", 7);
  g_autofree char *e = hepa_synth_uid (1, "sop-hcc", 7);

  g_assert_true (g_str_has_prefix (a, "2.25."));
  g_assert_cmpuint (strlen (a), <=, 64);
  g_assert_cmpuint (strlen (a), >, 5 + 20);
  for (const char *p = a + 5; *p != '\0'; p++)
    g_assert_true (g_ascii_isdigit (*p));
  g_assert_true (a[5] != '0');
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_assert_cmpstr (a, !=, d);
  g_assert_cmpstr (a, !=, e);
}

/* ---- files written by hepascope-cli synth ------------------------------------------------- */

static int
run_cli (char       **err,
         const char  *first,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  va_list args;
  int wait_status = 0;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (gpointer) cli);
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, err, &wait_status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  return WEXITSTATUS (wait_status);
}

/* Opens @path and checks pixels, calibration and sidecar against a fresh generation. */
static void
check_file (const char     *dir,
            HepaSynthClass  klass,
            guint           index,
            const char     *ext,
            int             width,
            int             height,
            guint           n_frames)
{
  g_autofree char *name = g_strdup_printf ("%s-%04u.%s", hepa_synth_class_name (klass), index,
                                           ext);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (path, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;
  g_autoptr(HepaAnnotations) set = NULL;
  g_autofree guint8 *expected = NULL;
  const HepaImageInfo *ii;
  HepaSynthInfo info;
  const HepaRoi *roi;
  gboolean dicom = g_str_equal (ext, "dcm");
  double mx, my;

  expected = generate (klass, 9, index, width, height, n_frames, HEPA_SYNTH_PROBE_CURVED, NULL,
                       &info);
  image = hepa_image_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
  g_assert_cmpint (hepa_image_get_width (image), ==, width);
  g_assert_cmpint (hepa_image_get_height (image), ==, height);
  g_assert_cmpuint (hepa_image_get_n_frames (image), ==, n_frames);
  ii = hepa_image_get_info (image);

  for (guint f = 0; f < n_frames; f++)
    {
      const HepaFrame *frame = hepa_image_get_frame (image, f, &error);
      const guint8 *want = expected + (gsize) f * width * height;

      g_assert_no_error (error);
      for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
          {
            const guint8 *row = frame->data + (gsize) y * frame->stride;
            guint got = frame->format == HEPA_PIXEL_RGB8 ? row[3 * x]
                                                          : ((const guint16 *) row)[x];

            if (got != want[y * width + x])
              g_error ("%s frame %u pixel (%d, %d): %u, expected %u", path, f, x, y, got,
                       want[y * width + x]);
          }
    }

  if (dicom)
    {
      int cx = info.region.x + info.region.width / 2, cy = info.region.y + info.region.height / 2;

      g_assert_true (hepa_image_get_spacing_at (image, cx, cy, &mx, &my));
      g_assert_cmpfloat_with_epsilon (mx, info.mm_per_pixel_x, 1e-4 * info.mm_per_pixel_x);
      g_assert_cmpfloat_with_epsilon (my, info.mm_per_pixel_y, 1e-4 * info.mm_per_pixel_y);
      g_assert_nonnull (strstr (ii->series_description, "SYNTHETIC PHANTOM"));
      g_assert_nonnull (strstr (ii->image_comments, "SYNTHETIC PHANTOM"));
      g_assert_true (g_str_has_prefix (ii->patient_name, "PHANTOM^"));
      g_assert_nonnull (strstr (ii->patient_name, hepa_synth_class_name (klass)));
      if (n_frames > 1)
        g_assert_cmpfloat_with_epsilon (ii->frame_time_ms, info.frame_time_ms, 0.05);
    }

  set = hepa_annotations_load (sidecar, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (set->image_name, ==, name);
  g_assert_cmpuint (set->rois->len, ==, 1);
  roi = g_ptr_array_index (set->rois, 0);
  g_assert_cmpstr (roi->label, ==, hepa_synth_class_name (klass));
  g_assert_cmpstr (roi->rater, ==, "synth");
  g_assert_cmpuint (roi->frame, ==, 0);
  g_assert_cmpmem (&roi->rect, sizeof roi->rect, &info.roi, sizeof info.roi);
  if (dicom)
    {
      g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, ii->sop_uid, -1);

      g_assert_cmpstr (set->sop_uid_sha256, ==, hash);
      /* The ROI id follows from the image: equal seeds, equal sidecars and export names. */
      g_assert_true (g_str_has_prefix (roi->id, "r-"));
      g_assert_cmpint (strncmp (roi->id + 2, hash, 16), ==, 0);
    }
}

static void
test_cli_files (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *dcm = g_build_filename (dir, "dcm", NULL);
  g_autofree char *png = g_build_filename (dir, "png", NULL);
  g_autofree char *cine = g_build_filename (dir, "cine", NULL);
  g_autofree char *sheet = g_build_filename (dir, "sheet.png", NULL);
  g_autofree char *err = NULL;
  g_autoptr(HepaImage) sheet_image = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (run_cli (&err, "synth", "--out", dcm, "--per-class", "2", "--seed", "9",
                            "--size", "200x160", "--contact-sheet", sheet, NULL), ==, 0);
  for (int c = 0; c < HEPA_SYNTH_N_CLASSES; c++)
    for (guint i = 0; i < 2; i++)
      check_file (dcm, c, i, "dcm", 200, 160, 1);
  sheet_image = hepa_image_open (sheet, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hepa_image_get_height (sheet_image), >, 5 * 100);

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&err, "synth", "--out", png, "--per-class", "1", "--seed", "9",
                            "--size", "200x160", "--format", "png", NULL), ==, 0);
  for (int c = 0; c < HEPA_SYNTH_N_CLASSES; c++)
    check_file (png, c, 0, "png", 200, 160, 1);

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&err, "synth", "--out", cine, "--per-class", "1", "--seed", "9",
                            "--size", "160x120", "--cine", "3", "-j", "1", NULL), ==, 0);
  check_file (cine, HEPA_SYNTH_HCC, 0, "dcm", 160, 120, 3);

  hepa_test_rmtree (dir);
}

static void
assert_cli_refuses (const char *needle,
                    const char *a1,
                    const char *a2,
                    const char *a3,
                    const char *a4)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *err = NULL;

  g_assert_cmpint (run_cli (&err, "synth", "--out", dir, a1, a2, a3, a4, NULL), ==, 1);
  g_test_message ("stderr: %s", err);
  g_assert_true (g_str_has_prefix (err, "hepascope-cli: "));
  g_assert_nonnull (strstr (err, needle));
  g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);
  hepa_test_rmtree (dir);
}

static void
test_cli_errors (void)
{
  assert_cli_refuses ("per-class", "--per-class", "0", NULL, NULL);
  assert_cli_refuses ("size", "--per-class", "1", "--size", "10x10");
  assert_cli_refuses ("format", "--per-class", "1", "--format", "bmp");
  assert_cli_refuses ("cine", "--per-class", "1", "--cine", "0");
  assert_cli_refuses ("probe", "--per-class", "1", "--probe", "phased");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/synth/class-names", test_class_names);
  g_test_add_func ("/core/synth/deterministic", test_deterministic);
  g_test_add_func ("/core/synth/thread-independent", test_thread_independent);
  g_test_add_func ("/core/synth/invalid", test_invalid);
  g_test_add_func ("/core/synth/cine", test_cine);
  g_test_add_func ("/core/synth/uid", test_uid);
  g_test_add_func ("/core/synth/truth", test_truth);
  g_test_add_func ("/core/synth/class-statistics", test_class_statistics);
  g_test_add_func ("/core/synth/cli-files", test_cli_files);
  g_test_add_func ("/core/synth/cli-errors", test_cli_errors);
  return g_test_run ();
}
