/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The image view: one frame, zoom and pan, window/level, ROIs (drawn, moved and resized with
 * the pointer or the keyboard, edited through a HepaRoiStore) and the saliency overlay. */
#pragma once

#include <gtk/gtk.h>

#include "hepa-colormap.h"
#include "hepa-frame-cache.h"
#include "hepa-image.h"
#include "hepa-roi-store.h"

G_BEGIN_DECLS

#define HEPA_TYPE_CANVAS (hepa_canvas_get_type ())
G_DECLARE_FINAL_TYPE (HepaCanvas, hepa_canvas, HEPA, CANVAS, GtkWidget)

#define HEPA_CANVAS_ZOOM_MIN 0.05
#define HEPA_CANVAS_ZOOM_MAX 64.0

GtkWidget    *hepa_canvas_new                (void);

/* Shows frame @frame of @image (NULL clears). The frame should already be ready in the frame
 * cache (else it is decoded and rendered here); the view is kept when the size did not
 * change, else fitted. */
void          hepa_canvas_set_image          (HepaCanvas       *self,
                                              HepaImage        *image,
                                              guint             frame);
HepaImage    *hepa_canvas_get_image          (HepaCanvas       *self);
/* Where the canvas takes its frames from: a frame ready there shows at once; request and
 * prefetch frames through it, on the canvas's look. (transfer none) */
HepaFrameCache *hepa_canvas_get_frame_cache  (HepaCanvas       *self);
guint         hepa_canvas_get_frame          (HepaCanvas       *self);
void          hepa_canvas_set_store          (HepaCanvas       *self,
                                              HepaRoiStore     *store);
/* The model card's classes, in card order: they pick each label's colour. */
void          hepa_canvas_set_classes        (HepaCanvas       *self,
                                              const char *const *classes);
/* The colour of @label (index in the classes; -1 for unknown labels). */
void          hepa_canvas_label_color        (int               class_index,
                                              GdkRGBA          *color);

/* View: image pixel (ix, iy) is drawn at widget (offset_x + ix * zoom, offset_y + iy * zoom). */
void          hepa_canvas_zoom_fit           (HepaCanvas       *self);
void          hepa_canvas_set_zoom           (HepaCanvas       *self,
                                              double            zoom,
                                              double            anchor_x,
                                              double            anchor_y);
void          hepa_canvas_zoom_step          (HepaCanvas       *self,
                                              int               steps);
double        hepa_canvas_get_zoom           (HepaCanvas       *self);
gboolean      hepa_canvas_get_fit            (HepaCanvas       *self);
void          hepa_canvas_pan                (HepaCanvas       *self,
                                              double            dx,
                                              double            dy);
void          hepa_canvas_widget_to_image    (HepaCanvas       *self,
                                              double            wx,
                                              double            wy,
                                              double           *ix,
                                              double           *iy);
void          hepa_canvas_image_to_widget    (HepaCanvas       *self,
                                              double            ix,
                                              double            iy,
                                              double           *wx,
                                              double           *wy);

/* Window/level of GRAY16 frames, in stored units; width <= 0 restores the file's default. */
void          hepa_canvas_set_window_level   (HepaCanvas       *self,
                                              double            center,
                                              double            width);
/* Window presets of GRAY16 frames. */
typedef enum
{
  HEPA_WINDOW_DEFAULT,      /* the window the image reader gave the frame (the VOI of a DICOM) */
  HEPA_WINDOW_FULL_RANGE,   /* 0 .. 2^bits_stored */
  HEPA_WINDOW_FRAME_RANGE,  /* the darkest to the brightest pixel of the frame on screen */
} HepaWindowPreset;

/* TRUE when the frame on screen has a window/level (GRAY16). */
gboolean      hepa_canvas_has_window_level   (HepaCanvas       *self);
void          hepa_canvas_apply_window_preset (HepaCanvas      *self,
                                              HepaWindowPreset  preset);
/* How many GRAY16 units one pixel of a right-drag changes the window by: a 300-pixel drag
 * changes it by about its own width (at least 16 units), however many bits the data has. */
double        hepa_canvas_get_window_drag_step (HepaCanvas     *self);
void          hepa_canvas_get_window_level   (HepaCanvas       *self,
                                              double           *center,
                                              double           *width);

/* The saliency map for @rect of @frame: (height, width) floats, copied. NULL map clears it. */
void          hepa_canvas_set_overlay        (HepaCanvas       *self,
                                              guint             frame,
                                              const HepaRect   *rect,
                                              const float      *map,
                                              int               width,
                                              int               height,
                                              float             reference);
void          hepa_canvas_set_overlay_visible (HepaCanvas      *self,
                                               gboolean         visible);
gboolean      hepa_canvas_get_overlay_visible (HepaCanvas      *self);
void          hepa_canvas_set_overlay_opacity (HepaCanvas      *self,
                                               double           opacity);
void          hepa_canvas_set_colormap       (HepaCanvas       *self,
                                              HepaColormap      cmap);
void          hepa_canvas_set_overlay_scale  (HepaCanvas       *self,
                                              HepaOverlayScale  scale);

/* Adds a default-size ROI in the middle of the visible area (keyboard drawing). */
const char   *hepa_canvas_add_roi_at_center  (HepaCanvas       *self);

/* Read first and the blind switch (issue 24): ROIs drawn without label text or class colour. */
void          hepa_canvas_set_hide_labels    (HepaCanvas       *self,
                                              gboolean          hide);
gboolean      hepa_canvas_get_hide_labels    (HepaCanvas       *self);
/* Presentation mode: ROI outlines @scale times as thick (0.5..4). */
void          hepa_canvas_set_line_scale     (HepaCanvas       *self,
                                              double            scale);

G_END_DECLS
