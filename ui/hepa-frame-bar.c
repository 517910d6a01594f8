/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-frame-bar.h"

#include <glib/gi18n.h>
#include <math.h>

struct _HepaFrameBar
{
  GtkWidget      parent_instance;

  GtkWidget     *play;
  GtkWidget     *prev;
  GtkWidget     *next;
  GtkWidget     *scale;
  GtkWidget     *label;        /* a GtkInscription: new text at every frame of a cine does not
                                * lay the window out again, as a GtkLabel's would */
  GtkAdjustment *adjustment;

  guint          n_frames;
  guint          frame;
  double         interval_ms;
  guint          tick_id;
  gint64         play_start_us;
  guint          play_start_frame;
  gboolean       updating;
};

G_DEFINE_FINAL_TYPE (HepaFrameBar, hepa_frame_bar, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_FRAME,
  PROP_PLAYING,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

static char *
frame_text (guint frame,
            guint n_frames)
{
  /* Translators: frame position in a cine loop, e.g. "Frame 3 of 40" */
  return g_strdup_printf (_("Frame %u of %u"), frame + 1, MAX (n_frames, 1));
}

static void
update_label (HepaFrameBar *self)
{
  g_autofree char *text = frame_text (self->frame, self->n_frames);

  gtk_inscription_set_text (GTK_INSCRIPTION (self->label), text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->label), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  text, -1);
}

/* Wide enough for the longest text of @n_frames frames (the last frame's, in digits). */
static void
size_label (HepaFrameBar *self)
{
  g_autofree char *longest = frame_text (MAX (self->n_frames, 1) - 1, self->n_frames);
  guint chars = (guint) g_utf8_strlen (longest, -1) + 1;

  gtk_inscription_set_min_chars (GTK_INSCRIPTION (self->label), chars);
  gtk_inscription_set_nat_chars (GTK_INSCRIPTION (self->label), chars);
}

static void
set_frame_internal (HepaFrameBar *self,
                    guint         frame)
{
  if (self->n_frames == 0)
    return;
  frame = MIN (frame, self->n_frames - 1);
  if (frame == self->frame)
    return;
  self->frame = frame;
  self->updating = TRUE;
  gtk_adjustment_set_value (self->adjustment, frame);
  self->updating = FALSE;
  update_label (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRAME]);
}

static gboolean
tick_cb (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       user_data)
{
  HepaFrameBar *self = HEPA_FRAME_BAR (widget);
  gint64 now = gdk_frame_clock_get_frame_time (clock);
  double elapsed_ms = (now - self->play_start_us) / 1000.0;
  guint frame;

  if (self->play_start_us == 0)
    {
      self->play_start_us = now;
      return G_SOURCE_CONTINUE;
    }
  /* Frames follow the wall clock, so playback keeps the file's rate even when a redraw is
   * slow (frames are skipped, not slowed down). */
  frame = (self->play_start_frame + (guint) floor (elapsed_ms / self->interval_ms))
          % self->n_frames;
  set_frame_internal (self, frame);
  return G_SOURCE_CONTINUE;
}

void
hepa_frame_bar_set_playing (HepaFrameBar *self,
                            gboolean      playing)
{
  g_return_if_fail (HEPA_IS_FRAME_BAR (self));

  playing = playing && self->n_frames > 1;
  if (playing == (self->tick_id != 0))
    return;
  if (playing)
    {
      self->play_start_us = 0;
      self->play_start_frame = self->frame;
      self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), tick_cb, NULL, NULL);
    }
  else
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
  gtk_button_set_icon_name (GTK_BUTTON (self->play), playing ? "media-playback-pause-symbolic"
                                                             : "media-playback-start-symbolic");
  gtk_widget_set_tooltip_text (self->play, playing ? _("Pause") : _("Play"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->play), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  playing ? _("Pause") : _("Play"), -1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PLAYING]);
}

gboolean
hepa_frame_bar_get_playing (HepaFrameBar *self)
{
  g_return_val_if_fail (HEPA_IS_FRAME_BAR (self), FALSE);
  return self->tick_id != 0;
}

void
hepa_frame_bar_set_marks (HepaFrameBar *self,
                          const guint  *frames,
                          guint         n_marks)
{
  g_return_if_fail (HEPA_IS_FRAME_BAR (self));

  gtk_scale_clear_marks (GTK_SCALE (self->scale));
  for (guint i = 0; i < n_marks; i++)
    gtk_scale_add_mark (GTK_SCALE (self->scale), frames[i], GTK_POS_BOTTOM, NULL);
}

double
hepa_frame_bar_get_interval_ms (HepaFrameBar *self)
{
  g_return_val_if_fail (HEPA_IS_FRAME_BAR (self), 0);
  return self->interval_ms;
}

void
hepa_frame_bar_set_n_frames (HepaFrameBar *self,
                             guint         n_frames,
                             double        frame_time_ms)
{
  g_return_if_fail (HEPA_IS_FRAME_BAR (self));

  hepa_frame_bar_set_playing (self, FALSE);
  self->n_frames = n_frames;
  self->interval_ms = frame_time_ms > 0 ? frame_time_ms : 40.0;
  self->frame = G_MAXUINT;
  self->updating = TRUE;
  gtk_adjustment_configure (self->adjustment, 0, 0, MAX (n_frames, 1) - 1, 1, 10, 0);
  self->updating = FALSE;
  size_label (self);
  set_frame_internal (self, 0);
  gtk_widget_set_sensitive (self->play, n_frames > 1);
}

