/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-window-private.h"

#include "hepa-core.h"
#include "hepa-list-sync.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

G_DEFINE_FINAL_TYPE (HepaWindow, hepa_window, GTK_TYPE_APPLICATION_WINDOW)

/* The default label set (DESIGN.md), used for labeling keys while no model is loaded. */
static const char *const default_classes[] = {
  "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL,
};

static void request_inference (HepaWindow *self,
                               gboolean    live);
static void refresh_roi_list  (HepaWindow *self);
static void schedule_save     (HepaWindow *self);

/* ---- Messages ------------------------------------------------------------------------- */

void
hepa_window_show_info (HepaWindow     *self,
                       GtkMessageType  type,
                       const char     *message)
{
  /* Scripted tests read what the user was told. */
  if (hepa_debug_enabled ("view"))
    g_printerr ("hepascope-info: %s\n", message);
  gtk_info_bar_set_message_type (GTK_INFO_BAR (self->info_bar), type);
  gtk_label_set_text (GTK_LABEL (self->info_label), message);
  gtk_info_bar_set_revealed (GTK_INFO_BAR (self->info_bar), TRUE);
  /* Screen readers hear the message even though focus stays where it is. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->info_bar),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, message, -1);
}

static void
info_bar_response_cb (HepaWindow *self,
                      int         response,
                      GtkInfoBar *info_bar)
{
  gtk_info_bar_set_revealed (info_bar, FALSE);
}

void
hepa_window_set_status (HepaWindow *self,
                        const char *message)
{
  gtk_label_set_text (GTK_LABEL (self->status_message), message ? message : "");
}

static void
update_title (HepaWindow *self)
{
  g_autofree char *base = self->path ? g_path_get_basename (self->path) : NULL;

  gtk_label_set_text (GTK_LABEL (self->title_label), base ? base : "Hepascope");
  gtk_window_set_title (GTK_WINDOW (self), base ? base : "Hepascope");
  if (self->study != NULL && self->study_index >= 0)
    {
      /* Translators: position of the open file in a study folder, e.g. "File 2 of 12" */
      g_autofree char *sub = g_strdup_printf (_("File %d of %u"), self->study_index + 1,
                                              self->study->len);

      gtk_label_set_text (GTK_LABEL (self->subtitle_label), sub);
      gtk_widget_set_visible (self->subtitle_label, TRUE);
    }
  else
    gtk_widget_set_visible (self->subtitle_label, FALSE);
}

/* ---- Model ---------------------------------------------------------------------------- */

static const char *const *
current_classes (HepaWindow *self)
{
  return (const char *const *) self->classes;
}

static void
update_cam_class_model (HepaWindow *self)
{
  g_autoptr(GtkStringList) list = gtk_string_list_new (NULL);

  gtk_string_list_append (list, _("Most probable class"));
  for (guint i = 0; self->classes[i] != NULL; i++)
    gtk_string_list_append (list, self->classes[i]);
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->cam_class_dropdown), G_LIST_MODEL (list));
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->cam_class_dropdown), 0);
}

static void
update_label_hint (HepaWindow *self)
{
  guint n = MIN (g_strv_length (self->classes), 9);
  g_autofree char *hint = NULL;

  /* Translators: %u is the number of classes, e.g. "Keys 1–5 label the selected region ..." */
  hint = g_strdup_printf (_("Keys 1–%u label the selected region in the order of the "
                            "prediction list; 0 clears the label."), n);
  gtk_label_set_text (GTK_LABEL (self->label_hint), hint);
}

static void
update_model_state (HepaWindow *self)
{
  HepaApplication *app = HEPA_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  HepaModelHandle *handle = app ? hepa_application_get_model (app) : NULL;
  const HepaModelCard *card;

  if (self->model != handle)
    {
      g_clear_pointer (&self->model, hepa_model_handle_unref);
      g_clear_pointer (&self->result, hepa_result_free);
      g_clear_pointer (&self->result_roi_id, g_free);
      if (handle != NULL)
        self->model = hepa_model_handle_ref (handle);
    }

  g_strfreev (self->classes);
  if (self->model != NULL)
    {
      card = hepa_model_get_card (self->model->model);
      self->classes = g_strdupv (card->classes);
      gtk_label_set_text (GTK_LABEL (self->model_button_label), card->id);
      gtk_widget_set_tooltip_text (self->model_button, card->id);
      {
        g_autofree char *text = g_strdup_printf (_("Model %s"), card->id);
        gtk_label_set_text (GTK_LABEL (self->status_model), text);
      }
    }
  else
    {
      const char *why = app ? hepa_application_get_model_error (app) : NULL;

      self->classes = g_strdupv ((char **) default_classes);
      if (app != NULL && hepa_application_get_loading (app))
        {
          gtk_label_set_text (GTK_LABEL (self->model_button_label), _("Loading model…"));
          gtk_label_set_text (GTK_LABEL (self->status_model), _("Loading model…"));
        }
      else
        {
          gtk_label_set_text (GTK_LABEL (self->model_button_label), _("No model"));
          gtk_label_set_text (GTK_LABEL (self->status_model), _("No model loaded"));
          if (why != NULL)
            {
              hepa_window_show_info (self, GTK_MESSAGE_WARNING, why);
              self->info_about_file = FALSE;
            }
        }
    }

  hepa_prob_panel_set_classes (self->prob_panel, current_classes (self));
  hepa_canvas_set_classes (self->canvas, current_classes (self));
  update_cam_class_model (self);
  update_label_hint (self);
  refresh_roi_list (self);
  hepa_window_update_actions (self);
  request_inference (self, FALSE);
}

static void
app_model_changed_cb (HepaWindow *self)
{
  update_model_state (self);
}

/* ---- ROI list ------------------------------------------------------------------------- */

