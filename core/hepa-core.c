/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-core.h"

#include "nn/hepa-nn.h"

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
    n = (int) g_get_num_processors ();
  n = CLAMP (n, 1, 1024);

  /* OpenBLAS's threads and libhepa-nn's own (OpenMP) team. */
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
