/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The ROIs of one image and their edit history. Pure logic (no widgets): the canvas and the
 * side panel edit through it, the application saves what it holds. Every edit is one undo
 * step; a drag is bracketed by begin_edit/end_edit so it is one step too. */
#pragma once

#include <glib-object.h>

#include "hepa-annotations.h"

G_BEGIN_DECLS

#define HEPA_TYPE_ROI_STORE (hepa_roi_store_get_type ())
G_DECLARE_FINAL_TYPE (HepaRoiStore, hepa_roi_store, HEPA, ROI_STORE, GObject)

#define HEPA_ROI_MIN_SIZE 8  /* pixels, both sides */

/* What a "changed" signal reports. */
typedef enum
{
  HEPA_ROI_CHANGE_LIVE,        /* inside a drag: geometry moves, no undo step yet */
  HEPA_ROI_CHANGE_EDIT,        /* a finished user edit (also undo/redo): save it */
  HEPA_ROI_CHANGE_LOADED,      /* contents replaced by hepa_roi_store_load or clear */
  HEPA_ROI_CHANGE_PREDICTION,  /* a prediction was recorded: save, nothing to recompute */
} HepaRoiChange;

HepaRoiStore  *hepa_roi_store_new            (void);
/* Bounds for clamping; ROIs are kept inside width x height. */
void           hepa_roi_store_set_bounds     (HepaRoiStore   *self,
                                              int             width,
                                              int             height);
void           hepa_roi_store_set_rater      (HepaRoiStore   *self,
                                              const char     *rater);
/* Replaces the contents (copies @rois) and forgets the history. Emits "changed"
 * as HEPA_ROI_CHANGE_LOADED so listeners can skip saving what was just read. */
void           hepa_roi_store_load           (HepaRoiStore   *self,
                                              GPtrArray      *rois);
void           hepa_roi_store_clear          (HepaRoiStore   *self);
/* (element-type HepaRoi) (transfer none) */
GPtrArray     *hepa_roi_store_get_rois       (HepaRoiStore   *self);
const HepaRoi *hepa_roi_store_lookup         (HepaRoiStore   *self,
                                              const char     *id);
guint          hepa_roi_store_count_labeled  (HepaRoiStore   *self);

/* Adds a ROI (clamped; grown to the minimum size) and selects it. Returns its id (borrowed),
 * or NULL when the rectangle lies outside the bounds. */
const char    *hepa_roi_store_add            (HepaRoiStore   *self,
                                              guint           frame,
                                              const HepaRect *rect);
gboolean       hepa_roi_store_remove         (HepaRoiStore   *self,
                                              const char     *id);
gboolean       hepa_roi_store_set_rect       (HepaRoiStore   *self,
                                              const char     *id,
                                              const HepaRect *rect);
/* Sets or clears (@label NULL) the label and, when given, the model's prediction for it. */
gboolean       hepa_roi_store_set_label      (HepaRoiStore      *self,
                                              const char        *id,
                                              const char        *label,
                                              const char        *model_id,
                                              const char *const *classes,
                                              const float       *probabilities);
/* Records a prediction without an undo step (the model's answer is not a user edit). */
gboolean       hepa_roi_store_set_prediction (HepaRoiStore      *self,
                                              const char        *id,
                                              const char        *model_id,
                                              const char *const *classes,
                                              const float       *probabilities);

/* A drag: begin, any number of live set_rect/add calls, end. One undo step in all. */
/* Appends a rater's read-first read to ROI @id (issue 24); saved like a prediction (no undo
 * step: a read is a record of what happened, not an edit). */
gboolean       hepa_roi_store_add_read       (HepaRoiStore      *self,
                                              const char        *id,
                                              const HepaRoiRead *read);
void           hepa_roi_store_begin_edit     (HepaRoiStore   *self);
void           hepa_roi_store_end_edit       (HepaRoiStore   *self);
gboolean       hepa_roi_store_in_edit        (HepaRoiStore   *self);

gboolean       hepa_roi_store_can_undo       (HepaRoiStore   *self);
gboolean       hepa_roi_store_can_redo       (HepaRoiStore   *self);
gboolean       hepa_roi_store_undo           (HepaRoiStore   *self);
gboolean       hepa_roi_store_redo           (HepaRoiStore   *self);

void           hepa_roi_store_select         (HepaRoiStore   *self,
                                              const char     *id);
const char    *hepa_roi_store_get_selected   (HepaRoiStore   *self);

/* Clamps @rect to the bounds and enforces the minimum size, keeping it inside. Returns FALSE
 * when nothing of it is inside the bounds. */
gboolean       hepa_roi_store_fit_rect       (HepaRoiStore   *self,
                                              HepaRect       *rect);

G_END_DECLS
