/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-pacs-dialog.h"

#include <glib/gi18n.h>

#include "hepa-pacs-nodes.h"
#include "hepa-pacs.h"

struct _HepaPacsDialog
{
  GtkWindow     parent_instance;

  GtkWidget    *node_dropdown;
  GtkWidget    *patient_name_entry;
  GtkWidget    *patient_id_entry;
  GtkWidget    *date_from_entry;
  GtkWidget    *date_to_entry;
  GtkWidget    *accession_entry;
  GtkWidget    *modality_entry;
  GtkWidget    *status_label;
  GtkWidget    *find_button;
  GtkWidget    *study_list;
  GtkWidget    *series_list;
  GtkWidget    *progress_bar;
  GtkWidget    *cancel_button;
  GtkWidget    *retrieve_button;

  GSettings    *settings;
  GPtrArray    *nodes;         /* HepaPacsNode, as in the settings */
  GPtrArray    *studies;       /* HepaPacsMatch at study level */
  GPtrArray    *series;        /* HepaPacsMatch at series level, of the chosen study */
  GCancellable *op;            /* the find or retrieve under way, or NULL */
  GCancellable *series_op;     /* the series query of the chosen study, or NULL */
  char         *retrieving;    /* the folder a retrieve writes to */
  gboolean      updating;
};

G_DEFINE_FINAL_TYPE (HepaPacsDialog, hepa_pacs_dialog, GTK_TYPE_WINDOW)

enum
{
  STUDY_RETRIEVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
set_status (HepaPacsDialog *self,
            const char     *line,
            gboolean        is_error)
{
  gtk_label_set_text (GTK_LABEL (self->status_label), line);
  if (is_error)
    gtk_widget_add_css_class (self->status_label, "error");
  else
    gtk_widget_remove_css_class (self->status_label, "error");
}

static const HepaPacsNode *
current_node (HepaPacsDialog *self)
{
  guint i = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->node_dropdown));

  return i < self->nodes->len ? g_ptr_array_index (self->nodes, i) : NULL;
}

static void
update_sensitivity (HepaPacsDialog *self)
{
  gboolean busy = self->op != NULL;

  gtk_widget_set_sensitive (self->find_button, !busy && current_node (self) != NULL);
  gtk_widget_set_sensitive (self->retrieve_button,
                            !busy && current_node (self) != NULL
                            && gtk_list_box_get_selected_row (GTK_LIST_BOX (self->study_list)) != NULL);
  gtk_widget_set_sensitive (self->cancel_button, busy);
  gtk_widget_set_sensitive (self->node_dropdown, !busy);
}

static void
load_nodes (HepaPacsDialog *self)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);
  guint chosen;

  g_clear_pointer (&self->nodes, g_ptr_array_unref);
  self->nodes = hepa_pacs_nodes_from_settings (self->settings);
  for (guint i = 0; i < self->nodes->len; i++)
    {
      g_autofree char *name = hepa_pacs_node_to_string (g_ptr_array_index (self->nodes, i));

      gtk_string_list_append (names, name);
    }
  self->updating = TRUE;
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->node_dropdown), G_LIST_MODEL (names));
  chosen = (guint) g_settings_get_int (self->settings, "pacs-node");
  if (chosen < self->nodes->len)
    gtk_drop_down_set_selected (GTK_DROP_DOWN (self->node_dropdown), chosen);
  self->updating = FALSE;
  if (self->nodes->len == 0)
    set_status (self, _("No archive is set: add one in Preferences."), TRUE);
  update_sensitivity (self);
}

static void
node_changed_cb (HepaPacsDialog *self)
{
  guint i = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->node_dropdown));

  if (!self->updating && i != GTK_INVALID_LIST_POSITION && self->settings != NULL)
    g_settings_set_int (self->settings, "pacs-node", (int) i);
  update_sensitivity (self);
}

static void
settings_changed_cb (HepaPacsDialog *self,
                     const char     *key)
{
  if (g_str_has_prefix (key, "pacs-") && !g_str_equal (key, "pacs-node"))
    load_nodes (self);
}

/* "20260102" or "" for an entry; FALSE when it is neither. */
static gboolean
read_date (GtkWidget  *entry,
           char      **out)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (entry))));
  g_autoptr(GString) digits = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    if (g_ascii_isdigit (*p))
      g_string_append_c (digits, *p);
    else if (*p != '-' && *p != '/' && *p != '.')
      return FALSE;
  if (digits->len != 0 && digits->len != 8)
    return FALSE;
  *out = g_string_free (g_steal_pointer (&digits), FALSE);
  return TRUE;
}

