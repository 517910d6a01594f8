/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Consensus and inter-rater agreement. */
#include "config.h"

#include "hepa-raters.h"

#include <math.h>
#include <string.h>

HepaConsensus
hepa_roi_get_consensus (const HepaRoi  *roi,
                        const char    **label)
{
  g_autoptr(GPtrArray) ratings = NULL;
  const char *first = NULL;

  g_return_val_if_fail (roi != NULL, HEPA_CONSENSUS_UNLABELED);

  if (label != NULL)
    *label = NULL;
  if (roi->adjudicated != NULL)
    {
      if (label != NULL)
        *label = roi->adjudicated;
      return HEPA_CONSENSUS_ADJUDICATED;
    }
  ratings = hepa_roi_dup_ratings (roi);
  if (ratings->len == 0)
    return HEPA_CONSENSUS_UNLABELED;
  for (guint i = 0; i < ratings->len; i++)
    {
      const HepaRating *r = g_ptr_array_index (ratings, i);

      if (first == NULL)
        first = r->label;
      else if (strcmp (first, r->label) != 0)
        return HEPA_CONSENSUS_DISAGREED;
    }
  /* Point into @roi, not into the copies about to be freed. */
  if (label != NULL)
    {
      if (roi->label != NULL)
        *label = roi->label;
      else
        for (guint i = 0; roi->ratings != NULL && i < roi->ratings->len; i++)
          {
            const HepaRating *r = g_ptr_array_index (roi->ratings, i);

            if (r->label != NULL && g_strcmp0 (r->rater, roi->rater) != 0)
              {
                *label = r->label;
                break;
              }
          }
    }
  return HEPA_CONSENSUS_AGREED;
}

/* ---- Rater tables -------------------------------------------------------------------------- */

typedef struct
{
  char       *key;
  GHashTable *labels;   /* rater -> label */
} Item;

struct _HepaRaterTable
{
  GPtrArray  *items;    /* (element-type Item) in the order added */
  GHashTable *by_key;   /* key -> Item */
  GPtrArray  *raters;   /* sorted, unique */
  GPtrArray  *labels;   /* sorted, unique */
  guint       serial;
};

static void
item_free (Item *item)
{
  g_free (item->key);
  g_hash_table_unref (item->labels);
  g_free (item);
}

HepaRaterTable *
hepa_rater_table_new (void)
{
  HepaRaterTable *self = g_new0 (HepaRaterTable, 1);

  self->items = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  self->by_key = g_hash_table_new (g_str_hash, g_str_equal);
  self->raters = g_ptr_array_new_with_free_func (g_free);
  self->labels = g_ptr_array_new_with_free_func (g_free);
  return self;
}

void
hepa_rater_table_free (HepaRaterTable *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->by_key);
  g_ptr_array_unref (self->items);
  g_ptr_array_unref (self->raters);
  g_ptr_array_unref (self->labels);
  g_free (self);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
add_unique_sorted (GPtrArray  *array,
                   const char *value)
{
  for (guint i = 0; i < array->len; i++)
    if (strcmp (g_ptr_array_index (array, i), value) == 0)
      return;
  g_ptr_array_add (array, g_strdup (value));
  g_ptr_array_sort (array, compare_strings);
}

static int
index_of (GPtrArray  *array,
          const char *value)
{
  for (guint i = 0; i < array->len; i++)
    if (strcmp (g_ptr_array_index (array, i), value) == 0)
      return (int) i;
  return -1;
}

void
hepa_rater_table_add (HepaRaterTable *self,
                      const char     *item,
                      const char     *rater,
                      const char     *label)
{
  Item *it;

  g_return_if_fail (self != NULL && item != NULL && label != NULL);

  if (rater == NULL)
    rater = "";
  it = g_hash_table_lookup (self->by_key, item);
  if (it == NULL)
    {
      it = g_new0 (Item, 1);
      it->key = g_strdup (item);
      it->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_ptr_array_add (self->items, it);
      g_hash_table_insert (self->by_key, it->key, it);
    }
  g_hash_table_insert (it->labels, g_strdup (rater), g_strdup (label));
  add_unique_sorted (self->raters, rater);
  add_unique_sorted (self->labels, label);
}

void
hepa_rater_table_add_roi (HepaRaterTable *self,
                          const HepaRoi  *roi)
{
  g_autoptr(GPtrArray) ratings = NULL;
  g_autofree char *key = NULL;

  g_return_if_fail (self != NULL && roi != NULL);

  ratings = hepa_roi_dup_ratings (roi);
  if (ratings->len == 0)
    return;
  key = g_strdup_printf ("#%u", ++self->serial);
  for (guint i = 0; i < ratings->len; i++)
    {
      const HepaRating *r = g_ptr_array_index (ratings, i);

      hepa_rater_table_add (self, key, r->rater, r->label);
    }
}

GPtrArray *
hepa_rater_table_get_raters (const HepaRaterTable *self)
{
  return self->raters;
}

GPtrArray *
hepa_rater_table_get_labels (const HepaRaterTable *self)
{
  return self->labels;
}

