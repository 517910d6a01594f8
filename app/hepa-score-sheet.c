/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-score-sheet.h"

#include <glib/gi18n.h>
#include <math.h>

struct _HepaScoreSheet
{
  GtkWindow        parent_instance;

  GtkWidget       *summary_label;
  GtkWidget       *content;
  GtkWidget       *scores_label;
  GtkWidget       *export_button;
  GtkWidget       *close_button;

  char            *learner;
  HepaCaseSet     *set;      /* owned */
  guint           *order;
  HepaCaseAnswer  *answers;
  HepaCaseScore   *score;
  GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE (HepaScoreSheet, hepa_score_sheet, GTK_TYPE_WINDOW)

enum {
  REVIEW_CASE,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static char *
percent (double value)
{
  return isnan (value) ? g_strdup ("–") : g_strdup_printf ("%.1f %%", 100.0 * value);
}

char *
hepa_score_sheet_summary (HepaScoreSheet *self)
{
  const HepaCaseScore *s;
  g_autofree char *you = NULL;
  g_autofree char *model = NULL;

  g_return_val_if_fail (HEPA_IS_SCORE_SHEET (self), NULL);
  s = self->score;
  you = percent (s->accuracy);
  model = percent (s->model_accuracy);
  if (s->n_model_cases == 0)
    return g_strdup_printf (_("%u cases · you %u/%u (%s) · the model gave no answer"),
                            s->n_cases, s->n_correct, s->n_cases, you);
  return g_strdup_printf (_("%u cases · you %u/%u (%s) · model %u/%u (%s)"), s->n_cases,
                          s->n_correct, s->n_cases, you, s->n_model_correct, s->n_model_cases,
                          model);
}

static GtkWidget *
cell (const char *text,
      gboolean    heading)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), heading ? 0.0f : 1.0f);
  if (heading)
    gtk_widget_add_css_class (label, "heading");
  else
    gtk_widget_add_css_class (label, "numeric");
  return label;
}

static GtkWidget *
section (const char *title)
{
  GtkWidget *label = gtk_label_new (title);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  gtk_widget_set_margin_top (label, 6);
  return label;
}

static void
missed_activated_cb (HepaScoreSheet *self,
                     GtkListBoxRow  *row)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (row), "answer-index"));

  g_signal_emit (self, signals[REVIEW_CASE], 0, index);
}

