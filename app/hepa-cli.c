/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli: the command-line face of libhepa-core. */
#include "config.h"

#include "hepa-cli.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  const char     *name;
  HepaCliCommand  run;
  const char     *synopsis;
} Subcommand;

/* Only subcommands that exist are listed. */
static const Subcommand subcommands[] = {
  { "info", hepa_cli_info, N_("Describe DICOM, PNG and JPEG files") },
  { "render", hepa_cli_render, N_("Write a frame as displayed to a PNG file") },
  { "convert", hepa_cli_convert, N_("Convert a .pth or safetensors file into a model") },
  { "classify", hepa_cli_classify, N_("Classify regions of an image and map the evidence") },
  { "bench", hepa_cli_bench, N_("Time the ResNet forward pass") },
  { "synth", hepa_cli_synth, N_("Generate synthetic liver phantoms with ground truth") },
  { "export", hepa_cli_export, N_("Export labeled crops, a manifest and COCO boxes, de-identified") },
  { "train", hepa_cli_train, N_("Retrain and cross-validate a model on an export tree") },
  { "eval", hepa_cli_eval, N_("Metrics of a model on a held-out export tree") },
  { "calibrate", hepa_cli_calibrate,
    N_("Record a model's out-of-distribution reference and calibration in its card") },
  { "model", hepa_cli_model, N_("Show a model and its card (default: the default model)") },
  { "pacs", hepa_cli_pacs, N_("Query, retrieve from and send to a PACS (DICOM node)") },
  { "results", hepa_cli_results, N_("Write a study's results as DICOM SR, maps, views and PDF") },
  { NULL, NULL, NULL },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "%s\n\n", _("Usage: hepascope-cli COMMAND [OPTION…]"));
  fprintf (out, "%s\n\n", _("Hepascope: focal liver lesions on ultrasound, from the command line."));
  fprintf (out, "%s\n", _("Commands:"));
  for (const Subcommand *s = subcommands; s->name != NULL; s++)
    fprintf (out, "  %-9s %s\n", s->name, _(s->synopsis));
  fprintf (out, "\n%s\n", _("Run “hepascope-cli COMMAND --help” for a command's options."));
  fprintf (out, "%s\n", _("Not for diagnosis: for teaching, labeling and software testing."));
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("hepascope-cli");

  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      print_usage (stdout);
      return argc < 2 ? 1 : 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("hepascope-cli %s\n", PACKAGE_VERSION);
      return 0;
    }

  for (const Subcommand *s = subcommands; s->name != NULL; s++)
    if (strcmp (argv[1], s->name) == 0)
      return s->run (argc - 1, argv + 1);

  g_printerr (_("hepascope-cli: %s: unknown command\n"), argv[1]);
  print_usage (stderr);
  return 1;
}
