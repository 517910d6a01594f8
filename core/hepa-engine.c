/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HepaEngine: preprocessing, the ResNet forward, softmax and class activation maps. */
#include "config.h"

#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-preprocess-private.h"
#include "nn/hepa-nn.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

/* ROIs classified per forward pass by hepa_engine_classify_batch. */
#define MAX_BATCH 8

struct _HepaEngine
{
  gatomicrefcount       ref_count;  /* the owner, plus each task in flight */
  HepaModel            *model;
  const HepaResnet     *net;
  int                   size;
  int                   n_classes;
  GMutex                lock;       /* serializes classify calls: one workspace */

  /* Allocated once per batch size (grown on the first larger batch), never per call. */
  int                   batch;
  HepaResnetWorkspace  *ws;
  float                *input;      /* (batch, 3, size, size) */
  float                *logits;     /* (batch, n_classes) */
  float                *cam_small;  /* (n_classes, fh * fw) */
  gsize                 cam_small_n;
  gboolean              timing;
};

void
hepa_result_free (HepaResult *result)
{
  if (result == NULL)
    return;
  g_free (result->probabilities);
  g_free (result->logits);
  g_free (result->cams);
  g_free (result->in_set);
  g_free (result->features);
  g_free (result);
}

static gboolean
ensure_batch (HepaEngine  *self,
              int          batch,
              GError     **error)
{
  HepaResnetWorkspace *ws;
  float *input;
  float *logits;

  if (batch <= self->batch)
    return TRUE;
  ws = hepa_resnet_workspace_new (self->net, batch, self->size);
  input = g_try_new (float, (gsize) batch * 3 * self->size * self->size);
  logits = g_try_new (float, (gsize) batch * self->n_classes);
  if (ws == NULL || input == NULL || logits == NULL)
    {
      if (ws != NULL)
        hepa_resnet_workspace_free (ws);
      g_free (input);
      g_free (logits);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Not enough memory for a batch of %d at %d×%d"), batch, self->size,
                   self->size);
      return FALSE;
    }
  if (self->ws != NULL)
    hepa_resnet_workspace_free (self->ws);
  g_free (self->input);
  g_free (self->logits);
  self->ws = ws;
  self->input = input;
  self->logits = logits;
  self->batch = batch;
  return TRUE;
}

HepaEngine *
hepa_engine_new (HepaModel  *model,
                 GError    **error)
{
  HepaEngine *self;
  const char *debug;

  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (HepaEngine, 1);
  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->model = hepa_model_ref (model);
  self->net = hepa_model_get_network (model);
  self->size = hepa_model_get_card (model)->input_size;
  self->n_classes = hepa_resnet_get_n_classes (self->net);
  debug = g_getenv ("HEPASCOPE_DEBUG");
  self->timing = debug != NULL && strstr (debug, "timing") != NULL;
  if (!ensure_batch (self, 1, error))
    {
      hepa_engine_free (self);
      return NULL;
    }
  return self;
}

static void
engine_unref (HepaEngine *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  if (self->ws != NULL)
    hepa_resnet_workspace_free (self->ws);
  g_free (self->input);
  g_free (self->logits);
  g_free (self->cam_small);
  g_clear_pointer (&self->model, hepa_model_unref);
  g_mutex_clear (&self->lock);
  g_free (self);
}

void
hepa_engine_free (HepaEngine *self)
{
  /* Tasks in flight keep the engine alive until they finish. */
  if (self != NULL)
    engine_unref (self);
}

HepaModel *
hepa_engine_get_model (HepaEngine *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->model;
}

/* Clamps @request (NULL: the whole frame) to the frame, in 64 bits so no sum overflows. */
static gboolean
resolve_roi (const HepaFrame *frame,
             const HepaRect  *request,
             HepaRect        *roi,
             gboolean        *clamped,
             GError         **error)
{
  gint64 x0, y0, x1, y1;

  if (frame->width <= 0 || frame->height <= 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT, _("The frame is empty"));
      return FALSE;
    }
  if (request == NULL)
    {
      *roi = (HepaRect) { 0, 0, frame->width, frame->height };
      *clamped = FALSE;
      return TRUE;
    }
  if (request->width <= 0 || request->height <= 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("The region %d,%d,%d,%d is empty: width and height must be at least 1"),
                   request->x, request->y, request->width, request->height);
      return FALSE;
    }
  x0 = MAX ((gint64) request->x, 0);
  y0 = MAX ((gint64) request->y, 0);
  x1 = MIN ((gint64) request->x + request->width, (gint64) frame->width);
  y1 = MIN ((gint64) request->y + request->height, (gint64) frame->height);
  if (x1 <= x0 || y1 <= y0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("The region %d,%d,%d,%d lies outside the %d×%d image"),
                   request->x, request->y, request->width, request->height, frame->width,
                   frame->height);
      return FALSE;
    }
  *roi = (HepaRect) { (int) x0, (int) y0, (int) (x1 - x0), (int) (y1 - y0) };
  *clamped = roi->x != request->x || roi->y != request->y || roi->width != request->width
             || roi->height != request->height;
  return TRUE;
}