static char *
roi_size_text (HepaWindow    *self,
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
class_index (HepaWindow *self,
             const char *label)
{
  for (int i = 0; label && self->classes[i] != NULL; i++)
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

/* Everything a row shows: a row whose key did not change is kept as it is. */
static char *
roi_row_key (HepaWindow    *self,
             const HepaRoi *roi,
             guint          number)
{
  g_autofree char *pred = roi_pred_text (roi);

  return g_strdup_printf ("%p\x1f%s\x1f%u\x1f%s\x1f%d\x1f%d %d %d %d\x1f%u\x1f%u\x1f%s",
                          (gpointer) self->image, roi->id, number,
                          roi->label ? roi->label : "\x01", class_index (self, roi->label),
                          roi->rect.x, roi->rect.y, roi->rect.width, roi->rect.height,
                          roi->frame, self->image ? hepa_image_get_n_frames (self->image) : 0,
                          pred ? pred : "");
}

static GtkWidget *
make_roi_row (HepaWindow    *self,
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
  int ci = class_index (self, roi->label);

  /* Number in a swatch of the label colour; the label is spelled out next to it. */
  {
    g_autofree char *num = g_strdup_printf ("%u", number);
    gtk_label_set_text (GTK_LABEL (swatch), num);
  }
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

  if (roi->frame > 0 || (self->image && hepa_image_get_n_frames (self->image) > 1))
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

  {
    g_autofree char *pred = roi_pred_text (roi);

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

static gboolean refreshing_list;

static void
sync_list_selection (HepaWindow *self)
{
  const char *selected = hepa_roi_store_get_selected (self->store);
  GtkWidget *child;

  refreshing_list = TRUE;
  gtk_list_box_unselect_all (GTK_LIST_BOX (self->roi_list));
  for (child = gtk_widget_get_first_child (self->roi_list); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_LIST_BOX_ROW (child)
        && g_strcmp0 (g_object_get_data (G_OBJECT (child), "roi-id"), selected) == 0)
      gtk_list_box_select_row (GTK_LIST_BOX (self->roi_list), GTK_LIST_BOX_ROW (child));
  refreshing_list = FALSE;
}

static void
update_study_count (HepaWindow *self)
{
  GPtrArray *rois = hepa_roi_store_get_rois (self->store);
  g_autofree char *count = NULL;

  /* Translators: counts of regions of interest and of labeled ones in one file */
  count = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u region, %u labeled",
                                        "%u regions, %u labeled", rois->len),
                           rois->len, hepa_roi_store_count_labeled (self->store));
  if (self->study != NULL && self->study_index >= 0)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (GTK_LIST_BOX (self->study_list),
                                                          self->study_index);

      g_free (g_ptr_array_index (self->study_counts, self->study_index));
      g_ptr_array_index (self->study_counts, self->study_index) = g_strdup (count);
      if (row != NULL)
        {
          GtkWidget *label = g_object_get_data (G_OBJECT (row), "count-label");
          gtk_label_set_text (GTK_LABEL (label), count);
        }
    }
  {
    /* Translators: the heading of the region list with how many there are */
    g_autofree char *heading = g_strdup_printf (_("Regions · %u"), rois->len);

    gtk_label_set_text (GTK_LABEL (self->regions_heading), rois->len ? heading : _("Regions"));
    gtk_widget_set_tooltip_text (self->regions_heading, count);
  }
}

static char *
roi_row_key_cb (guint    index,
                gpointer user_data)
{
  HepaWindow *self = user_data;

  return roi_row_key (self, g_ptr_array_index (hepa_roi_store_get_rois (self->store), index),
                      index + 1);
}

static GtkWidget *
roi_row_cb (guint    index,
            gpointer user_data)
{
  HepaWindow *self = user_data;

  return make_roi_row (self, g_ptr_array_index (hepa_roi_store_get_rois (self->store), index),
                       index + 1);
}

/* Rebuilds only the rows whose contents changed (an edit touches one region), so an edit does
 * not build and lay out every row of the side panel again. */
static void
refresh_roi_list (HepaWindow *self)
{
  refreshing_list = TRUE;
  hepa_list_box_sync (GTK_LIST_BOX (self->roi_list), hepa_roi_store_get_rois (self->store)->len,
                      roi_row_key_cb, roi_row_cb, self);
  refreshing_list = FALSE;
  sync_list_selection (self);
  update_study_count (self);
}

static void
roi_row_selected_cb (HepaWindow    *self,
                     GtkListBoxRow *row,
                     GtkListBox    *list)
{
  const char *id;
  const HepaRoi *roi;

  if (refreshing_list || row == NULL)
    return;
  id = g_object_get_data (G_OBJECT (row), "roi-id");
  roi = hepa_roi_store_lookup (self->store, id);
  if (roi == NULL)
    return;
  if (roi->frame != hepa_canvas_get_frame (self->canvas))
    hepa_frame_bar_set_frame (self->frame_bar, roi->frame);
  hepa_roi_store_select (self->store, id);
}

/* ---- Inference ------------------------------------------------------------------------ */

typedef struct
{
  HepaWindow      *window;     /* (owned) */
  HepaModelHandle *model;      /* (owned) keeps the engine alive */
  HepaImage       *image;      /* (owned) */
  char            *roi_id;
  guint            frame;
  gint64           start_us;
} ClassifyJob;

static void
classify_job_free (ClassifyJob *job)
{
  g_object_unref (job->window);
  hepa_model_handle_unref (job->model);
  hepa_image_unref (job->image);
  g_free (job->roi_id);
  g_free (job);
}

static const HepaRoi *
selected_roi (HepaWindow *self)
{
  return hepa_roi_store_lookup (self->store, hepa_roi_store_get_selected (self->store));
}

static gboolean
result_matches (HepaWindow    *self,
                const HepaRoi *roi)
{
  return self->result != NULL && roi != NULL && g_strcmp0 (self->result_roi_id, roi->id) == 0
         && self->result_frame == roi->frame
         && memcmp (&self->result->roi, &roi->rect, sizeof (HepaRect)) == 0;
}

void
hepa_window_refresh_overlay (HepaWindow *self)
{
  const HepaResult *r = self->result;
  guint picked, cls;
  gsize plane;

  if (r == NULL || r->cams == NULL || g_strcmp0 (self->result_roi_id,
                                                  hepa_roi_store_get_selected (self->store)) != 0)
    {
      hepa_canvas_set_overlay (self->canvas, 0, NULL, NULL, 0, 0, 0);
      return;
    }
  picked = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->cam_class_dropdown));
  cls = (picked == 0 || picked == GTK_INVALID_LIST_POSITION || picked > r->n_classes)
          ? r->top : picked - 1;
  plane = (gsize) r->cam_width * r->cam_height;
  /* Absolute scaling shares one zero-anchored range across every class of the result, so a
   * weak class looks weak instead of being stretched to full contrast. */
  hepa_canvas_set_overlay (self->canvas, self->result_frame, &r->roi, r->cams + cls * plane,
                           r->cam_width, r->cam_height,
                           hepa_overlay_max_positive (r->cams, plane * r->n_classes));
}

static void
after_paint_cb (GdkFrameClock *clock,
                HepaWindow    *self)
{
  g_signal_handlers_disconnect_by_func (clock, after_paint_cb, self);
  if (self->released_us != 0)
    {
      double ms = (g_get_monotonic_time () - self->released_us) / 1000.0;

      g_printerr ("hepascope-timing: roi-released -> probabilities on screen: %.1f ms "
                  "(inference %.1f ms; released -> started %.1f ms, started -> result %.1f ms, "
                  "result -> painted %.1f ms, of which updating widgets %.1f ms)\n", ms,
                  self->result ? self->result->latency_ms : 0.0,
                  MAX (0, self->shown_start_us - self->released_us) / 1000.0,
                  (self->shown_result_us - self->shown_start_us) / 1000.0,
                  (g_get_monotonic_time () - self->shown_result_us) / 1000.0,
                  self->shown_update_us / 1000.0);
      self->released_us = 0;
    }
}

static void
show_result (HepaWindow *self)
{
  const HepaRoi *roi = hepa_roi_store_lookup (self->store, self->result_roi_id);
  const HepaModelCard *card = hepa_model_get_card (self->model->model);
  g_autofree char *time_text = NULL;

  hepa_prob_panel_set_result (self->prob_panel, self->result->probabilities,
                              self->result->n_classes, card->id, self->result->latency_ms);
  hepa_window_refresh_overlay (self);
  time_text = g_strdup_printf (_("Inference %.0f ms"), self->result->latency_ms);
  gtk_label_set_text (GTK_LABEL (self->status_time), time_text);

  /* A region labeled (or moved after labeling) before its answer was ready gets the answer
   * now. Merely looking at a labeled region never rewrites its stored prediction. */
  if (roi != NULL && roi->label != NULL && result_matches (self, roi)
      && g_strcmp0 (self->pred_pending_id, roi->id) == 0)
    {
      g_clear_pointer (&self->pred_pending_id, g_free);
      hepa_roi_store_set_prediction (self->store, roi->id, card->id,
                                     (const char *const *) card->classes,
                                     self->result->probabilities);
    }

  if (self->timing && self->released_us != 0 && !self->infer_pending)
    {
      GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));

      if (clock != NULL)
        g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), self);
    }
}

/* The nice value of every thread but the main loop's while the window classifies. */
#define HEPA_WORKER_NICE 10

static void start_inference (HepaWindow *self);

static void
classify_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  ClassifyJob *job = user_data;
  HepaWindow *self = job->window;
  g_autoptr(GError) error = NULL;
  HepaResult *result;

  result = hepa_engine_classify_finish (job->model->engine, res, &error);
  self->infer_in_flight = FALSE;

  if (result == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          hepa_prob_panel_clear (self->prob_panel, error->message);
          hepa_window_set_status (self, error->message);
        }
    }
  else if (job->image == self->image && job->model == self->model
           && hepa_roi_store_lookup (self->store, job->roi_id) != NULL)
    {
      g_clear_pointer (&self->result, hepa_result_free);
      self->result = result;
      g_free (self->result_roi_id);
      self->result_roi_id = g_strdup (job->roi_id);
      self->result_frame = job->frame;
      self->shown_start_us = job->start_us;
      self->shown_result_us = g_get_monotonic_time ();
      result = NULL;
      show_result (self);
      self->shown_update_us = g_get_monotonic_time () - self->shown_result_us;
    }
  g_clear_pointer (&result, hepa_result_free);

  if (self->infer_pending)
    start_inference (self);
  classify_job_free (job);
}

static void
start_inference (HepaWindow *self)
{
  const HepaRoi *roi = selected_roi (self);
  ClassifyJob *job;

  self->infer_pending = FALSE;
  if (roi == NULL || self->model == NULL || self->image == NULL)
    return;

  g_clear_object (&self->infer_cancellable);
  self->infer_cancellable = g_cancellable_new ();
  job = g_new0 (ClassifyJob, 1);
  job->window = g_object_ref (self);
  job->model = hepa_model_handle_ref (self->model);
  job->image = hepa_image_ref (self->image);
  job->roi_id = g_strdup (roi->id);
  job->frame = roi->frame;
  job->start_us = g_get_monotonic_time ();
  g_free (self->infer_roi_id);
  self->infer_roi_id = g_strdup (roi->id);
  self->infer_rect = roi->rect;
  self->infer_frame = roi->frame;
  self->infer_in_flight = TRUE;
  hepa_prob_panel_set_busy (self->prob_panel, TRUE);
  hepa_engine_classify_async (self->model->engine, self->image, roi->frame, &roi->rect,
                              self->infer_cancellable, classify_cb, job);
  /* The inference, BLAS, decoding and frame threads run at a lower priority than this one, so
   * on two cores the main loop gets a core back as soon as it wakes instead of waiting out a
   * worker's time slice. The inference thread exists now; the OpenMP team it starts during its
   * first job inherits its priority. Idempotent, and once the workers are lowered about 20 us
   * (a priority read per thread). */
  hepa_core_lower_worker_priority (HEPA_WORKER_NICE);
}