static void
fill (HepaScoreSheet *self)
{
  const HepaCaseScore *s = self->score;
  GtkBox *box = GTK_BOX (self->content);
  GtkWidget *grid, *list;
  g_autofree char *summary = hepa_score_sheet_summary (self);
  g_autofree char *times = NULL;
  g_autofree char *bal = percent (s->balanced_accuracy);
  g_autofree char *model_bal = percent (s->model_balanced_accuracy);
  g_autofree char *balanced = NULL;

  gtk_label_set_text (GTK_LABEL (self->summary_label), summary);

  times = g_strdup_printf (_("Time per case: mean %.1f s, median %.1f s"),
                           isnan (s->mean_time_ms) ? 0.0 : s->mean_time_ms / 1000.0,
                           isnan (s->median_time_ms) ? 0.0 : s->median_time_ms / 1000.0);
  balanced = g_strdup_printf (_("Balanced accuracy: you %s · model %s"), bal, model_bal);
  gtk_box_append (box, cell (balanced, TRUE));
  gtk_box_append (box, cell (times, TRUE));

  /* Sensitivity per class, the learner's beside the model's. */
  gtk_box_append (box, section (_("Sensitivity per class")));
  grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 18);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_grid_attach (GTK_GRID (grid), cell (_("Class"), TRUE), 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), cell (_("You"), TRUE), 1, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), cell (_("Model"), TRUE), 2, 0, 1, 1);
  for (guint c = 0; c < s->n_classes; c++)
    {
      g_autofree char *you = percent (s->sensitivity[c]);
      g_autofree char *model = percent (s->model_sensitivity[c]);

      gtk_grid_attach (GTK_GRID (grid), cell (s->classes[c], TRUE), 0, c + 1, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), cell (you, FALSE), 1, c + 1, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), cell (model, FALSE), 2, c + 1, 1, 1);
    }
  gtk_box_append (box, grid);

  /* Confusion: rows the expert's class, columns yours. */
  gtk_box_append (box, section (_("Confusion (rows: expert, columns: you)")));
  grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  for (guint c = 0; c < s->n_classes; c++)
    {
      gtk_grid_attach (GTK_GRID (grid), cell (s->classes[c], TRUE), c + 1, 0, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), cell (s->classes[c], TRUE), 0, c + 1, 1, 1);
      for (guint d = 0; d < s->n_classes; d++)
        {
          g_autofree char *n = g_strdup_printf ("%u", s->confusion[c * s->n_classes + d]);
          GtkWidget *label = cell (n, FALSE);

          if (c == d && s->confusion[c * s->n_classes + d] > 0)
            gtk_widget_add_css_class (label, "success");
          gtk_grid_attach (GTK_GRID (grid), label, d + 1, c + 1, 1, 1);
        }
    }
  gtk_box_append (box, grid);

  /* The cases missed: activate one to review it. */
  gtk_box_append (box, section (_("Cases missed")));
  list = gtk_list_box_new ();
  gtk_widget_add_css_class (list, "boxed-list");
  gtk_list_box_set_placeholder (GTK_LIST_BOX (list), cell (_("None"), TRUE));
  for (guint i = 0; i < s->missed->len; i++)
    {
      guint a = g_array_index (s->missed, guint, i);
      guint k = self->order != NULL ? self->order[a] : a;
      const HepaCase *c = g_ptr_array_index (self->set->cases, k);
      const HepaCaseAnswer *ans = &self->answers[a];
      g_autofree char *base = g_path_get_basename (c->image_path);
      const char *yours = ans->learner >= 0 ? s->classes[ans->learner] : _("none");
      const char *model = ans->model >= 0 ? s->classes[ans->model] : "–";
      g_autofree char *text = g_strdup_printf (_("Case %u · %s · expert %s · you %s · model %s "
                                                 "· %.1f s"),
                                               a + 1, base, c->expert_label, yours, model,
                                               s->time_ms[a] / 1000.0);
      GtkWidget *row = gtk_list_box_row_new ();

      gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), cell (text, TRUE));
      g_object_set_data (G_OBJECT (row), "answer-index", GUINT_TO_POINTER (a));
      gtk_list_box_append (GTK_LIST_BOX (list), row);
    }
  g_signal_connect_swapped (list, "row-activated", G_CALLBACK (missed_activated_cb), self);
  gtk_box_append (box, list);
}

