/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-manifest.h"
#include "hepa-annotations-private.h"
#include "hepa-error.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "hepascope-export"
/* Far above any real export; refuses absurd files before they are read whole. */
#define MAX_MANIFEST_BYTES (512 * 1024 * 1024)
#define MAX_CLASSES 32

/* ---- Rows ---------------------------------------------------------------------------------- */

HepaManifestRow *
hepa_manifest_row_new (void)
{
  return g_new0 (HepaManifestRow, 1);
}

void
hepa_manifest_row_free (HepaManifestRow *row)
{
  if (row == NULL)
    return;
  g_free (row->crop_id);
  g_free (row->file);
  g_free (row->native_file);
  g_free (row->label);
  g_free (row->patient);
  g_free (row->study);
  g_free (row->sop);
  g_free (row->rater);
  g_free (row->pred_model_id);
  g_strfreev (row->pred_classes);
  g_free (row->pred_probabilities);
  g_free (row->sha256);
  g_free (row->native_sha256);
  g_strfreev (row->applicability);
  g_free (row->manufacturer);
  g_free (row->transfer_syntax);
  g_free (row);
}

HepaManifest *
hepa_manifest_new (const char *const *classes)
{
  HepaManifest *self = g_new0 (HepaManifest, 1);

  self->classes = g_strdupv ((char **) classes);
  if (self->classes == NULL)
    self->classes = g_new0 (char *, 1);
  self->input_size = 224;
  self->grayscale = TRUE;
  self->resize = g_strdup ("stretch");
  self->software_version = g_strdup (PACKAGE_VERSION);
  self->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_manifest_row_free);
  return self;
}

void
hepa_manifest_free (HepaManifest *self)
{
  if (self == NULL)
    return;
  g_strfreev (self->classes);
  g_free (self->resize);
  g_free (self->software_version);
  g_free (self->intended_use);
  g_ptr_array_unref (self->rows);
  g_free (self);
}

