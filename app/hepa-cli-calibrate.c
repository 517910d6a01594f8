/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli calibrate: gives an existing model its out-of-distribution reference, its
 * temperature and its conformal threshold, measured on a reference export tree of crops it was
 * not trained on; only the card changes, the weights are written back as they were stored. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-calibrate.h"
#include "hepa-core.h"
#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-manifest.h"
#include "hepa-model.h"
#include "hepa-model-file.h"
#include "hepa-safetensors.h"
#include "hepa-report.h"
#include "hepa-train.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void
progress_cb (guint    done,
             guint    total,
             gpointer user_data)
{
  hepa_cli_progress_update (user_data, done, NULL);
}

/* The longer side of every ROI of the tree's manifest, in pixels and mm (NAN uncalibrated);
 * FALSE when the tree has no manifest. */
static gboolean
roi_sides (const char  *dir,
           double     **px_out,
           double     **mm_out,
           guint       *n_out)
{
  g_autoptr(GError) error = NULL;
  HepaManifest *manifest = hepa_manifest_load (dir, &error);
  guint n;

  if (manifest == NULL)
    return FALSE;
  n = manifest->rows->len;
  *px_out = g_new (double, MAX (n, 1));
  *mm_out = g_new (double, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      const HepaManifestRow *row = g_ptr_array_index (manifest->rows, i);

      (*px_out)[i] = MAX (row->roi.width, row->roi.height);
      (*mm_out)[i] = row->has_mm ? MAX (row->roi_mm[2], row->roi_mm[3]) : NAN;
    }
  *n_out = n;
  hepa_manifest_free (manifest);
  return n > 0;
}