static int
cancel_cb (void *user)
{
  return g_cancellable_is_cancelled (user) ? 1 : 0;
}

/* Upsamples the layer4 maps (n_classes, fh, fw) onto the ROI's pixels, following where each
 * ROI pixel went in the model input (stretched or letterboxed); bilinear with half-pixel
 * centres, as torch.nn.functional.interpolate (align_corners=False). */
static void
upsample_cams (const HepaModelCard *card,
               const float         *small,
               int                  fh,
               int                  fw,
               HepaResult          *result)
{
  int gx, gy, gw, gh;
  int cw = result->cam_width;
  int ch = result->cam_height;
  int size = card->input_size;
  g_autofree int *x0 = g_new (int, cw);
  g_autofree int *x1 = g_new (int, cw);
  g_autofree float *xw = g_new (float, cw);
  gsize plane = (gsize) cw * ch;

  hepa_preprocess_geometry (card, result->roi.width, result->roi.height, &gx, &gy, &gw, &gh);
  for (int x = 0; x < cw; x++)
    {
      /* CAM pixel -> model input pixel -> feature map cell. */
      double u = gx + (x + 0.5) * gw / cw;
      double f = CLAMP (u * fw / size - 0.5, 0.0, (double) (fw - 1));

      x0[x] = (int) f;
      x1[x] = MIN (x0[x] + 1, fw - 1);
      xw[x] = (float) (f - x0[x]);
    }
  for (int y = 0; y < ch; y++)
    {
      double v = gy + (y + 0.5) * gh / ch;
      double f = CLAMP (v * fh / size - 0.5, 0.0, (double) (fh - 1));
      int y0 = (int) f;
      int y1 = MIN (y0 + 1, fh - 1);
      float yw = (float) (f - y0);

      for (guint k = 0; k < result->n_classes; k++)
        {
          const float *r0 = small + ((gsize) k * fh + y0) * fw;
          const float *r1 = small + ((gsize) k * fh + y1) * fw;
          float *out = result->cams + k * plane + (gsize) y * cw;

          for (int x = 0; x < cw; x++)
            {
              float top = r0[x0[x]] + xw[x] * (r0[x1[x]] - r0[x0[x]]);
              float bottom = r1[x0[x]] + xw[x] * (r1[x1[x]] - r1[x0[x]]);

              out[x] = top + yw * (bottom - top);
            }
        }
    }
}

/* What the card says about trusting the answer: pooled features, their out-of-distribution
 * score, the temperature and the conformal set. Fills probabilities. */
static void
apply_trust (const HepaModelCard *card,
             HepaResult          *result,
             const float         *feat,
             int                  c,
             int                  hw)
{
  gint64 t0 = g_get_monotonic_time ();
  guint n = result->n_classes;

  result->n_features = (guint) c;
  result->features = g_new (float, c);
  for (int j = 0; j < c; j++)
    {
      const float *plane = feat + (gsize) j * hw;
      double sum = 0;

      for (int i = 0; i < hw; i++)
        sum += plane[i];
      result->features[j] = (float) (sum / hw);
    }
  if (card->ood != NULL && card->ood->dim == (guint) c)
    {
      result->ood_score = hepa_ood_score (card->ood, result->features);
      result->ood_threshold = card->ood->p99;
      result->ood_outside = result->ood_score > result->ood_threshold;
    }
  else
    result->ood_score = result->ood_threshold = NAN;

  if (card->calibrated && card->temperature > 0)
    {
      g_autofree float *scaled = g_new (float, n);

      for (guint k = 0; k < n; k++)
        scaled[k] = (float) (result->logits[k] / card->temperature);
      hepa_nn_softmax (scaled, 1, (int) n, result->probabilities);
      result->calibrated = TRUE;
      result->coverage = card->coverage;
      result->in_set = g_new0 (guint8, n);
      for (guint k = 0; k < n; k++)
        result->in_set[k] = result->probabilities[k] >= 1.0 - card->conformal_threshold;
    }
  else
    hepa_nn_softmax (result->logits, 1, (int) n, result->probabilities);
  result->trust_ms = (g_get_monotonic_time () - t0) / 1000.0;
}