gboolean
hepa_manifest_path_is_safe (const char *relative)
{
  g_auto(GStrv) parts = NULL;

  if (relative == NULL || *relative == '\0' || *relative == '/' || strlen (relative) > 1024)
    return FALSE;
  for (const char *p = relative; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == '\\' || *p == 0x7f || *p == ':')
      return FALSE;
  parts = g_strsplit (relative, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (*parts[i] == '\0' || strcmp (parts[i], ".") == 0 || strcmp (parts[i], "..") == 0)
      return FALSE;
  return TRUE;
}

static gboolean
is_plain_text (const char *text)
{
  if (text == NULL || *text == '\0' || strlen (text) > 256 || !g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f || *p == ';' || *p == '=')
      return FALSE;
  return TRUE;
}

gboolean
hepa_manifest_prediction_is_safe (const char        *model_id,
                                  char *const       *classes)
{
  if (!is_plain_text (model_id) || classes == NULL || classes[0] == NULL)
    return FALSE;
  for (guint i = 0; classes[i] != NULL; i++)
    if (!is_plain_text (classes[i]))
      return FALSE;
  return TRUE;
}

static gboolean
is_hex_digest (const char *text)
{
  if (text == NULL || strlen (text) != 64)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static gboolean
is_token (const char *text)
{
  if (text == NULL || *text == '\0' || strlen (text) > 128)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

/* Checks what both readers must guarantee about a row. */
static gboolean
validate_row (const HepaManifestRow *row,
              guint                  index,
              GError               **error)
{
  if (!is_token (row->crop_id))
    return hepa_format_error (error,
                              _("Row %u: the crop id is missing or not a plain token"), index);
  if (!hepa_manifest_path_is_safe (row->file))
    return hepa_format_error (error,
                              _("Row %u: “file” is missing or not a safe relative path"), index);
  if (row->native_file != NULL && !hepa_manifest_path_is_safe (row->native_file))
    return hepa_format_error (error, _("Row %u: “native_file” is not a safe relative path"), index);
  if (!is_token (row->label))
    return hepa_format_error (error, _("Row %u: the label is missing or not a plain token"), index);
  if (!is_token (row->patient) || !is_token (row->study) || !is_token (row->sop))
    return hepa_format_error (error, _("Row %u: a pseudonymous id is missing or malformed"), index);
  if (row->roi.width <= 0 || row->roi.height <= 0)
    return hepa_format_error (error, _("Row %u: the ROI is empty"), index);
  if (!is_hex_digest (row->sha256))
    return hepa_format_error (error, _("Row %u: “sha256” is not a SHA-256 digest"), index);
  if ((row->native_file != NULL) != (row->native_sha256 != NULL)
      || (row->native_sha256 != NULL && !is_hex_digest (row->native_sha256)))
    return hepa_format_error (error,
                              _("Row %u: the native crop and its digest do not match"), index);
  if (row->pred_model_id != NULL && row->pred_classes == NULL)
    return hepa_format_error (error, _("Row %u: a prediction without classes"), index);
  if (row->pred_model_id != NULL && !hepa_manifest_prediction_is_safe (row->pred_model_id,
                                                                       row->pred_classes))
    return hepa_format_error (error,
                              _("Row %u: the prediction's model id or a class name is empty, too "
                          "long, or holds “;”, “=” or a control character"), index);
  return TRUE;
}

/* Checks the whole manifest: unique crop ids and files, labels from the class list. */
static gboolean
validate_manifest (HepaManifest  *self,
                   GError       **error)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) files = g_hash_table_new (g_str_hash, g_str_equal);
  guint n_classes = g_strv_length (self->classes);

  if (n_classes > MAX_CLASSES)
    return hepa_format_error (error, _("More than %d classes"), MAX_CLASSES);
  for (guint i = 0; i < n_classes; i++)
    {
      if (!is_token (self->classes[i]))
        return hepa_format_error (error, _("Class %u is not a plain token"), i);
      for (guint j = 0; j < i; j++)
        if (strcmp (self->classes[i], self->classes[j]) == 0)
          return hepa_format_error (error, _("Class “%s” is listed twice"), self->classes[i]);
    }
  if (self->input_size < 16 || self->input_size > 4096)
    return hepa_format_error (error, _("The input size is out of range"));

  for (guint i = 0; i < self->rows->len; i++)
    {
      HepaManifestRow *row = g_ptr_array_index (self->rows, i);

      if (!validate_row (row, i, error))
        return FALSE;
      if (!g_strv_contains ((const char *const *) self->classes, row->label))
        return hepa_format_error (error,
                                  _("Row %u: label “%s” is not in the class list"), i, row->label);
      if (!g_hash_table_add (ids, row->crop_id))
        return hepa_format_error (error, _("Row %u: crop id %s appears twice"), i, row->crop_id);
      if (!g_hash_table_add (files, row->file)
          || (row->native_file != NULL && !g_hash_table_add (files, row->native_file)))
        return hepa_format_error (error, _("Row %u: a file appears twice"), i);
    }
  return TRUE;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static JsonNode *
member_of (JsonObject *object,
           const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

static gboolean
json_string (JsonObject  *object,
             const char  *name,
             gboolean     required,
             char       **out,
             guint        index,
             GError     **error)
{
  JsonNode *node = member_of (object, name);

  if (node == NULL)
    {
      if (required)
        return hepa_format_error (error, _("Row %u: “%s” is missing"), index, name);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return hepa_format_error (error, _("Row %u: “%s” is not a string"), index, name);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
json_number (JsonNode *node,
             double   *out)
{
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_double (node);
  return isfinite (*out);
}

/* Reads an array of @n numbers; integers only when @integers. */
static gboolean
json_numbers (JsonNode *node,
              guint     n,
              gboolean  integers,
              double   *out)
{
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  array = json_node_get_array (node);
  if (json_array_get_length (array) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!json_number (element, &out[i]))
        return FALSE;
      if (integers && json_node_get_value_type (element) != G_TYPE_INT64)
        return FALSE;
    }
  return TRUE;
}

static gboolean
json_time (JsonObject  *object,
           const char  *name,
           gint64      *out,
           guint        index,
           GError     **error)
{
  g_autofree char *text = NULL;

  if (!json_string (object, name, TRUE, &text, index, error))
    return FALSE;
  if (!hepa_annotations_parse_time (text, out))
    return hepa_format_error (error, _("Row %u: “%s” is not an ISO 8601 time"), index, name);
  return TRUE;
}

static gboolean
parse_json_prediction (JsonNode         *node,
                       HepaManifestRow  *row,
                       guint             index,
                       GError          **error)
{
  JsonObject *object;
  JsonNode *classes_node, *probs_node;
  JsonArray *classes;
  guint n;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return hepa_format_error (error, _("Row %u: “prediction” is not an object"), index);
  object = json_node_get_object (node);
  if (!json_string (object, "model_id", TRUE, &row->pred_model_id, index, error))
    return FALSE;
  classes_node = member_of (object, "classes");
  probs_node = member_of (object, "probabilities");
  if (classes_node == NULL || !JSON_NODE_HOLDS_ARRAY (classes_node))
    return hepa_format_error (error, _("Row %u: prediction classes are not an array"), index);
  classes = json_node_get_array (classes_node);
  n = json_array_get_length (classes);
  if (n < 1 || n > 1024)
    return hepa_format_error (error, _("Row %u: prediction classes are empty or too many"), index);
  row->pred_classes = g_new0 (char *, n + 1);
  row->pred_probabilities = g_new0 (float, n);
  {
    g_autofree double *values = g_new0 (double, n);

    if (!json_numbers (probs_node, n, FALSE, values))
      return hepa_format_error (error,
                                _("Row %u: prediction probabilities do not match the classes"), index);
    for (guint i = 0; i < n; i++)
      {
        JsonNode *c = json_array_get_element (classes, i);

        if (!JSON_NODE_HOLDS_VALUE (c) || json_node_get_value_type (c) != G_TYPE_STRING)
          return hepa_format_error (error, _("Row %u: a prediction class is not a string"), index);
        if (!(values[i] >= 0.0 && values[i] <= 1.0))
          return hepa_format_error (error, _("Row %u: a probability is outside 0..1"), index);
        row->pred_classes[i] = g_strdup (json_node_get_string (c));
        row->pred_probabilities[i] = (float) values[i];
      }
  }
  return TRUE;
}

static HepaManifestRow *
parse_json_row (JsonNode  *node,
                guint      index,
                GError   **error)
{
  g_autoptr(HepaManifestRow) row = hepa_manifest_row_new ();
  JsonObject *object;
  double px[4], mm[4], spacing[2], frame;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      hepa_format_error (error, _("Row %u is not an object"), index);
      return NULL;
    }
  object = json_node_get_object (node);
  if (!json_string (object, "crop_id", TRUE, &row->crop_id, index, error)
      || !json_string (object, "file", TRUE, &row->file, index, error)
      || !json_string (object, "native_file", FALSE, &row->native_file, index, error)
      || !json_string (object, "label", TRUE, &row->label, index, error)
      || !json_string (object, "patient", TRUE, &row->patient, index, error)
      || !json_string (object, "study", TRUE, &row->study, index, error)
      || !json_string (object, "sop", TRUE, &row->sop, index, error)
      || !json_string (object, "rater", FALSE, &row->rater, index, error)
      || !json_time (object, "created", &row->created, index, error)
      || !json_time (object, "modified", &row->modified, index, error)
      || !json_string (object, "sha256", TRUE, &row->sha256, index, error)
      || !json_string (object, "native_sha256", FALSE, &row->native_sha256, index, error)
      || !json_string (object, "manufacturer", FALSE, &row->manufacturer, index, error)
      || !json_string (object, "transfer_syntax", FALSE, &row->transfer_syntax, index, error))
    return NULL;
  if (row->rater == NULL)
    row->rater = g_strdup ("");
  /* Issue 18: applicability codes (strings only; anything else is ignored). */
  {
    JsonNode *app = member_of (object, "applicability");

    if (app != NULL && JSON_NODE_HOLDS_ARRAY (app))
      {
        g_autoptr(GStrvBuilder) codes = g_strv_builder_new ();
        JsonArray *a = json_node_get_array (app);

        for (guint k = 0; k < json_array_get_length (a); k++)
          {
            JsonNode *e = json_array_get_element (a, k);

            if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
              g_strv_builder_add (codes, json_node_get_string (e));
          }
        row->applicability = g_strv_builder_end (codes);
      }
  }
  if (row->manufacturer == NULL)
    row->manufacturer = g_strdup ("");
  if (row->transfer_syntax == NULL)
    row->transfer_syntax = g_strdup ("");

  if (!json_number (member_of (object, "frame"), &frame)
      || json_node_get_value_type (member_of (object, "frame")) != G_TYPE_INT64
      || frame < 0 || frame > G_MAXINT)
    {
      hepa_format_error (error, _("Row %u: “frame” is missing or not a frame number"), index);
      return NULL;
    }
  row->frame = (guint) frame;
  if (!json_numbers (member_of (object, "roi_px"), 4, TRUE, px))
    {
      hepa_format_error (error, _("Row %u: “roi_px” is not four integers"), index);
      return NULL;
    }
  for (int i = 0; i < 4; i++)
    if (px[i] < 0 || px[i] > G_MAXINT / 2)
      {
        hepa_format_error (error, _("Row %u: “roi_px” is out of range"), index);
        return NULL;
      }
  row->roi = (HepaRect) { (int) px[0], (int) px[1], (int) px[2], (int) px[3] };
  if (member_of (object, "roi_mm") != NULL)
    {
      if (!json_numbers (member_of (object, "roi_mm"), 4, FALSE, mm))
        {
          hepa_format_error (error, _("Row %u: “roi_mm” is not four numbers"), index);
          return NULL;
        }
      row->has_mm = TRUE;
      memcpy (row->roi_mm, mm, sizeof mm);
    }
  if (member_of (object, "pixel_spacing_mm") != NULL)
    {
      if (!json_numbers (member_of (object, "pixel_spacing_mm"), 2, FALSE, spacing)
          || spacing[0] < 0 || spacing[1] < 0)
        {
          hepa_format_error (error, _("Row %u: “pixel_spacing_mm” is not two numbers"), index);
          return NULL;
        }
      row->pixel_spacing_mm[0] = spacing[0];
      row->pixel_spacing_mm[1] = spacing[1];
    }
  if (!parse_json_prediction (member_of (object, "prediction"), row, index, error))
    return NULL;
  return g_steal_pointer (&row);
}

HepaManifest *
hepa_manifest_parse_json (const char  *data,
                          gsize        length,
                          GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(HepaManifest) self = NULL;
  g_autoptr(GStrvBuilder) classes = g_strv_builder_new ();
  JsonObject *object;
  JsonNode *node;
  JsonArray *array;
  double value;

  if (length > MAX_MANIFEST_BYTES)
    {
      hepa_format_error (error, _("The manifest is too large"));
      return NULL;
    }
  object = hepa_json_parse_object (parser, data, length, error);
  if (object == NULL)
    return NULL;
  node = member_of (object, "format");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING
      || strcmp (json_node_get_string (node), FORMAT_NAME) != 0)
    {
      hepa_format_error (error, _("Not a Hepascope export manifest"));
      return NULL;
    }
  node = member_of (object, "version");
  if (!json_number (node, &value) || json_node_get_value_type (node) != G_TYPE_INT64
      || value < 1)
    {
      hepa_format_error (error, _("The manifest version is missing or not valid"));
      return NULL;
    }
  if (value > HEPA_MANIFEST_VERSION)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                   _("The manifest was written by a newer Hepascope (version %.0f)"), value);
      return NULL;
    }

  node = member_of (object, "classes");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      hepa_format_error (error, _("“classes” is missing or not an array"));
      return NULL;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) > MAX_CLASSES)
    {
      hepa_format_error (error, _("More than %d classes"), MAX_CLASSES);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *c = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (c) || json_node_get_value_type (c) != G_TYPE_STRING)
        {
          hepa_format_error (error, _("Class %u is not a string"), i);
          return NULL;
        }
      g_strv_builder_add (classes, json_node_get_string (c));
    }
  {
    g_auto(GStrv) list = g_strv_builder_end (classes);

    self = hepa_manifest_new ((const char *const *) list);
  }

  node = member_of (object, "input_size");
  if (node != NULL)
    {
      if (!json_number (node, &value) || value != floor (value) || value < 16 || value > 4096)
        {
          hepa_format_error (error, _("“input_size” is not valid"));
          return NULL;
        }
      self->input_size = (int) value;
    }
  node = member_of (object, "preprocess");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *pre = json_node_get_object (node);
      JsonNode *g = member_of (pre, "grayscale");
      JsonNode *r = member_of (pre, "resize");

      if (g != NULL && JSON_NODE_HOLDS_VALUE (g)
          && json_node_get_value_type (g) == G_TYPE_BOOLEAN)
        self->grayscale = json_node_get_boolean (g);
      if (r != NULL && JSON_NODE_HOLDS_VALUE (r)
          && json_node_get_value_type (r) == G_TYPE_STRING)
        {
          g_free (self->resize);
          self->resize = g_strdup (json_node_get_string (r));
        }
    }
  node = member_of (object, "software_version");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_free (self->software_version);
      self->software_version = g_strdup (json_node_get_string (node));
    }

  node = member_of (object, "intended_use");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_free (self->intended_use);
      self->intended_use = g_strdup (json_node_get_string (node));
    }

  node = member_of (object, "crops");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      hepa_format_error (error, _("“crops” is missing or not an array"));
      return NULL;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      HepaManifestRow *row = parse_json_row (json_array_get_element (array, i), i, error);

      if (row == NULL)
        return NULL;
      g_ptr_array_add (self->rows, row);
    }
  if (!validate_manifest (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

static void
add_double (JsonBuilder *b,
            double       value,
            double       scale)
{
  double rounded = round (value * scale) / scale;

  /* Rounding must not turn a huge finite value into infinity, which JSON cannot hold. */
  json_builder_add_double_value (b, isfinite (rounded) ? rounded : value);
}

char *
hepa_manifest_to_json (const HepaManifest *self,
                       gsize              *length)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  char *data;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, FORMAT_NAME);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, HEPA_MANIFEST_VERSION);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; self->classes[i] != NULL; i++)
    json_builder_add_string_value (b, self->classes[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "input_size");
  json_builder_add_int_value (b, self->input_size);
  json_builder_set_member_name (b, "preprocess");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "grayscale");
  json_builder_add_boolean_value (b, self->grayscale);
  json_builder_set_member_name (b, "resize");
  json_builder_add_string_value (b, self->resize);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "software_version");
  json_builder_add_string_value (b, self->software_version);
  /* Issue 18: the model card's intended use. */
  if (self->intended_use != NULL)
    {
      json_builder_set_member_name (b, "intended_use");
      json_builder_add_string_value (b, self->intended_use);
    }
  json_builder_set_member_name (b, "crops");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->rows->len; i++)
    {
      const HepaManifestRow *row = g_ptr_array_index (self->rows, i);
      g_autofree char *created = hepa_annotations_format_time (row->created);
      g_autofree char *modified = hepa_annotations_format_time (row->modified);

      json_builder_begin_object (b);
#define STR(name, value) \
      G_STMT_START { \
        json_builder_set_member_name (b, name); \
        if ((value) != NULL) \
          json_builder_add_string_value (b, value); \
        else \
          json_builder_add_null_value (b); \
      } G_STMT_END
      STR ("crop_id", row->crop_id);
      STR ("file", row->file);
      STR ("native_file", row->native_file);
      STR ("label", row->label);
      STR ("patient", row->patient);
      STR ("study", row->study);
      STR ("sop", row->sop);
      json_builder_set_member_name (b, "frame");
      json_builder_add_int_value (b, row->frame);
      json_builder_set_member_name (b, "roi_px");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, row->roi.x);
      json_builder_add_int_value (b, row->roi.y);
      json_builder_add_int_value (b, row->roi.width);
      json_builder_add_int_value (b, row->roi.height);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "roi_mm");
      if (row->has_mm)
        {
          json_builder_begin_array (b);
          for (int k = 0; k < 4; k++)
            add_double (b, row->roi_mm[k], 1e4);
          json_builder_end_array (b);
        }
      else
        json_builder_add_null_value (b);
      STR ("rater", row->rater != NULL ? row->rater : "");
      /* Issue 18: the applicability checks the ROI failed. */
      if (row->applicability != NULL)
        {
          json_builder_set_member_name (b, "applicability");
          json_builder_begin_array (b);
          for (guint k = 0; row->applicability[k] != NULL; k++)
            json_builder_add_string_value (b, row->applicability[k]);
          json_builder_end_array (b);
        }
      STR ("created", created);
      STR ("modified", modified);
      json_builder_set_member_name (b, "prediction");
      if (row->pred_model_id != NULL && row->pred_classes != NULL)
        {
          json_builder_begin_object (b);
          STR ("model_id", row->pred_model_id);
          json_builder_set_member_name (b, "classes");
          json_builder_begin_array (b);
          for (guint k = 0; row->pred_classes[k] != NULL; k++)
            json_builder_add_string_value (b, row->pred_classes[k]);
          json_builder_end_array (b);
          json_builder_set_member_name (b, "probabilities");
          json_builder_begin_array (b);
          for (guint k = 0; row->pred_classes[k] != NULL; k++)
            add_double (b, row->pred_probabilities[k], 1e6);
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      else
        json_builder_add_null_value (b);
      STR ("sha256", row->sha256);
      STR ("native_sha256", row->native_sha256);
      STR ("manufacturer", row->manufacturer != NULL ? row->manufacturer : "");
      STR ("transfer_syntax", row->transfer_syntax != NULL ? row->transfer_syntax : "");
#undef STR
      json_builder_set_member_name (b, "pixel_spacing_mm");
      if (row->pixel_spacing_mm[0] > 0 && row->pixel_spacing_mm[1] > 0)
        {
          json_builder_begin_array (b);
          add_double (b, row->pixel_spacing_mm[0], 1e6);
          add_double (b, row->pixel_spacing_mm[1], 1e6);
          json_builder_end_array (b);
        }
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  data = g_strconcat (text, "\n", NULL);
  if (length != NULL)
    *length = strlen (data);
  return data;
}

