/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PyTorch state dicts from torch.save zip archives (PyTorch >= 1.6), without Python: the zip is
 * read by hepa-zip.c, data.pkl by the restricted pickle machine in hepa-pickle.c, and the
 * tensors are rebuilt here from the recorded _rebuild_tensor_v2 calls, with every storage,
 * offset and stride checked against the archive. */
#include "config.h"

#include "hepa-pth.h"

#include "hepa-error.h"
#include "hepa-half.h"
#include "hepa-pickle.h"
#include "hepa-weights.h"
#include "hepa-weights-private.h"
#include "hepa-zip.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define MAX_NDIM          8
/* How deep the walker follows wrappers ({"state_dict": ...}, parameters around tensors). */
#define MAX_WRAP_DEPTH    4
/* A tensor whose elements overlap in its storage (stride 0 or as_strided) may have more elements
 * than its storage; such tensors are capped so a tiny file cannot ask for gigabytes. */
#define MAX_OVERLAP_ELEMS (G_GINT64_CONSTANT (1) << 26)

static const char *const allowed_globals[] = {
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  "torch.FloatStorage",
  "torch.HalfStorage",
  "torch.BFloat16Storage",
  "torch.DoubleStorage",
  "torch.LongStorage",
  "torch.IntStorage",
  "torch.ShortStorage",
  "torch.CharStorage",
  "torch.ByteStorage",
  "torch.BoolStorage",
  NULL
};

/* The calls a state dict records; storage types only appear inside persistent ids. */
static const char *const callable_globals[] = {
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  NULL
};

typedef struct
{
  const char *storage;   /* the global's name */
  const char *dtype;     /* as torch names it */
  int         elem_size;
  int         kind;      /* HepaDType, or -1 when we do not read it */
} StorageType;

static const StorageType storage_types[] = {
  { "torch.FloatStorage",    "float32",  4, HEPA_DTYPE_F32 },
  { "torch.HalfStorage",     "float16",  2, HEPA_DTYPE_F16 },
  { "torch.BFloat16Storage", "bfloat16", 2, HEPA_DTYPE_BF16 },
  { "torch.DoubleStorage",   "float64",  8, -1 },
  { "torch.LongStorage",     "int64",    8, -1 },
  { "torch.IntStorage",      "int32",    4, -1 },
  { "torch.ShortStorage",    "int16",    2, -1 },
  { "torch.CharStorage",     "int8",     1, -1 },
  { "torch.ByteStorage",     "uint8",    1, -1 },
  { "torch.BoolStorage",     "bool",     1, -1 },
};

typedef struct
{
  const char   *name;
  HepaZip      *zip;
  char         *prefix;     /* "archive/" or "" */
  GHashTable   *verified;   /* storage keys whose CRC was checked */
} Reader;

/* What _rebuild_tensor_v2 would have made. */
typedef struct
{
  const StorageType *type;
  const guint8      *storage;  /* the bytes of data/<key> */
  gint64             storage_numel;
  gint64             offset;
  int                ndim;
  gint64             shape[MAX_NDIM];
  gint64             stride[MAX_NDIM];
  gint64             n_elements;
} TensorRef;

gboolean
hepa_pth_sniff (const guint8 *data,
                gsize         size)
{
  if (size >= 4 && memcmp (data, "PK\x03\x04", 4) == 0)
    return TRUE;
  /* Legacy torch.save: a pickle (protocol 2) of the magic number 0x1950a86a20f9469cfc6c. */
  return size >= 4 && data[0] == 0x80 && data[1] == 0x02 && data[2] == 0x8a && data[3] == 0x0a;
}

static inline float
load_element (const guint8 *p,
              HepaDType     kind)
{
  union { guint32 u; float f; } conv;

  switch (kind)
    {
    case HEPA_DTYPE_F32:
      conv.u = (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16)
               | ((guint32) p[3] << 24);
      return conv.f;
    case HEPA_DTYPE_F16:
      return hepa_half_to_float ((guint16) (p[0] | (p[1] << 8)));
    case HEPA_DTYPE_BF16:
      conv.u = ((guint32) p[0] << 16) | ((guint32) p[1] << 24);
      return conv.f;
    default:
      g_assert_not_reached ();
    }
  return 0.0f;
}

