/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-classifier.h"

#include "hepa-core.h"

#include <string.h>

/* The nice value of every thread but the main loop's while the workbench classifies. */
#define HEPA_WORKER_NICE 10

struct _HepaClassifier
{
  GObject          parent_instance;

  HepaModelHandle *model;
  HepaImage       *image;

  GCancellable    *cancellable;   /* the running inference's */
  gboolean         busy;
  char            *running_id;    /* what the running inference answers */
  HepaRect         running_rect;
  guint            running_frame;
  HepaRoi         *pending;       /* the queued request */

  HepaResult      *result;
  char            *result_roi_id;
  guint            result_frame;
  gint64           result_start_us;
};

G_DEFINE_FINAL_TYPE (HepaClassifier, hepa_classifier, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_BUSY,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  RESULT,
  FAILED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

typedef struct
{
  HepaClassifier  *self;       /* (owned) */
  HepaModelHandle *model;      /* (owned) keeps the engine alive */
  HepaImage       *image;      /* (owned) */
  char            *roi_id;
  guint            frame;
  gint64           start_us;
} Job;

static void
job_free (Job *job)
{
  g_object_unref (job->self);
  hepa_model_handle_unref (job->model);
  hepa_image_unref (job->image);
  g_free (job->roi_id);
  g_free (job);
}

static void
drop_result (HepaClassifier *self)
{
  g_clear_pointer (&self->result, hepa_result_free);
  g_clear_pointer (&self->result_roi_id, g_free);
}

static void
cancel_running (HepaClassifier *self)
{
  if (self->busy)
    g_cancellable_cancel (self->cancellable);
  g_clear_pointer (&self->pending, hepa_roi_free);
}

static void start (HepaClassifier *self,
                   const HepaRoi  *roi);

static void
classify_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  Job *job = user_data;
  HepaClassifier *self = job->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaRoi) next = NULL;
  HepaResult *result;

  result = hepa_engine_classify_finish (job->model->engine, res, &error);
  /* At most one runs: a request made meanwhile waits in self->pending. */
  self->busy = FALSE;
  g_clear_pointer (&self->running_id, g_free);

  if (result == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[FAILED], 0, job->roi_id, error->message);
    }
  else if (job->image == self->image && job->model == self->model)
    {
      drop_result (self);
      self->result = g_steal_pointer (&result);
      self->result_roi_id = g_strdup (job->roi_id);
      self->result_frame = job->frame;
      self->result_start_us = job->start_us;
      g_signal_emit (self, signals[RESULT], 0, job->roi_id);
    }
  g_clear_pointer (&result, hepa_result_free);

  next = g_steal_pointer (&self->pending);
  if (next != NULL)
    start (self, next);
  if (!self->busy)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  job_free (job);
}

static void
start (HepaClassifier *self,
       const HepaRoi  *roi)
{
  Job *job;

  g_clear_pointer (&self->pending, hepa_roi_free);
  if (self->model == NULL || self->image == NULL)
    return;

  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  job = g_new0 (Job, 1);
  job->self = g_object_ref (self);
  job->model = hepa_model_handle_ref (self->model);
  job->image = hepa_image_ref (self->image);
  job->roi_id = g_strdup (roi->id);
  job->frame = roi->frame;
  job->start_us = g_get_monotonic_time ();
  g_free (self->running_id);
  self->running_id = g_strdup (roi->id);
  self->running_rect = roi->rect;
  self->running_frame = roi->frame;
  self->busy = TRUE;
  hepa_engine_classify_async (self->model->engine, self->image, roi->frame, &roi->rect,
                              self->cancellable, classify_cb, job);
  /* The inference, BLAS, decoding and frame threads run at a lower priority than this one, so
   * on two cores the main loop gets a core back as soon as it wakes instead of waiting out a
   * worker's time slice. The inference thread exists now; the OpenMP team it starts during its
   * first job inherits its priority. Idempotent, and once the workers are lowered about 20 us
   * (a priority read per thread). */
  hepa_core_lower_worker_priority (HEPA_WORKER_NICE);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

void
hepa_classifier_request (HepaClassifier *self,
                         const HepaRoi  *roi,
                         gboolean        live)
{
  g_return_if_fail (HEPA_IS_CLASSIFIER (self));

  if (roi == NULL)
    {
      cancel_running (self);
      return;
    }
  if (hepa_classifier_answers (self, roi))
    {
      /* Nothing to compute: the kept answer is for this exact region. */
      cancel_running (self);
      g_signal_emit (self, signals[RESULT], 0, roi->id);
      return;
    }
  if (self->busy)
    {
      if (g_strcmp0 (self->running_id, roi->id) == 0 && self->running_frame == roi->frame
          && memcmp (&self->running_rect, &roi->rect, sizeof (HepaRect)) == 0)
        {
          /* The running inference already answers this region (a label key, say). */
          g_clear_pointer (&self->pending, hepa_roi_free);
          return;
        }
      g_clear_pointer (&self->pending, hepa_roi_free);
      self->pending = hepa_roi_copy (roi);
      if (!live)
        g_cancellable_cancel (self->cancellable);
      return;
    }
  start (self, roi);
}

gboolean
hepa_classifier_answers (HepaClassifier *self,
                         const HepaRoi  *roi)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), FALSE);

  return self->result != NULL && roi != NULL && g_strcmp0 (self->result_roi_id, roi->id) == 0
         && self->result_frame == roi->frame
         && memcmp (&self->result->roi, &roi->rect, sizeof (HepaRect)) == 0;
}

