/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli export: labeled crops, a manifest and a COCO file, de-identified. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-export.h"
#include "hepa-model.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static void
progress_cb (guint    done,
             guint    total,
             gpointer user_data)
{
  HepaCliProgress **progress = user_data;

  if (*progress == NULL)
    *progress = hepa_cli_progress_new (_("Exporting"), total);
  hepa_cli_progress_update (*progress, done, NULL);
}

static char *
summary_to_json (const HepaExportSummary *summary,
                 const char              *out_dir)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
#define INT(name, value) \
  G_STMT_START { json_builder_set_member_name (b, name); \
                 json_builder_add_int_value (b, value); } G_STMT_END
  json_builder_set_member_name (b, "out");
  json_builder_add_string_value (b, out_dir);
  INT ("images", summary->n_images);
  INT ("labeled", summary->n_labeled);
  INT ("unlabeled", summary->n_unlabeled);
  INT ("exported", summary->n_exported);
  INT ("written", summary->n_written);
  INT ("unchanged", summary->n_unchanged);
  INT ("removed", summary->n_removed);
  INT ("frames", summary->n_frames);
  INT ("skipped", summary->n_skipped);
#undef INT
  json_builder_set_member_name (b, "manifest_written");
  json_builder_add_boolean_value (b, summary->manifest_written);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, summary->seconds);
  json_builder_set_member_name (b, "problems");
  json_builder_begin_array (b);
  for (guint i = 0; i < summary->problems->len; i++)
    {
      const HepaExportProblem *problem = g_ptr_array_index (summary->problems, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, problem->path);
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, hepa_export_skip_describe (problem->reason));
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, problem->message);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

static void
print_summary (const HepaExportSummary *summary,
               const char              *out_dir)
{
  printf (_("Exported %u crops of %u labeled ROIs from %u images to %s in %.1f s "
            "(%u files written, %u unchanged, %u removed; %u whole frames)\n"),
          summary->n_exported, summary->n_labeled, summary->n_images, out_dir, summary->seconds,
          summary->n_written, summary->n_unchanged, summary->n_removed, summary->n_frames);
  if (summary->n_unlabeled > 0)
    printf (_("%u ROIs without a label were left out\n"), summary->n_unlabeled);
  if (summary->n_skipped > 0)
    {
      GString *line = g_string_new (NULL);

      for (int r = 0; r < HEPA_EXPORT_N_SKIPS; r++)
        if (summary->skipped[r] > 0)
          g_string_append_printf (line, "%s%u %s", line->len > 0 ? ", " : "",
                                  summary->skipped[r], hepa_export_skip_describe (r));
      printf (_("Skipped %u: %s\n"), summary->n_skipped, line->str);
      g_string_free (line, TRUE);
    }
}

