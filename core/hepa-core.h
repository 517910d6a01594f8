/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Process-wide set-up of libhepa-core. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets the compute thread count once, before the first forward pass: @n_threads if > 0, else
 * $HEPASCOPE_THREADS, else $OPENBLAS_NUM_THREADS, else every online core. Later calls with
 * @n_threads <= 0 keep the count already set. Returns the count in use. */
int hepa_core_init_threads (int n_threads);

/* The thread count environment variable @name asks for ($HEPASCOPE_THREADS, say): 1..1024, or
 * 0 when it is unset or not such a number. */
int hepa_core_threads_from_env (const char *name);

/* The count set by hepa_core_init_threads (0 before the first call). */
int hepa_core_get_threads  (void);

G_END_DECLS
