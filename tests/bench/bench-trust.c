/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 18's figures: does the model say when it does not know?
 *
 * In-distribution: fresh phantoms (hepa_synth_generate, --seed, --per-class per class), each
 * classified on its rater ROI exactly as the workbench does (engine + applicability checks).
 * Out of distribution (the recipe, all in this file): phantoms of --out-seed, each in three
 * variants: (1) a colour Doppler box pasted into the ROI; (2) burned-in text and calipers
 * across the lesion; (3) a heavy intensity change, in turn: gamma 0.35, contrast x3, and
 * multiplicative speckle exp (N (0, 0.8)). Plus every frame-0 of the DICOM files given as
 * arguments (other modalities and organs: bench-trust.sh passes pydicom's CT and MR samples,
 * DCMTK-made files and the public ultrasound samples in ../shared/dicom-samples), on the whole
 * frame and four boxes of phantom-ROI size.
 *
 * Prints: AUROC of the OOD score (in vs out, and per family), how often the p99 threshold and
 * the applicability checks flag each family, ECE before and after temperature scaling, the
 * coverage and mean size of the prediction sets, and the time the checks and the score add to
 * an ROI beside the forward time.
 *   _build/tests/bench-trust --model M [--seed S] [--per-class N] [--out-seed S2]
 *                            [--out-per-class N2] [FILE.dcm…] */
#include "config.h"

#include "hepa-applicability.h"
#include "hepa-calibrate.h"
#include "hepa-core.h"
#include "hepa-engine.h"
#include "hepa-synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum
{
  FAMILY_IN,
  FAMILY_COLOUR,
  FAMILY_TEXT,
  FAMILY_INTENSITY,
  FAMILY_FILES,
  N_FAMILIES,
} Family;

static const char *family_names[N_FAMILIES] = {
  "in: fresh phantoms", "out: colour Doppler box", "out: text and calipers",
  "out: heavy speckle/contrast", "out: other DICOM files",
};

typedef struct
{
  Family   family;
  double   score;
  gboolean outside;
  gboolean flagged;      /* any applicability reason */
  guint    label;        /* in only */
  guint    top;
  gboolean in_set;       /* true class in the set (in only) */
  guint    set_size;
  double   forward_ms;
  double   checks_ms;
} Record;

static GArray *records;
static float *in_logits;
static guint *in_labels;
static guint n_in;

/* ---- Drawing ------------------------------------------------------------------------------- */

/* 5 x 7 glyphs, one byte per row, bit 4 leftmost. */
static const struct { char c; guint8 rows[7]; } font[] = {
  { '0', { 14, 17, 19, 21, 25, 17, 14 } }, { '1', { 4, 12, 4, 4, 4, 4, 14 } },
  { '2', { 14, 17, 1, 2, 4, 8, 31 } },     { '3', { 31, 2, 4, 2, 1, 17, 14 } },
  { '4', { 2, 6, 10, 18, 31, 2, 2 } },     { '5', { 31, 16, 30, 1, 1, 17, 14 } },
  { '6', { 6, 8, 16, 30, 17, 17, 14 } },   { '7', { 31, 1, 2, 4, 8, 8, 8 } },
  { '8', { 14, 17, 17, 14, 17, 17, 14 } }, { '9', { 14, 17, 17, 15, 1, 2, 12 } },
  { '.', { 0, 0, 0, 0, 0, 12, 12 } },      { 'c', { 0, 0, 14, 16, 16, 17, 14 } },
  { 'm', { 0, 0, 26, 21, 21, 17, 17 } },   { 'D', { 28, 18, 17, 17, 17, 18, 28 } },
  { 'L', { 16, 16, 16, 16, 16, 16, 31 } }, { 'V', { 17, 17, 17, 17, 17, 10, 4 } },
  { 'R', { 30, 17, 17, 30, 20, 18, 17 } }, { ':', { 0, 12, 12, 0, 12, 12, 0 } },
  { ' ', { 0, 0, 0, 0, 0, 0, 0 } },
};

