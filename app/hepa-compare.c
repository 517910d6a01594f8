/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-compare.h"

#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-image.h"
#include "hepa-model-library.h"
#include "hepa-review.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

void
hepa_comparison_free (HepaComparison *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->items);
  for (int m = 0; m < 2; m++)
    {
      g_clear_pointer (&self->metrics[m], hepa_metrics_free);
      g_strfreev (self->top[m]);
      g_free (self->top_p[m]);
    }
  g_array_unref (self->disagree);
  g_free (self);
}

static int
class_index (const HepaModelCard *card,
             const char          *label)
{
  for (guint k = 0; k < card->n_classes; k++)
    if (g_str_equal (card->classes[k], label))
      return (int) k;
  return -1;
}

HepaComparison *
hepa_compare_run (HepaModel          *a,
                  HepaModel          *b,
                  const char *const  *paths,
                  GCancellable       *cancellable,
                  GError            **error)
{
  HepaModel *models[2] = { a, b };
  HepaEngine *engines[2] = { NULL, NULL };
  g_autoptr(GPtrArray) items = hepa_review_collect (paths);
  g_autoptr(HepaComparison) self = g_new0 (HepaComparison, 1);
  GArray *labels[2], *probs[2], *top_ps[2];
  GPtrArray *tops[2];
  g_autoptr(HepaImage) image = NULL;
  const char *open_path = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  self->items = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_review_item_free);
  self->disagree = g_array_new (FALSE, FALSE, sizeof (guint));
  for (int m = 0; m < 2; m++)
    {
      labels[m] = g_array_new (FALSE, FALSE, sizeof (int));
      probs[m] = g_array_new (FALSE, FALSE, sizeof (float));
      top_ps[m] = g_array_new (FALSE, FALSE, sizeof (float));
      tops[m] = g_ptr_array_new ();
    }
  for (int m = 0; m < 2 && ok; m++)
    {
      engines[m] = hepa_engine_new (models[m], error);
      ok = engines[m] != NULL;
    }
  for (guint i = 0; ok && i < items->len; i++)
    {
      HepaReviewItem *item = g_ptr_array_index (items, i);
      const HepaFrame *frame;
      HepaResult *results[2] = { NULL, NULL };
      int idx[2];

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      if (item->label == NULL)
        continue;
      idx[0] = class_index (hepa_model_get_card (a), item->label);
      idx[1] = class_index (hepa_model_get_card (b), item->label);
      if (idx[0] < 0 || idx[1] < 0)
        {
          self->n_skipped++;
          continue;
        }
      if (open_path == NULL || !g_str_equal (open_path, item->path))
        {
          g_clear_pointer (&image, hepa_image_unref);
          image = hepa_image_open (item->path, NULL);
          open_path = item->path;
        }
      frame = image != NULL ? hepa_image_get_frame (image, item->frame, NULL) : NULL;
      for (int m = 0; frame != NULL && m < 2; m++)
        results[m] = hepa_engine_classify (engines[m], frame, &item->rect, cancellable, NULL);
      if (results[0] == NULL || results[1] == NULL)
        {
          g_clear_pointer (&results[0], hepa_result_free);
          g_clear_pointer (&results[1], hepa_result_free);
          self->n_skipped++;
          continue;
        }
      for (int m = 0; m < 2; m++)
        {
          const HepaModelCard *card = hepa_model_get_card (models[m]);

          g_array_append_val (labels[m], idx[m]);
          g_array_append_vals (probs[m], results[m]->probabilities, card->n_classes);
          g_ptr_array_add (tops[m], g_strdup (card->classes[results[m]->top]));
          g_array_append_val (top_ps[m], results[m]->probabilities[results[m]->top]);
          hepa_result_free (results[m]);
        }
      if (!g_str_equal (g_ptr_array_index (tops[0], tops[0]->len - 1),
                        g_ptr_array_index (tops[1], tops[1]->len - 1)))
        {
          guint index = self->items->len;

          g_array_append_val (self->disagree, index);
        }
      g_ptr_array_add (self->items, g_ptr_array_steal_index (items, i));
      g_ptr_array_insert (items, i, NULL);
    }
  for (int m = 0; m < 2; m++)
    if (engines[m] != NULL)
      hepa_engine_free (engines[m]);
  for (int m = 0; m < 2; m++)
    {
      g_ptr_array_add (tops[m], NULL);
      self->top[m] = (char **) g_ptr_array_free (tops[m], FALSE);
      self->top_p[m] = (float *) (void *) g_array_free (top_ps[m], FALSE);
    }
  if (ok && self->items->len > 0)
    for (int m = 0; m < 2; m++)
      {
        const HepaModelCard *card = hepa_model_get_card (models[m]);

        self->metrics[m] = hepa_metrics_compute (card->n_classes,
                                                 (const char *const *) card->classes,
                                                 self->items->len, (int *) labels[m]->data,
                                                 (float *) probs[m]->data);
      }
  for (int m = 0; m < 2; m++)
    {
      g_array_unref (labels[m]);
      g_array_unref (probs[m]);
    }
  if (!ok)
    return NULL;
  if (self->items->len == 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("No labeled region could be compared (%u left out: a label one model "
                     "lacks, or a file that cannot be read)"), self->n_skipped);
      return NULL;
    }
  return g_steal_pointer (&self);
}

