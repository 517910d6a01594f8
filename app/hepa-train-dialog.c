/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-train-dialog.h"

#include "hepa-core.h"
#include "hepa-export.h"
#include "hepa-model-library.h"
#include "hepa-report.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The nice value of the training thread and of the threads it starts (as for inference). */
#define TRAIN_NICE 10

struct _HepaTrainDialog
{
  GtkWindow         parent_instance;

  GStrv             study_paths;
  GPtrArray        *folders;          /* (element-type utf8) */
  char             *current_model;
  HepaTrainOptions  opts;

  GtkDropDown      *preset;
  GtkLabel         *data_label;
  GtkDropDown      *arch;
  GtkSpinButton    *size;
  GtkSpinButton    *epochs;
  GtkSpinButton    *folds;
  GtkSpinButton    *batch;
  GtkSpinButton    *lr;
  GtkSpinButton    *momentum;
  GtkSpinButton    *weight_decay;
  GtkCheckButton   *cosine;
  GtkSpinButton    *warmup;
  GtkSpinButton    *seed;
  GtkCheckButton   *vflip;
  GtkSpinButton    *translate;
  GtkSpinButton    *rescale;
  GtkCheckButton   *balance;
  GtkProgressBar   *progress;
  GtkLabel         *status;
  GtkDrawingArea   *curves;
  GtkLabel         *report;
  GtkBox           *plots;
  GtkButton        *train_button;
  GtkButton        *cancel_button;
  GtkButton        *adopt_button;

  GCancellable     *cancellable;
  gboolean          running;
  gboolean          updating;
  char             *private_dir;
  char             *model_path;       /* the trained model in private_dir */
  char             *checkpoint;       /* after a cancel */
  char             *error_message;
  HepaTrainResult  *result;
  GArray           *loss;             /* (element-type double) running loss per progress */
  GArray           *loss_step;        /* (element-type double) fraction of the job */
  gint64            train_start;      /* monotonic us, when the first step came */
};

G_DEFINE_FINAL_TYPE (HepaTrainDialog, hepa_train_dialog, GTK_TYPE_WINDOW)

