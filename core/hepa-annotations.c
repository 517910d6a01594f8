/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ROI sidecars: parsing with every field checked, atomic saving, damaged files kept aside. */
#define _GNU_SOURCE  /* O_TMPFILE, linkat */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-json.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define SIDECAR_SUFFIX ".hepascope.json"
#define FORMAT_NAME "hepascope-annotations"

/* ---- ROIs ------------------------------------------------------------------------------- */

static char *
new_roi_id (void)
{
  g_autofree char *uuid = g_uuid_string_random ();
  GString *id = g_string_new ("r-");

  for (const char *p = uuid; *p != '\0' && id->len < 2 + 16; p++)
    if (*p != '-')
      g_string_append_c (id, *p);
  return g_string_free (id, FALSE);
}

HepaRoi *
hepa_roi_new (guint           frame,
              const HepaRect *rect,
              const char     *label,
              const char     *rater)
{
  HepaRoi *roi;

  g_return_val_if_fail (rect != NULL, NULL);

  roi = g_new0 (HepaRoi, 1);
  roi->id = new_roi_id ();
  roi->frame = frame;
  roi->rect = *rect;
  roi->label = g_strdup (label);
  roi->rater = g_strdup (rater != NULL ? rater : "");
  roi->created = g_get_real_time () / G_USEC_PER_SEC;
  roi->modified = roi->created;
  if (roi->label != NULL)
    {
      roi->ratings = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_rating_free);
      g_ptr_array_add (roi->ratings, hepa_rating_new (roi->rater, roi->label, roi->modified));
    }
  return roi;
}

HepaRoiRead *
hepa_roi_read_new (const char *rater,
                   const char *label,
                   gint64      decided,
                   gint64      time_to_decide_ms,
                   const char *mode)
{
  HepaRoiRead *read;

  g_return_val_if_fail (label != NULL, NULL);

  read = g_new0 (HepaRoiRead, 1);
  read->rater = g_strdup (rater != NULL ? rater : "");
  read->label = g_strdup (label);
  read->decided = decided;
  read->time_to_decide_ms = MAX (time_to_decide_ms, 0);
  read->mode = g_strdup (mode != NULL ? mode : "read-first");
  return read;
}

HepaRoiRead *
hepa_roi_read_copy (const HepaRoiRead *read)
{
  g_return_val_if_fail (read != NULL, NULL);
  return hepa_roi_read_new (read->rater, read->label, read->decided, read->time_to_decide_ms,
                            read->mode);
}

void
hepa_roi_read_free (HepaRoiRead *read)
{
  if (read == NULL)
    return;
  g_free (read->rater);
  g_free (read->label);
  g_free (read->mode);
  g_free (read);
}

void
hepa_roi_add_read (HepaRoi           *roi,
                   const HepaRoiRead *read)
{
  g_return_if_fail (roi != NULL && read != NULL);
  if (roi->reads == NULL)
    roi->reads = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_roi_read_free);
  g_ptr_array_add (roi->reads, hepa_roi_read_copy (read));
}

HepaRoi *
hepa_roi_copy (const HepaRoi *roi)
{
  HepaRoi *copy;

  g_return_val_if_fail (roi != NULL, NULL);

  copy = g_new0 (HepaRoi, 1);
  copy->id = g_strdup (roi->id);
  copy->frame = roi->frame;
  copy->rect = roi->rect;
  copy->label = g_strdup (roi->label);
  copy->rater = g_strdup (roi->rater);
  copy->created = roi->created;
  copy->modified = roi->modified;
  if (roi->pred_model_id != NULL)
    hepa_roi_set_prediction (copy, roi->pred_model_id, (const char *const *) roi->pred_classes,
                             roi->pred_probabilities);
  if (roi->ratings != NULL)
    {
      copy->ratings = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_rating_free);
      for (guint i = 0; i < roi->ratings->len; i++)
        {
          const HepaRating *r = g_ptr_array_index (roi->ratings, i);

          g_ptr_array_add (copy->ratings, hepa_rating_new (r->rater, r->label, r->modified));
        }
    }
  copy->adjudicated = g_strdup (roi->adjudicated);
  copy->adjudicator = g_strdup (roi->adjudicator);
  copy->adjudicated_time = roi->adjudicated_time;
  for (guint i = 0; roi->reads != NULL && i < roi->reads->len; i++)
    hepa_roi_add_read (copy, g_ptr_array_index (roi->reads, i));
  return copy;
}

void
hepa_roi_free (HepaRoi *roi)
{
  if (roi == NULL)
    return;
  g_free (roi->id);
  g_free (roi->label);
  g_free (roi->rater);
  g_free (roi->pred_model_id);
  g_strfreev (roi->pred_classes);
  g_free (roi->pred_probabilities);
  g_clear_pointer (&roi->ratings, g_ptr_array_unref);
  g_free (roi->adjudicated);
  g_free (roi->adjudicator);
  g_clear_pointer (&roi->reads, g_ptr_array_unref);
  g_free (roi);
}

