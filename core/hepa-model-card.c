/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HepaModelCard: the one reader and the one writer of the "hepascope.card" JSON. */
#include "config.h"

#include "hepa-model-card.h"
#include "hepa-error.h"
#include "hepa-json.h"
#include "hepa-weights-private.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define MIN_INPUT_SIZE 32
#define MAX_INPUT_SIZE 1024
#define MAX_OOD_RANK 512

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

/* ---- Life cycle ---------------------------------------------------------------------------- */

void
hepa_model_card_init (HepaModelCard *card,
                      HepaArch       arch,
                      guint          n_classes)
{
  memset (card, 0, sizeof *card);
  card->arch = g_strdup (hepa_arch_to_string (arch));
  card->n_classes = n_classes;
  card->classes = g_new0 (char *, n_classes + 1);
  for (guint i = 0; i < n_classes; i++)
    card->classes[i] = g_strdup_printf ("class%u", i);
  card->input_size = 224;
  card->grayscale = FALSE;
  card->resize = HEPA_RESIZE_STRETCH;
  memcpy (card->mean, imagenet_mean, sizeof card->mean);
  memcpy (card->std, imagenet_std, sizeof card->std);
  card->has_card = FALSE;
  card->sha256 = g_strdup ("");
  card->warnings = g_new0 (char *, 2);
  card->warnings[0] = g_strdup ("No model card: classes and preprocessing are assumed defaults.");
  card->temperature = 1.0;
  card->ece_before = card->ece_after = -1;
}

void
hepa_ood_reference_free (HepaOodReference *ood)
{
  if (ood == NULL)
    return;
  g_free (ood->means);
  g_free (ood->components);
  g_free (ood->eigenvalues);
  g_free (ood->reference);
  g_free (ood);
}

HepaOodReference *
hepa_ood_reference_copy (const HepaOodReference *ood)
{
  HepaOodReference *copy;

  if (ood == NULL)
    return NULL;
  copy = g_memdup2 (ood, sizeof *ood);
  copy->means = g_memdup2 (ood->means, (gsize) ood->n_classes * ood->dim * sizeof (float));
  copy->components = g_memdup2 (ood->components,
                                (gsize) ood->rank * ood->dim * sizeof (float));
  copy->eigenvalues = g_memdup2 (ood->eigenvalues, (gsize) ood->rank * sizeof (float));
  copy->reference = g_strdup (ood->reference);
  return copy;
}

void
hepa_model_card_clear (HepaModelCard *card)
{
  g_clear_pointer (&card->id, g_free);
  g_clear_pointer (&card->arch, g_free);
  g_clear_pointer (&card->classes, g_strfreev);
  g_clear_pointer (&card->json, g_free);
  g_clear_pointer (&card->sha256, g_free);
  g_clear_pointer (&card->name, g_free);
  g_clear_pointer (&card->intended_use, g_free);
  g_clear_pointer (&card->warnings, g_strfreev);
  g_clear_pointer (&card->calibration_data, g_free);
  g_clear_pointer (&card->ood, hepa_ood_reference_free);
}

HepaModelCard *
hepa_model_card_copy (const HepaModelCard *card)
{
  HepaModelCard *copy = g_memdup2 (card, sizeof *card);

  copy->id = g_strdup (card->id);
  copy->arch = g_strdup (card->arch);
  copy->classes = g_strdupv (card->classes);
  copy->json = g_strdup (card->json);
  copy->sha256 = g_strdup (card->sha256);
  copy->name = g_strdup (card->name);
  copy->intended_use = g_strdup (card->intended_use);
  copy->warnings = card->warnings != NULL ? g_strdupv (card->warnings) : g_new0 (char *, 1);
  copy->calibration_data = g_strdup (card->calibration_data);
  copy->ood = hepa_ood_reference_copy (card->ood);
  return copy;
}

void
hepa_model_card_free (HepaModelCard *card)
{
  if (card == NULL)
    return;
  hepa_model_card_clear (card);
  g_free (card);
}

/* ---- Reading helpers ----------------------------------------------------------------------- */

static char *
dup_string_member (JsonObject *object,
                   const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* The strings of an array member (other elements skipped); an empty vector when absent. */
static char **
string_array_member (JsonObject *object,
                     const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *e = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
            g_strv_builder_add (builder, json_node_get_string (e));
        }
    }
  return g_strv_builder_end (builder);
}

