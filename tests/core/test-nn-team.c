/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libhepa-nn's one thread team: its size is set in one place and every kernel keeps to it;
 * jobs are taken dynamically, so a stalled member delays only its own job; and a team larger
 * than the cores it is given (one CPU by affinity, with a busy process beside it) finishes in
 * bounded time with bit-identical results. */
#define _GNU_SOURCE
#include "config.h"

#include "hepa-core.h"

#include "hepa-nn.h"
#include "hepa-nn-private.h"
#include "hepa-nn-train.h"
#include "hepa-resnet.h"
#include "hepa-test-utils.h"

#include <cblas.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Threads of this process whose name starts with "hepa-nn-": the team's workers. */
static int
count_team_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *name;
  int n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", name);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "hepa-nn-"))
        n++;
    }
  return n;
}

static const float *
random_lookup (void       *user,
               const char *name,
               const int  *shape,
               int         ndim)
{
  GHashTable *made = user;
  gsize n = 1;
  float *v;

  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  v = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    {
      double u = hepa_nn_seeded_uniform (g_str_hash (name), i);

      if (g_str_has_suffix (name, "running_var"))
        v[i] = (float) (1.0 + 0.25 * (u + 1.0));
      else if (ndim == 4)
        v[i] = (float) (u * sqrt (6.0 / (shape[1] * shape[2] * shape[3])));
      else if (ndim == 2)
        v[i] = (float) (u / sqrt (shape[1]));
      else
        v[i] = (float) (0.1 * u + (g_str_has_suffix (name, "weight") ? 1.0 : 0.0));
    }
  g_hash_table_insert (made, g_strdup (name), v);
  return v;
}

static HepaResnet *
random_net (HepaArch arch)
{
  g_autoptr(GHashTable) made = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  return hepa_resnet_new (arch, 5, random_lookup, made);
}

/* One inference pass (resnet50, batch 2, 64 px) and two training steps (resnet18, batch 4,
 * 32 px): every kernel family (im2col, packed GEMM, Winograd, pools, batch norm, the split
 * training GEMMs, SGD). Writes the logits and a checksum of the trained weights. */
typedef struct
{
  float  logits[2 * 5];
  float  train_logits[4 * 3];
  double weights;
} Outputs;

static void
run_everything (Outputs *o)
{
  const int size = 64, batch = 2;
  static HepaResnet *net;   /* built once: seeding 25 M weights is slow */
  HepaResnetWorkspace *ws;
  g_autofree float *input = g_new (float, (gsize) batch * 3 * size * size);
  g_autofree float *tin = g_new (float, (gsize) 4 * 3 * 32 * 32);
  const int labels[4] = { 0, 1, 2, 1 };
  HepaTrainNet *tn = hepa_train_net_new (HEPA_ARCH_RESNET18, 3, 4, 32);

  if (net == NULL)
    net = random_net (HEPA_ARCH_RESNET50);
  ws = hepa_resnet_workspace_new (net, batch, size);
  g_assert_nonnull (ws);
  g_assert_nonnull (tn);
  for (gsize i = 0; i < (gsize) batch * 3 * size * size; i++)
    input[i] = hepa_nn_seeded_uniform (9, i);
  g_assert_cmpint (hepa_resnet_forward (net, ws, input, batch, o->logits, NULL, NULL), ==, 0);

  for (gsize i = 0; i < (gsize) 4 * 3 * 32 * 32; i++)
    tin[i] = hepa_nn_seeded_uniform (10, i);
  hepa_train_net_init_he (tn, 42);
  for (int step = 0; step < 2; step++)
    {
      hepa_train_net_loss_grad (tn, tin, labels, 4, o->train_logits);
      hepa_train_net_sgd_step (tn, 0.05f, 0.9f, 1e-4f);
    }
  o->weights = 0;
  for (int p = 0; p < hepa_train_net_n_params (tn); p++)
    {
      HepaTrainParam *param = hepa_train_net_param (tn, p);

      for (size_t i = 0; i < param->n; i++)
        o->weights += param->data[i] * (double) ((i % 7) + 1);
    }
  hepa_train_net_free (tn);
  hepa_resnet_workspace_free (ws);
}