static GtkWidget *
match_row (const char *title,
           const char *subtitle)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *first = gtk_label_new (title);
  GtkWidget *second = gtk_label_new (subtitle);

  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 4);
  gtk_widget_set_margin_bottom (box, 4);
  gtk_label_set_xalign (GTK_LABEL (first), 0);
  gtk_label_set_xalign (GTK_LABEL (second), 0);
  gtk_label_set_ellipsize (GTK_LABEL (second), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (second, "dim-label");
  gtk_box_append (GTK_BOX (box), first);
  gtk_box_append (GTK_BOX (box), second);
  return box;
}

/* YYYYMMDD as YYYY-MM-DD, else as given. */
static char *
show_date (const char *date)
{
  if (date != NULL && strlen (date) == 8)
    return g_strdup_printf ("%.4s-%.2s-%.2s", date, date + 4, date + 6);
  return g_strdup (date ? date : "");
}

static void
clear_list (GtkWidget *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (list), child);
}

/* ---- Find ------------------------------------------------------------------------------- */

static void
find_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(HepaPacsDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) matches = hepa_pacs_find_finish (result, &error);

  g_clear_object (&self->op);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar), 0);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (self->progress_bar), "");
  if (matches == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        set_status (self, _("Query cancelled."), FALSE);
      else
        set_status (self, error->message, TRUE);
      update_sensitivity (self);
      return;
    }
  g_clear_pointer (&self->studies, g_ptr_array_unref);
  self->studies = g_steal_pointer (&matches);
  clear_list (self->study_list);
  clear_list (self->series_list);
  for (guint i = 0; i < self->studies->len; i++)
    {
      HepaPacsMatch *m = g_ptr_array_index (self->studies, i);
      g_autofree char *date = show_date (m->study_date);
      g_autofree char *title = g_strdup_printf ("%s · %s · %s", m->patient_name ? m->patient_name : "",
                                                m->patient_id ? m->patient_id : "", date);
      g_autofree char *images = m->n_instances >= 0
                                  ? g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%ld image",
                                                                  "%ld images", m->n_instances),
                                                     m->n_instances)
                                  : g_strdup ("");
      const char *parts[] = { m->study_description, m->modalities, m->accession_number, images };
      g_autoptr(GString) subtitle = g_string_new (NULL);

      for (guint k = 0; k < G_N_ELEMENTS (parts); k++)
        if (parts[k] != NULL && *parts[k])
          g_string_append_printf (subtitle, "%s%s", subtitle->len ? " · " : "", parts[k]);

      g_strdelimit (title, "^", ' ');
      gtk_list_box_append (GTK_LIST_BOX (self->study_list), match_row (title, subtitle->str));
    }
  {
    g_autofree char *line = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u study found.",
                                                          "%u studies found.", self->studies->len),
                                             self->studies->len);
    set_status (self, line, FALSE);
  }
  if (self->studies->len > 0)
    gtk_list_box_select_row (GTK_LIST_BOX (self->study_list),
                             gtk_list_box_get_row_at_index (GTK_LIST_BOX (self->study_list), 0));
  update_sensitivity (self);
}

static void
find_clicked_cb (HepaPacsDialog *self)
{
  const HepaPacsNode *node = current_node (self);
  g_autofree char *from = NULL, *to = NULL, *dates = NULL;
  HepaPacsQuery query = { 0 };

  if (node == NULL || self->op != NULL)
    return;
  if (!read_date (self->date_from_entry, &from) || !read_date (self->date_to_entry, &to))
    {
      set_status (self, _("A date is written YYYYMMDD (or YYYY-MM-DD)."), TRUE);
      return;
    }
  if (*from || *to)
    dates = g_str_equal (from, to) ? g_strdup (from) : g_strdup_printf ("%s-%s", from, to);
  query.patient_name = gtk_editable_get_text (GTK_EDITABLE (self->patient_name_entry));
  query.patient_id = gtk_editable_get_text (GTK_EDITABLE (self->patient_id_entry));
  query.study_date = dates;
  query.accession_number = gtk_editable_get_text (GTK_EDITABLE (self->accession_entry));
  query.modality = gtk_editable_get_text (GTK_EDITABLE (self->modality_entry));
  if (self->series_op != NULL)
    g_cancellable_cancel (self->series_op);
  self->op = g_cancellable_new ();
  set_status (self, _("Searching…"), FALSE);
  gtk_progress_bar_pulse (GTK_PROGRESS_BAR (self->progress_bar));
  update_sensitivity (self);
  hepa_pacs_find_async (node, HEPA_PACS_LEVEL_STUDY, &query, self->op, find_done_cb,
                        g_object_ref (self));
}