void
hepa_roi_set_prediction (HepaRoi           *roi,
                         const char        *model_id,
                         const char *const *classes,
                         const float       *probabilities)
{
  guint n;

  g_return_if_fail (roi != NULL);

  g_clear_pointer (&roi->pred_model_id, g_free);
  g_clear_pointer (&roi->pred_classes, g_strfreev);
  g_clear_pointer (&roi->pred_probabilities, g_free);
  if (model_id == NULL)
    return;

  g_return_if_fail (classes != NULL && probabilities != NULL);
  n = g_strv_length ((char **) classes);
  roi->pred_model_id = g_strdup (model_id);
  roi->pred_classes = g_strdupv ((char **) classes);
  roi->pred_probabilities = g_new0 (float, MAX (n, 1));
  if (n > 0)
    memcpy (roi->pred_probabilities, probabilities, n * sizeof (float));
}

/* ---- Raters ------------------------------------------------------------------------------ */

HepaRating *
hepa_rating_new (const char *rater,
                 const char *label,
                 gint64      modified)
{
  HepaRating *rating = g_new0 (HepaRating, 1);

  rating->rater = g_strdup (rater != NULL ? rater : "");
  rating->label = g_strdup (label);
  rating->modified = modified;
  return rating;
}

void
hepa_rating_free (HepaRating *rating)
{
  if (rating == NULL)
    return;
  g_free (rating->rater);
  g_free (rating->label);
  g_free (rating);
}

static int
compare_ratings (gconstpointer a,
                 gconstpointer b)
{
  const HepaRating *ra = *(const HepaRating *const *) a;
  const HepaRating *rb = *(const HepaRating *const *) b;

  return strcmp (ra->rater, rb->rater);
}

GPtrArray *
hepa_roi_dup_ratings (const HepaRoi *roi)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_rating_free);
  const char *current;

  g_return_val_if_fail (roi != NULL, out);

  current = roi->rater != NULL ? roi->rater : "";
  if (roi->ratings != NULL)
    for (guint i = 0; i < roi->ratings->len; i++)
      {
        const HepaRating *r = g_ptr_array_index (roi->ratings, i);

        if (r->label != NULL && strcmp (r->rater, current) != 0)
          g_ptr_array_add (out, hepa_rating_new (r->rater, r->label, r->modified));
      }
  if (roi->label != NULL)
    g_ptr_array_add (out, hepa_rating_new (current, roi->label, roi->modified));
  g_ptr_array_sort (out, compare_ratings);
  return out;
}

void
hepa_roi_set_rating (HepaRoi    *roi,
                     const char *rater,
                     const char *label)
{
  g_autoptr(GPtrArray) merged = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_return_if_fail (roi != NULL);

  if (rater == NULL)
    rater = "";
  if (label != NULL && *label == '\0')
    label = NULL;
  merged = hepa_roi_dup_ratings (roi);
  for (guint i = 0; i < merged->len; i++)
    if (strcmp (((HepaRating *) g_ptr_array_index (merged, i))->rater, rater) == 0)
      {
        g_ptr_array_remove_index (merged, i);
        break;
      }
  /* The current rater's label is kept in @ratings too, so that code which later replaces
   * (rater, label) directly does not lose it. */
  if (label != NULL)
    g_ptr_array_add (merged, hepa_rating_new (rater, label, now));
  g_clear_pointer (&roi->ratings, g_ptr_array_unref);
  roi->ratings = g_steal_pointer (&merged);
  /* A rating removed: the latest remaining one becomes the ROI's label. */
  if (label == NULL && roi->ratings->len > 0)
    {
      const HepaRating *latest = g_ptr_array_index (roi->ratings, 0);

      for (guint i = 1; i < roi->ratings->len; i++)
        if (((HepaRating *) g_ptr_array_index (roi->ratings, i))->modified > latest->modified)
          latest = g_ptr_array_index (roi->ratings, i);
      rater = latest->rater;
      label = latest->label;
    }
  g_free (roi->label);
  roi->label = g_strdup (label);
  if (rater != roi->rater)
    {
      g_free (roi->rater);
      roi->rater = g_strdup (rater);
    }
  roi->modified = now;
}

void
hepa_roi_set_adjudicated (HepaRoi    *roi,
                          const char *label,
                          const char *by)
{
  g_return_if_fail (roi != NULL);

  g_clear_pointer (&roi->adjudicated, g_free);
  g_clear_pointer (&roi->adjudicator, g_free);
  roi->adjudicated_time = 0;
  if (label == NULL || *label == '\0')
    return;
  roi->adjudicated = g_strdup (label);
  roi->adjudicator = g_strdup (by != NULL ? by : "");
  roi->adjudicated_time = g_get_real_time () / G_USEC_PER_SEC;
}

/* TRUE when @roi needs version 2: more than one rater, or an adjudication. */
static gboolean
roi_needs_v2 (const HepaRoi *roi)
{
  g_autoptr(GPtrArray) ratings = NULL;

  if (roi->adjudicated != NULL)
    return TRUE;
  if (roi->ratings == NULL)
    return FALSE;
  ratings = hepa_roi_dup_ratings (roi);
  return ratings->len > 1 || (ratings->len == 1 && roi->label == NULL);
}

