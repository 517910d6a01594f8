/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-pacs-nodes.h"

#include <glib/gi18n.h>

#include "hepa-error.h"

GPtrArray *
hepa_pacs_nodes_from_settings (GSettings *settings)
{
  GPtrArray *nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_pacs_node_free);
  g_autoptr(GVariant) list = g_settings_get_value (settings, "pacs-nodes");
  g_autofree char *our_aet = g_settings_get_string (settings, "pacs-our-aet");
  int our_port = g_settings_get_int (settings, "pacs-our-port");
  GVariantIter iter;
  const char *aet, *host;
  int port;
  gboolean move;

  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&sib)", &aet, &host, &port, &move))
    {
      HepaPacsNode *node = g_new0 (HepaPacsNode, 1);

      node->peer_aet = g_strdup (aet);
      node->host = g_strdup (host);
      node->port = port;
      node->our_aet = g_strdup (*our_aet ? our_aet : HEPA_PACS_DEFAULT_AET);
      node->our_port = move ? our_port : 0;
      g_ptr_array_add (nodes, node);
    }
  return nodes;
}

gboolean
hepa_pacs_nodes_add (GSettings   *settings,
                     const char  *aet,
                     const char  *host,
                     int          port,
                     gboolean     move,
                     GError     **error)
{
  g_autoptr(GVariant) list = g_settings_get_value (settings, "pacs-nodes");
  g_autoptr(GVariantBuilder) builder = NULL;
  g_autofree char *spec = NULL;
  g_autoptr(HepaPacsNode) node = NULL;
  g_autofree char *bare_host = g_strstrip (g_strdup (host ? host : ""));
  g_autofree char *bare_aet = g_strstrip (g_strdup (aet ? aet : ""));
  GVariantIter iter;
  GVariant *child;

  if (*bare_aet == '\0' || *bare_host == '\0')
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("A node needs an AE title and a host"));
      return FALSE;
    }
  /* The core's parser checks the AE title (16 characters, no backslash), host and port. */
  spec = g_strdup_printf (strchr (bare_host, ':') != NULL ? "%s@[%s]:%d" : "%s@%s:%d",
                          bare_aet, bare_host, port);
  node = hepa_pacs_node_parse (spec, NULL, error);
  if (node == NULL)
    return FALSE;
  builder = g_variant_builder_new (G_VARIANT_TYPE ("a(ssib)"));
  g_variant_iter_init (&iter, list);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_variant_builder_add_value (builder, child);
      g_variant_unref (child);
    }
  g_variant_builder_add (builder, "(ssib)", node->peer_aet, node->host, node->port, move);
  return g_settings_set_value (settings, "pacs-nodes", g_variant_builder_end (builder));
}

void
hepa_pacs_nodes_remove (GSettings *settings,
                        guint      index)
{
  g_autoptr(GVariant) list = g_settings_get_value (settings, "pacs-nodes");
  g_autoptr(GVariantBuilder) builder = g_variant_builder_new (G_VARIANT_TYPE ("a(ssib)"));
  gsize n = g_variant_n_children (list);

  for (gsize i = 0; i < n; i++)
    if (i != index)
      {
        g_autoptr(GVariant) child = g_variant_get_child_value (list, i);

        g_variant_builder_add_value (builder, child);
      }
  g_settings_set_value (settings, "pacs-nodes", g_variant_builder_end (builder));
}

/* ---- The Preferences section ------------------------------------------------------------ */

struct _HepaPacsNodes
{
  GtkBox        parent_instance;

  GSettings    *settings;
  GCancellable *cancellable;   /* the verifications under way */
  GtkWidget    *list;          /* the nodes, one row each */
  GtkWidget    *add_aet;
  GtkWidget    *add_host;
  GtkWidget    *add_port;
  GtkWidget    *add_move;
  GtkWidget    *add_error;
};

G_DEFINE_FINAL_TYPE (HepaPacsNodes, hepa_pacs_nodes, GTK_TYPE_BOX)

typedef struct
{
  GWeakRef  label;
  char     *name;
  gint64    start;
} VerifyJob;

static void
verify_job_free (VerifyJob *job)
{
  g_weak_ref_clear (&job->label);
  g_free (job->name);
  g_free (job);
}

static void
verify_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  VerifyJob *job = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GtkWidget) label = g_weak_ref_get (&job->label);
  g_autofree char *line = NULL;

  if (hepa_pacs_echo_finish (result, &error))
    line = g_strdup_printf (_("%s answered (%d ms)"), job->name,
                            (int) ((g_get_monotonic_time () - job->start) / 1000));
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    line = g_strdup (error->message);
  if (label != NULL && line != NULL)
    {
      gtk_label_set_text (GTK_LABEL (label), line);
      gtk_widget_remove_css_class (label, error ? "success" : "error");
      gtk_widget_add_css_class (label, error ? "error" : "success");
    }
  verify_job_free (job);
}