static gboolean
is_number (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
         && (json_node_get_value_type (node) == G_TYPE_DOUBLE
             || json_node_get_value_type (node) == G_TYPE_INT64);
}

/* A finite number in [lo, hi]; FALSE with an error naming @what otherwise. */
static gboolean
read_number (JsonObject  *object,
             const char  *member,
             const char  *what,
             double       lo,
             double       hi,
             double      *out,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);
  double v;

  if (!is_number (node) || !isfinite (v = json_node_get_double (node)) || v < lo || v > hi)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card's %s must be a number from %g to %g"), what, lo, hi);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
read_percentiles (JsonObject  *object,
                  const char  *member,
                  double       out[3])
{
  JsonNode *node = json_object_get_member (object, member);
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (array = json_node_get_array (node)) != 3)
    return FALSE;
  for (guint i = 0; i < 3; i++)
    {
      JsonNode *e = json_array_get_element (array, i);

      if (!is_number (e) || !isfinite (out[i] = json_node_get_double (e)) || out[i] <= 0)
        return FALSE;
    }
  return TRUE;
}

/* Little-endian float32, base64. */
static char *
floats_to_base64 (const float *v,
                  gsize        n)
{
  g_autofree guint32 *le = g_new (guint32, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    {
      guint32 bits;

      memcpy (&bits, &v[i], 4);
      le[i] = GUINT32_TO_LE (bits);
    }
  return g_base64_encode ((const guchar *) le, n * 4);
}

static float *
floats_from_base64 (JsonObject *object,
                    const char *member,
                    gsize       n)
{
  g_autofree char *text = dup_string_member (object, member);
  g_autofree guchar *bytes = NULL;
  gsize len = 0;
  float *v;

  if (text == NULL)
    return NULL;
  bytes = g_base64_decode (text, &len);
  if (bytes == NULL || len != n * 4)
    return NULL;
  v = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      guint32 bits;

      memcpy (&bits, bytes + 4 * i, 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&v[i], &bits, 4);
      if (!isfinite (v[i]))
        {
          g_free (v);
          return NULL;
        }
    }
  return v;
}

static guint
feature_dim (const char *arch)
{
  return g_strcmp0 (arch, "resnet18") == 0 ? 512 : 2048;
}

