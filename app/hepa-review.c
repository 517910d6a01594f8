/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-review.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-image.h"
#include "hepa-raters.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define THUMB 72

/* ---- Items --------------------------------------------------------------------------------- */

void
hepa_review_item_free (HepaReviewItem *item)
{
  if (item == NULL)
    return;
  g_free (item->path);
  g_free (item->roi_id);
  g_free (item->label);
  g_free (item->pred_top);
  g_free (item);
}

static char *
find_sidecar (const char *image_path)
{
  g_autofree char *next_to = hepa_annotations_sidecar_path (image_path, NULL);
  g_autofree char *workspace = NULL;
  g_autofree char *alt = NULL;

  if (g_file_test (next_to, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&next_to);
  workspace = g_build_filename (g_get_user_data_dir (), "hepascope", "workspace", NULL);
  alt = hepa_annotations_sidecar_path (image_path, workspace);
  return g_file_test (alt, G_FILE_TEST_EXISTS) ? g_steal_pointer (&alt)
                                               : g_steal_pointer (&next_to);
}

static void
item_update_from_roi (HepaReviewItem *item,
                      const HepaRoi  *roi)
{
  const char *label = NULL;
  HepaConsensus consensus = hepa_roi_get_consensus (roi, &label);

  g_free (item->label);
  item->label = g_strdup (label);
  item->raters_disagree = consensus == HEPA_CONSENSUS_DISAGREED;
  g_clear_pointer (&item->pred_top, g_free);
  item->top_probability = NAN;
  item->disagreement = NAN;
  if (roi->pred_model_id != NULL && roi->pred_classes != NULL)
    {
      guint n = g_strv_length (roi->pred_classes);
      guint top = 0;

      for (guint k = 1; k < n; k++)
        if (roi->pred_probabilities[k] > roi->pred_probabilities[top])
          top = k;
      if (n > 0)
        {
          item->pred_top = g_strdup (roi->pred_classes[top]);
          item->top_probability = roi->pred_probabilities[top];
          /* A label the model does not know: it gave it no probability at all. */
          item->disagreement = 1.0;
          for (guint k = 0; label != NULL && k < n; k++)
            if (g_str_equal (roi->pred_classes[k], label))
              item->disagreement = 1.0 - roi->pred_probabilities[k];
          if (label == NULL)
            item->disagreement = NAN;
        }
    }
}

GPtrArray *
hepa_review_collect (const char *const *paths)
{
  GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_review_item_free);

  for (guint i = 0; paths != NULL && paths[i] != NULL; i++)
    {
      g_autofree char *sidecar = find_sidecar (paths[i]);
      g_autofree char *contents = NULL;
      g_autoptr(HepaAnnotations) set = NULL;
      gsize length = 0;

      if (!hepa_file_get_contents (sidecar, HEPA_ANNOTATIONS_MAX_BYTES, &contents, &length, NULL)
          || (set = hepa_annotations_parse (contents, length, NULL)) == NULL)
        continue;
      for (guint r = 0; r < set->rois->len; r++)
        {
          const HepaRoi *roi = g_ptr_array_index (set->rois, r);
          HepaReviewItem *item;

          if (hepa_roi_get_consensus (roi, NULL) == HEPA_CONSENSUS_UNLABELED)
            continue;
          item = g_new0 (HepaReviewItem, 1);
          item->path = g_strdup (paths[i]);
          item->roi_id = g_strdup (roi->id);
          item->frame = roi->frame;
          item->rect = roi->rect;
          item_update_from_roi (item, roi);
          g_ptr_array_add (items, item);
        }
    }
  return items;
}

/* NaN last, then larger first (or smaller first with @ascending). */
static int
compare_values (double   a,
                double   b,
                gboolean ascending)
{
  if (isnan (a) || isnan (b))
    return isnan (a) - isnan (b);
  if (a == b)
    return 0;
  return ((a < b) == ascending) ? -1 : 1;
}

static int
compare_disagreement (gconstpointer a,
                      gconstpointer b)
{
  const HepaReviewItem *x = *(const HepaReviewItem *const *) a;
  const HepaReviewItem *y = *(const HepaReviewItem *const *) b;

  return compare_values (x->disagreement, y->disagreement, FALSE);
}

static int
compare_confidence (gconstpointer a,
                    gconstpointer b)
{
  const HepaReviewItem *x = *(const HepaReviewItem *const *) a;
  const HepaReviewItem *y = *(const HepaReviewItem *const *) b;

  return compare_values (x->top_probability, y->top_probability, TRUE);
}

