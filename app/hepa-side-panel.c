/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-side-panel.h"

#include "hepa-list-sync.h"

#include <glib/gi18n.h>

struct _HepaSidePanel
{
  GtkBox         parent_instance;

  /* Template children */
  GtkWidget     *regions_heading;
  GtkWidget     *roi_list;
  GtkWidget     *label_hint;
  HepaProbPanel *prob_panel;
  GtkWidget     *saliency_grid;
  GtkWidget     *cam_class_dropdown;
  GtkAdjustment *opacity_adjustment;
  GtkWidget     *cmap_dropdown;
  GtkWidget     *scale_dropdown;
  GtkWidget     *study_box;
  GtkWidget     *study_heading;
  GtkWidget     *study_list;

  HepaRoiStore  *store;
  HepaStudy     *study;
  HepaImage     *image;
  char         **classes;
  gboolean       refreshing;   /* the list is being changed, not the user's pick */
  GtkWidget     *held_label;   /* read first: what to do instead of the answer (issue 24) */
};

G_DEFINE_FINAL_TYPE (HepaSidePanel, hepa_side_panel, GTK_TYPE_BOX)

enum {
  ROI_ACTIVATED,
  SALIENCY_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* ---- Regions -------------------------------------------------------------------------- */

static char *
roi_size_text (HepaSidePanel *self,
               const HepaRoi *roi)
{
  double sx, sy;

  if (self->image != NULL
      && hepa_image_get_spacing_at (self->image, roi->rect.x + roi->rect.width / 2,
                                    roi->rect.y + roi->rect.height / 2, &sx, &sy))
    return g_strdup_printf ("%d × %d px · %.1f × %.1f mm", roi->rect.width, roi->rect.height,
                            roi->rect.width * sx, roi->rect.height * sy);
  return g_strdup_printf (_("%d × %d px · not calibrated"), roi->rect.width, roi->rect.height);
}

static int
class_index (HepaSidePanel *self,
             const char    *label)
{
  for (int i = 0; label && self->classes && self->classes[i] != NULL; i++)
    if (g_strcmp0 (self->classes[i], label) == 0)
      return i;
  return -1;
}

/* The model's answer stored with a label ("model: cyst 91 %"), or NULL. */
static char *
roi_pred_text (const HepaRoi *roi)
{
  guint n, top = 0;

  if (roi->pred_model_id == NULL || roi->pred_probabilities == NULL || roi->pred_classes == NULL)
    return NULL;
  n = g_strv_length (roi->pred_classes);
  if (n == 0)
    return NULL;
  for (guint i = 1; i < n; i++)
    if (roi->pred_probabilities[i] > roi->pred_probabilities[top])
      top = i;
  /* Translators: the model's answer stored with a label, e.g. "model: cyst 91 %" */
  return g_strdup_printf (_("model: %s %.0f %%"), roi->pred_classes[top],
                          roi->pred_probabilities[top] * 100.0);
}

static guint
n_frames (HepaSidePanel *self)
{
  return self->image ? hepa_image_get_n_frames (self->image) : 0;
}

/* Everything a row shows: a row whose key did not change is kept as it is. */
static char *
roi_row_key (HepaSidePanel *self,
             const HepaRoi *roi,
             guint          number)
{
  g_autofree char *pred = roi_pred_text (roi);

  return g_strdup_printf ("%p\x1f%s\x1f%u\x1f%s\x1f%d\x1f%d %d %d %d\x1f%u\x1f%u\x1f%s",
                          (gpointer) self->image, roi->id, number,
                          roi->label ? roi->label : "\x01", class_index (self, roi->label),
                          roi->rect.x, roi->rect.y, roi->rect.width, roi->rect.height,
                          roi->frame, n_frames (self), pred ? pred : "");
}

static GtkWidget *
make_roi_row (HepaSidePanel *self,
              const HepaRoi *roi,
              guint          number)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  GtkWidget *text = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *swatch = gtk_label_new (NULL);
  GtkWidget *title, *subtitle;
  g_autofree char *title_text = NULL;
  g_autofree char *size = roi_size_text (self, roi);
  g_autofree char *sub_text = NULL;
  g_autofree char *accessible = NULL;
  g_autofree char *pred = roi_pred_text (roi);
  g_autofree char *num = g_strdup_printf ("%u", number);
  int ci = class_index (self, roi->label);

