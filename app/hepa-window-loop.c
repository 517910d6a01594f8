/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench's way from labels to a model: train, review, compare, and stepping to the next
 * file that still needs a label. The dialogs live in their own files; this file only hands them
 * the study and takes their answers back to the window. */
#include "config.h"

#include "hepa-window-private.h"
#include "hepa-compare.h"
#include "hepa-review.h"
#include "hepa-train-dialog.h"
#include "hepa-study-stats.h"

#include <glib/gi18n.h>

/* The study's files, or the open file alone (transfer full). */
static GStrv
study_paths (HepaWindow *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint n = hepa_study_get_n_files (self->study);

  for (guint i = 0; i < n; i++)
    g_strv_builder_add (builder, hepa_study_get_path (self->study, i));
  if (n == 0 && hepa_document_get_path (self->document) != NULL)
    g_strv_builder_add (builder, hepa_document_get_path (self->document));
  return g_strv_builder_end (builder);
}

static const char *
current_model_path (HepaWindow *self)
{
  HepaModelHandle *model = hepa_classifier_get_model (self->classifier);

  return model != NULL ? model->path : NULL;
}

static void
select_pending_roi (HepaWindow *self)
{
  g_autofree char *id = g_steal_pointer (&self->pending_roi_id);

  if (id != NULL)
    hepa_roi_store_select (self->store, id);
}

static void
document_loading_cb (HepaDocument *document,
                     GParamSpec   *pspec,
                     HepaWindow   *self)
{
  gboolean loading = FALSE;

  g_object_get (document, "loading", &loading, NULL);
  if (!loading && self->pending_roi_id != NULL
      && g_strcmp0 (hepa_document_get_path (document), self->pending_roi_path) == 0)
    select_pending_roi (self);
}

/* Shows @path with the region @roi_id selected: at once when it is the open file, else once
 * the study has stepped to it and the document has loaded. */
static void
roi_activated_cb (GObject    *source,
                  const char *path,
                  const char *roi_id,
                  HepaWindow *self)
{
  guint n = hepa_study_get_n_files (self->study);

  g_free (self->pending_roi_id);
  self->pending_roi_id = g_strdup (roi_id);
  g_free (self->pending_roi_path);
  self->pending_roi_path = g_strdup (path);
  if (g_strcmp0 (hepa_document_get_path (self->document), path) == 0)
    {
      select_pending_roi (self);
      return;
    }
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (hepa_study_get_path (self->study, i), path) == 0)
      {
        hepa_window_study_step (self, (int) i - hepa_study_get_index (self->study));
        return;
      }
  g_clear_pointer (&self->pending_roi_id, g_free);
  hepa_window_show_info (self, GTK_MESSAGE_WARNING,
                         _("That region's file is not part of the open study"));
}

static void
model_adopted_cb (HepaTrainDialog *dialog,
                  const char      *path,
                  HepaWindow      *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "app.load-model", "s", path);
}

static void
train_progress_cb (HepaTrainDialog *dialog,
                   double           fraction,
                   const char      *text,
                   gboolean         training,
                   HepaWindow      *self)
{
  hepa_window_set_status (self, text);
}

static void
train_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  HepaWindow *self = user_data;
  g_auto(GStrv) paths = study_paths (self);
  HepaTrainDialog *dialog;

  dialog = hepa_train_dialog_present (GTK_WINDOW (self), (const char *const *) paths,
                                      current_model_path (self));
  g_signal_connect_object (dialog, "model-adopted", G_CALLBACK (model_adopted_cb), self, 0);
  g_signal_connect_object (dialog, "progress", G_CALLBACK (train_progress_cb), self, 0);
}

static void
review_action (GSimpleAction *action,
               GVariant      *parameter,
               gpointer       user_data)
{
  HepaWindow *self = user_data;
  g_auto(GStrv) paths = study_paths (self);
  g_autofree char *rater = self->settings != NULL
                             ? g_settings_get_string (self->settings, "rater-name") : NULL;
  HepaReview *review;

  review = hepa_review_present (GTK_WINDOW (self), (const char *const *) paths,
                                (const char *const *) self->classes,
                                rater != NULL && *rater != '\0' ? rater : g_get_user_name ());
  g_signal_connect_object (review, "roi-activated", G_CALLBACK (roi_activated_cb), self, 0);
}

static void
compare_action (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  HepaWindow *self = user_data;
  g_auto(GStrv) paths = study_paths (self);
  HepaCompare *compare;

  compare = hepa_compare_present (GTK_WINDOW (self), (const char *const *) paths,
                                  current_model_path (self));
  g_signal_connect_object (compare, "roi-activated", G_CALLBACK (roi_activated_cb), self, 0);
}

static void
unlabeled_step (HepaWindow *self,
                int         step)
{
  g_auto(GStrv) paths = study_paths (self);
  g_autofree char *workspace = hepa_document_workspace_dir ();
  g_autoptr(HepaStudyStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  int from = hepa_study_get_index (self->study);
  int next;

  if (hepa_study_get_n_files (self->study) < 2)
    return;
  stats = hepa_study_stats_scan_files ((const char *const *) paths, workspace, NULL, &error);
  if (stats == NULL)
    {
      hepa_window_show_info (self, GTK_MESSAGE_WARNING, error->message);
      return;
    }
  next = hepa_study_stats_next_unlabeled (stats, from, step);
  if (next < 0)
    hepa_window_set_status (self, _("Every file of the study is labeled"));
  else
    hepa_window_study_step (self, next - from);
}

static void
next_unlabeled_action (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  unlabeled_step (user_data, 1);
}

static void
previous_unlabeled_action (GSimpleAction *action,
                           GVariant      *parameter,
                           gpointer       user_data)
{
  unlabeled_step (user_data, -1);
}

static const GActionEntry loop_actions[] = {
  { "train", train_action },
  { "review", review_action },
  { "compare-models", compare_action },
  { "next-unlabeled", next_unlabeled_action },
  { "previous-unlabeled", previous_unlabeled_action },
};

void
hepa_window_loop_attach (HepaWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), loop_actions,
                                   G_N_ELEMENTS (loop_actions), self);
  g_signal_connect_object (self->document, "notify::loading", G_CALLBACK (document_loading_cb),
                           self, 0);
}