enum {
  FINISHED,
  MODEL_ADOPTED,
  PROGRESS,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* ---- Options <-> widgets ------------------------------------------------------------------- */

static void
read_widgets (HepaTrainDialog *self)
{
  HepaTrainOptions *o = &self->opts;

  if (self->updating)
    return;
  o->arch = gtk_drop_down_get_selected (self->arch) == 1 ? HEPA_ARCH_RESNET50 : HEPA_ARCH_RESNET18;
  o->size = gtk_spin_button_get_value_as_int (self->size);
  o->epochs = gtk_spin_button_get_value_as_int (self->epochs);
  o->folds = gtk_spin_button_get_value_as_int (self->folds);
  o->final_model = o->folds >= 2;
  o->batch = gtk_spin_button_get_value_as_int (self->batch);
  o->lr = gtk_spin_button_get_value (self->lr);
  o->momentum = gtk_spin_button_get_value (self->momentum);
  o->weight_decay = gtk_spin_button_get_value (self->weight_decay);
  o->cosine = gtk_check_button_get_active (self->cosine);
  o->warmup = gtk_spin_button_get_value_as_int (self->warmup);
  o->seed = (guint64) gtk_spin_button_get_value (self->seed);
  o->vflip = gtk_check_button_get_active (self->vflip);
  o->translate = gtk_spin_button_get_value (self->translate);
  o->rescale = gtk_spin_button_get_value (self->rescale);
  o->balance = gtk_check_button_get_active (self->balance);
}

static void
write_widgets (HepaTrainDialog *self)
{
  const HepaTrainOptions *o = &self->opts;

  self->updating = TRUE;
  gtk_drop_down_set_selected (self->arch, o->arch == HEPA_ARCH_RESNET50 ? 1 : 0);
  gtk_spin_button_set_value (self->size, o->size);
  gtk_spin_button_set_value (self->epochs, o->epochs);
  gtk_spin_button_set_value (self->folds, o->folds);
  gtk_spin_button_set_value (self->batch, o->batch);
  gtk_spin_button_set_value (self->lr, o->lr);
  gtk_spin_button_set_value (self->momentum, o->momentum);
  gtk_spin_button_set_value (self->weight_decay, o->weight_decay);
  gtk_check_button_set_active (self->cosine, o->cosine);
  gtk_spin_button_set_value (self->warmup, o->warmup);
  gtk_spin_button_set_value (self->seed, (double) o->seed);
  gtk_check_button_set_active (self->vflip, o->vflip);
  gtk_spin_button_set_value (self->translate, o->translate);
  gtk_spin_button_set_value (self->rescale, o->rescale);
  gtk_check_button_set_active (self->balance, o->balance);
  self->updating = FALSE;
}

static void
widget_changed (HepaTrainDialog *self)
{
  read_widgets (self);
}

void
hepa_train_dialog_set_options (HepaTrainDialog        *self,
                               const HepaTrainOptions *opts)
{
  g_return_if_fail (HEPA_IS_TRAIN_DIALOG (self));

  self->opts.arch = opts->arch;
  self->opts.size = opts->size;
  self->opts.epochs = opts->epochs;
  self->opts.folds = opts->folds;
  self->opts.final_model = opts->folds >= 2;
  self->opts.batch = opts->batch;
  self->opts.lr = opts->lr;
  self->opts.momentum = opts->momentum;
  self->opts.weight_decay = opts->weight_decay;
  self->opts.cosine = opts->cosine;
  self->opts.warmup = opts->warmup;
  self->opts.seed = opts->seed;
  self->opts.vflip = opts->vflip;
  self->opts.translate = opts->translate;
  self->opts.rescale = opts->rescale;
  self->opts.balance = opts->balance;
  self->opts.max_steps = opts->max_steps;
  write_widgets (self);
  read_widgets (self);
}

const HepaTrainOptions *
hepa_train_dialog_get_options (HepaTrainDialog *self)
{
  g_return_val_if_fail (HEPA_IS_TRAIN_DIALOG (self), NULL);

  return &self->opts;
}

void
hepa_train_dialog_set_preset (HepaTrainDialog *self,
                              HepaTrainPreset  preset)
{
  HepaTrainOptions *o = &self->opts;

  g_return_if_fail (HEPA_IS_TRAIN_DIALOG (self));

  g_clear_pointer (&o->init, g_free);
  hepa_train_options_clear (o);
  hepa_train_options_init (o);
  switch (preset)
    {
    case HEPA_TRAIN_PRESET_QUICK:
      o->arch = HEPA_ARCH_RESNET18;
      o->size = 64;
      o->epochs = 3;
      o->folds = 1;
      o->final_model = FALSE;
      o->lr = 0.01;
      o->cosine = TRUE;
      break;
    case HEPA_TRAIN_PRESET_FINETUNE:
      if (self->current_model != NULL)
        {
          g_autoptr(HepaModelEntry) entry = hepa_model_library_read (self->current_model);

          if (g_str_equal (entry->arch, "resnet18"))
            o->arch = HEPA_ARCH_RESNET18;
          if (entry->input_size > 0)
            o->size = entry->input_size;
          o->init = g_strdup (self->current_model);
        }
      o->epochs = 10;
      o->folds = 1;
      o->final_model = FALSE;
      o->lr = 1e-3;
      break;
    case HEPA_TRAIN_PRESET_PAPER:
    default:
      o->arch = HEPA_ARCH_RESNET50;
      o->size = 224;
      o->folds = 5;
      o->final_model = TRUE;
      break;
    }
  if (gtk_drop_down_get_selected (self->preset) != (guint) preset)
    gtk_drop_down_set_selected (self->preset, preset);
  write_widgets (self);
}

static void
preset_changed (HepaTrainDialog *self)
{
  guint selected = gtk_drop_down_get_selected (self->preset);

  if (selected <= HEPA_TRAIN_PRESET_FINETUNE)
    hepa_train_dialog_set_preset (self, (HepaTrainPreset) selected);
}

static void
update_data_label (HepaTrainDialog *self)
{
  guint n = self->study_paths != NULL ? g_strv_length (self->study_paths) : 0;
  g_autofree char *text = NULL;

  /* Translators: what a model is trained on */
  text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                       "The current study (%u file) and %u more folders",
                                       "The current study (%u files) and %u more folders", n),
                          n, self->folders->len);
  gtk_label_set_text (self->data_label, text);
}

void
hepa_train_dialog_add_folder (HepaTrainDialog *self,
                              const char      *folder)
{
  g_return_if_fail (HEPA_IS_TRAIN_DIALOG (self));

  g_ptr_array_add (self->folders, g_strdup (folder));
  update_data_label (self);
}

static void
folder_chosen (GtkNativeDialog *chooser,
               int              response,
               gpointer         user_data)
{
  HepaTrainDialog *self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        hepa_train_dialog_add_folder (self, path);
    }
  g_object_unref (chooser);
  g_object_unref (self);
}