/* ---- Series of the chosen study ---------------------------------------------------------- */

static const HepaPacsMatch *
selected_study (HepaPacsDialog *self)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (GTK_LIST_BOX (self->study_list));
  int i = row != NULL ? gtk_list_box_row_get_index (row) : -1;

  return self->studies != NULL && i >= 0 && (guint) i < self->studies->len
           ? g_ptr_array_index (self->studies, i) : NULL;
}

static void
series_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(HepaPacsDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) matches = hepa_pacs_find_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->series_op);
  if (matches == NULL)
    {
      set_status (self, error->message, TRUE);
      return;
    }
  g_clear_pointer (&self->series, g_ptr_array_unref);
  self->series = g_steal_pointer (&matches);
  clear_list (self->series_list);
  for (guint i = 0; i < self->series->len; i++)
    {
      HepaPacsMatch *m = g_ptr_array_index (self->series, i);
      g_autofree char *title = g_strdup_printf (_("Series %s · %s"),
                                                m->series_number ? m->series_number : "",
                                                m->modalities ? m->modalities : "");
      g_autofree char *subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s · %ld image",
                                                                "%s · %ld images",
                                                                MAX (m->n_instances, 0)),
                                                   m->series_description ? m->series_description : "",
                                                   MAX (m->n_instances, 0));

      gtk_list_box_append (GTK_LIST_BOX (self->series_list), match_row (title, subtitle));
    }
}

static void
study_selected_cb (HepaPacsDialog *self)
{
  const HepaPacsMatch *study = selected_study (self);
  const HepaPacsNode *node = current_node (self);
  HepaPacsQuery query = { 0 };

  if (self->series_op != NULL)
    g_cancellable_cancel (self->series_op);
  g_clear_object (&self->series_op);
  g_clear_pointer (&self->series, g_ptr_array_unref);
  clear_list (self->series_list);
  update_sensitivity (self);
  if (study == NULL || node == NULL)
    return;
  query.study_uid = study->study_uid;
  self->series_op = g_cancellable_new ();
  hepa_pacs_find_async (node, HEPA_PACS_LEVEL_SERIES, &query, self->series_op, series_done_cb,
                        g_object_ref (self));
}

/* ---- Retrieve --------------------------------------------------------------------------- */

static void
retrieve_progress_cb (guint    done,
                      guint    total,
                      gpointer user_data)
{
  HepaPacsDialog *self = user_data;
  g_autofree char *text = NULL;

  if (total > 0)
    {
      text = g_strdup_printf (_("%u of %u images"), done, total);
      gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar),
                                     MIN (1.0, (double) done / total));
    }
  else
    {
      text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u image", "%u images", done), done);
      gtk_progress_bar_pulse (GTK_PROGRESS_BAR (self->progress_bar));
    }
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (self->progress_bar), text);
}

static void
retrieve_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(HepaPacsDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = g_steal_pointer (&self->retrieving);
  guint n = 0;
  gboolean ok = hepa_pacs_retrieve_finish (result, &n, &error);

  g_clear_object (&self->op);
  update_sensitivity (self);
  if (!ok)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *line = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                                "Retrieve cancelled after %u image.",
                                                                "Retrieve cancelled after %u images.",
                                                                n), n);
          set_status (self, line, FALSE);
        }
      else
        set_status (self, error->message, TRUE);
      gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar), 0);
      return;
    }
  {
    g_autofree char *line = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                          "Retrieved %u file; opening it.",
                                                          "Retrieved %u files; opening them.", n),
                                             n);
    set_status (self, line, FALSE);
  }
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar), 1.0);
  g_signal_emit (self, signals[STUDY_RETRIEVED], 0, folder);
}

