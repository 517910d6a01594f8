/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-prob-panel.h"

#include <glib/gi18n.h>
#include <math.h>

typedef struct
{
  GtkWidget *box;
  GtkWidget *name;
  GtkWidget *bar;
  GtkWidget *value;
} ClassRow;

struct _HepaProbPanel
{
  GtkWidget  parent_instance;

  GtkWidget *header;       /* top class and percentage */
  GtkWidget *badge;        /* "Uncertain" */
  GtkWidget *rows_box;
  GtkWidget *footer;       /* model id and time */
  GtkWidget *message;

  char     **classes;
  GArray    *rows;         /* (element-type ClassRow) */
  float     *probs;
  guint      n;
  char      *model_id;
  int        top;
  gboolean   uncertain;
};

G_DEFINE_FINAL_TYPE (HepaProbPanel, hepa_prob_panel, GTK_TYPE_WIDGET)

gboolean
hepa_probabilities_uncertain (const float *probabilities,
                              guint        n,
                              double       margin_points,
                              int         *first,
                              int         *second)
{
  int a = -1, b = -1;

  for (guint i = 0; i < n; i++)
    {
      if (a < 0 || probabilities[i] > probabilities[a])
        {
          b = a;
          a = i;
        }
      else if (b < 0 || probabilities[i] > probabilities[b])
        b = i;
    }
  if (first)
    *first = a;
  if (second)
    *second = b;
  if (a < 0 || b < 0)
    return FALSE;
  return (probabilities[a] - probabilities[b]) * 100.0 < margin_points;
}

static char *
format_percent (double p)
{
  /* One decimal below 10 %, so small but non-zero values do not read as 0. */
  double pct = p * 100.0;

  /* Translated for the percent style ("87 %", "87%"); printf gives the decimal separator. */
  if (pct > 0 && pct < 10.0)
    /* Translators: a percentage with one decimal, e.g. "4.5 %" */
    return g_strdup_printf (_("%.1f %%"), pct);
  /* Translators: a whole percentage, e.g. "87 %" */
  return g_strdup_printf (_("%.0f %%"), pct);
}

static void
clear_rows (HepaProbPanel *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (self->rows_box)) != NULL)
    gtk_box_remove (GTK_BOX (self->rows_box), child);
  g_array_set_size (self->rows, 0);
}

static void
build_rows (HepaProbPanel *self)
{
  GtkSizeGroup *group = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);
  GtkSizeGroup *values = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);

  clear_rows (self);
  for (guint i = 0; self->classes && self->classes[i]; i++)
    {
      ClassRow row;
      g_autofree char *key = g_strdup_printf ("%u", i + 1);
      GtkWidget *key_label;

      row.box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      gtk_widget_add_css_class (row.box, "prob-row");

      key_label = gtk_label_new (key);
      gtk_widget_add_css_class (key_label, "keycap");
      gtk_widget_set_tooltip_text (key_label, _("Press this key to give the selected region this label"));
      gtk_accessible_update_state (GTK_ACCESSIBLE (key_label), GTK_ACCESSIBLE_STATE_HIDDEN, TRUE, -1);
      gtk_box_append (GTK_BOX (row.box), key_label);

      row.name = gtk_label_new (self->classes[i]);
      gtk_label_set_xalign (GTK_LABEL (row.name), 0.0);
      gtk_label_set_ellipsize (GTK_LABEL (row.name), PANGO_ELLIPSIZE_END);
      gtk_widget_add_css_class (row.name, "class-name");
      gtk_size_group_add_widget (group, row.name);
      /* In characters, not pixels, so the column grows with the text scale (200%). */
      gtk_label_set_width_chars (GTK_LABEL (row.name), 10);
      gtk_box_append (GTK_BOX (row.box), row.name);

      row.bar = gtk_level_bar_new_for_interval (0.0, 1.0);
      gtk_level_bar_set_mode (GTK_LEVEL_BAR (row.bar), GTK_LEVEL_BAR_MODE_CONTINUOUS);
      /* The built-in low/high/full offsets would colour bars by value; the panel marks the
       * top class itself, with text. */
      gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (row.bar), GTK_LEVEL_BAR_OFFSET_LOW);
      gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (row.bar), GTK_LEVEL_BAR_OFFSET_HIGH);
      gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (row.bar), GTK_LEVEL_BAR_OFFSET_FULL);
      gtk_widget_set_hexpand (row.bar, TRUE);
      gtk_widget_set_valign (row.bar, GTK_ALIGN_CENTER);
      gtk_box_append (GTK_BOX (row.box), row.bar);

      row.value = gtk_label_new ("–");
      gtk_label_set_xalign (GTK_LABEL (row.value), 1.0);
      gtk_label_set_width_chars (GTK_LABEL (row.value), 7);
      gtk_widget_add_css_class (row.value, "numeric");
      gtk_size_group_add_widget (values, row.value);
      gtk_box_append (GTK_BOX (row.box), row.value);

      gtk_box_append (GTK_BOX (self->rows_box), row.box);
      g_array_append_val (self->rows, row);
    }
  g_object_unref (group);
  g_object_unref (values);
}