/* @live: inside a drag. Live requests wait for the running one (so results keep coming while
 * the pointer moves); a finished edit cancels it, so the final geometry is answered first. */
static void
request_inference (HepaWindow *self,
                   gboolean    live)
{
  const HepaRoi *roi = selected_roi (self);

  if (roi == NULL)
    {
      if (self->infer_in_flight)
        g_cancellable_cancel (self->infer_cancellable);
      self->infer_pending = FALSE;
      hepa_prob_panel_clear (self->prob_panel,
                             self->image ? _("Draw or select a region to classify it.") : NULL);
      hepa_window_refresh_overlay (self);
      return;
    }
  if (self->model == NULL)
    {
      HepaApplication *app = HEPA_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));

      hepa_prob_panel_clear (self->prob_panel,
                             app && hepa_application_get_loading (app)
                               ? _("The model is loading…")
                               : _("No model is loaded, so regions are not classified. Open one "
                                   "from the model menu."));
      return;
    }
  if (result_matches (self, roi))
    {
      /* Nothing to compute: the answer on screen is for this exact region. */
      if (self->infer_in_flight)
        g_cancellable_cancel (self->infer_cancellable);
      self->infer_pending = FALSE;
      show_result (self);
      return;
    }
  if (self->infer_in_flight)
    {
      if (g_strcmp0 (self->infer_roi_id, roi->id) == 0 && self->infer_frame == roi->frame
          && memcmp (&self->infer_rect, &roi->rect, sizeof (HepaRect)) == 0)
        {
          /* The running inference already answers this region (a label key, say). */
          self->infer_pending = FALSE;
          return;
        }
      self->infer_pending = TRUE;
      if (!live)
        g_cancellable_cancel (self->infer_cancellable);
      return;
    }
  start_inference (self);
}

/* ---- Store events --------------------------------------------------------------------- */

static void
store_changed_cb (HepaWindow   *self,
                  guint         change,
                  HepaRoiStore *store)
{
  const HepaRoi *roi = selected_roi (self);

  switch ((HepaRoiChange) change)
    {
    case HEPA_ROI_CHANGE_LIVE:
      self->live_since_edit = TRUE;
      request_inference (self, TRUE);
      break;
    case HEPA_ROI_CHANGE_EDIT:
      if (roi != NULL && result_matches (self, roi) && self->timing && self->live_since_edit)
        {
          /* The last live answer during the drag was already for this place: nothing to wait
           * for. Said anyway, so every release has its line. */
          g_printerr ("hepascope-timing: roi-released -> probabilities on screen: 0.0 ms "
                      "(the answer for this place was already on screen)\n");
        }
      self->live_since_edit = FALSE;
      if (roi != NULL && !result_matches (self, roi))
        {
          self->released_us = g_get_monotonic_time ();
          /* A labeled region that moved needs the answer for its new place. */
          if (roi->label != NULL && self->model != NULL)
            {
              g_free (self->pred_pending_id);
              self->pred_pending_id = g_strdup (roi->id);
            }
        }
      refresh_roi_list (self);
      request_inference (self, FALSE);
      schedule_save (self);
      break;
    case HEPA_ROI_CHANGE_LOADED:
      refresh_roi_list (self);
      request_inference (self, FALSE);
      break;
    case HEPA_ROI_CHANGE_PREDICTION:
      refresh_roi_list (self);
      schedule_save (self);
      break;
    default:
      break;
    }
  hepa_window_update_actions (self);
}

static void
store_selection_changed_cb (HepaWindow   *self,
                            HepaRoiStore *store)
{
  sync_list_selection (self);
  request_inference (self, FALSE);
  hepa_window_update_actions (self);
}

void
hepa_window_label_selected (HepaWindow *self,
                            int         index)
{
  const HepaRoi *roi = selected_roi (self);
  const char *label = NULL;
  g_autofree char *msg = NULL;

  if (roi == NULL)
    {
      hepa_window_set_status (self, _("Select a region first, then press a number to label it."));
      return;
    }
  if (index >= 0)
    {
      if ((guint) index >= g_strv_length (self->classes))
        return;
      label = self->classes[index];
    }
  if (label != NULL && result_matches (self, roi))
    {
      const HepaModelCard *card = hepa_model_get_card (self->model->model);

      hepa_roi_store_set_label (self->store, roi->id, label, card->id,
                                (const char *const *) card->classes, self->result->probabilities);
    }
  else
    {
      /* The prediction is recorded when the running inference for this region lands. */
      if (label != NULL && self->model != NULL)
        {
          g_free (self->pred_pending_id);
          self->pred_pending_id = g_strdup (roi->id);
        }
      hepa_roi_store_set_label (self->store, roi->id, label, NULL, NULL, NULL);
    }

  msg = label ? g_strdup_printf (_("Labeled “%s”"), label) : g_strdup (_("Label cleared"));
  hepa_window_set_status (self, msg);
}

/* ---- Saving --------------------------------------------------------------------------- */

typedef struct
{
  HepaAnnotations *annotations;
  char            *path;
} SaveJob;

static void
save_job_free (SaveJob *job)
{
  hepa_annotations_free (job->annotations);
  g_free (job->path);
  g_free (job);
}

static void
save_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  SaveJob *job = task_data;
  GError *error = NULL;

  if (hepa_annotations_save (job->annotations, job->path, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void start_save (HepaWindow *self);

static void
save_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  HepaWindow *self = HEPA_WINDOW (source);
  SaveJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  self->save_in_flight = FALSE;
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      g_autofree char *msg = g_strdup_printf (_("Could not save the regions to %s: %s. They "
                                                "are kept in memory and saved again at the "
                                                "next edit."), job->path, error->message);

      hepa_window_show_info (self, GTK_MESSAGE_ERROR, msg);
    }
  if (self->save_dirty)
    start_save (self);
  else if (self->close_after_save)
    gtk_window_destroy (GTK_WINDOW (self));
}

static void
start_save (HepaWindow *self)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *base = NULL;
  GPtrArray *rois = hepa_roi_store_get_rois (self->store);
  SaveJob *job;

  self->save_dirty = FALSE;
  if (self->sidecar_path == NULL || self->path == NULL)
    return;

  base = g_path_get_basename (self->path);
  job = g_new0 (SaveJob, 1);
  job->annotations = hepa_annotations_new (base);
  job->annotations->sop_uid_sha256 = g_strdup (self->sop_uid_sha256);
  for (guint i = 0; i < rois->len; i++)
    g_ptr_array_add (job->annotations->rois, hepa_roi_copy (g_ptr_array_index (rois, i)));
  job->path = g_strdup (self->sidecar_path);

  self->save_in_flight = TRUE;
  task = g_task_new (self, NULL, save_cb, NULL);
  g_task_set_source_tag (task, start_save);
  g_task_set_task_data (task, job, (GDestroyNotify) save_job_free);
  g_task_run_in_thread (task, save_thread);
}

static void
schedule_save (HepaWindow *self)
{
  if (self->save_in_flight)
    self->save_dirty = TRUE;
  else
    start_save (self);
}

/* ---- Opening -------------------------------------------------------------------------- */

typedef struct
{
  char            *path;
  HepaImage       *image;
  HepaAnnotations *annotations;
  char            *sidecar_path;
  char            *notice;        /* workspace fallback or damaged sidecar, for the user */
  GtkMessageType   notice_type;
} OpenJob;

static void
open_job_free (OpenJob *job)
{
  g_free (job->path);
  g_clear_pointer (&job->image, hepa_image_unref);
  g_clear_pointer (&job->annotations, hepa_annotations_free);
  g_free (job->sidecar_path);
  g_free (job->notice);
  g_free (job);
}

static char *
workspace_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "hepascope", "workspace", NULL);
}