int
hepa_cli_export (int    argc,
                 char **argv)
{
  g_autofree char *out_dir = NULL;
  g_autofree char *model_path = NULL;
  g_autofree char *classes_text = NULL;
  g_autofree char *workspace = NULL;
  gboolean native = FALSE;
  gboolean force = FALSE;
  gboolean json = FALSE;
  gboolean no_frames = FALSE;
  int threads = 0;
  int size = 0;
  g_auto(GStrv) paths = NULL;
  g_auto(GStrv) allowed = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaModelCard) card = NULL;
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  HepaCliProgress *progress = NULL;
  HepaExportOptions options;
  const HepaModelCard *base = NULL;
  int status = 0;
  const GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, N_("Folder to export into"), N_("DIR") },
    { "native", 0, 0, G_OPTION_ARG_NONE, &native,
      N_("Also write crops at source resolution under native/"), NULL },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      N_("Replace existing files whose content differs"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the summary as JSON"), NULL },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Take classes and preprocessing from this model (default: the default model)"),
      N_("M") },
    { "classes", 0, 0, G_OPTION_ARG_STRING, &classes_text,
      N_("Comma-separated class list (folder names), overriding the model's"), N_("a,b,c") },
    { "workspace", 0, 0, G_OPTION_ARG_FILENAME, &workspace,
      N_("Also look for sidecars in this workspace folder"), N_("DIR") },
    { "no-frames", 0, 0, G_OPTION_ARG_NONE, &no_frames,
      N_("Do not write whole frames and coco.json"), NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, N_("Worker threads (default: all cores)"),
      N_("N") },
    { "size", 's', 0, G_OPTION_ARG_INT, &size,
      N_("Crop size in pixels, overriding the model's input size (such as 224 for retraining)"),
      N_("S") },
    { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed,
      N_("Write this rater or model id as it is (repeatable); others become pseudonyms"),
      N_("NAME") },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &paths, NULL, N_("PATH…") },
    { NULL },
  };

  if (!hepa_cli_parse ("export", "",
                       _("Export labeled ROIs for retraining: DIR/<class>/<crop-id>.png at the "
                         "model's input size, manifest.csv and manifest.json, coco.json with "
                         "whole frames; de-identified (pseudonymous ids, no names, no UIDs). "
                         "PATH is an image or a folder searched for images with annotations. "
                         "Exits 1 when anything was skipped."),
                       entries, &argc, &argv, &status))
    return status;
  if (out_dir == NULL)
    return hepa_cli_failf (NULL, _("export: --out DIR is required (see --help)"));
  if (paths == NULL || paths[0] == NULL)
    return hepa_cli_failf (NULL, _("export: no PATH given (see --help)"));
  if (threads < 0 || threads > 256)
    return hepa_cli_failf (NULL, _("export: --threads must be between 1 and 256"));
  if (size != 0 && (size < 16 || size > 1024))
    return hepa_cli_failf (NULL, _("export: --size must be from 16 to 1024"));

  /* Classes and preprocessing come from a model card when there is one. */
  if (model_path == NULL)
    model_path = hepa_model_find_default ();
  if (model_path != NULL)
    {
      model = hepa_model_load (model_path, &error);
      if (model == NULL)
        return hepa_cli_fail (model_path, error);
      base = hepa_model_get_card (model);
    }
  if (classes_text != NULL)
    {
      g_auto(GStrv) classes = g_strsplit (classes_text, ",", -1);
      guint n = 0;

      for (guint i = 0; classes[i] != NULL; i++)
        {
          g_strstrip (classes[i]);
          if (*classes[i] == '\0')
            return hepa_cli_failf (NULL, _("export: --classes has an empty class name"));
          n++;
        }
      if (n < 2 || n > 32)
        return hepa_cli_failf (NULL, _("export: --classes needs 2 to 32 names"));
      card = hepa_export_card_new_like (base, (const char *const *) classes);
      base = card;
    }
  else if (base == NULL || size != 0)
    {
      card = hepa_export_card_new_like (base, NULL);
      base = card;
    }
  if (size != 0)
    card->input_size = size;

  hepa_export_options_init (&options, out_dir, base);
  options.native = native;
  options.force = force;
  options.frames = !no_frames;
  options.workspace_dir = workspace;
  options.n_threads = threads;
  options.allowed_names = (const char *const *) allowed;

  summary = hepa_export_run (&options, (const char *const *) paths, json ? NULL : progress_cb,
                             &progress, NULL, &error);
  g_clear_pointer (&progress, hepa_cli_progress_free);
  if (summary == NULL)
    return hepa_cli_fail (out_dir, error);

  for (guint i = 0; i < summary->problems->len; i++)
    {
      const HepaExportProblem *problem = g_ptr_array_index (summary->problems, i);

      g_printerr ("hepascope-cli: %s: %s\n", problem->path, problem->message);
    }
  if (json)
    {
      g_autofree char *text = summary_to_json (summary, out_dir);

      printf ("%s\n", text);
    }
  else
    print_summary (summary, out_dir);
  return summary->n_skipped > 0 || !summary->manifest_written ? 1 : 0;
}