static void
retrieve_clicked_cb (HepaPacsDialog *self)
{
  const HepaPacsMatch *study = selected_study (self);
  const HepaPacsNode *node = current_node (self);
  GtkListBoxRow *series_row = gtk_list_box_get_selected_row (GTK_LIST_BOX (self->series_list));
  const char *series_uid = NULL;

  if (study == NULL || node == NULL || self->op != NULL)
    return;
  if (series_row != NULL && self->series != NULL
      && (guint) gtk_list_box_row_get_index (series_row) < self->series->len)
    series_uid = ((HepaPacsMatch *) g_ptr_array_index (self->series,
                                                       gtk_list_box_row_get_index (series_row)))->series_uid;
  g_free (self->retrieving);
  self->retrieving = hepa_pacs_cache_dir (study->study_uid);
  self->op = g_cancellable_new ();
  set_status (self, node->our_port > 0 ? _("Retrieving with C-MOVE…") : _("Retrieving with C-GET…"),
              FALSE);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar), 0);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (self->progress_bar), "");
  update_sensitivity (self);
  hepa_pacs_retrieve_async (node, study->study_uid, series_uid, self->retrieving,
                            node->our_port > 0, retrieve_progress_cb, self, self->op,
                            retrieve_done_cb, g_object_ref (self));
}

static void
cancel_clicked_cb (HepaPacsDialog *self)
{
  if (self->op != NULL)
    g_cancellable_cancel (self->op);
}

/* ---- Object ----------------------------------------------------------------------------- */

gboolean
hepa_pacs_dialog_get_busy (HepaPacsDialog *self)
{
  g_return_val_if_fail (HEPA_IS_PACS_DIALOG (self), FALSE);
  return self->op != NULL || self->series_op != NULL;
}

guint
hepa_pacs_dialog_get_n_studies (HepaPacsDialog *self)
{
  g_return_val_if_fail (HEPA_IS_PACS_DIALOG (self), 0);
  return self->studies != NULL ? self->studies->len : 0;
}

guint
hepa_pacs_dialog_get_n_series (HepaPacsDialog *self)
{
  g_return_val_if_fail (HEPA_IS_PACS_DIALOG (self), 0);
  return self->series != NULL ? self->series->len : 0;
}

static gboolean
close_request (GtkWindow *window)
{
  HepaPacsDialog *self = HEPA_PACS_DIALOG (window);

  /* Closing cancels what is under way; the callbacks hold their own reference. */
  if (self->op != NULL)
    g_cancellable_cancel (self->op);
  if (self->series_op != NULL)
    g_cancellable_cancel (self->series_op);
  return GTK_WINDOW_CLASS (hepa_pacs_dialog_parent_class)->close_request (window);
}

static void
hepa_pacs_dialog_dispose (GObject *object)
{
  HepaPacsDialog *self = HEPA_PACS_DIALOG (object);

  if (self->op != NULL)
    g_cancellable_cancel (self->op);
  if (self->series_op != NULL)
    g_cancellable_cancel (self->series_op);
  g_clear_object (&self->op);
  g_clear_object (&self->series_op);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->nodes, g_ptr_array_unref);
  g_clear_pointer (&self->studies, g_ptr_array_unref);
  g_clear_pointer (&self->series, g_ptr_array_unref);
  g_clear_pointer (&self->retrieving, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), HEPA_TYPE_PACS_DIALOG);
  G_OBJECT_CLASS (hepa_pacs_dialog_parent_class)->dispose (object);
}

static void
hepa_pacs_dialog_class_init (HepaPacsDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_pacs_dialog_dispose;
  GTK_WINDOW_CLASS (klass)->close_request = close_request;

  /* ::study-retrieved (const char *folder): the retrieved study's files are in @folder. */
  signals[STUDY_RETRIEVED] = g_signal_new ("study-retrieved", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                           1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-pacs-dialog.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, HepaPacsDialog, name)
  BIND (node_dropdown);
  BIND (patient_name_entry);
  BIND (patient_id_entry);
  BIND (date_from_entry);
  BIND (date_to_entry);
  BIND (accession_entry);
  BIND (modality_entry);
  BIND (status_label);
  BIND (find_button);
  BIND (study_list);
  BIND (series_list);
  BIND (progress_bar);
  BIND (cancel_button);
  BIND (retrieve_button);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, node_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, find_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, study_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, retrieve_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
hepa_pacs_dialog_init (HepaPacsDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

HepaPacsDialog *
hepa_pacs_dialog_new (GtkWindow *parent,
                      GSettings *settings)
{
  HepaPacsDialog *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (HEPA_TYPE_PACS_DIALOG, NULL);
  self->settings = g_object_ref (settings);
  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (self), parent);
  load_nodes (self);
  g_signal_connect_object (settings, "changed", G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  return self;
}
