/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Cine controls: a slider over the frames, play/pause at the file's frame time, step buttons. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define HEPA_TYPE_FRAME_BAR (hepa_frame_bar_get_type ())
G_DECLARE_FINAL_TYPE (HepaFrameBar, hepa_frame_bar, HEPA, FRAME_BAR, GtkWidget)

GtkWidget *hepa_frame_bar_new            (void);
/* @frame_time_ms <= 0 plays at 25 frames per second. Stops playing and goes to frame 0. */
void       hepa_frame_bar_set_n_frames   (HepaFrameBar *self,
                                          guint         n_frames,
                                          double        frame_time_ms);
guint      hepa_frame_bar_get_n_frames   (HepaFrameBar *self);
void       hepa_frame_bar_set_frame      (HepaFrameBar *self,
                                          guint         frame);
guint      hepa_frame_bar_get_frame      (HepaFrameBar *self);
/* Moves by @delta frames, wrapping around. */
void       hepa_frame_bar_step           (HepaFrameBar *self,
                                          int           delta);
void       hepa_frame_bar_set_playing    (HepaFrameBar *self,
                                          gboolean      playing);
gboolean   hepa_frame_bar_get_playing    (HepaFrameBar *self);
double     hepa_frame_bar_get_interval_ms (HepaFrameBar *self);
/* Marks @n_marks frames under the slider (the frames that carry regions). */
void       hepa_frame_bar_set_marks      (HepaFrameBar *self,
                                          const guint  *frames,
                                          guint         n_marks);

G_END_DECLS
