/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli convert IN OUT [--arch A] [--classes a,b,c]: a PyTorch checkpoint (.pth) or a
 * safetensors file to a Hepascope safetensors model with a card. A head that does not fit the
 * classes (ImageNet's 1000) is replaced by a freshly initialized one, and the card says where
 * the backbone came from. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-error.h"
#include "hepa-json.h"
#include "hepa-model.h"
#include "hepa-weights.h"
#include "hepa-safetensors.h"
#include "hepa-model-file.h"
#include "nn/hepa-resnet.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define CARD_KEY    "hepascope.card"
#define MIN_CLASSES 2
#define MAX_CLASSES 32
#define MAX_NAME    64

/* The paper's five classes, the default label set of ../shared/DESIGN.md. */
static const char *const default_classes[] = {
  "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL
};

static const double imagenet_mean[3] = { 0.485, 0.456, 0.406 };
static const double imagenet_std[3] = { 0.229, 0.224, 0.225 };

static char **
parse_classes (const char  *text,
               GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  guint n = g_strv_length (parts);

  if (n < MIN_CLASSES || n > MAX_CLASSES)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("--classes needs %d to %d names separated by commas, got %u"), MIN_CLASSES,
                   MAX_CLASSES, n);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      char *name = g_strstrip (parts[i]);

      if (*name == '\0' || strlen (name) > MAX_NAME || !g_utf8_validate (name, -1, NULL))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                       _("--classes: class %u is not a name of 1 to %d characters"), i + 1,
                       MAX_NAME);
          return NULL;
        }
      for (guint j = 0; j < out->len; j++)
        if (strcmp (g_ptr_array_index (out, j), name) == 0)
          {
            g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                         _("--classes names “%s” twice"), name);
            return NULL;
          }
      g_ptr_array_add (out, g_strdup (name));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static char *
sha256_file (const char  *path,
             GError     **error)
{
  g_autoptr(GMappedFile) file = NULL;

  file = hepa_map_file (path, error);
  if (file == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                      (const guint8 *) g_mapped_file_get_contents (file),
                                      g_mapped_file_get_length (file));
}

