/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared between the training kernels and the trainable network. */
#pragma once

#include "hepa-nn-train.h"

#include <stdio.h>
#include <stdlib.h>

/* Shape checks stay on in release builds: a wrong shape silently corrupts memory. The inference
 * files may define the same macro; both spell the same thing. */
#ifndef HEPA_NN_ASSERT
#define HEPA_NN_ASSERT(x)                                                           \
  do                                                                                \
    {                                                                               \
      if (!(x))                                                                     \
        {                                                                           \
          fprintf (stderr, "%s:%d: HEPA_NN_ASSERT(%s) failed\n", __FILE__, __LINE__, #x); \
          abort ();                                                                 \
        }                                                                           \
    }                                                                               \
  while (0)
#endif
