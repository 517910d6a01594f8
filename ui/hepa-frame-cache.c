/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-frame-cache.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <math.h>

/* The largest width or height of a cairo image surface. */
#define CAIRO_MAX_SIDE 32767

/* How many requests are kept: the newest win (a slider dragged fast asks for every frame it
 * passes; only the last ones are worth making). */
#define MAX_REQUESTS 2

typedef struct
{
  guint            frame;
  cairo_surface_t *surface;   /* RGB24, image size, for the look's window/level */
  cairo_surface_t *scaled;    /* ARGB32 at the look's zoom and phase, or NULL */
  gboolean         scale_failed; /* the worker could not make @scaled (memory): drawn directly */
  guint64          used;      /* when it was last looked up or made (a counter) */
} Entry;

typedef struct
{
  HepaImage       *image;
  guint            frame;
  HepaFrameLook    look;
  guint            generation;
  gboolean         requested; /* asked for (not a prefetch) */
  cairo_surface_t *surface;   /* made by the job: the worker never shares a surface the main
                               * thread draws (cairo surfaces are not thread-safe) */
  cairo_surface_t *scaled;
} Job;

struct _HepaFrameCache
{
  GObject        parent_instance;

  HepaImage     *image;
  HepaFrameLook  look;
  gsize          max_bytes;
  GPtrArray     *entries;     /* (element-type Entry) */
  guint64        clock;
  guint          generation;  /* bumped whenever the frames in flight stop being wanted */
  GArray        *requests;    /* (element-type guint) newest first */
  GArray        *prefetch;    /* (element-type guint) in order */
  gboolean       job_running;
};

G_DEFINE_FINAL_TYPE (HepaFrameCache, hepa_frame_cache, G_TYPE_OBJECT)

enum {
  SIGNAL_READY,
  SIGNAL_FAILED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void
entry_free (Entry *entry)
{
  g_clear_pointer (&entry->surface, cairo_surface_destroy);
  g_clear_pointer (&entry->scaled, cairo_surface_destroy);
  g_free (entry);
}

static void
job_free (Job *job)
{
  g_clear_pointer (&job->image, hepa_image_unref);
  g_clear_pointer (&job->surface, cairo_surface_destroy);
  g_clear_pointer (&job->scaled, cairo_surface_destroy);
  g_free (job);
}

static gsize
surface_bytes (cairo_surface_t *surface)
{
  if (surface == NULL)
    return 0;
  return (gsize) cairo_image_surface_get_stride (surface)
         * cairo_image_surface_get_height (surface);
}

static void
scaled_size (int                  width,
             int                  height,
             const HepaFrameLook *look,
             int                 *sw,
             int                 *sh)
{
  *sw = (int) ceil (look->phase_x + width * look->zoom);
  *sh = (int) ceil (look->phase_y + height * look->zoom);
}

/* Bytes of one frame as the cache holds it, and whether the scaled surface is made at all: not
 * when it alone would take more than a quarter of the budget (a huge image magnified), nor when
 * a side would exceed what a cairo surface can hold. */
static gsize
frame_bytes (HepaFrameCache *self,
             gboolean       *with_scaled)
{
  int w, h, sw, sh;
  gsize full, scaled = 0;

  *with_scaled = FALSE;
  if (self->image == NULL)
    return 0;
  w = hepa_image_get_width (self->image);
  h = hepa_image_get_height (self->image);
  full = (gsize) cairo_format_stride_for_width (CAIRO_FORMAT_RGB24, w) * h;
  if (self->look.zoom > 0)
    {
      scaled_size (w, h, &self->look, &sw, &sh);
      scaled = (gsize) cairo_format_stride_for_width (CAIRO_FORMAT_ARGB32, sw) * sh;
      *with_scaled = scaled <= self->max_bytes / 4 && sw <= CAIRO_MAX_SIDE
                     && sh <= CAIRO_MAX_SIDE;
    }
  return full + (*with_scaled ? scaled : 0);
}

static guint
capacity (HepaFrameCache *self)
{
  gboolean with_scaled;
  gsize per_frame = frame_bytes (self, &with_scaled);

  if (per_frame == 0)
    return 2;
  return (guint) MAX (2, self->max_bytes / per_frame);
}

static gboolean
wants_scaled (HepaFrameCache *self)
{
  gboolean with_scaled;

  frame_bytes (self, &with_scaled);
  return with_scaled;
}

static Entry *
find_entry (HepaFrameCache *self,
            guint           frame)
{
  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (self->entries, i);

      if (entry->frame == frame)
        return entry;
    }
  return NULL;
}

