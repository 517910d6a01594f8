/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-model-card-dialog.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

struct _HepaModelCardDialog
{
  GtkWindow  parent_instance;

  GtkWidget *facts_grid;
  GtkWidget *card_expander;
  GtkWidget *card_view;
};

G_DEFINE_FINAL_TYPE (HepaModelCardDialog, hepa_model_card_dialog, GTK_TYPE_WINDOW)

static void
add_fact (GtkWidget  *grid,
          int         row,
          const char *name,
          const char *value)
{
  GtkWidget *key = gtk_label_new (name);
  GtkWidget *val = gtk_label_new (value ? value : "—");

  gtk_label_set_xalign (GTK_LABEL (key), 1.0);
  gtk_label_set_yalign (GTK_LABEL (key), 0.0);
  gtk_widget_add_css_class (key, "dim-label");
  gtk_label_set_xalign (GTK_LABEL (val), 0.0);
  gtk_label_set_wrap (GTK_LABEL (val), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (val), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (val), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (val), 60);
  gtk_grid_attach (GTK_GRID (grid), key, 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), val, 1, row, 1, 1);
}

static void
fill (HepaModelCardDialog *self,
      HepaModelHandle     *model)
{
  const HepaModelCard *card = hepa_model_get_card (model->model);
  GtkWidget *grid = self->facts_grid;
  g_autoptr(GPtrArray) fields = NULL;
  g_autofree char *pretty = NULL;
  int row = 0;

  /* The whole card, with the OOD reference's arrays abbreviated (hundreds of kB of base64). */
  if (card->json != NULL)
    pretty = hepa_model_card_to_display_json (card);

  /* The facts come from the card module (hepa_model_card_get_display_fields), the one place
   * that reads a card for people. */
  fields = hepa_model_card_get_display_fields (card);
  for (guint i = 0; i < fields->len; i++)
    {
      const HepaCardField *f = g_ptr_array_index (fields, i);

      add_fact (grid, row++, f->label, f->value);
    }
  if (model->path != NULL)
    add_fact (grid, row++, _("File"), model->path);

  if (pretty != NULL)
    {
      gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->card_view)),
                                pretty, -1);
      gtk_widget_set_visible (self->card_expander, TRUE);
    }
}

GtkWidget *
hepa_model_card_dialog_new (GtkWindow       *parent,
                            HepaModelHandle *model)
{
  HepaModelCardDialog *self;

  g_return_val_if_fail (model != NULL, NULL);

  self = g_object_new (HEPA_TYPE_MODEL_CARD_DIALOG, "transient-for", parent, NULL);
  fill (self, model);
  return GTK_WIDGET (self);
}

static void
hepa_model_card_dialog_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), HEPA_TYPE_MODEL_CARD_DIALOG);
  G_OBJECT_CLASS (hepa_model_card_dialog_parent_class)->dispose (object);
}

static void
hepa_model_card_dialog_class_init (HepaModelCardDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_model_card_dialog_dispose;
  /* Escape closes it, like the Preferences (issue 20 item 5). */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-model-card-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, HepaModelCardDialog, facts_grid);
  gtk_widget_class_bind_template_child (widget_class, HepaModelCardDialog, card_expander);
  gtk_widget_class_bind_template_child (widget_class, HepaModelCardDialog, card_view);
}

static void
hepa_model_card_dialog_init (HepaModelCardDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