static HepaResult *
make_result (HepaEngine     *self,
             int             index,
             const HepaRect *roi,
             gboolean        clamped)
{
  const HepaModelCard *card = hepa_model_get_card (self->model);
  HepaResult *result = g_new0 (HepaResult, 1);
  const float *feat;
  const float *fc;
  int c, fh, fw, feat_c;
  double longest;

  result->n_classes = (guint) self->n_classes;
  result->roi = *roi;
  result->roi_clamped = clamped;
  result->logits = g_memdup2 (self->logits + (gsize) index * self->n_classes,
                              (gsize) self->n_classes * sizeof (float));
  result->probabilities = g_new (float, self->n_classes);
  feat = hepa_resnet_workspace_features (self->ws, &c, &fh, &fw);
  apply_trust (card, result, feat + (gsize) index * c * fh * fw, c, fh * fw);
  result->top = 0;
  for (int k = 1; k < self->n_classes; k++)
    if (result->probabilities[k] > result->probabilities[result->top])
      result->top = (guint) k;

  /* The CAM has the ROI's pixels, up to HEPA_CAM_MAX_SIDE on a side (aspect kept). */
  longest = MAX (roi->width, roi->height);
  if (longest > HEPA_CAM_MAX_SIDE)
    {
      result->cam_width = MAX (1, (int) lround (roi->width * HEPA_CAM_MAX_SIDE / longest));
      result->cam_height = MAX (1, (int) lround (roi->height * HEPA_CAM_MAX_SIDE / longest));
    }
  else
    {
      result->cam_width = roi->width;
      result->cam_height = roi->height;
    }

  fc = hepa_resnet_fc_weight (self->net, &feat_c);
  g_assert (c == feat_c);
  if (self->cam_small_n < (gsize) self->n_classes * fh * fw)
    {
      g_free (self->cam_small);
      self->cam_small_n = (gsize) self->n_classes * fh * fw;
      self->cam_small = g_new (float, self->cam_small_n);
    }
  hepa_nn_cam (feat + (gsize) index * c * fh * fw, c, fh * fw, fc, self->n_classes,
               self->cam_small);
  result->cams = g_new (float, (gsize) self->n_classes * result->cam_width * result->cam_height);
  upsample_cams (card, self->cam_small, fh, fw, result);
  return result;
}

GPtrArray *
hepa_engine_classify_batch (HepaEngine             *self,
                            const HepaFrame *const *frames,
                            const HepaRect         *rois,
                            guint                   n,
                            GCancellable           *cancellable,
                            GError                **error)
{
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  const HepaModelCard *card;
  g_autofree HepaRect *resolved = NULL;
  g_autofree gboolean *clamped = NULL;
  int chunk;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (frames != NULL || n == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  card = hepa_model_get_card (self->model);
  resolved = g_new (HepaRect, MAX (n, 1));
  clamped = g_new (gboolean, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      g_return_val_if_fail (frames[i] != NULL, NULL);
      if (!resolve_roi (frames[i], rois != NULL ? &rois[i] : NULL, &resolved[i], &clamped[i],
                        error))
        return NULL;
    }

  locker = g_mutex_locker_new (&self->lock);
  chunk = (int) MIN (n, MAX_BATCH);
  if (n > 0 && !ensure_batch (self, chunk, error))
    return NULL;

  results = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_result_free);
  for (guint start = 0; start < n; start += (guint) chunk)
    {
      int b = (int) MIN ((guint) chunk, n - start);
      gint64 t0 = g_get_monotonic_time ();
      gint64 t1, t2, t3;
      gsize image_n = (gsize) 3 * self->size * self->size;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      for (int i = 0; i < b; i++)
        hepa_preprocess_roi (card, frames[start + i], &resolved[start + i],
                             self->input + (gsize) i * image_n);
      t1 = g_get_monotonic_time ();
      if (hepa_resnet_forward (self->net, self->ws, self->input, b, self->logits,
                               cancellable != NULL ? cancel_cb : NULL, cancellable) != 0)
        {
          if (!g_cancellable_set_error_if_cancelled (cancellable, error))
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
          return NULL;
        }
      t2 = g_get_monotonic_time ();
      for (int i = 0; i < b; i++)
        g_ptr_array_add (results, make_result (self, i, &resolved[start + i],
                                               clamped[start + i]));
      t3 = g_get_monotonic_time ();
      /* Each result carries its share of the batch's time. */
      for (int i = 0; i < b; i++)
        {
          HepaResult *r = g_ptr_array_index (results, start + i);

          r->latency_ms = (t3 - t0) / 1000.0 / b;
        }
      if (self->timing)
        g_printerr ("hepascope timing: batch %d at %d×%d: preprocess %.1f ms, forward %.1f ms, "
                    "softmax+cam %.1f ms\n", b, self->size, self->size, (t1 - t0) / 1000.0,
                    (t2 - t1) / 1000.0, (t3 - t2) / 1000.0);
    }
  return g_steal_pointer (&results);
}

