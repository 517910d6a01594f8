/* SPDX-License-Identifier: GPL-3.0-or-later */
/* How visible each phantom's lesion is, from the generator's own label map: inside the rater's
 * ROI, the mean grey level of the lesion's interior minus that of the liver around it, in units
 * of the liver's standard deviation (speckle). Near 0 the lesion is about as echoic as the liver
 * (an iso-echoic lesion, told apart at most by its halo or texture). One line per image, then a
 * summary per class; images are those of `hepascope-cli synth --seed S --per-class N` (the default
 * curved probe and 640x480).
 *   _build/tests/bench-phantom-contrast [--seed S] [--per-class N] [--near T] */
#include "config.h"

#include "hepa-synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct
{
  double contrast;      /* (lesion - liver) / liver SD; NAN without both */
  guint  halo_pixels;   /* HCC halo or cyst wall inside the ROI */
} Measure;

static gboolean
measure (HepaSynthClass klass,
         guint64        seed,
         guint          index,
         HepaRect      *roi,
         Measure       *m,
         GError       **error)
{
  HepaSynthParams params;
  HepaSynthInfo info;
  g_autofree guint8 *pixels = NULL;
  g_autofree guint8 *labels = NULL;
  double sum[2] = { 0 }, sum2[2] = { 0 };
  guint64 n[2] = { 0 };

  hepa_synth_params_init (&params, klass, seed, index);
  pixels = g_malloc (hepa_synth_buffer_size (&params));
  labels = g_malloc ((gsize) params.width * params.height);
  if (!hepa_synth_generate (&params, pixels, labels, &info, error))
    return FALSE;
  *roi = info.roi;
  m->halo_pixels = 0;
  for (int y = roi->y; y < roi->y + roi->height; y++)
    for (int x = roi->x; x < roi->x + roi->width; x++)
      {
        gsize at = (gsize) y * params.width + x;
        int which = labels[at] == HEPA_SYNTH_LABEL_LESION ? 0
                    : labels[at] == HEPA_SYNTH_LABEL_LIVER ? 1 : -1;

        if (labels[at] == HEPA_SYNTH_LABEL_LESION_RIM)
          m->halo_pixels++;
        if (which < 0)
          continue;
        sum[which] += pixels[at];
        sum2[which] += (double) pixels[at] * pixels[at];
        n[which]++;
      }
  if (n[0] == 0 || n[1] < 2)
    m->contrast = NAN;
  else
    {
      double mean_lesion = sum[0] / n[0], mean_liver = sum[1] / n[1];
      double sd_liver = sqrt (MAX (sum2[1] / n[1] - mean_liver * mean_liver, 1e-12));

      m->contrast = (mean_lesion - mean_liver) / sd_liver;
    }
  return TRUE;
}

static int
compare_double (const void *a,
                const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int    argc,
      char **argv)
{
  gint64 seed = 31415926;
  int per_class = 100;
  double near = 0.45;
  g_autoptr(GOptionContext) context = g_option_context_new ("- lesion contrast of phantoms");
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Phantom seed (default 31415926)", "S" },
    { "per-class", 'n', 0, G_OPTION_ARG_INT, &per_class, "Images per class (default 100)", "N" },
    { "near", 0, 0, G_OPTION_ARG_DOUBLE, &near,
      "Count lesions within this many liver SDs of the liver's level (default 0.45)", "T" },
    { NULL },
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "bench-phantom-contrast: %s\n", error->message);
      return 1;
    }
  if (seed < 0 || per_class < 1 || per_class > 100000 || !(near > 0))
    {
      fprintf (stderr, "bench-phantom-contrast: --seed must be >= 0, --per-class 1..100000, "
                       "--near > 0\n");
      return 1;
    }

  printf ("# seed %" G_GINT64_FORMAT ", %d per class\n", seed, per_class);
  printf ("# image\troi_x\troi_y\troi_w\troi_h\tcontrast_sd\thalo_px\n");
  for (int k = HEPA_SYNTH_CYST; k < HEPA_SYNTH_N_CLASSES; k++)
    {
      g_autofree double *values = g_new (double, per_class);
      guint n_values = 0, n_near = 0;

      for (int i = 0; i < per_class; i++)
        {
          HepaRect roi;
          Measure m;

          if (!measure (k, (guint64) seed, (guint) i, &roi, &m, &error))
            {
              fprintf (stderr, "bench-phantom-contrast: %s\n", error->message);
              return 1;
            }
          printf ("%s-%04d\t%d\t%d\t%d\t%d\t%.3f\t%u\n", hepa_synth_class_name (k), i, roi.x,
                  roi.y, roi.width, roi.height, m.contrast, m.halo_pixels);
          if (!isnan (m.contrast))
            {
              values[n_values++] = m.contrast;
              n_near += fabs (m.contrast) < near;
            }
        }
      if (n_values == 0)
        continue;
      qsort (values, n_values, sizeof *values, compare_double);
      printf ("# %s: contrast median %.2f, quartiles %.2f / %.2f; within %.2f SD of the liver: "
              "%u of %u\n", hepa_synth_class_name (k), values[n_values / 2],
              values[n_values / 4], values[(3 * n_values) / 4], near, n_near, n_values);
    }
  return 0;
}