static void
assert_same (const Outputs *a,
             const Outputs *b)
{
  g_assert_cmpmem (a->logits, sizeof a->logits, b->logits, sizeof b->logits);
  g_assert_cmpmem (a->train_logits, sizeof a->train_logits, b->train_logits,
                   sizeof b->train_logits);
  g_assert_cmpfloat (a->weights, ==, b->weights);
}

/* The size set by hepa_nn_set_threads is the one every kernel uses; OpenBLAS stays at one. */
static void
test_size_in_one_place (void)
{
  Outputs o;

  hepa_nn_set_threads (2);
  g_assert_cmpint (hepa_nn_get_threads (), ==, 2);
  g_assert_cmpint (openblas_get_num_threads (), ==, 1);
  hepa_nn_team_max_index (1);
  run_everything (&o);
  g_assert_cmpint (hepa_nn_team_max_index (1), <=, 1);
  g_assert_cmpint (count_team_threads (), <=, 1);
  g_assert_cmpint (openblas_get_num_threads (), ==, 1);

  /* One thread: nothing else runs a job, whatever was started before. */
  hepa_nn_set_threads (1);
  run_everything (&o);
  g_assert_cmpint (hepa_nn_team_max_index (1), ==, 0);

  /* More than the limit: capped. */
  hepa_nn_set_threads (1000);
  g_assert_cmpint (hepa_nn_get_threads (), ==, HEPA_NN_MAX_THREADS);
}

typedef struct
{
  int    per_member[HEPA_NN_MAX_THREADS];
  int    stalled;
  int    out[400];
} StallCtx;

static void
stall_job (void *data,
           int   job,
           int   index)
{
  StallCtx *c = data;

  /* The first job member 1 takes stalls for 600 ms, as a descheduled thread would: longer than
   * the others need for all the rest, even on a loaded machine. */
  if (index == 1 && __atomic_exchange_n (&c->stalled, 1, __ATOMIC_RELAXED) == 0)
    g_usleep (600000);
  else
    g_usleep (500);
  __atomic_add_fetch (&c->per_member[index], 1, __ATOMIC_RELAXED);
  c->out[job] = job * 3 + 1;
}

/* Jobs are taken dynamically: while one member is stalled the others take its share (a
 * member that never gets a CPU in time takes none, which passes too). */
static void
test_stalled_member (void)
{
  StallCtx c = { 0 };
  gint64 t0;
  double s;

  hepa_nn_set_threads (3);
  t0 = g_get_monotonic_time ();
  hepa_nn_team_run (G_N_ELEMENTS (c.out), stall_job, &c);
  s = (g_get_monotonic_time () - t0) / 1e6;
  for (gsize j = 0; j < G_N_ELEMENTS (c.out); j++)
    g_assert_cmpint (c.out[j], ==, (int) j * 3 + 1);
  g_test_message ("per member: %d %d %d jobs, %.2f s", c.per_member[0], c.per_member[1],
                  c.per_member[2], s);
  g_assert_cmpint (c.per_member[0] + c.per_member[1] + c.per_member[2], ==,
                   G_N_ELEMENTS (c.out));
  /* With fixed thirds, member 1 would have run 133 jobs and the region would have waited for
   * them after its stall; it stalled in its first, and the others took the rest. */
  g_assert_cmpint (c.per_member[1], <, (int) G_N_ELEMENTS (c.out) / 3);
  g_assert_cmpfloat (s, <, 0.6 + 133 * 0.0005 + 2.0);
  g_assert_cmpint (hepa_nn_team_max_index (1), <=, 2);
  hepa_nn_set_threads (2);
}

/* Nested regions run inline on the member that calls them, with its index. */
static void
nested_inner (void *data,
              int   job,
              int   index)
{
  int *outer_index = data;

  g_assert_cmpint (index, ==, *outer_index);
  g_assert_cmpint (hepa_nn_team_index (), ==, index);
}

static void
nested_outer (void *data,
              int   job,
              int   index)
{
  int *seen = data;

  seen[job] = index;
  hepa_nn_team_run (5, nested_inner, &seen[job]);
}