/* ---- Annotation sets ---------------------------------------------------------------------- */

HepaAnnotations *
hepa_annotations_new (const char *image_name)
{
  HepaAnnotations *self = g_new0 (HepaAnnotations, 1);

  self->image_name = g_strdup (image_name != NULL ? image_name : "");
  self->rois = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_roi_free);
  return self;
}

void
hepa_annotations_free (HepaAnnotations *self)
{
  if (self == NULL)
    return;
  g_free (self->image_name);
  g_free (self->sop_uid_sha256);
  g_ptr_array_unref (self->rois);
  g_free (self);
}

char *
hepa_annotations_sidecar_path (const char *image_path,
                               const char *workspace_dir)
{
  g_autofree char *absolute = NULL;
  g_autofree char *base = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *name = NULL;

  g_return_val_if_fail (image_path != NULL, NULL);

  if (workspace_dir == NULL)
    return g_strconcat (image_path, SIDECAR_SUFFIX, NULL);

  /* Files with the same base name from different folders share a workspace, so the name
   * carries a short hash of the image's absolute path. */
  absolute = g_canonicalize_filename (image_path, NULL);
  base = g_path_get_basename (image_path);
  hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, absolute, -1);
  hash[12] = '\0';
  name = g_strdup_printf ("%s-%s%s", base, hash, SIDECAR_SUFFIX);
  return g_build_filename (workspace_dir, name, NULL);
}

/* ---- Time stamps ------------------------------------------------------------------------ */

char *
hepa_annotations_format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_seconds);

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  /* Not g_date_time_format's %Y: it does not pad years before 1000 to four digits, and
   * ISO 8601 parsers then refuse them. */
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02dZ", g_date_time_get_year (dt),
                          g_date_time_get_month (dt), g_date_time_get_day_of_month (dt),
                          g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                          g_date_time_get_second (dt));
}

gboolean
hepa_annotations_parse_time (const char *text,
                             gint64     *unix_seconds)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) dt = NULL;

  if (text == NULL || *text == '\0')
    return FALSE;
  dt = g_date_time_new_from_iso8601 (text, utc);
  if (dt == NULL)
    return FALSE;
  /* A zone offset can push 9999-12-31 into year 10000, which cannot be written back. */
  {
    g_autoptr(GDateTime) in_utc = g_date_time_new_from_unix_utc (g_date_time_to_unix (dt));

    if (in_utc == NULL)
      return FALSE;
  }
  *unix_seconds = g_date_time_to_unix (dt);
  return TRUE;
}

/* ---- Parsing ---------------------------------------------------------------------------- */

char *
hepa_one_line (char *message)
{
  for (char *p = message; p != NULL && *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return message;
}

gboolean
hepa_format_error (GError    **error,
                   const char *format,
                   ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_FORMAT, message);
  return FALSE;
}

/* A member that must be a JSON integer within [min, max]. */
static gboolean
get_int_member (JsonObject  *object,
                const char  *name,
                gint64       min,
                gint64       max,
                guint        roi_index,
                gint64      *value,
                GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return hepa_format_error (error,
                              _("ROI %u: “%s” is missing or not an integer"), roi_index, name);
  *value = json_node_get_int (node);
  if (*value < min || *value > max)
    return hepa_format_error (error, _("ROI %u: “%s” is out of range"), roi_index, name);
  return TRUE;
}

/* A member that must be a string (or, with @nullable, null or absent: *value = NULL). */
static gboolean
get_string_member (JsonObject  *object,
                   const char  *name,
                   gboolean     nullable,
                   guint        roi_index,
                   const char **value,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *value = NULL;
  if (nullable && (node == NULL || JSON_NODE_HOLDS_NULL (node)))
    return TRUE;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return hepa_format_error (error, _("ROI %u: “%s” is missing or not a string"), roi_index, name);
  *value = json_node_get_string (node);
  return TRUE;
}