/* ---- The window ---------------------------------------------------------------------------- */

struct _HepaCompare
{
  GtkWindow       parent_instance;

  GStrv           paths;
  GPtrArray      *models;       /* (element-type HepaModelEntry) */
  GtkDropDown    *choice[2];
  GtkLabel       *status;
  GtkGrid        *table;
  GtkBox         *disagree_box;
  GCancellable   *cancellable;
  HepaComparison *result;
  char           *names[2];
};

G_DEFINE_FINAL_TYPE (HepaCompare, hepa_compare, GTK_TYPE_WINDOW)

enum {
  ROI_ACTIVATED,
  FINISHED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

typedef struct
{
  char   *paths[2];
  GStrv   study;
} Job;

static void
job_free (Job *job)
{
  g_free (job->paths[0]);
  g_free (job->paths[1]);
  g_strfreev (job->study);
  g_free (job);
}

static void
compare_thread (GTask        *task,
                gpointer      source,
                gpointer      task_data,
                GCancellable *cancellable)
{
  Job *job = task_data;
  g_autoptr(HepaModel) a = NULL;
  g_autoptr(HepaModel) b = NULL;
  HepaComparison *result;
  GError *error = NULL;

  a = hepa_model_load (job->paths[0], &error);
  if (a != NULL)
    b = hepa_model_load (job->paths[1], &error);
  if (a == NULL || b == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  result = hepa_compare_run (a, b, (const char *const *) job->study, cancellable, &error);
  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) hepa_comparison_free);
}

static void
disagree_clicked (GtkButton   *button,
                  HepaCompare *self)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "hepa-index"));
  const HepaReviewItem *item = g_ptr_array_index (self->result->items, index);

  g_signal_emit (self, signals[ROI_ACTIVATED], 0, item->path, item->roi_id);
}

static void
put (GtkGrid    *grid,
     int         column,
     int         row,
     const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), column == 0 ? 0.0 : 1.0);
  gtk_grid_attach (grid, label, column, row, 1, 1);
}

static char *
value_text (double v)
{
  return isnan (v) ? g_strdup ("–") : g_strdup_printf ("%.3f", v);
}