static gboolean
is_ready (HepaFrameCache *self,
          guint           frame)
{
  Entry *entry = find_entry (self, frame);

  return entry != NULL
         && (entry->scaled != NULL || entry->scale_failed || !wants_scaled (self));
}

/* Drops the least recently used frames beyond the capacity, never @keep. */
static void
evict (HepaFrameCache *self,
       Entry          *keep)
{
  guint cap = capacity (self);

  while (self->entries->len > cap)
    {
      guint oldest = G_MAXUINT;

      for (guint i = 0; i < self->entries->len; i++)
        {
          Entry *entry = g_ptr_array_index (self->entries, i);

          if (entry != keep
              && (oldest == G_MAXUINT
                  || entry->used < ((Entry *) g_ptr_array_index (self->entries, oldest))->used))
            oldest = i;
        }
      if (oldest == G_MAXUINT)
        break;
      g_ptr_array_remove_index_fast (self->entries, oldest);
    }
}

static void
drop_all (HepaFrameCache *self)
{
  g_ptr_array_set_size (self->entries, 0);
  g_array_set_size (self->requests, 0);
  g_array_set_size (self->prefetch, 0);
  self->generation++;
}

cairo_surface_t *
hepa_frame_cache_render (const HepaFrame     *frame,
                         const HepaFrameLook *look)
{
  g_autofree guint8 *rgb = NULL;
  cairo_surface_t *surface;
  int w, h, stride;
  guint8 *dst;

  g_return_val_if_fail (frame != NULL && look != NULL, NULL);

  w = frame->width;
  h = frame->height;
  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (surface);
      return NULL;
    }
  rgb = g_try_malloc ((gsize) w * h * 3);
  if (rgb == NULL)
    {
      cairo_surface_destroy (surface);
      return NULL;
    }
  hepa_frame_render_rgb (frame, look->wl_center, look->wl_width, rgb);

  cairo_surface_flush (surface);
  dst = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);
  for (int y = 0; y < h; y++)
    {
      guint32 *row = (guint32 *) (gpointer) (dst + (gsize) y * stride);
      const guint8 *src = rgb + (gsize) y * w * 3;

      for (int x = 0; x < w; x++)
        row[x] = 0xff000000u | ((guint32) src[3 * x] << 16) | ((guint32) src[3 * x + 1] << 8)
                 | src[3 * x + 2];
    }
  cairo_surface_mark_dirty (surface);
  return surface;
}

cairo_surface_t *
hepa_frame_cache_scale (cairo_surface_t     *source,
                        const HepaFrameLook *look)
{
  int w, h, sw, sh;
  cairo_surface_t *scaled;
  cairo_t *cr;

  g_return_val_if_fail (source != NULL && look != NULL && look->zoom > 0, NULL);

  w = cairo_image_surface_get_width (source);
  h = cairo_image_surface_get_height (source);
  scaled_size (w, h, look, &sw, &sh);
  scaled = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, MAX (sw, 1), MAX (sh, 1));
  if (cairo_surface_status (scaled) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (scaled);
      return NULL;
    }
  /* The same drawing the canvas would do on screen with the image origin at (phase_x,
   * phase_y): drawn at that integer offset, it gives the same pixels. */
  cr = cairo_create (scaled);
  cairo_translate (cr, look->phase_x, look->phase_y);
  cairo_scale (cr, look->zoom, look->zoom);
  cairo_set_source_surface (cr, source, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_rectangle (cr, 0, 0, w, h);
  cairo_fill (cr);
  cairo_destroy (cr);
  cairo_surface_flush (scaled);
  return scaled;
}