static void
add_folder_clicked (HepaTrainDialog *self)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Add a Folder of Labeled Images"),
                                                               GTK_WINDOW (self),
                                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                               _("_Add"), _("_Cancel"));

  g_signal_connect (chooser, "response", G_CALLBACK (folder_chosen), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- Curves -------------------------------------------------------------------------------- */

static void
draw_series (cairo_t      *cr,
             double        x0,
             double        y0,
             double        w,
             double        h,
             const double *xs,
             const double *ys,
             guint         n,
             double        y_max)
{
  gboolean started = FALSE;

  for (guint i = 0; i < n; i++)
    {
      double x, y;

      if (!isfinite (ys[i]))
        continue;
      x = x0 + w * xs[i];
      y = y0 + h - h * CLAMP (ys[i] / y_max, 0.0, 1.0);
      if (!started)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
      started = TRUE;
    }
  cairo_stroke (cr);
}

static void
draw_panel_frame (cairo_t    *cr,
                  double      x0,
                  double      y0,
                  double      w,
                  double      h,
                  const char *title)
{
  cairo_set_source_rgb (cr, 0.5, 0.5, 0.5);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, x0 + 0.5, y0 + 0.5, w, h);
  cairo_stroke (cr);
  cairo_move_to (cr, x0 + 4, y0 + 14);
  cairo_set_font_size (cr, 11);
  cairo_show_text (cr, title);
}

static void
draw_curves (GtkDrawingArea *area,
             cairo_t        *cr,
             int             width,
             int             height,
             gpointer        user_data)
{
  HepaTrainDialog *self = user_data;
  double pw = (width - 30) / 2.0, ph = height - 20;
  double loss_max = 0.0;

  draw_panel_frame (cr, 10, 10, pw, ph, _("Training loss"));
  draw_panel_frame (cr, 20 + pw, 10, pw, ph, _("Accuracy per epoch"));

  for (guint i = 0; i < self->loss->len; i++)
    loss_max = MAX (loss_max, g_array_index (self->loss, double, i));
  if (self->loss->len > 0 && loss_max > 0)
    {
      cairo_set_source_rgb (cr, 0.85, 0.35, 0.1);
      cairo_set_line_width (cr, 1.5);
      draw_series (cr, 10, 20, pw, ph - 10, (double *) self->loss_step->data,
                   (double *) self->loss->data, self->loss->len, loss_max * 1.05);
    }

  /* Accuracy comes per epoch with the result: training (blue) and held-out (green) of each
   * run. */
  if (self->result != NULL)
    for (guint r = 0; r < self->result->runs->len; r++)
      {
        HepaTrainRun *run = g_ptr_array_index (self->result->runs, r);
        g_autofree double *xs = g_new (double, MAX (run->n_epochs, 1));

        for (guint e = 0; e < run->n_epochs; e++)
          xs[e] = run->n_epochs > 1 ? (double) e / (run->n_epochs - 1) : 0.5;
        cairo_set_line_width (cr, 1.5);
        cairo_set_source_rgb (cr, 0.1, 0.4, 0.85);
        draw_series (cr, 20 + pw, 20, pw, ph - 10, xs, run->train_acc, run->n_epochs, 1.0);
        cairo_set_source_rgb (cr, 0.1, 0.65, 0.3);
        draw_series (cr, 20 + pw, 20, pw, ph - 10, xs, run->test_acc, run->n_epochs, 1.0);
      }
}

/* ---- The worker ---------------------------------------------------------------------------- */

typedef struct
{
  HepaTrainDialog  *self;            /* a reference */
  GStrv             inputs;
  HepaTrainOptions  opts;
  char             *private_dir;
  char             *model_path;
  char             *resume;
  GCancellable     *cancellable;
  GMainContext     *context;
  HepaTrainResult  *result;
} Job;

static void
job_free (Job *job)
{
  g_object_unref (job->self);
  g_strfreev (job->inputs);
  hepa_train_options_clear (&job->opts);
  g_free (job->private_dir);
  g_free (job->model_path);
  g_free (job->resume);
  g_object_unref (job->cancellable);
  g_main_context_unref (job->context);
  g_clear_pointer (&job->result, hepa_train_result_free);
  g_free (job);
}

typedef struct
{
  HepaTrainDialog   *self;
  HepaTrainProgress  progress;
  char              *phase;           /* non-NULL: a phase line instead of a step */
  double             fraction;
} Update;