static void
show_result (HepaCompare *self)
{
  const HepaComparison *r = self->result;
  GtkWidget *child;
  g_autofree char *status = NULL;
  const char *heads[5] = { N_("Class"), N_("Sensitivity A"), N_("Sensitivity B"),
                           N_("Specificity A"), N_("Specificity B") };

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->table))) != NULL)
    gtk_grid_remove (self->table, child);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->disagree_box))) != NULL)
    gtk_box_remove (self->disagree_box, child);

  for (int c = 0; c < 5; c++)
    put (self->table, c, 0, _(heads[c]));
  for (guint k = 0; k < r->metrics[0]->n_classes; k++)
    {
      const char *name = r->metrics[0]->classes[k];
      int kb = -1;
      char *cells[4];

      for (guint j = 0; j < r->metrics[1]->n_classes; j++)
        if (g_str_equal (r->metrics[1]->classes[j], name))
          kb = (int) j;
      cells[0] = value_text (r->metrics[0]->sensitivity[k]);
      cells[1] = value_text (kb >= 0 ? r->metrics[1]->sensitivity[kb] : NAN);
      cells[2] = value_text (r->metrics[0]->specificity[k]);
      cells[3] = value_text (kb >= 0 ? r->metrics[1]->specificity[kb] : NAN);
      put (self->table, 0, (int) k + 1, name);
      for (int c = 0; c < 4; c++)
        {
          put (self->table, c + 1, (int) k + 1, cells[c]);
          g_free (cells[c]);
        }
    }
  /* Translators: the result of comparing two models (A and B) */
  status = g_strdup_printf (_("%u regions: accuracy A %.3f, B %.3f; they disagree on %u; "
                              "%u left out"), r->items->len, r->metrics[0]->accuracy,
                            r->metrics[1]->accuracy, r->disagree->len, r->n_skipped);
  gtk_label_set_text (self->status, status);
  for (guint i = 0; i < r->disagree->len; i++)
    {
      guint index = g_array_index (r->disagree, guint, i);
      const HepaReviewItem *item = g_ptr_array_index (r->items, index);
      g_autofree char *base = g_path_get_basename (item->path);
      /* Translators: a region where two models disagree: file, label, A's and B's answers */
      g_autofree char *text = g_strdup_printf (_("%s: labeled %s; A says %s (%.2f), B says %s "
                                                 "(%.2f)"), base, item->label,
                                               r->top[0][index], r->top_p[0][index],
                                               r->top[1][index], r->top_p[1][index]);
      GtkWidget *button = gtk_button_new_with_label (text);

      gtk_widget_add_css_class (button, "flat");
      g_object_set_data (G_OBJECT (button), "hepa-index", GUINT_TO_POINTER (index));
      g_signal_connect (button, "clicked", G_CALLBACK (disagree_clicked), self);
      gtk_box_append (self->disagree_box, button);
    }
}

static void
compare_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  HepaCompare *self = HEPA_COMPARE (source);
  g_autoptr(GError) error = NULL;
  HepaComparison *comparison = g_task_propagate_pointer (G_TASK (result), &error);

  if (comparison == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_label_set_text (self->status, error->message);
    }
  else
    {
      g_clear_pointer (&self->result, hepa_comparison_free);
      self->result = comparison;
      show_result (self);
    }
  g_signal_emit (self, signals[FINISHED], 0);
}