static gboolean
pth_fail (GError    **error,
          HepaError   code,
          const char *name,
          const char *format,
          ...) G_GNUC_PRINTF (4, 5);

/* Sets @error, prefixed with "@name: " when @name is given. */
static gboolean
pth_fail (GError    **error,
          HepaError   code,
          const char *name,
          const char *format,
          ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (name != NULL)
    g_set_error (error, HEPA_ERROR, code, "%s: %s", name, message);
  else
    g_set_error_literal (error, HEPA_ERROR, code, message);
  return FALSE;
}

static gboolean
tensor_fail (Reader     *r,
             const char *tensor,
             GError    **error,
             const char *what)
{
  pth_fail (error, HEPA_ERROR_FORMAT, r->name, _("tensor “%s”: %s"), tensor, what);
  return FALSE;
}

static gboolean
int_tuple (const HepaPickleValue *v,
           gint64                *out,
           int                   *n)
{
  if (v == NULL || v->kind != HEPA_PICKLE_TUPLE || v->items->len > MAX_NDIM)
    return FALSE;
  for (guint k = 0; k < v->items->len; k++)
    {
      const HepaPickleValue *e = g_ptr_array_index (v->items, k);

      if (e->kind != HEPA_PICKLE_INT)
        return FALSE;
      out[k] = e->i;
    }
  *n = (int) v->items->len;
  return TRUE;
}

/* Unwraps _rebuild_parameter(...) around _rebuild_tensor_v2(...); NULL when @v is no tensor. */
static const HepaPickleValue *
as_tensor (const HepaPickleValue *v)
{
  for (int depth = 0; v != NULL && depth < MAX_WRAP_DEPTH; depth++)
    {
      if (v->kind != HEPA_PICKLE_OBJECT)
        return NULL;
      if (hepa_pickle_is_global (v, "torch._utils._rebuild_tensor_v2"))
        return v;
      if (!hepa_pickle_is_global (v, "torch._utils._rebuild_parameter")
          && !hepa_pickle_is_global (v, "torch._utils._rebuild_parameter_with_state"))
        return NULL;
      if (v->args->items->len < 1)
        return NULL;
      v = g_ptr_array_index (v->args->items, 0);
    }
  return NULL;
}