guint
hepa_frame_bar_get_n_frames (HepaFrameBar *self)
{
  g_return_val_if_fail (HEPA_IS_FRAME_BAR (self), 0);
  return self->n_frames;
}

void
hepa_frame_bar_set_frame (HepaFrameBar *self,
                          guint         frame)
{
  g_return_if_fail (HEPA_IS_FRAME_BAR (self));

  set_frame_internal (self, frame);
  if (self->tick_id != 0)
    {
      self->play_start_us = 0;
      self->play_start_frame = self->frame;
    }
}

guint
hepa_frame_bar_get_frame (HepaFrameBar *self)
{
  g_return_val_if_fail (HEPA_IS_FRAME_BAR (self), 0);
  return self->frame;
}

void
hepa_frame_bar_step (HepaFrameBar *self,
                     int           delta)
{
  int n;

  g_return_if_fail (HEPA_IS_FRAME_BAR (self));

  if (self->n_frames == 0)
    return;
  n = (int) self->n_frames;
  hepa_frame_bar_set_playing (self, FALSE);
  hepa_frame_bar_set_frame (self, (guint) ((((int) self->frame + delta) % n + n) % n));
}

static void
value_changed_cb (HepaFrameBar  *self,
                  GtkAdjustment *adjustment)
{
  if (self->updating)
    return;
  hepa_frame_bar_set_frame (self, (guint) lround (gtk_adjustment_get_value (adjustment)));
}

static void
play_clicked_cb (HepaFrameBar *self)
{
  hepa_frame_bar_set_playing (self, self->tick_id == 0);
}

static void
prev_clicked_cb (HepaFrameBar *self)
{
  hepa_frame_bar_step (self, -1);
}

static void
next_clicked_cb (HepaFrameBar *self)
{
  hepa_frame_bar_step (self, 1);
}

static void
hepa_frame_bar_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  HepaFrameBar *self = HEPA_FRAME_BAR (object);

  switch (prop_id)
    {
    case PROP_FRAME:
      g_value_set_uint (value, self->frame);
      break;
    case PROP_PLAYING:
      g_value_set_boolean (value, self->tick_id != 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_frame_bar_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  HepaFrameBar *self = HEPA_FRAME_BAR (object);

  switch (prop_id)
    {
    case PROP_FRAME:
      hepa_frame_bar_set_frame (self, g_value_get_uint (value));
      break;
    case PROP_PLAYING:
      hepa_frame_bar_set_playing (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_frame_bar_dispose (GObject *object)
{
  HepaFrameBar *self = HEPA_FRAME_BAR (object);
  GtkWidget *child;

  if (self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (hepa_frame_bar_parent_class)->dispose (object);
}

static void
hepa_frame_bar_class_init (HepaFrameBarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_frame_bar_dispose;
  object_class->get_property = hepa_frame_bar_get_property;
  object_class->set_property = hepa_frame_bar_set_property;

  properties[PROP_FRAME] =
    g_param_spec_uint ("frame", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PLAYING] =
    g_param_spec_boolean ("playing", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "hepaframebar");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_TOOLBAR);
}

static GtkWidget *
icon_button (const char *icon,
             const char *tooltip)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_add_css_class (button, "flat");
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  tooltip, -1);
  return button;
}

static void
hepa_frame_bar_init (HepaFrameBar *self)
{
  GtkLayoutManager *layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));

  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (layout), 6);

  self->prev = icon_button ("media-skip-backward-symbolic", _("Previous frame"));
  g_signal_connect_swapped (self->prev, "clicked", G_CALLBACK (prev_clicked_cb), self);
  gtk_widget_set_parent (self->prev, GTK_WIDGET (self));

  self->play = icon_button ("media-playback-start-symbolic", _("Play"));
  g_signal_connect_swapped (self->play, "clicked", G_CALLBACK (play_clicked_cb), self);
  gtk_widget_set_parent (self->play, GTK_WIDGET (self));

  self->next = icon_button ("media-skip-forward-symbolic", _("Next frame"));
  g_signal_connect_swapped (self->next, "clicked", G_CALLBACK (next_clicked_cb), self);
  gtk_widget_set_parent (self->next, GTK_WIDGET (self));

  self->adjustment = gtk_adjustment_new (0, 0, 0, 1, 10, 0);
  g_signal_connect_swapped (self->adjustment, "value-changed", G_CALLBACK (value_changed_cb),
                            self);
  self->scale = gtk_scale_new (GTK_ORIENTATION_HORIZONTAL, self->adjustment);
  gtk_scale_set_draw_value (GTK_SCALE (self->scale), FALSE);
  gtk_scale_set_digits (GTK_SCALE (self->scale), 0);
  gtk_range_set_round_digits (GTK_RANGE (self->scale), 0);
  gtk_widget_set_hexpand (self->scale, TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->scale), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Frame"), -1);
  gtk_widget_set_parent (self->scale, GTK_WIDGET (self));

  self->label = gtk_inscription_new (NULL);
  gtk_widget_add_css_class (self->label, "numeric");
  gtk_widget_set_parent (self->label, GTK_WIDGET (self));

  self->interval_ms = 40.0;
  hepa_frame_bar_set_n_frames (self, 1, 0);
}

GtkWidget *
hepa_frame_bar_new (void)
{
  return g_object_new (HEPA_TYPE_FRAME_BAR, NULL);
}
