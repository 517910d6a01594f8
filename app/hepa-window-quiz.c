/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A case-set session in the workbench (issue 24): the cases one after another in read-first
 * mode, keys only (1-5 commit, Enter or Space the next case), then the score sheet. The
 * learner's answers go to the score sheet and the per-learner scores file, not into the case
 * set's sidecars: a teaching set stays as the teacher made it, and may be read-only. */
#include "config.h"

#include "hepa-window-private.h"

#include "hepa-caseset.h"
#include "hepa-debug.h"
#include "hepa-score-sheet.h"

#include <glib/gi18n.h>

struct _HepaQuiz
{
  HepaCaseSet        *set;
  guint              *order;
  GArray             *answers;       /* (element-type HepaCaseAnswer), one per case shown */
  guint               pos;
  gboolean            committed;     /* the current case has the learner's class */
  gboolean            read_first_before;
  char               *pending_roi;   /* select once its image has loaded */
  GtkEventController *keys;
};

static void
quiz_free (HepaQuiz *quiz)
{
  g_clear_pointer (&quiz->set, hepa_case_set_free);
  g_free (quiz->order);
  g_array_unref (quiz->answers);
  g_free (quiz->pending_roi);
  g_free (quiz);
}

gboolean
hepa_window_quiz_active (HepaWindow *self)
{
  return self->quiz != NULL;
}

static const HepaCase *
current_case (HepaQuiz *quiz)
{
  return g_ptr_array_index (quiz->set->cases, quiz->order[quiz->pos]);
}

static void
show_case_status (HepaWindow *self)
{
  g_autofree char *msg = g_strdup_printf (_("Case %u of %u: commit your class with 1-5, then "
                                            "Enter for the next case"),
                                          self->quiz->pos + 1, self->quiz->set->cases->len);

  hepa_window_set_status (self, msg);
}

static void
select_pending (HepaWindow *self)
{
  HepaQuiz *quiz = self->quiz;
  const HepaCase *c = current_case (quiz);

  if (quiz->pending_roi == NULL
      || g_strcmp0 (hepa_document_get_path (self->document), c->image_path) != 0
      || hepa_roi_store_lookup (self->store, quiz->pending_roi) == NULL)
    return;
  g_clear_pointer (&quiz->pending_roi, g_free);
  hepa_roi_store_select (self->store, c->roi_id);
  show_case_status (self);
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: case %u of %u shown\n", quiz->pos + 1, quiz->set->cases->len);
}

static void
show_case (HepaWindow *self)
{
  HepaQuiz *quiz = self->quiz;
  const HepaCase *c = current_case (quiz);

  quiz->committed = FALSE;
  g_free (quiz->pending_roi);
  quiz->pending_roi = g_strdup (c->roi_id);
  if (g_strcmp0 (hepa_document_get_path (self->document), c->image_path) == 0
      && !hepa_document_get_loading (self->document))
    select_pending (self);
  else
    {
      /* Nothing selected until the image is there: no answer shows meanwhile. */
      hepa_roi_store_select (self->store, NULL);
      hepa_window_open_one (self, c->image_path);
    }
}

void
hepa_window_quiz_loaded (HepaWindow *self)
{
  if (self->quiz != NULL)
    select_pending (self);
}

/* The model's class for the current case, when its answer for the case's region is in. */
static int
model_answer (HepaWindow *self)
{
  const HepaResult *r = hepa_classifier_get_result (self->classifier);
  const HepaRoi *roi = hepa_roi_store_lookup (self->store, current_case (self->quiz)->roi_id);

  if (r == NULL || roi == NULL || !hepa_classifier_answers (self->classifier, roi))
    return -1;
  return (int) r->top;
}

gboolean
hepa_window_quiz_commit (HepaWindow    *self,
                         const HepaRoi *roi,
                         int            class_index,
                         gint64         time_ms)
{
  HepaQuiz *quiz = self->quiz;
  const HepaCase *c;
  HepaCaseAnswer answer;

  if (quiz == NULL || quiz->committed)
    return FALSE;
  c = current_case (quiz);
  if (g_strcmp0 (roi->id, c->roi_id) != 0)
    return FALSE;
  answer.expert = hepa_case_class_index ((const char *const *) self->classes, c->expert_label);
  answer.learner = class_index;
  answer.model = model_answer (self);
  answer.time_ms = time_ms;
  g_array_append_val (quiz->answers, answer);
  quiz->committed = TRUE;
  return TRUE;
}

static void
review_case_cb (HepaWindow     *self,
                guint           index,
                HepaScoreSheet *sheet)
{
  const HepaCase *c = hepa_score_sheet_get_case (sheet, index);

  if (c == NULL)
    return;
  /* Reviewing shows everything: the session is over. */
  hepa_window_open_one (self, c->image_path);
  gtk_window_close (GTK_WINDOW (sheet));
}