static void
update_accessible (HepaProbPanel *self)
{
  g_autofree char *summary = hepa_prob_panel_dup_summary (self);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  summary, -1);
}

void
hepa_prob_panel_set_classes (HepaProbPanel      *self,
                             const char *const *classes)
{
  g_return_if_fail (HEPA_IS_PROB_PANEL (self));

  g_strfreev (self->classes);
  self->classes = g_strdupv ((char **) classes);
  build_rows (self);
  hepa_prob_panel_clear (self, NULL);
}

void
hepa_prob_panel_clear (HepaProbPanel *self,
                       const char    *message)
{
  g_return_if_fail (HEPA_IS_PROB_PANEL (self));

  g_clear_pointer (&self->probs, g_free);
  g_clear_pointer (&self->model_id, g_free);
  self->n = 0;
  self->top = -1;
  self->uncertain = FALSE;
  for (guint i = 0; i < self->rows->len; i++)
    {
      ClassRow *row = &g_array_index (self->rows, ClassRow, i);

      gtk_level_bar_set_value (GTK_LEVEL_BAR (row->bar), 0.0);
      gtk_label_set_text (GTK_LABEL (row->value), "–");
      gtk_widget_remove_css_class (row->box, "top");
      gtk_accessible_update_property (GTK_ACCESSIBLE (row->bar), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      self->classes[i], GTK_ACCESSIBLE_PROPERTY_VALUE_TEXT,
                                      _("no value"), -1);
    }
  gtk_label_set_text (GTK_LABEL (self->header), _("No prediction"));
  gtk_widget_set_visible (self->badge, FALSE);
  gtk_label_set_text (GTK_LABEL (self->footer), "");
  gtk_label_set_text (GTK_LABEL (self->message), message ? message : "");
  gtk_widget_set_visible (self->message, message != NULL && *message != '\0');
  gtk_widget_remove_css_class (GTK_WIDGET (self), "busy");
  update_accessible (self);
}

void
hepa_prob_panel_set_busy (HepaProbPanel *self,
                          gboolean       busy)
{
  g_return_if_fail (HEPA_IS_PROB_PANEL (self));

  if (busy)
    gtk_widget_add_css_class (GTK_WIDGET (self), "busy");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "busy");
}

void
hepa_prob_panel_set_result (HepaProbPanel *self,
                            const float   *probabilities,
                            guint          n,
                            const char    *model_id,
                            double         latency_ms)
{
  int second;
  g_autofree char *top_pct = NULL;
  g_autofree char *header = NULL;
  g_autofree char *footer = NULL;

  g_return_if_fail (HEPA_IS_PROB_PANEL (self));
  g_return_if_fail (probabilities != NULL);
  g_return_if_fail (n == self->rows->len);

  g_free (self->probs);
  self->probs = g_memdup2 (probabilities, sizeof (float) * n);
  self->n = n;
  g_free (self->model_id);
  self->model_id = g_strdup (model_id);
  self->uncertain = hepa_probabilities_uncertain (probabilities, n, HEPA_UNCERTAIN_MARGIN,
                                                  &self->top, &second);

  for (guint i = 0; i < n; i++)
    {
      ClassRow *row = &g_array_index (self->rows, ClassRow, i);
      g_autofree char *pct = format_percent (probabilities[i]);

      gtk_level_bar_set_value (GTK_LEVEL_BAR (row->bar), CLAMP (probabilities[i], 0.0f, 1.0f));
      gtk_label_set_text (GTK_LABEL (row->value), pct);
      if ((int) i == self->top)
        gtk_widget_add_css_class (row->box, "top");
      else
        gtk_widget_remove_css_class (row->box, "top");
      gtk_accessible_update_property (GTK_ACCESSIBLE (row->bar), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      self->classes[i], GTK_ACCESSIBLE_PROPERTY_VALUE_TEXT, pct,
                                      -1);
    }

  top_pct = format_percent (probabilities[self->top]);
  /* Translators: the most probable class and its probability, e.g. "cyst · 87 %" */
  header = g_strdup_printf (_("%s · %s"), self->classes[self->top], top_pct);
  gtk_label_set_text (GTK_LABEL (self->header), header);
  gtk_widget_set_visible (self->badge, self->uncertain);

  if (latency_ms > 0)
    /* Translators: the model id and how long the classification took */
    footer = g_strdup_printf (_("Model %s · %.0f ms"), model_id ? model_id : "?", latency_ms);
  else
    footer = g_strdup_printf (_("Model %s"), model_id ? model_id : "?");
  gtk_label_set_text (GTK_LABEL (self->footer), footer);
  gtk_widget_set_visible (self->message, FALSE);
  gtk_widget_remove_css_class (GTK_WIDGET (self), "busy");
  update_accessible (self);
}