  /* Number in a swatch of the label colour; the label is spelled out next to it. */
  gtk_label_set_text (GTK_LABEL (swatch), num);
  gtk_widget_add_css_class (swatch, "roi-swatch");
  if (roi->label == NULL)
    gtk_widget_add_css_class (swatch, "unlabeled");
  else
    {
      /* One class per palette entry (style.css), the same colours the canvas draws. */
      g_autofree char *css_class = g_strdup_printf ("label-color-%d", ci < 0 ? 7 : ci % 8);

      gtk_widget_add_css_class (swatch, css_class);
    }
  gtk_widget_set_valign (swatch, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), swatch);

  title_text = roi->label ? g_strdup (roi->label) : g_strdup (_("Unlabeled"));
  title = gtk_label_new (title_text);
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_END);
  if (roi->label == NULL)
    gtk_widget_add_css_class (title, "unlabeled-text");
  gtk_box_append (GTK_BOX (text), title);

  if (roi->frame > 0 || n_frames (self) > 1)
    sub_text = g_strdup_printf (_("%s · frame %u"), size, roi->frame + 1);
  else
    sub_text = g_strdup (size);
  subtitle = gtk_label_new (sub_text);
  gtk_label_set_xalign (GTK_LABEL (subtitle), 0);
  gtk_label_set_ellipsize (GTK_LABEL (subtitle), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (subtitle, "dim-label");
  gtk_widget_add_css_class (subtitle, "caption");
  gtk_box_append (GTK_BOX (text), subtitle);
  gtk_widget_set_hexpand (text, TRUE);
  gtk_box_append (GTK_BOX (box), text);

  if (pred != NULL)
    {
      GtkWidget *pred_label = gtk_label_new (pred);

      gtk_label_set_ellipsize (GTK_LABEL (pred_label), PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (GTK_LABEL (pred_label), 16);
      gtk_widget_add_css_class (pred_label, "dim-label");
      gtk_widget_add_css_class (pred_label, "caption");
      gtk_widget_set_valign (pred_label, GTK_ALIGN_CENTER);
      gtk_box_append (GTK_BOX (box), pred_label);
    }

  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_widget_set_margin_start (box, 8);
  gtk_widget_set_margin_end (box, 8);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  g_object_set_data_full (G_OBJECT (row), "roi-id", g_strdup (roi->id), g_free);

  accessible = g_strdup_printf (_("Region %u, %s, %s"), number, title_text, sub_text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  accessible, -1);
  return row;
}

void
hepa_side_panel_sync_selection (HepaSidePanel *self)
{
  const char *selected = self->store ? hepa_roi_store_get_selected (self->store) : NULL;
  GtkWidget *child;

  self->refreshing = TRUE;
  gtk_list_box_unselect_all (GTK_LIST_BOX (self->roi_list));
  for (child = gtk_widget_get_first_child (self->roi_list); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_LIST_BOX_ROW (child)
        && g_strcmp0 (g_object_get_data (G_OBJECT (child), "roi-id"), selected) == 0)
      gtk_list_box_select_row (GTK_LIST_BOX (self->roi_list), GTK_LIST_BOX_ROW (child));
  self->refreshing = FALSE;
}

static char *
roi_row_key_cb (guint    index,
                gpointer user_data)
{
  HepaSidePanel *self = user_data;

  return roi_row_key (self, g_ptr_array_index (hepa_roi_store_get_rois (self->store), index),
                      index + 1);
}

static GtkWidget *
roi_row_cb (guint    index,
            gpointer user_data)
{
  HepaSidePanel *self = user_data;

  return make_roi_row (self, g_ptr_array_index (hepa_roi_store_get_rois (self->store), index),
                       index + 1);
}

/* Rebuilds only the rows whose contents changed (an edit touches one region), so an edit does
 * not build and lay out every row of the side panel again. */
void
hepa_side_panel_refresh_rois (HepaSidePanel *self)
{
  GPtrArray *rois;
  g_autofree char *count = NULL;
  g_autofree char *heading = NULL;

  g_return_if_fail (HEPA_IS_SIDE_PANEL (self));

  if (self->store == NULL)
    return;
  rois = hepa_roi_store_get_rois (self->store);
  self->refreshing = TRUE;
  hepa_list_box_sync (GTK_LIST_BOX (self->roi_list), rois->len, roi_row_key_cb, roi_row_cb,
                      self);
  self->refreshing = FALSE;
  hepa_side_panel_sync_selection (self);

  count = hepa_study_count_text (rois->len, hepa_roi_store_count_labeled (self->store));
  /* Translators: the heading of the region list with how many there are */
  heading = g_strdup_printf (_("Regions · %u"), rois->len);
  gtk_label_set_text (GTK_LABEL (self->regions_heading), rois->len ? heading : _("Regions"));
  gtk_widget_set_tooltip_text (self->regions_heading, count);
}

static void
roi_row_selected_cb (HepaSidePanel *self,
                     GtkListBoxRow *row,
                     GtkListBox    *list)
{
  if (self->refreshing || row == NULL)
    return;
  g_signal_emit (self, signals[ROI_ACTIVATED], 0, g_object_get_data (G_OBJECT (row), "roi-id"));
}

/* ---- Classes and saliency ------------------------------------------------------------- */

void
hepa_side_panel_set_classes (HepaSidePanel     *self,
                             const char *const *classes)
{
  g_autoptr(GtkStringList) list = gtk_string_list_new (NULL);
  g_autofree char *hint = NULL;
  guint n;

  g_return_if_fail (HEPA_IS_SIDE_PANEL (self));

  g_strfreev (self->classes);
  self->classes = g_strdupv ((char **) classes);
  n = MIN (g_strv_length (self->classes), 9);

  gtk_string_list_append (list, _("Most probable class"));
  for (guint i = 0; self->classes[i] != NULL; i++)
    gtk_string_list_append (list, self->classes[i]);
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->cam_class_dropdown), G_LIST_MODEL (list));
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->cam_class_dropdown), 0);

  /* Translators: %u is the number of classes, e.g. "Keys 1–5 label the selected region ..." */
  hint = g_strdup_printf (_("Keys 1–%u label the selected region in the order of the "
                            "prediction list; 0 clears the label."), n);
  gtk_label_set_text (GTK_LABEL (self->label_hint), hint);
  hepa_prob_panel_set_classes (self->prob_panel, classes);
}