/* "calibration", "training_roi" and "ood". Absent members leave the defaults. */
static gboolean
parse_trust (HepaModelCard  *card,
             JsonObject     *root,
             guint           n_classes,
             GError        **error)
{
  JsonNode *node;

  card->calibrated = FALSE;
  card->temperature = 1.0;
  g_clear_pointer (&card->calibration_data, g_free);
  node = json_object_get_member (root, "calibration");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *cal = json_node_get_object (node);
      JsonNode *conf = json_object_get_member (cal, "conformal");
      double n = 0;

      if (!read_number (cal, "temperature", "calibration.temperature", 0.01, 100,
                        &card->temperature, error))
        return FALSE;
      if (conf == NULL || !JSON_NODE_HOLDS_OBJECT (conf)
          || !read_number (json_node_get_object (conf), "threshold",
                           "calibration.conformal.threshold", 0, 1, &card->conformal_threshold,
                           error)
          || !read_number (json_node_get_object (conf), "coverage",
                           "calibration.conformal.coverage", 0.5, 1, &card->coverage, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                         _("The model card's calibration has no conformal threshold"));
          return FALSE;
        }
      if (is_number (json_object_get_member (cal, "n")))
        n = json_object_get_double_member (cal, "n");
      card->n_calibration = n > 0 && n < G_MAXUINT ? (guint) n : 0;
      card->ece_before = is_number (json_object_get_member (cal, "ece_before"))
                         ? json_object_get_double_member (cal, "ece_before") : -1;
      card->ece_after = is_number (json_object_get_member (cal, "ece_after"))
                        ? json_object_get_double_member (cal, "ece_after") : -1;
      card->calibration_data = dup_string_member (cal, "data");
      card->calibrated = TRUE;
    }
  else if (node != NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card's calibration is not an object"));
      return FALSE;
    }

  card->has_roi_px = card->has_roi_mm = FALSE;
  node = json_object_get_member (root, "training_roi");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      card->has_roi_px = read_percentiles (json_node_get_object (node), "side_px", card->roi_px);
      card->has_roi_mm = read_percentiles (json_node_get_object (node), "side_mm", card->roi_mm);
    }

  g_clear_pointer (&card->ood, hepa_ood_reference_free);
  node = json_object_get_member (root, "ood");
  if (node != NULL)
    {
      g_autoptr(HepaOodReference) ood = g_new0 (HepaOodReference, 1);
      JsonObject *o;
      double v;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's ood is not an object"));
          return FALSE;
        }
      o = json_node_get_object (node);
      if (!read_number (o, "dim", "ood.dim", 1, 65536, &v, error))
        return FALSE;
      ood->dim = (guint) v;
      if (ood->dim != feature_dim (card->arch))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's ood.dim is %u but %s has %u features"), ood->dim,
                       card->arch, feature_dim (card->arch));
          return FALSE;
        }
      if (!read_number (o, "rank", "ood.rank", 0, MIN (MAX_OOD_RANK, ood->dim - 1), &v, error))
        return FALSE;
      ood->rank = (guint) v;
      ood->n_classes = n_classes;
      if (!read_number (o, "residual_variance", "ood.residual_variance", 1e-30, 1e30,
                        &ood->residual, error)
          || !read_number (o, "p95", "ood.p95", 0, 1e30, &ood->p95, error)
          || !read_number (o, "p99", "ood.p99", 0, 1e30, &ood->p99, error))
        return FALSE;
      ood->means = floats_from_base64 (o, "means", (gsize) n_classes * ood->dim);
      ood->components = floats_from_base64 (o, "components", (gsize) ood->rank * ood->dim);
      ood->eigenvalues = floats_from_base64 (o, "eigenvalues", ood->rank);
      if (ood->means == NULL || ood->components == NULL || ood->eigenvalues == NULL)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's ood arrays are damaged or do not match its "
                         "dimensions"));
          return FALSE;
        }
      for (guint i = 0; i < ood->rank; i++)
        if (!(ood->eigenvalues[i] > 0))
          {
            g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                         _("The model card's ood eigenvalues must be positive"));
            return FALSE;
          }
      ood->n_fit = is_number (json_object_get_member (o, "n_fit"))
                   ? (guint) CLAMP (json_object_get_double_member (o, "n_fit"), 0, G_MAXUINT) : 0;
      ood->n_heldout = is_number (json_object_get_member (o, "n_heldout"))
                       ? (guint) CLAMP (json_object_get_double_member (o, "n_heldout"), 0,
                                        G_MAXUINT) : 0;
      ood->reference = dup_string_member (o, "reference");
      card->ood = g_steal_pointer (&ood);
    }
  return TRUE;
}

static gboolean
read_triple (JsonObject  *object,
             const char  *member,
             float        out[3],
             gboolean     positive,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);
  double v[3];

  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) != G_TYPE_STRING)
    {
      v[0] = v[1] = v[2] = json_node_get_double (node);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node)
           && (json_array_get_length (json_node_get_array (node)) == 3
               || json_array_get_length (json_node_get_array (node)) == 1))
    {
      JsonArray *array = json_node_get_array (node);
      guint len = json_array_get_length (array);

      for (guint i = 0; i < 3; i++)
        {
          JsonNode *element = json_array_get_element (array, len == 1 ? 0 : i);

          if (!JSON_NODE_HOLDS_VALUE (element)
              || (json_node_get_value_type (element) != G_TYPE_DOUBLE
                  && json_node_get_value_type (element) != G_TYPE_INT64))
            goto invalid;
          v[i] = json_node_get_double (element);
        }
    }
  else
    goto invalid;

  for (int i = 0; i < 3; i++)
    {
      if (!isfinite (v[i]) || (positive && v[i] <= 0) || fabs (v[i]) > 1e6)
        goto invalid;
      out[i] = (float) v[i];
    }
  return TRUE;

invalid:
  /* Two whole sentences: "positive" spliced into one would not translate. */
  if (positive)
    g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                 _("The model card's preprocess.%s must be three positive numbers"), member);
  else
    g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                 _("The model card's preprocess.%s must be three numbers"), member);
  return FALSE;
}