gboolean
hepa_score_sheet_export (HepaScoreSheet *self,
                         const char     *path,
                         GError        **error)
{
  g_autofree char *csv = NULL;
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (HEPA_IS_SCORE_SHEET (self), FALSE);
  csv = hepa_case_score_to_csv (self->score, self->set, self->order, self->answers);
  if (!g_file_set_contents (path, csv, -1, &local))
    {
      g_set_error (error, local->domain, local->code, "%s: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}

static void
export_response_cb (HepaScoreSheet       *self,
                    int                   response,
                    GtkFileChooserNative *chooser)
{
  g_autoptr(GFile) file = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      path = file != NULL ? g_file_get_path (file) : NULL;
      if (path != NULL && !hepa_score_sheet_export (self, path, &error))
        gtk_label_set_text (GTK_LABEL (self->scores_label), error->message);
      else if (path != NULL)
        {
          g_autofree char *msg = g_strdup_printf (_("Written to %s"), path);

          gtk_label_set_text (GTK_LABEL (self->scores_label), msg);
        }
    }
  g_clear_object (&self->chooser);
}

static void
export_clicked_cb (HepaScoreSheet *self)
{
  g_autofree char *name = g_strdup_printf ("%s-%s.csv", self->set->name, self->learner);

  g_clear_object (&self->chooser);
  self->chooser = gtk_file_chooser_native_new (_("Export Scores"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"),
                                               _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), name);
  g_signal_connect_swapped (self->chooser, "response", G_CALLBACK (export_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
hepa_score_sheet_finalize (GObject *object)
{
  HepaScoreSheet *self = HEPA_SCORE_SHEET (object);

  g_clear_object (&self->chooser);
  g_free (self->learner);
  g_free (self->order);
  g_free (self->answers);
  g_clear_pointer (&self->score, hepa_case_score_free);
  g_clear_pointer (&self->set, hepa_case_set_free);
  G_OBJECT_CLASS (hepa_score_sheet_parent_class)->finalize (object);
}

static void
hepa_score_sheet_class_init (HepaScoreSheetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = hepa_score_sheet_finalize;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-score-sheet.ui");
  gtk_widget_class_bind_template_child (widget_class, HepaScoreSheet, summary_label);
  gtk_widget_class_bind_template_child (widget_class, HepaScoreSheet, content);
  gtk_widget_class_bind_template_child (widget_class, HepaScoreSheet, scores_label);
  gtk_widget_class_bind_template_child (widget_class, HepaScoreSheet, export_button);
  gtk_widget_class_bind_template_child (widget_class, HepaScoreSheet, close_button);
  gtk_widget_class_bind_template_callback (widget_class, export_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, gtk_window_close);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);

  /**
   * HepaScoreSheet::review-case:
   * @index: the answer's index (position in the session)
   *
   * The user activated a missed case to review it.
   */
  signals[REVIEW_CASE] = g_signal_new ("review-case", G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                       G_TYPE_UINT);
}

static void
hepa_score_sheet_init (HepaScoreSheet *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

HepaScoreSheet *
hepa_score_sheet_new (GtkWindow            *parent,
                      const char           *learner,
                      const char *const    *classes,
                      HepaCaseSet          *set,
                      const guint          *order,
                      const HepaCaseAnswer *answers,
                      guint                 n_answers,
                      const char           *scores_path)
{
  HepaScoreSheet *self;

  g_return_val_if_fail (classes != NULL && set != NULL && answers != NULL, NULL);

  self = g_object_new (HEPA_TYPE_SCORE_SHEET, "transient-for", parent, NULL);
  self->learner = g_strdup (learner != NULL ? learner : "");
  self->set = set;
  self->order = order != NULL ? g_memdup2 (order, n_answers * sizeof (guint)) : NULL;
  self->answers = n_answers > 0 ? g_memdup2 (answers, n_answers * sizeof (HepaCaseAnswer))
                                : g_new0 (HepaCaseAnswer, 1);
  self->score = hepa_case_score_compute (classes, answers, n_answers);
  fill (self);
  if (scores_path != NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("Kept in %s"), scores_path);

      gtk_label_set_text (GTK_LABEL (self->scores_label), msg);
    }
  gtk_window_set_default_widget (GTK_WINDOW (self), self->close_button);
  gtk_widget_grab_focus (self->close_button);
  return self;
}

const HepaCaseScore *
hepa_score_sheet_get_score (HepaScoreSheet *self)
{
  g_return_val_if_fail (HEPA_IS_SCORE_SHEET (self), NULL);
  return self->score;
}

const HepaCase *
hepa_score_sheet_get_case (HepaScoreSheet *self,
                           guint           index)
{
  guint k;

  g_return_val_if_fail (HEPA_IS_SCORE_SHEET (self), NULL);
  if (index >= self->score->n_cases)
    return NULL;
  k = self->order != NULL ? self->order[index] : index;
  return k < self->set->cases->len ? g_ptr_array_index (self->set->cases, k) : NULL;
}
