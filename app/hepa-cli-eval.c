/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli eval: a model's metrics on a held-out export tree. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-core.h"
#include "hepa-error.h"
#include "hepa-model.h"
#include "hepa-report.h"
#include "hepa-train.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdio.h>

static void
print_table (const HepaMetrics *m)
{
  printf (_("%u images, accuracy %.1f%%, macro sensitivity %.1f%%, macro specificity %.1f%%, "
            "macro F1 %.1f%%, macro AUC %.3f\n"), m->n, 100 * m->accuracy,
          100 * m->macro_sensitivity, 100 * m->macro_specificity, 100 * m->macro_f1,
          m->macro_auc);
  printf ("%-16s %8s %8s %8s %8s %8s %8s\n", _("class"), _("acc"), _("sens"), _("spec"),
          _("prec"), _("F1"), _("AUC"));
  for (guint c = 0; c < m->n_classes; c++)
    printf ("%-16s %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", m->classes[c], m->class_accuracy[c],
            m->sensitivity[c], m->specificity[c], m->precision[c], m->f1[c], m->auc[c]);
  printf ("%s\n", _("Confusion matrix (rows: true class, columns: predicted):"));
  for (guint i = 0; i < m->n_classes; i++)
    {
      printf ("%-16s", m->classes[i]);
      for (guint j = 0; j < m->n_classes; j++)
        printf (" %6u", m->confusion[i * m->n_classes + j]);
      printf ("\n");
    }
}

int
hepa_cli_eval (int    argc,
               char **argv)
{
  g_autofree char *model_path = NULL, *data_dir = NULL, *report_dir = NULL;
  gboolean json = FALSE;
  int threads = 0;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Model file (default: the default model)"), N_("MODEL") },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      N_("Held-out export tree: <class>/*.png|jpg"), N_("DIR") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "report", 'r', 0, G_OPTION_ARG_FILENAME, &report_dir,
      N_("Write report.json, report.md and plots here"), N_("DIR") },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      N_("Threads (default: $HEPASCOPE_THREADS or all cores)"), N_("T") },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaDataset) data = NULL;
  g_autoptr(HepaTrainRun) run = NULL;
  const HepaModelCard *card;
  int status = 0;

  if (!hepa_cli_parse ("eval", "", _("Metrics of a model on a held-out export tree."), entries,
                       &argc, &argv, &status))
    return status;
  if (argc != 1)
    return hepa_cli_failf (NULL, _("eval takes no file arguments (see --help)"));
  if (data_dir == NULL)
    return hepa_cli_failf (NULL, _("--data DIR is required"));
  if (model_path == NULL && (model_path = hepa_model_find_default ()) == NULL)
    return hepa_cli_failf (NULL, _("no default model found; pass --model"));

  hepa_core_init_threads (threads);
  model = hepa_model_load (model_path, &error);
  if (model == NULL)
    return hepa_cli_fail (model_path, error);
  data = hepa_dataset_load (data_dir, &error);
  if (data == NULL)
    return hepa_cli_fail (NULL, error);
  card = hepa_model_get_card (model);
  run = hepa_train_evaluate (model, data, NULL, &error);
  if (run == NULL)
    return hepa_cli_fail (error->domain == HEPA_ERROR && error->code == HEPA_ERROR_MODEL
                          ? model_path : NULL, error);
  if (json)
    {
      g_autoptr(JsonNode) root = hepa_report_eval_json (run, model_path, card->id, data);
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autofree char *text = NULL;

      json_generator_set_pretty (gen, TRUE);
      json_generator_set_root (gen, root);
      text = json_generator_to_data (gen, NULL);
      printf ("%s\n", text);
    }
  else
    print_table (run->metrics);
  if (report_dir != NULL)
    {
      if (!hepa_report_write_eval (run, model_path, card->id, data, report_dir, &error)
          || !hepa_report_add_eval_calibration (run, card, report_dir, &error))
        return hepa_cli_fail (NULL, error);
      if (!json)
        printf (_("Report: %s\n"), report_dir);
    }
  return 0;
}