/* The card of the input, as a JSON object, or NULL when it has none (or an unreadable one). */
static JsonObject *
input_card (HepaWeights *weights)
{
  const char *json = hepa_weights_get_metadata (weights, CARD_KEY);
  g_autoptr(JsonParser) parser = NULL;

  if (json == NULL)
    return NULL;
  parser = json_parser_new ();
  if (!hepa_json_parser_load (parser, json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static char **
card_classes (JsonObject *card)
{
  JsonNode *node = card != NULL ? json_object_get_member (card, "classes") : NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *e = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        return NULL;
      g_ptr_array_add (out, g_strdup (json_node_get_string (e)));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static gboolean
infer_arch (HepaWeights *weights,
            HepaArch    *arch)
{
  if (hepa_weights_lookup (weights, "layer1.0.conv3.weight") != NULL)
    *arch = HEPA_ARCH_RESNET50;
  else if (hepa_weights_lookup (weights, "layer1.0.conv1.weight") != NULL)
    *arch = HEPA_ARCH_RESNET18;
  else
    return FALSE;
  return TRUE;
}

static gboolean
same_shape (const HepaTensorEntry *e,
            const HepaParamInfo   *info)
{
  if (e->ndim != info->ndim)
    return FALSE;
  for (int d = 0; d < info->ndim; d++)
    if (e->shape[d] != info->shape[d])
      return FALSE;
  return TRUE;
}

static char *
shape_string (const gint64 *shape,
              int           ndim)
{
  GString *s = g_string_new ("(");

  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d > 0 ? ", " : "", shape[d]);
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

/* torch.nn.Linear's reset_parameters: kaiming_uniform_ (a = sqrt 5) for the weight, which is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias; seeded here. */
static void
init_head (float   *weight,   /* (n_classes, feat_c) */
           float   *bias,     /* (n_classes) */
           int      n_classes,
           int      feat_c,
           guint64  seed)
{
  float bound = 1.0f / sqrtf ((float) feat_c);

  for (gint64 j = 0; j < (gint64) n_classes * feat_c; j++)
    weight[j] = bound * hepa_nn_seeded_uniform (seed, (guint64) j);
  for (int j = 0; j < n_classes; j++)
    bias[j] = bound * hepa_nn_seeded_uniform (seed ^ G_GUINT64_CONSTANT (0x5eed0000b1a5), j);
}

static void
set_double_array (JsonObject   *object,
                  const char   *member,
                  const double *values)
{
  JsonArray *array = json_array_new ();

  for (int i = 0; i < 3; i++)
    json_array_add_double_element (array, values[i]);
  json_object_set_array_member (object, member, array);
}

/* Reads a JSON object of card members to add or replace (a description, known limits). Members
 * that say how to run the weights are refused: they come from the weights themselves. */
static JsonObject *
load_card_extra (const char  *path,
                 GError     **error)
{
  static const char *const fixed[] = { "arch", "classes", "input_size", "preprocess",
                                       "backbone_from", "software_version", "created", NULL };
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!hepa_json_parser_load_file (parser, path, 16 * 1024 * 1024, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("%s: not a JSON object"), path);
      return NULL;
    }
  obj = json_node_get_object (root);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    if (g_strv_contains (fixed, l->data))
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                     _("%s: the card member “%s” comes from the weights and cannot be set"),
                     path, (const char *) l->data);
        return NULL;
      }
  return json_object_ref (obj);
}

/* Sets @extra's members on @card, replacing members of the same name. */
static void
merge_card_extra (JsonObject *card,
                  JsonObject *extra)
{
  g_autoptr(GList) members = json_object_get_members (extra);

  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (card, l->data,
                            json_node_copy (json_object_get_member (extra, l->data)));
}

static char *
build_card (JsonObject        *input,
            HepaArch           arch,
            const char *const *classes,
            const char        *out_path,
            const char        *in_path,
            const char        *in_sha256,
            gboolean           new_head,
            guint64            seed,
            JsonObject        *extra)
{
  g_autoptr(JsonObject) card = input != NULL ? json_object_ref (input) : json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *name = g_path_get_basename (out_path);
  g_autofree char *source = g_path_get_basename (in_path);
  JsonObject *from = json_object_new ();
  JsonArray *class_array = json_array_new ();
  char *dot = strrchr (name, '.');

  if (dot != NULL && dot != name)
    *dot = '\0';
  if (!json_object_has_member (card, "name"))
    json_object_set_string_member (card, "name", name);
  json_object_set_string_member (card, "arch", hepa_arch_to_string (arch));
  for (guint i = 0; classes[i] != NULL; i++)
    json_array_add_string_element (class_array, classes[i]);
  json_object_set_array_member (card, "classes", class_array);

  /* A card we carry over keeps the preprocessing its weights were trained with; otherwise the
   * paper's: gray -> 3 channels, stretched to 224 x 224, ImageNet mean and std. */
  if (input == NULL || !json_object_has_member (card, "input_size"))
    json_object_set_int_member (card, "input_size", 224);
  if (input == NULL || !json_object_has_member (card, "preprocess"))
    {
      JsonObject *pre = json_object_new ();

      json_object_set_boolean_member (pre, "grayscale", TRUE);
      json_object_set_string_member (pre, "resize", "stretch");
      set_double_array (pre, "mean", imagenet_mean);
      set_double_array (pre, "std", imagenet_std);
      json_object_set_object_member (card, "preprocess", pre);
    }

  json_object_set_string_member (from, "file", source);
  json_object_set_string_member (from, "sha256", in_sha256);
  json_object_set_string_member (from, "head", new_head ? "initialized" : "kept");
  if (new_head)
    {
      json_object_set_string_member (from, "head_init",
                                     "uniform(-1/sqrt(features), 1/sqrt(features)) as "
                                     "torch.nn.Linear");
      json_object_set_int_member (from, "head_seed", (gint64) seed);
    }
  json_object_set_object_member (card, "backbone_from", from);
  {
    g_autofree char *created = g_date_time_format_iso8601 (now);

    json_object_set_string_member (card, "created", created);
  }
  json_object_set_string_member (card, "software_version", "hepascope " PACKAGE_VERSION);
  if (new_head)
    {
      JsonArray *warnings = json_array_new ();

      json_array_add_string_element (warnings,
                                     "The classification head is untrained (freshly initialized "
                                     "on a converted backbone): train this model before use.");
      json_object_set_array_member (card, "warnings", warnings);
      json_object_remove_member (card, "metrics");
      json_object_remove_member (card, "trained_on");
      /* A new head answers differently: what was measured on the old one no longer holds. */
      json_object_remove_member (card, "calibration");
      json_object_remove_member (card, "ood");
      json_object_remove_member (card, "training_roi");
    }
  if (extra != NULL)
    merge_card_extra (card, extra);

  json_node_set_object (root, card);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

int
hepa_cli_convert (int    argc,
                  char **argv)
{
  g_autofree char *arch_text = NULL;
  g_autofree char *classes_text = NULL;
  g_autofree char *dtype_text = NULL;
  g_autofree char *extra_path = NULL;
  g_autoptr(JsonObject) extra = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *card = NULL;
  g_auto(GStrv) classes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) in = NULL;
  g_autoptr(HepaWeights) out = NULL;
  g_autoptr(JsonObject) in_card = NULL;
  g_autoptr(HepaModel) check = NULL;
  g_autofree float *head_weight = NULL;
  g_autofree float *head_bias = NULL;
  gint64 seed = 0;
  int status = 0;
  HepaArch arch;
  HepaDType dtype = HEPA_DTYPE_F32;
  const HepaTensorEntry *fc;
  gboolean new_head = FALSE;
  int n_classes, feat_c, n_params;
  guint n_dropped = 0;
  const char *first_dropped = NULL;
  const char *in_path, *out_path;
  const GOptionEntry entries[] = {
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch_text,
      N_("resnet50 or resnet18 (default: from the card, else from the tensors)"), N_("ARCH") },
    { "classes", 0, 0, G_OPTION_ARG_STRING, &classes_text,
      N_("Class names in logit order, separated by commas"), N_("a,b,c") },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed,
      N_("Seed of a newly initialized head (default 0)"), N_("N") },
    { "dtype", 0, 0, G_OPTION_ARG_STRING, &dtype_text,
      N_("Stored precision: f32 (default) or f16"), N_("TYPE") },
    { "card-extra", 0, 0, G_OPTION_ARG_FILENAME, &extra_path,
      N_("Set the members of this JSON object in the card (description, known limits)"),
      N_("FILE") },
    { NULL },
  };

  if (!hepa_cli_parse ("convert", _("IN OUT"),
                       _("Convert a PyTorch checkpoint (.pth, torch.save of a state dict) or a "
                         "safetensors file into a Hepascope model: safetensors with a model card. "
                         "Nothing in the checkpoint is executed. When its head does not fit the "
                         "classes (such as ImageNet's 1000), the backbone is kept and a new head "
                         "is initialized."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 3)
    return hepa_cli_failf (NULL, _("convert: give IN and OUT (see --help)"));
  in_path = argv[1];
  out_path = argv[2];
  if (dtype_text != NULL)
    {
      if (strcmp (dtype_text, "f32") == 0)
        dtype = HEPA_DTYPE_F32;
      else if (strcmp (dtype_text, "f16") == 0)
        dtype = HEPA_DTYPE_F16;
      else
        return hepa_cli_failf (NULL, _("--dtype must be f32 or f16, not “%s”"), dtype_text);
    }
  if (seed < 0)
    return hepa_cli_failf (NULL, _("--seed must not be negative"));
  if (classes_text != NULL && (classes = parse_classes (classes_text, &error)) == NULL)
    return hepa_cli_fail (NULL, error);
  if (extra_path != NULL && (extra = load_card_extra (extra_path, &error)) == NULL)
    return hepa_cli_fail (NULL, error);

  in = hepa_model_file_load (in_path, &error);
  if (in == NULL)
    return hepa_cli_fail (in_path, error);
  in_card = input_card (in);

  if (arch_text != NULL)
    {
      if (!hepa_arch_from_string (arch_text, &arch))
        return hepa_cli_failf (NULL, _("--arch must be resnet50 or resnet18, not “%s”"),
                               arch_text);
    }
  else if (in_card == NULL || !json_object_has_member (in_card, "arch")
           || !JSON_NODE_HOLDS_VALUE (json_object_get_member (in_card, "arch"))
           || json_node_get_value_type (json_object_get_member (in_card, "arch")) != G_TYPE_STRING
           || !hepa_arch_from_string (json_object_get_string_member (in_card, "arch"), &arch))
    {
      if (!infer_arch (in, &arch))
        return hepa_cli_failf (in_path, _("not a ResNet state dict (no “layer1.0.conv1.weight”); "
                                          "give --arch if the names are torchvision's"));
    }

  fc = hepa_weights_lookup (in, "fc.weight");
  if (classes == NULL)
    {
      g_auto(GStrv) from_card = card_classes (in_card);
      guint n_head = fc != NULL && fc->ndim == 2 ? (guint) fc->shape[0] : 0;

      if (from_card != NULL && g_strv_length (from_card) == n_head)
        classes = g_steal_pointer (&from_card);
      else if (n_head >= MIN_CLASSES && n_head <= MAX_CLASSES)
        {
          GPtrArray *names = g_ptr_array_new ();

          for (guint i = 0; i < n_head; i++)
            g_ptr_array_add (names, g_strdup_printf ("class%u", i));
          g_ptr_array_add (names, NULL);
          classes = (char **) g_ptr_array_free (names, FALSE);
          g_printerr (_("hepascope-cli: %s: no --classes; naming the %u outputs class0..class%u\n"),
                      in_path, n_head, n_head - 1);
        }
      else
        {
          classes = g_strdupv ((char **) default_classes);
          g_printerr (_("hepascope-cli: %s: no --classes; using the default five classes "
                        "(non_fll, cyst, hemangioma, ffs, hcc)\n"), in_path);
        }
    }
  n_classes = (int) g_strv_length (classes);

  /* Every backbone tensor must be there with its shape; the head may differ. */
  out = hepa_weights_new ();
  n_params = hepa_resnet_n_params (arch);
  feat_c = 0;
  for (int i = 0; i < n_params; i++)
    {
      HepaParamInfo info;
      const HepaTensorEntry *e;

      hepa_resnet_param_info (arch, n_classes, i, &info);
      if (strcmp (info.name, "fc.weight") == 0)
        feat_c = info.shape[1];
      if (g_str_has_prefix (info.name, "fc."))
        continue;
      e = hepa_weights_lookup (in, info.name);
      if (e == NULL)
        return hepa_cli_failf (in_path, _("tensor “%s” of %s is missing"), info.name,
                               hepa_arch_to_string (arch));
      if (!same_shape (e, &info))
        {
          g_autofree char *got = shape_string (e->shape, e->ndim);

          return hepa_cli_failf (in_path, _("tensor “%s” has shape %s, which is not %s's"),
                                 info.name, got, hepa_arch_to_string (arch));
        }
    }
  g_assert (feat_c > 0);

  {
    const HepaTensorEntry *bias = hepa_weights_lookup (in, "fc.bias");

    new_head = fc == NULL || bias == NULL || fc->ndim != 2 || fc->shape[0] != n_classes
               || fc->shape[1] != feat_c || bias->ndim != 1 || bias->shape[0] != n_classes;
  }
  if (new_head)
    {
      head_weight = g_new (float, (gsize) n_classes * feat_c);
      head_bias = g_new (float, n_classes);
      init_head (head_weight, head_bias, n_classes, feat_c, (guint64) seed);
      if (fc != NULL && fc->ndim == 2)
        g_printerr (_("hepascope-cli: %s: the head has %lld outputs, not %d: keeping the "
                      "backbone and initializing a new head (seed %lld); train before use\n"),
                    in_path, (long long) fc->shape[0], n_classes, (long long) seed);
      else
        g_printerr (_("hepascope-cli: %s: no usable head: initializing a new one (seed %lld); "
                      "train before use\n"), in_path, (long long) seed);
    }

  for (int i = 0; i < n_params; i++)
    {
      HepaParamInfo info;
      gint64 shape[4];

      hepa_resnet_param_info (arch, n_classes, i, &info);
      for (int d = 0; d < info.ndim; d++)
        shape[d] = info.shape[d];
      if (new_head && strcmp (info.name, "fc.weight") == 0)
        hepa_weights_add (out, info.name, info.ndim, shape, head_weight);
      else if (new_head && strcmp (info.name, "fc.bias") == 0)
        hepa_weights_add (out, info.name, info.ndim, shape, head_bias);
      else
        hepa_weights_add (out, info.name, info.ndim, shape,
                          hepa_weights_lookup (in, info.name)->data);
    }
  for (guint i = 0; i < hepa_weights_get_n (in); i++)
    {
      const char *name = hepa_weights_get_nth (in, i)->name;

      if (hepa_weights_lookup (out, name) == NULL && !g_str_has_prefix (name, "fc.")
          && !g_str_has_suffix (name, "num_batches_tracked"))
        {
          if (n_dropped++ == 0)
            first_dropped = name;
        }
    }
  if (n_dropped > 0)
    g_printerr (_("hepascope-cli: %s: left out %u tensors that %s does not use (first: “%s”)\n"),
                in_path, n_dropped, hepa_arch_to_string (arch), first_dropped);

  sha256 = sha256_file (in_path, &error);
  if (sha256 == NULL)
    return hepa_cli_fail (NULL, error);
  card = build_card (in_card, arch, (const char *const *) classes, out_path, in_path, sha256,
                     new_head, (guint64) seed, extra);
  hepa_weights_set_metadata (out, CARD_KEY, card);

  /* What we write must load as a model, card included; the card goes out through its one
   * writer (hepa-model-card.c), as the reader understood it. */
  check = hepa_model_new_from_weights (out, NULL, &error);
  if (check == NULL)
    return hepa_cli_fail (in_path, error);
  {
    g_autofree char *written = hepa_model_card_to_json (hepa_model_get_card (check), FALSE);

    hepa_weights_set_metadata (out, HEPA_MODEL_CARD_KEY, written);
  }
  if (!hepa_safetensors_save (out, out_path, dtype, &error))
    return hepa_cli_fail (NULL, error);
  return 0;
}
