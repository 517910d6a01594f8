/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The safetensors format: a little-endian header length, a JSON header, raw tensor bytes. The
 * one reader and writer of it. */
#include "config.h"

#include "hepa-safetensors.h"
#include "hepa-weights-private.h"
#include "hepa-error.h"
#include "hepa-half.h"
#include "hepa-json.h"
#include "nn/hepa-nn.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static inline gboolean
all_finite (const float *data,
            gint64       n)
{
  const guint32 *bits = (const guint32 *) data;
  guint32 bad = 0;

  /* Branch-free so it vectorizes: a float is NaN or infinite when its exponent is all ones. */
  for (gint64 i = 0; i < n; i++)
    bad |= ((bits[i] & 0x7f800000u) == 0x7f800000u);
  return bad == 0;
}

static gboolean
name_is_clean (const char *name)
{
  gsize len = 0;

  for (const char *p = name; *p != '\0'; p++, len++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return len > 0 && len <= 1024;
}

/* ---- safetensors reader ------------------------------------------------------------------- */

/* The safetensors format caps the JSON header at 100 MB; anything above is damage. */
#define MAX_HEADER_BYTES (100 * 1024 * 1024)
#define MAX_NDIM 8

typedef struct
{
  const char *name;
  HepaDType   dtype;
  int         ndim;
  gint64      shape[MAX_NDIM];
  gint64      n_elements;
  guint64     begin;
  guint64     end;
} PendingTensor;

static int
compare_pending_begin (gconstpointer a,
                       gconstpointer b)
{
  const PendingTensor *pa = *(const PendingTensor *const *) a;
  const PendingTensor *pb = *(const PendingTensor *const *) b;

  if (pa->begin != pb->begin)
    return pa->begin < pb->begin ? -1 : 1;
  if (pa->end != pb->end)
    return pa->end < pb->end ? -1 : 1;
  return 0;
}

static gboolean
parse_dtype (const char  *tensor,
             const char  *text,
             HepaDType   *dtype,
             gsize       *element_size,
             GError     **error)
{
  static const char *const refused[] = {
    "F64", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
  };

  if (g_strcmp0 (text, "F32") == 0)
    {
      *dtype = HEPA_DTYPE_F32;
      *element_size = 4;
      return TRUE;
    }
  if (g_strcmp0 (text, "F16") == 0)
    {
      *dtype = HEPA_DTYPE_F16;
      *element_size = 2;
      return TRUE;
    }
  if (g_strcmp0 (text, "BF16") == 0)
    {
      *dtype = HEPA_DTYPE_BF16;
      *element_size = 2;
      return TRUE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    if (g_strcmp0 (text, refused[i]) == 0)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                     _("Tensor “%s” is stored as %s; only F32, F16 and BF16 weights are supported"),
                     tensor, text);
        return FALSE;
      }
  g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
               _("Tensor “%s” has an unknown dtype"), tensor);
  return FALSE;
}