static void
job_thread (GTask        *task,
            gpointer      source,
            gpointer      task_data,
            GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;
  const HepaFrame *frame = hepa_image_get_frame (job->image, job->frame, &error);

  if (frame == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (frame->width > CAIRO_MAX_SIDE || frame->height > CAIRO_MAX_SIDE)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               _("%s: %d x %d pixels is too large to display (at most %d a side)"),
                               hepa_image_get_info (job->image)->path, frame->width,
                               frame->height, CAIRO_MAX_SIDE);
      return;
    }
  /* Also when only the scaled surface is missing: rendering again (a millisecond or two) keeps
   * the frame the main thread holds out of this thread. */
  job->surface = hepa_frame_cache_render (frame, &job->look);
  if (job->surface == NULL)
    {
      /* The C library's words, translated there. */
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s",
                               hepa_image_get_info (job->image)->path, g_strerror (ENOMEM));
      return;
    }
  if (job->look.zoom > 0)
    job->scaled = hepa_frame_cache_scale (job->surface, &job->look);
  g_task_return_boolean (task, TRUE);
}

static void schedule (HepaFrameCache *self);

static void
forget_frame (GArray *frames,
              guint   frame)
{
  for (guint i = frames->len; i > 0; i--)
    if (g_array_index (frames, guint, i - 1) == frame)
      g_array_remove_index (frames, i - 1);
}

static void
job_done_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  HepaFrameCache *self = HEPA_FRAME_CACHE (source);
  Job *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  Entry *entry;

  self->job_running = FALSE;
  if (job->generation != self->generation)
    {
      /* Made in a window/level that has changed since: a frame asked for is still wanted, in
       * the new one. */
      if (job->requested && job->image == self->image && self->requests->len < MAX_REQUESTS
          && !is_ready (self, job->frame))
        {
          forget_frame (self->requests, job->frame);
          g_array_append_val (self->requests, job->frame);
        }
      schedule (self);
      return;
    }
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      forget_frame (self->requests, job->frame);
      forget_frame (self->prefetch, job->frame);
      g_signal_emit (self, signals[SIGNAL_FAILED], 0, job->frame, error->message);
      schedule (self);
      return;
    }

  entry = find_entry (self, job->frame);
  if (entry == NULL)
    {
      entry = g_new0 (Entry, 1);
      entry->frame = job->frame;
      entry->surface = g_steal_pointer (&job->surface);
      g_ptr_array_add (self->entries, entry);
    }
  /* Made for a zoom or phase that has changed since: of no use. */
  if (entry->scaled == NULL && job->look.zoom > 0 && self->look.zoom == job->look.zoom
      && self->look.phase_x == job->look.phase_x && self->look.phase_y == job->look.phase_y)
    {
      /* Without it (no memory for it) the frame is drawn directly, rather than asked for again
       * and again: "ready" means ready. */
      entry->scaled = g_steal_pointer (&job->scaled);
      entry->scale_failed = entry->scaled == NULL;
    }
  entry->used = ++self->clock;
  evict (self, entry);
  g_signal_emit (self, signals[SIGNAL_READY], 0, job->frame);
  schedule (self);
}

/* The next frame that needs work: requests first, then prefetches. */
static gboolean
next_frame (HepaFrameCache *self,
            guint          *frame,
            gboolean       *requested)
{
  GArray *queues[] = { self->requests, self->prefetch };

  for (guint q = 0; q < G_N_ELEMENTS (queues); q++)
    while (queues[q]->len > 0)
      {
        guint f = g_array_index (queues[q], guint, 0);

        g_array_remove_index (queues[q], 0);
        if (f < hepa_image_get_n_frames (self->image) && !is_ready (self, f))
          {
            *frame = f;
            *requested = q == 0;
            return TRUE;
          }
      }
  return FALSE;
}

static void
schedule (HepaFrameCache *self)
{
  g_autoptr(GTask) task = NULL;
  Job *job;
  guint frame;
  gboolean requested;

  if (self->job_running || self->image == NULL || !next_frame (self, &frame, &requested))
    return;

  job = g_new0 (Job, 1);
  job->image = hepa_image_ref (self->image);
  job->frame = frame;
  job->look = self->look;
  if (!wants_scaled (self))
    job->look.zoom = 0;
  job->generation = self->generation;
  job->requested = requested;

  self->job_running = TRUE;
  task = g_task_new (self, NULL, job_done_cb, NULL);
  g_task_set_source_tag (task, schedule);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, job_thread);
}

