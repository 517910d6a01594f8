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

/* A card value as readable text: strings as they are, arrays joined by commas, objects as one
 * "key: value" line per member (nested objects indented). */
static void
append_node (GString  *out,
             JsonNode *node,
             int       depth)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *obj = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (obj);

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonNode *child = json_object_get_member (obj, l->data);

          if (out->len > 0)
            g_string_append_c (out, '\n');
          for (int i = 0; i < depth; i++)
            g_string_append (out, "    ");
          g_string_append_printf (out, "%s: ", (const char *) l->data);
          if (JSON_NODE_HOLDS_OBJECT (child))
            append_node (out, child, depth + 1);
          else
            append_node (out, child, depth);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      gboolean sentences = FALSE;

      /* Words are joined by commas; sentences (the known limits) get a line each. */
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *e = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
              && strchr (json_node_get_string (e), ' ') != NULL)
            sentences = TRUE;
        }
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          if (i > 0)
            g_string_append (out, sentences ? "\n" : ", ");
          append_node (out, json_array_get_element (array, i), depth);
        }
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    g_string_append (out, json_node_get_string (node));
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    g_string_append_printf (out, "%.4g", json_node_get_double (node));
  else if (!JSON_NODE_HOLDS_NULL (node))
    {
      g_autofree char *text = json_to_string (node, FALSE);
      g_string_append (out, text);
    }
}

/* The card's ISO 8601 creation time as a local date and time in the user's locale; the text as
 * it is when it does not parse. */
static char *
format_created (const char *iso)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_iso8601 (iso, NULL);
  g_autoptr(GDateTime) local = NULL;
  char *text;

  if (utc == NULL)
    return g_strdup (iso);
  local = g_date_time_to_local (utc);
  /* Translators: a date and time for g_date_time_format(): %x and %X are the locale's own
   * (GLib cannot write Thai's %x, so th uses e.g. "%-d %B %Y %H:%M") */
  /* xgettext:no-c-format */
  text = g_date_time_format (local, _("%x %X"));
  return text != NULL ? text : g_date_time_format_iso8601 (local);
}

static char *
card_string (JsonObject *card,
             const char *member)
{
  GString *out;

  if (card == NULL || !json_object_has_member (card, member))
    return NULL;
  out = g_string_new (NULL);
  append_node (out, json_object_get_member (card, member), 0);
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* Member @member of @obj when it is an object (below: an array, a number); NULL (FALSE) when
 * @obj is NULL or the member is missing or of another type: the card comes from a file. */
static JsonObject *
object_member (JsonObject *obj,
               const char *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
array_member (JsonObject *obj,
              const char *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static gboolean
number_member (JsonObject *obj,
               const char *member,
               double     *value)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || (json_node_get_value_type (node) != G_TYPE_DOUBLE
          && json_node_get_value_type (node) != G_TYPE_INT64))
    return FALSE;
  *value = json_node_get_double (node);
  return TRUE;
}

/* A {"mean": m, "sd": s} member of @obj as a percentage; FALSE when it is missing. */
static gboolean
mean_sd_member (JsonObject *obj,
                const char *member,
                double     *mean,
                double     *sd)
{
  JsonObject *ms = object_member (obj, member);

  if (ms == NULL || !number_member (ms, "mean", mean) || !number_member (ms, "sd", sd))
    return FALSE;
  *mean *= 100.0;
  *sd *= 100.0;
  return TRUE;
}

/* The card's cross-validation summary as a few lines a reader can take in: accuracy, then
 * sensitivity and specificity per class, mean ± SD over the folds. NULL when there is none. */
static char *
cross_validation_text (JsonObject *card)
{
  JsonObject *metrics = object_member (card, "metrics");
  JsonObject *cv = object_member (metrics, "cross_validation");
  JsonObject *per_class = object_member (cv, "per_class");
  JsonArray *folds = array_member (metrics, "folds");
  g_autoptr(GString) out = g_string_new (NULL);
  guint n_folds = folds != NULL ? json_array_get_length (folds) : 0;
  double m, s;

  if (!mean_sd_member (cv, "accuracy", &m, &s))
    return NULL;
  /* Translators: e.g. "5-fold cross-validation: accuracy 96.1 ± 1.2%" */
  g_string_append_printf (out, _("%u-fold cross-validation: accuracy %.1f ± %.1f%%"), n_folds,
                          m, s);
  if (per_class != NULL)
    {
      g_autoptr(GList) names = json_object_get_members (per_class);

      for (GList *l = names; l != NULL; l = l->next)
        {
          JsonObject *c = object_member (per_class, l->data);
          double sm, ss, pm, ps;

          if (!mean_sd_member (c, "sensitivity", &sm, &ss)
              || !mean_sd_member (c, "specificity", &pm, &ps))
            continue;
          g_string_append_c (out, '\n');
          /* Translators: one class's cross-validation figures, mean ± SD over the folds */
          g_string_append_printf (out, _("%s: sensitivity %.1f ± %.1f%%, specificity %.1f ± "
                                         "%.1f%%"), (const char *) l->data, sm, ss, pm, ps);
        }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

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
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj = NULL;
  GtkWidget *grid = self->facts_grid;
  g_autofree char *classes = NULL;
  g_autofree char *input = NULL;
  g_autofree char *pretty = NULL;
  int row = 0;

  if (card->json != NULL && json_parser_load_from_data (parser, card->json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {

      obj = json_node_get_object (json_parser_get_root (parser));
      /* Issue 18: the OOD reference's arrays abbreviated (hundreds of kB of base64). */
      pretty = hepa_model_card_to_display_json (card);
    }

  classes = g_strjoinv (", ", card->classes);
  if (card->grayscale)
    /* Translators: the model's input, e.g. "224 × 224, grayscale to three channels" */
    input = g_strdup_printf (_("%d × %d, grayscale to three channels"), card->input_size,
                             card->input_size);
  else
    input = g_strdup_printf ("%d × %d", card->input_size, card->input_size);
  add_fact (grid, row++, _("Model"), card->id);
  add_fact (grid, row++, _("Architecture"), card->arch);
  add_fact (grid, row++, _("Classes"), classes);
  add_fact (grid, row++, _("Input"), input);
  {
    static const struct { const char *key; const char *name; } facts[] = {
      { "intended_use", N_("Intended use") },
      { "description", N_("Description") },
      { "trained_on", N_("Trained on") },
      { "metrics", N_("Metrics") },
      { "warnings", N_("Known limits") },
      { "created", N_("Created") },
      { "software_version", N_("Software") },
    };

    for (guint i = 0; i < G_N_ELEMENTS (facts); i++)
      {
        g_autofree char *value = g_str_equal (facts[i].key, "metrics")
                                 ? cross_validation_text (obj) : NULL;

        if (value == NULL)
          value = card_string (obj, facts[i].key);
        if (value != NULL && g_str_equal (facts[i].key, "created"))
          {
            char *created = format_created (value);

            g_free (value);
            value = created;
          }

        if (value != NULL)
          add_fact (grid, row++, _(facts[i].name), value);
      }
  }
  /* Issue 18: how far to trust its probabilities. */
  {
    g_autofree char *cal = hepa_model_card_describe_calibration (card);
    g_autofree char *ood = hepa_model_card_describe_ood (card);

    add_fact (grid, row++, _("Calibration"), cal);
    add_fact (grid, row++, _("Out of distribution"), ood);
  }
  add_fact (grid, row++, _("SHA-256"), card->sha256 && *card->sha256 ? card->sha256 : NULL);
  if (!card->has_card)
    add_fact (grid, row++, _("Card"), _("This file has no model card; defaults were assumed."));
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
