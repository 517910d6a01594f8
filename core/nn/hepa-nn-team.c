/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libhepa-nn's one thread team: every parallel loop of inference and training runs here, and
 * the team size is decided in one place (hepa_nn_set_threads).
 *
 * Built for a machine that other programs use too (issue 26):
 * - a parallel region is a list of jobs taken from one atomic counter (dynamic scheduling), so
 *   a thread that is descheduled holds up at most the one job it is in, never a fixed half;
 * - the caller is a member and runs jobs itself; a worker that wakes after the caller took the
 *   last job does not join, and the caller waits only for workers that are inside a job;
 * - waits spin for a few microseconds (the gap between two layers), then block on a condition
 *   variable: an idle team uses no CPU, so it never takes a core from the GUI's main loop;
 * - a region of one job, or one called from inside a job, runs on the calling thread with no
 *   wake-up and no barrier.
 * OpenBLAS is kept to one thread: its own threads spin between calls and split the work into
 * fixed parts; GEMMs that need several threads are split over this team (hepa_nn_sgemm). */
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT */
#include "hepa-nn.h"
#include "hepa-nn-private.h"
#include "hepa-nn-train-private.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

/* About 20-50 microseconds of polling before a thread blocks. */
#define SPIN_ROUNDS 4000

typedef struct
{
  pthread_mutex_t lock;
  pthread_cond_t  wake;      /* workers: a new region */
  pthread_cond_t  idle;      /* the caller: the last active worker left */
  int             started;   /* workers created (thread indices 1 .. started) */
  unsigned        gen;       /* region counter; read outside the lock while spinning */
  int             closed;    /* the caller took its last job: no worker may join */
  int             active;    /* workers inside the region */
  int             sleepers;  /* workers blocked on wake */
  int             size;      /* members of the current region, caller included */
  HepaTeamFn      fn;
  void           *ctx;
  int             n_jobs;
  int             next;      /* the next job to take (atomic) */
} Team;

static Team team = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                     PTHREAD_COND_INITIALIZER, 0, 0, 1, 0, 0, 1, NULL, NULL, 0, 0 };
/* One region at a time: callers from other threads queue here (a blocking wait). */
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static int team_size;      /* hepa_nn_set_threads; 0: the CPUs this process may use */
static __thread int member_index = -1;   /* the team index of a thread inside a region */
static unsigned long regions_run;        /* statistics for the tests */
static int max_index_seen;               /* the highest member index that ran a job */

static inline void
note_index (int index)
{
  int seen = __atomic_load_n (&max_index_seen, __ATOMIC_RELAXED);

  while (index > seen
         && !__atomic_compare_exchange_n (&max_index_seen, &seen, index, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED))
    ;
}

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

static void
take_jobs (int index)
{
  HepaTeamFn fn = team.fn;
  void *ctx = team.ctx;
  int n = team.n_jobs;
  int job;

  member_index = index;
  note_index (index);
  while ((job = __atomic_fetch_add (&team.next, 1, __ATOMIC_RELAXED)) < n)
    fn (ctx, job, index);
  member_index = -1;
}

static void *
worker_main (void *data)
{
  int index = (int) (intptr_t) data;
  unsigned seen;

#ifdef __linux__
  {
    char name[16];

    /* hepa_core_lower_worker_priority recognises the team by this prefix. */
    snprintf (name, sizeof name, "hepa-nn-%d", index);
    prctl (PR_SET_NAME, name, 0, 0, 0);
  }
#endif
  /* 0: a worker created during a region joins it if it is still open. */
  seen = 0;
  for (;;)
    {
      for (int s = 0; s < SPIN_ROUNDS && __atomic_load_n (&team.gen, __ATOMIC_ACQUIRE) == seen;
           s++)
        cpu_relax ();
      pthread_mutex_lock (&team.lock);
      while (team.gen == seen)
        {
          team.sleepers++;
          pthread_cond_wait (&team.wake, &team.lock);
          team.sleepers--;
        }
      seen = team.gen;
      if (team.closed || index >= team.size)
        {
          pthread_mutex_unlock (&team.lock);
          continue;
        }
      __atomic_add_fetch (&team.active, 1, __ATOMIC_RELAXED);
      pthread_mutex_unlock (&team.lock);

      take_jobs (index);

      pthread_mutex_lock (&team.lock);
      if (__atomic_sub_fetch (&team.active, 1, __ATOMIC_RELEASE) == 0)
        pthread_cond_signal (&team.idle);
      pthread_mutex_unlock (&team.lock);
    }
  return NULL;
}