void
hepa_compare_start (HepaCompare *self,
                    const char  *model_a,
                    const char  *model_b)
{
  g_autoptr(GTask) task = NULL;
  Job *job;

  g_return_if_fail (HEPA_IS_COMPARE (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  job = g_new0 (Job, 1);
  job->paths[0] = g_strdup (model_a);
  job->paths[1] = g_strdup (model_b);
  job->study = g_strdupv (self->paths);
  gtk_label_set_text (self->status, _("Classifying the labeled regions with both models…"));
  task = g_task_new (self, self->cancellable, compare_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, compare_thread);
}

const HepaComparison *
hepa_compare_get_result (HepaCompare *self)
{
  return self->result;
}

static void
compare_clicked (HepaCompare *self)
{
  guint a = gtk_drop_down_get_selected (self->choice[0]);
  guint b = gtk_drop_down_get_selected (self->choice[1]);

  if (a >= self->models->len || b >= self->models->len)
    {
      gtk_label_set_text (self->status, _("Pick two models from the library"));
      return;
    }
  hepa_compare_start (self, ((HepaModelEntry *) self->models->pdata[a])->path,
                      ((HepaModelEntry *) self->models->pdata[b])->path);
}

static void
hepa_compare_init (HepaCompare *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *go = gtk_button_new_with_mnemonic (_("_Compare"));
  GtkWidget *scroller = gtk_scrolled_window_new ();

  gtk_window_set_title (GTK_WINDOW (self), _("Compare Models"));
  gtk_window_set_default_size (GTK_WINDOW (self), 760, 600);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  for (int m = 0; m < 2; m++)
    {
      self->choice[m] = GTK_DROP_DOWN (gtk_drop_down_new_from_strings ((const char *const[]) {
                                                                         NULL }));
      gtk_widget_set_hexpand (GTK_WIDGET (self->choice[m]), TRUE);
      gtk_box_append (GTK_BOX (row), GTK_WIDGET (self->choice[m]));
    }
  gtk_box_append (GTK_BOX (row), go);
  g_signal_connect_swapped (go, "clicked", G_CALLBACK (compare_clicked), self);
  gtk_box_append (GTK_BOX (box), row);
  self->status = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->status, 0);
  gtk_label_set_wrap (self->status, TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status));
  self->table = GTK_GRID (gtk_grid_new ());
  gtk_grid_set_column_spacing (self->table, 16);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->table));
  self->disagree_box = GTK_BOX (gtk_box_new (GTK_ORIENTATION_VERTICAL, 2));
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->disagree_box));
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_box_append (GTK_BOX (box), scroller);
  gtk_window_set_child (GTK_WINDOW (self), box);
}

static void
hepa_compare_dispose (GObject *object)
{
  HepaCompare *self = HEPA_COMPARE (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (hepa_compare_parent_class)->dispose (object);
}

static void
hepa_compare_finalize (GObject *object)
{
  HepaCompare *self = HEPA_COMPARE (object);

  g_strfreev (self->paths);
  g_clear_pointer (&self->models, g_ptr_array_unref);
  g_clear_pointer (&self->result, hepa_comparison_free);
  G_OBJECT_CLASS (hepa_compare_parent_class)->finalize (object);
}

static void
hepa_compare_class_init (HepaCompareClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hepa_compare_dispose;
  G_OBJECT_CLASS (klass)->finalize = hepa_compare_finalize;

  /* (image path, ROI id) of a region where the models disagree. */
  signals[ROI_ACTIVATED] = g_signal_new ("roi-activated", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                         G_TYPE_STRING, G_TYPE_STRING);
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 0);
}

HepaCompare *
hepa_compare_new (GtkWindow         *parent,
                  const char *const *paths,
                  const char        *current_model)
{
  HepaCompare *self = g_object_new (HEPA_TYPE_COMPARE, NULL);
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);

  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (self), parent);
  self->paths = g_strdupv ((char **) paths);
  self->models = hepa_model_library_list (NULL, NULL);
  if (self->models == NULL)
    self->models = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_model_entry_free);
  if (current_model != NULL)
    g_ptr_array_insert (self->models, 0, hepa_model_library_read (current_model));
  for (guint i = 0; i < self->models->len; i++)
    {
      const HepaModelEntry *e = g_ptr_array_index (self->models, i);
      g_autofree char *text = g_strdup_printf ("%s (%.10s)", e->name, e->created);

      gtk_string_list_append (names, text);
    }
  for (int m = 0; m < 2; m++)
    {
      gtk_drop_down_set_model (self->choice[m], G_LIST_MODEL (names));
      gtk_drop_down_set_selected (self->choice[m], MIN ((guint) m, self->models->len - 1));
    }
  if (self->models->len < 2)
    gtk_label_set_text (self->status, _("The library needs at least two models to compare"));
  return self;
}

HepaCompare *
hepa_compare_present (GtkWindow         *parent,
                      const char *const *paths,
                      const char        *current_model)
{
  HepaCompare *self = hepa_compare_new (parent, paths, current_model);

  gtk_window_present (GTK_WINDOW (self));
  return self;
}
