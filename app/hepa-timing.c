/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-timing.h"

#include "hepa-debug.h"

#include <math.h>
#include <time.h>

/* A high-priority 4 ms tick measures the gaps between its runs while inference, decoding
 * (opening a file, cine frames, the frame cache's work) or a save is in flight, or a cine plays.
 * A gap is the 4 ms period plus the time the main loop was kept from running it: a gap above
 * 20 ms means the loop was blocked, or waited for a core, for more than 16 ms. The main thread's
 * own CPU time within each gap tells the two apart: work on the main thread (layout, painting,
 * our callbacks) shows as CPU time, a thread kept off the cores by others does not. */
#define TICK_MS 4

enum { KIND_INFERENCE, KIND_DECODING, KIND_SAVING, KIND_PLAYING, N_KINDS };

/* The frame clock's phases, timed in the main thread's CPU time: update (tick callbacks, such
 * as cine playback), layout (measuring and allocating widgets) and paint (snapshot and
 * rendering). Our handlers run after GTK's own, so each one ends the phase it names. */
typedef enum
{
  PHASE_UPDATE,
  PHASE_LAYOUT,
  PHASE_PAINT,
  PHASE_N,
} Phase;

struct _HepaTiming
{
  GtkWidget         *widget;
  HepaTimingBusyFunc busy;
  gpointer           busy_data;

  guint              tick_id;
  gint64             last_us;
  gint64             last_cpu_us;
  GArray            *gaps;             /* (gint64 us) gaps between ticks while work was in flight */
  GArray            *cpu;              /* (gint64 us) the main thread's CPU time in each gap */
  gint64             max_us[N_KINDS];  /* longest gap by kind of work in flight */
  GdkFrameClock     *clock;            /* the frame clock whose phases are timed */
  gint64             phase_cpu_us;     /* CPU time when the running phase began */
  GArray            *phase_cpu[PHASE_N];

  guint              play_frames;      /* frames shown while a cine played */
  gint64             play_us;          /* time a cine played, up to play_since_us */
  gint64             play_since_us;    /* when the current playback began, or 0 */

  gint64             released_us;      /* the finished edit waiting for its answer, or 0 */
  double             inference_ms;
  gint64             start_us;
  gint64             result_us;
  gint64             update_us;
  gboolean           after_paint_connected;
};

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static HepaTimingWork
busy_now (HepaTiming *self)
{
  return self->busy (self->busy_data);
}

static void
phase_end (HepaTiming *self,
           Phase       phase)
{
  gint64 now = thread_cpu_us ();
  gint64 used = now - self->phase_cpu_us;

  if (busy_now (self) != 0)
    g_array_append_val (self->phase_cpu[phase], used);
  self->phase_cpu_us = now;
}

static void
phase_begin_cb (GdkFrameClock *clock,
                HepaTiming    *self)
{
  self->phase_cpu_us = thread_cpu_us ();
}

static void
phase_update_cb (GdkFrameClock *clock,
                 HepaTiming    *self)
{
  phase_end (self, PHASE_UPDATE);
}

static void
phase_layout_cb (GdkFrameClock *clock,
                 HepaTiming    *self)
{
  phase_end (self, PHASE_LAYOUT);
}

static void
phase_paint_cb (GdkFrameClock *clock,
                HepaTiming    *self)
{
  phase_end (self, PHASE_PAINT);
}

static void
after_paint_cb (GdkFrameClock *clock,
                HepaTiming    *self);

static void
disconnect_clock (HepaTiming *self)
{
  if (self->clock == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->clock, self);
  self->after_paint_connected = FALSE;
  g_clear_object (&self->clock);
}

/* The window's frame clock exists once it is realized, and changes if it is realized again. */
static void
watch_phases (HepaTiming *self)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (self->widget);

  if (clock == self->clock)
    return;
  disconnect_clock (self);
  if (clock == NULL)
    return;
  self->clock = g_object_ref (clock);
  g_signal_connect (clock, "before-paint", G_CALLBACK (phase_begin_cb), self);
  g_signal_connect (clock, "update", G_CALLBACK (phase_update_cb), self);
  g_signal_connect (clock, "layout", G_CALLBACK (phase_layout_cb), self);
  g_signal_connect (clock, "paint", G_CALLBACK (phase_paint_cb), self);
}

static gboolean
tick_cb (gpointer data)
{
  HepaTiming *self = data;
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();
  HepaTimingWork work = busy_now (self);

  watch_phases (self);
  if (work != 0 && self->last_us != 0)
    {
      gint64 gap = now - self->last_us;
      gint64 used = cpu - self->last_cpu_us;

      g_array_append_val (self->gaps, gap);
      g_array_append_val (self->cpu, used);
      for (guint k = 0; k < N_KINDS; k++)
        if (work & (1 << k))
          self->max_us[k] = MAX (self->max_us[k], gap);
    }
  self->last_us = now;
  self->last_cpu_us = cpu;
  return G_SOURCE_CONTINUE;
}

HepaTiming *
hepa_timing_new (GtkWidget         *widget,
                 HepaTimingBusyFunc busy,
                 gpointer           user_data)
{
  HepaTiming *self;

  g_return_val_if_fail (GTK_IS_WIDGET (widget), NULL);
  g_return_val_if_fail (busy != NULL, NULL);

  if (!hepa_debug_enabled (HEPA_DEBUG_TIMING))
    return NULL;
  self = g_new0 (HepaTiming, 1);
  self->widget = widget;
  self->busy = busy;
  self->busy_data = user_data;
  self->gaps = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->cpu = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint p = 0; p < PHASE_N; p++)
    self->phase_cpu[p] = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->tick_id = g_timeout_add_full (G_PRIORITY_HIGH, TICK_MS, tick_cb, self, NULL);
  return self;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* "worst W ms, p99 P ms, median M ms" of @values (microseconds), which it sorts. p99: the value
 * that 99 % of them do not exceed (nearest rank). */
