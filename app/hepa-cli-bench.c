/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli bench: latency and throughput of the ResNet forward pass. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-core.h"
#include "hepa-model.h"
#include "hepa-nn.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CPU's model name ("AMD EPYC 7B13"), or "unknown". */
static char *
cpu_model (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &text, NULL, NULL))
    return g_strdup ("unknown");
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "model name") && strchr (lines[i], ':') != NULL)
      return g_strstrip (g_strdup (strchr (lines[i], ':') + 1));
  return g_strdup ("unknown");
}

/* The 1, 5 and 15 minute load averages, or "?": every figure is printed with the load. */
static char *
load_average (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("?");
  fields = g_strsplit (text, " ", 4);
  if (g_strv_length (fields) < 3)
    return g_strdup ("?");
  return g_strdup_printf ("%s %s %s", fields[0], fields[1], fields[2]);
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
hepa_cli_bench (int    argc,
                char **argv)
{
  g_autofree char *model_path = NULL;
  g_autofree char *arch_text = NULL;
  int batch = 1;
  int threads = 0;
  int runs = 10;
  int warmup = 2;
  int size = 0;
  gboolean json = FALSE;
  gboolean train = FALSE;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Model file (default: seeded random weights)"), N_("MODEL") },
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch_text,
      N_("Architecture of the random model: resnet50 (default) or resnet18"), N_("ARCH") },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, N_("Images per forward pass (default 1)"),
      N_("B") },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      N_("Threads (default: $HEPASCOPE_THREADS or all cores)"), N_("T") },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, N_("Timed runs (default 10)"), N_("R") },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, N_("Untimed runs first (default 2)"), N_("W") },
    { "size", 's', 0, G_OPTION_ARG_INT, &size,
      N_("Input size (default: the model's, 224 for the random model)"), N_("S") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "train", 0, 0, G_OPTION_ARG_NONE, &train,
      N_("Time a training step (forward, backward, SGD) of seeded random weights"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autofree double *times = NULL;
  g_autofree float *input = NULL;
  g_autofree float *logits = NULL;
  const HepaResnet *net;
  HepaResnetWorkspace *ws;
  HepaArch arch = HEPA_ARCH_RESNET50;
  double load_ms = 0;
  double median, gflop;
  g_autofree char *cpu = NULL;
  g_autofree char *load = NULL;
  int status = 0;
  int n_threads;

  if (!hepa_cli_parse ("bench", "", _("Time the ResNet forward pass (no preprocessing)."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return hepa_cli_failf (NULL, _("bench takes no file arguments (see --help)"));
  if (arch_text != NULL && !hepa_arch_from_string (arch_text, &arch))
    return hepa_cli_failf (NULL, _("--arch must be resnet50 or resnet18"));
  if (batch < 1 || batch > 256)
    return hepa_cli_failf (NULL, _("--batch must be from 1 to 256"));
  if (runs < 1 || runs > 100000 || warmup < 0 || warmup > 1000)
    return hepa_cli_failf (NULL, _("--runs must be at least 1 and --warmup at least 0"));
  if (threads < 0 || threads > 1024)
    return hepa_cli_failf (NULL, _("--threads must be from 1 to 1024"));
  if (size != 0 && (size < 32 || size > 1024))
    return hepa_cli_failf (NULL, _("--size must be from 32 to 1024"));

  n_threads = hepa_core_init_threads (threads);
  if (train)
    {
      if (model_path != NULL)
        return hepa_cli_failf (model_path, _("--train times seeded random weights; leave out "
                                             "--model"));
      return hepa_cli_bench_train (arch, batch, size != 0 ? size : 224, runs, warmup, json,
                                   n_threads);
    }
  if (model_path != NULL)
    {
      gint64 t0 = g_get_monotonic_time ();

      model = hepa_model_load (model_path, &error);
      if (model == NULL)
        return hepa_cli_fail (model_path, error);
      load_ms = (g_get_monotonic_time () - t0) / 1000.0;
      if (size == 0)
        size = hepa_model_get_card (model)->input_size;
    }
  else
    {
      if (size == 0)
        size = 224;
      model = hepa_model_new_random (arch, 5, NULL, size, 1);
    }
  net = hepa_model_get_network (model);

  ws = hepa_resnet_workspace_new (net, batch, size);
  input = g_try_new (float, (gsize) batch * 3 * size * size);
  logits = g_try_new (float, (gsize) batch * hepa_resnet_get_n_classes (net));
  times = g_new (double, runs);
  if (ws == NULL || input == NULL || logits == NULL)
    {
      if (ws != NULL)
        hepa_resnet_workspace_free (ws);
      return hepa_cli_failf (NULL, _("not enough memory for batch %d at %d×%d"), batch, size,
                             size);
    }
  for (gsize i = 0; i < (gsize) batch * 3 * size * size; i++)
    input[i] = hepa_nn_seeded_uniform (42, i) * 2.0f;

  for (int i = 0; i < warmup; i++)
    hepa_resnet_forward (net, ws, input, batch, logits, NULL, NULL);
  for (int i = 0; i < runs; i++)
    {
      gint64 t0 = g_get_monotonic_time ();

      hepa_resnet_forward (net, ws, input, batch, logits, NULL, NULL);
      times[i] = (g_get_monotonic_time () - t0) / 1000.0;
    }
  hepa_resnet_workspace_free (ws);

  qsort (times, runs, sizeof (double), compare_doubles);
  median = runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
  /* One multiply-add is two floating-point operations. */
  gflop = 2.0 * hepa_resnet_macs (net, size) * batch / 1e9;
  cpu = cpu_model ();
  load = load_average ();

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "arch");
      json_builder_add_string_value (b, hepa_arch_to_string (hepa_resnet_get_arch (net)));
      json_builder_set_member_name (b, "model");
      json_builder_add_string_value (b, hepa_model_get_card (model)->id);
      json_builder_set_member_name (b, "batch");
      json_builder_add_int_value (b, batch);
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, size);
      json_builder_set_member_name (b, "threads");
      json_builder_add_int_value (b, n_threads);
      json_builder_set_member_name (b, "runs");
      json_builder_add_int_value (b, runs);
      json_builder_set_member_name (b, "median_ms");
      json_builder_add_double_value (b, median);
      json_builder_set_member_name (b, "min_ms");
      json_builder_add_double_value (b, times[0]);
      json_builder_set_member_name (b, "max_ms");
      json_builder_add_double_value (b, times[runs - 1]);
      json_builder_set_member_name (b, "img_per_s");
      json_builder_add_double_value (b, batch / (median / 1000.0));
      json_builder_set_member_name (b, "gflops_per_s");
      json_builder_add_double_value (b, gflop / (median / 1000.0));
      json_builder_set_member_name (b, "gflop_per_pass");
      json_builder_add_double_value (b, gflop);
      json_builder_set_member_name (b, "isa");
      json_builder_add_string_value (b, hepa_nn_isa ());
      json_builder_set_member_name (b, "cpu");
      json_builder_add_string_value (b, cpu);
      json_builder_set_member_name (b, "loadavg");
      json_builder_add_string_value (b, load);
      if (model_path != NULL)
        {
          json_builder_set_member_name (b, "load_ms");
          json_builder_add_double_value (b, load_ms);
        }
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (generator, root);
      text = json_generator_to_data (generator, NULL);
      printf ("%s\n", text);
    }
  else
    {
      printf (_("%s, batch %d, %d×%d, %d threads, %d runs\n"),
              hepa_arch_to_string (hepa_resnet_get_arch (net)), batch, size, size, n_threads,
              runs);
      printf (_("  median %.2f ms (min %.2f, max %.2f)\n"), median, times[0], times[runs - 1]);
      printf (_("  %.2f img/s, %.1f GFLOP/s (%.2f GFLOP per pass)\n"),
              batch / (median / 1000.0), gflop / (median / 1000.0), gflop);
      printf (_("  kernels %s, CPU %s, load %s\n"), hepa_nn_isa (), cpu, load);
      if (model_path != NULL)
        printf (_("  model load %.1f ms\n"), load_ms);
    }
  return 0;
}
