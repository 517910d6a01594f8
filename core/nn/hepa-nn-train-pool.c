/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A tiny fork-join pool for the memory-bound training kernels (batch norm, im2col, ReLU...), so
 * they use the cores OpenBLAS uses for the GEMMs instead of leaving all but one idle. */
#include "hepa-nn-train-private.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>

#define MAX_THREADS 64

typedef struct
{
  pthread_mutex_t  lock;
  pthread_cond_t   wake;
  pthread_cond_t   done;
  int              n_threads;      /* including the caller */
  unsigned long    generation;
  int              pending;
  HepaParallelFn   fn;
  void            *ctx;
  int              n;
} Pool;

/* Serializes callers from different threads; the pool runs one job at a time. */
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static Pool pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                     PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0 };
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void
chunk (int  n,
       int  parts,
       int  i,
       int *begin,
       int *end)
{
  *begin = (int) ((long long) n * i / parts);
  *end = (int) ((long long) n * (i + 1) / parts);
}

static void *
worker (void *data)
{
  int index = (int) (intptr_t) data;
  unsigned long seen = 0;

  for (;;)
    {
      HepaParallelFn fn;
      void *ctx;
      int n, begin, end, parts;

      pthread_mutex_lock (&pool.lock);
      while (pool.generation == seen)
        pthread_cond_wait (&pool.wake, &pool.lock);
      seen = pool.generation;
      fn = pool.fn;
      ctx = pool.ctx;
      n = pool.n;
      parts = pool.n_threads;
      pthread_mutex_unlock (&pool.lock);

      chunk (n, parts, index, &begin, &end);
      if (end > begin)
        fn (ctx, begin, end);

      pthread_mutex_lock (&pool.lock);
      if (--pool.pending == 0)
        pthread_cond_signal (&pool.done);
      pthread_mutex_unlock (&pool.lock);
    }
  return NULL;
}

static void
pool_start (void)
{
  const char *env = getenv ("HEPASCOPE_THREADS");
  int n = env != NULL ? atoi (env) : 0;

  if (n <= 0)
    n = openblas_get_num_threads ();
  if (n < 1)
    n = 1;
  if (n > MAX_THREADS)
    n = MAX_THREADS;
  pool.n_threads = 1;
  for (int i = 1; i < n; i++)
    {
      pthread_t thread;
      pthread_attr_t attr;

      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (pthread_create (&thread, &attr, worker, (void *) (intptr_t) i) != 0)
        {
          pthread_attr_destroy (&attr);
          break;
        }
      pthread_attr_destroy (&attr);
      pool.n_threads++;
    }
}

int
hepa_nn_train_threads (void)
{
  pthread_once (&pool_once, pool_start);
  return pool.n_threads;
}

void
hepa_nn_train_parallel (int             n,
                        size_t          work,
                        HepaParallelFn  fn,
                        void           *ctx)
{
  int begin, end;

  if (n <= 0)
    return;
  /* Small jobs are not worth waking anyone; nor is a job from inside the pool. */
  if (work < 32768 || n == 1 || hepa_nn_train_threads () == 1)
    {
      fn (ctx, 0, n);
      return;
    }
  pthread_mutex_lock (&call_lock);
  pthread_mutex_lock (&pool.lock);
  pool.fn = fn;
  pool.ctx = ctx;
  pool.n = n;
  pool.pending = pool.n_threads - 1;
  pool.generation++;
  pthread_cond_broadcast (&pool.wake);
  pthread_mutex_unlock (&pool.lock);

  chunk (n, pool.n_threads, 0, &begin, &end);
  if (end > begin)
    fn (ctx, begin, end);

  pthread_mutex_lock (&pool.lock);
  while (pool.pending > 0)
    pthread_cond_wait (&pool.done, &pool.lock);
  pthread_mutex_unlock (&pool.lock);
  pthread_mutex_unlock (&call_lock);
}
