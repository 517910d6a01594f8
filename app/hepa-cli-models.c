/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli models [--json] [--add FILE]: the model library (trained and imported models in
 * the user's data folder) with each model's name, date, data, architecture and headline
 * figures. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-model-library.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

int
hepa_cli_models (int    argc,
                 char **argv)
{
  gboolean json = FALSE;
  g_autofree char *dir = NULL;
  g_autofree char *add = NULL;
  g_autofree char *library = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries_list = NULL;
  int status = 0;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "add", 0, 0, G_OPTION_ARG_FILENAME, &add, N_("Copy a model file into the library first"),
      N_("FILE") },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, N_("Use this folder as the library"), N_("DIR") },
    { NULL },
  };

  if (!hepa_cli_parse ("models", "",
                       _("List the model library: trained and imported models in the user's "
                         "data folder, with name, date, data, architecture and headline "
                         "figures."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return hepa_cli_failf (NULL, _("models takes no arguments (see --help)"));
  library = dir != NULL ? g_strdup (dir) : hepa_model_library_dir ();
  if (add != NULL)
    {
      g_autofree char *added = hepa_model_library_add (library, add, FALSE, &error);

      if (added == NULL)
        return hepa_cli_fail (NULL, error);
      if (!json)
        printf ("%s %s\n", _("Added"), added);
    }
  entries_list = hepa_model_library_list (library, &error);
  if (entries_list == NULL)
    return hepa_cli_fail (library, error);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "library");
      json_builder_add_string_value (b, library);
      json_builder_set_member_name (b, "models");
      json_builder_begin_array (b);
      for (guint i = 0; i < entries_list->len; i++)
        {
          json_builder_begin_object (b);
          hepa_model_entry_add_json (g_ptr_array_index (entries_list, i), b);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (generator, root);
      json_generator_set_pretty (generator, TRUE);
      text = json_generator_to_data (generator, NULL);
      printf ("%s\n", text);
      return 0;
    }

  printf ("%s\n", library);
  if (entries_list->len == 0)
    printf ("  %s\n", _("No models yet: train one (hepascope-cli train, or Train in the "
                        "workbench) or add one with --add."));
  for (guint i = 0; i < entries_list->len; i++)
    {
      const HepaModelEntry *e = g_ptr_array_index (entries_list, i);
      g_autofree char *line = hepa_model_entry_describe (e);

      printf ("  %s  %.10s  %s\n", e->name, e->created, line);
      if (e->data_name != NULL)
        printf ("    %s %s\n", _("data:"), e->data_name);
    }
  return 0;
}