int
hepa_cli_calibrate (int    argc,
                    char **argv)
{
  g_autofree char *model_path = NULL, *data_dir = NULL, *out_path = NULL, *report_dir = NULL;
  g_autofree char *intended_use = NULL;
  double coverage = 0.9;
  int threads = 0;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Model file (default: the default model)"), N_("MODEL") },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      N_("Reference export tree of crops the model was not trained on: <class>/*.png|jpg"),
      N_("DIR") },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path,
      N_("Where to write the calibrated model (may be MODEL itself)"), N_("OUT") },
    { "coverage", 0, 0, G_OPTION_ARG_DOUBLE, &coverage,
      N_("Coverage of the prediction sets (default 0.9)"), N_("P") },
    { "report", 'r', 0, G_OPTION_ARG_FILENAME, &report_dir,
      N_("Write report.md with the reliability diagram here"), N_("DIR") },
    { "intended-use", 0, 0, G_OPTION_ARG_STRING, &intended_use,
      N_("Also set the card's intended use (shown beside every prediction)"), N_("TEXT") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      N_("Threads (default: $HEPASCOPE_THREADS or all cores)"), N_("T") },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaWeights) weights = NULL;
  g_autoptr(HepaDataset) data = NULL;
  g_autoptr(HepaCliProgress) progress = NULL;
  g_autofree float *features = NULL, *logits = NULL;
  g_autofree guint *labels = NULL;
  g_autofree double *side_px = NULL, *side_mm = NULL;
  g_autofree char *reference = NULL;
  HepaModelCard *card;
  const HepaTensorEntry *fc;
  HepaReliability before, after;
  guint dim = 0, n_sides = 0;
  int status = 0;

  if (!hepa_cli_parse ("calibrate", "",
                       _("Measure a model's out-of-distribution reference, temperature and "
                         "conformal threshold on a reference export tree and record them in "
                         "its card."), entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return hepa_cli_failf (NULL, _("calibrate takes no file arguments (see --help)"));
  if (data_dir == NULL)
    return hepa_cli_failf (NULL, _("--data DIR is required"));
  if (out_path == NULL)
    return hepa_cli_failf (NULL, _("--out OUT is required"));
  if (intended_use != NULL && (*intended_use == '\0' || !g_utf8_validate (intended_use, -1, NULL)))
    return hepa_cli_failf (NULL, _("--intended-use must be non-empty UTF-8 text"));
  if (!(coverage >= 0.5 && coverage < 1))
    return hepa_cli_failf (NULL, _("--coverage must be at least 0.5 and under 1"));
  if (model_path == NULL && (model_path = hepa_model_find_default ()) == NULL)
    return hepa_cli_failf (NULL, _("no default model found; pass --model"));

  hepa_core_init_threads (threads);
  model = hepa_model_load (model_path, &error);
  if (model == NULL)
    return hepa_cli_fail (model_path, error);
  weights = hepa_model_file_load (model_path, &error);
  if (weights == NULL)
    return hepa_cli_fail (model_path, error);
  data = hepa_dataset_load (data_dir, &error);
  if (data == NULL)
    return hepa_cli_fail (data_dir, error);

  progress = hepa_cli_progress_new (_("calibrate"), data->samples->len);
  if (!hepa_calibrate_measure (model, data, &features, &dim, &logits, &labels, progress_cb,
                               progress, &error))
    return hepa_cli_fail (data_dir, error);
  card = hepa_model_card_copy (hepa_model_get_card (model));
  reference = g_strdup_printf ("%s: %u crops (sha256 of the file list %.16s…)", data->name,
                               data->samples->len, data->hash);
  if (!hepa_calibrate_card (card, features, dim, logits, labels, data->samples->len, coverage,
                            reference, &error))
    {
      hepa_model_card_free (card);
      return hepa_cli_fail (data_dir, error);
    }
  if (roi_sides (data_dir, &side_px, &side_mm, &n_sides))
    hepa_calibrate_roi_sizes (card, side_px, side_mm, n_sides);
  if (intended_use != NULL)
    {
      g_free (card->intended_use);
      card->intended_use = g_strdup (intended_use);
      hepa_model_card_sync_json (card);
    }

  /* Only the card changes; the tensors go back in the dtype they were stored in. */
  fc = hepa_weights_lookup (weights, "fc.weight");
  hepa_weights_set_metadata (weights, HEPA_MODEL_CARD_KEY, card->json);
  if (!hepa_safetensors_save (weights, out_path,
                                      fc != NULL && fc->stored_dtype == HEPA_DTYPE_F16
                                      ? HEPA_DTYPE_F16 : HEPA_DTYPE_F32, &error))
    {
      hepa_model_card_free (card);
      return hepa_cli_fail (out_path, error);
    }

  {
    /* The held-out half again, for the report. */
    guint nh = data->samples->len / 2;
    g_autofree float *hl = g_new (float, (gsize) nh * card->n_classes);
    g_autofree guint *hy = g_new (guint, nh);

    for (guint h = 0; h < nh; h++)
      {
        memcpy (hl + (gsize) h * card->n_classes, logits + (gsize) (2 * h + 1) * card->n_classes,
                card->n_classes * sizeof (float));
        hy[h] = labels[2 * h + 1];
      }
    hepa_reliability_compute (hl, hy, nh, card->n_classes, 1.0, &before);
    hepa_reliability_compute (hl, hy, nh, card->n_classes, card->temperature, &after);
  }
  if (report_dir != NULL
      && !hepa_report_write_calibration (card, &before, &after, report_dir, &error))
    {
      hepa_model_card_free (card);
      return hepa_cli_fail (report_dir, error);
    }

  if (json)
    printf ("{\"out\": \"%s\", \"temperature\": %.6g, \"ece_before\": %.6g, \"ece_after\": %.6g, "
            "\"conformal_threshold\": %.6g, \"coverage\": %.3g, \"ood_p95\": %.6g, "
            "\"ood_p99\": %.6g, \"ood_rank\": %u, \"n_fit\": %u, \"n_heldout\": %u}\n",
            out_path, card->temperature, card->ece_before, card->ece_after,
            card->conformal_threshold, card->coverage, card->ood->p95, card->ood->p99,
            card->ood->rank, card->ood->n_fit, card->ood->n_heldout);
  else
    {
      printf (_("Calibrated %s on %s (%u crops: %u fit the OOD reference, %u held out)\n"),
              card->id, data->name, data->samples->len, card->ood->n_fit, card->ood->n_heldout);
      printf (_("  temperature %.3f: ECE %.4f -> %.4f on the held-out crops\n"),
              card->temperature, card->ece_before, card->ece_after);
      printf (_("  %.0f %% prediction sets: a class is in when its probability is at least "
                "%.4f\n"), 100 * card->coverage, 1 - card->conformal_threshold);
      printf (_("  OOD score (rank %u): 95th percentile %.3f, 99th %.3f (the threshold)\n"),
              card->ood->rank, card->ood->p95, card->ood->p99);
      if (card->has_roi_px)
        printf (_("  training ROIs: longer side %.0f / %.0f / %.0f px (5th / 50th / 95th "
                  "percentile)\n"), card->roi_px[0], card->roi_px[1], card->roi_px[2]);
      printf (_("Wrote %s\n"), out_path);
    }
  hepa_model_card_free (card);
  return 0;
}