static void
verify_clicked_cb (GtkButton     *button,
                   HepaPacsNodes *self)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "hepa-index"));
  GtkWidget *label = g_object_get_data (G_OBJECT (button), "hepa-result");
  g_autoptr(GPtrArray) nodes = hepa_pacs_nodes_from_settings (self->settings);
  HepaPacsNode *node;
  VerifyJob *job;

  if (index >= nodes->len)
    return;
  node = g_ptr_array_index (nodes, index);
  node->timeout_s = 10;
  job = g_new0 (VerifyJob, 1);
  g_weak_ref_init (&job->label, label);
  job->name = hepa_pacs_node_to_string (node);
  job->start = g_get_monotonic_time ();
  gtk_label_set_text (GTK_LABEL (label), _("Verifying…"));
  gtk_widget_remove_css_class (label, "error");
  gtk_widget_remove_css_class (label, "success");
  hepa_pacs_echo_async (node, self->cancellable, verify_done_cb, job);
}

static void
remove_clicked_cb (GtkButton     *button,
                   HepaPacsNodes *self)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "hepa-index"));

  hepa_pacs_nodes_remove (self->settings, index);
}

static void
set_name_indexed (GtkWidget  *widget,
                  const char *prefix,
                  guint       index)
{
  g_autofree char *name = g_strdup_printf ("%s-%u", prefix, index);

  gtk_widget_set_name (widget, name);
}

static void
rebuild (HepaPacsNodes *self)
{
  g_autoptr(GPtrArray) nodes = hepa_pacs_nodes_from_settings (self->settings);
  GtkWidget *child;

  /* Verifications of the old rows answer into labels that are gone (weak references). */
  while ((child = gtk_widget_get_first_child (self->list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (self->list), child);
  for (guint i = 0; i < nodes->len; i++)
    {
      HepaPacsNode *node = g_ptr_array_index (nodes, i);
      g_autofree char *name = hepa_pacs_node_to_string (node);
      g_autofree char *title = node->our_port > 0
                                 ? g_strdup_printf (_("%s (C-MOVE to port %d)"), name, node->our_port)
                                 : g_strdup_printf (_("%s (C-GET)"), name);
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
      GtkWidget *line = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
      GtkWidget *label = gtk_label_new (title);
      GtkWidget *result = gtk_label_new ("");
      GtkWidget *verify = gtk_button_new_with_mnemonic (_("_Verify"));
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

      gtk_widget_set_margin_start (row, 12);
      gtk_widget_set_margin_end (row, 12);
      gtk_widget_set_margin_top (row, 6);
      gtk_widget_set_margin_bottom (row, 6);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_selectable (GTK_LABEL (label), TRUE);
      gtk_widget_set_hexpand (label, TRUE);
      gtk_label_set_xalign (GTK_LABEL (result), 0);
      gtk_label_set_wrap (GTK_LABEL (result), TRUE);
      gtk_widget_add_css_class (result, "caption");
      gtk_widget_set_tooltip_text (verify, _("Check that the archive answers (C-ECHO)"));
      gtk_widget_set_tooltip_text (remove, _("Remove this archive"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (remove), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Remove this archive"), -1);
      set_name_indexed (verify, "pacs-verify", i);
      set_name_indexed (remove, "pacs-remove", i);
      set_name_indexed (result, "pacs-result", i);
      g_object_set_data (G_OBJECT (verify), "hepa-index", GUINT_TO_POINTER (i));
      g_object_set_data (G_OBJECT (verify), "hepa-result", result);
      g_object_set_data (G_OBJECT (remove), "hepa-index", GUINT_TO_POINTER (i));
      g_signal_connect (verify, "clicked", G_CALLBACK (verify_clicked_cb), self);
      g_signal_connect (remove, "clicked", G_CALLBACK (remove_clicked_cb), self);
      gtk_box_append (GTK_BOX (line), label);
      gtk_box_append (GTK_BOX (line), verify);
      gtk_box_append (GTK_BOX (line), remove);
      gtk_box_append (GTK_BOX (row), line);
      gtk_box_append (GTK_BOX (row), result);
      gtk_list_box_append (GTK_LIST_BOX (self->list), row);
      /* The row's buttons take the focus, not the row. */
      gtk_widget_set_focusable (gtk_widget_get_parent (row), FALSE);
    }
}

static void
add_clicked_cb (HepaPacsNodes *self)
{
  g_autoptr(GError) error = NULL;

  if (hepa_pacs_nodes_add (self->settings, gtk_editable_get_text (GTK_EDITABLE (self->add_aet)),
                           gtk_editable_get_text (GTK_EDITABLE (self->add_host)),
                           gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->add_port)),
                           gtk_check_button_get_active (GTK_CHECK_BUTTON (self->add_move)),
                           &error))
    {
      gtk_label_set_text (GTK_LABEL (self->add_error), "");
      gtk_editable_set_text (GTK_EDITABLE (self->add_aet), "");
      gtk_editable_set_text (GTK_EDITABLE (self->add_host), "");
    }
  else
    gtk_label_set_text (GTK_LABEL (self->add_error), error->message);
}

static void
settings_changed_cb (HepaPacsNodes *self,
                     const char    *key)
{
  if (g_str_equal (key, "pacs-nodes") || g_str_equal (key, "pacs-our-port"))
    rebuild (self);
}

static GtkWidget *
labeled (GtkWidget  *grid,
         int         row,
         const char *text,
         GtkWidget  *control,
         const char *name)
{
  GtkWidget *label = gtk_label_new_with_mnemonic (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), control);
  gtk_widget_set_name (control, name);
  gtk_widget_set_hexpand (control, TRUE);
  gtk_grid_attach (GTK_GRID (grid), label, 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), control, 1, row, 1, 1);
  return control;
}