/* ---- CSV ----------------------------------------------------------------------------------- */

static void
csv_field (GString    *out,
           const char *value,
           gboolean    last)
{
  if (value == NULL)
    value = "";
  if (strpbrk (value, ",\"\r\n") != NULL)
    {
      g_string_append_c (out, '"');
      for (const char *p = value; *p != '\0'; p++)
        {
          if (*p == '"')
            g_string_append_c (out, '"');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  else
    g_string_append (out, value);
  g_string_append (out, last ? "\r\n" : ",");
}

static char *
format_number (double value,
               int    decimals)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  char format[8];

  g_snprintf (format, sizeof format, "%%.%df", decimals);
  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
}

char *
hepa_manifest_to_csv (const HepaManifest *self,
                      gsize              *length)
{
  GString *out = g_string_new (HEPA_MANIFEST_CSV_HEADER "\r\n");

  for (guint i = 0; i < self->rows->len; i++)
    {
      const HepaManifestRow *row = g_ptr_array_index (self->rows, i);
      g_autofree char *frame = g_strdup_printf ("%u", row->frame);
      g_autofree char *x = g_strdup_printf ("%d", row->roi.x);
      g_autofree char *y = g_strdup_printf ("%d", row->roi.y);
      g_autofree char *w = g_strdup_printf ("%d", row->roi.width);
      g_autofree char *h = g_strdup_printf ("%d", row->roi.height);
      char *mm[4] = { NULL, NULL, NULL, NULL };
      g_autofree char *created = hepa_annotations_format_time (row->created);
      g_autofree char *modified = hepa_annotations_format_time (row->modified);
      g_autofree char *pred_label = NULL;
      g_autofree char *pred_probability = NULL;
      g_autofree char *spacing_x = NULL;
      g_autofree char *spacing_y = NULL;
      GString *probs = g_string_new (NULL);

      if (row->has_mm)
        for (int k = 0; k < 4; k++)
          mm[k] = format_number (row->roi_mm[k], 3);
      if (row->pred_model_id != NULL && row->pred_classes != NULL)
        {
          guint top = 0;

          for (guint k = 0; row->pred_classes[k] != NULL; k++)
            {
              g_autofree char *p = format_number (row->pred_probabilities[k], 6);

              if (row->pred_probabilities[k] > row->pred_probabilities[top])
                top = k;
              g_string_append_printf (probs, "%s%s=%s", k > 0 ? ";" : "", row->pred_classes[k],
                                      p);
            }
          pred_label = g_strdup (row->pred_classes[top]);
          pred_probability = format_number (row->pred_probabilities[top], 6);
        }
      if (row->pixel_spacing_mm[0] > 0 && row->pixel_spacing_mm[1] > 0)
        {
          spacing_x = format_number (row->pixel_spacing_mm[0], 6);
          spacing_y = format_number (row->pixel_spacing_mm[1], 6);
        }

      csv_field (out, row->crop_id, FALSE);
      csv_field (out, row->file, FALSE);
      csv_field (out, row->native_file, FALSE);
      csv_field (out, row->label, FALSE);
      csv_field (out, row->patient, FALSE);
      csv_field (out, row->study, FALSE);
      csv_field (out, row->sop, FALSE);
      csv_field (out, frame, FALSE);
      csv_field (out, x, FALSE);
      csv_field (out, y, FALSE);
      csv_field (out, w, FALSE);
      csv_field (out, h, FALSE);
      for (int k = 0; k < 4; k++)
        csv_field (out, mm[k], FALSE);
      csv_field (out, row->rater, FALSE);
      csv_field (out, created, FALSE);
      csv_field (out, modified, FALSE);
      csv_field (out, row->pred_model_id, FALSE);
      csv_field (out, pred_label, FALSE);
      csv_field (out, pred_probability, FALSE);
      csv_field (out, probs->str, FALSE);
      csv_field (out, row->sha256, FALSE);
      csv_field (out, row->native_sha256, FALSE);
      csv_field (out, row->manufacturer, FALSE);
      csv_field (out, row->transfer_syntax, FALSE);
      csv_field (out, spacing_x, FALSE);
      csv_field (out, spacing_y, TRUE);
      g_string_free (probs, TRUE);
      for (int k = 0; k < 4; k++)
        g_free (mm[k]);
    }
  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}

/* Splits RFC 4180 text into records of fields. Returns NULL on an unterminated quote. */
static GPtrArray *
csv_split (const char *data,
           gsize       length,
           GError    **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) record = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  gboolean quoted = FALSE;
  gboolean field_started = FALSE;
  gsize i = 0;

  while (i < length)
    {
      char c = data[i];

      if (quoted)
        {
          if (c == '"')
            {
              if (i + 1 < length && data[i + 1] == '"')
                {
                  g_string_append_c (field, '"');
                  i += 2;
                  continue;
                }
              quoted = FALSE;
              i++;
              continue;
            }
          g_string_append_c (field, c);
          i++;
          continue;
        }
      if (c == '"' && field->len == 0 && !field_started)
        {
          quoted = TRUE;
          field_started = TRUE;
          i++;
          continue;
        }
      if (c == ',' || c == '\n' || c == '\r')
        {
          g_ptr_array_add (record, g_string_free (field, FALSE));
          field = g_string_new (NULL);
          field_started = FALSE;
          if (c == ',')
            {
              i++;
              continue;
            }
          if (c == '\r' && i + 1 < length && data[i + 1] == '\n')
            i++;
          i++;
          g_ptr_array_add (records, g_steal_pointer (&record));
          record = g_ptr_array_new_with_free_func (g_free);
          if (records->len > 10 * 1000 * 1000)
            {
              g_string_free (field, TRUE);
              hepa_format_error (error, _("The manifest has too many rows"));
              return NULL;
            }
          continue;
        }
      if (c == '\0')
        {
          g_string_free (field, TRUE);
          hepa_format_error (error, _("The manifest holds a NUL byte"));
          return NULL;
        }
      g_string_append_c (field, c);
      field_started = TRUE;
      i++;
    }
  if (quoted)
    {
      g_string_free (field, TRUE);
      hepa_format_error (error, _("A quoted field is not closed"));
      return NULL;
    }
  if (field->len > 0 || field_started || record->len > 0)
    {
      g_ptr_array_add (record, g_string_free (field, FALSE));
      g_ptr_array_add (records, g_steal_pointer (&record));
    }
  else
    g_string_free (field, TRUE);
  return g_steal_pointer (&records);
}