guint
hepa_side_panel_get_cam_class (HepaSidePanel *self)
{
  guint picked = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->cam_class_dropdown));

  return picked == GTK_INVALID_LIST_POSITION ? 0 : picked;
}

void
hepa_side_panel_get_saliency (HepaSidePanel *self,
                              double        *opacity,
                              guint         *colormap,
                              guint         *scaling)
{
  *opacity = gtk_adjustment_get_value (self->opacity_adjustment);
  *colormap = MIN (gtk_drop_down_get_selected (GTK_DROP_DOWN (self->cmap_dropdown)), 2);
  *scaling = MIN (gtk_drop_down_get_selected (GTK_DROP_DOWN (self->scale_dropdown)), 1);
}

/* Each setter compares first: the controls write the same settings back. */
void
hepa_side_panel_set_saliency (HepaSidePanel *self,
                              double         opacity,
                              guint          colormap,
                              guint          scaling)
{
  if (gtk_adjustment_get_value (self->opacity_adjustment) != opacity)
    gtk_adjustment_set_value (self->opacity_adjustment, opacity);
  if (gtk_drop_down_get_selected (GTK_DROP_DOWN (self->cmap_dropdown)) != colormap)
    gtk_drop_down_set_selected (GTK_DROP_DOWN (self->cmap_dropdown), colormap);
  if (gtk_drop_down_get_selected (GTK_DROP_DOWN (self->scale_dropdown)) != scaling)
    gtk_drop_down_set_selected (GTK_DROP_DOWN (self->scale_dropdown), scaling);
}

void
hepa_side_panel_set_saliency_sensitive (HepaSidePanel *self,
                                        gboolean       sensitive)
{
  gtk_widget_set_sensitive (self->saliency_grid, sensitive);
}

static void
saliency_changed_cb (HepaSidePanel *self)
{
  g_signal_emit (self, signals[SALIENCY_CHANGED], 0);
}

/* ---- Study ---------------------------------------------------------------------------- */