HepaFrameCache *
hepa_frame_cache_new (gsize max_bytes)
{
  HepaFrameCache *self = g_object_new (HEPA_TYPE_FRAME_CACHE, NULL);

  self->max_bytes = max_bytes;
  return self;
}

void
hepa_frame_cache_set_image (HepaFrameCache *self,
                            HepaImage      *image)
{
  g_return_if_fail (HEPA_IS_FRAME_CACHE (self));

  drop_all (self);
  if (image != self->image)
    {
      g_clear_pointer (&self->image, hepa_image_unref);
      self->image = image ? hepa_image_ref (image) : NULL;
    }
}

HepaImage *
hepa_frame_cache_get_image (HepaFrameCache *self)
{
  g_return_val_if_fail (HEPA_IS_FRAME_CACHE (self), NULL);
  return self->image;
}

void
hepa_frame_cache_set_look (HepaFrameCache      *self,
                           const HepaFrameLook *look)
{
  gboolean window_changed;

  g_return_if_fail (HEPA_IS_FRAME_CACHE (self));
  g_return_if_fail (look != NULL);

  /* RGB frames do not go through the window. */
  window_changed = (look->wl_center != self->look.wl_center
                    || look->wl_width != self->look.wl_width)
                   && (self->image == NULL
                       || hepa_image_get_format (self->image) == HEPA_PIXEL_GRAY16);
  if (window_changed)
    {
      /* The queued frames are still wanted, in the new window. */
      g_ptr_array_set_size (self->entries, 0);
      self->generation++;
    }
  else if (look->zoom != self->look.zoom || look->phase_x != self->look.phase_x
           || look->phase_y != self->look.phase_y)
    {
      for (guint i = 0; i < self->entries->len; i++)
        {
          Entry *entry = g_ptr_array_index (self->entries, i);

          g_clear_pointer (&entry->scaled, cairo_surface_destroy);
          entry->scale_failed = FALSE;
        }
    }
  self->look = *look;
}

void
hepa_frame_cache_get_look (HepaFrameCache *self,
                           HepaFrameLook  *look)
{
  g_return_if_fail (HEPA_IS_FRAME_CACHE (self));
  *look = self->look;
}

gboolean
hepa_frame_cache_lookup (HepaFrameCache   *self,
                         guint             frame,
                         cairo_surface_t **surface,
                         cairo_surface_t **scaled)
{
  Entry *entry;

  g_return_val_if_fail (HEPA_IS_FRAME_CACHE (self), FALSE);

  entry = find_entry (self, frame);
  if (surface != NULL)
    *surface = entry ? entry->surface : NULL;
  if (scaled != NULL)
    *scaled = entry ? entry->scaled : NULL;
  if (entry == NULL)
    return FALSE;
  entry->used = ++self->clock;
  return TRUE;
}

void
hepa_frame_cache_insert (HepaFrameCache  *self,
                         guint            frame,
                         cairo_surface_t *surface)
{
  Entry *entry;

  g_return_if_fail (HEPA_IS_FRAME_CACHE (self));
  g_return_if_fail (surface != NULL);

  entry = find_entry (self, frame);
  if (entry == NULL)
    {
      entry = g_new0 (Entry, 1);
      entry->frame = frame;
      g_ptr_array_add (self->entries, entry);
    }
  if (entry->surface != surface)
    {
      g_clear_pointer (&entry->surface, cairo_surface_destroy);
      g_clear_pointer (&entry->scaled, cairo_surface_destroy);
      entry->surface = cairo_surface_reference (surface);
    }
  entry->used = ++self->clock;
  evict (self, entry);
}