static int
compare_file (gconstpointer a,
              gconstpointer b)
{
  const HepaReviewItem *x = *(const HepaReviewItem *const *) a;
  const HepaReviewItem *y = *(const HepaReviewItem *const *) b;

  return g_utf8_collate (x->path, y->path);
}

void
hepa_review_sort (GPtrArray      *items,
                  HepaReviewSort  sort)
{
  g_return_if_fail (items != NULL);

  /* g_ptr_array_sort is a stable merge sort. */
  switch (sort)
    {
    case HEPA_REVIEW_SORT_DISAGREEMENT:
      g_ptr_array_sort (items, compare_disagreement);
      break;
    case HEPA_REVIEW_SORT_CONFIDENCE:
      g_ptr_array_sort (items, compare_confidence);
      break;
    case HEPA_REVIEW_SORT_FILE:
    default:
      g_ptr_array_sort (items, compare_file);
      break;
    }
}

gboolean
hepa_review_relabel (GPtrArray   *items,
                     const char  *label,
                     const char  *rater,
                     GError     **error)
{
  g_autoptr(GHashTable) done = g_hash_table_new (g_str_hash, g_str_equal);

  g_return_val_if_fail (items != NULL && label != NULL, FALSE);

  for (guint i = 0; i < items->len; i++)
    {
      HepaReviewItem *first = g_ptr_array_index (items, i);
      g_autofree char *sidecar = NULL;
      g_autoptr(HepaAnnotations) set = NULL;

      if (g_hash_table_contains (done, first->path))
        continue;
      g_hash_table_add (done, first->path);
      sidecar = find_sidecar (first->path);
      set = hepa_annotations_load (sidecar, error);
      if (set == NULL)
        return FALSE;
      for (guint j = i; j < items->len; j++)
        {
          HepaReviewItem *item = g_ptr_array_index (items, j);

          if (!g_str_equal (item->path, first->path))
            continue;
          for (guint r = 0; r < set->rois->len; r++)
            {
              HepaRoi *roi = g_ptr_array_index (set->rois, r);

              if (g_str_equal (roi->id, item->roi_id))
                {
                  hepa_roi_set_rating (roi, rater, label);
                  item_update_from_roi (item, roi);
                }
            }
        }
      if (!hepa_annotations_save (set, sidecar, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- The window ---------------------------------------------------------------------------- */

struct _HepaReview
{
  GtkWindow       parent_instance;

  GStrv           paths;
  GStrv           classes;
  char           *rater;
  GPtrArray      *items;        /* (element-type HepaReviewItem) in the order shown */
  HepaReviewSort  sort;
  GtkBox         *groups;
  GtkLabel       *summary;
  GtkDropDown    *sort_choice;
  GPtrArray      *pictures;     /* (element-type GtkPicture) per item, (transfer none) */
  GPtrArray      *children;     /* (element-type GtkFlowBoxChild) per item, (transfer none) */
  GCancellable   *thumbs;
};

G_DEFINE_FINAL_TYPE (HepaReview, hepa_review, GTK_TYPE_WINDOW)

enum {
  ROI_ACTIVATED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static const char *const default_classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc",
                                               NULL };

/* Thumbnails are rendered on a worker, one image opened per file. */
typedef struct
{
  GPtrArray *items;     /* (element-type HepaReviewItem) copies: path, frame, rect */
  GPtrArray *textures;  /* (element-type GdkTexture or NULL) */
} ThumbJob;

static void
thumb_job_free (ThumbJob *job)
{
  g_ptr_array_unref (job->items);
  g_clear_pointer (&job->textures, g_ptr_array_unref);
  g_free (job);
}

static GdkTexture *
render_thumb (HepaImage            *image,
              const HepaReviewItem *item)
{
  const HepaFrame *frame = hepa_image_get_frame (image, item->frame, NULL);
  g_autofree guint8 *rgb = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 *out;
  HepaRect r = item->rect;

  if (frame == NULL)
    return NULL;
  r.x = CLAMP (r.x, 0, frame->width - 1);
  r.y = CLAMP (r.y, 0, frame->height - 1);
  r.width = CLAMP (r.width, 1, frame->width - r.x);
  r.height = CLAMP (r.height, 1, frame->height - r.y);
  rgb = g_malloc ((gsize) frame->width * frame->height * 3);
  hepa_frame_render_rgb (frame, 0, 0, rgb);
  out = g_malloc (THUMB * THUMB * 3);
  for (int y = 0; y < THUMB; y++)
    for (int x = 0; x < THUMB; x++)
      {
        int sx = r.x + x * r.width / THUMB;
        int sy = r.y + y * r.height / THUMB;

        memcpy (out + (y * THUMB + x) * 3, rgb + ((gsize) sy * frame->width + sx) * 3, 3);
      }
  bytes = g_bytes_new_take (out, THUMB * THUMB * 3);
  return gdk_memory_texture_new (THUMB, THUMB, GDK_MEMORY_R8G8B8, bytes, THUMB * 3);
}

static void
thumb_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  ThumbJob *job = task_data;
  g_autoptr(HepaImage) image = NULL;
  const char *open_path = NULL;

  job->textures = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < job->items->len; i++)
    {
      const HepaReviewItem *item = g_ptr_array_index (job->items, i);

      if (g_task_return_error_if_cancelled (task))
        return;
      if (open_path == NULL || !g_str_equal (open_path, item->path))
        {
          g_clear_pointer (&image, hepa_image_unref);
          image = hepa_image_open (item->path, NULL);
          open_path = item->path;
        }
      g_ptr_array_add (job->textures, image != NULL ? (gpointer) render_thumb (image, item) : NULL);
    }
  g_task_return_boolean (task, TRUE);
}

static void
thumbs_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  ThumbJob *job = g_task_get_task_data (G_TASK (result));
  HepaReview *self;

  if (!g_task_propagate_boolean (G_TASK (result), NULL))
    return;
  self = HEPA_REVIEW (source);
  for (guint i = 0; i < job->textures->len && i < self->pictures->len; i++)
    if (g_ptr_array_index (job->textures, i) != NULL)
      gtk_picture_set_paintable (g_ptr_array_index (self->pictures, i),
                                 g_ptr_array_index (job->textures, i));
}

static void
child_activated (GtkFlowBox      *box,
                 GtkFlowBoxChild *child,
                 HepaReview      *self)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (child), "hepa-index"));
  const HepaReviewItem *item = g_ptr_array_index (self->items, index);

  g_signal_emit (self, signals[ROI_ACTIVATED], 0, item->path, item->roi_id);
}