static void
hepa_pacs_nodes_dispose (GObject *object)
{
  HepaPacsNodes *self = HEPA_PACS_NODES (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (hepa_pacs_nodes_parent_class)->dispose (object);
}

static void
hepa_pacs_nodes_class_init (HepaPacsNodesClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hepa_pacs_nodes_dispose;
}

static void
hepa_pacs_nodes_init (HepaPacsNodes *self)
{
  self->cancellable = g_cancellable_new ();
}

GtkWidget *
hepa_pacs_nodes_new (GSettings *settings)
{
  HepaPacsNodes *self;
  GtkWidget *frame, *grid, *ours, *our_aet, *our_port, *add;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  self = g_object_new (HEPA_TYPE_PACS_NODES, "orientation", GTK_ORIENTATION_VERTICAL,
                       "spacing", 6, NULL);
  self->settings = g_object_ref (settings);

  self->list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (self->list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (self->list, "boxed-list");
  {
    GtkWidget *empty = gtk_label_new (_("No archive yet: add one below."));

    gtk_widget_add_css_class (empty, "dim-label");
    gtk_widget_set_margin_top (empty, 6);
    gtk_widget_set_margin_bottom (empty, 6);
    gtk_list_box_set_placeholder (GTK_LIST_BOX (self->list), empty);
  }
  frame = gtk_frame_new (NULL);
  gtk_frame_set_child (GTK_FRAME (frame), self->list);
  gtk_box_append (GTK_BOX (self), frame);

  /* A new node */
  grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  self->add_aet = labeled (grid, 0, _("Archive _AE title"), gtk_entry_new (), "pacs-add-aet");
  gtk_entry_set_max_length (GTK_ENTRY (self->add_aet), 16);
  self->add_host = labeled (grid, 1, _("_Host"), gtk_entry_new (), "pacs-add-host");
  self->add_port = labeled (grid, 2, _("_Port"),
                            gtk_spin_button_new_with_range (1, 65535, 1), "pacs-add-port");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->add_port), 104);
  self->add_move = gtk_check_button_new_with_mnemonic (_("Retrieve with C-_MOVE to our port"));
  gtk_widget_set_name (self->add_move, "pacs-add-move");
  gtk_grid_attach (GTK_GRID (grid), self->add_move, 1, 3, 1, 1);
  add = gtk_button_new_with_mnemonic (_("A_dd Archive"));
  gtk_widget_set_name (add, "pacs-add");
  gtk_widget_set_halign (add, GTK_ALIGN_END);
  g_signal_connect_swapped (add, "clicked", G_CALLBACK (add_clicked_cb), self);
  gtk_grid_attach (GTK_GRID (grid), add, 1, 4, 1, 1);
  self->add_error = gtk_label_new ("");
  gtk_widget_set_name (self->add_error, "pacs-add-error");
  gtk_label_set_xalign (GTK_LABEL (self->add_error), 0);
  gtk_label_set_wrap (GTK_LABEL (self->add_error), TRUE);
  gtk_widget_add_css_class (self->add_error, "error");
  gtk_grid_attach (GTK_GRID (grid), self->add_error, 0, 5, 2, 1);
  gtk_box_append (GTK_BOX (self), grid);

  /* Ourselves */
  ours = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (ours), 6);
  gtk_grid_set_column_spacing (GTK_GRID (ours), 12);
  gtk_widget_set_margin_top (ours, 6);
  our_aet = labeled (ours, 0, _("_Our AE title"), gtk_entry_new (), "pacs-our-aet");
  gtk_entry_set_max_length (GTK_ENTRY (our_aet), 16);
  our_port = labeled (ours, 1, _("Our _storage port (C-MOVE; 0: none)"),
                      gtk_spin_button_new_with_range (0, 65535, 1), "pacs-our-port");
  g_settings_bind (settings, "pacs-our-aet", our_aet, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "pacs-our-port", gtk_spin_button_get_adjustment (GTK_SPIN_BUTTON (our_port)),
                   "value", G_SETTINGS_BIND_DEFAULT);
  gtk_box_append (GTK_BOX (self), ours);

  g_signal_connect_object (settings, "changed", G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  rebuild (self);
  return GTK_WIDGET (self);
}