/* Resolves the storage and checks every index the tensor can reach against it. */
static gboolean
resolve_tensor (Reader                *r,
                const char            *tensor,
                const HepaPickleValue *obj,
                TensorRef             *t,
                GError               **error)
{
  const GPtrArray *args = obj->args->items;
  const HepaPickleValue *persid, *pid, *offset, *type_v, *key, *numel;
  g_autofree char *entry = NULL;
  const guint8 *bytes;
  gsize n_bytes;
  int n_stride;
  gint64 last;

  memset (t, 0, sizeof *t);
  if (args->len < 4)
    return tensor_fail (r, tensor, error, _("_rebuild_tensor_v2 has too few arguments"));
  persid = g_ptr_array_index (args, 0);
  offset = g_ptr_array_index (args, 1);
  if (persid->kind != HEPA_PICKLE_PERSID || persid->args->kind != HEPA_PICKLE_TUPLE
      || persid->args->items->len < 5)
    return tensor_fail (r, tensor, error, _("its storage is not a persistent storage id"));
  pid = persid->args;
  type_v = g_ptr_array_index (pid->items, 1);
  key = g_ptr_array_index (pid->items, 2);
  numel = g_ptr_array_index (pid->items, 4);
  if (((const HepaPickleValue *) g_ptr_array_index (pid->items, 0))->kind != HEPA_PICKLE_STRING
      || strcmp (((const HepaPickleValue *) g_ptr_array_index (pid->items, 0))->str,
                 "storage") != 0
      || type_v->kind != HEPA_PICKLE_GLOBAL || key->kind != HEPA_PICKLE_STRING
      || numel->kind != HEPA_PICKLE_INT || numel->i < 0)
    return tensor_fail (r, tensor, error, _("its storage id is malformed"));

  for (gsize k = 0; k < G_N_ELEMENTS (storage_types); k++)
    if (strcmp (storage_types[k].storage, type_v->str) == 0)
      t->type = &storage_types[k];
  if (t->type == NULL)
    return tensor_fail (r, tensor, error, _("its storage type is not a tensor storage"));

  if (offset->kind != HEPA_PICKLE_INT || offset->i < 0)
    return tensor_fail (r, tensor, error, _("its storage offset is invalid"));
  t->offset = offset->i;
  if (!int_tuple (g_ptr_array_index (args, 2), t->shape, &t->ndim))
    return tensor_fail (r, tensor, error, _("its size is not a tuple of at most 8 integers"));
  if (!int_tuple (g_ptr_array_index (args, 3), t->stride, &n_stride) || n_stride != t->ndim)
    return tensor_fail (r, tensor, error, _("its strides do not match its size"));

  entry = g_strdup_printf ("%sdata/%s", r->prefix, key->str);
  if (!hepa_zip_get_entry (r->zip, entry, !g_hash_table_contains (r->verified, key->str),
                           &bytes, &n_bytes, error))
    return FALSE;
  g_hash_table_add (r->verified, g_strdup (key->str));
  if (numel->i > (gint64) (n_bytes / t->type->elem_size))
    return tensor_fail (r, tensor, error, _("its storage is larger than the archive entry"));
  t->storage = bytes;
  t->storage_numel = numel->i;

  /* Every index offset + sum (i_k * stride_k), 0 <= i_k < shape_k, must be inside the storage:
   * the largest is offset + sum ((shape_k - 1) * stride_k). */
  t->n_elements = 1;
  last = t->offset;
  for (int k = 0; k < t->ndim; k++)
    {
      if (t->shape[k] < 0)
        return tensor_fail (r, tensor, error, _("it has a negative size"));
      if (t->stride[k] < 0)
        return tensor_fail (r, tensor, error, _("it has a negative stride"));
      if (t->shape[k] != 0 && t->n_elements > G_MAXINT64 / t->shape[k])
        return tensor_fail (r, tensor, error, _("its element count overflows"));
      t->n_elements *= t->shape[k];
    }
  if (t->n_elements > 0)
    {
      for (int k = 0; k < t->ndim; k++)
        {
          if (t->shape[k] > 1 && t->stride[k] > (t->storage_numel - last) / (t->shape[k] - 1))
            return tensor_fail (r, tensor, error, _("its strides reach past its storage"));
          last += (t->shape[k] - 1) * t->stride[k];
        }
      if (last >= t->storage_numel)
        return tensor_fail (r, tensor, error, _("its offset and size reach past its storage"));
      if (t->n_elements > t->storage_numel && t->n_elements > MAX_OVERLAP_ELEMS)
        return tensor_fail (r, tensor, error, _("it repeats its storage too many times"));
    }
  return TRUE;
}