static void
fill_study_list (HepaSidePanel *self)
{
  guint n = hepa_study_get_n_files (self->study);
  g_autofree char *heading = NULL;
  GtkWidget *child;

  self->refreshing = TRUE;
  while ((child = gtk_widget_get_first_child (self->study_list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (self->study_list), child);
  self->refreshing = FALSE;
  gtk_widget_set_visible (self->study_box, n > 0);
  if (n == 0)
    return;
  for (guint i = 0; i < n; i++)
    {
      GtkWidget *row = gtk_list_box_row_new ();
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
      const char *count_text = hepa_study_get_count (self->study, i);
      g_autofree char *base = g_path_get_basename (hepa_study_get_path (self->study, i));
      GtkWidget *name = gtk_label_new (base);
      GtkWidget *count = gtk_label_new (count_text);
      g_autofree char *accessible = g_strdup_printf ("%s, %s", base, count_text);

      gtk_label_set_xalign (GTK_LABEL (name), 0);
      gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
      gtk_label_set_xalign (GTK_LABEL (count), 0);
      gtk_widget_add_css_class (count, "dim-label");
      gtk_widget_add_css_class (count, "caption");
      gtk_box_append (GTK_BOX (box), name);
      gtk_box_append (GTK_BOX (box), count);
      gtk_widget_set_margin_top (box, 6);
      gtk_widget_set_margin_bottom (box, 6);
      gtk_widget_set_margin_start (box, 8);
      gtk_widget_set_margin_end (box, 8);
      gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
      g_object_set_data (G_OBJECT (row), "count-label", count);
      gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      accessible, -1);
      gtk_list_box_append (GTK_LIST_BOX (self->study_list), row);
    }
  heading = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Study · %u file",
                                          "Study · %u files", n), n);
  gtk_label_set_text (GTK_LABEL (self->study_heading), heading);
}

static void
study_count_changed_cb (HepaSidePanel *self,
                        guint          index,
                        HepaStudy     *study)
{
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (GTK_LIST_BOX (self->study_list), index);

  if (row != NULL)
    gtk_label_set_text (GTK_LABEL (g_object_get_data (G_OBJECT (row), "count-label")),
                        hepa_study_get_count (study, index));
}

static void
study_index_changed_cb (HepaSidePanel *self)
{
  int index = hepa_study_get_index (self->study);
  GtkListBoxRow *row = index >= 0 ? gtk_list_box_get_row_at_index (GTK_LIST_BOX (self->study_list),
                                                                   index)
                                  : NULL;

  if (row == NULL || gtk_list_box_get_selected_row (GTK_LIST_BOX (self->study_list)) == row)
    return;
  self->refreshing = TRUE;
  gtk_list_box_select_row (GTK_LIST_BOX (self->study_list), row);
  self->refreshing = FALSE;
}

static void
study_row_activated_cb (HepaSidePanel *self,
                        GtkListBoxRow *row,
                        GtkListBox    *list)
{
  if (self->study != NULL)
    hepa_study_set_index (self->study, gtk_list_box_row_get_index (row));
}

/* ---- Object --------------------------------------------------------------------------- */

HepaProbPanel *
hepa_side_panel_get_prob_panel (HepaSidePanel *self)
{
  g_return_val_if_fail (HEPA_IS_SIDE_PANEL (self), NULL);
  return self->prob_panel;
}

void
hepa_side_panel_set_store (HepaSidePanel *self,
                           HepaRoiStore  *store)
{
  g_return_if_fail (HEPA_IS_SIDE_PANEL (self));
  g_set_object (&self->store, store);
  hepa_side_panel_refresh_rois (self);
}

void
hepa_side_panel_set_image (HepaSidePanel *self,
                           HepaImage     *image)
{
  g_return_if_fail (HEPA_IS_SIDE_PANEL (self));

  if (self->image == image)
    return;
  g_clear_pointer (&self->image, hepa_image_unref);
  if (image != NULL)
    self->image = hepa_image_ref (image);
}

void
hepa_side_panel_set_study (HepaSidePanel *self,
                           HepaStudy     *study)
{
  g_return_if_fail (HEPA_IS_SIDE_PANEL (self));

  if (self->study != NULL)
    g_signal_handlers_disconnect_by_data (self->study, self);
  g_set_object (&self->study, study);
  if (study == NULL)
    return;
  g_signal_connect_swapped (study, "notify::n-files", G_CALLBACK (fill_study_list), self);
  g_signal_connect_swapped (study, "notify::index", G_CALLBACK (study_index_changed_cb), self);
  g_signal_connect_swapped (study, "count-changed", G_CALLBACK (study_count_changed_cb), self);
  fill_study_list (self);
}

static void
hepa_side_panel_dispose (GObject *object)
{
  HepaSidePanel *self = HEPA_SIDE_PANEL (object);

  if (self->study != NULL)
    g_signal_handlers_disconnect_by_data (self->study, self);
  g_clear_object (&self->study);
  g_clear_object (&self->store);
  gtk_widget_dispose_template (GTK_WIDGET (self), HEPA_TYPE_SIDE_PANEL);

  G_OBJECT_CLASS (hepa_side_panel_parent_class)->dispose (object);
}