gboolean
hepa_model_card_parse (HepaModelCard  *card,
                       const char     *json,
                       HepaArch        tensors_arch,
                       guint           n_classes,
                       GError        **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GHashTable) seen = NULL;
  JsonObject *root;
  JsonNode *node;
  HepaArch arch;

  if (!hepa_json_parser_load (parser, json, -1, &local_error))
    {
      g_autofree char *message = hepa_weights_printable_name (local_error->message);

      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card is not valid JSON: %s"), message);
      return FALSE;
    }
  if (json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL, _("The model card is not a JSON object"));
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));

  node = json_object_get_member (root, "arch");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING
      || !hepa_arch_from_string (json_node_get_string (node), &arch))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card's arch must be “resnet50” or “resnet18”"));
      return FALSE;
    }
  if (arch != tensors_arch)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card says %s but the tensors are %s"),
                   hepa_arch_to_string (arch), hepa_arch_to_string (tensors_arch));
      return FALSE;
    }

  node = json_object_get_member (root, "classes");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card has no list of classes"));
      return FALSE;
    }
  classes = g_ptr_array_new_with_free_func (g_free);
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
    {
      JsonNode *element = json_array_get_element (json_node_get_array (node), i);
      const char *text;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING
          || *(text = json_node_get_string (element)) == '\0' || strlen (text) > 64)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's class %u is not a name of 1 to 64 characters"), i);
          return FALSE;
        }
      if (!g_hash_table_add (seen, (gpointer) text))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card names class “%s” twice"), text);
          return FALSE;
        }
      g_ptr_array_add (classes, g_strdup (text));
    }
  if (classes->len != n_classes)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                   _("The model card names %u classes but “fc.weight” has %u rows"),
                   classes->len, n_classes);
      return FALSE;
    }

  node = json_object_get_member (root, "input_size");
  if (node != NULL)
    {
      gint64 size;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
          || (size = json_node_get_int (node)) < MIN_INPUT_SIZE || size > MAX_INPUT_SIZE)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's input_size must be an integer from %d to %d"),
                       MIN_INPUT_SIZE, MAX_INPUT_SIZE);
          return FALSE;
        }
      card->input_size = (int) size;
    }

  node = json_object_get_member (root, "preprocess");
  if (node != NULL)
    {
      JsonObject *pre;
      JsonNode *member;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("The model card's preprocess is not an object"));
          return FALSE;
        }
      pre = json_node_get_object (node);
      member = json_object_get_member (pre, "grayscale");
      if (member != NULL)
        {
          if (!JSON_NODE_HOLDS_VALUE (member)
              || json_node_get_value_type (member) != G_TYPE_BOOLEAN)
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                           _("The model card's preprocess.grayscale must be true or false"));
              return FALSE;
            }
          card->grayscale = json_node_get_boolean (member);
        }
      member = json_object_get_member (pre, "resize");
      if (member != NULL)
        {
          const char *mode = JSON_NODE_HOLDS_VALUE (member)
                             && json_node_get_value_type (member) == G_TYPE_STRING
                             ? json_node_get_string (member) : NULL;

          if (g_strcmp0 (mode, "stretch") == 0)
            card->resize = HEPA_RESIZE_STRETCH;
          else if (g_strcmp0 (mode, "letterbox") == 0)
            card->resize = HEPA_RESIZE_LETTERBOX;
          else
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                           _("The model card's preprocess.resize must be “stretch” or "
                             "“letterbox”"));
              return FALSE;
            }
        }
      if (!read_triple (pre, "mean", card->mean, FALSE, error)
          || !read_triple (pre, "std", card->std, TRUE, error))
        return FALSE;
    }

  if (!parse_trust (card, root, n_classes, error))
    return FALSE;

  g_clear_pointer (&card->name, g_free);
  node = json_object_get_member (root, "name");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING
      && *json_node_get_string (node) != '\0')
    card->name = g_strdup (json_node_get_string (node));
  g_clear_pointer (&card->intended_use, g_free);
  card->intended_use = dup_string_member (root, "intended_use");
  g_strfreev (card->warnings);
  card->warnings = string_array_member (root, "warnings");

  g_ptr_array_add (classes, NULL);
  g_strfreev (card->classes);
  card->classes = (char **) g_ptr_array_free (g_steal_pointer (&classes), FALSE);
  card->n_classes = n_classes;
  g_free (card->json);
  card->json = g_strdup (json);
  card->has_card = TRUE;
  return TRUE;
}

void
hepa_model_card_add_summary (const HepaModelCard *card,
                             JsonBuilder         *b)
{
  g_return_if_fail (JSON_IS_BUILDER (b));
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, card->id);
  json_builder_set_member_name (b, "arch");
  json_builder_add_string_value (b, card->arch);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; i < card->n_classes; i++)
    json_builder_add_string_value (b, card->classes[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "input_size");
  json_builder_add_int_value (b, card->input_size);
  json_builder_set_member_name (b, "has_card");
  json_builder_add_boolean_value (b, card->has_card);
}

