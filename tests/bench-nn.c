/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Times the libhepa-nn ResNet forward pass on seeded random weights (a benchmark, not a test).
 *   bench-nn [--arch 50|18] [--batch B] [--size S] [--threads T] [--runs R] [--json]
 *            [--layers [--peak GFLOPS]]
 * Prints the CPU, the kernel instruction set in use (HEPASCOPE_ISA forces one) and the load;
 * --layers adds a per-layer table (median ms, GFLOP/s, share of the FP32 FMA peak: by default
 * 16 FLOP x 2 FMA units x 2.8 GHz per thread for AVX2, 32 x 2 x 2.8 for AVX-512, 4 x 2 x 2.8
 * for baseline SSE; pass the measured one, ../shared/peers/fma_peak.c, with --peak).
 * tests/bench-nn-vs-torch.sh runs it side by side with ../shared/peers/bench_torch.py. */
#include "config.h"

#include "hepa-nn.h"
#include "hepa-resnet.h"

#include <glib.h>
#include <math.h>
#include <string.h>
#include <time.h>

/* Same recipe as tests/gen-resnet-ref.py; the values only need to be realistic in scale. */
static float *
make_tensor (const char *name,
             const int  *shape,
             int         ndim)
{
  gsize n = 1;
  float *v;
  guint64 seed = g_str_hash (name);

  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  v = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    {
      double u = hepa_nn_seeded_uniform (seed, i);

      if (g_str_has_suffix (name, "running_var"))
        v[i] = (float) (1.0 + 0.25 * (u + 1.0));
      else if (ndim == 4)
        v[i] = (float) (u * sqrt (6.0 / (shape[1] * shape[2] * shape[3])));
      else if (ndim == 2)
        v[i] = (float) (u / sqrt (shape[1]));
      else if (g_str_has_suffix (name, "weight"))
        v[i] = (float) (1.0 + 0.1 * u);
      else
        v[i] = (float) (0.1 * u);
    }
  return v;
}

static const float *
lookup (void       *user,
        const char *name,
        const int  *shape,
        int         ndim)
{
  return g_hash_table_lookup (user, name);
}

/* "AMD EPYC 7B13" from /proc/cpuinfo, or "unknown". */
static char *
cpu_model (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &text, NULL, NULL))
    return g_strdup ("unknown");
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "model name"))
      {
        const char *colon = strchr (lines[i], ':');

        if (colon != NULL)
          return g_strstrip (g_strdup (colon + 1));
      }
  return g_strdup ("unknown");
}

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