static gboolean
parse_prediction (JsonNode  *node,
                  HepaRoi   *roi,
                  guint      roi_index,
                  GError   **error)
{
  JsonObject *object;
  JsonArray *classes;
  JsonArray *probabilities;
  const char *model_id;
  JsonNode *member;
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) names = NULL;
  g_autofree float *values = NULL;
  guint n;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return hepa_format_error (error, _("ROI %u: “prediction” is not an object"), roi_index);
  object = json_node_get_object (node);
  if (!get_string_member (object, "model_id", FALSE, roi_index, &model_id, error))
    return FALSE;

  member = json_object_get_member (object, "classes");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    return hepa_format_error (error, _("ROI %u: prediction “classes” is not an array"), roi_index);
  classes = json_node_get_array (member);
  member = json_object_get_member (object, "probabilities");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    return hepa_format_error (error, _("ROI %u: prediction “probabilities” is not an array"),
                         roi_index);
  probabilities = json_node_get_array (member);

  n = json_array_get_length (classes);
  if (n < 1 || n > 1024 || json_array_get_length (probabilities) != n)
    return hepa_format_error (error, _("ROI %u: prediction classes and probabilities do not match"),
                         roi_index);

  builder = g_strv_builder_new ();
  values = g_new (float, n);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *c = json_array_get_element (classes, i);
      JsonNode *p = json_array_get_element (probabilities, i);
      GType type;
      double v;

      if (!JSON_NODE_HOLDS_VALUE (c) || json_node_get_value_type (c) != G_TYPE_STRING)
        return hepa_format_error (error,
                                  _("ROI %u: a prediction class is not a string"), roi_index);
      if (!JSON_NODE_HOLDS_VALUE (p))
        return hepa_format_error (error, _("ROI %u: a probability is not a number"), roi_index);
      type = json_node_get_value_type (p);
      if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
        return hepa_format_error (error, _("ROI %u: a probability is not a number"), roi_index);
      v = json_node_get_double (p);
      if (!(v >= 0.0 && v <= 1.0))
        return hepa_format_error (error, _("ROI %u: a probability is outside 0..1"), roi_index);
      g_strv_builder_add (builder, json_node_get_string (c));
      values[i] = (float) v;
    }
  names = g_strv_builder_end (builder);
  hepa_roi_set_prediction (roi, model_id, (const char *const *) names, values);
  return TRUE;
}

/* "ratings" and "adjudicated" (version 2); both optional. */
static gboolean
parse_ratings (JsonObject  *object,
               HepaRoi     *roi,
               guint        index,
               GError     **error)
{
  JsonNode *member = json_object_get_member (object, "ratings");
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      JsonArray *array;

      if (!JSON_NODE_HOLDS_ARRAY (member))
        return hepa_format_error (error, _("ROI %u: “ratings” is not an array"), index);
      array = json_node_get_array (member);
      if (json_array_get_length (array) > 1024)
        return hepa_format_error (error, _("ROI %u: too many ratings"), index);
      roi->ratings = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_rating_free);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *node = json_array_get_element (array, i);
          const char *rater, *label, *modified;
          gint64 when = 0;
          JsonObject *o;

          if (!JSON_NODE_HOLDS_OBJECT (node))
            return hepa_format_error (error, _("ROI %u: a rating is not an object"), index);
          o = json_node_get_object (node);
          if (!get_string_member (o, "rater", FALSE, index, &rater, error)
              || !get_string_member (o, "label", TRUE, index, &label, error)
              || !get_string_member (o, "modified", TRUE, index, &modified, error))
            return FALSE;
          if (modified != NULL && !hepa_annotations_parse_time (modified, &when))
            return hepa_format_error (error,
                                      _("ROI %u has a time stamp that is not ISO 8601"), index);
          if (!g_hash_table_add (seen, (gpointer) rater))
            return hepa_format_error (error, _("ROI %u: rater “%s” has two ratings"), index,
                                      rater);
          if (label != NULL && *label != '\0')
            g_ptr_array_add (roi->ratings, hepa_rating_new (rater, label, when));
        }
    }

  member = json_object_get_member (object, "adjudicated");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      const char *label, *by, *modified;
      JsonObject *o;

      if (!JSON_NODE_HOLDS_OBJECT (member))
        return hepa_format_error (error, _("ROI %u: “adjudicated” is not an object"), index);
      o = json_node_get_object (member);
      if (!get_string_member (o, "label", FALSE, index, &label, error)
          || !get_string_member (o, "by", TRUE, index, &by, error)
          || !get_string_member (o, "modified", TRUE, index, &modified, error))
        return FALSE;
      if (*label != '\0')
        {
          roi->adjudicated = g_strdup (label);
          roi->adjudicator = g_strdup (by != NULL ? by : "");
          if (modified != NULL && !hepa_annotations_parse_time (modified,
                                                                &roi->adjudicated_time))
            return hepa_format_error (error,
                                      _("ROI %u has a time stamp that is not ISO 8601"), index);
        }
    }
  return TRUE;
}

static gboolean
parse_reads (JsonNode  *node,
             HepaRoi   *roi,
             guint      roi_index,
             GError   **error)
{
  JsonArray *reads;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return hepa_format_error (error, _("ROI %u: “reads” is not an array"), roi_index);
  reads = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (reads); i++)
    {
      JsonNode *element = json_array_get_element (reads, i);
      JsonObject *object;
      const char *rater, *label, *decided, *mode;
      gint64 ms, when;
      g_autoptr(HepaRoiRead) read = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        return hepa_format_error (error, _("ROI %u: read %u is not an object"), roi_index, i);
      object = json_node_get_object (element);
      if (!get_string_member (object, "rater", TRUE, roi_index, &rater, error)
          || !get_string_member (object, "label", FALSE, roi_index, &label, error)
          || !get_string_member (object, "decided", FALSE, roi_index, &decided, error)
          || !get_int_member (object, "time_to_decide_ms", 0, G_MAXINT64 / 2, roi_index, &ms,
                              error))
        return FALSE;
      if (json_object_has_member (object, "mode"))
        {
          if (!get_string_member (object, "mode", TRUE, roi_index, &mode, error))
            return FALSE;
        }
      else
        mode = NULL;
      if (*label == '\0')
        return hepa_format_error (error, _("ROI %u: read %u has an empty label"), roi_index, i);
      if (!hepa_annotations_parse_time (decided, &when))
        return hepa_format_error (error, _("ROI %u: read %u has a time stamp that is not ISO 8601"),
                                  roi_index, i);
      read = hepa_roi_read_new (rater, label, when, ms, mode);
      hepa_roi_add_read (roi, read);
    }
  return TRUE;
}

