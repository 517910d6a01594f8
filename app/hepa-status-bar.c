/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-status-bar.h"

#include <glib/gi18n.h>
#include <math.h>

struct _HepaStatusBar
{
  GtkBox     parent_instance;

  GtkWidget *status_model;
  GtkWidget *status_time;
  GtkWidget *status_message;
  GtkWidget *status_pointer;
  GtkWidget *status_zoom;
};

G_DEFINE_FINAL_TYPE (HepaStatusBar, hepa_status_bar, GTK_TYPE_BOX)

void
hepa_status_bar_set_model (HepaStatusBar *self,
                           const char    *text)
{
  g_return_if_fail (HEPA_IS_STATUS_BAR (self));
  gtk_label_set_text (GTK_LABEL (self->status_model), text ? text : "");
}

void
hepa_status_bar_set_inference (HepaStatusBar *self,
                               double         latency_ms)
{
  g_autofree char *text = g_strdup_printf (_("Inference %.0f ms"), latency_ms);

  g_return_if_fail (HEPA_IS_STATUS_BAR (self));
  gtk_label_set_text (GTK_LABEL (self->status_time), text);
}

void
hepa_status_bar_set_message (HepaStatusBar *self,
                             const char    *message)
{
  g_return_if_fail (HEPA_IS_STATUS_BAR (self));
  gtk_label_set_text (GTK_LABEL (self->status_message), message ? message : "");
}

void
hepa_status_bar_set_pointer (HepaStatusBar *self,
                             HepaImage     *image,
                             guint          frame_index,
                             double         x,
                             double         y,
                             gboolean       inside)
{
  const HepaFrame *frame;
  int px = (int) floor (x), py = (int) floor (y);
  g_autofree char *value = NULL;
  g_autofree char *text = NULL;
  double sx, sy;

  g_return_if_fail (HEPA_IS_STATUS_BAR (self));

  if (!inside || image == NULL || px < 0 || py < 0 || px >= hepa_image_get_width (image)
      || py >= hepa_image_get_height (image))
    {
      gtk_label_set_text (GTK_LABEL (self->status_pointer), "");
      return;
    }
  frame = hepa_image_get_frame (image, frame_index, NULL);
  if (frame == NULL)
    return;
  if (frame->format == HEPA_PIXEL_GRAY16)
    {
      const guint16 *row = (const guint16 *) (gconstpointer) (frame->data + py * frame->stride);
      value = g_strdup_printf (_("value %u"), row[px]);
    }
  else
    {
      const guint8 *p = frame->data + py * frame->stride + px * 3;

      if (p[0] == p[1] && p[1] == p[2])
        /* Translators: the gray value of the pixel under the pointer */
        value = g_strdup_printf (_("value %u"), p[0]);
      else
        value = g_strdup_printf ("RGB %u %u %u", p[0], p[1], p[2]);
    }
  if (hepa_image_get_spacing_at (image, px, py, &sx, &sy))
    /* Translators: the pointer's x, y in pixels and in millimetres, then its value; with a
     * decimal comma, separate x and y otherwise (e.g. "12; 30 px · 4,5; 9,0 mm") */
    text = g_strdup_printf (_("%d, %d px · %.1f, %.1f mm · %s"), px, py, px * sx, py * sy,
                            value);
  else
    text = g_strdup_printf ("%d, %d px · %s", px, py, value);
  gtk_label_set_text (GTK_LABEL (self->status_pointer), text);
}

void
hepa_status_bar_set_zoom (HepaStatusBar *self,
                          double         zoom)
{
  /* Translators: a whole percentage, e.g. "87 %" */
  g_autofree char *text = g_strdup_printf (_("%.0f %%"), zoom * 100.0);

  g_return_if_fail (HEPA_IS_STATUS_BAR (self));
  gtk_label_set_text (GTK_LABEL (self->status_zoom), text);
}

static void
hepa_status_bar_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), HEPA_TYPE_STATUS_BAR);
  G_OBJECT_CLASS (hepa_status_bar_parent_class)->dispose (object);
}

static void
hepa_status_bar_class_init (HepaStatusBarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_status_bar_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-status-bar.ui");
  gtk_widget_class_bind_template_child (widget_class, HepaStatusBar, status_model);
  gtk_widget_class_bind_template_child (widget_class, HepaStatusBar, status_time);
  gtk_widget_class_bind_template_child (widget_class, HepaStatusBar, status_message);
  gtk_widget_class_bind_template_child (widget_class, HepaStatusBar, status_pointer);
  gtk_widget_class_bind_template_child (widget_class, HepaStatusBar, status_zoom);
}

static void
hepa_status_bar_init (HepaStatusBar *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
