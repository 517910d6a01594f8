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
  GtkWidget *intended;     /* the card's intended use, permanent */
  GtkWidget *warning;      /* "Outside what this model learned" and the failed checks */
  GtkWidget *set_label;    /* "cyst or hemangioma, 90 %" */
  GtkWidget *notes;        /* "Not calibrated · No out-of-distribution reference" */

  char     **classes;
  GArray    *rows;         /* (element-type ClassRow) */
  float     *probs;
  guint      n;
  char      *model_id;
  int        top;
  gboolean   uncertain;
  gboolean   greyed;
  char      *intended_use;
  char      *warning_text; /* for the summary; NULL when none */
  char      *set_text;
  char      *notes_text;
};

G_DEFINE_FINAL_TYPE (HepaProbPanel, hepa_prob_panel, GTK_TYPE_WIDGET)

static void set_trust (HepaProbPanel       *self,
                       const HepaProbTrust *trust,
                       gboolean             have_result);

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
  set_trust (self, NULL, FALSE);
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

/* Shows @trust (NULL: nothing known) for the current values; @have_result FALSE hides it all. */
static void
set_trust (HepaProbPanel       *self,
           const HepaProbTrust *trust,
           gboolean             have_result)
{
  g_autoptr(GString) warning = g_string_new (NULL);
  g_autoptr(GPtrArray) notes = g_ptr_array_new ();

  g_clear_pointer (&self->warning_text, g_free);
  g_clear_pointer (&self->set_text, g_free);
  g_clear_pointer (&self->notes_text, g_free);
  self->greyed = FALSE;
  if (have_result)
    {
      if (trust != NULL && trust->outside)
        g_string_append (warning, _("Outside what this model learned"));
      for (guint i = 0; trust != NULL && trust->reasons != NULL && trust->reasons[i]; i++)
        g_string_append_printf (warning, "%s%s", warning->len ? "\n" : "", trust->reasons[i]);
      self->greyed = warning->len > 0;
      if (trust != NULL && trust->calibrated && trust->in_set != NULL)
        {
          g_autoptr(GPtrArray) names = g_ptr_array_new ();
          g_autofree char *joined = NULL;
          g_autofree char *pct = g_strdup_printf ("%.0f", 100 * trust->coverage);

          for (guint i = 0; i < self->n; i++)
            if (trust->in_set[i])
              g_ptr_array_add (names, self->classes[i]);
          g_ptr_array_add (names, NULL);
          /* Translators: joins the class names of a prediction set: "cyst or hemangioma" */
          joined = g_strjoinv (_(" or "), (char **) names->pdata);
          if (*joined != '\0')
            /* Translators: a prediction set and its coverage: "cyst or hemangioma, 90 %" */
            self->set_text = g_strdup_printf (_("%s, %s %%"), joined, pct);
          else
            /* Translators: %s is a coverage such as 90 */
            self->set_text = g_strdup_printf (_("No class is likely enough for a %s %% set"),
                                              pct);
        }
      if (trust == NULL || !trust->calibrated)
        g_ptr_array_add (notes, (gpointer) _("Not calibrated"));
      if (trust == NULL || !trust->has_ood)
        g_ptr_array_add (notes, (gpointer) _("No out-of-distribution reference"));
      g_ptr_array_add (notes, NULL);
      if (notes->len > 1)
        self->notes_text = g_strjoinv (" · ", (char **) notes->pdata);
      if (warning->len > 0)
        self->warning_text = g_strdup (warning->str);
    }
  gtk_label_set_text (GTK_LABEL (self->warning), self->warning_text ? self->warning_text : "");
  gtk_widget_set_visible (self->warning, self->warning_text != NULL);
  gtk_label_set_text (GTK_LABEL (self->set_label), self->set_text ? self->set_text : "");
  gtk_widget_set_visible (self->set_label, self->set_text != NULL);
  gtk_label_set_text (GTK_LABEL (self->notes), self->notes_text ? self->notes_text : "");
  gtk_widget_set_visible (self->notes, self->notes_text != NULL);
  /* Greyed, never hidden. */
  gtk_widget_set_opacity (self->rows_box, self->greyed ? 0.45 : 1.0);
  gtk_widget_set_opacity (self->header, self->greyed ? 0.45 : 1.0);
  if (self->greyed)
    gtk_widget_add_css_class (GTK_WIDGET (self), "greyed");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "greyed");
}