static HepaRoi *
parse_roi (JsonNode  *node,
           guint      index,
           GError   **error)
{
  g_autoptr(HepaRoi) roi = g_new0 (HepaRoi, 1);
  JsonObject *object;
  const char *id, *label, *rater, *created, *modified;
  gint64 frame, x, y, width, height;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      hepa_format_error (error, _("ROI %u is not an object"), index);
      return NULL;
    }
  object = json_node_get_object (node);

  if (!get_string_member (object, "id", FALSE, index, &id, error)
      || !get_int_member (object, "frame", 0, G_MAXINT, index, &frame, error)
      || !get_int_member (object, "x", -G_MAXINT / 2, G_MAXINT / 2, index, &x, error)
      || !get_int_member (object, "y", -G_MAXINT / 2, G_MAXINT / 2, index, &y, error)
      || !get_int_member (object, "width", 1, G_MAXINT / 2, index, &width, error)
      || !get_int_member (object, "height", 1, G_MAXINT / 2, index, &height, error)
      || !get_string_member (object, "label", TRUE, index, &label, error)
      || !get_string_member (object, "rater", TRUE, index, &rater, error)
      || !get_string_member (object, "created", FALSE, index, &created, error)
      || !get_string_member (object, "modified", FALSE, index, &modified, error))
    return NULL;

  if (*id == '\0')
    {
      hepa_format_error (error, _("ROI %u has an empty id"), index);
      return NULL;
    }
  if (label != NULL && *label == '\0')
    label = NULL;

  roi->id = g_strdup (id);
  roi->frame = (guint) frame;
  roi->rect.x = (int) x;
  roi->rect.y = (int) y;
  roi->rect.width = (int) width;
  roi->rect.height = (int) height;
  roi->label = g_strdup (label);
  roi->rater = g_strdup (rater != NULL ? rater : "");
  if (!hepa_annotations_parse_time (created, &roi->created)
      || !hepa_annotations_parse_time (modified, &roi->modified))
    {
      hepa_format_error (error, _("ROI %u has a time stamp that is not ISO 8601"), index);
      return NULL;
    }
  if (!parse_prediction (json_object_get_member (object, "prediction"), roi, index, error)
      || !parse_ratings (object, roi, index, error))
    return NULL;
  /* Version 1: the one label is its rater's rating (kept when another rater relabels). */
  if (roi->ratings == NULL && roi->label != NULL)
    {
      roi->ratings = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_rating_free);
      g_ptr_array_add (roi->ratings, hepa_rating_new (roi->rater, roi->label, roi->modified));
    }
  if (!parse_reads (json_object_get_member (object, "reads"), roi, index, error))
    return NULL;
  return g_steal_pointer (&roi);
}