int
hepa_prob_panel_get_top (HepaProbPanel *self)
{
  g_return_val_if_fail (HEPA_IS_PROB_PANEL (self), -1);
  return self->top;
}

gboolean
hepa_prob_panel_get_uncertain (HepaProbPanel *self)
{
  g_return_val_if_fail (HEPA_IS_PROB_PANEL (self), FALSE);
  return self->uncertain;
}

char *
hepa_prob_panel_dup_summary (HepaProbPanel *self)
{
  GString *s;

  g_return_val_if_fail (HEPA_IS_PROB_PANEL (self), NULL);

  if (self->probs == NULL || self->top < 0)
    return g_strdup (_("No prediction"));

  s = g_string_new (NULL);
  g_string_append_printf (s, _("Most likely %s, %.0f percent."), self->classes[self->top],
                          self->probs[self->top] * 100.0);
  if (self->uncertain)
    g_string_append_printf (s, " %s", _("Uncertain: the top two classes are within 10 points."));
  for (guint i = 0; i < self->n; i++)
    {
      g_string_append_c (s, ' ');
      /* Translators: one class and its probability, read by a screen reader */
      g_string_append_printf (s, _("%s: %.1f percent."), self->classes[i],
                              self->probs[i] * 100.0);
    }
  if (self->model_id != NULL)
    {
      g_string_append_c (s, ' ');
      /* Translators: %s is the model's id, read after the probabilities */
      g_string_append_printf (s, _("Model %s."), self->model_id);
    }
  return g_string_free (s, FALSE);
}

static void
hepa_prob_panel_dispose (GObject *object)
{
  HepaProbPanel *self = HEPA_PROB_PANEL (object);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (hepa_prob_panel_parent_class)->dispose (object);
}

static void
hepa_prob_panel_finalize (GObject *object)
{
  HepaProbPanel *self = HEPA_PROB_PANEL (object);

  g_clear_pointer (&self->classes, g_strfreev);
  g_clear_pointer (&self->rows, g_array_unref);
  g_clear_pointer (&self->probs, g_free);
  g_clear_pointer (&self->model_id, g_free);

  G_OBJECT_CLASS (hepa_prob_panel_parent_class)->finalize (object);
}

static void
hepa_prob_panel_class_init (HepaProbPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_prob_panel_dispose;
  object_class->finalize = hepa_prob_panel_finalize;

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "hepaprobpanel");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
hepa_prob_panel_init (HepaProbPanel *self)
{
  GtkLayoutManager *layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));
  GtkWidget *title_box;

  gtk_orientable_set_orientation (GTK_ORIENTABLE (layout), GTK_ORIENTATION_VERTICAL);
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (layout), 6);

  self->rows = g_array_new (FALSE, TRUE, sizeof (ClassRow));
  self->top = -1;

  title_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  self->header = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (self->header), 0.0);
  gtk_label_set_ellipsize (GTK_LABEL (self->header), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (self->header, TRUE);
  gtk_widget_add_css_class (self->header, "prob-top");
  gtk_box_append (GTK_BOX (title_box), self->header);
  self->badge = gtk_label_new (_("Uncertain"));
  gtk_widget_add_css_class (self->badge, "uncertain-badge");
  gtk_widget_set_valign (self->badge, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (self->badge, _("The two most probable classes are within 10 percentage points"));
  gtk_box_append (GTK_BOX (title_box), self->badge);
  gtk_widget_set_parent (title_box, GTK_WIDGET (self));

  self->message = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->message), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->message), 0.0);
  gtk_widget_add_css_class (self->message, "dim-label");
  gtk_widget_set_parent (self->message, GTK_WIDGET (self));

  self->rows_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_set_parent (self->rows_box, GTK_WIDGET (self));

  self->footer = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (self->footer), 0.0);
  gtk_label_set_ellipsize (GTK_LABEL (self->footer), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_selectable (GTK_LABEL (self->footer), FALSE);
  gtk_widget_add_css_class (self->footer, "dim-label");
  gtk_widget_add_css_class (self->footer, "caption");
  gtk_widget_set_parent (self->footer, GTK_WIDGET (self));

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Class probabilities"), -1);
  hepa_prob_panel_clear (self, NULL);
}

GtkWidget *
hepa_prob_panel_new (void)
{
  return g_object_new (HEPA_TYPE_PROB_PANEL, NULL);
}