static gboolean
apply_update (gpointer data)
{
  Update *u = data;
  HepaTrainDialog *self = u->self;

  /* Threads the trainer started since (BLAS, OpenMP) get the worker's priority too. */
  hepa_core_lower_worker_priority (TRAIN_NICE);
  if (u->phase != NULL)
    {
      gtk_label_set_text (self->status, u->phase);
      gtk_progress_bar_set_fraction (self->progress, u->fraction);
    }
  else
    {
      const HepaTrainProgress *p = &u->progress;
      double fraction = p->total_steps > 0 ? (double) p->global_step / p->total_steps : 0.0;
      double elapsed;
      g_autofree char *text = NULL;
      g_autofree char *eta = NULL;

      if (self->train_start == 0)
        self->train_start = g_get_monotonic_time ();
      elapsed = (g_get_monotonic_time () - self->train_start) / 1e6;
      if (fraction > 0.01)
        {
          int left = (int) (elapsed / fraction * (1.0 - fraction) + 0.5);

          /* Translators: time left, minutes and seconds */
          eta = g_strdup_printf (_("about %d:%02d left"), left / 60, left % 60);
        }
      /* Translators: run (fold) and epoch of a training job, its loss and the time left */
      text = g_strdup_printf (_("Run %d of %d, epoch %d of %d, loss %.3f, %.0f images/s %s"),
                              p->run + 1, p->n_runs, p->epoch + 1, p->n_epochs, p->loss,
                              p->img_per_s, eta != NULL ? eta : "");
      gtk_label_set_text (self->status, text);
      gtk_progress_bar_set_fraction (self->progress, CLAMP (fraction, 0.0, 1.0));
      if (isfinite (p->loss))
        {
          g_array_append_val (self->loss, p->loss);
          g_array_append_val (self->loss_step, fraction);
          gtk_widget_queue_draw (GTK_WIDGET (self->curves));
        }
    }
  g_signal_emit (self, signals[PROGRESS], 0, gtk_progress_bar_get_fraction (self->progress),
                 gtk_label_get_text (self->status), u->phase == NULL);
  g_object_unref (u->self);
  g_free (u->phase);
  g_free (u);
  return G_SOURCE_REMOVE;
}

static void
post_phase (Job        *job,
            const char *phase,
            double      fraction)
{
  Update *u = g_new0 (Update, 1);

  u->self = g_object_ref (job->self);
  u->phase = g_strdup (phase);
  u->fraction = fraction;
  g_main_context_invoke (job->context, apply_update, u);
}

static void
train_progress (const HepaTrainProgress *progress,
                gpointer                 user_data)
{
  Job *job = user_data;
  Update *u = g_new0 (Update, 1);

  u->self = g_object_ref (job->self);
  u->progress = *progress;
  g_main_context_invoke (job->context, apply_update, u);
}

static void
export_progress (guint    done,
                 guint    total,
                 gpointer user_data)
{
  Job *job = user_data;
  g_autofree char *text = g_strdup_printf (_("Exporting labeled regions: %u of %u files"), done,
                                           total);

  post_phase (job, text, total > 0 ? (double) done / total : 0.0);
}

static void
train_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  Job *job = task_data;
  g_autofree char *tree = g_build_filename (job->private_dir, "data", NULL);
  g_autoptr(HepaDataset) data = NULL;
  GError *error = NULL;

  /* Lowered like inference: the main loop keeps its priority. */
  setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), TRAIN_NICE);

  if (job->resume == NULL)
    {
      g_autofree char *key = g_build_filename (job->private_dir, "export.key", NULL);
      g_autoptr(HepaModelCard) card = NULL;
      g_autoptr(HepaExportSummary) summary = NULL;
      HepaExportOptions options;

      if (job->opts.init != NULL)
        {
          g_autoptr(HepaModelEntry) entry = hepa_model_library_read (job->opts.init);

          card = hepa_export_card_new_default (entry->classes[0] != NULL
                                               ? (const char *const *) entry->classes : NULL);
        }
      else
        card = hepa_export_card_new_default (NULL);
      card->input_size = job->opts.size;
      hepa_export_options_init (&options, tree, card);
      options.frames = FALSE;
      options.key_path = key;
      g_mkdir_with_parents (tree, 0700);
      summary = hepa_export_run (&options, (const char *const *) job->inputs, export_progress,
                                 job, cancellable, &error);
      if (summary == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
      if (summary->n_exported == 0)
        {
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                   _("No labeled region could be exported from the study "
                                     "(%u files skipped); nothing to train on"),
                                   summary->n_skipped);
          return;
        }
    }

  data = hepa_dataset_load (tree, &error);
  if (data == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (job->resume == NULL)
    {
      HepaModelCard card = { 0 };
      const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };

      post_phase (job, _("Loading images"), 0.0);
      card.input_size = job->opts.size;
      card.grayscale = TRUE;
      card.resize = HEPA_RESIZE_STRETCH;
      memcpy (card.mean, mean, sizeof mean);
      memcpy (card.std, std, sizeof std);
      if (!hepa_dataset_preload (data, &card, NULL, NULL, cancellable, &error))
        {
          g_task_return_error (task, error);
          return;
        }
    }
  post_phase (job, _("Training"), 0.0);
  job->result = hepa_train_run (data, &job->opts, job->model_path, job->resume, train_progress,
                                job, cancellable, &error);
  if (job->result == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!job->result->interrupted)
    {
      g_autofree char *report = g_build_filename (job->private_dir, "report", NULL);
      g_autoptr(GError) report_error = NULL;

      /* A report that cannot be written does not undo the model. */
      if (!hepa_report_write_train (job->result, report, &report_error))
        g_warning ("%s", report_error->message);
    }
  g_task_return_boolean (task, TRUE);
}