static gboolean
read_uint (JsonNode *node,
           guint64   limit,
           guint64  *out)
{
  gint64 v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (node);
  if (v < 0 || (guint64) v > limit)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_tensor_header (const char     *name,
                     JsonNode       *node,
                     guint64         data_size,
                     PendingTensor  *out,
                     GError        **error)
{
  JsonObject *object;
  JsonNode *dtype_node;
  JsonArray *shape;
  JsonArray *offsets;
  gsize element_size = 0;
  guint64 n = 1;
  guint64 bytes;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Tensor “%s” has a damaged header entry"), name);
      return FALSE;
    }
  object = json_node_get_object (node);
  out->name = name;

  dtype_node = json_object_get_member (object, "dtype");
  if (dtype_node == NULL || !JSON_NODE_HOLDS_VALUE (dtype_node)
      || json_node_get_value_type (dtype_node) != G_TYPE_STRING)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("Tensor “%s” has no dtype"), name);
      return FALSE;
    }
  if (!parse_dtype (name, json_node_get_string (dtype_node), &out->dtype, &element_size, error))
    return FALSE;

  if (!json_object_has_member (object, "shape")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "shape")))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, _("Tensor “%s” has no shape"), name);
      return FALSE;
    }
  shape = json_object_get_array_member (object, "shape");
  if (json_array_get_length (shape) > MAX_NDIM)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Tensor “%s” has %u dimensions; at most %d are supported"),
                   name, json_array_get_length (shape), MAX_NDIM);
      return FALSE;
    }
  out->ndim = (int) json_array_get_length (shape);
  for (int i = 0; i < out->ndim; i++)
    {
      guint64 dim;

      /* Each dimension and the running product are bounded by the data size, so the product
       * cannot overflow. */
      if (!read_uint (json_array_get_element (shape, i), data_size, &dim))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("Tensor “%s” has an invalid or oversized shape"), name);
          return FALSE;
        }
      out->shape[i] = (gint64) dim;
      if (dim != 0 && n > data_size / dim)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("Tensor “%s” is larger than the file; the file may be truncated"), name);
          return FALSE;
        }
      n *= dim;
    }
  out->n_elements = (gint64) n;
  if (n > data_size / element_size)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Tensor “%s” is larger than the file; the file may be truncated"), name);
      return FALSE;
    }
  bytes = n * element_size;

  if (!json_object_has_member (object, "data_offsets")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "data_offsets"))
      || json_array_get_length (json_object_get_array_member (object, "data_offsets")) != 2)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Tensor “%s” has no valid data_offsets"), name);
      return FALSE;
    }
  offsets = json_object_get_array_member (object, "data_offsets");
  if (!read_uint (json_array_get_element (offsets, 0), G_MAXINT64, &out->begin)
      || !read_uint (json_array_get_element (offsets, 1), G_MAXINT64, &out->end))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Tensor “%s” has invalid data_offsets"), name);
      return FALSE;
    }
  if (out->begin > out->end || out->end > data_size)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Tensor “%s” lies outside the file (bytes %llu–%llu of %llu); the file "
                     "may be truncated"),
                   name, (unsigned long long) out->begin, (unsigned long long) out->end,
                   (unsigned long long) data_size);
      return FALSE;
    }
  if (out->end - out->begin != bytes)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Tensor “%s” has %llu bytes of data but its shape needs %llu"), name,
                   (unsigned long long) (out->end - out->begin), (unsigned long long) bytes);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_metadata (HepaWeights  *self,
                JsonNode     *node,
                GError      **error)
{
  JsonObject *object;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("The safetensors __metadata__ entry is not an object"));
      return FALSE;
    }
  object = json_node_get_object (node);
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (object, l->data);

      if (!name_is_clean (l->data))
        {
          g_autofree char *printable = hepa_weights_printable_name (l->data);

          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("The safetensors metadata has an empty, overlong or unprintable key "
                         "(“%s”)"), printable);
          return FALSE;
        }
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("The safetensors metadata value “%s” is not a string"),
                       (const char *) l->data);
          return FALSE;
        }
      hepa_weights_set_metadata (self, l->data, json_node_get_string (value));
    }
  return TRUE;
}

/* An aligned little-endian F32 tensor of a mapped file is used where it lies. */
static gboolean
tensor_borrowable (const PendingTensor *p,
                   const guint8        *payload,
                   gboolean             zero_copy)
{
  return p->dtype == HEPA_DTYPE_F32 && zero_copy && G_BYTE_ORDER == G_LITTLE_ENDIAN
         && ((guintptr) (payload + p->begin) % 4) == 0;
}

/* Parses @data (@size bytes). F32 tensors point into @data when @zero_copy and aligned;
 * the caller then keeps @data alive with the weights. */