void
hepa_prob_panel_set_result_full (HepaProbPanel       *self,
                                 const float         *probabilities,
                                 guint                n,
                                 const char          *model_id,
                                 double               latency_ms,
                                 const HepaProbTrust *trust)
{
  g_return_if_fail (HEPA_IS_PROB_PANEL (self));

  hepa_prob_panel_set_result (self, probabilities, n, model_id, latency_ms);
  if (self->n != n)
    return;
  set_trust (self, trust, TRUE);
  update_accessible (self);
}

void
hepa_prob_panel_set_intended_use (HepaProbPanel *self,
                                  const char    *text)
{
  g_autofree char *line = NULL;

  g_return_if_fail (HEPA_IS_PROB_PANEL (self));

  g_free (self->intended_use);
  self->intended_use = g_strdup (text);
  if (text != NULL)
    /* Translators: the model card's intended use, always shown under the probabilities */
    line = g_strdup_printf (_("Intended use: %s"), text);
  gtk_label_set_text (GTK_LABEL (self->intended), line ? line : "");
  gtk_widget_set_visible (self->intended, text != NULL);
  update_accessible (self);
}

const char *
hepa_prob_panel_get_intended_use (HepaProbPanel *self)
{
  g_return_val_if_fail (HEPA_IS_PROB_PANEL (self), NULL);
  return self->intended_use;
}

gboolean
hepa_prob_panel_get_greyed (HepaProbPanel *self)
{
  g_return_val_if_fail (HEPA_IS_PROB_PANEL (self), FALSE);
  return self->greyed;
}

char *
hepa_prob_panel_dup_set_text (HepaProbPanel *self)
{
  g_return_val_if_fail (HEPA_IS_PROB_PANEL (self), NULL);
  return g_strdup (self->set_text);
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
  set_trust (self, NULL, TRUE);
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
  if (self->warning_text != NULL)
    {
      g_autofree char *flat = g_strdelimit (g_strdup (self->warning_text), "\n", ' ');

      g_string_append_printf (s, "%s. ", flat);
    }
  g_string_append_printf (s, _("Most likely %s, %.0f percent."), self->classes[self->top],
                          self->probs[self->top] * 100.0);
  if (self->set_text != NULL)
    g_string_append_printf (s, " %s.", self->set_text);
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
  if (self->notes_text != NULL)
    g_string_append_printf (s, " %s.", self->notes_text);
  if (self->intended_use != NULL)
    {
      g_string_append_c (s, ' ');
      g_string_append_printf (s, _("Intended use: %s"), self->intended_use);
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
  g_clear_pointer (&self->intended_use, g_free);
  g_clear_pointer (&self->warning_text, g_free);
  g_clear_pointer (&self->set_text, g_free);
  g_clear_pointer (&self->notes_text, g_free);

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

  /* Why the answer may not apply: before any class name. */
  self->warning = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->warning), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->warning), 0.0);
  gtk_widget_add_css_class (self->warning, "trust-warning");
  gtk_widget_add_css_class (self->warning, "warning");
  gtk_widget_set_visible (self->warning, FALSE);
  gtk_widget_set_parent (self->warning, GTK_WIDGET (self));

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

  self->set_label = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->set_label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->set_label), 0.0);
  gtk_widget_add_css_class (self->set_label, "prediction-set");
  gtk_widget_set_tooltip_text (self->set_label, _("Conformal prediction set: on data like the "
                                                  "model's calibration data it holds the true "
                                                  "class this often"));
  gtk_widget_set_parent (self->set_label, GTK_WIDGET (self));

  self->notes = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->notes), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->notes), 0.0);
  gtk_widget_add_css_class (self->notes, "dim-label");
  gtk_widget_add_css_class (self->notes, "caption");
  gtk_widget_set_parent (self->notes, GTK_WIDGET (self));

  self->footer = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (self->footer), 0.0);
  gtk_label_set_ellipsize (GTK_LABEL (self->footer), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_selectable (GTK_LABEL (self->footer), FALSE);
  gtk_widget_add_css_class (self->footer, "dim-label");
  gtk_widget_add_css_class (self->footer, "caption");
  gtk_widget_set_parent (self->footer, GTK_WIDGET (self));

  self->intended = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->intended), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->intended), 0.0);
  gtk_widget_add_css_class (self->intended, "intended-use");
  gtk_widget_add_css_class (self->intended, "caption");
  gtk_widget_set_visible (self->intended, FALSE);
  gtk_widget_set_parent (self->intended, GTK_WIDGET (self));

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Class probabilities"), -1);
  hepa_prob_panel_clear (self, NULL);
}

GtkWidget *
hepa_prob_panel_new (void)
{
  return g_object_new (HEPA_TYPE_PROB_PANEL, NULL);
}