static void
set_running (HepaTrainDialog *self,
             gboolean         running)
{
  self->running = running;
  gtk_widget_set_sensitive (GTK_WIDGET (self->train_button), !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cancel_button), running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->preset), !running);
  gtk_widget_set_visible (GTK_WIDGET (self->adopt_button),
                          !running && self->result != NULL && !self->result->interrupted);
  gtk_button_set_label (self->train_button, self->checkpoint != NULL ? _("_Resume") : _("_Train"));
}

static void
show_report (HepaTrainDialog *self)
{
  GString *text = g_string_new (NULL);
  g_autofree char *report = g_build_filename (self->private_dir, "report", NULL);
  const char *plots[] = { "confusion.png", "roc.png" };
  GtkWidget *child;
  double sum = 0, sum2 = 0;
  guint n_folds = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->plots))) != NULL)
    gtk_box_remove (self->plots, child);

  g_string_append_printf (text, _("%u images, %u classes, %.0f s"), self->result->n_samples,
                          self->result->n_classes, self->result->seconds);
  g_string_append_c (text, '\n');
  for (guint r = 0; r < self->result->runs->len; r++)
    {
      HepaTrainRun *run = g_ptr_array_index (self->result->runs, r);
      double last_loss = run->n_epochs > 0 ? run->train_loss[run->n_epochs - 1] : NAN;

      g_string_append_printf (text, "%s: %u %s, %s %.3f", run->name, run->n_epochs,
                              _("epochs"), _("training loss"), last_loss);
      if (run->metrics != NULL)
        {
          g_string_append_printf (text, ", %s %.3f", _("held-out accuracy"),
                                  run->metrics->accuracy);
          sum += run->metrics->accuracy;
          sum2 += run->metrics->accuracy * run->metrics->accuracy;
          n_folds++;
        }
      g_string_append_c (text, '\n');
    }
  if (n_folds >= 2)
    {
      double mean = sum / n_folds;
      double sd = sqrt (MAX (0.0, (sum2 - n_folds * mean * mean) / (n_folds - 1)));

      /* Translators: cross-validated accuracy, mean ± standard deviation over the folds */
      g_string_append_printf (text, _("Cross-validation accuracy %.3f ± %.3f (%u folds)"), mean,
                              sd, n_folds);
      g_string_append_c (text, '\n');
    }
  gtk_label_set_text (self->report, text->str);
  g_string_free (text, TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (plots); i++)
    {
      g_autofree char *path = g_build_filename (report, plots[i], NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          GtkWidget *picture = gtk_picture_new_for_filename (path);

          gtk_widget_set_size_request (picture, 220, 220);
          gtk_box_append (self->plots, picture);
        }
    }
}

static void
train_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  HepaTrainDialog *self = HEPA_TRAIN_DIALOG (source);
  Job *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->error_message, g_free);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      self->error_message = g_strdup (error->message);
      gtk_label_set_text (self->status, error->message);
    }
  else
    {
      g_clear_pointer (&self->result, hepa_train_result_free);
      self->result = g_steal_pointer (&job->result);
      g_clear_pointer (&self->checkpoint, g_free);
      if (self->result->interrupted)
        {
          self->checkpoint = g_strdup (self->result->checkpoint);
          gtk_label_set_text (self->status, _("Cancelled; Resume continues from where it stopped"));
        }
      else
        {
          gtk_progress_bar_set_fraction (self->progress, 1.0);
          gtk_label_set_text (self->status, _("Done"));
          show_report (self);
        }
      gtk_widget_queue_draw (GTK_WIDGET (self->curves));
    }
  g_clear_object (&self->cancellable);
  set_running (self, FALSE);
  g_signal_emit (self, signals[FINISHED], 0);
}

