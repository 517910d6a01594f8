/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-read-first.h"

#include "hepa-error.h"

#include <glib/gi18n.h>

#define MAX_CLASSES 9

struct _HepaReadFirst
{
  char               *rater;
  GStrv               classes;
  guint               n_classes;

  HepaReadFirstState  state;
  char               *roi_id;
  char               *expert_label;
  gint64              began_us;
  gint64              committed_us;
  int                 committed;

  char               *model_id;      /* NULL: no answer handed over yet */
  float              *probabilities;
  guint               n_probabilities;
  guint              *prediction_set;  /* NULL: the card has none */
  guint               n_set;
};

HepaReadFirst *
hepa_read_first_new (const char        *rater,
                     const char *const *classes)
{
  HepaReadFirst *self;
  guint n;

  g_return_val_if_fail (classes != NULL, NULL);
  n = g_strv_length ((char **) classes);
  g_return_val_if_fail (n >= 1 && n <= MAX_CLASSES, NULL);

  self = g_new0 (HepaReadFirst, 1);
  self->rater = g_strdup (rater != NULL ? rater : "");
  self->classes = g_strdupv ((char **) classes);
  self->n_classes = n;
  self->state = HEPA_READ_FIRST_WAITING;
  self->committed = -1;
  return self;
}

static void
clear_answer (HepaReadFirst *self)
{
  g_clear_pointer (&self->model_id, g_free);
  g_clear_pointer (&self->probabilities, g_free);
  g_clear_pointer (&self->prediction_set, g_free);
  self->n_probabilities = 0;
  self->n_set = 0;
}

void
hepa_read_first_free (HepaReadFirst *self)
{
  if (self == NULL)
    return;
  clear_answer (self);
  g_free (self->rater);
  g_strfreev (self->classes);
  g_free (self->roi_id);
  g_free (self->expert_label);
  g_free (self);
}

HepaReadFirstState
hepa_read_first_get_state (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, HEPA_READ_FIRST_WAITING);
  return self->state;
}

const char *
hepa_read_first_get_rater (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->rater;
}

void
hepa_read_first_set_rater (HepaReadFirst *self,
                           const char    *rater)
{
  g_return_if_fail (self != NULL);
  g_free (self->rater);
  self->rater = g_strdup (rater != NULL ? rater : "");
}

guint
hepa_read_first_get_n_classes (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_classes;
}

const char *
hepa_read_first_get_class (HepaReadFirst *self,
                           guint          index)
{
  g_return_val_if_fail (self != NULL, NULL);
  return index < self->n_classes ? self->classes[index] : NULL;
}

void
hepa_read_first_begin (HepaReadFirst *self,
                       const char    *roi_id,
                       const char    *expert_label,
                       gint64         now_us)
{
  g_return_if_fail (self != NULL);

  clear_answer (self);
  g_free (self->roi_id);
  self->roi_id = g_strdup (roi_id);
  g_free (self->expert_label);
  self->expert_label = expert_label != NULL && *expert_label != '\0'
                       ? g_strdup (expert_label) : NULL;
  self->began_us = now_us;
  self->committed_us = 0;
  self->committed = -1;
  self->state = roi_id != NULL ? HEPA_READ_FIRST_READING : HEPA_READ_FIRST_WAITING;
}

void
hepa_read_first_set_model_answer (HepaReadFirst *self,
                                  const char    *model_id,
                                  const float   *probabilities,
                                  guint          n_probabilities,
                                  const guint   *prediction_set,
                                  guint          n_set)
{
  g_return_if_fail (self != NULL);

  clear_answer (self);
  if (probabilities == NULL || n_probabilities == 0)
    return;
  self->model_id = g_strdup (model_id != NULL ? model_id : "");
  self->probabilities = g_memdup2 (probabilities, n_probabilities * sizeof (float));
  self->n_probabilities = n_probabilities;
  if (prediction_set != NULL)
    {
      /* Keep only indices that name a class: the set may come from a card with other classes. */
      self->prediction_set = g_new0 (guint, MAX (n_set, 1));
      for (guint i = 0; i < n_set; i++)
        if (prediction_set[i] < n_probabilities)
          self->prediction_set[self->n_set++] = prediction_set[i];
    }
}

int
hepa_read_first_class_for_key (HepaReadFirst *self,
                               guint          unicode_char)
{
  g_return_val_if_fail (self != NULL, -1);
  if (unicode_char < '1' || unicode_char > '9')
    return -1;
  if (unicode_char - '1' >= self->n_classes)
    return -1;
  return (int) (unicode_char - '1');
}

gboolean
hepa_read_first_commit (HepaReadFirst *self,
                        guint          class_index,
                        gint64         now_us,
                        GError       **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->state == HEPA_READ_FIRST_WAITING)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("No region is selected to read"));
      return FALSE;
    }
  if (self->state == HEPA_READ_FIRST_REVEALED)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("This region’s read is already committed"));
      return FALSE;
    }
  if (class_index >= self->n_classes)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("There is no class %u (classes 1 to %u)"), class_index + 1,
                   self->n_classes);
      return FALSE;
    }
  self->committed = (int) class_index;
  self->committed_us = MAX (now_us, self->began_us);
  self->state = HEPA_READ_FIRST_REVEALED;
  return TRUE;
}

gboolean
hepa_read_first_is_revealed (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->state == HEPA_READ_FIRST_REVEALED;
}

const float *
hepa_read_first_get_probabilities (HepaReadFirst *self,
                                   guint         *n)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (!hepa_read_first_is_revealed (self) || self->probabilities == NULL)
    {
      if (n != NULL)
        *n = 0;
      return NULL;
    }
  if (n != NULL)
    *n = self->n_probabilities;
  return self->probabilities;
}

const guint *
hepa_read_first_get_prediction_set (HepaReadFirst *self,
                                    guint         *n)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (!hepa_read_first_is_revealed (self) || self->prediction_set == NULL)
    {
      if (n != NULL)
        *n = 0;
      return NULL;
    }
  if (n != NULL)
    *n = self->n_set;
  return self->prediction_set;
}

const char *
hepa_read_first_get_model_id (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return hepa_read_first_is_revealed (self) ? self->model_id : NULL;
}

int
hepa_read_first_get_model_top (HepaReadFirst *self)
{
  int best = -1;

  g_return_val_if_fail (self != NULL, -1);
  if (!hepa_read_first_is_revealed (self))
    return -1;
  for (guint i = 0; i < self->n_probabilities; i++)
    if (best < 0 || self->probabilities[i] > self->probabilities[best])
      best = (int) i;
  return best;
}

const char *
hepa_read_first_get_expert_label (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return hepa_read_first_is_revealed (self) ? self->expert_label : NULL;
}

gboolean
hepa_read_first_may_show_saliency (HepaReadFirst *self)
{
  return hepa_read_first_is_revealed (self);
}

int
hepa_read_first_get_committed (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->committed;
}

gint64
hepa_read_first_get_time_to_decide_ms (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, 0);
  if (self->committed < 0)
    return 0;
  return (self->committed_us - self->began_us + 500) / 1000;
}

const char *
hepa_read_first_get_roi_id (HepaReadFirst *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->roi_id;
}

HepaRoiRead *
hepa_read_first_make_read (HepaReadFirst *self,
                           gint64         unix_seconds,
                           const char    *mode)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (self->committed < 0)
    return NULL;
  return hepa_roi_read_new (self->rater, self->classes[self->committed], unix_seconds,
                            hepa_read_first_get_time_to_decide_ms (self), mode);
}