guint
hepa_rater_table_get_n_items (const HepaRaterTable *self)
{
  return self->items->len;
}

guint
hepa_rater_table_count_rater (const HepaRaterTable *self,
                              const char           *rater)
{
  guint n = 0;

  for (guint i = 0; i < self->items->len; i++)
    if (g_hash_table_contains (((Item *) g_ptr_array_index (self->items, i))->labels, rater))
      n++;
  return n;
}

guint
hepa_rater_table_count_pair (const HepaRaterTable *self,
                             const char           *a,
                             const char           *b,
                             guint                *n_agree)
{
  guint n = 0, agree = 0;

  for (guint i = 0; i < self->items->len; i++)
    {
      Item *it = g_ptr_array_index (self->items, i);
      const char *la = g_hash_table_lookup (it->labels, a);
      const char *lb = g_hash_table_lookup (it->labels, b);

      if (la == NULL || lb == NULL)
        continue;
      n++;
      if (strcmp (la, lb) == 0)
        agree++;
    }
  if (n_agree != NULL)
    *n_agree = agree;
  return n;
}

guint *
hepa_rater_table_confusion (const HepaRaterTable *self,
                            const char           *a,
                            const char           *b)
{
  guint k = self->labels->len;
  guint *table = g_new0 (guint, MAX (k * k, 1));

  for (guint i = 0; i < self->items->len; i++)
    {
      Item *it = g_ptr_array_index (self->items, i);
      const char *la = g_hash_table_lookup (it->labels, a);
      const char *lb = g_hash_table_lookup (it->labels, b);

      if (la == NULL || lb == NULL)
        continue;
      table[index_of (self->labels, la) * k + index_of (self->labels, lb)]++;
    }
  return table;
}

double
hepa_rater_table_cohen_kappa (const HepaRaterTable *self,
                              const char           *a,
                              const char           *b,
                              guint                *n_items)
{
  guint k = self->labels->len;
  g_autofree guint *table = NULL;
  double n = 0, agree = 0, pe = 0;

  g_return_val_if_fail (self != NULL && a != NULL && b != NULL, NAN);

  table = hepa_rater_table_confusion (self, a, b);
  for (guint i = 0; i < k * k; i++)
    n += table[i];
  if (n_items != NULL)
    *n_items = (guint) n;
  if (n == 0)
    return NAN;
  for (guint i = 0; i < k; i++)
    {
      double row = 0, col = 0;

      agree += table[i * k + i];
      for (guint j = 0; j < k; j++)
        {
          row += table[i * k + j];
          col += table[j * k + i];
        }
      pe += (row / n) * (col / n);
    }
  if (pe >= 1.0 - 1e-12)
    return NAN;
  return (agree / n - pe) / (1.0 - pe);
}

double
hepa_rater_table_fleiss_kappa (const HepaRaterTable *self,
                               guint                *n_items)
{
  guint m = self->raters->len;
  guint k = self->labels->len;
  g_autofree double *p = g_new0 (double, MAX (k, 1));
  g_autofree guint *counts = g_new0 (guint, MAX (k, 1));
  double sum_p = 0, pe = 0, pbar;
  guint n = 0;

  if (n_items != NULL)
    *n_items = 0;
  if (m < 2)
    return NAN;
  for (guint i = 0; i < self->items->len; i++)
    {
      Item *it = g_ptr_array_index (self->items, i);
      GHashTableIter iter;
      gpointer value;
      double s = 0;

      if (g_hash_table_size (it->labels) != m)
        continue;
      memset (counts, 0, k * sizeof (guint));
      g_hash_table_iter_init (&iter, it->labels);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        counts[index_of (self->labels, value)]++;
      for (guint j = 0; j < k; j++)
        {
          s += (double) counts[j] * counts[j];
          p[j] += counts[j];
        }
      sum_p += (s - m) / ((double) m * (m - 1));
      n++;
    }
  if (n_items != NULL)
    *n_items = n;
  if (n == 0)
    return NAN;
  pbar = sum_p / n;
  for (guint j = 0; j < k; j++)
    {
      double pj = p[j] / ((double) n * m);

      pe += pj * pj;
    }
  if (pe >= 1.0 - 1e-12)
    return NAN;
  return (pbar - pe) / (1.0 - pe);
}

double
hepa_rater_table_class_agreement (const HepaRaterTable *self,
                                  const char           *label)
{
  double num = 0, den = 0;

  g_return_val_if_fail (self != NULL && label != NULL, NAN);

  for (guint i = 0; i < self->items->len; i++)
    {
      Item *it = g_ptr_array_index (self->items, i);
      guint ni = g_hash_table_size (it->labels);
      GHashTableIter iter;
      gpointer value;
      guint nil = 0;

      if (ni < 2)
        continue;
      g_hash_table_iter_init (&iter, it->labels);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (strcmp (value, label) == 0)
          nil++;
      num += (double) nil * (nil > 0 ? nil - 1 : 0);
      den += (double) nil * (ni - 1);
    }
  return den > 0 ? num / den : NAN;
}