/* Copies the tensor's elements in row-major order into @out (n_elements floats). */
static void
gather (const TensorRef *t,
        float           *out)
{
  HepaDType kind = (HepaDType) t->type->kind;
  int es = t->type->elem_size;
  gint64 index[MAX_NDIM] = { 0 };
  gint64 expect = 1;
  gboolean contiguous = TRUE;
  gint64 pos = t->offset;

  for (int k = t->ndim - 1; k >= 0; k--)
    {
      if (t->shape[k] != 1 && t->stride[k] != expect)
        contiguous = FALSE;
      expect *= t->shape[k];
    }
  if (contiguous)
    {
      const guint8 *p = t->storage + (gsize) t->offset * es;

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
      if (kind == HEPA_DTYPE_F32)
        {
          memcpy (out, p, (gsize) t->n_elements * sizeof (float));
          return;
        }
#endif
      for (gint64 i = 0; i < t->n_elements; i++)
        out[i] = load_element (p + (gsize) i * es, kind);
      return;
    }

  for (gint64 i = 0; i < t->n_elements; i++)
    {
      out[i] = load_element (t->storage + (gsize) pos * es, kind);
      /* Advance the multi-index, innermost dimension first. */
      for (int k = t->ndim - 1; k >= 0; k--)
        {
          if (++index[k] < t->shape[k])
            {
              pos += t->stride[k];
              break;
            }
          pos -= (index[k] - 1) * t->stride[k];
          index[k] = 0;
        }
    }
}

static gboolean
dict_has_tensor (const HepaPickleValue *dict)
{
  for (guint i = 0; i + 1 < dict->items->len; i += 2)
    if (as_tensor (g_ptr_array_index (dict->items, i + 1)) != NULL)
      return TRUE;
  return FALSE;
}

/* A plain state dict, or one inside {"state_dict": ...} / {"model": ...} (nested a few times). */
static const HepaPickleValue *
find_state_dict (const HepaPickleValue *root)
{
  static const char *const wrappers[] = { "state_dict", "model_state_dict", "model", NULL };
  const HepaPickleValue *dict = root;

  for (int depth = 0; depth < MAX_WRAP_DEPTH; depth++)
    {
      const HepaPickleValue *inner = NULL;

      if (dict_has_tensor (dict))
        return dict;
      for (const char *const *w = wrappers; *w != NULL && inner == NULL; w++)
        {
          inner = hepa_pickle_dict_lookup (dict, *w);
          if (inner != NULL && inner->kind != HEPA_PICKLE_DICT)
            inner = NULL;
        }
      if (inner == NULL)
        return dict;
      dict = inner;
    }
  return dict;
}

static gboolean
find_prefix (Reader  *r,
             GError **error)
{
  guint n = hepa_zip_get_n_entries (r->zip);

  for (guint i = 0; i < n; i++)
    {
      const char *entry = hepa_zip_get_name (r->zip, i);
      const char *slash = strchr (entry, '/');

      if (strcmp (entry, "data.pkl") == 0)
        {
          r->prefix = g_strdup ("");
          return TRUE;
        }
      if (slash != NULL && strcmp (slash + 1, "data.pkl") == 0)
        {
          r->prefix = g_strndup (entry, slash - entry + 1);
          return TRUE;
        }
    }
  pth_fail (error, HEPA_ERROR_FORMAT, r->name,
            _("zip archive has no data.pkl: not a torch.save checkpoint"));
  return FALSE;
}