HepaAnnotations *
hepa_annotations_parse (const char  *data,
                        gsize        length,
                        GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(HepaAnnotations) self = NULL;
  g_autoptr(GHashTable) ids = NULL;
  JsonObject *object;
  JsonNode *member;
  JsonArray *rois;
  const char *format;
  gint64 version;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length > HEPA_ANNOTATIONS_MAX_BYTES)
    {
      hepa_format_error (error,
                         _("The file is larger than any sidecar (%zu bytes)"), (size_t) length);
      return NULL;
    }
  object = hepa_json_parse_object (parser, data, length, error);
  if (object == NULL)
    return NULL;

  member = json_object_get_member (object, "format");
  format = member != NULL && JSON_NODE_HOLDS_VALUE (member)
           && json_node_get_value_type (member) == G_TYPE_STRING
           ? json_node_get_string (member) : NULL;
  if (g_strcmp0 (format, FORMAT_NAME) != 0)
    {
      hepa_format_error (error, _("Not a Hepascope sidecar (no “format”: “%s”)"), FORMAT_NAME);
      return NULL;
    }
  member = json_object_get_member (object, "version");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member)
      || json_node_get_value_type (member) != G_TYPE_INT64)
    {
      hepa_format_error (error, _("The format version is missing or not an integer"));
      return NULL;
    }
  version = json_node_get_int (member);
  if (version > HEPA_ANNOTATIONS_VERSION)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                   _("Written by a newer Hepascope (format version %lld, this one reads up to "
                     "%d); left unchanged"),
                   (long long) version, HEPA_ANNOTATIONS_VERSION);
      return NULL;
    }
  if (version < 1)
    {
      hepa_format_error (error, _("Format version %lld is not valid"), (long long) version);
      return NULL;
    }

  self = hepa_annotations_new (NULL);
  member = json_object_get_member (object, "image");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
        {
          hepa_format_error (error, _("“image” is not a string"));
          return NULL;
        }
      g_free (self->image_name);
      self->image_name = g_strdup (json_node_get_string (member));
    }
  member = json_object_get_member (object, "sop_instance_uid_sha256");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      const char *hash;

      if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
        {
          hepa_format_error (error, _("“sop_instance_uid_sha256” is not a string"));
          return NULL;
        }
      hash = json_node_get_string (member);
      if (*hash != '\0')
        self->sop_uid_sha256 = g_strdup (hash);
    }

  member = json_object_get_member (object, "rois");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    {
      hepa_format_error (error, _("“rois” is missing or not an array"));
      return NULL;
    }
  rois = json_node_get_array (member);
  ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (rois); i++)
    {
      HepaRoi *roi = parse_roi (json_array_get_element (rois, i), i, error);

      if (roi == NULL)
        return NULL;
      g_ptr_array_add (self->rois, roi);
      if (!g_hash_table_add (ids, roi->id))
        {
          hepa_format_error (error, _("ROI %u repeats the id of another ROI"), i);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

/* Moves a damaged sidecar aside to `<sidecar>.damaged-<UTC time>[-N]`. Returns the new path. */
static char *
move_aside (const char  *sidecar_path,
            GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");

  for (int attempt = 0; attempt < 100; attempt++)
    {
      g_autofree char *target = attempt == 0
                                ? g_strdup_printf ("%s.damaged-%s", sidecar_path, stamp)
                                : g_strdup_printf ("%s.damaged-%s-%d", sidecar_path, stamp,
                                                   attempt);
      int errsv;

      if (g_file_test (target, G_FILE_TEST_EXISTS))
        continue;
      if (g_rename (sidecar_path, target) == 0)
        return g_steal_pointer (&target);
      errsv = errno;
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s", g_strerror (errsv));
      return NULL;
    }
  g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_IO, _("too many damaged copies already"));
  return NULL;
}

HepaAnnotations *
hepa_annotations_load (const char  *sidecar_path,
                       GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  GStatBuf st;
  HepaAnnotations *self;

  g_return_val_if_fail (sidecar_path != NULL, NULL);

  if (g_stat (sidecar_path, &st) != 0)
    {
      int errsv = errno;

      if (errsv == ENOENT)
        {
          g_autofree char *base = g_path_get_basename (sidecar_path);

          if (g_str_has_suffix (base, SIDECAR_SUFFIX))
            base[strlen (base) - strlen (SIDECAR_SUFFIX)] = '\0';
          return hepa_annotations_new (base);
        }
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not read annotations %s: %s"), sidecar_path, g_strerror (errsv));
      return NULL;
    }

  /* Only a regular file is read (a FIFO would block for ever, a link to /dev/zero would never
   * end), and the bytes actually read are counted against the ceiling, not st_size. */
  if (!hepa_file_get_contents (sidecar_path, HEPA_ANNOTATIONS_MAX_BYTES, &contents, &length,
                               &local_error))
    {
      if (!g_error_matches (local_error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE))
        {
          g_set_error (error, HEPA_ERROR, local_error->code,
                       _("Could not read annotations %s: %s"), sidecar_path,
                       local_error->message);
          return NULL;
        }
      /* Larger than any sidecar: damaged, kept aside below like any other damage. */
      g_clear_error (&local_error);
      hepa_format_error (&local_error, _("The file is larger than any sidecar (over %d MiB)"),
                         HEPA_ANNOTATIONS_MAX_BYTES / (1024 * 1024));
      self = NULL;
    }
  else
    self = hepa_annotations_parse (contents, length, &local_error);
  if (self != NULL)
    return self;

  if (g_error_matches (local_error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED, "%s: %s", sidecar_path,
                   local_error->message);
      return NULL;
    }

  /* Damaged: keep it aside, so a save never overwrites what a user drew. */
  {
    g_autoptr(GError) move_error = NULL;
    g_autofree char *aside = move_aside (sidecar_path, &move_error);

    if (aside != NULL)
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Annotations %s are damaged (%s); the file was moved to %s"),
                   sidecar_path, local_error->message, aside);
    else
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Annotations %s are damaged (%s) and could not be moved aside (%s); "
                     "the file was left in place"),
                   sidecar_path, local_error->message, move_error->message);
  }
  return NULL;
}

/* ---- Saving ----------------------------------------------------------------------------- */

