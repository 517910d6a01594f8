/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli model [MODEL] [--json]: which model a command would use and what its card says.
 * Without MODEL it is the default model ($HEPASCOPE_MODEL, then the models next to the build,
 * then the installed ones), the one classify, eval and the app pick when given none. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-model.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

/* The card as a JSON node, or NULL when the file has none (defaults were assumed); the arrays
 * of the out-of-distribution reference are abbreviated (hundreds of kB of base64). */
static JsonNode *
card_node (const HepaModelCard *card)
{
  g_autofree char *json = NULL;

  if (!card->has_card || card->json == NULL)
    return NULL;
  json = hepa_model_card_to_display_json (card);
  return json_from_string (json, NULL);
}

static char *
model_json (const char          *path,
            const HepaModelCard *card)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  JsonNode *card_json = card_node (card);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  hepa_model_card_add_summary (card, builder);
  json_builder_set_member_name (builder, "sha256");
  json_builder_add_string_value (builder, card->sha256);
  json_builder_set_member_name (builder, "card");
  if (card_json != NULL)
    json_builder_add_value (builder, card_json);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

static void
print_model_text (const char          *path,
                  const HepaModelCard *card)
{
  g_autofree char *classes = g_strjoinv (", ", card->classes);
  g_autoptr(JsonNode) card_json = card_node (card);

  printf ("%s\n", path);
  printf ("  %s %s\n", _("Id:"), card->id);
  printf ("  %s %s, %d x %d\n", _("Network:"), card->arch, card->input_size, card->input_size);
  printf ("  %s %s\n", _("Classes:"), classes);
  printf ("  %s %s\n", _("SHA-256:"), card->sha256);
  printf ("  %s %s\n", _("Intended use:"), hepa_model_card_get_intended_use (card));
  {
    g_autofree char *cal = hepa_model_card_describe_calibration (card);
    g_autofree char *ood = hepa_model_card_describe_ood (card);

    printf ("  %s\n  %s\n", cal, ood);
  }
  if (card_json == NULL)
    {
      printf ("  %s\n", _("No model card: ImageNet preprocessing and class names were assumed."));
      return;
    }
  {
    g_autoptr(JsonGenerator) generator = json_generator_new ();
    g_autofree char *text = NULL;

    json_generator_set_root (generator, card_json);
    json_generator_set_pretty (generator, TRUE);
    text = json_generator_to_data (generator, NULL);
    printf ("  %s\n%s\n", _("Card:"), text);
  }
}

int
hepa_cli_model (int    argc,
                char **argv)
{
  gboolean json = FALSE;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  const HepaModelCard *card;
  int status = 0;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL },
  };

  if (!hepa_cli_parse ("model", _("[MODEL]"),
                       _("Show a model: its file, id, network, classes and model card. Without "
                         "MODEL, the default model, the one the other commands use."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return hepa_cli_failf (NULL, _("model takes at most one MODEL (see --help)"));
  path = argc == 2 ? g_strdup (argv[1]) : hepa_model_find_default ();
  if (path == NULL)
    return hepa_cli_failf (NULL, _("no default model found; pass MODEL"));

  model = hepa_model_load (path, &error);
  if (model == NULL)
    return hepa_cli_fail (path, error);
  card = hepa_model_get_card (model);
  if (json)
    {
      g_autofree char *text = model_json (path, card);

      printf ("%s\n", text);
    }
  else
    print_model_text (path, card);
  return 0;
}