static void
open_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  OpenJob *job = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) load_error = NULL;
  g_autofree char *dir = g_path_get_dirname (job->path);
  g_autofree char *next_to = hepa_annotations_sidecar_path (job->path, NULL);
  const char *read_from;

  job->image = hepa_image_open (job->path, &error);
  if (job->image == NULL || hepa_image_get_frame (job->image, 0, &error) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  /* Sidecars live next to the image; a folder we cannot write to sends them to the
   * workspace, reading the one next to the image the first time if there is one. */
  if (g_access (dir, W_OK) == 0)
    {
      job->sidecar_path = g_strdup (next_to);
      read_from = job->sidecar_path;
    }
  else
    {
      g_autofree char *ws = workspace_dir ();

      g_mkdir_with_parents (ws, 0700);
      job->sidecar_path = hepa_annotations_sidecar_path (job->path, ws);
      read_from = g_file_test (job->sidecar_path, G_FILE_TEST_EXISTS) ? job->sidecar_path
                                                                      : next_to;
      job->notice = g_strdup_printf (_("The folder %s is read-only, so regions are saved in "
                                       "the workspace folder %s."), dir, ws);
      job->notice_type = GTK_MESSAGE_INFO;
    }

  job->annotations = hepa_annotations_load (read_from, &load_error);
  if (job->annotations == NULL)
    {
      g_autofree char *base = g_path_get_basename (job->path);

      /* The loader moved the damaged file aside; start empty and say where it went. */
      g_free (job->notice);
      job->notice = g_strdup_printf (_("The regions file of %s was damaged and has been kept "
                                       "aside (%s). Starting with no regions."), base,
                                     load_error->message);
      job->notice_type = GTK_MESSAGE_WARNING;
      job->annotations = hepa_annotations_new (base);
    }
  g_task_return_boolean (task, TRUE);
}

static void
set_frame_count (HepaWindow *self)
{
  guint n = hepa_image_get_n_frames (self->image);
  const HepaImageInfo *info = hepa_image_get_info (self->image);

  hepa_frame_bar_set_n_frames (self->frame_bar, n, info->frame_time_ms);
  gtk_widget_set_visible (GTK_WIDGET (self->frame_bar), n > 1);
}

static void
add_recent (HepaWindow *self,
            const char *path)
{
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);

  if (uri != NULL)
    gtk_recent_manager_add_item (self->recent, uri);
}

static void
open_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  HepaWindow *self = HEPA_WINDOW (source);
  OpenJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  const HepaImageInfo *info;

  if (g_task_get_cancellable (G_TASK (res)) == self->open_cancellable)
    self->open_in_flight = FALSE;
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      g_autofree char *msg = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      gtk_spinner_stop (GTK_SPINNER (self->loading_spinner));
      msg = g_strdup_printf (_("Could not open %s: %s"), job->path, error->message);
      hepa_window_show_info (self, GTK_MESSAGE_ERROR, msg);
      gtk_stack_set_visible_child_name (GTK_STACK (self->main_stack),
                                        self->image ? "image" : "welcome");
      return;
    }

  gtk_spinner_stop (GTK_SPINNER (self->loading_spinner));
  if (self->infer_in_flight)
    g_cancellable_cancel (self->infer_cancellable);
  self->infer_pending = FALSE;
  g_clear_pointer (&self->result, hepa_result_free);
  g_clear_pointer (&self->result_roi_id, g_free);
  g_clear_pointer (&self->pred_pending_id, g_free);

  g_clear_pointer (&self->image, hepa_image_unref);
  self->image = g_steal_pointer (&job->image);
  g_free (self->path);
  self->path = g_strdup (job->path);
  g_free (self->sidecar_path);
  self->sidecar_path = g_steal_pointer (&job->sidecar_path);
  info = hepa_image_get_info (self->image);
  g_free (self->sop_uid_sha256);
  if (job->annotations->sop_uid_sha256 != NULL && *job->annotations->sop_uid_sha256)
    self->sop_uid_sha256 = g_strdup (job->annotations->sop_uid_sha256);
  else if (info->sop_uid != NULL && *info->sop_uid)
    self->sop_uid_sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, info->sop_uid, -1);
  else
    self->sop_uid_sha256 = NULL;

  /* A message about the previous file goes; one about the model stays. */
  if (job->notice != NULL)
    {
      hepa_window_show_info (self, job->notice_type, job->notice);
      self->info_about_file = TRUE;
    }
  else if (self->info_about_file)
    {
      gtk_info_bar_set_revealed (GTK_INFO_BAR (self->info_bar), FALSE);
      self->info_about_file = FALSE;
    }

  self->wanted_frame = 0;
  self->decoding_frame = G_MAXUINT;
  hepa_roi_store_set_bounds (self->store, hepa_image_get_width (self->image),
                             hepa_image_get_height (self->image));
  hepa_canvas_set_image (self->canvas, self->image, 0);
  set_frame_count (self);
  hepa_roi_store_load (self->store, job->annotations->rois);
  /* A file opens with its first region on the first frame selected, so its prediction and
   * saliency are on screen at once (selecting is not an edit: nothing is saved). */
  for (guint i = 0; i < job->annotations->rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (job->annotations->rois, i);

      if (roi->frame == 0)
        {
          hepa_roi_store_select (self->store, roi->id);
          break;
        }
    }
  if (hepa_debug_enabled ("view"))
    g_printerr ("hepascope-view: opened with %u regions\n", job->annotations->rois->len);
  gtk_stack_set_visible_child_name (GTK_STACK (self->main_stack), "image");
  gtk_widget_grab_focus (GTK_WIDGET (self->canvas));
  update_title (self);
  add_recent (self, self->path);
  hepa_window_set_status (self, NULL);
  hepa_window_update_actions (self);
}

void
hepa_window_open_path (HepaWindow *self,
                       const char *path)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *loading = NULL;
  OpenJob *job;

  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  self->open_cancellable = g_cancellable_new ();

  /* Keep the current image on screen for quick study stepping; show the spinner only when
   * there is nothing to look at. */
  if (self->image == NULL)
    {
      loading = g_strdup_printf (_("Opening %s…"), base);
      gtk_label_set_text (GTK_LABEL (self->loading_label), loading);
      gtk_spinner_start (GTK_SPINNER (self->loading_spinner));
      gtk_stack_set_visible_child_name (GTK_STACK (self->main_stack), "loading");
    }

  job = g_new0 (OpenJob, 1);
  job->path = g_strdup (path);
  self->open_in_flight = TRUE;
  task = g_task_new (self, self->open_cancellable, open_cb, NULL);
  g_task_set_source_tag (task, hepa_window_open_path);
  g_task_set_task_data (task, job, (GDestroyNotify) open_job_free);
  g_task_run_in_thread (task, open_thread);
}

/* ---- Frames --------------------------------------------------------------------------- */

/* Frames are decoded, windowed and scaled for the screen by the canvas's frame cache on a
 * worker, ahead of playback; the main thread only swaps a ready one in. */

static void
show_frame (HepaWindow *self,
            guint       frame)
{
  HepaFrameCache *cache = hepa_canvas_get_frame_cache (self->canvas);
  guint n = hepa_image_get_n_frames (self->image);

  hepa_canvas_set_image (self->canvas, self->image, frame);
  if (hepa_debug_enabled ("view"))
    g_printerr ("hepascope-view: frame %u of %u shown\n", frame + 1, n);
  if (self->play_since_us != 0)
    self->play_frames++;
  /* Playing, the frames that come next (as many as the cache holds); paused, the next two
   * for stepping. */
  if (n > 1)
    hepa_frame_cache_prefetch (cache, frame + 1,
                               hepa_frame_bar_get_playing (self->frame_bar) ? n - 1 : 2);
}

static void
frame_ready_cb (HepaWindow     *self,
                guint           frame,
                HepaFrameCache *cache)
{
  if (self->decoding_frame == G_MAXUINT || frame != self->wanted_frame
      || hepa_frame_cache_get_image (cache) != self->image)
    return;
  /* Made before the zoom changed: its scaled surface is made again first. */
  if (!hepa_frame_cache_is_ready (cache, frame))
    {
      hepa_frame_cache_request (cache, frame);
      return;
    }
  self->decoding_frame = G_MAXUINT;
  show_frame (self, frame);
}

static void
frame_failed_cb (HepaWindow     *self,
                 guint           frame,
                 const char     *message,
                 HepaFrameCache *cache)
{
  if (frame != self->wanted_frame)
    return;
  self->decoding_frame = G_MAXUINT;
  hepa_window_set_status (self, message);
}

static void
decode_frame (HepaWindow *self,
              guint       frame)
{
  HepaFrameCache *cache = hepa_canvas_get_frame_cache (self->canvas);

  self->wanted_frame = frame;
  if (self->image == NULL || hepa_frame_cache_get_image (cache) != self->image)
    return;
  if (hepa_frame_cache_is_ready (cache, frame))
    {
      self->decoding_frame = G_MAXUINT;
      show_frame (self, frame);
      return;
    }
  /* Frames requested meanwhile (a fast slider or playback) replace this one; the ones in
   * between are skipped. */
  self->decoding_frame = frame;
  hepa_frame_cache_request (cache, frame);
}

