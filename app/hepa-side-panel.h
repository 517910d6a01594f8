/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-image.h"
#include "hepa-prob-panel.h"
#include "hepa-roi-store.h"
#include "hepa-study.h"

G_BEGIN_DECLS

/* The workbench's side panel (hepa-side-panel.ui): the region list, the prediction, the saliency
 * controls and the study's file list. It shows a HepaRoiStore and a HepaStudy; picking a region
 * emits "roi-activated", picking a file sets the study's index. */

#define HEPA_TYPE_SIDE_PANEL (hepa_side_panel_get_type ())
G_DECLARE_FINAL_TYPE (HepaSidePanel, hepa_side_panel, HEPA, SIDE_PANEL, GtkBox)

HepaProbPanel *hepa_side_panel_get_prob_panel   (HepaSidePanel      *self);
void           hepa_side_panel_set_store        (HepaSidePanel      *self,
                                                 HepaRoiStore       *store);
void           hepa_side_panel_set_study        (HepaSidePanel      *self,
                                                 HepaStudy          *study);
/* The image the regions belong to (sizes in mm, frame numbers), or NULL. */
void           hepa_side_panel_set_image        (HepaSidePanel      *self,
                                                 HepaImage          *image);
/* The label set (the model's classes): colours, the label hint, the saliency class list. */
void           hepa_side_panel_set_classes      (HepaSidePanel      *self,
                                                 const char *const  *classes);
/* Rebuilds the rows whose region changed, the selection and the heading. */
void           hepa_side_panel_refresh_rois     (HepaSidePanel      *self);
void           hepa_side_panel_sync_selection   (HepaSidePanel      *self);

/* Saliency controls: the class shown (0: the most probable, else class + 1), opacity, colour map
 * (0 inferno, 1 viridis, 2 jet) and scaling (0 per region, 1 absolute). Changes emit
 * "saliency-changed". */
guint          hepa_side_panel_get_cam_class    (HepaSidePanel      *self);
void           hepa_side_panel_get_saliency     (HepaSidePanel      *self,
                                                 double             *opacity,
                                                 guint              *colormap,
                                                 guint              *scaling);
void           hepa_side_panel_set_saliency     (HepaSidePanel      *self,
                                                 double              opacity,
                                                 guint               colormap,
                                                 guint               scaling);
void           hepa_side_panel_set_saliency_sensitive (HepaSidePanel *self,
                                                       gboolean       sensitive);

/* Read first (issue 24): @held hides the prediction, the saliency controls and the region list
 * (its labels), showing @message in their place; after the commit @message (may be NULL) says
 * what the user read beside the answer. */
void           hepa_side_panel_set_held_back    (HepaSidePanel      *self,
                                                 gboolean            held,
                                                 const char         *message);
gboolean       hepa_side_panel_get_held_back    (HepaSidePanel      *self);

G_END_DECLS