/* CPU time of the process (all threads), ms. */
static double
cpu_ms_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double (const void *a,
            const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int   argc,
      char *argv[])
{
  int arch = 50, batch = 1, size = 224, threads = 2, runs = 20, classes = 5;
  gboolean json = FALSE, layers = FALSE;
  double peak = 0;
  GOptionEntry entries[] = {
    { "layers", 0, 0, G_OPTION_ARG_NONE, &layers, "Per-layer table", NULL },
    { "peak", 0, 0, G_OPTION_ARG_DOUBLE, &peak, "FP32 FMA peak of the threads, GFLOP/s", "G" },
    { "arch", 0, 0, G_OPTION_ARG_INT, &arch, "18 or 50", "A" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Batch size", "B" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Input size", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads", "T" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Timed runs", "R" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON line", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- time the ResNet forward pass");
  g_autoptr(GError) error = NULL;
  GHashTable *made = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autofree float *input = NULL, *logits = NULL;
  g_autofree double *ms = NULL;
  HepaResnet *net;
  HepaResnetWorkspace *ws;
  gint64 t0;
  double load_ms, median, gmac, cpu0, cpu_per_forward;
  FILE *status;
  char line[256];
  long rss_kb = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("bench-nn: %s\n", error->message);
      return 1;
    }
  if ((arch != 18 && arch != 50) || batch < 1 || size < 32 || threads < 1 || runs < 1)
    {
      g_printerr ("bench-nn: bad --arch, --batch, --size, --threads or --runs\n");
      return 1;
    }
  hepa_nn_set_threads (threads);

  /* Every tensor made first, so that the time below is the fold and pack alone. */
  for (int i = 0; i < hepa_resnet_n_params ((HepaArch) arch); i++)
    {
      HepaParamInfo info;

      hepa_resnet_param_info ((HepaArch) arch, classes, i, &info);
      g_hash_table_insert (made, (gpointer) info.name,
                           (gpointer) make_tensor (info.name, info.shape, info.ndim));
    }
  t0 = g_get_monotonic_time ();
  net = hepa_resnet_new ((HepaArch) arch, classes, lookup, made);
  g_clear_pointer (&made, g_hash_table_unref);
  ws = net ? hepa_resnet_workspace_new (net, batch, size) : NULL;
  if (ws == NULL)
    {
      g_printerr ("bench-nn: out of memory\n");
      return 1;
    }
  load_ms = (g_get_monotonic_time () - t0) / 1e3;

  input = g_new (float, (gsize) batch * 3 * size * size);
  for (gsize i = 0; i < (gsize) batch * 3 * size * size; i++)
    input[i] = hepa_nn_seeded_uniform (1, i);
  logits = g_new (float, (gsize) batch * classes);
  ms = g_new (double, runs);
  for (int i = 0; i < 3; i++)
    hepa_resnet_forward (net, ws, input, batch, logits, NULL, NULL);
  cpu0 = cpu_ms_now ();
  for (int i = 0; i < runs; i++)
    {
      t0 = g_get_monotonic_time ();
      hepa_resnet_forward (net, ws, input, batch, logits, NULL, NULL);
      ms[i] = (g_get_monotonic_time () - t0) / 1e3;
    }
  cpu_per_forward = (cpu_ms_now () - cpu0) / runs;
  /* Resident memory after the runs: weights, workspace and the runtime, the made tensors freed. */
  if ((status = fopen ("/proc/self/status", "r")) != NULL)
    {
      while (fgets (line, sizeof line, status))
        if (sscanf (line, "VmRSS: %ld kB", &rss_kb) == 1)
          break;
      fclose (status);
    }
  qsort (ms, runs, sizeof (double), cmp_double);
  median = runs % 2 ? ms[runs / 2] : 0.5 * (ms[runs / 2 - 1] + ms[runs / 2]);
  gmac = hepa_resnet_macs (net, size) * batch / 1e9;

  if (json)
    g_print ("{\"test\": \"hepa-nn resnet%d bs%d %d\", \"median_ms\": %.2f, \"min_ms\": %.2f, "
             "\"max_ms\": %.2f, \"img_per_s\": %.3f, \"gflops_per_s\": %.2f, \"threads\": %d, "
             "\"runs\": %d, \"build_ms\": %.1f, \"rss_mb\": %.1f, \"cpu_ms\": %.2f}\n",
             arch, batch, size, median, ms[0], ms[runs - 1], batch / (median / 1e3),
             2 * gmac / (median / 1e3), threads, runs, load_ms, rss_kb / 1024.0,
             cpu_per_forward);
  else
    g_print ("resnet%d batch %d %dx%d, %d threads: median %.2f ms (min %.2f, max %.2f), "
             "%.2f img/s, %.1f GFLOP/s; CPU %.2f ms per forward (all threads); "
             "build (fold + pack) %.1f ms\n",
             arch, batch, size, size, threads, median, ms[0], ms[runs - 1],
             batch / (median / 1e3), 2 * gmac / (median / 1e3), cpu_per_forward, load_ms);

  {
    g_autofree char *cpu = cpu_model ();
    g_autofree char *load = load_average ();

    if (peak <= 0)
      peak = threads * 2.8 * 2 * (strcmp (hepa_nn_isa (), "avx512") == 0 ? 32
                                  : strcmp (hepa_nn_isa (), "avx2") == 0 ? 16 : 8);
    g_print ("%scpu \"%s\", kernels %s, %d threads, load %s, peak %.0f GFLOP/s%s\n",
             json ? "# " : "", cpu, hepa_nn_isa (), threads, load, peak,
             json ? "" : " (share of peak below)");
  }
  if (layers)
    {
      enum { MAX_LAYERS = 80 };
      HepaLayerTime *lt = g_new0 (HepaLayerTime, (gsize) MAX_LAYERS * runs);
      double *col = g_new (double, runs);
      int n = 0;
      double total = 0, total_cpu = 0;

      for (int r = 0; r < runs; r++)
        n = hepa_resnet_forward_timed (net, ws, input, batch, logits, lt + r * MAX_LAYERS,
                                       MAX_LAYERS);
      /* Wall-clock columns (ms, GFLOP/s, share of the team's peak, share of the time) and CPU
       * columns: CPU time of all threads (cpu-ms) and the GFLOP per CPU-second against one
       * thread's peak (cpu-peak), which a loaded machine does not distort. */
      g_print ("%-24s %-12s %8s %9s %6s %6s %8s %8s\n", "layer", "method", "ms", "GFLOP/s", "peak",
               "time", "cpu-ms", "cpu-peak");
      for (int i = 0; i < n; i++)
        {
          for (int r = 0; r < runs; r++)
            col[r] = lt[r * MAX_LAYERS + i].ms;
          qsort (col, runs, sizeof (double), cmp_double);
          lt[i].ms = runs % 2 ? col[runs / 2] : 0.5 * (col[runs / 2 - 1] + col[runs / 2]);
          total += lt[i].ms;
          for (int r = 0; r < runs; r++)
            col[r] = lt[r * MAX_LAYERS + i].cpu_ms;
          qsort (col, runs, sizeof (double), cmp_double);
          lt[i].cpu_ms = runs % 2 ? col[runs / 2] : 0.5 * (col[runs / 2 - 1] + col[runs / 2]);
          total_cpu += lt[i].cpu_ms;
        }
      for (int i = 0; i < n; i++)
        {
          double gf = 2 * lt[i].macs / 1e9 / (lt[i].ms / 1e3);

          double cgf = lt[i].cpu_ms > 0 ? 2 * lt[i].macs / 1e6 / lt[i].cpu_ms : 0;

          g_print ("%-24s %-12s %8.3f %9.1f %5.0f%% %5.1f%% %8.3f %7.0f%%\n", lt[i].name,
                   lt[i].method, lt[i].ms, gf, 100 * gf / peak, 100 * lt[i].ms / total,
                   lt[i].cpu_ms, 100 * cgf / (peak / threads));
        }
      /* Sums per method: where the time goes. */
      {
        static const char *methods[] = { "winograd", "gemm", "im2col+gemm", "other" };

        for (gsize m = 0; m < G_N_ELEMENTS (methods); m++)
          {
            double ms_sum = 0, cpu_sum = 0, macs = 0;

            for (int i = 0; i < n; i++)
              if (strcmp (lt[i].method, methods[m]) == 0)
                ms_sum += lt[i].ms, cpu_sum += lt[i].cpu_ms, macs += lt[i].macs;
            g_print ("%-24s %-12s %8.3f %9.1f %5.0f%% %5.1f%% %8.3f %7.0f%%\n", "all",
                     methods[m], ms_sum, ms_sum > 0 ? 2 * macs / 1e6 / ms_sum : 0,
                     ms_sum > 0 ? 100 * 2 * macs / 1e6 / ms_sum / peak : 0,
                     100 * ms_sum / total, cpu_sum,
                     cpu_sum > 0 ? 100 * 2 * macs / 1e6 / cpu_sum / (peak / threads) : 0);
          }
        g_print ("%-24s %-12s %8.3f (sum of per-layer medians; CPU %.3f ms)\n", "total", "",
                 total, total_cpu);
      }
      g_free (col);
      g_free (lt);
    }

  hepa_resnet_workspace_free (ws);
  hepa_resnet_free (net);
  return 0;
}