void
hepa_train_dialog_start (HepaTrainDialog *self)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GStrvBuilder) inputs = g_strv_builder_new ();
  Job *job;

  g_return_if_fail (HEPA_IS_TRAIN_DIALOG (self));

  if (self->running)
    return;
  read_widgets (self);
  if (self->checkpoint == NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
      g_autofree char *base = g_build_filename (g_get_user_cache_dir (), "hepascope", "train",
                                                NULL);
      g_autofree char *tmpl = g_strdup_printf ("%s-XXXXXX", stamp);

      g_mkdir_with_parents (base, 0700);
      g_free (self->private_dir);
      {
        g_autofree char *path = g_build_filename (base, tmpl, NULL);

        self->private_dir = g_mkdtemp (g_steal_pointer (&path));
      }
      if (self->private_dir == NULL)
        {
          self->error_message = g_strdup_printf (_("Could not create a folder in %s"), base);
          gtk_label_set_text (self->status, self->error_message);
          return;
        }
      g_free (self->model_path);
      self->model_path = g_build_filename (self->private_dir, "model.safetensors", NULL);
      g_array_set_size (self->loss, 0);
      g_array_set_size (self->loss_step, 0);
      self->train_start = 0;
    }
  g_clear_pointer (&self->result, hepa_train_result_free);

  for (guint i = 0; self->study_paths != NULL && self->study_paths[i] != NULL; i++)
    g_strv_builder_add (inputs, self->study_paths[i]);
  for (guint i = 0; i < self->folders->len; i++)
    g_strv_builder_add (inputs, g_ptr_array_index (self->folders, i));

  job = g_new0 (Job, 1);
  job->self = g_object_ref (self);
  job->inputs = g_strv_builder_end (inputs);
  job->opts = self->opts;
  job->opts.init = g_strdup (self->opts.init);
  job->private_dir = g_strdup (self->private_dir);
  job->model_path = g_strdup (self->model_path);
  job->resume = g_strdup (self->checkpoint);
  self->cancellable = g_cancellable_new ();
  job->cancellable = g_object_ref (self->cancellable);
  job->context = g_main_context_ref_thread_default ();

  set_running (self, TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->adopt_button), FALSE);
  gtk_label_set_text (self->status, _("Starting"));
  task = g_task_new (self, self->cancellable, train_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_set_return_on_cancel (task, FALSE);
  /* A cancelled run still returns its result: the checkpoint to resume from. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_run_in_thread (task, train_thread);
}

void
hepa_train_dialog_cancel (HepaTrainDialog *self)
{
  g_return_if_fail (HEPA_IS_TRAIN_DIALOG (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

gboolean
hepa_train_dialog_is_running (HepaTrainDialog *self)
{
  return self->running;
}

const HepaTrainResult *
hepa_train_dialog_get_result (HepaTrainDialog *self)
{
  return self->result;
}

const char *
hepa_train_dialog_get_error (HepaTrainDialog *self)
{
  return self->error_message;
}

gboolean
hepa_train_dialog_adopt (HepaTrainDialog  *self,
                         GError          **error)
{
  g_autofree char *added = NULL;
  g_autofree char *named = NULL;

  g_return_val_if_fail (HEPA_IS_TRAIN_DIALOG (self), FALSE);

  if (self->result == NULL || self->result->interrupted || self->model_path == NULL
      || !g_file_test (self->model_path, G_FILE_TEST_EXISTS))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("No trained model to use yet"));
      return FALSE;
    }
  /* The library names it after the data and the time: "study-20261207T231500Z.safetensors". */
  {
    g_autofree char *base = g_path_get_basename (self->private_dir);

    named = g_strdup_printf ("%s/model-%s.safetensors", self->private_dir, base);
    if (g_rename (self->model_path, named) != 0)
      g_clear_pointer (&named, g_free);
  }
  added = hepa_model_library_add (NULL, named != NULL ? named : self->model_path, TRUE, error);
  if (added == NULL)
    return FALSE;
  g_clear_pointer (&self->model_path, g_free);
  gtk_widget_set_visible (GTK_WIDGET (self->adopt_button), FALSE);
  g_signal_emit (self, signals[MODEL_ADOPTED], 0, added);
  return TRUE;
}

static void
adopt_clicked (HepaTrainDialog *self)
{
  g_autoptr(GError) error = NULL;

  if (!hepa_train_dialog_adopt (self, &error))
    gtk_label_set_text (self->status, error->message);
  else
    gtk_label_set_text (self->status, _("The model is in the library and in use"));
}

static gboolean
close_request (GtkWindow *window)
{
  HepaTrainDialog *self = HEPA_TRAIN_DIALOG (window);

  /* Closing stops a run; the worker holds a reference until it has written its checkpoint. */
  hepa_train_dialog_cancel (self);
  return FALSE;
}

/* ---- Construction -------------------------------------------------------------------------- */

static GtkSpinButton *
spin (GtkGrid    *grid,
      int         row,
      const char *label,
      double      min,
      double      max,
      double      step,
      guint       digits)
{
  GtkWidget *l = gtk_label_new_with_mnemonic (label);
  GtkWidget *s = gtk_spin_button_new_with_range (min, max, step);

  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (s), digits);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), s);
  gtk_grid_attach (grid, l, 0, row, 1, 1);
  gtk_grid_attach (grid, s, 1, row, 1, 1);
  return GTK_SPIN_BUTTON (s);
}

static GtkCheckButton *
check (GtkGrid    *grid,
       int         row,
       const char *label)
{
  GtkWidget *c = gtk_check_button_new_with_mnemonic (label);

  gtk_grid_attach (grid, c, 0, row, 2, 1);
  return GTK_CHECK_BUTTON (c);
}