static void
put (guint8 *rgb, int w, int h, int x, int y, guint8 r, guint8 g, guint8 b)
{
  if (x < 0 || y < 0 || x >= w || y >= h)
    return;
  rgb[((gsize) y * w + x) * 3] = r;
  rgb[((gsize) y * w + x) * 3 + 1] = g;
  rgb[((gsize) y * w + x) * 3 + 2] = b;
}

static void
draw_text (guint8 *rgb, int w, int h, int x0, int y0, int scale, const char *text)
{
  for (const char *p = text; *p; p++, x0 += 6 * scale)
    for (guint f = 0; f < G_N_ELEMENTS (font); f++)
      if (font[f].c == *p)
        for (int row = 0; row < 7; row++)
          for (int col = 0; col < 5; col++)
            if (font[f].rows[row] & (16 >> col))
              for (int sy = 0; sy < scale; sy++)
                for (int sx = 0; sx < scale; sx++)
                  put (rgb, w, h, x0 + col * scale + sx, y0 + row * scale + sy, 255, 255, 255);
}

static void
draw_caliper (guint8 *rgb, int w, int h, int cx, int cy)
{
  for (int d = -5; d <= 5; d++)
    {
      put (rgb, w, h, cx + d, cy, 255, 255, 0);
      put (rgb, w, h, cx, cy + d, 255, 255, 0);
    }
}

static void
draw_dotted (guint8 *rgb, int w, int h, int x0, int y0, int x1, int y1)
{
  int n = MAX (abs (x1 - x0), abs (y1 - y0));

  for (int i = 0; i <= n; i++)
    if (i % 6 < 3)
      put (rgb, w, h, x0 + (x1 - x0) * i / MAX (n, 1), y0 + (y1 - y0) * i / MAX (n, 1), 255, 255,
           255);
}

static void
add_text (guint8 *rgb, int w, int h, const HepaRect *roi, guint index)
{
  char label[32];

  g_snprintf (label, sizeof label, "D1: %u.%u cm", 1 + index % 7, index % 10);
  draw_caliper (rgb, w, h, roi->x + roi->width / 5, roi->y + roi->height / 2);
  draw_caliper (rgb, w, h, roi->x + 4 * roi->width / 5, roi->y + roi->height / 2);
  draw_dotted (rgb, w, h, roi->x + roi->width / 5, roi->y + roi->height / 2,
               roi->x + 4 * roi->width / 5, roi->y + roi->height / 2);
  draw_text (rgb, w, h, roi->x + 6, roi->y + 6, 2, label);
  draw_text (rgb, w, h, roi->x + 6, roi->y + roi->height - 22, 2, "LIVER");
}

/* A Doppler box over the middle 60 % of the ROI: flow where a smooth field is strong, red
 * one way and blue the other. */
static void
add_colour (guint8 *rgb, int w, int h, const HepaRect *roi, guint index)
{
  int x0 = roi->x + roi->width / 5, x1 = roi->x + 4 * roi->width / 5;
  int y0 = roi->y + roi->height / 5, y1 = roi->y + 4 * roi->height / 5;
  double phase = index * 0.7;

  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      {
        double v = sin (x / 6.0 + phase) * sin (y / 9.0 - phase) + 0.3 * sin ((x + y) / 3.0);

        if (v > 0.35)
          put (rgb, w, h, x, y, (guint8) (120 + 135 * MIN (v, 1)), 20, 10);
        else if (v < -0.35)
          put (rgb, w, h, x, y, 10, 40, (guint8) (120 + 135 * MIN (-v, 1)));
      }
}

static void
add_intensity (guint8 *rgb, int w, int h, guint index)
{
  GRand *rand = g_rand_new_with_seed (index);
  int kind = index % 3;

  for (gsize i = 0; i < (gsize) w * h; i++)
    {
      double v = rgb[3 * i] / 255.0;

      if (kind == 0)
        v = pow (v, 0.35);
      else if (kind == 1)
        v = 0.5 + 3 * (v - 0.3);
      else
        {
          /* Box-Muller */
          double u1 = g_rand_double_range (rand, 1e-12, 1), u2 = g_rand_double (rand);

          v *= exp (0.8 * sqrt (-2 * log (u1)) * cos (2 * G_PI * u2));
        }
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (guint8) CLAMP (lround (v * 255), 0, 255);
    }
  g_rand_free (rand);
}