/* ---- Writing ------------------------------------------------------------------------------- */

static JsonArray *
float_array (const float *v,
             guint        n)
{
  JsonArray *array = json_array_sized_new (n);

  for (guint i = 0; i < n; i++)
    json_array_add_double_element (array, v[i]);
  return array;
}

static JsonArray *
double_array (const double *v,
              guint         n)
{
  JsonArray *array = json_array_sized_new (n);

  for (guint i = 0; i < n; i++)
    json_array_add_double_element (array, v[i]);
  return array;
}

static JsonArray *
strv_array (char **v)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; v != NULL && v[i] != NULL; i++)
    json_array_add_string_element (array, v[i]);
  return array;
}

static JsonObject *
card_object (const HepaModelCard *card,
             gboolean             abbreviate)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root = NULL;
  JsonObject *pre;

  if (card->json != NULL && hepa_json_parser_load (parser, card->json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  else
    root = json_object_new ();

  if (card->name != NULL)
    json_object_set_string_member (root, "name", card->name);
  json_object_set_string_member (root, "arch", card->arch);
  json_object_set_array_member (root, "classes", strv_array (card->classes));
  json_object_set_int_member (root, "input_size", card->input_size);
  if (json_object_has_member (root, "preprocess")
      && JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "preprocess")))
    pre = json_object_ref (json_object_get_object_member (root, "preprocess"));
  else
    pre = json_object_new ();
  json_object_set_boolean_member (pre, "grayscale", card->grayscale);
  json_object_set_string_member (pre, "resize",
                                 card->resize == HEPA_RESIZE_STRETCH ? "stretch" : "letterbox");
  json_object_set_array_member (pre, "mean", float_array (card->mean, 3));
  json_object_set_array_member (pre, "std", float_array (card->std, 3));
  json_object_set_object_member (root, "preprocess", pre);
  if (card->intended_use != NULL)
    json_object_set_string_member (root, "intended_use", card->intended_use);
  else
    json_object_remove_member (root, "intended_use");
  json_object_set_array_member (root, "warnings", strv_array (card->warnings));

  json_object_remove_member (root, "calibration");
  if (card->calibrated)
    {
      JsonObject *cal = json_object_new ();
      JsonObject *conf = json_object_new ();

      json_object_set_double_member (cal, "temperature", card->temperature);
      json_object_set_double_member (conf, "coverage", card->coverage);
      json_object_set_double_member (conf, "threshold", card->conformal_threshold);
      json_object_set_string_member (conf, "score", "1 - calibrated probability of the true "
                                     "class; a class is in the set when its calibrated "
                                     "probability >= 1 - threshold");
      json_object_set_object_member (cal, "conformal", conf);
      json_object_set_int_member (cal, "n", card->n_calibration);
      if (card->ece_before >= 0)
        json_object_set_double_member (cal, "ece_before", card->ece_before);
      if (card->ece_after >= 0)
        json_object_set_double_member (cal, "ece_after", card->ece_after);
      if (card->calibration_data != NULL)
        json_object_set_string_member (cal, "data", card->calibration_data);
      json_object_set_object_member (root, "calibration", cal);
    }

  json_object_remove_member (root, "training_roi");
  if (card->has_roi_px)
    {
      JsonObject *roi = json_object_new ();

      json_object_set_string_member (roi, "what", "5th, 50th and 95th percentile of the "
                                     "longer side of the ROIs");
      json_object_set_array_member (roi, "side_px", double_array (card->roi_px, 3));
      if (card->has_roi_mm)
        json_object_set_array_member (roi, "side_mm", double_array (card->roi_mm, 3));
      else
        json_object_set_null_member (roi, "side_mm");
      json_object_set_object_member (root, "training_roi", roi);
    }

  json_object_remove_member (root, "ood");
  if (card->ood != NULL)
    {
      const HepaOodReference *ood = card->ood;
      JsonObject *o = json_object_new ();
      g_autofree char *means = NULL, *components = NULL, *eigen = NULL;

      json_object_set_string_member (o, "method", "Mahalanobis distance of the pooled "
                                     "features to the nearest class mean, shared low-rank "
                                     "covariance plus isotropic residual, per dimension");
      json_object_set_int_member (o, "dim", ood->dim);
      json_object_set_int_member (o, "rank", ood->rank);
      json_object_set_double_member (o, "residual_variance", ood->residual);
      json_object_set_double_member (o, "p95", ood->p95);
      json_object_set_double_member (o, "p99", ood->p99);
      json_object_set_string_member (o, "threshold", "p99");
      json_object_set_int_member (o, "n_fit", ood->n_fit);
      json_object_set_int_member (o, "n_heldout", ood->n_heldout);
      if (ood->reference != NULL)
        json_object_set_string_member (o, "reference", ood->reference);
      json_object_set_string_member (o, "encoding", "base64 of little-endian float32");
      if (abbreviate)
        {
          means = g_strdup_printf ("(%u × %u numbers)", ood->n_classes, ood->dim);
          components = g_strdup_printf ("(%u × %u numbers)", ood->rank, ood->dim);
          eigen = g_strdup_printf ("(%u numbers)", ood->rank);
        }
      else
        {
          means = floats_to_base64 (ood->means, (gsize) ood->n_classes * ood->dim);
          components = floats_to_base64 (ood->components, (gsize) ood->rank * ood->dim);
          eigen = floats_to_base64 (ood->eigenvalues, ood->rank);
        }
      json_object_set_string_member (o, "means", means);
      json_object_set_string_member (o, "components", components);
      json_object_set_string_member (o, "eigenvalues", eigen);
      json_object_set_object_member (root, "ood", o);
    }
  return root;
}

