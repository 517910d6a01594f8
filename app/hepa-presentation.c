/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-presentation.h"

#include "hepa-debug.h"
#include "hepa-gallery.h"
#include "hepa-window-private.h"


static void
fullscreen_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  GtkWindow *window = GTK_WINDOW (user_data);
  gboolean on = !gtk_window_is_fullscreen (window);

  /* Without a window manager (Xvfb) the request is not granted; the log says what was asked. */
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: full screen %s requested\n", on ? "on" : "off");
  if (on)
    gtk_window_fullscreen (window);
  else
    gtk_window_unfullscreen (window);
}

static void
side_panel_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  GtkWidget *pane = gtk_paned_get_end_child (GTK_PANED (self->paned));

  g_simple_action_set_state (action, param);
  /* The whole pane (its scrolled window with the panel), so the image takes the room. */
  gtk_widget_set_visible (pane != NULL ? pane : GTK_WIDGET (self->side_panel),
                          g_variant_get_boolean (param));
}

static void
presentation_action (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  HepaWindow *self = HEPA_WINDOW (user_data);
  gboolean on = g_variant_get_boolean (param);

  g_simple_action_set_state (action, param);
  if (on)
    gtk_widget_add_css_class (GTK_WIDGET (self), "presentation");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "presentation");
  hepa_canvas_set_line_scale (self->canvas, on ? 2.5 : 1.0);
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: presentation %s\n", on ? "on" : "off");
  /* The image big: the side panel folds away (F9 brings it back). */
  g_action_group_change_action_state (G_ACTION_GROUP (self), "side-panel",
                                      g_variant_new_boolean (!on));
}

static void
blind_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  g_simple_action_set_state (action, param);
  hepa_window_set_blind (HEPA_WINDOW (user_data), g_variant_get_boolean (param));
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: blind %s\n", g_variant_get_boolean (param) ? "on" : "off");
}

static void
gallery_action (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  gtk_window_present (GTK_WINDOW (hepa_gallery_new (GTK_WINDOW (user_data))));
}

static const GActionEntry entries[] = {
  { "gallery", gallery_action, NULL, NULL, NULL },
  { "fullscreen", fullscreen_action, NULL, NULL, NULL },
  { "side-panel", NULL, NULL, "true", side_panel_action },
  { "presentation", NULL, NULL, "false", presentation_action },
  { "blind", NULL, NULL, "false", blind_action },
};

void
hepa_presentation_attach (HepaWindow *self)
{
  g_return_if_fail (HEPA_IS_WINDOW (self));

  g_action_map_add_action_entries (G_ACTION_MAP (self), entries, G_N_ELEMENTS (entries), self);
  /* File names: the header's title and subtitle; hidden by the window's "blind" class. */
  gtk_widget_add_css_class (self->title_label, "hepa-file-name");
  gtk_widget_add_css_class (self->subtitle_label, "hepa-file-name");
}