enum
{
  COL_CROP_ID, COL_FILE, COL_NATIVE_FILE, COL_LABEL, COL_PATIENT, COL_STUDY, COL_SOP, COL_FRAME,
  COL_X, COL_Y, COL_WIDTH, COL_HEIGHT, COL_X_MM, COL_Y_MM, COL_WIDTH_MM, COL_HEIGHT_MM,
  COL_RATER, COL_CREATED, COL_MODIFIED, COL_PRED_MODEL_ID, COL_PRED_LABEL, COL_PRED_PROBABILITY,
  COL_PRED_PROBABILITIES, COL_SHA256, COL_NATIVE_SHA256, COL_MANUFACTURER, COL_TRANSFER_SYNTAX,
  COL_SPACING_X, COL_SPACING_Y, N_COLUMNS,
};

static gboolean
parse_int (const char *text,
           gint64      min,
           gint64      max,
           gint64     *out)
{
  char *end = NULL;

  if (text == NULL || *text == '\0')
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoll (text, &end, 10);
  return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

static gboolean
parse_double (const char *text,
              double     *out)
{
  char *end = NULL;

  if (text == NULL || *text == '\0')
    return FALSE;
  *out = g_ascii_strtod (text, &end);
  return *end == '\0' && isfinite (*out);
}

static char *
nonempty (const char *text)
{
  return text != NULL && *text != '\0' ? g_strdup (text) : NULL;
}

static HepaManifestRow *
parse_csv_row (char     **f,
               guint      index,
               GError   **error)
{
  g_autoptr(HepaManifestRow) row = hepa_manifest_row_new ();
  gint64 v[5];
  double mm[4];
  int n_mm = 0;

  row->crop_id = g_strdup (f[COL_CROP_ID]);
  row->file = g_strdup (f[COL_FILE]);
  row->native_file = nonempty (f[COL_NATIVE_FILE]);
  row->label = g_strdup (f[COL_LABEL]);
  row->patient = g_strdup (f[COL_PATIENT]);
  row->study = g_strdup (f[COL_STUDY]);
  row->sop = g_strdup (f[COL_SOP]);
  row->rater = g_strdup (f[COL_RATER]);
  row->sha256 = g_strdup (f[COL_SHA256]);
  row->native_sha256 = nonempty (f[COL_NATIVE_SHA256]);
  row->manufacturer = g_strdup (f[COL_MANUFACTURER]);
  row->transfer_syntax = g_strdup (f[COL_TRANSFER_SYNTAX]);

  if (!parse_int (f[COL_FRAME], 0, G_MAXINT, &v[0])
      || !parse_int (f[COL_X], 0, G_MAXINT / 2, &v[1])
      || !parse_int (f[COL_Y], 0, G_MAXINT / 2, &v[2])
      || !parse_int (f[COL_WIDTH], 1, G_MAXINT / 2, &v[3])
      || !parse_int (f[COL_HEIGHT], 1, G_MAXINT / 2, &v[4]))
    {
      hepa_format_error (error, _("Row %u: frame or ROI pixels are not valid integers"), index);
      return NULL;
    }
  row->frame = (guint) v[0];
  row->roi = (HepaRect) { (int) v[1], (int) v[2], (int) v[3], (int) v[4] };
  for (int k = 0; k < 4; k++)
    if (*f[COL_X_MM + k] != '\0')
      {
        if (!parse_double (f[COL_X_MM + k], &mm[k]))
          {
            hepa_format_error (error, _("Row %u: an ROI size in mm is not a number"), index);
            return NULL;
          }
        n_mm++;
      }
  if (n_mm != 0 && n_mm != 4)
    {
      hepa_format_error (error, _("Row %u: the ROI in mm is incomplete"), index);
      return NULL;
    }
  row->has_mm = n_mm == 4;
  if (row->has_mm)
    memcpy (row->roi_mm, mm, sizeof mm);
  if (!hepa_annotations_parse_time (f[COL_CREATED], &row->created)
      || !hepa_annotations_parse_time (f[COL_MODIFIED], &row->modified))
    {
      hepa_format_error (error, _("Row %u: a time stamp is not ISO 8601"), index);
      return NULL;
    }
  if (*f[COL_SPACING_X] != '\0' || *f[COL_SPACING_Y] != '\0')
    {
      if (!parse_double (f[COL_SPACING_X], &row->pixel_spacing_mm[0])
          || !parse_double (f[COL_SPACING_Y], &row->pixel_spacing_mm[1])
          || row->pixel_spacing_mm[0] < 0 || row->pixel_spacing_mm[1] < 0)
        {
          hepa_format_error (error, _("Row %u: the pixel spacing is not valid"), index);
          return NULL;
        }
    }
  if (*f[COL_PRED_MODEL_ID] != '\0')
    {
      g_auto(GStrv) pairs = g_strsplit (f[COL_PRED_PROBABILITIES], ";", -1);
      guint n = g_strv_length (pairs);

      if (n < 1 || n > 1024)
        {
          hepa_format_error (error, _("Row %u: the prediction has no probabilities"), index);
          return NULL;
        }
      row->pred_model_id = g_strdup (f[COL_PRED_MODEL_ID]);
      row->pred_classes = g_new0 (char *, n + 1);
      row->pred_probabilities = g_new0 (float, n);
      for (guint k = 0; k < n; k++)
        {
          char *eq = strrchr (pairs[k], '=');
          double p;

          if (eq == NULL || eq == pairs[k] || !parse_double (eq + 1, &p) || p < 0 || p > 1)
            {
              hepa_format_error (error,
                                 _("Row %u: a prediction probability is not “class=p”"), index);
              return NULL;
            }
          row->pred_classes[k] = g_strndup (pairs[k], eq - pairs[k]);
          row->pred_probabilities[k] = (float) p;
        }
    }
  return g_steal_pointer (&row);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

HepaManifest *
hepa_manifest_parse_csv (const char  *data,
                         gsize        length,
                         GError     **error)
{
  static const char *const names[N_COLUMNS] = {
    "crop_id", "file", "native_file", "label", "patient", "study", "sop", "frame", "x", "y",
    "width", "height", "x_mm", "y_mm", "width_mm", "height_mm", "rater", "created", "modified",
    "pred_model_id", "pred_label", "pred_probability", "pred_probabilities", "sha256",
    "native_sha256", "manufacturer", "transfer_syntax", "pixel_spacing_x_mm",
    "pixel_spacing_y_mm",
  };
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(HepaManifest) self = NULL;
  g_autoptr(GPtrArray) labels = g_ptr_array_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *header;
  int column_of[N_COLUMNS];

  if (length > MAX_MANIFEST_BYTES)
    {
      hepa_format_error (error, _("The manifest is too large"));
      return NULL;
    }
  if (!g_utf8_validate (data, (gssize) length, NULL))
    {
      hepa_format_error (error, _("The manifest is not UTF-8 text"));
      return NULL;
    }
  records = csv_split (data, length, error);
  if (records == NULL)
    return NULL;
  if (records->len == 0)
    {
      hepa_format_error (error, _("The manifest is empty"));
      return NULL;
    }

  /* Columns are found by name, so a spreadsheet that reorders or adds columns still reads. */
  header = g_ptr_array_index (records, 0);
  for (int c = 0; c < N_COLUMNS; c++)
    {
      column_of[c] = -1;
      for (guint k = 0; k < header->len; k++)
        if (strcmp (g_ptr_array_index (header, k), names[c]) == 0)
          column_of[c] = (int) k;
      if (column_of[c] < 0)
        {
          hepa_format_error (error, _("The manifest has no “%s” column"), names[c]);
          return NULL;
        }
    }

  self = hepa_manifest_new (NULL);
  for (guint r = 1; r < records->len; r++)
    {
      GPtrArray *record = g_ptr_array_index (records, r);
      char *fields[N_COLUMNS];
      HepaManifestRow *row;

      if (record->len == 1 && *(char *) g_ptr_array_index (record, 0) == '\0')
        continue;  /* a blank line */
      if (record->len != header->len)
        {
          hepa_format_error (error,
                             _("Row %u has %u fields, the header %u"), r - 1, record->len, header->len);
          return NULL;
        }
      for (int c = 0; c < N_COLUMNS; c++)
        fields[c] = g_ptr_array_index (record, column_of[c]);
      row = parse_csv_row (fields, r - 1, error);
      if (row == NULL)
        return NULL;
      g_ptr_array_add (self->rows, row);
      if (is_token (row->label) && g_hash_table_add (seen, row->label))
        g_ptr_array_add (labels, row->label);
    }
  if (labels->len > MAX_CLASSES)
    {
      hepa_format_error (error, _("More than %d classes"), MAX_CLASSES);
      return NULL;
    }
  g_ptr_array_sort (labels, compare_strings);
  g_ptr_array_add (labels, NULL);
  g_strfreev (self->classes);
  self->classes = g_strdupv ((char **) labels->pdata);
  if (!validate_manifest (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

HepaManifest *
hepa_manifest_load (const char  *path,
                    GError     **error)
{
  g_autofree char *file = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length = 0;
  HepaManifest *self;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      file = g_build_filename (path, "manifest.json", NULL);
      if (!g_file_test (file, G_FILE_TEST_EXISTS))
        {
          g_free (file);
          file = g_build_filename (path, "manifest.csv", NULL);
        }
    }
  else
    file = g_strdup (path);

  if (g_stat (file, &st) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not read the manifest %s: %s"), file, g_strerror (errsv));
      return NULL;
    }
  if (st.st_size > MAX_MANIFEST_BYTES)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("The manifest %s is too large"),
                   file);
      return NULL;
    }
  if (!hepa_file_get_contents (file, MAX_MANIFEST_BYTES, &contents, &length, &local_error))
    {
      g_set_error (error, HEPA_ERROR, local_error->code, _("Could not read the manifest %s: %s"),
                   file, local_error->message);
      return NULL;
    }
  if (g_str_has_suffix (file, ".csv"))
    self = hepa_manifest_parse_csv (contents, length, &local_error);
  else
    self = hepa_manifest_parse_json (contents, length, &local_error);
  if (self == NULL)
    {
      g_set_error (error, HEPA_ERROR, local_error->code, "%s: %s", file, local_error->message);
      return NULL;
    }
  return self;
}