static char *
object_to_string (JsonObject *object,
                  gboolean    pretty)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_node_set_object (node, object);
  json_generator_set_pretty (gen, pretty);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

char *
hepa_model_card_to_json (const HepaModelCard *card,
                         gboolean             pretty)
{
  g_autoptr(JsonObject) root = NULL;

  g_return_val_if_fail (card != NULL, NULL);

  root = card_object (card, FALSE);
  return object_to_string (root, pretty);
}

char *
hepa_model_card_to_display_json (const HepaModelCard *card)
{
  g_autoptr(JsonObject) root = NULL;

  g_return_val_if_fail (card != NULL, NULL);

  root = card_object (card, TRUE);
  return object_to_string (root, TRUE);
}

void
hepa_model_card_sync_json (HepaModelCard *card)
{
  char *json = hepa_model_card_to_json (card, FALSE);

  g_free (card->json);
  card->json = json;
}

/* ---- For people ---------------------------------------------------------------------------- */

const char *
hepa_model_card_get_intended_use (const HepaModelCard *card)
{
  if (card != NULL && card->intended_use != NULL && *card->intended_use != '\0')
    return card->intended_use;
  return _("Intended use not stated by the model card");
}

char *
hepa_model_card_describe_calibration (const HepaModelCard *card)
{
  if (card == NULL || !card->calibrated)
    return g_strdup (_("Not calibrated"));
  /* Translators: temperature scaling and conformal prediction sets of the model */
  return g_strdup_printf (_("Calibrated: temperature %.2f, %.0f %% prediction sets, on %u "
                            "held-out crops"), card->temperature, 100 * card->coverage,
                          card->n_calibration);
}

char *
hepa_model_card_describe_ood (const HepaModelCard *card)
{
  if (card == NULL || card->ood == NULL)
    return g_strdup (_("No out-of-distribution reference"));
  return g_strdup_printf (_("Out-of-distribution reference: %u crops (threshold %.2f, the 99th "
                            "percentile of %u held-out crops)"), card->ood->n_fit,
                          card->ood->p99, card->ood->n_heldout);
}

static void
add_field (GPtrArray  *fields,
           const char *label,
           char       *value)
{
  HepaCardField *f;

  if (value == NULL || *value == '\0')
    {
      g_free (value);
      return;
    }
  f = g_new (HepaCardField, 1);
  f->label = label;
  f->value = value;
  g_ptr_array_add (fields, f);
}

static void
card_field_free (HepaCardField *f)
{
  g_free (f->value);
  g_free (f);
}

/* A card value as readable text: strings as they are, arrays joined by commas, objects as one
 * "key: value" line per member (nested objects indented). */
