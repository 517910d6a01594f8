/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window's parts, shared by hepa-window.c (widgets and wiring) and hepa-window-actions.c
 * (actions, shortcuts and dialogs, attached from outside: the window never calls them). */
#pragma once

#include "hepa-window.h"

#include "hepa-canvas.h"
#include "hepa-classifier.h"
#include "hepa-document.h"
#include "hepa-frame-bar.h"
#include "hepa-read-first.h"
#include "hepa-side-panel.h"
#include "hepa-status-bar.h"
#include "hepa-study.h"
#include "hepa-timing.h"

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
  HepaSidePanel    *side_panel;
  HepaStatusBar    *status_bar;

  /* The model objects the widgets show */
  HepaDocument     *document;      /* the open file and its regions */
  HepaRoiStore     *store;         /* = the document's */
  HepaClassifier   *classifier;    /* the selected region's answer */
  HepaStudy        *study;         /* the folder or files opened together */
  HepaTiming       *timing;        /* HEPASCOPE_DEBUG=timing, else NULL */
  GSettings        *settings;      /* the app's, or NULL running without the schema */
  char            **classes;       /* the model's classes, or the default label set */
  gboolean          model_loading;
  char             *model_error;   /* why there is no model, or NULL */

  char             *pred_pending_id; /* a labeled region whose prediction is to be recorded */
  gboolean          live_since_edit; /* a drag is under way: its EDIT is a release */
  guint             decoding_frame;  /* G_MAXUINT when no frame decode is in flight */
  guint             wanted_frame;
  gboolean          close_after_save;
  gboolean          asking;          /* the unsaved-regions question is on screen */
  gboolean          may_close;       /* saved elsewhere or given up: close now */
  char             *pending_open;    /* a file to open once the regions are on disk */

  /* Read first (issue 24): NULL when off. The answer is held back until the user commits. */
  HepaReadFirst    *read_first;
  struct _HepaQuiz *quiz;            /* a case-set session, or NULL (hepa-window-quiz.c) */
  gboolean          blind;           /* labels and file names hidden (hepa-presentation.c) */
  char             *opening;         /* the file the newest open reads */
  gboolean          info_about_file; /* the info bar speaks of the open file */
  GtkRecentManager *recent;
  GMenu            *recent_menu;
  char             *pending_roi_id;   /* a region to select once its file is open */
  char             *pending_roi_path; /* that region's file */
};

/* hepa-window.c, for the actions */
void hepa_window_open_folder     (HepaWindow     *self,
                                  const char     *folder);
void hepa_window_study_step      (HepaWindow     *self,
                                  int             delta);
/* Read first on or off (the "read-first" preference); see hepa-read-first.h. */
void hepa_window_set_read_first  (HepaWindow     *self,
                                  gboolean        on);
gboolean hepa_window_get_read_first (HepaWindow  *self);
/* The blind switch: no labels or file names on screen. */
void hepa_window_set_blind       (HepaWindow     *self,
                                  gboolean        blind);
/* Opens one file, leaving any study (as opening a single file from the menu does). */
void hepa_window_open_one        (HepaWindow     *self,
                                  const char     *path);

/* Case-set sessions (hepa-window-quiz.c). */
typedef struct _HepaQuiz HepaQuiz;
void     hepa_window_start_case_set (HepaWindow    *self,
                                     const char    *path,
                                     gboolean       shuffle,
                                     guint64        seed);
gboolean hepa_window_quiz_active    (HepaWindow    *self);
void     hepa_window_quiz_loaded    (HepaWindow    *self);
gboolean hepa_window_quiz_commit    (HepaWindow    *self,
                                     const HepaRoi *roi,
                                     int            class_index,
                                     gint64         time_ms);
void     hepa_window_quiz_next      (HepaWindow    *self);
void     hepa_window_quiz_dispose   (HepaWindow    *self);
void hepa_window_label_selected  (HepaWindow     *self,
                                  int             class_index);
void hepa_window_show_info       (HepaWindow     *self,
                                  GtkMessageType  type,
                                  const char     *message);
void hepa_window_set_status      (HepaWindow     *self,
                                  const char     *message);
/* Opens @path (again, when it is the open file) once the open file's regions are on disk
 * (hepa-window-archive.c: Open SR). */
void hepa_window_open_path       (HepaWindow     *self,
                                  const char     *path);

/* hepa-window-loop.c: train, review, compare models, next/previous unlabeled file */
void hepa_window_loop_attach     (HepaWindow     *self);

G_END_DECLS