static HepaWeights *
parse_safetensors (const guint8  *data,
                   gsize          size,
                   gboolean       zero_copy,
                   gboolean      *borrowed,
                   GError       **error)
{
  g_autoptr(HepaWeights) self = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  g_autoptr(GList) members = NULL;
  g_autofree PendingTensor *tensors = NULL;
  JsonNode *root;
  JsonObject *object;
  guint64 header_len;
  guint64 data_size;
  const guint8 *payload;
  guint n_tensors = 0;
  float *arena = NULL;
  gsize arena_used = 0;

  if (size < 8)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Not a safetensors file: only %zu bytes"), (size_t) size);
      return NULL;
    }
  header_len = 0;
  for (int i = 7; i >= 0; i--)
    header_len = (header_len << 8) | data[i];
  if (header_len < 2 || header_len > MAX_HEADER_BYTES || header_len > size - 8)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Not a safetensors file, or truncated: header length %llu with %zu bytes "
                     "in the file"), (unsigned long long) header_len, (size_t) size);
      return NULL;
    }
  if (data[8] != '{')
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Not a safetensors file: the header is not a JSON object"));
      return NULL;
    }
  data_size = size - 8 - header_len;
  payload = data + 8 + header_len;

  parser = json_parser_new_immutable ();
  if (!hepa_json_parser_load (parser, (const char *) data + 8, (gssize) header_len,
                              &json_error))
    {
      /* json-glib quotes the offending text, newlines included. */
      g_autofree char *message = hepa_weights_printable_name (json_error->message);

      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Damaged safetensors header: %s"), message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("Not a safetensors file: the header is not a JSON object"));
      return NULL;
    }
  object = json_node_get_object (root);
  self = hepa_weights_new ();

  members = json_object_get_members (object);
  tensors = g_new0 (PendingTensor, MAX (g_list_length (members), 1));
  pending = g_ptr_array_new ();
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (object, name);

      if (!name_is_clean (name))
        {
          g_autofree char *printable = hepa_weights_printable_name (name);

          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("The safetensors header has an empty, overlong or unprintable name "
                         "(“%s”)"), printable);
          return NULL;
        }
      if (strcmp (name, "__metadata__") == 0)
        {
          if (!parse_metadata (self, node, error))
            return NULL;
          continue;
        }
      if (!parse_tensor_header (name, node, data_size, &tensors[n_tensors], error))
        return NULL;
      g_ptr_array_add (pending, &tensors[n_tensors]);
      n_tensors++;
    }

  /* No two tensors may share bytes. */
  g_ptr_array_sort (pending, compare_pending_begin);
  for (guint i = 1; i < pending->len; i++)
    {
      const PendingTensor *a = g_ptr_array_index (pending, i - 1);
      const PendingTensor *b = g_ptr_array_index (pending, i);

      if (b->begin < a->end)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("Tensors “%s” and “%s” overlap in the file"), a->name, b->name);
          return NULL;
        }
    }

  /* Every tensor that is converted or copied gets its floats from one block (100 MB for an
   * F16 ResNet50), which then takes some fifty faults of 2 MB pages on first touch, not
   * 25,000 of 4 KB: those were most of the time spent here. */
  {
    gsize total = 0;

    for (guint t = 0; t < n_tensors; t++)
      if (!tensor_borrowable (&tensors[t], payload, zero_copy))
        total += hepa_nn_arena_block ((gsize) tensors[t].n_elements);
    if (total > 0)
      {
        arena = hepa_nn_arena_new (total);
        if (arena == NULL)
          {
            g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                         _("Not enough memory for tensor “%s”"), tensors[0].name);
            return NULL;
          }
        hepa_weights_keep_alive (self, arena, free);
      }
  }

  /* Convert in header order, which is how the writer laid them out. */
  for (guint t = 0; t < n_tensors; t++)
    {
      const PendingTensor *p = &tensors[t];
      const guint8 *src = payload + p->begin;
      gsize n = (gsize) p->n_elements;
      const float *out = NULL;

      if (p->dtype == HEPA_DTYPE_F32)
        {
          if (tensor_borrowable (p, payload, zero_copy))
            {
              out = (const float *) src;
              if (borrowed != NULL)
                *borrowed = TRUE;
            }
          else
            {
              float *buf = arena + arena_used;

              arena_used += hepa_nn_arena_block ((gsize) p->n_elements);
              for (gsize i = 0; i < n; i++)
                {
                  guint32 bits = (guint32) src[4 * i] | ((guint32) src[4 * i + 1] << 8)
                                 | ((guint32) src[4 * i + 2] << 16)
                                 | ((guint32) src[4 * i + 3] << 24);
                  memcpy (&buf[i], &bits, sizeof bits);
                }
              out = buf;
            }
        }
      else
        {
          float *buf = arena + arena_used;
          gboolean is_f16 = p->dtype == HEPA_DTYPE_F16;

          arena_used += hepa_nn_arena_block ((gsize) p->n_elements);
          if (is_f16)
            hepa_half_to_float_n (src, n, buf);
          else
            for (gsize i = 0; i < n; i++)
              buf[i] = hepa_bfloat_to_float ((guint16) (src[2 * i] | (src[2 * i + 1] << 8)));
          out = buf;
        }

      if (!all_finite (out, p->n_elements))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("Tensor “%s” contains NaN or infinite values"), p->name);
          return NULL;
        }
      /* Borrowed from the mapping or carved from the arena: self keeps both alive. */
      hepa_weights_take_data (self, p->name, p->dtype, p->ndim, p->shape, out, FALSE);
    }

  return g_steal_pointer (&self);
}