static void
playing_changed_cb (HepaWindow   *self,
                    GParamSpec   *pspec,
                    HepaFrameBar *bar)
{
  /* HEPASCOPE_DEBUG=timing: how many frames playback shows against the file's rate. */
  if (self->timing && hepa_frame_bar_get_playing (bar) && self->play_since_us == 0)
    self->play_since_us = g_get_monotonic_time ();
  else if (self->play_since_us != 0 && !hepa_frame_bar_get_playing (bar))
    {
      self->play_us += g_get_monotonic_time () - self->play_since_us;
      self->play_since_us = 0;
    }

  if (self->image != NULL && hepa_frame_bar_get_playing (bar))
    hepa_frame_cache_prefetch (hepa_canvas_get_frame_cache (self->canvas),
                               hepa_canvas_get_frame (self->canvas) + 1,
                               hepa_image_get_n_frames (self->image) - 1);
}

static void
frame_changed_cb (HepaWindow   *self,
                  GParamSpec   *pspec,
                  HepaFrameBar *bar)
{
  guint frame = hepa_frame_bar_get_frame (bar);

  if (self->image == NULL || frame == hepa_canvas_get_frame (self->canvas))
    return;
  decode_frame (self, frame);
}

/* ---- Study ---------------------------------------------------------------------------- */

static gboolean
is_image_name (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);
  const char *dot;

  if (name[0] == '.' || strstr (lower, ".hepascope.json") != NULL
      || strstr (lower, ".damaged-") != NULL || g_str_has_suffix (lower, ".tmp"))
    return FALSE;
  dot = strrchr (lower, '.');
  /* DICOM files often have no extension at all. */
  return dot == NULL || g_str_equal (dot, ".dcm") || g_str_equal (dot, ".dicom")
         || g_str_equal (dot, ".png") || g_str_equal (dot, ".jpg") || g_str_equal (dot, ".jpeg");
}

/* Counts regions in a sidecar without the loader, which would move a damaged file aside
 * before the user opens it and can be told. */
static char *
count_sidecar (const char *image_path)
{
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image_path, NULL);
  g_autofree char *dir = g_path_get_dirname (image_path);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonArray *rois;
  guint n, labeled = 0;

  if (g_access (dir, W_OK) != 0)
    {
      g_autofree char *ws = workspace_dir ();
      g_autofree char *alt = hepa_annotations_sidecar_path (image_path, ws);

      if (g_file_test (alt, G_FILE_TEST_EXISTS))
        {
          g_free (sidecar);
          sidecar = g_steal_pointer (&alt);
        }
    }
  if (!g_file_test (sidecar, G_FILE_TEST_EXISTS))
    return g_strdup (_("no regions"));
  if (!json_parser_load_from_file (parser, sidecar, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root)
      || !json_object_has_member (json_node_get_object (root), "rois")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (json_node_get_object (root), "rois")))
    return g_strdup (_("regions file unreadable"));
  rois = json_object_get_array_member (json_node_get_object (root), "rois");
  n = json_array_get_length (rois);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (rois, i);

      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *o = json_node_get_object (node);

          if (json_object_has_member (o, "label")
              && !json_node_is_null (json_object_get_member (o, "label")))
            labeled++;
        }
    }
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u region, %u labeled",
                                       "%u regions, %u labeled", n), n, labeled);
}

typedef struct
{
  char      *folder;    /* NULL when @paths was given */
  GPtrArray *paths;
  GPtrArray *counts;
} StudyJob;

static void
study_job_free (StudyJob *job)
{
  g_free (job->folder);
  g_clear_pointer (&job->paths, g_ptr_array_unref);
  g_clear_pointer (&job->counts, g_ptr_array_unref);
  g_free (job);
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_utf8_collate (*(const char *const *) a, *(const char *const *) b);
}

static void
study_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  StudyJob *job = task_data;

  if (job->folder != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDir) dir = g_dir_open (job->folder, 0, &error);
      const char *name;

      if (dir == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      job->paths = g_ptr_array_new_with_free_func (g_free);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (job->folder, name, NULL);

          if (is_image_name (name) && g_file_test (path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add (job->paths, g_steal_pointer (&path));
        }
      g_ptr_array_sort (job->paths, compare_paths);
    }
  job->counts = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < job->paths->len; i++)
    g_ptr_array_add (job->counts, count_sidecar (g_ptr_array_index (job->paths, i)));
  g_task_return_boolean (task, TRUE);
}

static void
study_row_activated_cb (HepaWindow    *self,
                        GtkListBoxRow *row,
                        GtkListBox    *list)
{
  int index = gtk_list_box_row_get_index (row);

  if (self->study == NULL || index == self->study_index)
    return;
  self->study_index = index;
  hepa_window_open_path (self, g_ptr_array_index (self->study, index));
  update_title (self);
  hepa_window_update_actions (self);
}

static void
fill_study_list (HepaWindow *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (self->study_list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (self->study_list), child);
  for (guint i = 0; i < self->study->len; i++)
    {
      GtkWidget *row = gtk_list_box_row_new ();
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
      g_autofree char *base = g_path_get_basename (g_ptr_array_index (self->study, i));
      GtkWidget *name = gtk_label_new (base);
      GtkWidget *count = gtk_label_new (g_ptr_array_index (self->study_counts, i));
      g_autofree char *accessible = g_strdup_printf ("%s, %s", base,
                                                     (char *) g_ptr_array_index (self->study_counts, i));

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
}

static void
study_cb (GObject      *source,
          GAsyncResult *res,
          gpointer      user_data)
{
  HepaWindow *self = HEPA_WINDOW (source);
  StudyJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  g_autofree char *heading = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      g_autofree char *msg = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      msg = g_strdup_printf (_("Could not open the folder %s: %s"), job->folder, error->message);
      hepa_window_show_info (self, GTK_MESSAGE_ERROR, msg);
      return;
    }
  if (job->paths->len == 0)
    {
      g_autofree char *msg = g_strdup_printf (_("The folder %s holds no DICOM, PNG or JPEG "
                                                "files."), job->folder);
      hepa_window_show_info (self, GTK_MESSAGE_WARNING, msg);
      return;
    }

  g_clear_pointer (&self->study, g_ptr_array_unref);
  g_clear_pointer (&self->study_counts, g_ptr_array_unref);
  self->study = g_steal_pointer (&job->paths);
  self->study_counts = g_steal_pointer (&job->counts);
  self->study_index = 0;
  fill_study_list (self);
  heading = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Study · %u file",
                                          "Study · %u files", self->study->len),
                             self->study->len);
  gtk_label_set_text (GTK_LABEL (self->study_heading), heading);
  gtk_widget_set_visible (self->study_box, TRUE);
  gtk_widget_set_visible (self->study_nav, self->study->len > 1);
  hepa_window_open_path (self, g_ptr_array_index (self->study, 0));
  update_title (self);
  if (job->folder != NULL)
    add_recent (self, job->folder);
  hepa_window_update_actions (self);
}

static void
start_study (HepaWindow *self,
             StudyJob   *job)
{
  g_autoptr(GTask) task = NULL;

  if (self->study_cancellable != NULL)
    g_cancellable_cancel (self->study_cancellable);
  g_clear_object (&self->study_cancellable);
  self->study_cancellable = g_cancellable_new ();
  task = g_task_new (self, self->study_cancellable, study_cb, NULL);
  g_task_set_source_tag (task, start_study);
  g_task_set_task_data (task, job, (GDestroyNotify) study_job_free);
  g_task_run_in_thread (task, study_thread);
}

void
hepa_window_open_folder (HepaWindow *self,
                         const char *folder)
{
  StudyJob *job = g_new0 (StudyJob, 1);

  job->folder = g_strdup (folder);
  start_study (self, job);
}

void
hepa_window_open_study (HepaWindow *self,
                        GPtrArray  *paths,
                        const char *title)
{
  StudyJob *job = g_new0 (StudyJob, 1);

  job->paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < paths->len; i++)
    g_ptr_array_add (job->paths, g_strdup (g_ptr_array_index (paths, i)));
  start_study (self, job);
}

void
hepa_window_study_step (HepaWindow *self,
                        int         delta)
{
  int n, index;

  if (self->study == NULL || self->study->len < 2)
    return;
  n = (int) self->study->len;
  index = CLAMP (self->study_index + delta, 0, n - 1);
  if (index == self->study_index)
    return;
  self->study_index = index;
  gtk_list_box_select_row (GTK_LIST_BOX (self->study_list),
                           gtk_list_box_get_row_at_index (GTK_LIST_BOX (self->study_list), index));
  hepa_window_open_path (self, g_ptr_array_index (self->study, index));
  update_title (self);
  hepa_window_update_actions (self);
}

