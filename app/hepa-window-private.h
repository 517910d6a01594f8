/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared between hepa-window.c (state, loading, inference, saving) and hepa-window-actions.c
 * (the actions and dialogs). */
#pragma once

#include "hepa-window.h"

#include "hepa-annotations.h"
#include "hepa-canvas.h"
#include "hepa-frame-bar.h"
#include "hepa-image.h"
#include "hepa-prob-panel.h"
#include "hepa-roi-store.h"

G_BEGIN_DECLS

struct _HepaWindow
{
  GtkApplicationWindow  parent_instance;

  /* Template children */
  GtkWidget        *title_label;
  GtkWidget        *subtitle_label;
  GtkWidget        *recent_button;
  GtkWidget        *study_nav;
  GtkWidget        *model_button;
  GtkWidget        *model_button_label;
  GtkWidget        *info_bar;
  GtkWidget        *info_label;
  GtkWidget        *paned;
  GtkWidget        *main_stack;
  GtkWidget        *loading_spinner;
  GtkWidget        *loading_label;
  GtkWidget        *demo_button;
  HepaCanvas       *canvas;
  HepaFrameBar     *frame_bar;
  GtkWidget        *regions_heading;
  GtkWidget        *roi_list;
  GtkWidget        *label_hint;
  HepaProbPanel    *prob_panel;
  GtkWidget        *saliency_grid;
  GtkWidget        *cam_class_dropdown;
  GtkAdjustment    *opacity_adjustment;
  GtkWidget        *cmap_dropdown;
  GtkWidget        *scale_dropdown;
  GtkWidget        *study_box;
  GtkWidget        *study_heading;
  GtkWidget        *study_list;
  GtkWidget        *status_model;
  GtkWidget        *status_time;
  GtkWidget        *status_message;
  GtkWidget        *status_pointer;
  GtkWidget        *status_zoom;

  HepaRoiStore     *store;
  HepaModelHandle  *model;         /* the model the panel and labels follow */
  char            **classes;       /* the model's classes, or the default label set */

  /* The open file */
  HepaImage        *image;
  char             *path;
  char             *sidecar_path;
  char             *sop_uid_sha256;
  GCancellable     *open_cancellable;
  guint             decoding_frame;  /* G_MAXUINT when no frame decode is in flight */
  guint             wanted_frame;

  /* A folder or a list of files opened as a study */
  GPtrArray        *study;         /* (element-type utf8) paths */
  GPtrArray        *study_counts;  /* (element-type utf8) "3 regions, 2 labeled" per file */
  int               study_index;
  GCancellable     *study_cancellable;

  /* Inference: at most one in flight; newer requests wait or cancel it */
  GCancellable     *infer_cancellable;
  gboolean          infer_in_flight;
  gboolean          infer_pending;
  char             *infer_roi_id;  /* what the running inference answers */
  char             *pred_pending_id; /* a labeled region whose prediction is to be recorded */
  HepaRect          infer_rect;
  guint             infer_frame;
  HepaResult       *result;
  char             *result_roi_id;
  guint             result_frame;
  gint64            released_us;   /* when the last finished edit happened, for timing */
  gboolean          live_since_edit;   /* a drag is under way: its EDIT is a release */
  gint64            infer_start_us;  /* when the running inference was started */
  gint64            shown_start_us;  /* start and arrival of the result on screen */
  gint64            shown_result_us;
  gint64            shown_update_us;
  guint             stall_id;      /* HEPASCOPE_DEBUG=timing: a 4 ms main loop tick */
  gint64            stall_last_us;
  GArray           *stall_gaps;    /* (gint64 us) gaps between ticks while work was in flight */
  GArray           *stall_cpu;     /* (gint64 us) the main thread's CPU time within each gap */
  gint64            stall_last_cpu_us;
  gint64            stall_max_us[4];  /* longest gap by kind of work in flight (StallKind) */
  GdkFrameClock    *stall_clock;   /* the frame clock whose phases are timed */
  gint64            phase_cpu_us;  /* main thread CPU time when the running phase began */
  GArray           *phase_cpu[3];  /* (gint64 us) CPU time of update, layout and paint per
                                    * frame while work was in flight (StallPhase) */
  guint             play_frames;   /* frames shown while a cine played (timing) */
  gint64            play_us;       /* time a cine played, up to play_since_us */
  gint64            play_since_us; /* when the current playback began, or 0 */
  gboolean          open_in_flight;
  gboolean          timing;

  /* Saving: one write in flight; edits made meanwhile are written next */
  gboolean          save_in_flight;
  gboolean          save_dirty;
  gboolean          close_after_save;

  gboolean          info_about_file;  /* the info bar speaks of the open file */
  GtkRecentManager *recent;
  GMenu            *recent_menu;
};

/* hepa-window-actions.c */
void hepa_window_install_actions    (HepaWindow *self);
void hepa_window_update_actions     (HepaWindow *self);

/* hepa-window.c */
void hepa_window_open_path          (HepaWindow *self,
                                     const char *path);
void hepa_window_open_study         (HepaWindow *self,
                                     GPtrArray  *paths,
                                     const char *title);
void hepa_window_open_folder        (HepaWindow *self,
                                     const char *folder);
void hepa_window_study_step         (HepaWindow *self,
                                     int         delta);
void hepa_window_label_selected     (HepaWindow *self,
                                     int         class_index);
void hepa_window_show_info          (HepaWindow *self,
                                     GtkMessageType type,
                                     const char *message);
void hepa_window_set_status         (HepaWindow *self,
                                     const char *message);
void hepa_window_refresh_overlay    (HepaWindow *self);

G_END_DECLS