JsonNode *
hepa_roi_to_json (const HepaRoi *roi)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autofree char *created = hepa_annotations_format_time (roi->created);
  g_autofree char *modified = hepa_annotations_format_time (roi->modified);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, roi->id);
  json_builder_set_member_name (b, "frame");
  json_builder_add_int_value (b, roi->frame);
  json_builder_set_member_name (b, "x");
  json_builder_add_int_value (b, roi->rect.x);
  json_builder_set_member_name (b, "y");
  json_builder_add_int_value (b, roi->rect.y);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, roi->rect.width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, roi->rect.height);
  json_builder_set_member_name (b, "label");
  if (roi->label != NULL)
    json_builder_add_string_value (b, roi->label);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "rater");
  json_builder_add_string_value (b, roi->rater != NULL ? roi->rater : "");
  json_builder_set_member_name (b, "created");
  json_builder_add_string_value (b, created);
  json_builder_set_member_name (b, "modified");
  json_builder_add_string_value (b, modified);
  json_builder_set_member_name (b, "prediction");
  if (roi->pred_model_id != NULL && roi->pred_classes != NULL)
    {
      guint n = g_strv_length (roi->pred_classes);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "model_id");
      json_builder_add_string_value (b, roi->pred_model_id);
      json_builder_set_member_name (b, "classes");
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        json_builder_add_string_value (b, roi->pred_classes[i]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "probabilities");
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        json_builder_add_double_value (b, roi->pred_probabilities[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  if (roi_needs_v2 (roi))
    {
      g_autoptr(GPtrArray) ratings = hepa_roi_dup_ratings (roi);

      json_builder_set_member_name (b, "ratings");
      json_builder_begin_array (b);
      for (guint i = 0; i < ratings->len; i++)
        {
          const HepaRating *r = g_ptr_array_index (ratings, i);
          g_autofree char *when = hepa_annotations_format_time (r->modified);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "rater");
          json_builder_add_string_value (b, r->rater);
          json_builder_set_member_name (b, "label");
          json_builder_add_string_value (b, r->label);
          json_builder_set_member_name (b, "modified");
          json_builder_add_string_value (b, when);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "adjudicated");
      if (roi->adjudicated != NULL)
        {
          g_autofree char *when = hepa_annotations_format_time (roi->adjudicated_time);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "label");
          json_builder_add_string_value (b, roi->adjudicated);
          json_builder_set_member_name (b, "by");
          json_builder_add_string_value (b, roi->adjudicator != NULL ? roi->adjudicator : "");
          json_builder_set_member_name (b, "modified");
          json_builder_add_string_value (b, when);
          json_builder_end_object (b);
        }
      else
        json_builder_add_null_value (b);
    }
  if (roi->reads != NULL && roi->reads->len > 0)
    {
      json_builder_set_member_name (b, "reads");
      json_builder_begin_array (b);
      for (guint i = 0; i < roi->reads->len; i++)
        {
          const HepaRoiRead *read = g_ptr_array_index (roi->reads, i);
          g_autofree char *decided = hepa_annotations_format_time (read->decided);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "rater");
          json_builder_add_string_value (b, read->rater);
          json_builder_set_member_name (b, "label");
          json_builder_add_string_value (b, read->label);
          json_builder_set_member_name (b, "decided");
          json_builder_add_string_value (b, decided);
          json_builder_set_member_name (b, "time_to_decide_ms");
          json_builder_add_int_value (b, read->time_to_decide_ms);
          json_builder_set_member_name (b, "mode");
          json_builder_add_string_value (b, read->mode);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
hepa_annotations_to_data (const HepaAnnotations *self,
                          gsize                 *length)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  char *data;
  int version = 1;

  g_return_val_if_fail (self != NULL, NULL);

  /* Version 1 unless a ROI has several raters or an adjudication: see the header. */
  for (guint i = 0; i < self->rois->len && version == 1; i++)
    if (roi_needs_v2 (g_ptr_array_index (self->rois, i)))
      version = 2;
  /* Version 2 only when it holds what version 1 readers would drop (see the header). */
  for (guint i = 0; i < self->rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (self->rois, i);

      if (roi->reads != NULL && roi->reads->len > 0)
        version = 2;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, FORMAT_NAME);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, version);
  json_builder_set_member_name (b, "image");
  json_builder_add_string_value (b, self->image_name != NULL ? self->image_name : "");
  json_builder_set_member_name (b, "sop_instance_uid_sha256");
  if (self->sop_uid_sha256 != NULL)
    json_builder_add_string_value (b, self->sop_uid_sha256);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "rois");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->rois->len; i++)
    json_builder_add_value (b, hepa_roi_to_json (g_ptr_array_index (self->rois, i)));
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

static HepaWriteFunc write_func = NULL;

void
hepa_annotations_set_write_func_for_testing (HepaWriteFunc func)
{
  write_func = func;
}

static gboolean
errno_error (GError    **error,
             int         errsv,
             const char *what,
             const char *path)
{
  HepaError code = hepa_error_from_errno (errsv);
  g_autofree char *reason = NULL;

  switch ((int) code)
    {
    case HEPA_ERROR_NO_SPACE:
      reason = g_strdup_printf (_("Could not save %s to %s: the disk is full"), what, path);
      break;
    case HEPA_ERROR_PERMISSION:
      reason = g_strdup_printf (_("Could not save %s to %s: the folder is not writable (%s)"),
                                what, path, g_strerror (errsv));
      break;
    default:
      reason = g_strdup_printf (_("Could not save %s to %s: %s"), what, path,
                                g_strerror (errsv));
      break;
    }
  /* Say what became of the file: an earlier version stays as it was. A whole clause with the
   * message as %s, so that translators place it. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    /* Translators: %s is one of the "Could not save …" messages */
    g_set_error (error, HEPA_ERROR, code, _("%s; the previous version was kept"), reason);
  else
    g_set_error_literal (error, HEPA_ERROR, code, reason);
  return FALSE;
}