void
hepa_window_open_files (HepaWindow  *self,
                        GFile      **files,
                        int          n_files)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  g_return_if_fail (HEPA_IS_WINDOW (self));

  for (int i = 0; i < n_files; i++)
    {
      char *path = g_file_get_path (files[i]);

      if (path == NULL)
        {
          g_autofree char *uri = g_file_get_uri (files[i]);
          g_autofree char *msg = g_strdup_printf (_("Cannot open %s: only local files are "
                                                    "supported."), uri);
          hepa_window_show_info (self, GTK_MESSAGE_ERROR, msg);
          continue;
        }
      g_ptr_array_add (paths, path);
    }
  if (paths->len == 1 && g_file_test (g_ptr_array_index (paths, 0), G_FILE_TEST_IS_DIR))
    hepa_window_open_folder (self, g_ptr_array_index (paths, 0));
  else if (paths->len == 1)
    {
      g_clear_pointer (&self->study, g_ptr_array_unref);
      g_clear_pointer (&self->study_counts, g_ptr_array_unref);
      self->study_index = -1;
      gtk_widget_set_visible (self->study_box, FALSE);
      gtk_widget_set_visible (self->study_nav, FALSE);
      hepa_window_open_path (self, g_ptr_array_index (paths, 0));
    }
  else if (paths->len > 1)
    hepa_window_open_study (self, paths, NULL);
}

/* ---- Pointer and zoom ----------------------------------------------------------------- */

static void
pointer_moved_cb (HepaWindow *self,
                  double      x,
                  double      y,
                  gboolean    inside,
                  HepaCanvas *canvas)
{
  const HepaFrame *frame;
  int px = (int) floor (x), py = (int) floor (y);
  g_autofree char *value = NULL;
  g_autofree char *text = NULL;
  double sx, sy;

  if (!inside || self->image == NULL || px < 0 || py < 0
      || px >= hepa_image_get_width (self->image) || py >= hepa_image_get_height (self->image))
    {
      gtk_label_set_text (GTK_LABEL (self->status_pointer), "");
      return;
    }
  frame = hepa_image_get_frame (self->image, hepa_canvas_get_frame (canvas), NULL);
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
  if (hepa_image_get_spacing_at (self->image, px, py, &sx, &sy))
    /* Translators: the pointer's x, y in pixels and in millimetres, then its value; with a
     * decimal comma, separate x and y otherwise (e.g. "12; 30 px · 4,5; 9,0 mm") */
    text = g_strdup_printf (_("%d, %d px · %.1f, %.1f mm · %s"), px, py, px * sx, py * sy,
                            value);
  else
    text = g_strdup_printf ("%d, %d px · %s", px, py, value);
  gtk_label_set_text (GTK_LABEL (self->status_pointer), text);
}

static void
view_changed_cb (HepaWindow *self,
                 HepaCanvas *canvas)
{
  /* Translators: a whole percentage, e.g. "87 %" */
  g_autofree char *text = g_strdup_printf (_("%.0f %%"), hepa_canvas_get_zoom (canvas) * 100.0);

  gtk_label_set_text (GTK_LABEL (self->status_zoom), text);

  /* For scripted pointer tests: where image pixel (0, 0) lies in the window's surface. */
  if (hepa_debug_enabled ("view") && self->image != NULL)
    {
      graphene_point_t p = GRAPHENE_POINT_INIT (0, 0);
      graphene_point_t q;
      double sx = 0, sy = 0, ox, oy;

      hepa_canvas_image_to_widget (canvas, 0, 0, &ox, &oy);
      p.x = ox;
      p.y = oy;
      gtk_native_get_surface_transform (GTK_NATIVE (self), &sx, &sy);
      if (gtk_widget_compute_point (GTK_WIDGET (canvas), GTK_WIDGET (self), &p, &q))
        g_printerr ("hepascope-view: origin %.2f %.2f zoom %.6f\n", q.x + sx, q.y + sy,
                    hepa_canvas_get_zoom (canvas));
    }
}

/* ---- Saliency controls ---------------------------------------------------------------- */

static void
saliency_controls_changed_cb (HepaWindow *self)
{
  GSettings *settings = NULL;
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  guint cmap = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->cmap_dropdown));
  guint scale = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->scale_dropdown));
  double opacity = gtk_adjustment_get_value (self->opacity_adjustment);

  hepa_canvas_set_overlay_opacity (self->canvas, opacity);
  hepa_canvas_set_colormap (self->canvas, cmap == 1 ? HEPA_COLORMAP_VIRIDIS
                                          : cmap == 2 ? HEPA_COLORMAP_JET
                                                      : HEPA_COLORMAP_INFERNO);
  hepa_canvas_set_overlay_scale (self->canvas, scale == 1 ? HEPA_OVERLAY_SCALE_ABSOLUTE
                                                          : HEPA_OVERLAY_SCALE_PER_ROI);
  if (app != NULL)
    settings = hepa_application_get_settings (HEPA_APPLICATION (app));
  if (settings != NULL)
    {
      g_settings_set_double (settings, "overlay-opacity", opacity);
      g_settings_set_enum (settings, "colormap", (int) MIN (cmap, 2));
      g_settings_set_enum (settings, "overlay-scaling", (int) MIN (scale, 1));
    }
}

/* Preferences changed elsewhere (the Preferences window, another window, gsettings) take effect
 * at once. Each branch compares first: the controls write the same keys back. */
static void
settings_changed_cb (HepaWindow *self,
                     const char *key,
                     GSettings  *settings)
{
  if (g_str_equal (key, "rater-name"))
    {
      g_autofree char *rater = g_settings_get_string (settings, key);

      hepa_roi_store_set_rater (self->store, *rater ? rater : g_get_user_name ());
    }
  else if (g_str_equal (key, "overlay-visible"))
    {
      g_autoptr(GVariant) state = g_action_group_get_action_state (G_ACTION_GROUP (self),
                                                                   "saliency");
      gboolean visible = g_settings_get_boolean (settings, key);

      if (state != NULL && g_variant_get_boolean (state) != visible)
        g_action_group_change_action_state (G_ACTION_GROUP (self), "saliency",
                                            g_variant_new_boolean (visible));
    }
  else if (g_str_equal (key, "overlay-opacity"))
    {
      double opacity = g_settings_get_double (settings, key);

      if (gtk_adjustment_get_value (self->opacity_adjustment) != opacity)
        gtk_adjustment_set_value (self->opacity_adjustment, opacity);
    }
  else if (g_str_equal (key, "colormap") || g_str_equal (key, "overlay-scaling"))
    {
      GtkDropDown *dropdown = GTK_DROP_DOWN (g_str_equal (key, "colormap") ? self->cmap_dropdown
                                                                            : self->scale_dropdown);
      guint selected = (guint) g_settings_get_enum (settings, key);

      if (gtk_drop_down_get_selected (dropdown) != selected)
        gtk_drop_down_set_selected (dropdown, selected);
    }
}

/* ---- Drag and drop -------------------------------------------------------------------- */

static gboolean
drop_cb (HepaWindow    *self,
         const GValue  *value,
         double         x,
         double         y,
         GtkDropTarget *target)
{
  GSList *list;
  g_autofree GFile **files = NULL;
  guint n, i = 0;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  list = g_value_get_boxed (value);
  n = g_slist_length (list);
  if (n == 0)
    return FALSE;
  files = g_new0 (GFile *, n);
  for (GSList *l = list; l != NULL; l = l->next)
    files[i++] = l->data;
  hepa_window_open_files (self, files, (int) n);
  return TRUE;
}

/* ---- Main loop watch ------------------------------------------------------------------ */

/* With HEPASCOPE_DEBUG=timing a high-priority 4 ms tick measures the gaps between its runs while
 * inference, decoding (opening a file, cine frames, the frame cache's work) or a save is in
 * flight, or a cine plays. A gap is the 4 ms
 * period plus the time the main loop was kept from running it: a gap above 20 ms means the loop
 * was blocked, or waited for a core, for more than 16 ms. The main thread's own CPU time within
 * each gap tells the two apart: work on the main thread (layout, painting, our callbacks) shows
 * as CPU time, a thread kept off the cores by others does not. The figures are logged when the
 * window closes. */
typedef enum
{
  STALL_INFERENCE,
  STALL_DECODING,
  STALL_SAVING,
  STALL_PLAYING,
  STALL_N_KINDS,
} StallKind;

#define STALL_TICK_MS 4

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void stall_watch_phases (HepaWindow *self);