void
hepa_frame_cache_insert_scaled (HepaFrameCache  *self,
                                guint            frame,
                                cairo_surface_t *scaled)
{
  Entry *entry;

  g_return_if_fail (HEPA_IS_FRAME_CACHE (self));
  g_return_if_fail (scaled != NULL);

  entry = find_entry (self, frame);
  if (entry == NULL || entry->scaled == scaled)
    return;
  g_clear_pointer (&entry->scaled, cairo_surface_destroy);
  entry->scaled = cairo_surface_reference (scaled);
  entry->used = ++self->clock;
}

gboolean
hepa_frame_cache_is_ready (HepaFrameCache *self,
                           guint           frame)
{
  g_return_val_if_fail (HEPA_IS_FRAME_CACHE (self), FALSE);
  return is_ready (self, frame);
}

void
hepa_frame_cache_request (HepaFrameCache *self,
                          guint           frame)
{
  g_return_if_fail (HEPA_IS_FRAME_CACHE (self));

  if (self->image == NULL || is_ready (self, frame))
    return;
  forget_frame (self->requests, frame);
  g_array_prepend_val (self->requests, frame);
  if (self->requests->len > MAX_REQUESTS)
    g_array_set_size (self->requests, MAX_REQUESTS);
  schedule (self);
}

void
hepa_frame_cache_prefetch (HepaFrameCache *self,
                           guint           first,
                           guint           count)
{
  guint n;

  g_return_if_fail (HEPA_IS_FRAME_CACHE (self));

  g_array_set_size (self->prefetch, 0);
  if (self->image == NULL)
    return;
  n = hepa_image_get_n_frames (self->image);
  /* One place stays for the frame on screen. */
  count = MIN (MIN (count, n), capacity (self) - 1);
  for (guint i = 0; i < count; i++)
    {
      guint frame = (first + i) % n;

      g_array_append_val (self->prefetch, frame);
    }
  /* The frames ahead count as used, the nearest most recently: eviction then takes the frames
   * already shown first. Least recently used alone dropped the next frame to play as soon as a
   * cine held more frames than the cache (each frame ahead was older than the one on screen),
   * so every frame was made twice and playback waited. */
  for (guint i = count; i > 0; i--)
    {
      Entry *entry = find_entry (self, g_array_index (self->prefetch, guint, i - 1));

      if (entry != NULL)
        entry->used = ++self->clock;
    }
  schedule (self);
}

gboolean
hepa_frame_cache_is_busy (HepaFrameCache *self)
{
  g_return_val_if_fail (HEPA_IS_FRAME_CACHE (self), FALSE);
  return self->job_running || self->requests->len > 0 || self->prefetch->len > 0;
}

guint
hepa_frame_cache_get_n_ready (HepaFrameCache *self)
{
  g_return_val_if_fail (HEPA_IS_FRAME_CACHE (self), 0);
  return self->entries->len;
}

gsize
hepa_frame_cache_get_bytes (HepaFrameCache *self)
{
  gsize bytes = 0;

  g_return_val_if_fail (HEPA_IS_FRAME_CACHE (self), 0);
  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (self->entries, i);

      bytes += surface_bytes (entry->surface) + surface_bytes (entry->scaled);
    }
  return bytes;
}

static void
hepa_frame_cache_finalize (GObject *object)
{
  HepaFrameCache *self = HEPA_FRAME_CACHE (object);

  g_clear_pointer (&self->entries, g_ptr_array_unref);
  g_clear_pointer (&self->requests, g_array_unref);
  g_clear_pointer (&self->prefetch, g_array_unref);
  g_clear_pointer (&self->image, hepa_image_unref);

  G_OBJECT_CLASS (hepa_frame_cache_parent_class)->finalize (object);
}

static void
hepa_frame_cache_class_init (HepaFrameCacheClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = hepa_frame_cache_finalize;

  /* A frame (and its scaled surface, when wanted) became ready. */
  signals[SIGNAL_READY] =
    g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
  /* A frame could not be made: its number and the reason, for the user. */
  signals[SIGNAL_FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
}

static void
hepa_frame_cache_init (HepaFrameCache *self)
{
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  self->requests = g_array_new (FALSE, FALSE, sizeof (guint));
  self->prefetch = g_array_new (FALSE, FALSE, sizeof (guint));
}
