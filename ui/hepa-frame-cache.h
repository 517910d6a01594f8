/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Frames of one image made ready for display off the main thread: decoded, put through the
 * window/level, converted to a cairo image surface and, for the cairo renderer's reduced and
 * mildly magnified views, scaled to the zoom on screen. Requests come first, then prefetches
 * (the frames a cine plays next); one worker job runs at a time. The main thread only looks
 * a ready frame up and swaps it in. Every call is made on the main thread. */
#pragma once

#include <cairo.h>
#include <glib-object.h>

#include "hepa-image.h"

G_BEGIN_DECLS

#define HEPA_TYPE_FRAME_CACHE (hepa_frame_cache_get_type ())
G_DECLARE_FINAL_TYPE (HepaFrameCache, hepa_frame_cache, HEPA, FRAME_CACHE, GObject)

/* How frames are to look on screen. */
typedef struct
{
  double wl_center;   /* window/level of GRAY16 frames (ignored for RGB8) */
  double wl_width;
  double zoom;        /* scale of the scaled surface; 0 when none is wanted */
  double phase_x;     /* fractional part of the image origin on screen, in [0, 1) */
  double phase_y;
} HepaFrameLook;

/* @max_bytes: how much the ready surfaces may hold together; at least two frames are kept
 * whatever it says. */
HepaFrameCache *hepa_frame_cache_new          (gsize                max_bytes);
/* Drops every frame and forgets pending work; the running job's answer is ignored. */
void            hepa_frame_cache_set_image    (HepaFrameCache      *self,
                                               HepaImage           *image);
HepaImage      *hepa_frame_cache_get_image    (HepaFrameCache      *self);
/* Frames made for another window/level are dropped; scaled surfaces for another zoom or
 * phase are dropped (the unscaled ones are kept). */
void            hepa_frame_cache_set_look     (HepaFrameCache      *self,
                                               const HepaFrameLook *look);
void            hepa_frame_cache_get_look     (HepaFrameCache      *self,
                                               HepaFrameLook       *look);

/* Whether @frame is ready for the current window/level. @surface: (out) (transfer none) the
 * frame (RGB24, image size). @scaled: (out) (optional) (transfer none) the frame at the
 * current zoom and phase (ARGB32), or NULL when that is not ready or not wanted. */
gboolean        hepa_frame_cache_lookup       (HepaFrameCache      *self,
                                               guint                frame,
                                               cairo_surface_t    **surface,
                                               cairo_surface_t    **scaled);
/* Adds a frame rendered by the caller for the current window/level (RGB24, image size). */
void            hepa_frame_cache_insert       (HepaFrameCache      *self,
                                               guint                frame,
                                               cairo_surface_t     *surface);
/* Adds the scaled surface of a ready @frame made by the caller for the current look (what
 * hepa_frame_cache_scale () makes of the frame's surface). */
void            hepa_frame_cache_insert_scaled (HepaFrameCache     *self,
                                                guint               frame,
                                                cairo_surface_t    *scaled);
/* Whether @frame is ready for the current look: its surface, and its scaled surface when one
 * is wanted. */
gboolean        hepa_frame_cache_is_ready     (HepaFrameCache      *self,
                                               guint                frame);
/* Makes @frame (and its scaled surface, when wanted) ready ahead of any prefetch. "ready" is
 * emitted once it is, "failed" when it cannot be decoded. */
void            hepa_frame_cache_request      (HepaFrameCache      *self,
                                               guint                frame);
/* Queues @count frames from @first on (wrapping at the last frame) after the requests,
 * replacing the previous prefetch. Fewer are queued when they would not fit @max_bytes. */
void            hepa_frame_cache_prefetch     (HepaFrameCache      *self,
                                               guint                first,
                                               guint                count);
/* Whether a worker job is running or waiting. */
gboolean        hepa_frame_cache_is_busy      (HepaFrameCache      *self);
guint           hepa_frame_cache_get_n_ready  (HepaFrameCache      *self);
gsize           hepa_frame_cache_get_bytes    (HepaFrameCache      *self);

/* The scaled surface as the worker makes it, for the canvas's fallback and for tests: @source
 * (image size) drawn at @look's zoom and phase with cairo's GOOD filter onto a transparent
 * ARGB32 surface of ceil (phase + size * zoom) pixels. (transfer full) */
cairo_surface_t *hepa_frame_cache_scale       (cairo_surface_t     *source,
                                               const HepaFrameLook *look);
/* Renders @frame through the window/level of @look into a new RGB24 surface. (transfer full)
 * NULL when cairo cannot allocate it. */
cairo_surface_t *hepa_frame_cache_render      (const HepaFrame     *frame,
                                               const HepaFrameLook *look);

G_END_DECLS
