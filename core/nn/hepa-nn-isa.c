/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Which build of the hot kernels (hepa-nn-kernels.c) runs: the widest the CPU and the OS
 * support, or the one HEPASCOPE_ISA or hepa_nn_set_isa asks for where the CPU has it. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <stdlib.h>
#include <string.h>

extern const HepaNnKernels hepa_nn_kernels_baseline;
#ifdef HEPA_NN_HAVE_AVX2
extern const HepaNnKernels hepa_nn_kernels_avx2;
#endif
#ifdef HEPA_NN_HAVE_AVX512
extern const HepaNnKernels hepa_nn_kernels_avx512;
#endif

static const HepaNnKernels *chosen;

static const HepaNnKernels *
by_name (const char *name)
{
  if (name == NULL)
    return NULL;
  if (strcmp (name, "baseline") == 0)
    return &hepa_nn_kernels_baseline;
#ifdef HEPA_NN_HAVE_AVX2
  /* __builtin_cpu_supports also checks that the OS saves the wider registers. */
  if (strcmp (name, "avx2") == 0 && __builtin_cpu_supports ("avx2")
      && __builtin_cpu_supports ("fma"))
    return &hepa_nn_kernels_avx2;
#endif
#ifdef HEPA_NN_HAVE_AVX512
  if (strcmp (name, "avx512") == 0 && __builtin_cpu_supports ("avx512f")
      && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512bw")
      && __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx2")
      && __builtin_cpu_supports ("fma"))
    return &hepa_nn_kernels_avx512;
#endif
  return NULL;
}

int
hepa_nn_isa_available (const char *name)
{
  __builtin_cpu_init ();
  return by_name (name) != NULL;
}

static const HepaNnKernels *
best (void)
{
  static const char *order[] = { "avx512", "avx2", "baseline" };
  const HepaNnKernels *k;

  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if ((k = by_name (order[i])) != NULL)
      return k;
  return &hepa_nn_kernels_baseline;
}

const HepaNnKernels *
hepa_nn_kernels (void)
{
  const HepaNnKernels *k = __atomic_load_n (&chosen, __ATOMIC_ACQUIRE);

  if (k == NULL)
    {
      __builtin_cpu_init ();
      k = by_name (getenv ("HEPASCOPE_ISA"));
      if (k == NULL)
        k = best ();
      __atomic_store_n (&chosen, k, __ATOMIC_RELEASE);
    }
  return k;
}

int
hepa_nn_set_isa (const char *name)
{
  const HepaNnKernels *k;

  __builtin_cpu_init ();
  k = name == NULL ? best () : by_name (name);
  if (k == NULL)
    return 0;
  __atomic_store_n (&chosen, k, __ATOMIC_RELEASE);
  return 1;
}

const char *
hepa_nn_isa (void)
{
  return hepa_nn_kernels ()->name;
}
