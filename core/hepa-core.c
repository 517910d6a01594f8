/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-core.h"

#include "nn/hepa-nn.h"

#include <string.h>

#ifdef __linux__
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static int threads_in_use;
G_LOCK_DEFINE_STATIC (threads);

int
hepa_core_threads_from_env (const char *name)
{
  const char *value = g_getenv (name);
  gint64 n;

  if (value == NULL || *value == '\0')
    return 0;
  n = g_ascii_strtoll (value, NULL, 10);
  return n >= 1 && n <= 1024 ? (int) n : 0;
}

static int
quota_cpus (gint64 quota,
            gint64 period)
{
  if (quota <= 0 || period <= 0)
    return 0;
  return (int) MIN ((quota + period - 1) / period, 1024);
}

int
hepa_core_parse_cpu_max (const char *text)
{
  g_autofree char *line = NULL;
  g_auto(GStrv) fields = NULL;
  char *end = NULL;
  gint64 quota, period;

  if (text == NULL)
    return 0;
  line = g_strstrip (g_strdup (text));
  fields = g_strsplit_set (line, " \t", -1);
  if (g_strv_length (fields) != 2 || strcmp (fields[0], "max") == 0)
    goto none;
  quota = g_ascii_strtoll (fields[0], &end, 10);
  if (end == fields[0] || *end != '\0')
    goto none;
  period = g_ascii_strtoll (fields[1], &end, 10);
  if (end == fields[1] || *end != '\0')
    goto none;
  return quota_cpus (quota, period);
none:
  return 0;
}

/* The first line of @path as an integer, or @fallback. */
static gint64
read_integer (const char *path,
              gint64      fallback)
{
  g_autofree char *text = NULL;
  char *end = NULL;
  gint64 v;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return fallback;
  v = g_ascii_strtoll (text, &end, 10);
  return end == text ? fallback : v;
}

int
hepa_core_cpu_quota (void)
{
  static const char *v1_dirs[] = { "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct" };
  g_autofree char *text = NULL;

  /* cgroup v2 (in a container, its namespace's root is the container's own group). */
  if (g_file_get_contents ("/sys/fs/cgroup/cpu.max", &text, NULL, NULL))
    return hepa_core_parse_cpu_max (text);
  for (gsize i = 0; i < G_N_ELEMENTS (v1_dirs); i++)
    {
      g_autofree char *q = g_build_filename (v1_dirs[i], "cpu.cfs_quota_us", NULL);
      g_autofree char *p = g_build_filename (v1_dirs[i], "cpu.cfs_period_us", NULL);
      gint64 quota = read_integer (q, -2);

      if (quota != -2)
        return quota_cpus (quota, read_integer (p, 0));
    }
  return 0;
}

int
hepa_core_init_threads (int n_threads)
{
  int n = n_threads;

  G_LOCK (threads);
  if (n <= 0 && threads_in_use > 0)
    {
      n = threads_in_use;
      G_UNLOCK (threads);
      return n;
    }
  if (n <= 0)
    n = hepa_core_threads_from_env ("HEPASCOPE_THREADS");
  if (n <= 0)
    n = hepa_core_threads_from_env ("OPENBLAS_NUM_THREADS");
  if (n <= 0)
    {
      /* The affinity mask's CPUs (GLib reads it), then a container's quota: a team larger than
       * the CPU time it may use only queues behind itself. */
      int quota = hepa_core_cpu_quota ();

      n = (int) g_get_num_processors ();
      if (quota > 0 && quota < n)
        n = quota;
    }
  n = CLAMP (n, 1, 1024);

  /* libhepa-nn's one team (it keeps OpenBLAS to one thread and splits the GEMMs itself). */
  hepa_nn_set_threads (n);
  threads_in_use = n;
  G_UNLOCK (threads);
  return n;
}

int
hepa_core_get_threads (void)
{
  int n;

  G_LOCK (threads);
  n = threads_in_use;
  G_UNLOCK (threads);
  return n;
}

guint
hepa_core_lower_worker_priority (int nice_value)
{
  guint lowered = 0;
#ifdef __linux__
  /* Linux applies PRIO_PROCESS with a thread id to that thread alone. */
  pid_t self = (pid_t) syscall (SYS_gettid);
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  char own_name[17] = "";
  const char *name;

  nice_value = CLAMP (nice_value, 1, 19);
  if (dir == NULL || prctl (PR_GET_NAME, own_name, 0, 0, 0) != 0)
    return 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char *end = NULL;
      long tid = strtol (name, &end, 10);
      int current;

      if (end == name || *end != '\0' || tid <= 0 || (pid_t) tid == self)
        continue;
      /* The priority first: one system call, and on later calls most threads stop here. */
      errno = 0;
      current = getpriority (PRIO_PROCESS, (id_t) tid);
      if (errno != 0 || current >= nice_value)
        continue;   /* gone meanwhile, or already at or below @nice_value */
      {
        g_autofree char *comm_path = g_strdup_printf ("/proc/self/task/%ld/comm", tid);
        g_autofree char *comm = NULL;

        if (!g_file_get_contents (comm_path, &comm, NULL, NULL))
          continue;
        g_strchomp (comm);
        if (strcmp (comm, own_name) != 0 && !g_str_has_prefix (comm, "pool-")
            && !g_str_has_prefix (comm, "hepa-nn-"))
          continue;   /* a thread another library named and runs its own way */
      }
      if (setpriority (PRIO_PROCESS, (id_t) tid, nice_value) == 0)
        lowered++;
    }
#else
  (void) nice_value;
#endif
  return lowered;
}