void
hepa_classifier_set_model (HepaClassifier  *self,
                           HepaModelHandle *model)
{
  g_return_if_fail (HEPA_IS_CLASSIFIER (self));

  if (self->model == model)
    return;
  cancel_running (self);
  drop_result (self);
  g_clear_pointer (&self->model, hepa_model_handle_unref);
  if (model != NULL)
    self->model = hepa_model_handle_ref (model);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

HepaModelHandle *
hepa_classifier_get_model (HepaClassifier *self)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), NULL);
  return self->model;
}

void
hepa_classifier_set_image (HepaClassifier *self,
                           HepaImage      *image)
{
  g_return_if_fail (HEPA_IS_CLASSIFIER (self));

  cancel_running (self);
  drop_result (self);
  if (self->image == image)
    return;
  g_clear_pointer (&self->image, hepa_image_unref);
  if (image != NULL)
    self->image = hepa_image_ref (image);
}

gboolean
hepa_classifier_get_busy (HepaClassifier *self)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), FALSE);
  return self->busy;
}

gboolean
hepa_classifier_get_pending (HepaClassifier *self)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), FALSE);
  return self->pending != NULL;
}

const HepaResult *
hepa_classifier_get_result (HepaClassifier *self)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), NULL);
  return self->result;
}

const char *
hepa_classifier_get_result_roi_id (HepaClassifier *self)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), NULL);
  return self->result_roi_id;
}

guint
hepa_classifier_get_result_frame (HepaClassifier *self)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), 0);
  return self->result_frame;
}

gint64
hepa_classifier_get_result_start_us (HepaClassifier *self)
{
  g_return_val_if_fail (HEPA_IS_CLASSIFIER (self), 0);
  return self->result_start_us;
}

HepaClassifier *
hepa_classifier_new (void)
{
  return g_object_new (HEPA_TYPE_CLASSIFIER, NULL);
}

static void
hepa_classifier_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  HepaClassifier *self = HEPA_CLASSIFIER (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_boxed (value, self->model);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_classifier_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_MODEL:
      hepa_classifier_set_model (HEPA_CLASSIFIER (object), g_value_get_boxed (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_classifier_dispose (GObject *object)
{
  HepaClassifier *self = HEPA_CLASSIFIER (object);

  cancel_running (self);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (hepa_classifier_parent_class)->dispose (object);
}

static void
hepa_classifier_finalize (GObject *object)
{
  HepaClassifier *self = HEPA_CLASSIFIER (object);

  g_clear_pointer (&self->model, hepa_model_handle_unref);
  g_clear_pointer (&self->image, hepa_image_unref);
  g_clear_pointer (&self->pending, hepa_roi_free);
  g_free (self->running_id);
  drop_result (self);

  G_OBJECT_CLASS (hepa_classifier_parent_class)->finalize (object);
}

static void
hepa_classifier_class_init (HepaClassifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = hepa_classifier_get_property;
  object_class->set_property = hepa_classifier_set_property;
  object_class->dispose = hepa_classifier_dispose;
  object_class->finalize = hepa_classifier_finalize;

  properties[PROP_MODEL] =
    g_param_spec_boxed ("model", NULL, NULL, HEPA_TYPE_MODEL_HANDLE,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * HepaClassifier::result:
   * @roi_id: the region answered; the answer is hepa_classifier_get_result ()
   */
  signals[RESULT] = g_signal_new ("result", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * HepaClassifier::failed:
   * @roi_id: the region asked for
   * @message: why (never for a cancelled inference)
   */
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
                                  G_TYPE_STRING);
}

static void
hepa_classifier_init (HepaClassifier *self)
{
}