static void
hepa_train_dialog_init (HepaTrainDialog *self)
{
  const char *presets[] = { N_("Quick check (resnet18, 64 px, 3 epochs)"),
                            N_("The paper's protocol (resnet50, 224 px, 5-fold CV)"),
                            N_("Fine-tune the current model"), NULL };
  const char *archs[] = { "resnet18", "resnet50", NULL };
  g_autoptr(GStrvBuilder) preset_names = g_strv_builder_new ();
  g_auto(GStrv) preset_list = NULL;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  GtkWidget *basic = gtk_grid_new ();
  GtkWidget *advanced = gtk_grid_new ();
  GtkWidget *expander = gtk_expander_new_with_mnemonic (_("_All trainer options"));
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *data_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *add_folder = gtk_button_new_with_mnemonic (_("Add _Folder…"));
  GtkWidget *scroller = gtk_scrolled_window_new ();
  int row = 0;

  self->folders = g_ptr_array_new_with_free_func (g_free);
  self->loss = g_array_new (FALSE, FALSE, sizeof (double));
  self->loss_step = g_array_new (FALSE, FALSE, sizeof (double));
  hepa_train_options_init (&self->opts);

  gtk_window_set_title (GTK_WINDOW (self), _("Train a Model"));
  gtk_window_set_default_size (GTK_WINDOW (self), 720, 760);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);

  self->data_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->data_label, 0);
  gtk_widget_set_hexpand (GTK_WIDGET (self->data_label), TRUE);
  gtk_box_append (GTK_BOX (data_row), GTK_WIDGET (self->data_label));
  gtk_box_append (GTK_BOX (data_row), add_folder);
  g_signal_connect_swapped (add_folder, "clicked", G_CALLBACK (add_folder_clicked), self);
  gtk_box_append (GTK_BOX (box), data_row);

  for (guint i = 0; presets[i] != NULL; i++)
    g_strv_builder_add (preset_names, _(presets[i]));
  preset_list = g_strv_builder_end (preset_names);
  self->preset = GTK_DROP_DOWN (gtk_drop_down_new_from_strings ((const char *const *) preset_list));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->preset));

  gtk_grid_set_row_spacing (GTK_GRID (basic), 4);
  gtk_grid_set_column_spacing (GTK_GRID (basic), 12);
  {
    GtkWidget *l = gtk_label_new_with_mnemonic (_("_Network"));

    self->arch = GTK_DROP_DOWN (gtk_drop_down_new_from_strings (archs));
    gtk_label_set_xalign (GTK_LABEL (l), 0);
    gtk_label_set_mnemonic_widget (GTK_LABEL (l), GTK_WIDGET (self->arch));
    gtk_grid_attach (GTK_GRID (basic), l, 0, row, 1, 1);
    gtk_grid_attach (GTK_GRID (basic), GTK_WIDGET (self->arch), 1, row++, 1, 1);
  }
  self->size = spin (GTK_GRID (basic), row++, _("Input _size (pixels)"), 32, 512, 16, 0);
  self->epochs = spin (GTK_GRID (basic), row++, _("_Epochs"), 1, 1000, 1, 0);
  self->folds = spin (GTK_GRID (basic), row++, _("Cross-validation _folds (1: none)"), 1, 20, 1, 0);
  gtk_box_append (GTK_BOX (box), basic);

  row = 0;
  gtk_grid_set_row_spacing (GTK_GRID (advanced), 4);
  gtk_grid_set_column_spacing (GTK_GRID (advanced), 12);
  self->batch = spin (GTK_GRID (advanced), row++, _("_Batch"), 1, 512, 1, 0);
  self->lr = spin (GTK_GRID (advanced), row++, _("_Learning rate"), 1e-6, 1.0, 1e-4, 5);
  self->momentum = spin (GTK_GRID (advanced), row++, _("_Momentum"), 0, 0.999, 0.01, 3);
  self->weight_decay = spin (GTK_GRID (advanced), row++, _("_Weight decay"), 0, 0.1, 1e-5, 5);
  self->cosine = check (GTK_GRID (advanced), row++, _("_Cosine decay of the learning rate"));
  self->warmup = spin (GTK_GRID (advanced), row++, _("Warm-up e_pochs"), 0, 100, 1, 0);
  self->seed = spin (GTK_GRID (advanced), row++, _("S_eed"), 0, 1e9, 1, 0);
  self->vflip = check (GTK_GRID (advanced), row++, _("_Vertical flips too"));
  self->translate = spin (GTK_GRID (advanced), row++, _("_Translation (fraction)"), 0, 0.5, 0.01, 2);
  self->rescale = spin (GTK_GRID (advanced), row++, _("_Rescaling of balancing copies"), 0, 0.5,
                        0.01, 2);
  self->balance = check (GTK_GRID (advanced), row++, _("_Balance the classes"));
  gtk_expander_set_child (GTK_EXPANDER (expander), advanced);
  gtk_box_append (GTK_BOX (box), expander);

  self->progress = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->progress));
  self->status = GTK_LABEL (gtk_label_new (_("Ready")));
  gtk_label_set_xalign (self->status, 0);
  gtk_label_set_wrap (self->status, TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status));
  self->curves = GTK_DRAWING_AREA (gtk_drawing_area_new ());
  gtk_drawing_area_set_content_height (self->curves, 160);
  gtk_drawing_area_set_draw_func (self->curves, draw_curves, self, NULL);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->curves));
  self->report = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->report, 0);
  gtk_label_set_selectable (self->report, TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->report));
  self->plots = GTK_BOX (gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->plots));

  self->train_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Train")));
  self->cancel_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Cancel")));
  self->adopt_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Use This Model")));
  gtk_widget_add_css_class (GTK_WIDGET (self->train_button), "suggested-action");
  gtk_widget_set_halign (buttons, GTK_ALIGN_END);
  gtk_box_append (GTK_BOX (buttons), GTK_WIDGET (self->cancel_button));
  gtk_box_append (GTK_BOX (buttons), GTK_WIDGET (self->adopt_button));
  gtk_box_append (GTK_BOX (buttons), GTK_WIDGET (self->train_button));
  gtk_box_append (GTK_BOX (box), buttons);
  g_signal_connect_swapped (self->train_button, "clicked", G_CALLBACK (hepa_train_dialog_start),
                            self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (hepa_train_dialog_cancel),
                            self);
  g_signal_connect_swapped (self->adopt_button, "clicked", G_CALLBACK (adopt_clicked), self);

  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), box);
  gtk_window_set_child (GTK_WINDOW (self), scroller);

  hepa_train_dialog_set_preset (self, HEPA_TRAIN_PRESET_QUICK);
  g_signal_connect_swapped (self->preset, "notify::selected", G_CALLBACK (preset_changed), self);
  {
    GObject *watched[] = { G_OBJECT (self->size), G_OBJECT (self->epochs),
                           G_OBJECT (self->folds), G_OBJECT (self->batch), G_OBJECT (self->lr),
                           G_OBJECT (self->momentum), G_OBJECT (self->weight_decay),
                           G_OBJECT (self->warmup), G_OBJECT (self->seed),
                           G_OBJECT (self->translate), G_OBJECT (self->rescale) };

    for (guint i = 0; i < G_N_ELEMENTS (watched); i++)
      g_signal_connect_swapped (watched[i], "value-changed", G_CALLBACK (widget_changed), self);
    g_signal_connect_swapped (self->arch, "notify::selected", G_CALLBACK (widget_changed), self);
    g_signal_connect_swapped (self->cosine, "toggled", G_CALLBACK (widget_changed), self);
    g_signal_connect_swapped (self->vflip, "toggled", G_CALLBACK (widget_changed), self);
    g_signal_connect_swapped (self->balance, "toggled", G_CALLBACK (widget_changed), self);
  }
  set_running (self, FALSE);
}

