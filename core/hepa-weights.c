/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HepaWeights: the container shared by the safetensors and .pth readers. */
#include "config.h"

#include "hepa-weights.h"
#include "hepa-weights-private.h"
#include "hepa-error.h"

#include <stdlib.h>
#include <string.h>

struct _HepaWeights
{
  GPtrArray   *entries;   /* (element-type HepaTensorEntry) in insertion order */
  GHashTable  *by_name;   /* name -> HepaTensorEntry, borrowed from entries */
  GHashTable  *metadata;  /* char * -> char * */
  GPtrArray   *keepalive; /* things the tensors point into (GMappedFile, GBytes...) */
};

typedef struct
{
  gpointer       data;
  GDestroyNotify destroy;
} KeepAlive;

static void
keep_alive_free (KeepAlive *keep)
{
  keep->destroy (keep->data);
  g_free (keep);
}

static void
entry_free (HepaTensorEntry *entry)
{
  /* The data belongs to the keepalive list. */
  g_free (entry->name);
  g_free (entry);
}

HepaWeights *
hepa_weights_new (void)
{
  HepaWeights *self = g_new0 (HepaWeights, 1);

  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->keepalive = g_ptr_array_new_with_free_func ((GDestroyNotify) keep_alive_free);
  return self;
}

void
hepa_weights_free (HepaWeights *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->entries, g_ptr_array_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
  /* Free what the tensors pointed into only after the entries are gone. */
  g_clear_pointer (&self->keepalive, g_ptr_array_unref);
  g_free (self);
}

void
hepa_weights_keep_alive (HepaWeights    *self,
                         gpointer        data,
                         GDestroyNotify  destroy)
{
  KeepAlive *keep;

  g_return_if_fail (self != NULL);
  g_return_if_fail (destroy != NULL);

  keep = g_new (KeepAlive, 1);
  keep->data = data;
  keep->destroy = destroy;
  g_ptr_array_add (self->keepalive, keep);
}

const HepaTensorEntry *
hepa_weights_take_data (HepaWeights  *self,
                        const char   *name,
                        HepaDType     stored_dtype,
                        int           ndim,
                        const gint64 *shape,
                        const float  *data,
                        gboolean      owned)
{
  HepaTensorEntry *entry;
  gint64 n = 1;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (ndim >= 0 && ndim <= 8, NULL);

  for (int i = 0; i < ndim; i++)
    n *= shape[i];

  entry = g_new0 (HepaTensorEntry, 1);
  entry->name = g_strdup (name);
  entry->stored_dtype = stored_dtype;
  entry->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    entry->shape[i] = shape[i];
  entry->n_elements = n;
  entry->data = data;
  if (owned)
    hepa_weights_keep_alive (self, (gpointer) data, g_free);

  /* A later tensor of the same name replaces the earlier one in lookups. */
  g_hash_table_insert (self->by_name, entry->name, entry);
  g_ptr_array_add (self->entries, entry);
  return entry;
}

void
hepa_weights_add (HepaWeights  *self,
                  const char   *name,
                  int           ndim,
                  const gint64 *shape,
                  const float  *data)
{
  gint64 n = 1;
  float *copy;

  g_return_if_fail (self != NULL);
  g_return_if_fail (name != NULL);
  g_return_if_fail (ndim >= 0 && ndim <= 8);

  for (int i = 0; i < ndim; i++)
    {
      g_return_if_fail (shape[i] >= 0);
      n *= shape[i];
    }
  copy = g_new (float, MAX (n, 1));
  if (n > 0)
    memcpy (copy, data, (gsize) n * sizeof (float));
  hepa_weights_take_data (self, name, HEPA_DTYPE_F32, ndim, shape, copy, TRUE);
}

const HepaTensorEntry *
hepa_weights_lookup (HepaWeights *self,
                     const char  *name)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return g_hash_table_lookup (self->by_name, name);
}

guint
hepa_weights_get_n (HepaWeights *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->entries->len;
}

const HepaTensorEntry *
hepa_weights_get_nth (HepaWeights *self,
                      guint        index)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (index < self->entries->len, NULL);

  return g_ptr_array_index (self->entries, index);
}

const char *
hepa_weights_get_metadata (HepaWeights *self,
                           const char  *key)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_hash_table_lookup (self->metadata, key);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

char **
hepa_weights_dup_metadata_keys (HepaWeights *self)
{
  guint n = 0;
  char **keys;

  g_return_val_if_fail (self != NULL, NULL);

  keys = (char **) g_hash_table_get_keys_as_array (self->metadata, &n);
  for (guint i = 0; i < n; i++)
    keys[i] = g_strdup (keys[i]);
  qsort (keys, n, sizeof *keys, compare_strings);
  return keys;
}

void
hepa_weights_set_metadata (HepaWeights *self,
                           const char  *key,
                           const char  *value)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (key != NULL);

  if (value == NULL)
    g_hash_table_remove (self->metadata, key);
  else
    g_hash_table_insert (self->metadata, g_strdup (key), g_strdup (value));
}

char *
hepa_weights_printable_name (const char *name)
{
  GString *out = g_string_new (NULL);
  const char *p;

  /* Names come from files: keep error messages on one line and of sane length. */
  for (p = name; *p != '\0' && out->len < 200; p++)
    g_string_append_c (out, (guchar) *p < 0x20 || *p == 0x7f ? '?' : *p);
  if (*p != '\0')
    g_string_append (out, "…");
  if (!g_utf8_validate (out->str, -1, NULL))
    {
      char *valid = g_utf8_make_valid (out->str, -1);

      g_string_free (out, TRUE);
      return valid;
    }
  return g_string_free (out, FALSE);
}