/* Which kinds of work are in flight; TRUE when any is. */
static gboolean
stall_kinds (HepaWindow *self,
             gboolean    kinds[STALL_N_KINDS])
{
  gboolean busy = FALSE;

  kinds[STALL_INFERENCE] = self->infer_in_flight;
  kinds[STALL_DECODING] = self->decoding_frame != G_MAXUINT || self->open_in_flight
                          || hepa_frame_cache_is_busy (hepa_canvas_get_frame_cache (self->canvas));
  kinds[STALL_SAVING] = self->save_in_flight;
  kinds[STALL_PLAYING] = hepa_frame_bar_get_playing (self->frame_bar);
  for (guint k = 0; k < STALL_N_KINDS; k++)
    busy |= kinds[k];
  return busy;
}

static gboolean
stall_tick_cb (gpointer data)
{
  HepaWindow *self = data;
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();
  gboolean kinds[STALL_N_KINDS];
  gboolean busy = stall_kinds (self, kinds);

  stall_watch_phases (self);
  if (busy && self->stall_last_us != 0)
    {
      gint64 gap = now - self->stall_last_us;
      gint64 used = cpu - self->stall_last_cpu_us;

      g_array_append_val (self->stall_gaps, gap);
      g_array_append_val (self->stall_cpu, used);
      for (guint k = 0; k < STALL_N_KINDS; k++)
        if (kinds[k])
          self->stall_max_us[k] = MAX (self->stall_max_us[k], gap);
    }
  self->stall_last_us = now;
  self->stall_last_cpu_us = cpu;
  return G_SOURCE_CONTINUE;
}

static gboolean
stall_busy (HepaWindow *self)
{
  gboolean kinds[STALL_N_KINDS];

  return stall_kinds (self, kinds);
}

/* The frame clock's phases, timed in the main thread's CPU time: update (tick callbacks, such
 * as cine playback), layout (measuring and allocating widgets) and paint (snapshot and
 * rendering). Our handlers run after GTK's own, so each one ends the phase it names. */
typedef enum
{
  PHASE_UPDATE,
  PHASE_LAYOUT,
  PHASE_PAINT,
  PHASE_N,
} StallPhase;

static void
phase_begin_cb (GdkFrameClock *clock,
                HepaWindow    *self)
{
  self->phase_cpu_us = thread_cpu_us ();
}

static void
phase_end (HepaWindow *self,
           StallPhase  phase)
{
  gint64 now = thread_cpu_us ();
  gint64 used = now - self->phase_cpu_us;

  if (stall_busy (self))
    g_array_append_val (self->phase_cpu[phase], used);
  self->phase_cpu_us = now;
}

static void
phase_update_cb (GdkFrameClock *clock,
                 HepaWindow    *self)
{
  phase_end (self, PHASE_UPDATE);
}

static void
phase_layout_cb (GdkFrameClock *clock,
                 HepaWindow    *self)
{
  phase_end (self, PHASE_LAYOUT);
}

static void
phase_paint_cb (GdkFrameClock *clock,
                HepaWindow    *self)
{
  phase_end (self, PHASE_PAINT);
}

static void
stall_watch_phases (HepaWindow *self)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));

  if (clock == self->stall_clock)
    return;
  if (self->stall_clock != NULL)
    g_signal_handlers_disconnect_by_data (self->stall_clock, self);
  g_set_object (&self->stall_clock, clock);
  if (clock == NULL)
    return;
  g_signal_connect (clock, "before-paint", G_CALLBACK (phase_begin_cb), self);
  g_signal_connect (clock, "update", G_CALLBACK (phase_update_cb), self);
  g_signal_connect (clock, "layout", G_CALLBACK (phase_layout_cb), self);
  g_signal_connect (clock, "paint", G_CALLBACK (phase_paint_cb), self);
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* "worst W ms, p99 P ms, median M ms" of @values (microseconds), which it sorts. p99: the value
 * that 99 % of them do not exceed (nearest rank). */
static char *
percentiles_text (GArray *values)
{
  guint n = values->len;

  g_array_sort (values, compare_gint64);
  return g_strdup_printf ("worst %.1f ms, p99 %.1f ms, median %.1f ms",
                          n ? g_array_index (values, gint64, n - 1) / 1000.0 : 0.0,
                          n ? g_array_index (values, gint64, (guint) ceil (0.99 * n) - 1) / 1000.0
                            : 0.0,
                          n ? g_array_index (values, gint64, (n - 1) / 2) / 1000.0 : 0.0);
}

static void
stall_report (HepaWindow *self)
{
  GArray *gaps = self->stall_gaps;
  GArray *cpu = self->stall_cpu;
  g_autofree char *gaps_text = NULL;
  g_autofree char *cpu_text = NULL;
  guint n, over = 0;

  if (self->stall_id == 0)
    return;
  g_source_remove (self->stall_id);
  self->stall_id = 0;
  n = gaps->len;
  gaps_text = percentiles_text (gaps);
  cpu_text = percentiles_text (cpu);
  for (guint i = 0; i < n; i++)
    if (g_array_index (gaps, gint64, i) > 16000 + STALL_TICK_MS * 1000)
      over++;
  g_printerr ("hepascope-timing: main loop while work was in flight: %u gaps of the %d ms tick, "
              "%s, %u over %d ms; worst while inferring %.1f ms, decoding %.1f ms, saving "
              "%.1f ms, playing a cine %.1f ms\n", n, STALL_TICK_MS, gaps_text, over,
              16 + STALL_TICK_MS, self->stall_max_us[STALL_INFERENCE] / 1000.0,
              self->stall_max_us[STALL_DECODING] / 1000.0,
              self->stall_max_us[STALL_SAVING] / 1000.0,
              self->stall_max_us[STALL_PLAYING] / 1000.0);
  g_printerr ("hepascope-timing: main thread CPU time within those gaps: %s (the rest of a gap "
              "the thread waited for a core)\n", cpu_text);
  if (self->play_since_us != 0)
    self->play_us += g_get_monotonic_time () - self->play_since_us;
  if (self->play_us > 0)
    g_printerr ("hepascope-timing: cine playback: %u frames shown in %.1f s, %.1f per second "
                "(the file's rate %.1f per second)\n", self->play_frames,
                self->play_us / 1e6, self->play_frames / (self->play_us / 1e6),
                1000.0 / hepa_frame_bar_get_interval_ms (self->frame_bar));
  for (guint p = 0; p < PHASE_N; p++)
    {
      static const char *const names[PHASE_N] = { "update", "layout", "paint" };
      GArray *a = self->phase_cpu[p];
      guint m = a->len;
      g_autofree char *text = percentiles_text (a);

      g_printerr ("hepascope-timing: main thread CPU time in the frame clock's %s phase: %u "
                  "frames, %s\n", names[p], m, text);
      g_array_set_size (a, 0);
    }
  g_array_set_size (gaps, 0);
  g_array_set_size (cpu, 0);
  if (self->stall_clock != NULL)
    g_signal_handlers_disconnect_by_data (self->stall_clock, self);
  g_clear_object (&self->stall_clock);
}

/* ---- Lifecycle ------------------------------------------------------------------------ */

/* The cairo renderer (no GL) draws a cross-fade by painting both pages into offscreen groups at
 * every frame: opening a file cost four or five paints of 20-30 ms of the main thread. Without
 * GL the pages change at once. */
static void
realize_cb (HepaWindow *self)
{
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (self));

  if (renderer != NULL && GSK_IS_CAIRO_RENDERER (renderer))
    gtk_stack_set_transition_type (GTK_STACK (self->main_stack),
                                   GTK_STACK_TRANSITION_TYPE_NONE);
}

static gboolean
hepa_window_close_request (GtkWindow *window)
{
  HepaWindow *self = HEPA_WINDOW (window);
  GtkApplication *app = gtk_window_get_application (window);
  GSettings *settings = app ? hepa_application_get_settings (HEPA_APPLICATION (app)) : NULL;

  if (settings != NULL && !self->close_after_save)
    {
      int width, height;

      gtk_window_get_default_size (window, &width, &height);
      g_settings_set_int (settings, "window-width", width);
      g_settings_set_int (settings, "window-height", height);
      g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));
    }

  /* Nothing a user drew is lost: wait for the last save before closing. */
  if (self->save_in_flight)
    {
      self->close_after_save = TRUE;
      gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
      return TRUE;
    }
  return GTK_WINDOW_CLASS (hepa_window_parent_class)->close_request (window);
}