static char *
percentiles_text (GArray *values)
{
  guint n = values->len;

  g_array_sort (values, compare_gint64);
  return g_strdup_printf ("worst %.1f ms, p99 %.1f ms, median %.1f ms",
                          n ? g_array_index (values, gint64, n - 1) / 1000.0 : 0.0,
                          n ? g_array_index (values, gint64, (guint) ceil (0.99 * n) - 1) / 1000.0
                            : 0.0,
                          n ? g_array_index (values, gint64, (n - 1) / 2) / 1000.0 : 0.0);
}

void
hepa_timing_finish (HepaTiming *self,
                    double      file_fps)
{
  g_autofree char *gaps_text = NULL;
  g_autofree char *cpu_text = NULL;
  guint n, over = 0;

  if (self == NULL)
    return;
  g_source_remove (self->tick_id);
  n = self->gaps->len;
  gaps_text = percentiles_text (self->gaps);
  cpu_text = percentiles_text (self->cpu);
  for (guint i = 0; i < n; i++)
    if (g_array_index (self->gaps, gint64, i) > 16000 + TICK_MS * 1000)
      over++;
  g_printerr ("hepascope-timing: main loop while work was in flight: %u gaps of the %d ms tick, "
              "%s, %u over %d ms; worst while inferring %.1f ms, decoding %.1f ms, saving "
              "%.1f ms, playing a cine %.1f ms\n", n, TICK_MS, gaps_text, over, 16 + TICK_MS,
              self->max_us[KIND_INFERENCE] / 1000.0, self->max_us[KIND_DECODING] / 1000.0,
              self->max_us[KIND_SAVING] / 1000.0, self->max_us[KIND_PLAYING] / 1000.0);
  g_printerr ("hepascope-timing: main thread CPU time within those gaps: %s (the rest of a gap "
              "the thread waited for a core)\n", cpu_text);
  if (self->play_since_us != 0)
    self->play_us += g_get_monotonic_time () - self->play_since_us;
  if (self->play_us > 0)
    g_printerr ("hepascope-timing: cine playback: %u frames shown in %.1f s, %.1f per second "
                "(the file's rate %.1f per second)\n", self->play_frames,
                self->play_us / 1e6, self->play_frames / (self->play_us / 1e6), file_fps);
  for (guint p = 0; p < PHASE_N; p++)
    {
      static const char *const names[PHASE_N] = { "update", "layout", "paint" };
      g_autofree char *text = percentiles_text (self->phase_cpu[p]);

      g_printerr ("hepascope-timing: main thread CPU time in the frame clock's %s phase: %u "
                  "frames, %s\n", names[p], self->phase_cpu[p]->len, text);
      g_array_unref (self->phase_cpu[p]);
    }
  disconnect_clock (self);
  g_array_unref (self->gaps);
  g_array_unref (self->cpu);
  g_free (self);
}

void
hepa_timing_set_playing (HepaTiming *self,
                         gboolean    playing)
{
  if (self == NULL)
    return;
  if (playing && self->play_since_us == 0)
    self->play_since_us = g_get_monotonic_time ();
  else if (!playing && self->play_since_us != 0)
    {
      self->play_us += g_get_monotonic_time () - self->play_since_us;
      self->play_since_us = 0;
    }
}

void
hepa_timing_frame_shown (HepaTiming *self)
{
  if (self != NULL && self->play_since_us != 0)
    self->play_frames++;
}

void
hepa_timing_roi_released (HepaTiming *self)
{
  if (self != NULL)
    self->released_us = g_get_monotonic_time ();
}

void
hepa_timing_roi_already_shown (HepaTiming *self)
{
  if (self == NULL)
    return;
  /* Said anyway, so every release has its line. */
  g_printerr ("hepascope-timing: roi-released -> probabilities on screen: 0.0 ms "
              "(the answer for this place was already on screen)\n");
}

static void
after_paint_cb (GdkFrameClock *clock,
                HepaTiming    *self)
{
  double ms;

  g_signal_handlers_disconnect_by_func (clock, after_paint_cb, self);
  self->after_paint_connected = FALSE;
  if (self->released_us == 0)
    return;
  ms = (g_get_monotonic_time () - self->released_us) / 1000.0;
  g_printerr ("hepascope-timing: roi-released -> probabilities on screen: %.1f ms "
              "(inference %.1f ms; released -> started %.1f ms, started -> result %.1f ms, "
              "result -> painted %.1f ms, of which updating widgets %.1f ms)\n", ms,
              self->inference_ms, MAX (0, self->start_us - self->released_us) / 1000.0,
              (self->result_us - self->start_us) / 1000.0,
              (g_get_monotonic_time () - self->result_us) / 1000.0, self->update_us / 1000.0);
  self->released_us = 0;
}

void
hepa_timing_result_shown (HepaTiming *self,
                          double      inference_ms,
                          gint64      start_us,
                          gint64      result_us,
                          gint64      update_us,
                          gboolean    more_coming)
{
  GdkFrameClock *clock;

  if (self == NULL)
    return;
  self->inference_ms = inference_ms;
  self->start_us = start_us;
  self->result_us = result_us;
  self->update_us = update_us;
  if (self->released_us == 0 || more_coming || self->after_paint_connected)
    return;
  watch_phases (self);
  clock = self->clock;
  if (clock != NULL)
    {
      g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), self);
      self->after_paint_connected = TRUE;
    }
}