gboolean
hepa_write_file_atomic (const char  *path,
                        const void  *data,
                        gsize        length,
                        int          mode,
                        const char  *what,
                        GError     **error)
{
  return hepa_write_file_atomic_full (path, data, length, mode, TRUE, what, error);
}

gboolean
hepa_write_file_atomic_full (const char  *path,
                             const void  *data,
                             gsize        length,
                             int          mode,
                             gboolean     sync,
                             const char  *what,
                             GError     **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp = NULL;
  const guint8 *p = data;
  gsize left = length;
  gboolean named = FALSE;
  int fd;
  int dir_fd;
  int errsv;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  /* An unnamed file (O_TMPFILE) that gets a name only once complete: a process killed while it
   * writes leaves nothing behind. Without O_TMPFILE, a hidden named temporary file. */
  /* It is named through /proc/self/fd: without /proc, the named file. */
  fd = g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR)
       ? open (dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode) : -1;
  if (fd >= 0)
    tmp = g_strdup_printf ("%s/.%s.%08x.tmp", dir, base, g_random_int ());
  else
    {
      tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
      fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, mode);
      if (fd < 0)
        return errno_error (error, errno, what, path);
      named = TRUE;
    }

  while (left > 0)
    {
      ssize_t n = write_func != NULL ? write_func (fd, p, left) : write (fd, p, left);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          /* A write that returns 0 makes no progress: report it as a full disk. */
          errsv = n < 0 ? errno : ENOSPC;
          goto fail;
        }
      p += n;
      left -= (gsize) n;
    }
  if (sync && fsync (fd) != 0)
    {
      errsv = errno;
      goto fail;
    }
  if (!named)
    {
      g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", fd);

      if (linkat (AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0)
        {
          errsv = errno;
          goto fail;
        }
      named = TRUE;
    }
  if (close (fd) != 0)
    {
      fd = -1;
      errsv = errno;
      goto fail;
    }
  fd = -1;
  if (g_rename (tmp, path) != 0)
    {
      errsv = errno;
      goto fail;
    }

  /* The rename is durable only once the folder itself is synced. */
  dir_fd = sync ? open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  if (named)
    g_unlink (tmp);
  return errno_error (error, errsv, what, path);
}

gboolean
hepa_annotations_save (const HepaAnnotations *self,
                       const char            *sidecar_path,
                       GError               **error)
{
  g_autofree char *data = NULL;
  gsize length = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (sidecar_path != NULL, FALSE);

  /* A sidecar written by a newer Hepascope was left unchanged at open (the workbench then
   * starts with no regions); the first autosave would have replaced it and its regions. */
  {
    g_autofree char *old = NULL;
    gsize old_length = 0;

    if (hepa_file_get_contents (sidecar_path, HEPA_ANNOTATIONS_MAX_BYTES, &old, &old_length,
                                NULL))
      {
        g_autoptr(GError) old_error = NULL;
        g_autoptr(HepaAnnotations) previous = hepa_annotations_parse (old, old_length,
                                                                      &old_error);

        if (previous == NULL && g_error_matches (old_error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED))
          {
            g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                         _("Could not save annotations to %s: that file was written by a newer "
                           "Hepascope and is kept as it is"), sidecar_path);
            return FALSE;
          }
      }
  }
  data = hepa_annotations_to_data (self, &length);
  return hepa_write_file_atomic (sidecar_path, data, length, 0666, _("annotations"), error);
}

JsonObject *
hepa_json_parse_object (JsonParser  *parser,
                        const char  *data,
                        gsize        length,
                        GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  /* json-glib wants text; a NUL inside is damage, not the end of the document. */
  if (length > 0 && memchr (data, '\0', length) != NULL)
    {
      hepa_format_error (error, _("The file holds a NUL byte; it is not JSON text"));
      return NULL;
    }
  if (!hepa_json_parser_load (parser, length > 0 ? data : "", length, &local_error))
    {
      hepa_format_error (error, _("Not valid JSON: %s"), hepa_one_line (local_error->message));
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      hepa_format_error (error, _("The top level is not a JSON object"));
      return NULL;
    }
  if (!hepa_json_strings_are_utf8 (root))
    {
      hepa_format_error (error, _("A string is not valid UTF-8 text"));
      return NULL;
    }
  return json_node_get_object (root);
}

gboolean
hepa_json_strings_are_utf8 (JsonNode *node)
{
  if (node == NULL)
    return TRUE;
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          if (!g_utf8_validate (name, -1, NULL) || !hepa_json_strings_are_utf8 (member))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        for (guint i = 0; i < n; i++)
          if (!hepa_json_strings_are_utf8 (json_array_get_element (array, i)))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        return g_utf8_validate (json_node_get_string (node), -1, NULL);
      return TRUE;
    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}