/* ---- Classifying ---------------------------------------------------------------------------- */

static void
run_one (HepaEngine     *engine,
         HepaImage      *image,
         const HepaRect *roi,
         Family          family,
         guint           label)
{
  g_autoptr(GError) error = NULL;
  const HepaFrame *frame = hepa_image_get_frame (image, 0, &error);
  g_autoptr(HepaResult) r = NULL;
  g_autoptr(HepaApplicability) app = NULL;
  HepaModel *model = hepa_engine_get_model (engine);
  Record rec = { 0 };

  if (frame == NULL || (r = hepa_engine_classify (engine, frame, roi, NULL, &error)) == NULL)
    {
      g_printerr ("bench-trust: %s\n", error->message);
      return;
    }
  app = hepa_applicability_check (image, frame, &r->roi, hepa_model_get_card (model));
  rec.family = family;
  rec.score = r->ood_score;
  rec.outside = r->ood_outside;
  rec.flagged = app->reasons->len > 0;
  rec.label = label;
  rec.top = r->top;
  rec.in_set = r->in_set != NULL && label < r->n_classes && r->in_set[label];
  for (guint k = 0; r->in_set != NULL && k < r->n_classes; k++)
    rec.set_size += r->in_set[k];
  rec.forward_ms = r->latency_ms - r->trust_ms;
  rec.checks_ms = app->seconds * 1000 + r->trust_ms;
  g_array_append_val (records, rec);
  if (family == FAMILY_IN)
    {
      memcpy (in_logits + (gsize) n_in * r->n_classes, r->logits, r->n_classes * sizeof (float));
      in_labels[n_in++] = label;
    }
}

static void
phantom (HepaSynthClass  klass,
         guint64         seed,
         guint           index,
         HepaRect       *roi,
         guint8        **rgb_out)
{
  HepaSynthParams params;
  HepaSynthInfo info;
  g_autofree guint8 *gray = NULL;
  guint8 *rgb;
  g_autoptr(GError) error = NULL;

  hepa_synth_params_init (&params, klass, seed, index);
  gray = g_malloc (hepa_synth_buffer_size (&params));
  if (!hepa_synth_generate (&params, gray, NULL, &info, &error))
    g_error ("%s", error->message);
  rgb = g_malloc ((gsize) params.width * params.height * 3);
  for (gsize i = 0; i < (gsize) params.width * params.height; i++)
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
  *roi = info.roi;
  *rgb_out = rgb;
}

static HepaImage *
wrap (const guint8 *rgb)
{
  return hepa_image_new_from_pixels (HEPA_PIXEL_RGB8, 640, 480, 640 * 3, rgb, "phantom");
}

/* ---- Figures ------------------------------------------------------------------------------- */

/* The score alone, or (combined) what the workbench says: a failed applicability check ranks
 * above every score. */
static double
rank_value (const Record *r,
            gboolean      combined)
{
  return combined && r->flagged ? 1e12 + r->score : r->score;
}

static double
auroc_of (Family   out_family,
          gboolean combined)
{
  double wins = 0;
  guint64 pairs = 0;

  for (guint i = 0; i < records->len; i++)
    {
      const Record *a = &g_array_index (records, Record, i);

      if (a->family != FAMILY_IN)
        continue;
      for (guint j = 0; j < records->len; j++)
        {
          const Record *b = &g_array_index (records, Record, j);

          if (b->family == FAMILY_IN || (out_family != N_FAMILIES && b->family != out_family))
            continue;
          wins += rank_value (b, combined) > rank_value (a, combined) ? 1
                  : rank_value (b, combined) == rank_value (a, combined) ? 0.5 : 0;
          pairs++;
        }
    }
  return pairs ? wins / pairs : NAN;
}