/* Creates workers up to @size - 1 (call with call_lock held); returns the members available. */
static int
grow (int size)
{
  while (team.started < size - 1)
    {
      pthread_t thread;
      pthread_attr_t attr;
      int ok;

      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      ok = pthread_create (&thread, &attr, worker_main, (void *) (intptr_t) (team.started + 1))
           == 0;
      pthread_attr_destroy (&attr);
      if (!ok)
        break;
      team.started++;
    }
  return team.started + 1 < size ? team.started + 1 : size;
}

static int
available_cpus (void)
{
#ifdef __linux__
  cpu_set_t set;

  if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
    return CPU_COUNT (&set);
#endif
  long n = sysconf (_SC_NPROCESSORS_ONLN);

  return n > 0 ? (int) n : 1;
}

void
hepa_nn_set_threads (int n)
{
  HEPA_NN_ASSERT (n > 0);
  /* OpenBLAS stays on the calling thread: the team splits the GEMMs that need it. */
  openblas_set_num_threads (1);
  __atomic_store_n (&team_size, n < HEPA_NN_MAX_THREADS ? n : HEPA_NN_MAX_THREADS,
                    __ATOMIC_RELAXED);
}

int
hepa_nn_team_size (void)
{
  int n = __atomic_load_n (&team_size, __ATOMIC_RELAXED);

  if (n <= 0)
    {
      /* Not set: the CPUs of the affinity mask when first asked (one system call, once). */
      static int cpus;

      n = __atomic_load_n (&cpus, __ATOMIC_ACQUIRE);
      if (n <= 0)
        {
          openblas_set_num_threads (1);
          n = available_cpus ();
          __atomic_store_n (&cpus, n, __ATOMIC_RELEASE);
        }
    }
  return n < HEPA_NN_MAX_THREADS ? n : HEPA_NN_MAX_THREADS;
}

int
hepa_nn_get_threads (void)
{
  return hepa_nn_team_size ();
}

int
hepa_nn_team_index (void)
{
  return member_index < 0 ? 0 : member_index;
}

unsigned long
hepa_nn_team_regions (void)
{
  return __atomic_load_n (&regions_run, __ATOMIC_RELAXED);
}

int
hepa_nn_team_max_index (int reset)
{
  return reset ? __atomic_exchange_n (&max_index_seen, 0, __ATOMIC_RELAXED)
               : __atomic_load_n (&max_index_seen, __ATOMIC_RELAXED);
}