static void
finish (HepaWindow *self)
{
  HepaQuiz *quiz = self->quiz;
  g_autofree char *learner = NULL;
  g_autofree char *dir = hepa_case_scores_dir ();
  g_autofree char *scores_path = NULL;
  g_autoptr(HepaCaseScore) score = NULL;
  g_autoptr(GError) error = NULL;
  HepaScoreSheet *sheet;

  learner = self->settings != NULL ? g_settings_get_string (self->settings, "rater-name") : NULL;
  if (learner == NULL || *learner == '\0')
    {
      g_free (learner);
      learner = g_strdup (g_get_user_name ());
    }
  score = hepa_case_score_compute ((const char *const *) self->classes,
                                   (const HepaCaseAnswer *) quiz->answers->data,
                                   quiz->answers->len);
  scores_path = hepa_case_scores_append (dir, learner, quiz->set->name, score,
                                         g_get_real_time () / G_USEC_PER_SEC, &error);
  if (scores_path == NULL)
    hepa_window_show_info (self, GTK_MESSAGE_ERROR, error->message);
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: case set finished: %u cases, %u correct, model %u of %u\n",
                score->n_cases, score->n_correct, score->n_model_correct, score->n_model_cases);

  gtk_widget_remove_controller (GTK_WIDGET (self), quiz->keys);
  self->quiz = NULL;
  hepa_window_set_read_first (self, quiz->read_first_before);
  sheet = hepa_score_sheet_new (GTK_WINDOW (self), learner, (const char *const *) self->classes,
                                g_steal_pointer (&quiz->set), quiz->order,
                                (const HepaCaseAnswer *) quiz->answers->data,
                                quiz->answers->len, scores_path);
  g_signal_connect_object (sheet, "review-case", G_CALLBACK (review_case_cb), self,
                           G_CONNECT_SWAPPED);
  quiz_free (quiz);
  gtk_window_present (GTK_WINDOW (sheet));
}

void
hepa_window_quiz_next (HepaWindow *self)
{
  HepaQuiz *quiz = self->quiz;

  if (quiz == NULL)
    return;
  if (!quiz->committed)
    {
      hepa_window_set_status (self, _("Commit your class first (keys 1-5)"));
      return;
    }
  /* An answer that came after the commit still counts for the model. */
  if (g_array_index (quiz->answers, HepaCaseAnswer, quiz->answers->len - 1).model < 0)
    g_array_index (quiz->answers, HepaCaseAnswer, quiz->answers->len - 1).model =
      model_answer (self);
  quiz->pos++;
  if (quiz->pos >= quiz->set->cases->len)
    {
      finish (self);
      return;
    }
  show_case (self);
}

static gboolean
key_pressed_cb (HepaWindow            *self,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                GtkEventControllerKey *controller)
{
  if (self->quiz == NULL || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK)) != 0)
    return FALSE;
  if (keyval == GDK_KEY_Return || keyval == GDK_KEY_KP_Enter || keyval == GDK_KEY_space)
    {
      hepa_window_quiz_next (self);
      return TRUE;
    }
  return FALSE;
}

void
hepa_window_start_case_set (HepaWindow *self,
                            const char *path,
                            gboolean    shuffle,
                            guint64     seed)
{
  g_autoptr(GError) error = NULL;
  HepaCaseSet *set;
  HepaQuiz *quiz;

  g_return_if_fail (HEPA_IS_WINDOW (self));

  set = hepa_case_set_load (path, &error);
  if (set == NULL)
    {
      hepa_window_show_info (self, GTK_MESSAGE_ERROR, error->message);
      return;
    }
  if (self->quiz != NULL)
    {
      gtk_widget_remove_controller (GTK_WIDGET (self), self->quiz->keys);
      g_clear_pointer (&self->quiz, quiz_free);
    }
  quiz = g_new0 (HepaQuiz, 1);
  quiz->set = set;
  quiz->order = hepa_case_set_order (set, shuffle, seed);
  quiz->answers = g_array_new (FALSE, FALSE, sizeof (HepaCaseAnswer));
  quiz->read_first_before = hepa_window_get_read_first (self);
  /* Capture phase: Enter and Space go to the session, not to a focused button. */
  quiz->keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (quiz->keys, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (quiz->keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), quiz->keys);
  self->quiz = quiz;
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: case set %s: %u cases\n", set->name, set->cases->len);
  hepa_window_set_read_first (self, TRUE);
  show_case (self);
}

void
hepa_window_quiz_dispose (HepaWindow *self)
{
  g_clear_pointer (&self->quiz, quiz_free);
}
