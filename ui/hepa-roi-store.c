/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-roi-store.h"

#include <string.h>

#define MAX_HISTORY 200

struct _HepaRoiStore
{
  GObject    parent_instance;

  GPtrArray *rois;        /* (element-type HepaRoi) */
  GPtrArray *undo;        /* (element-type GPtrArray of HepaRoi): states before each edit */
  GPtrArray *redo;
  GPtrArray *edit_base;   /* the state at begin_edit, or NULL outside a drag */
  char      *selected;
  char      *rater;
  int        width;
  int        height;
};

G_DEFINE_FINAL_TYPE (HepaRoiStore, hepa_roi_store, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  SIGNAL_SELECTION_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static GPtrArray *
snapshot_copy (GPtrArray *rois)
{
  GPtrArray *copy = g_ptr_array_new_full (rois->len, (GDestroyNotify) hepa_roi_free);

  for (guint i = 0; i < rois->len; i++)
    g_ptr_array_add (copy, hepa_roi_copy (g_ptr_array_index (rois, i)));
  return copy;
}

static gboolean
rois_equal (GPtrArray *a,
            GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    {
      const HepaRoi *ra = g_ptr_array_index (a, i);
      const HepaRoi *rb = g_ptr_array_index (b, i);

      if (g_strcmp0 (ra->id, rb->id) != 0 || ra->frame != rb->frame
          || memcmp (&ra->rect, &rb->rect, sizeof (HepaRect)) != 0
          || g_strcmp0 (ra->label, rb->label) != 0)
        return FALSE;
    }
  return TRUE;
}

static HepaRoi *
find_roi (HepaRoiStore *self,
          const char   *id,
          guint        *index)
{
  if (id == NULL)
    return NULL;
  for (guint i = 0; i < self->rois->len; i++)
    {
      HepaRoi *roi = g_ptr_array_index (self->rois, i);

      if (g_strcmp0 (roi->id, id) == 0)
        {
          if (index)
            *index = i;
          return roi;
        }
    }
  return NULL;
}

static void
emit_changed (HepaRoiStore  *self,
              HepaRoiChange  change)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) change);
}

static void
set_selected (HepaRoiStore *self,
              const char   *id)
{
  if (g_strcmp0 (self->selected, id) == 0)
    return;
  g_free (self->selected);
  self->selected = g_strdup (id);
  g_signal_emit (self, signals[SIGNAL_SELECTION_CHANGED], 0);
}

/* Called before a discrete edit mutates the state; a drag already holds its base. */
static void
edit_open (HepaRoiStore *self,
           gboolean     *opened)
{
  *opened = self->edit_base == NULL;
  if (*opened)
    self->edit_base = snapshot_copy (self->rois);
}

static void
edit_close (HepaRoiStore *self,
            gboolean      opened)
{
  if (opened)
    hepa_roi_store_end_edit (self);
  else
    emit_changed (self, HEPA_ROI_CHANGE_LIVE);
}

static void
hepa_roi_store_finalize (GObject *object)
{
  HepaRoiStore *self = HEPA_ROI_STORE (object);

  g_clear_pointer (&self->rois, g_ptr_array_unref);
  g_clear_pointer (&self->undo, g_ptr_array_unref);
  g_clear_pointer (&self->redo, g_ptr_array_unref);
  g_clear_pointer (&self->edit_base, g_ptr_array_unref);
  g_clear_pointer (&self->selected, g_free);
  g_clear_pointer (&self->rater, g_free);

  G_OBJECT_CLASS (hepa_roi_store_parent_class)->finalize (object);
}