static void
append_node (GString  *out,
             JsonNode *node,
             int       depth)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *obj = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (obj);

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonNode *child = json_object_get_member (obj, l->data);

          if (out->len > 0)
            g_string_append_c (out, '\n');
          for (int i = 0; i < depth; i++)
            g_string_append (out, "    ");
          g_string_append_printf (out, "%s: ", (const char *) l->data);
          if (JSON_NODE_HOLDS_OBJECT (child))
            append_node (out, child, depth + 1);
          else
            append_node (out, child, depth);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      gboolean sentences = FALSE;

      /* Words are joined by commas; sentences (the known limits) get a line each. */
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *e = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
              && strchr (json_node_get_string (e), ' ') != NULL)
            sentences = TRUE;
        }
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          if (i > 0)
            g_string_append (out, sentences ? "\n" : ", ");
          append_node (out, json_array_get_element (array, i), depth);
        }
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    g_string_append (out, json_node_get_string (node));
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    g_string_append_printf (out, "%.4g", json_node_get_double (node));
  else if (!JSON_NODE_HOLDS_NULL (node))
    {
      g_autofree char *text = json_to_string (node, FALSE);
      g_string_append (out, text);
    }
}

/* The card's ISO 8601 creation time as a local date and time in the user's locale; the text as
 * it is when it does not parse. */
static char *
format_created (const char *iso)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_iso8601 (iso, NULL);
  g_autoptr(GDateTime) local = NULL;
  char *text;

  if (utc == NULL)
    return g_strdup (iso);
  local = g_date_time_to_local (utc);
  /* Translators: a date and time for g_date_time_format(): %x and %X are the locale's own
   * (GLib cannot write Thai's %x, so th uses e.g. "%-d %B %Y %H:%M") */
  /* xgettext:no-c-format */
  text = g_date_time_format (local, _("%x %X"));
  return text != NULL ? text : g_date_time_format_iso8601 (local);
}