void
hepa_nn_team_run (int         n_jobs,
                  HepaTeamFn  fn,
                  void       *ctx)
{
  int size;

  HEPA_NN_ASSERT (fn != NULL);
  if (n_jobs <= 0)
    return;
  size = hepa_nn_team_size ();
  if (size > n_jobs)
    size = n_jobs;
  /* Inside a job (nested), or nothing to share: this thread alone, no wake-up, no barrier. */
  if (member_index >= 0 || size <= 1)
    {
      int index = member_index >= 0 ? member_index : 0;
      int outer = member_index;

      member_index = index;
      note_index (index);
      for (int job = 0; job < n_jobs; job++)
        fn (ctx, job, index);
      member_index = outer;
      return;
    }

  pthread_mutex_lock (&call_lock);
  size = grow (size);
  pthread_mutex_lock (&team.lock);
  team.fn = fn;
  team.ctx = ctx;
  team.n_jobs = n_jobs;
  team.size = size;
  team.closed = 0;
  __atomic_store_n (&team.next, 0, __ATOMIC_RELAXED);
  __atomic_add_fetch (&team.gen, 1, __ATOMIC_RELEASE);
  if (team.sleepers > 0)
    pthread_cond_broadcast (&team.wake);
  pthread_mutex_unlock (&team.lock);

  take_jobs (0);

  /* Every job is taken: close the region, then wait only for the workers inside a job. */
  pthread_mutex_lock (&team.lock);
  team.closed = 1;
  pthread_mutex_unlock (&team.lock);
  for (int s = 0; s < SPIN_ROUNDS && __atomic_load_n (&team.active, __ATOMIC_ACQUIRE) > 0; s++)
    cpu_relax ();
  pthread_mutex_lock (&team.lock);
  while (__atomic_load_n (&team.active, __ATOMIC_ACQUIRE) > 0)
    pthread_cond_wait (&team.idle, &team.lock);
  pthread_mutex_unlock (&team.lock);
  __atomic_add_fetch (&regions_run, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock (&call_lock);
}

/* ---- Shapes ------------------------------------------------------------------------------
 * Here, beside the team, because every kernel file needs it: conv, gemm and ops then call
 * only into this file and the kernels, never each other in a circle. */

int
hepa_nn_out_size (int in,
                  int k,
                  int stride,
                  int pad)
{
  HEPA_NN_ASSERT (in > 0 && k > 0 && stride > 0 && pad >= 0);
  HEPA_NN_ASSERT (in + 2 * pad >= k);
  return (in + 2 * pad - k) / stride + 1;
}

/* ---- Ranges ------------------------------------------------------------------------------ */

typedef struct
{
  HepaTeamRangeFn fn;
  void           *ctx;
  int             n;
  int             chunks;
} RangeCtx;

static void
range_job (void *data,
           int   job,
           int   index)
{
  RangeCtx *r = data;
  int begin = (int) ((long long) r->n * job / r->chunks);
  int end = (int) ((long long) r->n * (job + 1) / r->chunks);

  if (end > begin)
    r->fn (r->ctx, begin, end, index);
}

void
hepa_nn_team_for (int              n,
                  size_t           work,
                  HepaTeamRangeFn  fn,
                  void            *ctx)
{
  int size = hepa_nn_team_size ();
  /* Four chunks per member, so that a descheduled member delays a quarter of its share;
   * chunk boundaries depend on n and the team size only, never on timing. */
  int chunks = 4 * size;
  RangeCtx r = { fn, ctx, n, 0 };

  if (n <= 0)
    return;
  if (work < HEPA_NN_TEAM_MIN_WORK || size == 1)
    chunks = 1;
  if (chunks > n)
    chunks = n;
  r.chunks = chunks;
  hepa_nn_team_run (chunks, range_job, &r);
}

/* ---- The training kernels' form -------------------------------------------------------- */

typedef struct
{
  HepaParallelFn fn;
  void          *ctx;
} TrainCtx;

static void
train_range (void *data,
             int   begin,
             int   end,
             int   index)
{
  const TrainCtx *t = data;

  (void) index;
  t->fn (t->ctx, begin, end);
}

void
hepa_nn_train_parallel (int             n,
                        size_t          work,
                        HepaParallelFn  fn,
                        void           *ctx)
{
  TrainCtx t = { fn, ctx };

  hepa_nn_team_for (n, work, train_range, &t);
}

/* ---- GEMM split over the team ------------------------------------------------------------ */

typedef struct
{
  int          trans_a, trans_b;
  int          m, n, k;
  float        alpha, beta;
  const float *a;
  int          lda;
  const float *b;
  int          ldb;
  float       *c;
  int          ldc;
  int          by_rows;  /* jobs split the rows of C (else its columns) */
  int          width;    /* rows or columns per job */
} SgemmCtx;

static void
sgemm_job (void *data,
           int   job,
           int   index)
{
  const SgemmCtx *g = data;
  int s0 = job * g->width;
  int len = (g->by_rows ? g->m : g->n) - s0;
  const float *a = g->a, *b = g->b;
  float *c = g->c;

  (void) index;
  if (len > g->width)
    len = g->width;
  if (g->by_rows)
    {
      /* Rows s0.. of op (a): row-major a (m, k) at row s0; a^T (k, m) at column s0. */
      a = g->trans_a ? g->a + s0 : g->a + (size_t) s0 * g->lda;
      c = g->c + (size_t) s0 * g->ldc;
    }
  else
    {
      /* Columns s0.. of op (b): row-major b (k, n) at column s0; b^T (n, k) at row s0. */
      b = g->trans_b ? g->b + (size_t) s0 * g->ldb : g->b + s0;
      c = g->c + s0;
    }
  cblas_sgemm (CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
               g->trans_b ? CblasTrans : CblasNoTrans, g->by_rows ? len : g->m,
               g->by_rows ? g->n : len, g->k, g->alpha, a, g->lda, b, g->ldb, g->beta, c,
               g->ldc);
}

void
hepa_nn_sgemm (int          trans_a,
               int          trans_b,
               int          m,
               int          n,
               int          k,
               float        alpha,
               const float *a,
               int          lda,
               const float *b,
               int          ldb,
               float        beta,
               float       *c,
               int          ldc)
{
  int size = hepa_nn_team_size ();
  SgemmCtx g = { trans_a, trans_b, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc, 0, n };
  int jobs = 1;

  HEPA_NN_ASSERT (m > 0 && n > 0 && k > 0 && a != NULL && b != NULL && c != NULL);
  /* Each job reads its slice of one operand and all of the other, so C is split along its
   * longer side (the operand read by every job is then the smaller one), into two jobs per
   * member: enough for a descheduled member to hold up only part of its share, few enough
   * that re-reading stays small beside the multiplies. Every output element sums over all of
   * k in one call and the bounds depend on the shape and the team size only, so which thread
   * runs a job never changes a result. */
  if (size > 1 && (double) m * n * k > 4e6)
    {
      int by_rows = m > n;
      int extent = by_rows ? m : n;
      int width = (extent + 2 * size - 1) / (2 * size);

      width = (width + 15) / 16 * 16;
      if (width < 32)
        width = 32;
      g.by_rows = by_rows;
      g.width = width;
      jobs = (extent + width - 1) / width;
    }
  hepa_nn_team_run (jobs, sgemm_job, &g);
}