static void
test_nested (void)
{
  int seen[16];

  hepa_nn_set_threads (2);
  hepa_nn_team_run (16, nested_outer, seen);
  for (int j = 0; j < 16; j++)
    g_assert_cmpint (seen[j], <, 2);
  g_assert_cmpint (hepa_nn_team_index (), ==, 0);
}

/* Every thread of this process onto @cpu (affinity is per thread). */
static void
pin_process (int cpu)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *name;
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_assert_cmpint (sched_setaffinity ((pid_t) g_ascii_strtoll (name, NULL, 10), sizeof set,
                                        &set), ==, 0);
}

static double
timed_run (Outputs *o)
{
  gint64 t0 = g_get_monotonic_time ();

  run_everything (o);
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* A team of four squeezed onto one CPU, then beside a process that keeps that CPU busy:
 * bit-identical results, and time bounded by a few times a one-thread run's. */
static void
test_oversubscribed (void)
{
  Outputs ref, one, pinned, busy;
  double t_one, t_pinned, t_busy;
  cpu_set_t set;
  pid_t child;
  int cpu, status;

  g_assert_cmpint (sched_getaffinity (0, sizeof set, &set), ==, 0);
  for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET (cpu, &set); cpu++)
    ;
  hepa_nn_set_threads (4);
  run_everything (&ref);   /* the workers exist from here on */
  hepa_nn_set_threads (1);
  pin_process (cpu);
  t_one = timed_run (&one);
  hepa_nn_set_threads (4);
  t_pinned = timed_run (&pinned);
  assert_same (&ref, &pinned);

  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      /* A busy loop on the same CPU (it inherits the affinity). */
      for (volatile unsigned long i = 0;; i++)
        ;
    }
  t_busy = timed_run (&busy);
  kill (child, SIGKILL);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  assert_same (&ref, &busy);

  g_printerr ("# one CPU: 1 thread %.2f s, team of 4 %.2f s, team of 4 beside a busy loop "
               "%.2f s\n", t_one, t_pinned, t_busy);
  /* Four threads on one CPU cost little more than one; beside a busy loop that takes half the
   * CPU, about twice. Generous bounds for a loaded machine. */
  g_assert_cmpfloat (t_pinned, <, 3 * t_one + 1.0);
  g_assert_cmpfloat (t_busy, <, 8 * t_one + 2.0);
  hepa_nn_set_threads (2);
}

static void
test_oversubscribed_trap (void)
{
  /* In a child process: the affinity must not stay with the other tests. */
  if (g_test_subprocess ())
    {
      test_oversubscribed ();
      return;
    }
  g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR | G_TEST_SUBPROCESS_INHERIT_STDOUT);
  g_test_trap_assert_passed ();
}

/* A container's CPU quota caps the default team (issue 26: fewer cores really available). */
static void
test_cpu_quota (void)
{
  int quota = hepa_core_cpu_quota ();

  g_assert_cmpint (hepa_core_parse_cpu_max ("max 100000\n"), ==, 0);
  g_assert_cmpint (hepa_core_parse_cpu_max ("200000 100000\n"), ==, 2);
  g_assert_cmpint (hepa_core_parse_cpu_max ("150000 100000"), ==, 2);
  g_assert_cmpint (hepa_core_parse_cpu_max ("50000 100000"), ==, 1);
  g_assert_cmpint (hepa_core_parse_cpu_max (""), ==, 0);
  g_assert_cmpint (hepa_core_parse_cpu_max ("12x 100000"), ==, 0);
  g_assert_cmpint (hepa_core_parse_cpu_max ("100000"), ==, 0);
  g_assert_cmpint (hepa_core_parse_cpu_max (NULL), ==, 0);
  g_test_message ("this machine: quota %d CPUs (0: none), %u processors", quota,
                  g_get_num_processors ());
  g_assert_cmpint (quota, >=, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/nn/team/size-in-one-place", test_size_in_one_place);
  g_test_add_func ("/core/nn/team/stalled-member", test_stalled_member);
  g_test_add_func ("/core/nn/team/nested", test_nested);
  g_test_add_func ("/core/nn/team/oversubscribed", test_oversubscribed_trap);
  g_test_add_func ("/core/nn/team/cpu-quota", test_cpu_quota);
  return g_test_run ();
}