static double
auroc (Family out_family)
{
  return auroc_of (out_family, FALSE);
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median_of (gboolean forward)
{
  g_autofree double *v = g_new (double, records->len);
  guint n = 0;

  for (guint i = 0; i < records->len; i++)
    {
      const Record *r = &g_array_index (records, Record, i);

      if (r->family == FAMILY_IN)
        v[n++] = forward ? r->forward_ms : r->checks_ms;
    }
  qsort (v, n, sizeof *v, compare_doubles);
  return n ? v[n / 2] : NAN;
}

int
main (int argc, char **argv)
{
  g_autofree char *model_path = NULL;
  gint64 seed = 77777, out_seed = 88888;
  int per_class = 200, out_per_class = 40;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path, "Model", "M" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the in-distribution phantoms", "S" },
    { "per-class", 0, 0, G_OPTION_ARG_INT, &per_class, "In-distribution phantoms per class", "N" },
    { "out-seed", 0, 0, G_OPTION_ARG_INT64, &out_seed, "Seed of the out-set base phantoms", "S" },
    { "out-per-class", 0, 0, G_OPTION_ARG_INT, &out_per_class, "Out-set bases per class", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("[FILE.dcm…]");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  const HepaModelCard *card;
  HepaEngine *engine;
  HepaReliability before, after;
  guint flagged[N_FAMILIES] = { 0 }, outside[N_FAMILIES] = { 0 }, count[N_FAMILIES] = { 0 };
  guint covered = 0, set_total = 0, correct = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || model_path == NULL)
    {
      g_printerr ("bench-trust: %s\n", error ? error->message : "--model is required");
      return 2;
    }
  hepa_core_init_threads (0);
  model = hepa_model_load (model_path, &error);
  if (model == NULL || (engine = hepa_engine_new (model, &error)) == NULL)
    {
      g_printerr ("bench-trust: %s: %s\n", model_path, error->message);
      return 2;
    }
  card = hepa_model_get_card (model);
  if (card->ood == NULL || !card->calibrated)
    {
      g_printerr ("bench-trust: %s has no OOD reference or calibration (run calibrate)\n",
                  model_path);
      return 2;
    }
  records = g_array_new (FALSE, TRUE, sizeof (Record));
  in_logits = g_new (float, (gsize) per_class * HEPA_SYNTH_N_CLASSES * card->n_classes);
  in_labels = g_new (guint, (gsize) per_class * HEPA_SYNTH_N_CLASSES);

  for (int k = 0; k < HEPA_SYNTH_N_CLASSES; k++)
    {
      guint label = 0;

      /* The card's index of the phantom class. */
      while (label < card->n_classes
             && g_strcmp0 (card->classes[label], hepa_synth_class_name (k)) != 0)
        label++;
      for (int i = 0; i < per_class; i++)
        {
          g_autofree guint8 *rgb = NULL;
          g_autoptr(HepaImage) image = NULL;
          HepaRect roi;

          phantom (k, (guint64) seed, (guint) i, &roi, &rgb);
          image = wrap (rgb);
          run_one (engine, image, &roi, FAMILY_IN, label);
        }
      for (int i = 0; i < out_per_class; i++)
        for (Family f = FAMILY_COLOUR; f <= FAMILY_INTENSITY; f++)
          {
            g_autofree guint8 *rgb = NULL;
            g_autoptr(HepaImage) image = NULL;
            HepaRect roi;
            guint index = (guint) (k * out_per_class + i);

            phantom (k, (guint64) out_seed, (guint) i, &roi, &rgb);
            if (f == FAMILY_COLOUR)
              add_colour (rgb, 640, 480, &roi, index);
            else if (f == FAMILY_TEXT)
              add_text (rgb, 640, 480, &roi, index);
            else
              add_intensity (rgb, 640, 480, index);
            image = wrap (rgb);
            run_one (engine, image, &roi, f, G_MAXUINT);
          }
      g_printerr ("bench-trust: class %s done\n", hepa_synth_class_name (k));
    }
  for (int a = 1; a < argc; a++)
    {
      g_autoptr(HepaImage) image = hepa_image_open (argv[a], &error);
      int w, h;

      if (image == NULL)
        {
          g_printerr ("bench-trust: skipping %s: %s\n", argv[a], error->message);
          g_clear_error (&error);
          continue;
        }
      w = hepa_image_get_width (image);
      h = hepa_image_get_height (image);
      if (hepa_image_get_frame (image, 0, &error) == NULL)
        {
          g_printerr ("bench-trust: skipping %s: %s\n", argv[a], error->message);
          g_clear_error (&error);
          continue;
        }
      run_one (engine, image, NULL, FAMILY_FILES, G_MAXUINT);
      for (int q = 0; q < 4 && w >= 32 && h >= 32; q++)
        {
          HepaRect roi = { (q % 2) * w / 2 + w / 8, (q / 2) * h / 2 + h / 8,
                           MIN (200, w / 3), MIN (160, h / 3) };

          run_one (engine, image, &roi, FAMILY_FILES, G_MAXUINT);
        }
    }
  hepa_engine_free (engine);

  for (guint i = 0; i < records->len; i++)
    {
      const Record *r = &g_array_index (records, Record, i);

      count[r->family]++;
      flagged[r->family] += r->flagged || r->outside;
      outside[r->family] += r->outside;
      if (r->family == FAMILY_IN)
        {
          covered += r->in_set;
          set_total += r->set_size;
          correct += r->top == r->label;
        }
    }
  hepa_reliability_compute (in_logits, in_labels, n_in, card->n_classes, 1.0, &before);
  hepa_reliability_compute (in_logits, in_labels, n_in, card->n_classes, card->temperature,
                            &after);

  printf ("model: %s (%s)\n", model_path, card->id);
  printf ("in: %u fresh phantoms (seed %" G_GINT64_FORMAT "), out: %u (bases of seed %"
          G_GINT64_FORMAT ", %d DICOM files)\n", count[FAMILY_IN], seed,
          records->len - count[FAMILY_IN], out_seed, argc - 1);
  printf ("OOD score AUROC, in vs all out: %.4f (target >= 0.95); with the applicability checks "
          "(a failed check ranks first): %.4f\n", auroc (N_FAMILIES),
          auroc_of (N_FAMILIES, TRUE));
  for (Family f = FAMILY_IN; f < N_FAMILIES; f++)
    {
      if (count[f] == 0)
        continue;
      if (f == FAMILY_IN)
        printf ("  %-30s n=%4u  above p99 %5.1f%%  flagged (p99 or a check) %5.1f%%\n",
                family_names[f], count[f], 100.0 * outside[f] / count[f],
                100.0 * flagged[f] / count[f]);
      else
        printf ("  %-30s n=%4u  AUROC %.4f (with checks %.4f)  above p99 %5.1f%%  flagged "
                "(p99 or a check) %5.1f%%\n", family_names[f], count[f], auroc (f),
                auroc_of (f, TRUE), 100.0 * outside[f] / count[f],
                100.0 * flagged[f] / count[f]);
    }
  printf ("accuracy on the in set: %.1f%%\n", 100.0 * correct / MAX (n_in, 1));
  printf ("ECE (%d bins): %.4f before, %.4f after temperature %.3f (target <= 0.03)\n",
          HEPA_ECE_BINS, before.ece, after.ece, card->temperature);
  printf ("%.0f%% prediction sets: coverage %.1f%% (target 88-92%%), mean set size %.3f\n",
          100 * card->coverage, 100.0 * covered / MAX (n_in, 1),
          (double) set_total / MAX (n_in, 1));
  printf ("latency per ROI (median of %u, batch 1): forward %.2f ms, checks + OOD score + "
          "calibration %.2f ms (target <= 5 ms)\n", n_in, median_of (TRUE), median_of (FALSE));
  return 0;
}