static char *
item_caption (const HepaReviewItem *item)
{
  g_autofree char *base = g_path_get_basename (item->path);

  if (item->pred_top == NULL)
    return g_strdup (base);
  /* Translators: a thumbnail's caption: file, the model's top class and its probability */
  return g_strdup_printf (_("%s\nmodel: %s %.2f"), base, item->pred_top, item->top_probability);
}

static void
rebuild (HepaReview *self)
{
  GtkWidget *child;
  g_autoptr(GPtrArray) labels = g_ptr_array_new ();
  g_autoptr(GTask) task = NULL;
  ThumbJob *job;
  g_autofree char *summary = NULL;
  guint n_disputed = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->groups))) != NULL)
    gtk_box_remove (self->groups, child);
  g_ptr_array_set_size (self->pictures, 0);
  g_ptr_array_set_size (self->children, 0);
  g_ptr_array_set_size (self->pictures, self->items->len);
  g_ptr_array_set_size (self->children, self->items->len);

  /* Groups in class order, then other labels, then the disputed ones. */
  for (guint c = 0; self->classes[c] != NULL; c++)
    g_ptr_array_add (labels, self->classes[c]);
  for (guint i = 0; i < self->items->len; i++)
    {
      HepaReviewItem *item = g_ptr_array_index (self->items, i);

      if (item->label != NULL && !g_ptr_array_find_with_equal_func (labels, item->label,
                                                                    g_str_equal, NULL))
        g_ptr_array_add (labels, item->label);
      n_disputed += item->raters_disagree;
    }
  for (guint g = 0; g <= labels->len; g++)
    {
      const char *label = g < labels->len ? g_ptr_array_index (labels, g) : NULL;
      GtkWidget *flow = gtk_flow_box_new ();
      GtkWidget *header;
      g_autofree char *title = NULL;
      guint n = 0;

      gtk_flow_box_set_selection_mode (GTK_FLOW_BOX (flow), GTK_SELECTION_MULTIPLE);
      gtk_flow_box_set_activate_on_single_click (GTK_FLOW_BOX (flow), FALSE);
      gtk_flow_box_set_max_children_per_line (GTK_FLOW_BOX (flow), 64);
      g_signal_connect (flow, "child-activated", G_CALLBACK (child_activated), self);
      for (guint i = 0; i < self->items->len; i++)
        {
          HepaReviewItem *item = g_ptr_array_index (self->items, i);
          GtkWidget *cell, *picture, *caption;
          g_autofree char *text = NULL;

          if (label != NULL ? g_strcmp0 (item->label, label) != 0 : !item->raters_disagree)
            continue;
          cell = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
          picture = gtk_picture_new ();
          gtk_widget_set_size_request (picture, THUMB, THUMB);
          text = item_caption (item);
          caption = gtk_label_new (text);
          gtk_label_set_justify (GTK_LABEL (caption), GTK_JUSTIFY_CENTER);
          gtk_widget_add_css_class (caption, "caption");
          gtk_box_append (GTK_BOX (cell), picture);
          gtk_box_append (GTK_BOX (cell), caption);
          gtk_flow_box_append (GTK_FLOW_BOX (flow), cell);
          child = gtk_widget_get_parent (cell);
          g_object_set_data (G_OBJECT (child), "hepa-index", GUINT_TO_POINTER (i));
          self->pictures->pdata[i] = picture;
          self->children->pdata[i] = child;
          n++;
        }
      if (n == 0)
        {
          g_object_ref_sink (flow);
          g_object_unref (flow);
          continue;
        }
      /* Translators: a group of the review grid: the label and how many regions carry it */
      title = label != NULL ? g_strdup_printf (_("%s (%u)"), label, n)
                            : g_strdup_printf (_("Raters disagree (%u)"), n);
      header = gtk_label_new (title);
      gtk_label_set_xalign (GTK_LABEL (header), 0);
      gtk_widget_add_css_class (header, "heading");
      gtk_box_append (self->groups, header);
      gtk_box_append (self->groups, flow);
    }
  summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                          "%u labeled region, %u where raters disagree; keys "
                                          "1-%u relabel the selection",
                                          "%u labeled regions, %u where raters disagree; keys "
                                          "1-%u relabel the selection", self->items->len),
                             self->items->len, n_disputed, MIN (g_strv_length (self->classes), 9));
  gtk_label_set_text (self->summary, summary);

  if (self->thumbs != NULL)
    g_cancellable_cancel (self->thumbs);
  g_clear_object (&self->thumbs);
  self->thumbs = g_cancellable_new ();
  job = g_new0 (ThumbJob, 1);
  /* The worker gets its own copies of where each thumbnail comes from. */
  job->items = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_review_item_free);
  for (guint i = 0; i < self->items->len; i++)
    {
      const HepaReviewItem *item = g_ptr_array_index (self->items, i);
      HepaReviewItem *copy = g_new0 (HepaReviewItem, 1);

      copy->path = g_strdup (item->path);
      copy->frame = item->frame;
      copy->rect = item->rect;
      g_ptr_array_add (job->items, copy);
    }
  task = g_task_new (self, self->thumbs, thumbs_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) thumb_job_free);
  g_task_run_in_thread (task, thumb_thread);
}

