/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli study DIR [--json] [--files]: what the study panel and the study report show:
 * files labeled / unlabeled / without regions / unreadable, regions per class and per rater,
 * the raters' agreement (Cohen's or Fleiss' kappa, per class) and their confusion tables. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-study-stats.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>

static void
print_counts (GHashTable *table,
              GPtrArray  *keys)
{
  for (guint i = 0; i < keys->len; i++)
    printf ("%s%s %u", i > 0 ? ", " : " ", (const char *) keys->pdata[i],
            GPOINTER_TO_UINT (g_hash_table_lookup (table, keys->pdata[i])));
  printf ("\n");
}

static void
print_value (double value)
{
  if (isnan (value))
    printf ("%s", _("n/a"));
  else
    printf ("%.3f", value);
}

static void
print_text (const HepaStudyStats *stats,
            gboolean              with_files)
{
  g_autoptr(GPtrArray) classes = hepa_study_stats_dup_classes (stats);
  g_autoptr(GPtrArray) per_rater = hepa_study_stats_dup_raters (stats);
  g_autofree char *progress = hepa_study_stats_progress_text (stats);
  GPtrArray *raters = hepa_rater_table_get_raters (stats->raters);
  GPtrArray *labels = hepa_rater_table_get_labels (stats->raters);

  if (stats->folder != NULL)
    printf ("%s\n", stats->folder);
  printf ("  %s\n", progress);
  printf ("  %s %u (%u %s, %u %s, %u %s, %u %s)\n", _("Files:"), stats->files->len,
          stats->n_files[HEPA_FILE_LABELED], _("labeled"),
          stats->n_files[HEPA_FILE_UNLABELED], _("with unlabeled regions"),
          stats->n_files[HEPA_FILE_NO_ROI], _("without regions"),
          stats->n_files[HEPA_FILE_UNREADABLE], _("unreadable"));
  printf ("  %s %u (%u %s, %u %s, %u %s, %u %s)\n", _("Regions:"), stats->n_rois,
          stats->n_labeled, _("labeled"), stats->n_unlabeled, _("unlabeled"),
          stats->n_disagreed, _("raters disagree"), stats->n_adjudicated, _("adjudicated"));
  printf ("  %s", _("Per class:"));
  print_counts (stats->per_class, classes);
  printf ("  %s", _("Per rater:"));
  print_counts (stats->per_rater, per_rater);

  if (raters->len == 2)
    {
      guint n = 0;
      double kappa = hepa_rater_table_cohen_kappa (stats->raters, raters->pdata[0],
                                                   raters->pdata[1], &n);

      printf ("  %s ", _("Cohen's kappa:"));
      print_value (kappa);
      printf (" (%s %u)\n", _("regions rated by both:"), n);
    }
  else if (raters->len > 2)
    {
      guint n = 0;
      double kappa = hepa_rater_table_fleiss_kappa (stats->raters, &n);

      printf ("  %s ", _("Fleiss' kappa:"));
      print_value (kappa);
      printf (" (%s %u)\n", _("regions rated by all:"), n);
    }
  else
    printf ("  %s\n", _("One rater: no agreement to report."));

  if (raters->len >= 2)
    {
      printf ("  %s", _("Agreement per class:"));
      for (guint i = 0; i < labels->len; i++)
        {
          printf ("%s%s ", i > 0 ? ", " : " ", (const char *) labels->pdata[i]);
          print_value (hepa_rater_table_class_agreement (stats->raters, labels->pdata[i]));
        }
      printf ("\n");
      for (guint a = 0; a < raters->len; a++)
        for (guint b = a + 1; b < raters->len; b++)
          {
            g_autofree guint *table = hepa_rater_table_confusion (stats->raters,
                                                                  raters->pdata[a],
                                                                  raters->pdata[b]);

            /* Translators: the first rater's labels are the rows, the second's the columns */
            printf ("  %s %s, %s %s\n", _("Rows:"), (const char *) raters->pdata[a],
                    _("columns:"), (const char *) raters->pdata[b]);
            printf ("    %-12s", "");
            for (guint c = 0; c < labels->len; c++)
              printf (" %10.10s", (const char *) labels->pdata[c]);
            printf ("\n");
            for (guint r = 0; r < labels->len; r++)
              {
                printf ("    %-12.12s", (const char *) labels->pdata[r]);
                for (guint c = 0; c < labels->len; c++)
                  printf (" %10u", table[r * labels->len + c]);
                printf ("\n");
              }
          }
    }

  for (guint i = 0; i < stats->files->len; i++)
    {
      const HepaStudyFile *file = g_ptr_array_index (stats->files, i);

      if (file->state == HEPA_FILE_UNREADABLE)
        printf ("  %s %s: %s\n", _("Unreadable:"), file->path, file->problem);
      else if (with_files)
        printf ("  %s: %u/%u %s%s\n", file->path, file->n_labeled, file->n_rois, _("labeled"),
                file->n_disagreed > 0 ? _(" (raters disagree)") : "");
    }
  printf ("  %s %.3f s\n", _("Scanned in"), stats->seconds);
}

int
hepa_cli_study (int    argc,
                char **argv)
{
  gboolean json = FALSE;
  gboolean files = FALSE;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaStudyStats) stats = NULL;
  g_autofree char *workspace = g_build_filename (g_get_user_data_dir (), "hepascope",
                                                 "workspace", NULL);
  int status = 0;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "files", 0, 0, G_OPTION_ARG_NONE, &files, N_("List every file with its state"), NULL },
    { NULL },
  };

  if (!hepa_cli_parse ("study", _("DIR"),
                       _("Where a study stands: files labeled, unlabeled, without regions and "
                         "unreadable; regions per class and per rater; the raters' agreement "
                         "(Cohen's kappa for two, Fleiss' for more) and confusion tables."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return hepa_cli_failf (NULL, _("study takes one DIR (see --help)"));

  stats = hepa_study_stats_scan (argv[1], workspace, NULL, &error);
  if (stats == NULL)
    return hepa_cli_fail (NULL, error);
  if (json)
    {
      g_autoptr(JsonNode) root = hepa_study_stats_to_json (stats, files);
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autofree char *text = NULL;

      json_generator_set_root (generator, root);
      json_generator_set_pretty (generator, TRUE);
      text = json_generator_to_data (generator, NULL);
      printf ("%s\n", text);
    }
  else
    print_text (stats, files);
  return 0;
}