static gboolean
check_archive (Reader  *r,
               GError **error)
{
  g_autofree char *constants = g_strconcat (r->prefix, "constants.pkl", NULL);
  g_autofree char *byteorder = g_strconcat (r->prefix, "byteorder", NULL);
  const guint8 *bytes;
  gsize n_bytes;

  if (hepa_zip_has_entry (r->zip, constants))
    {
      pth_fail (error, HEPA_ERROR_UNSUPPORTED, r->name,
                _("this is a TorchScript archive (torch.jit.save); save the model's "
                  "state_dict () with torch.save instead"));
      return FALSE;
    }
  if (hepa_zip_has_entry (r->zip, byteorder))
    {
      if (!hepa_zip_get_entry (r->zip, byteorder, TRUE, &bytes, &n_bytes, error))
        return FALSE;
      if (n_bytes != 6 || memcmp (bytes, "little", 6) != 0)
        {
          pth_fail (error, HEPA_ERROR_UNSUPPORTED, r->name,
                    _("only little-endian checkpoints are supported"));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
ends_with_num_batches_tracked (const char *name)
{
  return g_str_has_suffix (name, "num_batches_tracked");
}

/* A contiguous float32 tensor that can be used in place, where it lies in the file. */
static const float *
in_place (const TensorRef *t)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  const guint8 *p = t->storage + (gsize) t->offset * t->type->elem_size;
  gint64 expect = 1;

  if (t->type->kind != HEPA_DTYPE_F32 || ((guintptr) p % G_ALIGNOF (float)) != 0
      || t->n_elements == 0)
    return NULL;
  for (int k = t->ndim - 1; k >= 0; k--)
    {
      if (t->shape[k] != 1 && t->stride[k] != expect)
        return NULL;
      expect *= t->shape[k];
    }
  return (const float *) p;
#else
  return NULL;
#endif
}

/* @mapped (nullable) holds @data; when given, float32 tensors point into it instead of being
 * copied, and the weights keep it alive. */
static HepaWeights *
load (const guint8 *data,
      gsize         size,
      const char   *name,
      GMappedFile  *mapped,
      GError      **error)
{
  gboolean uses_mapped = FALSE;
  g_autoptr(HepaZip) zip = NULL;
  g_autoptr(HepaPickle) pickle = NULL;
  g_autoptr(HepaWeights) weights = NULL;
  g_autoptr(GHashTable) verified = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) last = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *prefix = NULL;
  g_autofree char *pkl_name = NULL;
  const HepaPickleValue *root, *dict;
  const guint8 *pkl;
  gsize pkl_size;
  gboolean strip_module = TRUE;
  guint n_tensors = 0;
  /* Views may repeat elements (tied weights, expand), but not without bound: a few bytes of
   * pickle must not turn into gigabytes of floats. */
  gint64 budget = (gint64) MIN (size, (gsize) G_MAXINT64 / 2) + MAX_OVERLAP_ELEMS;
  Reader r = { 0 };

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  if (size >= 2 && data[0] == 0x80 && !(size >= 4 && memcmp (data, "PK\x03\x04", 4) == 0))
    {
      pth_fail (error, HEPA_ERROR_UNSUPPORTED, name,
                _("unsupported legacy format (torch.save before PyTorch 1.6, or with "
                  "_use_new_zipfile_serialization=False); load it in PyTorch and save it "
                  "again with a current torch.save"));
      return NULL;
    }
  if (size < 4 || memcmp (data, "PK\x03\x04", 4) != 0)
    {
      pth_fail (error, HEPA_ERROR_FORMAT, name,
                _("not a PyTorch checkpoint (no zip signature)"));
      return NULL;
    }

  zip = hepa_zip_open (data, size, name, error);
  if (zip == NULL)
    return NULL;
  r.name = name;
  r.zip = zip;
  r.verified = verified;
  if (!find_prefix (&r, error))
    return NULL;
  prefix = r.prefix;
  if (!check_archive (&r, error))
    return NULL;

  pkl_name = g_strconcat (prefix, "data.pkl", NULL);
  if (!hepa_zip_get_entry (zip, pkl_name, TRUE, &pkl, &pkl_size, error))
    return NULL;
  pickle = hepa_pickle_load (pkl, pkl_size, allowed_globals, callable_globals, name,
                             error);
  if (pickle == NULL)
    return NULL;

  root = hepa_pickle_get_root (pickle);
  if (root->kind != HEPA_PICKLE_DICT)
    {
      pth_fail (error, HEPA_ERROR_UNSUPPORTED, name,
                _("the checkpoint holds no dict of tensors (a state dict)"));
      return NULL;
    }
  dict = find_state_dict (root);

  /* Python's dict keeps the last value of a repeated key; DataParallel prefixes every name. */
  for (guint i = 0; i + 1 < dict->items->len; i += 2)
    {
      const HepaPickleValue *k = g_ptr_array_index (dict->items, i);

      if (k->kind != HEPA_PICKLE_STRING || as_tensor (g_ptr_array_index (dict->items, i + 1)) == NULL)
        continue;
      g_hash_table_insert (last, k->str, GUINT_TO_POINTER (i + 1));
      if (!g_str_has_prefix (k->str, "module."))
        strip_module = FALSE;
      n_tensors++;
    }
  if (n_tensors == 0)
    {
      pth_fail (error, HEPA_ERROR_FORMAT, name,
                _("the checkpoint holds no tensors"));
      return NULL;
    }

  weights = hepa_weights_new ();
  for (guint i = 0; i + 1 < dict->items->len; i += 2)
    {
      const HepaPickleValue *k = g_ptr_array_index (dict->items, i);
      const HepaPickleValue *obj = as_tensor (g_ptr_array_index (dict->items, i + 1));
      const char *tensor;
      float *buf;
      TensorRef t;

      if (k->kind != HEPA_PICKLE_STRING || obj == NULL
          || GPOINTER_TO_UINT (g_hash_table_lookup (last, k->str)) != i + 1)
        continue;
      tensor = strip_module ? k->str + strlen ("module.") : k->str;
      if (!resolve_tensor (&r, k->str, obj, &t, error))
        return NULL;
      if (t.type->kind < 0)
        {
          if (ends_with_num_batches_tracked (tensor))
            continue;
          pth_fail (error, HEPA_ERROR_UNSUPPORTED, name,
                    _("tensor “%s” has dtype %s; only float32, float16 and bfloat16 are "
                      "supported"), k->str, t.type->dtype);
          return NULL;
        }
      if (t.n_elements > budget)
        {
          pth_fail (error, HEPA_ERROR_TOO_LARGE, name,
                    _("tensor “%s”: the tensors repeat their storages far more than the "
                      "file's size allows"), k->str);
          return NULL;
        }
      budget -= t.n_elements;
      if (*tensor == '\0')
        {
          pth_fail (error, HEPA_ERROR_FORMAT, name, _("a tensor has an empty name"));
          return NULL;
        }
      if (mapped != NULL && in_place (&t) != NULL)
        {
          hepa_weights_take_data (weights, tensor, HEPA_DTYPE_F32, t.ndim, t.shape,
                                  in_place (&t), FALSE);
          uses_mapped = TRUE;
          continue;
        }
      buf = g_try_new (float, MAX (t.n_elements, 1));
      if (buf == NULL)
        {
          pth_fail (error, HEPA_ERROR_TOO_LARGE, name,
                    _("tensor “%s”: out of memory for %lld elements"), k->str,
                    (long long) t.n_elements);
          return NULL;
        }
      gather (&t, buf);
      hepa_weights_take_data (weights, tensor, (HepaDType) t.type->kind, t.ndim, t.shape, buf,
                              TRUE);
    }

  if (hepa_weights_get_n (weights) == 0)
    {
      pth_fail (error, HEPA_ERROR_FORMAT, name,
                _("the checkpoint holds no floating-point tensors"));
      return NULL;
    }
  if (uses_mapped)
    hepa_weights_keep_alive (weights, g_mapped_file_ref (mapped),
                             (GDestroyNotify) g_mapped_file_unref);
  return g_steal_pointer (&weights);
}

HepaWeights *
hepa_pth_load_from_data (const guint8 *data,
                         gsize         size,
                         const char   *name,
                         GError      **error)
{
  return load (data, size, name, NULL, error);
}

HepaWeights *
hepa_pth_load (const char  *path,
                       GError     **error)
{
  g_autoptr(GMappedFile) file = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  file = hepa_map_file (path, error);
  if (file == NULL)
    return NULL;
  return hepa_pth_load_mapped (file, error);
}

HepaWeights *
hepa_pth_load_mapped (GMappedFile  *mapped,
                              GError      **error)
{
  /* As for safetensors, the caller names the file. */
  return load ((const guint8 *) g_mapped_file_get_contents (mapped),
               g_mapped_file_get_length (mapped), NULL, mapped, error);
}