void
hepa_review_set_sort (HepaReview     *self,
                      HepaReviewSort  sort)
{
  g_return_if_fail (HEPA_IS_REVIEW (self));

  self->sort = sort;
  if (gtk_drop_down_get_selected (self->sort_choice) != (guint) sort)
    gtk_drop_down_set_selected (self->sort_choice, sort);
  hepa_review_sort (self->items, sort);
  rebuild (self);
}

static void
sort_changed (HepaReview *self)
{
  guint selected = gtk_drop_down_get_selected (self->sort_choice);

  if (selected != (guint) self->sort && selected <= HEPA_REVIEW_SORT_CONFIDENCE)
    hepa_review_set_sort (self, (HepaReviewSort) selected);
}

GPtrArray *
hepa_review_get_items (HepaReview *self)
{
  return self->items;
}

void
hepa_review_select (HepaReview  *self,
                    const guint *indices,
                    guint        n)
{
  for (guint i = 0; i < n; i++)
    if (indices[i] < self->children->len && self->children->pdata[indices[i]] != NULL)
      {
        GtkFlowBoxChild *child = self->children->pdata[indices[i]];

        gtk_flow_box_select_child (GTK_FLOW_BOX (gtk_widget_get_parent (GTK_WIDGET (child))),
                                   child);
      }
}

gboolean
hepa_review_relabel_selection (HepaReview  *self,
                               guint        n,
                               GError     **error)
{
  g_autoptr(GPtrArray) selected = g_ptr_array_new ();

  g_return_val_if_fail (HEPA_IS_REVIEW (self), FALSE);

  if (n < 1 || n > g_strv_length (self->classes))
    return TRUE;
  for (guint i = 0; i < self->children->len; i++)
    {
      GtkFlowBoxChild *child = self->children->pdata[i];

      if (child != NULL && gtk_flow_box_child_is_selected (child))
        g_ptr_array_add (selected, self->items->pdata[i]);
    }
  if (selected->len == 0)
    return TRUE;
  if (!hepa_review_relabel (selected, self->classes[n - 1], self->rater, error))
    return FALSE;
  rebuild (self);
  return TRUE;
}