HepaResult *
hepa_engine_classify (HepaEngine      *self,
                      const HepaFrame *frame,
                      const HepaRect  *roi,
                      GCancellable    *cancellable,
                      GError         **error)
{
  g_autoptr(GPtrArray) results = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  results = hepa_engine_classify_batch (self, &frame, roi, 1, cancellable, error);
  if (results == NULL)
    return NULL;
  return g_ptr_array_steal_index (results, 0);
}

/* ---- Async --------------------------------------------------------------------------------- */

typedef struct
{
  HepaEngine *engine;
  HepaImage  *image;
  guint       frame_index;
  HepaRect    roi;
  gboolean    has_roi;
} ClassifyJob;

static void
classify_job_free (ClassifyJob *job)
{
  engine_unref (job->engine);
  hepa_image_unref (job->image);
  g_free (job);
}

static void
classify_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  ClassifyJob *job = task_data;
  GError *error = NULL;
  const HepaFrame *frame;
  HepaResult *result;

  frame = hepa_image_get_frame (job->image, job->frame_index, &error);
  if (frame == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  result = hepa_engine_classify (job->engine, frame, job->has_roi ? &job->roi : NULL,
                                 cancellable, &error);
  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) hepa_result_free);
}

static void
inference_worker (gpointer data,
                  gpointer user_data)
{
  g_autoptr(GTask) task = data;

  if (!g_task_return_error_if_cancelled (task))
    classify_thread (task, NULL, g_task_get_task_data (task), g_task_get_cancellable (task));
}

/* Every asynchronous classification runs on one thread that lives as long as the process. An
 * OpenMP team belongs to the thread that starts it: with GTask's shared pool each job went to
 * whichever worker was free, often a new one, which then started a team of its own (new threads,
 * cold caches, more OpenMP threads than cores). NULL when the system refused a thread; the jobs
 * then go to GTask's pool. */
static GThreadPool *
inference_pool (void)
{
  static gsize once;
  static GThreadPool *pool;

  if (g_once_init_enter (&once))
    {
      g_autoptr(GError) error = NULL;

      pool = g_thread_pool_new (inference_worker, NULL, 1, TRUE, &error);
      if (pool == NULL)
        g_warning ("No inference thread (%s); using the shared worker pool",
                   error ? error->message : "unknown error");
      g_once_init_leave (&once, 1);
    }
  return pool;
}

void
hepa_engine_classify_async (HepaEngine          *self,
                            HepaImage           *image,
                            guint                frame_index,
                            const HepaRect      *roi,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GThreadPool *pool;
  ClassifyJob *job;

  g_return_if_fail (self != NULL);
  g_return_if_fail (image != NULL);

  job = g_new0 (ClassifyJob, 1);
  g_atomic_ref_count_inc (&self->ref_count);
  job->engine = self;
  job->image = hepa_image_ref (image);
  job->frame_index = frame_index;
  job->has_roi = roi != NULL;
  if (roi != NULL)
    job->roi = *roi;

  /* HepaEngine is not a GObject, so the task has no source object; the job holds the ref. */
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hepa_engine_classify_async);
  g_task_set_name (task, "hepa_engine_classify_async");
  g_task_set_task_data (task, job, (GDestroyNotify) classify_job_free);
  pool = inference_pool ();
  if (pool != NULL && g_thread_pool_push (pool, g_object_ref (task), NULL))
    return;
  if (pool != NULL)
    g_object_unref (task);      /* the reference the pool did not take */
  g_task_run_in_thread (task, classify_thread);
}

HepaResult *
hepa_engine_classify_finish (HepaEngine    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hepa_engine_classify_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