static void
hepa_roi_store_class_init (HepaRoiStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = hepa_roi_store_finalize;

  /**
   * HepaRoiStore::changed:
   * @change: a #HepaRoiChange
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIGNAL_SELECTION_CHANGED] =
    g_signal_new ("selection-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
hepa_roi_store_init (HepaRoiStore *self)
{
  self->rois = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_roi_free);
  self->undo = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  self->redo = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  self->width = G_MAXINT / 2;
  self->height = G_MAXINT / 2;
}

HepaRoiStore *
hepa_roi_store_new (void)
{
  return g_object_new (HEPA_TYPE_ROI_STORE, NULL);
}

void
hepa_roi_store_set_bounds (HepaRoiStore *self,
                           int           width,
                           int           height)
{
  g_return_if_fail (HEPA_IS_ROI_STORE (self));
  g_return_if_fail (width > 0 && height > 0);

  self->width = width;
  self->height = height;
}

void
hepa_roi_store_set_rater (HepaRoiStore *self,
                          const char   *rater)
{
  g_return_if_fail (HEPA_IS_ROI_STORE (self));

  g_free (self->rater);
  self->rater = g_strdup (rater);
}

gboolean
hepa_roi_store_fit_rect (HepaRoiStore *self,
                         HepaRect     *rect)
{
  int min_w, min_h;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);
  g_return_val_if_fail (rect != NULL, FALSE);

  /* Normalize a rectangle dragged up or left. */
  if (rect->width < 0)
    {
      rect->x += rect->width;
      rect->width = -rect->width;
    }
  if (rect->height < 0)
    {
      rect->y += rect->height;
      rect->height = -rect->height;
    }
  hepa_rect_clamp (rect, self->width, self->height);
  if (rect->x >= self->width || rect->y >= self->height)
    return FALSE;

  min_w = MIN (HEPA_ROI_MIN_SIZE, self->width);
  min_h = MIN (HEPA_ROI_MIN_SIZE, self->height);
  if (rect->width < min_w)
    {
      rect->width = min_w;
      rect->x = MIN (rect->x, self->width - min_w);
    }
  if (rect->height < min_h)
    {
      rect->height = min_h;
      rect->y = MIN (rect->y, self->height - min_h);
    }
  return TRUE;
}

void
hepa_roi_store_load (HepaRoiStore *self,
                     GPtrArray    *rois)
{
  g_return_if_fail (HEPA_IS_ROI_STORE (self));

  g_ptr_array_set_size (self->rois, 0);
  if (rois != NULL)
    for (guint i = 0; i < rois->len; i++)
      g_ptr_array_add (self->rois, hepa_roi_copy (g_ptr_array_index (rois, i)));
  g_ptr_array_set_size (self->undo, 0);
  g_ptr_array_set_size (self->redo, 0);
  g_clear_pointer (&self->edit_base, g_ptr_array_unref);
  set_selected (self, NULL);
  emit_changed (self, HEPA_ROI_CHANGE_LOADED);
}

void
hepa_roi_store_clear (HepaRoiStore *self)
{
  hepa_roi_store_load (self, NULL);
}

GPtrArray *
hepa_roi_store_get_rois (HepaRoiStore *self)
{
  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), NULL);
  return self->rois;
}

const HepaRoi *
hepa_roi_store_lookup (HepaRoiStore *self,
                       const char   *id)
{
  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), NULL);
  return find_roi (self, id, NULL);
}

guint
hepa_roi_store_count_labeled (HepaRoiStore *self)
{
  guint n = 0;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), 0);
  for (guint i = 0; i < self->rois->len; i++)
    if (((HepaRoi *) g_ptr_array_index (self->rois, i))->label != NULL)
      n++;
  return n;
}

const char *
hepa_roi_store_add (HepaRoiStore   *self,
                    guint           frame,
                    const HepaRect *rect)
{
  HepaRect r;
  HepaRoi *roi;
  gboolean opened;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), NULL);
  g_return_val_if_fail (rect != NULL, NULL);

  r = *rect;
  if (!hepa_roi_store_fit_rect (self, &r))
    return NULL;

  edit_open (self, &opened);
  roi = hepa_roi_new (frame, &r, NULL, self->rater);
  g_ptr_array_add (self->rois, roi);
  set_selected (self, roi->id);
  edit_close (self, opened);
  return roi->id;
}

gboolean
hepa_roi_store_remove (HepaRoiStore *self,
                       const char   *id)
{
  guint index;
  gboolean opened;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);

  if (find_roi (self, id, &index) == NULL)
    return FALSE;
  edit_open (self, &opened);
  if (g_strcmp0 (self->selected, id) == 0)
    set_selected (self, NULL);
  g_ptr_array_remove_index (self->rois, index);
  edit_close (self, opened);
  return TRUE;
}

gboolean
hepa_roi_store_set_rect (HepaRoiStore   *self,
                         const char     *id,
                         const HepaRect *rect)
{
  HepaRoi *roi;
  HepaRect r;
  gboolean opened;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);
  g_return_val_if_fail (rect != NULL, FALSE);

  roi = find_roi (self, id, NULL);
  if (roi == NULL)
    return FALSE;
  r = *rect;
  if (!hepa_roi_store_fit_rect (self, &r))
    return FALSE;
  if (memcmp (&r, &roi->rect, sizeof r) == 0)
    return TRUE;

  edit_open (self, &opened);
  roi->rect = r;
  roi->modified = g_get_real_time () / G_USEC_PER_SEC;
  edit_close (self, opened);
  return TRUE;
}