HepaWeights *
hepa_safetensors_parse (const guint8  *data,
                                gsize          size,
                                GError       **error)
{
  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return parse_safetensors (data, size, FALSE, NULL, error);
}

HepaWeights *
hepa_safetensors_load (const char  *path,
                               GError     **error)
{
  g_autoptr(GMappedFile) mapped = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  mapped = hepa_map_file (path, error);
  if (mapped == NULL)
    return NULL;
  return hepa_safetensors_load_mapped (mapped, error);
}

HepaWeights *
hepa_safetensors_load_mapped (GMappedFile  *mapped,
                                      GError      **error)
{
  HepaWeights *self;
  gboolean borrowed = FALSE;

  self = parse_safetensors ((const guint8 *) g_mapped_file_get_contents (mapped),
                            g_mapped_file_get_length (mapped), TRUE, &borrowed, error);
  /* Aligned F32 tensors point into the mapping; when none does (F16 files), the caller's
   * reference is the last, so its pages do not add to the peak memory of a model load. */
  if (self != NULL && borrowed)
    hepa_weights_keep_alive (self, g_mapped_file_ref (mapped), (GDestroyNotify) g_mapped_file_unref);
  return self;
}

/* ---- safetensors writer ------------------------------------------------------------------- */

static gboolean
write_all (int            fd,
           const void    *buf,
           gsize          len,
           const char    *path,
           GError       **error)
{
  const guint8 *p = buf;

  while (len > 0)
    {
      gssize n = write (fd, p, MIN (len, (gsize) 1 << 30));

      if (n < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                       _("Could not write “%s”: %s"), path, g_strerror (errsv));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static const char *
dtype_name (HepaDType dtype)
{
  switch (dtype)
    {
    case HEPA_DTYPE_F32:
      return "F32";
    case HEPA_DTYPE_F16:
      return "F16";
    case HEPA_DTYPE_BF16:
      return "BF16";
    default:
      g_assert_not_reached ();
    }
}

static gboolean
write_tensor (int                     fd,
              const HepaTensorEntry  *entry,
              HepaDType               dtype,
              const char             *path,
              GError                **error)
{
  enum { CHUNK = 16384 };
  guint16 half[CHUNK];

  if (dtype == HEPA_DTYPE_F32 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    return write_all (fd, entry->data, (gsize) entry->n_elements * 4, path, error);

  for (gint64 start = 0; start < entry->n_elements; start += CHUNK)
    {
      gint64 n = MIN (CHUNK, entry->n_elements - start);

      for (gint64 i = 0; i < n; i++)
        {
          float v = entry->data[start + i];
          guint32 bits;

          memcpy (&bits, &v, sizeof bits);
          if (dtype == HEPA_DTYPE_F16)
            half[i] = hepa_float_to_half (v);
          else if (dtype == HEPA_DTYPE_BF16)
            half[i] = (guint16) ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
          else
            {
              /* F32 on a big-endian host: write little-endian. */
              guint8 le[4] = { bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, bits >> 24 };

              if (!write_all (fd, le, 4, path, error))
                return FALSE;
              continue;
            }
          half[i] = GUINT16_TO_LE (half[i]);
        }
      if (dtype != HEPA_DTYPE_F32 && !write_all (fd, half, (gsize) n * 2, path, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
hepa_safetensors_save (HepaWeights  *self,
                               const char   *path,
                               HepaDType     dtype,
                               GError      **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_auto(GStrv) keys = NULL;
  g_autoptr(GPtrArray) written = g_ptr_array_new ();
  g_autofree char *header = NULL;
  g_autofree char *tmp_path = NULL;
  gsize header_len;
  gsize padded_len;
  guint64 offset = 0;
  gsize element_size = dtype == HEPA_DTYPE_F32 ? 4 : 2;
  guint8 len_bytes[8];
  int fd;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (dtype == HEPA_DTYPE_F32 || dtype == HEPA_DTYPE_F16
                        || dtype == HEPA_DTYPE_BF16, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Only the last tensor of each name is written, as lookups see it. */
  for (guint i = 0; i < hepa_weights_get_n (self); i++)
    {
      const HepaTensorEntry *entry = hepa_weights_get_nth (self, i);

      if (hepa_weights_lookup (self, entry->name) != entry)
        continue;
      if (!all_finite (entry->data, entry->n_elements))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_MODEL,
                       _("Tensor “%s” contains NaN or infinite values"), entry->name);
          return FALSE;
        }
      if (dtype == HEPA_DTYPE_F16)
        for (gint64 j = 0; j < entry->n_elements; j++)
          if (fabsf (entry->data[j]) > 65504.0f)
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                           _("Tensor “%s” has values beyond the F16 range; save it as F32"),
                           entry->name);
              return FALSE;
            }
      g_ptr_array_add (written, (gpointer) entry);
    }

  json_builder_begin_object (builder);
  keys = hepa_weights_dup_metadata_keys (self);
  if (keys[0] != NULL)
    {
      json_builder_set_member_name (builder, "__metadata__");
      json_builder_begin_object (builder);
      for (char **k = keys; *k != NULL; k++)
        {
          json_builder_set_member_name (builder, *k);
          json_builder_add_string_value (builder, hepa_weights_get_metadata (self, *k));
        }
      json_builder_end_object (builder);
    }
  for (guint i = 0; i < written->len; i++)
    {
      const HepaTensorEntry *entry = g_ptr_array_index (written, i);
      guint64 bytes = (guint64) entry->n_elements * element_size;

      json_builder_set_member_name (builder, entry->name);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "dtype");
      json_builder_add_string_value (builder, dtype_name (dtype));
      json_builder_set_member_name (builder, "shape");
      json_builder_begin_array (builder);
      for (int d = 0; d < entry->ndim; d++)
        json_builder_add_int_value (builder, entry->shape[d]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "data_offsets");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, (gint64) offset);
      json_builder_add_int_value (builder, (gint64) (offset + bytes));
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      offset += bytes;
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  header = json_generator_to_data (generator, &header_len);
  /* Pad with spaces so the data starts 8-byte aligned (and fp32 tensors can be mapped). */
  padded_len = (header_len + 7) & ~(gsize) 7;
  header = g_realloc (header, padded_len + 1);
  memset (header + header_len, ' ', padded_len - header_len);
  header[padded_len] = '\0';
  for (int i = 0; i < 8; i++)
    len_bytes[i] = (guint8) (((guint64) padded_len >> (8 * i)) & 0xff);

  tmp_path = g_strdup_printf ("%s.XXXXXX", path);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not create “%s”: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  if (!write_all (fd, len_bytes, 8, path, error)
      || !write_all (fd, header, padded_len, path, error))
    goto fail;
  for (guint i = 0; i < written->len; i++)
    if (!write_tensor (fd, g_ptr_array_index (written, i), dtype, path, error))
      goto fail;
  if (fsync (fd) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not write “%s”: %s"), path, g_strerror (errsv));
      goto fail;
    }
  if (close (fd) != 0)
    {
      int errsv = errno;

      fd = -1;
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not write “%s”: %s"), path, g_strerror (errsv));
      goto fail;
    }
  fd = -1;
  if (g_rename (tmp_path, path) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not replace “%s”: %s"), path, g_strerror (errsv));
      goto fail;
    }
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);
  return FALSE;
}
