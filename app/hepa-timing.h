/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The workbench's timing watch, on only with HEPASCOPE_DEBUG=timing (hepa_timing_new returns
 * NULL otherwise, and every call takes NULL and does nothing). It logs "hepascope-timing:" lines
 * that tests/ui/bench-roi-latency.sh and bench-main-loop.sh parse:
 *  - ROI released -> probabilities on screen, once per finished edit;
 *  - when the window goes: the main loop's gaps while work was in flight (a 4 ms high-priority
 *    tick), the main thread's CPU time within them and in each frame clock phase, and the
 *    frames a cine showed against the file's rate. */

typedef enum
{
  HEPA_TIMING_INFERENCE = 1 << 0,
  HEPA_TIMING_DECODING  = 1 << 1,
  HEPA_TIMING_SAVING    = 1 << 2,
  HEPA_TIMING_PLAYING   = 1 << 3,
} HepaTimingWork;

/* Which work is in flight now. */
typedef HepaTimingWork (*HepaTimingBusyFunc) (gpointer user_data);

typedef struct _HepaTiming HepaTiming;

/* @widget: the window whose frame clock is timed (not referenced: free the watch first). */
HepaTiming *hepa_timing_new               (GtkWidget         *widget,
                                           HepaTimingBusyFunc busy,
                                           gpointer           user_data);
/* Logs the main loop figures (@file_fps: the cine's own rate) and frees the watch. */
void        hepa_timing_finish            (HepaTiming        *self,
                                           double             file_fps);

void        hepa_timing_set_playing       (HepaTiming        *self,
                                           gboolean           playing);
void        hepa_timing_frame_shown       (HepaTiming        *self);

/* A finished edit whose answer is not on screen yet. */
void        hepa_timing_roi_released      (HepaTiming        *self);
/* A finished edit whose answer was already on screen (a drag's last live answer). */
void        hepa_timing_roi_already_shown (HepaTiming        *self);
/* An answer reached the screen: @start_us its job's start, @result_us its arrival, @update_us
 * the time spent updating widgets; @more_coming: a newer request is queued, so this is not
 * the answer the release waits for. */
void        hepa_timing_result_shown      (HepaTiming        *self,
                                           double             inference_ms,
                                           gint64             start_us,
                                           gint64             result_us,
                                           gint64             update_us,
                                           gboolean           more_coming);

G_END_DECLS