gboolean
hepa_roi_store_set_label (HepaRoiStore      *self,
                          const char        *id,
                          const char        *label,
                          const char        *model_id,
                          const char *const *classes,
                          const float       *probabilities)
{
  HepaRoi *roi;
  gboolean opened;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);

  roi = find_roi (self, id, NULL);
  if (roi == NULL)
    return FALSE;

  edit_open (self, &opened);
  g_free (roi->label);
  roi->label = g_strdup (label);
  if (self->rater != NULL && g_strcmp0 (roi->rater, self->rater) != 0)
    {
      g_free (roi->rater);
      roi->rater = g_strdup (self->rater);
    }
  if (model_id != NULL && classes != NULL && probabilities != NULL)
    hepa_roi_set_prediction (roi, model_id, classes, probabilities);
  roi->modified = g_get_real_time () / G_USEC_PER_SEC;
  edit_close (self, opened);
  return TRUE;
}

gboolean
hepa_roi_store_set_prediction (HepaRoiStore      *self,
                               const char        *id,
                               const char        *model_id,
                               const char *const *classes,
                               const float       *probabilities)
{
  HepaRoi *roi;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);
  g_return_val_if_fail (model_id != NULL && classes != NULL && probabilities != NULL, FALSE);

  roi = find_roi (self, id, NULL);
  if (roi == NULL)
    return FALSE;
  hepa_roi_set_prediction (roi, model_id, classes, probabilities);
  emit_changed (self, HEPA_ROI_CHANGE_PREDICTION);
  return TRUE;
}

gboolean
hepa_roi_store_add_read (HepaRoiStore      *self,
                         const char        *id,
                         const HepaRoiRead *read)
{
  HepaRoi *roi;

  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);
  g_return_val_if_fail (read != NULL, FALSE);

  roi = find_roi (self, id, NULL);
  if (roi == NULL)
    return FALSE;
  hepa_roi_add_read (roi, read);
  emit_changed (self, HEPA_ROI_CHANGE_PREDICTION);
  return TRUE;
}

void
hepa_roi_store_begin_edit (HepaRoiStore *self)
{
  g_return_if_fail (HEPA_IS_ROI_STORE (self));
  g_return_if_fail (self->edit_base == NULL);

  self->edit_base = snapshot_copy (self->rois);
}

gboolean
hepa_roi_store_in_edit (HepaRoiStore *self)
{
  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);
  return self->edit_base != NULL;
}

void
hepa_roi_store_end_edit (HepaRoiStore *self)
{
  GPtrArray *base;

  g_return_if_fail (HEPA_IS_ROI_STORE (self));
  g_return_if_fail (self->edit_base != NULL);

  base = g_steal_pointer (&self->edit_base);
  if (rois_equal (base, self->rois))
    {
      g_ptr_array_unref (base);
      return;
    }
  g_ptr_array_add (self->undo, base);
  if (self->undo->len > MAX_HISTORY)
    g_ptr_array_remove_index (self->undo, 0);
  g_ptr_array_set_size (self->redo, 0);
  emit_changed (self, HEPA_ROI_CHANGE_EDIT);
}

gboolean
hepa_roi_store_can_undo (HepaRoiStore *self)
{
  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);
  return self->undo->len > 0 && self->edit_base == NULL;
}

gboolean
hepa_roi_store_can_redo (HepaRoiStore *self)
{
  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), FALSE);
  return self->redo->len > 0 && self->edit_base == NULL;
}

static void
swap_state (HepaRoiStore *self,
            GPtrArray    *from,
            GPtrArray    *to)
{
  GPtrArray *state = g_ptr_array_steal_index (from, from->len - 1);

  g_ptr_array_add (to, g_steal_pointer (&self->rois));
  self->rois = state;
  if (find_roi (self, self->selected, NULL) == NULL)
    set_selected (self, NULL);
  emit_changed (self, HEPA_ROI_CHANGE_EDIT);
}

gboolean
hepa_roi_store_undo (HepaRoiStore *self)
{
  if (!hepa_roi_store_can_undo (self))
    return FALSE;
  swap_state (self, self->undo, self->redo);
  return TRUE;
}

gboolean
hepa_roi_store_redo (HepaRoiStore *self)
{
  if (!hepa_roi_store_can_redo (self))
    return FALSE;
  swap_state (self, self->redo, self->undo);
  return TRUE;
}

void
hepa_roi_store_select (HepaRoiStore *self,
                       const char   *id)
{
  g_return_if_fail (HEPA_IS_ROI_STORE (self));

  if (id != NULL && find_roi (self, id, NULL) == NULL)
    id = NULL;
  set_selected (self, id);
}

const char *
hepa_roi_store_get_selected (HepaRoiStore *self)
{
  g_return_val_if_fail (HEPA_IS_ROI_STORE (self), NULL);
  return self->selected;
}
