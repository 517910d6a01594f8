/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli train: retrain and cross-validate with the seed paper's protocol. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-core.h"
#include "hepa-model.h"
#include "hepa-report.h"
#include "hepa-train.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  HepaDataset      *data;
  HepaTrainOptions *opts;
  const char       *out;
  const char       *resume;
  GCancellable     *cancellable;
  HepaCliProgress  *progress;
  HepaTrainResult  *result;
  GError           *error;
  GMainLoop        *loop;
  gboolean          tty;
} TrainJob;

static void
progress_cb (const HepaTrainProgress *p,
             gpointer                 user_data)
{
  TrainJob *job = user_data;
  char extra[160];

  if (p->epoch_done)
    {
      /* A log that is not a terminal gets one summary line per epoch. */
      if (!job->tty)
        {
          g_autofree char *test = NULL;

          if (!isnan (p->test_acc))
            test = g_strdup_printf (_(", %s loss %.4f accuracy %.1f%%"),
                                    job->opts->folds >= 2 && p->run < job->opts->folds
                                    ? _("test") : _("validation"),
                                    p->test_loss, 100 * p->test_acc);
          g_printerr (_("%s %d/%d epoch %d/%d: training loss %.4f accuracy %.1f%%%s\n"),
                      job->opts->folds < 2 ? _("run")
                      : p->run < job->opts->folds ? _("fold") : _("final"),
                      p->run + 1, p->n_runs, p->epoch + 1, p->n_epochs, p->loss,
                      100 * p->train_acc, test != NULL ? test : "");
        }
      return;
    }
  if (job->progress == NULL)
    job->progress = hepa_cli_progress_new (_("train"), p->total_steps);
  g_snprintf (extra, sizeof extra, _("%s %d/%d epoch %d/%d step %d/%d loss %.4f %.1f img/s"),
              job->opts->folds < 2 ? _("run")
              : p->run < job->opts->folds ? _("fold") : _("final"),
              p->run + 1, p->n_runs, p->epoch + 1, p->n_epochs, p->step, p->n_steps, p->loss,
              p->img_per_s);
  hepa_cli_progress_update (job->progress, p->global_step, extra);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gpointer
train_thread (gpointer data)
{
  TrainJob *job = data;

  job->result = hepa_train_run (job->data, job->opts, job->out, job->resume, progress_cb, job,
                                job->cancellable, &job->error);
  /* Quit from the loop itself: a g_main_loop_quit () here before the main thread reached
   * g_main_loop_run () was lost, and the command hung (a run that fails at once: 4 of 10). */
  g_idle_add (quit_cb, job->loop);
  return NULL;
}

static gboolean
sigint_cb (gpointer user_data)
{
  TrainJob *job = user_data;

  if (!g_cancellable_is_cancelled (job->cancellable))
    g_printerr ("\n%s\n", _("Stopping after this step and writing a checkpoint…"));
  g_cancellable_cancel (job->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
preload_progress_cb (guint    done,
                     guint    total,
                     gpointer user_data)
{
  HepaCliProgress *progress = user_data;

  hepa_cli_progress_update (progress, done, NULL);
}

static void
print_summary (const HepaTrainResult *r)
{
  g_autoptr(GPtrArray) folds = g_ptr_array_new ();

  for (guint i = 0; i < r->runs->len; i++)
    {
      HepaTrainRun *run = g_ptr_array_index (r->runs, i);
      if (run->metrics != NULL)
        {
          if (!run->held_out)
            g_ptr_array_add (folds, run->metrics);
          if (run->held_out)
            printf (_("%s: accuracy %.1f%%, macro sensitivity %.1f%%, macro specificity %.1f%% "
                      "(%u validation images)\n"), run->name, 100 * run->metrics->accuracy,
                    100 * run->metrics->macro_sensitivity,
                    100 * run->metrics->macro_specificity, run->n_test);
          else
            printf (_("%s: accuracy %.1f%%, macro sensitivity %.1f%%, macro specificity %.1f%% "
                      "(%u test images)\n"), run->name, 100 * run->metrics->accuracy,
                    100 * run->metrics->macro_sensitivity,
                    100 * run->metrics->macro_specificity, run->n_test);
        }
    }
  if (folds->len > 0)
    {
      g_autofree double *v = g_new (double, folds->len);
      HepaMeanSd acc, sens, spec;

      for (guint i = 0; i < folds->len; i++)
        v[i] = ((HepaMetrics *) g_ptr_array_index (folds, i))->accuracy;
      acc = hepa_mean_sd (v, folds->len);
      for (guint i = 0; i < folds->len; i++)
        v[i] = ((HepaMetrics *) g_ptr_array_index (folds, i))->macro_sensitivity;
      sens = hepa_mean_sd (v, folds->len);
      for (guint i = 0; i < folds->len; i++)
        v[i] = ((HepaMetrics *) g_ptr_array_index (folds, i))->macro_specificity;
      spec = hepa_mean_sd (v, folds->len);
      printf (_("Cross-validation (%u folds): accuracy %.1f ± %.1f%%, sensitivity %.1f ± %.1f%%, "
                "specificity %.1f ± %.1f%%\n"), folds->len, 100 * acc.mean, 100 * acc.sd,
              100 * sens.mean, 100 * sens.sd, 100 * spec.mean, 100 * spec.sd);
    }
  printf (_("Time: %.1f min, %.2f img/s\n"), r->seconds / 60, r->img_per_s);
}

int
hepa_cli_train (int    argc,
                char **argv)
{
  g_autofree char *data_dir = NULL, *out = NULL, *arch_text = NULL, *init = NULL;
  g_autofree char *report_dir = NULL, *resume = NULL, *val_dir = NULL, *trace = NULL;
  g_autofree char *copies = NULL, *translation = NULL, *zero_init = NULL;
  int size = 224, epochs = 30, batch = 16, folds = 5, threads = 0, max_steps = 0, warmup = 0;
  int trace_steps = 3;
  double lr = 1e-4, momentum = 0.9, weight_decay = 1e-4, translate = 0.1, rescale = 0.1;
  gint64 seed = 1;
  gboolean cosine = FALSE, vflip = FALSE, no_final = FALSE, no_balance = FALSE;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      N_("Export tree: <class>/*.png|jpg, optional manifest with patient ids"), N_("DIR") },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, N_("Model file to write (.safetensors)"),
      N_("MODEL") },
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch_text, N_("resnet50 (default) or resnet18"),
      N_("ARCH") },
    { "size", 's', 0, G_OPTION_ARG_INT, &size, N_("Input size (default 224)"), N_("S") },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, N_("Epochs (default 30)"), N_("E") },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, N_("Batch size (default 16)"), N_("B") },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, N_("Learning rate (default 1e-4)"), N_("LR") },
    { "cosine", 0, 0, G_OPTION_ARG_NONE, &cosine,
      N_("Cosine learning-rate decay instead of a constant rate"), NULL },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup,
      N_("Raise the learning rate linearly over the first E epochs (default 0)"), N_("E") },
    { "momentum", 0, 0, G_OPTION_ARG_DOUBLE, &momentum, N_("SGD momentum (default 0.9)"),
      N_("M") },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay,
      N_("Weight decay (default 1e-4)"), N_("W") },
    { "folds", 'k', 0, G_OPTION_ARG_INT, &folds,
      N_("Cross-validation folds, grouped by patient (default 5; 1 = one model, no test)"),
      N_("K") },
    { "no-final", 0, 0, G_OPTION_ARG_NONE, &no_final,
      N_("After cross-validation, keep the last fold's model instead of training on all data"),
      NULL },
    { "init", 0, 0, G_OPTION_ARG_FILENAME, &init,
      N_("Start from these weights (head re-initialized for new classes) or “scratch”"),
      N_("FILE|scratch") },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, N_("Seed of folds, order and augmentation"),
      N_("N") },
    { "vflip", 0, 0, G_OPTION_ARG_NONE, &vflip, N_("Vertical flips too (the authors' script)"),
      NULL },
    { "translate", 0, 0, G_OPTION_ARG_DOUBLE, &translate,
      N_("Largest random translation, as a fraction of the size (default 0.1)"), N_("F") },
    { "no-balance", 0, 0, G_OPTION_ARG_NONE, &no_balance,
      N_("Do not fill small classes up with copies"), NULL },
    { "balance-rescale", 0, 0, G_OPTION_ARG_DOUBLE, &rescale,
      N_("Balancing copies are rescaled by a factor in [1 - F, 1 + F] (default 0.1)"), N_("F") },
    { "balance-copies", 0, 0, G_OPTION_ARG_STRING, &copies,
      N_("Draw each balancing copy's rescale once per run (default, as torchvision) or anew "
         "every epoch"), N_("once|every-epoch") },
    { "translation", 0, 0, G_OPTION_ARG_STRING, &translation,
      N_("Translate by whole pixels (default, as torchvision's RandomAffine) or by fractions "
         "of a pixel (bilinear)"), N_("whole|subpixel") },
    { "zero-init-residual", 0, 0, G_OPTION_ARG_STRING, &zero_init,
      N_("From scratch, start the last batch norm of every residual block at zero (default no, "
         "as torchvision)"), N_("yes|no") },
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &val_dir,
      N_("Held-out tree evaluated after every epoch of the final model (a validation curve)"),
      N_("DIR") },
    { "report", 'r', 0, G_OPTION_ARG_FILENAME, &report_dir,
      N_("Write report.json, report.md and plots here"), N_("DIR") },
    { "resume", 0, 0, G_OPTION_ARG_FILENAME, &resume,
      N_("Continue from a checkpoint written by Ctrl-C"), N_("FILE") },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      N_("Threads (default: $HEPASCOPE_THREADS or all cores)"), N_("T") },
    { "max-steps", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &max_steps,
      N_("Stop each run after this many steps (testing)"), N_("N") },
    { "trace", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &trace,
      N_("Write the first run's initial weights and first steps' batches and gradients here "
         "(testing against PyTorch)"), N_("DIR") },
    { "trace-steps", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &trace_steps,
      N_("Steps to trace (default 3)"), N_("N") },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaDataset) data = NULL;
  g_autoptr(HepaDataset) val = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = NULL;
  HepaTrainOptions opts;
  TrainJob job = { 0 };
  GThread *thread;
  guint sig;
  int status = 0;

  if (!hepa_cli_parse ("train", "",
                       _("Retrain a ResNet on an export tree with the seed paper's protocol "
                         "(SGD with momentum, balancing, translation and flip augmentation, "
                         "K-fold cross-validation grouped by patient). Not for diagnosis."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return hepa_cli_failf (NULL, _("train takes no file arguments (see --help)"));
  if (data_dir == NULL || out == NULL)
    return hepa_cli_failf (NULL, _("--data DIR and --out MODEL are required"));

  hepa_train_options_init (&opts);
  if (arch_text != NULL && !hepa_arch_from_string (arch_text, &opts.arch))
    return hepa_cli_failf (NULL, _("--arch must be resnet50 or resnet18"));
  if (size < 32 || size > 1024)
    return hepa_cli_failf (NULL, _("--size must be from 32 to 1024"));
  if (epochs < 1 || epochs > 10000)
    return hepa_cli_failf (NULL, _("--epochs must be from 1 to 10000"));
  if (batch < 1 || batch > 1024)
    return hepa_cli_failf (NULL, _("--batch must be from 1 to 1024"));
  if (!(lr > 0 && lr < 10) || !(momentum >= 0 && momentum < 1)
      || !(weight_decay >= 0 && weight_decay < 1))
    return hepa_cli_failf (NULL, _("--lr must be in (0, 10), --momentum and --weight-decay in "
                                   "[0, 1)"));
  if (folds < 1 || folds > 100)
    return hepa_cli_failf (NULL, _("--folds must be from 1 to 100"));
  if (warmup < 0 || warmup > epochs)
    return hepa_cli_failf (NULL, _("--warmup must be from 0 to the number of epochs"));
  if (!(translate >= 0 && translate <= 0.5))
    return hepa_cli_failf (NULL, _("--translate must be from 0 to 0.5"));
  if (seed < 0)
    return hepa_cli_failf (NULL, _("--seed must not be negative"));
  if (!(rescale >= 0 && rescale < 1))
    return hepa_cli_failf (NULL, _("--balance-rescale must be from 0 to below 1"));
  if (copies != NULL && g_strcmp0 (copies, "once") != 0 && g_strcmp0 (copies, "every-epoch") != 0)
    return hepa_cli_failf (NULL, _("--balance-copies must be once or every-epoch"));
  if (translation != NULL && g_strcmp0 (translation, "whole") != 0
      && g_strcmp0 (translation, "subpixel") != 0)
    return hepa_cli_failf (NULL, _("--translation must be whole or subpixel"));
  if (zero_init != NULL && g_strcmp0 (zero_init, "yes") != 0 && g_strcmp0 (zero_init, "no") != 0)
    return hepa_cli_failf (NULL, _("--zero-init-residual must be yes or no"));
  if (trace_steps < 1 || trace_steps > 1000)
    return hepa_cli_failf (NULL, _("--trace-steps must be from 1 to 1000"));
  opts.size = size;
  opts.epochs = epochs;
  opts.batch = batch;
  opts.lr = lr;
  opts.momentum = momentum;
  opts.weight_decay = weight_decay;
  opts.cosine = cosine;
  opts.warmup = warmup;
  opts.folds = folds;
  opts.final_model = !no_final;
  opts.seed = (guint64) seed;
  opts.vflip = vflip;
  opts.translate = translate;
  opts.balance = !no_balance;
  opts.rescale = rescale;
  if (copies != NULL)
    opts.copies_per_epoch = g_str_equal (copies, "every-epoch");
  if (translation != NULL)
    opts.subpixel = g_str_equal (translation, "subpixel");
  if (zero_init != NULL)
    opts.zero_init_residual = g_str_equal (zero_init, "yes");
  opts.trace = g_strdup (trace);
  opts.trace_steps = trace_steps;
  opts.max_steps = MAX (max_steps, 0);
  if (init != NULL && g_strcmp0 (init, "scratch") != 0)
    opts.init = g_strdup (init);

  hepa_core_init_threads (threads);
  data = hepa_dataset_load (data_dir, &error);
  if (data == NULL)
    {
      hepa_train_options_clear (&opts);
      return hepa_cli_fail (NULL, error);
    }

  /* Decode every image now, so a bad file stops us before any training. */
  {
    HepaModelCard card = { 0 };
    g_autoptr(HepaCliProgress) progress = hepa_cli_progress_new (_("Loading images"),
                                                                 data->samples->len);
    const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };

    card.input_size = size;
    card.grayscale = TRUE;
    card.resize = HEPA_RESIZE_STRETCH;
    memcpy (card.mean, mean, sizeof mean);
    memcpy (card.std, std, sizeof std);
    if (resume == NULL
        && !hepa_dataset_preload (data, &card, preload_progress_cb, progress, NULL, &error))
      {
        hepa_train_options_clear (&opts);
        return hepa_cli_fail (NULL, error);
      }
    if (val_dir != NULL
        && ((val = hepa_dataset_load (val_dir, &error)) == NULL
            || !hepa_dataset_preload (val, &card, NULL, NULL, NULL, &error)))
      {
        hepa_train_options_clear (&opts);
        return hepa_cli_fail (NULL, error);
      }
    opts.val = val;
  }
  if (!data->has_manifest && folds >= 2)
    g_printerr (_("hepascope-cli: %s: no manifest with patient ids; folds are split by image, so "
                  "one patient's images may land in training and test folds\n"), data_dir);

  loop = g_main_loop_new (NULL, FALSE);
  job.data = data;
  job.opts = &opts;
  job.out = out;
  job.resume = resume;
  job.cancellable = cancellable;
  job.loop = loop;
  job.tty = isatty (STDERR_FILENO) && g_getenv ("CI") == NULL;
  sig = g_unix_signal_add (SIGINT, sigint_cb, &job);
  thread = g_thread_new ("hepa-train", train_thread, &job);
  g_main_loop_run (loop);
  g_thread_join (thread);
  g_source_remove (sig);
  g_clear_pointer (&job.progress, hepa_cli_progress_free);
  hepa_train_options_clear (&opts);

  if (job.result == NULL)
    {
      status = hepa_cli_fail (NULL, job.error);
      g_clear_error (&job.error);
      return status;
    }
  if (job.result->interrupted)
    {
      g_printerr (_("hepascope-cli: interrupted; checkpoint %s\n"), job.result->checkpoint);
      g_printerr (_("Resume with: hepascope-cli train --data %s --out %s --resume %s\n"), data_dir,
                  out, job.result->checkpoint);
      hepa_train_result_free (job.result);
      return 130;
    }
  print_summary (job.result);
  printf (_("Model: %s\n"), out);
  if (report_dir != NULL)
    {
      if (!hepa_report_write_train (job.result, report_dir, &error))
        {
          hepa_train_result_free (job.result);
          return hepa_cli_fail (NULL, error);
        }
      printf (_("Report: %s\n"), report_dir);
    }
  hepa_train_result_free (job.result);
  return 0;
}

/* hepascope-cli bench --train: one SGD step (forward, backward, update) on seeded data. */
int
hepa_cli_bench_train (int      arch,
                      int      batch,
                      int      size,
                      int      runs,
                      int      warmup,
                      gboolean json,
                      int      n_threads)
{
  g_autoptr(GError) error = NULL;
  double median, min, max, macs, gflop;
  gsize bytes;

  if (!hepa_train_bench ((HepaArch) arch, batch, size, warmup, runs, &macs, &median, &min, &max,
                         &bytes, &error))
    return hepa_cli_fail (NULL, error);
  /* Forward plus about twice the forward for the backward pass (input and weight gradients),
   * the convention of the PyTorch peer benchmark. */
  gflop = 3 * 2 * macs * batch / 1e9;
  if (json)
    {
      printf ("{\"mode\": \"train\", \"arch\": \"%s\", \"batch\": %d, \"size\": %d, "
              "\"threads\": %d, \"runs\": %d, \"median_ms\": %.3f, \"min_ms\": %.3f, "
              "\"max_ms\": %.3f, \"img_per_s\": %.4f, \"gflops_per_s\": %.3f, "
              "\"memory_bytes\": %" G_GSIZE_FORMAT "}\n",
              hepa_arch_to_string ((HepaArch) arch), batch, size, n_threads, runs, median * 1e3,
              min * 1e3, max * 1e3, batch / median, gflop / median, bytes);
    }
  else
    {
      printf (_("%s training step (SGD momentum), batch %d, %d×%d, %d threads, %d runs\n"),
              hepa_arch_to_string ((HepaArch) arch), batch, size, size, n_threads, runs);
      printf (_("  median %.1f ms (min %.1f, max %.1f)\n"), median * 1e3, min * 1e3, max * 1e3);
      printf (_("  %.2f img/s, %.1f GFLOP/s (estimated 3x forward), %.2f GB held\n"),
              batch / median, gflop / median, bytes / 1e9);
    }
  return 0;
}
