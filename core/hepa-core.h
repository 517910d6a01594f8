/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Process-wide set-up of libhepa-core. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets the compute thread count once, before the first forward pass: @n_threads if > 0, else
 * $HEPASCOPE_THREADS, else $OPENBLAS_NUM_THREADS, else every core this process may run on (its
 * affinity mask), at most what a cgroup CPU quota allows (a container's --cpus). Later calls
 * with @n_threads <= 0 keep the count already set. Returns the count in use. */
int hepa_core_init_threads (int n_threads);

/* CPUs a cgroup CPU quota gives this process, rounded up: cgroup v2 cpu.max or v1
 * cpu.cfs_quota_us / cpu.cfs_period_us. 0 when there is none or it cannot be read. */
int hepa_core_cpu_quota     (void);
/* The same from the text of a cpu.max file ("max 100000", "150000 100000"): 0 for none or
 * text that is not such a line. */
int hepa_core_parse_cpu_max (const char *text);

/* The thread count environment variable @name asks for ($HEPASCOPE_THREADS, say): 1..1024, or
 * 0 when it is unset or not such a number. */
int hepa_core_threads_from_env (const char *name);

/* The count set by hepa_core_init_threads (0 before the first call). */
int hepa_core_get_threads  (void);

/* For an interactive program: lowers the scheduling priority (nice) of the process's worker
 * threads to at least @nice_value (1..19), so that on a machine with few cores the calling thread (the
 * GUI's main loop) gets a core back at once when it wakes, rather than waiting out a time slice
 * of inference, BLAS or decoding threads. Worker threads are those named like the calling
 * thread (unnamed threads inherit the process name: OpenBLAS's), "pool-..." (GLib's thread
 * pools) or "hepa-nn-..." (libhepa-nn's team); threads other libraries named (GLib's gmain and gdbus, a GL driver's) keep
 * theirs. Threads already at @nice_value or lower are left alone; threads started later are not
 * affected until the next call. Linux only (per-thread nice values); elsewhere it does nothing.
 * Returns how many threads it lowered. */
guint hepa_core_lower_worker_priority (int nice_value);

G_END_DECLS
