/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Process-wide set-up of libhepa-core. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets the compute thread count once, before the first forward pass: @n_threads if > 0, else
 * $HEPASCOPE_THREADS, else $OPENBLAS_NUM_THREADS, else every online core. Later calls with
 * @n_threads <= 0 keep the count already set. Returns the count in use. */
int hepa_core_init_threads (int n_threads);

/* The count set by hepa_core_init_threads (0 before the first call). */
int hepa_core_get_threads  (void);

G_END_DECLS