static void
hepa_side_panel_finalize (GObject *object)
{
  HepaSidePanel *self = HEPA_SIDE_PANEL (object);

  g_clear_pointer (&self->image, hepa_image_unref);
  g_strfreev (self->classes);

  G_OBJECT_CLASS (hepa_side_panel_parent_class)->finalize (object);
}

static void
hepa_side_panel_class_init (HepaSidePanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_side_panel_dispose;
  object_class->finalize = hepa_side_panel_finalize;

  g_type_ensure (HEPA_TYPE_PROB_PANEL);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-side-panel.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, HepaSidePanel, name)
  BIND (regions_heading);
  BIND (roi_list);
  BIND (label_hint);
  BIND (prob_panel);
  BIND (saliency_grid);
  BIND (cam_class_dropdown);
  BIND (opacity_adjustment);
  BIND (cmap_dropdown);
  BIND (scale_dropdown);
  BIND (study_box);
  BIND (study_heading);
  BIND (study_list);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, roi_row_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, study_row_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, saliency_changed_cb);

  /**
   * HepaSidePanel::roi-activated:
   * @roi_id: the region the user picked in the list
   */
  signals[ROI_ACTIVATED] = g_signal_new ("roi-activated", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                         G_TYPE_STRING);
  /**
   * HepaSidePanel::saliency-changed:
   *
   * The saliency class, opacity, colour map or scaling changed.
   */
  signals[SALIENCY_CHANGED] = g_signal_new ("saliency-changed", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                            0);
}

static void
hepa_side_panel_init (HepaSidePanel *self)
{
  GtkWidget *placeholder;

  gtk_widget_init_template (GTK_WIDGET (self));

  placeholder = gtk_label_new (_("No regions yet. Drag on the image to draw one, or press N."));
  gtk_label_set_wrap (GTK_LABEL (placeholder), TRUE);
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_widget_set_margin_top (placeholder, 12);
  gtk_widget_set_margin_bottom (placeholder, 12);
  gtk_widget_set_margin_start (placeholder, 12);
  gtk_widget_set_margin_end (placeholder, 12);
  gtk_list_box_set_placeholder (GTK_LIST_BOX (self->roi_list), placeholder);
  /* The blind switch (issue 24) hides what these name. */
  gtk_widget_add_css_class (self->roi_list, "hepa-blind-hide");
  gtk_widget_add_css_class (self->study_list, "hepa-blind-hide");
}

/* ---- Read first (issue 24) -------------------------------------------------------------- */

void
hepa_side_panel_set_held_back (HepaSidePanel *self,
                               gboolean       held,
                               const char    *message)
{
  GtkWidget *frame, *saliency_header;

  g_return_if_fail (HEPA_IS_SIDE_PANEL (self));

  frame = gtk_widget_get_parent (GTK_WIDGET (self->prob_panel));
  saliency_header = gtk_widget_get_prev_sibling (self->saliency_grid);
  if (self->held_label == NULL)
    {
      self->held_label = gtk_label_new (NULL);
      gtk_label_set_wrap (GTK_LABEL (self->held_label), TRUE);
      gtk_label_set_xalign (GTK_LABEL (self->held_label), 0);
      gtk_widget_set_margin_top (self->held_label, 10);
      gtk_widget_add_css_class (self->held_label, "read-first-prompt");
      gtk_box_insert_child_after (GTK_BOX (self), self->held_label, frame);
    }
  gtk_label_set_text (GTK_LABEL (self->held_label), message != NULL ? message : "");
  gtk_widget_set_visible (self->held_label, held || (message != NULL && *message != '\0'));
  /* The answer, the saliency and the labels in the region list stay out of sight. */
  gtk_widget_set_visible (frame, !held);
  gtk_widget_set_visible (self->saliency_grid, !held);
  if (saliency_header != NULL)
    gtk_widget_set_visible (saliency_header, !held);
  gtk_widget_set_visible (self->roi_list, !held);
  gtk_widget_set_visible (self->label_hint, !held);
}

gboolean
hepa_side_panel_get_held_back (HepaSidePanel *self)
{
  g_return_val_if_fail (HEPA_IS_SIDE_PANEL (self), FALSE);
  return !gtk_widget_get_visible (gtk_widget_get_parent (GTK_WIDGET (self->prob_panel)));
}