static char *
card_string (JsonObject *card,
             const char *member)
{
  GString *out;

  if (card == NULL || !json_object_has_member (card, member))
    return NULL;
  out = g_string_new (NULL);
  append_node (out, json_object_get_member (card, member), 0);
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* Member @member of @obj when it is an object (below: an array, a number); NULL (FALSE) when
 * @obj is NULL or the member is missing or of another type: the card comes from a file. */
static JsonObject *
object_member (JsonObject *obj,
               const char *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
array_member (JsonObject *obj,
              const char *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static gboolean
number_member (JsonObject *obj,
               const char *member,
               double     *value)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || (json_node_get_value_type (node) != G_TYPE_DOUBLE
          && json_node_get_value_type (node) != G_TYPE_INT64))
    return FALSE;
  *value = json_node_get_double (node);
  return TRUE;
}

/* A {"mean": m, "sd": s} member of @obj as a percentage; FALSE when it is missing. */
static gboolean
mean_sd_member (JsonObject *obj,
                const char *member,
                double     *mean,
                double     *sd)
{
  JsonObject *ms = object_member (obj, member);

  if (ms == NULL || !number_member (ms, "mean", mean) || !number_member (ms, "sd", sd))
    return FALSE;
  *mean *= 100.0;
  *sd *= 100.0;
  return TRUE;
}

/* The card's cross-validation summary as a few lines a reader can take in: accuracy, then
 * sensitivity and specificity per class, mean ± SD over the folds. NULL when there is none. */
static char *
cross_validation_text (JsonObject *card)
{
  JsonObject *metrics = object_member (card, "metrics");
  JsonObject *cv = object_member (metrics, "cross_validation");
  JsonObject *per_class = object_member (cv, "per_class");
  JsonArray *folds = array_member (metrics, "folds");
  g_autoptr(GString) out = g_string_new (NULL);
  guint n_folds = folds != NULL ? json_array_get_length (folds) : 0;
  double m, s;

  if (!mean_sd_member (cv, "accuracy", &m, &s))
    return NULL;
  /* Translators: e.g. "5-fold cross-validation: accuracy 96.1 ± 1.2%" */
  g_string_append_printf (out, _("%u-fold cross-validation: accuracy %.1f ± %.1f%%"), n_folds,
                          m, s);
  if (per_class != NULL)
    {
      g_autoptr(GList) names = json_object_get_members (per_class);

      for (GList *l = names; l != NULL; l = l->next)
        {
          JsonObject *c = object_member (per_class, l->data);
          double sm, ss, pm, ps;

          if (!mean_sd_member (c, "sensitivity", &sm, &ss)
              || !mean_sd_member (c, "specificity", &pm, &ps))
            continue;
          g_string_append_c (out, '\n');
          /* Translators: one class's cross-validation figures, mean ± SD over the folds */
          g_string_append_printf (out, _("%s: sensitivity %.1f ± %.1f%%, specificity %.1f ± "
                                         "%.1f%%"), (const char *) l->data, sm, ss, pm, ps);
        }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

GPtrArray *
hepa_model_card_get_display_fields (const HepaModelCard *card)
{
  static const struct { const char *key; const char *name; } facts[] = {
    { "description", N_("Description") },
    { "trained_on", N_("Trained on") },
    { "metrics", N_("Metrics") },
    { "warnings", N_("Known limits") },
    { "created", N_("Created") },
    { "software_version", N_("Software") },
  };
  GPtrArray *fields = g_ptr_array_new_with_free_func ((GDestroyNotify) card_field_free);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root = NULL;

  g_return_val_if_fail (card != NULL, fields);

  if (card->json != NULL && hepa_json_parser_load (parser, card->json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));
  add_field (fields, _("Model"), g_strdup (card->id));
  add_field (fields, _("Architecture"), g_strdup (card->arch));
  add_field (fields, _("Classes"), g_strjoinv (", ", card->classes));
  add_field (fields, _("Input"),
             card->grayscale
             /* Translators: the model's input, e.g. "224 × 224, grayscale to three channels" */
             ? g_strdup_printf (_("%d × %d, grayscale to three channels"), card->input_size,
                                card->input_size)
             : g_strdup_printf ("%d × %d", card->input_size, card->input_size));
  add_field (fields, _("Intended use"), g_strdup (hepa_model_card_get_intended_use (card)));
  for (guint i = 0; i < G_N_ELEMENTS (facts); i++)
    {
      char *value = g_str_equal (facts[i].key, "metrics") ? cross_validation_text (root) : NULL;

      if (value == NULL)
        value = card_string (root, facts[i].key);
      if (value != NULL && g_str_equal (facts[i].key, "created"))
        {
          char *created = format_created (value);

          g_free (value);
          value = created;
        }
      add_field (fields, _(facts[i].name), value);
    }
  add_field (fields, _("Calibration"), hepa_model_card_describe_calibration (card));
  add_field (fields, _("Out of distribution"), hepa_model_card_describe_ood (card));
  if (card->has_roi_px)
    add_field (fields, _("Training ROIs"),
               card->has_roi_mm
               ? g_strdup_printf (_("longer side %.0f–%.0f px (median %.0f), %.1f–%.1f mm"),
                                  card->roi_px[0], card->roi_px[2], card->roi_px[1],
                                  card->roi_mm[0], card->roi_mm[2])
               : g_strdup_printf (_("longer side %.0f–%.0f px (median %.0f)"),
                                  card->roi_px[0], card->roi_px[2], card->roi_px[1]));
  add_field (fields, _("SHA-256"), g_strdup (card->sha256));
  if (!card->has_card)
    add_field (fields, _("Card"),
               g_strdup (_("This file has no model card; defaults were assumed.")));
  return fields;
}

/* ---- Out-of-distribution score ------------------------------------------------------------- */

double
hepa_ood_score (const HepaOodReference *ood,
                const float            *features)
{
  g_autofree double *d = NULL;
  double best = INFINITY;

  g_return_val_if_fail (ood != NULL && features != NULL, NAN);

  d = g_new (double, ood->dim);
  for (guint c = 0; c < ood->n_classes; c++)
    {
      const float *m = ood->means + (gsize) c * ood->dim;
      double total = 0, inside = 0, score = 0;

      for (guint j = 0; j < ood->dim; j++)
        {
          d[j] = (double) features[j] - m[j];
          total += d[j] * d[j];
        }
      for (guint i = 0; i < ood->rank; i++)
        {
          const float *v = ood->components + (gsize) i * ood->dim;
          double p = 0;

          for (guint j = 0; j < ood->dim; j++)
            p += v[j] * d[j];
          inside += p * p;
          score += p * p / ood->eigenvalues[i];
        }
      score += MAX (total - inside, 0) / ood->residual;
      best = MIN (best, score / ood->dim);
    }
  return best;
}

const char *
hepa_arch_to_string (HepaArch arch)
{
  switch (arch)
    {
    case HEPA_ARCH_RESNET18:
      return "resnet18";
    case HEPA_ARCH_RESNET50:
      return "resnet50";
    default:
      return NULL;
    }
}

gboolean
hepa_arch_from_string (const char *text,
                       HepaArch   *arch)
{
  if (g_strcmp0 (text, "resnet50") == 0)
    *arch = HEPA_ARCH_RESNET50;
  else if (g_strcmp0 (text, "resnet18") == 0)
    *arch = HEPA_ARCH_RESNET18;
  else
    return FALSE;
  return TRUE;
}