void
hepa_review_reload (HepaReview *self)
{
  g_clear_pointer (&self->items, g_ptr_array_unref);
  self->items = hepa_review_collect ((const char *const *) self->paths);
  hepa_review_sort (self->items, self->sort);
  rebuild (self);
}

static gboolean
key_pressed (GtkEventControllerKey *controller,
             guint                  keyval,
             guint                  keycode,
             GdkModifierType        state,
             HepaReview            *self)
{
  g_autoptr(GError) error = NULL;
  guint n = 0;

  if (keyval >= GDK_KEY_1 && keyval <= GDK_KEY_9)
    n = keyval - GDK_KEY_1 + 1;
  else if (keyval >= GDK_KEY_KP_1 && keyval <= GDK_KEY_KP_9)
    n = keyval - GDK_KEY_KP_1 + 1;
  if (n == 0)
    return FALSE;
  if (!hepa_review_relabel_selection (self, n, &error))
    gtk_label_set_text (self->summary, error->message);
  return TRUE;
}

static void
hepa_review_init (HepaReview *self)
{
  const char *sorts[] = { N_("By file"), N_("Model disagrees most first"),
                          N_("Model least sure first"), NULL };
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) sort_names = NULL;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkEventController *keys = gtk_event_controller_key_new ();

  self->items = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_review_item_free);
  self->pictures = g_ptr_array_new ();
  self->children = g_ptr_array_new ();
  gtk_window_set_title (GTK_WINDOW (self), _("Review Labels"));
  gtk_window_set_default_size (GTK_WINDOW (self), 900, 700);

  for (guint i = 0; sorts[i] != NULL; i++)
    g_strv_builder_add (builder, _(sorts[i]));
  sort_names = g_strv_builder_end (builder);
  self->sort_choice = GTK_DROP_DOWN (gtk_drop_down_new_from_strings ((const char *const *)
                                                                     sort_names));
  self->summary = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->summary, 0);
  gtk_widget_set_hexpand (GTK_WIDGET (self->summary), TRUE);
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->summary));
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->sort_choice));
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_box_append (GTK_BOX (box), top);
  self->groups = GTK_BOX (gtk_box_new (GTK_ORIENTATION_VERTICAL, 6));
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->groups));
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_box_append (GTK_BOX (box), scroller);
  gtk_window_set_child (GTK_WINDOW (self), box);

  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  g_signal_connect_swapped (self->sort_choice, "notify::selected", G_CALLBACK (sort_changed),
                            self);
}

static void
hepa_review_dispose (GObject *object)
{
  HepaReview *self = HEPA_REVIEW (object);

  if (self->thumbs != NULL)
    g_cancellable_cancel (self->thumbs);
  g_clear_object (&self->thumbs);
  G_OBJECT_CLASS (hepa_review_parent_class)->dispose (object);
}

static void
hepa_review_finalize (GObject *object)
{
  HepaReview *self = HEPA_REVIEW (object);

  g_strfreev (self->paths);
  g_strfreev (self->classes);
  g_free (self->rater);
  g_ptr_array_unref (self->items);
  g_ptr_array_unref (self->pictures);
  g_ptr_array_unref (self->children);
  G_OBJECT_CLASS (hepa_review_parent_class)->finalize (object);
}

static void
hepa_review_class_init (HepaReviewClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hepa_review_dispose;
  G_OBJECT_CLASS (klass)->finalize = hepa_review_finalize;

  /* (image path, ROI id): the workbench opens the file and selects the ROI. */
  signals[ROI_ACTIVATED] = g_signal_new ("roi-activated", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                         G_TYPE_STRING, G_TYPE_STRING);
}

HepaReview *
hepa_review_new (GtkWindow         *parent,
                 const char *const *paths,
                 const char *const *classes,
                 const char        *rater)
{
  HepaReview *self = g_object_new (HEPA_TYPE_REVIEW, NULL);

  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (self), parent);
  self->paths = g_strdupv ((char **) paths);
  self->classes = g_strdupv ((char **) (classes != NULL ? classes : default_classes));
  self->rater = g_strdup (rater != NULL ? rater : "");
  hepa_review_reload (self);
  return self;
}

HepaReview *
hepa_review_present (GtkWindow         *parent,
                     const char *const *paths,
                     const char *const *classes,
                     const char        *rater)
{
  HepaReview *self = hepa_review_new (parent, paths, classes, rater);

  gtk_window_present (GTK_WINDOW (self));
  return self;
}