static void
hepa_train_dialog_finalize (GObject *object)
{
  HepaTrainDialog *self = HEPA_TRAIN_DIALOG (object);

  g_strfreev (self->study_paths);
  g_ptr_array_unref (self->folders);
  g_free (self->current_model);
  hepa_train_options_clear (&self->opts);
  g_clear_object (&self->cancellable);
  g_free (self->private_dir);
  g_free (self->model_path);
  g_free (self->checkpoint);
  g_free (self->error_message);
  g_clear_pointer (&self->result, hepa_train_result_free);
  g_array_unref (self->loss);
  g_array_unref (self->loss_step);
  G_OBJECT_CLASS (hepa_train_dialog_parent_class)->finalize (object);
}

static void
hepa_train_dialog_class_init (HepaTrainDialogClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hepa_train_dialog_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = close_request;

  /* A run ended: finished, cancelled (a checkpoint) or failed (see get_error). */
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* (fraction of the phase or of the training job, the status line, TRUE for a training step):
   * what the study panel can show while the dialog is hidden. */
  signals[PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_DOUBLE,
                                    G_TYPE_STRING, G_TYPE_BOOLEAN);
  /* The trained model was moved into the library: its path there. */
  signals[MODEL_ADOPTED] = g_signal_new ("model-adopted", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                         G_TYPE_STRING);
}

HepaTrainDialog *
hepa_train_dialog_new (GtkWindow         *parent,
                       const char *const *study_paths,
                       const char        *current_model)
{
  HepaTrainDialog *self = g_object_new (HEPA_TYPE_TRAIN_DIALOG, NULL);

  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (self), parent);
  self->study_paths = g_strdupv ((char **) study_paths);
  self->current_model = g_strdup (current_model);
  update_data_label (self);
  return self;
}

HepaTrainDialog *
hepa_train_dialog_present (GtkWindow         *parent,
                           const char *const *study_paths,
                           const char        *current_model)
{
  HepaTrainDialog *self = hepa_train_dialog_new (parent, study_paths, current_model);

  gtk_window_present (GTK_WINDOW (self));
  return self;
}