static void
hepa_window_dispose (GObject *object)
{
  HepaWindow *self = HEPA_WINDOW (object);
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  stall_report (self);
  if (app != NULL)
    g_signal_handlers_disconnect_by_data (app, self);
  if (self->recent != NULL)
    g_signal_handlers_disconnect_by_data (self->recent, self);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  if (self->open_cancellable)
    g_cancellable_cancel (self->open_cancellable);
  if (self->study_cancellable)
    g_cancellable_cancel (self->study_cancellable);
  if (self->infer_cancellable)
    g_cancellable_cancel (self->infer_cancellable);
  g_clear_object (&self->open_cancellable);
  g_clear_object (&self->study_cancellable);
  g_clear_object (&self->infer_cancellable);
  g_clear_object (&self->store);
  g_clear_object (&self->recent_menu);

  gtk_widget_dispose_template (GTK_WIDGET (self), HEPA_TYPE_WINDOW);

  G_OBJECT_CLASS (hepa_window_parent_class)->dispose (object);
}

static void
hepa_window_finalize (GObject *object)
{
  HepaWindow *self = HEPA_WINDOW (object);

  g_clear_pointer (&self->model, hepa_model_handle_unref);
  g_clear_pointer (&self->classes, g_strfreev);
  g_clear_pointer (&self->image, hepa_image_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->sidecar_path, g_free);
  g_clear_pointer (&self->sop_uid_sha256, g_free);
  g_clear_pointer (&self->study, g_ptr_array_unref);
  g_clear_pointer (&self->study_counts, g_ptr_array_unref);
  g_clear_pointer (&self->result, hepa_result_free);
  g_clear_pointer (&self->result_roi_id, g_free);
  g_clear_pointer (&self->infer_roi_id, g_free);
  g_clear_pointer (&self->pred_pending_id, g_free);
  g_clear_pointer (&self->stall_gaps, g_array_unref);
  g_clear_pointer (&self->stall_cpu, g_array_unref);
  for (guint p = 0; p < PHASE_N; p++)
    g_clear_pointer (&self->phase_cpu[p], g_array_unref);

  G_OBJECT_CLASS (hepa_window_parent_class)->finalize (object);
}

static void
hepa_window_class_init (HepaWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = hepa_window_dispose;
  object_class->finalize = hepa_window_finalize;
  window_class->close_request = hepa_window_close_request;

  g_type_ensure (HEPA_TYPE_CANVAS);
  g_type_ensure (HEPA_TYPE_FRAME_BAR);
  g_type_ensure (HEPA_TYPE_PROB_PANEL);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-window.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, HepaWindow, name)
  BIND (title_label);
  BIND (subtitle_label);
  BIND (recent_button);
  BIND (study_nav);
  BIND (model_button);
  BIND (model_button_label);
  BIND (info_bar);
  BIND (info_label);
  BIND (paned);
  BIND (main_stack);
  BIND (loading_spinner);
  BIND (loading_label);
  BIND (demo_button);
  BIND (canvas);
  BIND (frame_bar);
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
  BIND (status_model);
  BIND (status_time);
  BIND (status_message);
  BIND (status_pointer);
  BIND (status_zoom);
#undef BIND
}

static void
hepa_window_init (HepaWindow *self)
{
  GtkDropTarget *drop;

  self->decoding_frame = G_MAXUINT;
  self->study_index = -1;
  self->timing = hepa_debug_enabled ("timing");
  if (self->timing)
    {
      self->stall_gaps = g_array_new (FALSE, FALSE, sizeof (gint64));
      self->stall_cpu = g_array_new (FALSE, FALSE, sizeof (gint64));
      for (guint p = 0; p < PHASE_N; p++)
        self->phase_cpu[p] = g_array_new (FALSE, FALSE, sizeof (gint64));
      self->stall_id = g_timeout_add_full (G_PRIORITY_HIGH, STALL_TICK_MS, stall_tick_cb, self,
                                           NULL);
    }
  self->classes = g_strdupv ((char **) default_classes);

  gtk_widget_init_template (GTK_WIDGET (self));

  {
    GtkWidget *placeholder = gtk_label_new (_("No regions yet. Drag on the image to draw one, "
                                              "or press N."));

    gtk_label_set_wrap (GTK_LABEL (placeholder), TRUE);
    gtk_widget_add_css_class (placeholder, "dim-label");
    gtk_widget_set_margin_top (placeholder, 12);
    gtk_widget_set_margin_bottom (placeholder, 12);
    gtk_widget_set_margin_start (placeholder, 12);
    gtk_widget_set_margin_end (placeholder, 12);
    gtk_list_box_set_placeholder (GTK_LIST_BOX (self->roi_list), placeholder);
  }

  self->store = hepa_roi_store_new ();
  {
    const char *rater = g_get_user_name ();
    hepa_roi_store_set_rater (self->store, rater);
  }
  hepa_canvas_set_store (self->canvas, self->store);
  g_signal_connect_swapped (self->store, "changed", G_CALLBACK (store_changed_cb), self);
  g_signal_connect_swapped (self->store, "selection-changed",
                            G_CALLBACK (store_selection_changed_cb), self);

  g_signal_connect_swapped (self->info_bar, "response", G_CALLBACK (info_bar_response_cb), self);
  g_signal_connect_swapped (self->roi_list, "row-selected", G_CALLBACK (roi_row_selected_cb),
                            self);
  g_signal_connect_swapped (self->study_list, "row-activated",
                            G_CALLBACK (study_row_activated_cb), self);
  g_signal_connect_swapped (self->canvas, "pointer-moved", G_CALLBACK (pointer_moved_cb), self);
  g_signal_connect_swapped (self->canvas, "view-changed", G_CALLBACK (view_changed_cb), self);
  g_signal_connect_swapped (self->frame_bar, "notify::frame", G_CALLBACK (frame_changed_cb),
                            self);
  g_signal_connect_swapped (self->frame_bar, "notify::playing",
                            G_CALLBACK (playing_changed_cb), self);
  g_signal_connect_object (hepa_canvas_get_frame_cache (self->canvas), "ready",
                           G_CALLBACK (frame_ready_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (hepa_canvas_get_frame_cache (self->canvas), "failed",
                           G_CALLBACK (frame_failed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_swapped (self->cam_class_dropdown, "notify::selected",
                            G_CALLBACK (hepa_window_refresh_overlay), self);
  g_signal_connect_swapped (self->cmap_dropdown, "notify::selected",
                            G_CALLBACK (saliency_controls_changed_cb), self);
  g_signal_connect_swapped (self->scale_dropdown, "notify::selected",
                            G_CALLBACK (saliency_controls_changed_cb), self);
  g_signal_connect_swapped (self->opacity_adjustment, "value-changed",
                            G_CALLBACK (saliency_controls_changed_cb), self);

  g_signal_connect (self, "realize", G_CALLBACK (realize_cb), NULL);

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect_swapped (drop, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  self->recent = gtk_recent_manager_get_default ();
  hepa_window_install_actions (self);
}

HepaWindow *
hepa_window_new (HepaApplication *app)
{
  HepaWindow *self = g_object_new (HEPA_TYPE_WINDOW, "application", app, NULL);
  GSettings *settings = hepa_application_get_settings (app);
  g_autofree char *demo = hepa_application_find_demo_dir ();

  if (settings != NULL)
    {
      g_autofree char *rater = g_settings_get_string (settings, "rater-name");

      gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (settings, "window-width"),
                                   g_settings_get_int (settings, "window-height"));
      if (g_settings_get_boolean (settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
      g_action_group_change_action_state (G_ACTION_GROUP (self), "saliency",
                                          g_variant_new_boolean (g_settings_get_boolean (settings, "overlay-visible")));

      if (rater != NULL && *rater)
        hepa_roi_store_set_rater (self->store, rater);
      gtk_adjustment_set_value (self->opacity_adjustment,
                                g_settings_get_double (settings, "overlay-opacity"));
      gtk_drop_down_set_selected (GTK_DROP_DOWN (self->cmap_dropdown),
                                  g_settings_get_enum (settings, "colormap"));
      gtk_drop_down_set_selected (GTK_DROP_DOWN (self->scale_dropdown),
                                  g_settings_get_enum (settings, "overlay-scaling"));
    }
  saliency_controls_changed_cb (self);
  if (settings != NULL)
    g_signal_connect_object (settings, "changed", G_CALLBACK (settings_changed_cb), self,
                             G_CONNECT_SWAPPED);
  gtk_widget_set_visible (self->demo_button, demo != NULL);

  g_signal_connect_swapped (app, "notify::model", G_CALLBACK (app_model_changed_cb), self);
  g_signal_connect_swapped (app, "notify::loading", G_CALLBACK (app_model_changed_cb), self);
  update_model_state (self);
  view_changed_cb (self, self->canvas);
  /* A fixed side panel: the image must not jump when the region list grows. */
  {
    int width, height;

    /* GTK 4.8 writes both sizes: no NULL here. */
    gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
    gtk_paned_set_position (GTK_PANED (self->paned), MAX (width, 800) - 360);
  }
  return self;
}
