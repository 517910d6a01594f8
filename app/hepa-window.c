/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench window: widgets and the wiring between them and the model objects (the
 * document, the classifier, the study). What a file, a region's answer or a folder scan is
 * lives in those objects; this file says where each shows. */
#include "config.h"

#include "hepa-window-private.h"

#include "hepa-applicability.h"
#include "hepa-core.h"
#include "hepa-debug.h"
#include "hepa-demo.h"
#include "hepa-save-dialog.h"

#include <glib/gi18n.h>
#include <string.h>

G_DEFINE_FINAL_TYPE (HepaWindow, hepa_window, GTK_TYPE_APPLICATION_WINDOW)

/* The default label set (DESIGN.md), used for labeling keys while no model is loaded. */
static const char *const default_classes[] = {
  "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL,
};

static void request_inference (HepaWindow *self,
                               gboolean    live);
static void refresh_roi_list  (HepaWindow *self);

/* ---- Messages ------------------------------------------------------------------------- */

void
hepa_window_show_info (HepaWindow     *self,
                       GtkMessageType  type,
                       const char     *message)
{
  /* Scripted tests read what the user was told. */
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
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
  hepa_status_bar_set_message (self->status_bar, message);
}

static void
document_notice_cb (HepaWindow     *self,
                    HepaNoticeKind  kind,
                    const char     *message)
{
  hepa_window_show_info (self, kind == HEPA_NOTICE_ERROR     ? GTK_MESSAGE_ERROR
                               : kind == HEPA_NOTICE_WARNING ? GTK_MESSAGE_WARNING
                                                             : GTK_MESSAGE_INFO, message);
  self->info_about_file = TRUE;
}

/* The title names the study's current file even while it opens or when it cannot be read, so
 * title, index, list selection and the regions shown always agree. */
static void
update_title (HepaWindow *self)
{
  int index = hepa_study_get_index (self->study);
  const char *path = index >= 0 ? hepa_study_get_path (self->study, index)
                                : hepa_document_get_path (self->document);
  g_autofree char *base = path ? g_path_get_basename (path) : NULL;

  gtk_label_set_text (GTK_LABEL (self->title_label), base ? base : "Hepascope");
  gtk_window_set_title (GTK_WINDOW (self), base ? base : "Hepascope");
  if (index >= 0)
    {
      /* Translators: position of the open file in a study folder, e.g. "File 2 of 12" */
      g_autofree char *sub = g_strdup_printf (_("File %d of %u"), index + 1,
                                              hepa_study_get_n_files (self->study));

      gtk_label_set_text (GTK_LABEL (self->subtitle_label), sub);
    }
  gtk_widget_set_visible (self->subtitle_label, index >= 0);
}

/* ---- Model ---------------------------------------------------------------------------- */

static HepaModelHandle *
current_model (HepaWindow *self)
{
  return hepa_classifier_get_model (self->classifier);
}

static HepaProbPanel *prob_panel (HepaWindow *self);

static void
update_model_state (HepaWindow *self)
{
  HepaModelHandle *model = current_model (self);

  g_strfreev (self->classes);
  if (model != NULL)
    {
      const HepaModelCard *card = hepa_model_get_card (model->model);
      g_autofree char *text = g_strdup_printf (_("Model %s"), card->id);

      self->classes = g_strdupv (card->classes);
      /* Issue 18: the card's intended use, one permanent line in the prediction panel. */
      hepa_prob_panel_set_intended_use (prob_panel (self),
                                        hepa_model_card_get_intended_use (card));
      gtk_label_set_text (GTK_LABEL (self->model_button_label), card->id);
      gtk_widget_set_tooltip_text (self->model_button, card->id);
      hepa_status_bar_set_model (self->status_bar, text);
    }
  else
    {
      const char *why = self->model_error;

      self->classes = g_strdupv ((char **) default_classes);
      hepa_prob_panel_set_intended_use (prob_panel (self), NULL);
      if (self->model_loading)
        {
          gtk_label_set_text (GTK_LABEL (self->model_button_label), _("Loading model…"));
          hepa_status_bar_set_model (self->status_bar, _("Loading model…"));
        }
      else
        {
          gtk_label_set_text (GTK_LABEL (self->model_button_label), _("No model"));
          hepa_status_bar_set_model (self->status_bar, _("No model loaded"));
          if (why != NULL)
            {
              hepa_window_show_info (self, GTK_MESSAGE_WARNING, why);
              self->info_about_file = FALSE;
            }
        }
    }

  hepa_side_panel_set_classes (self->side_panel, (const char *const *) self->classes);
  hepa_canvas_set_classes (self->canvas, (const char *const *) self->classes);
  refresh_roi_list (self);
  request_inference (self, FALSE);
}

void
hepa_window_set_model (HepaWindow      *self,
                       HepaModelHandle *model,
                       gboolean         loading,
                       const char      *error)
{
  g_return_if_fail (HEPA_IS_WINDOW (self));

  hepa_classifier_set_model (self->classifier, model);
  self->model_loading = loading;
  g_free (self->model_error);
  self->model_error = g_strdup (error);
  update_model_state (self);
}

/* ---- Regions -------------------------------------------------------------------------- */

static const HepaRoi *
selected_roi (HepaWindow *self)
{
  return hepa_roi_store_lookup (self->store, hepa_roi_store_get_selected (self->store));
}

static HepaProbPanel *
prob_panel (HepaWindow *self)
{
  return hepa_side_panel_get_prob_panel (self->side_panel);
}

/* The frame bar marks the frames that carry regions. */
static void
refresh_frame_marks (HepaWindow *self)
{
  GPtrArray *rois = hepa_roi_store_get_rois (self->store);
  g_autoptr(GArray) frames = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < rois->len; i++)
    {
      guint frame = ((const HepaRoi *) g_ptr_array_index (rois, i))->frame;
      gboolean seen = FALSE;

      for (guint j = 0; j < frames->len && !seen; j++)
        seen = g_array_index (frames, guint, j) == frame;
      if (!seen)
        {
          g_array_append_val (frames, frame);
          g_string_append_printf (text, " %u", frame + 1);
        }
    }
  hepa_frame_bar_set_marks (self->frame_bar, (const guint *) (gpointer) frames->data,
                            frames->len);
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: frames with regions:%s\n", text->str);
}

static void
refresh_roi_list (HepaWindow *self)
{
  int index = hepa_study_get_index (self->study);

  hepa_side_panel_refresh_rois (self->side_panel);
  refresh_frame_marks (self);
  if (index >= 0)
    {
      g_autofree char *count = hepa_study_count_text (hepa_roi_store_get_rois (self->store)->len,
                                                      hepa_roi_store_count_labeled (self->store));

      hepa_study_set_count (self->study, index, count);
    }
}

static void
roi_activated_cb (HepaWindow    *self,
                  const char    *id,
                  HepaSidePanel *panel)
{
  const HepaRoi *roi = hepa_roi_store_lookup (self->store, id);

  if (roi == NULL)
    return;
  if (roi->frame != hepa_canvas_get_frame (self->canvas))
    hepa_frame_bar_set_frame (self->frame_bar, roi->frame);
  hepa_roi_store_select (self->store, id);
}

/* ---- Inference ------------------------------------------------------------------------ */

static void
refresh_overlay (HepaWindow *self)
{
  const HepaResult *r = hepa_classifier_get_result (self->classifier);
  guint picked = hepa_side_panel_get_cam_class (self->side_panel);
  guint cls;
  gsize plane;

  if (r == NULL || r->cams == NULL
      || g_strcmp0 (hepa_classifier_get_result_roi_id (self->classifier),
                    hepa_roi_store_get_selected (self->store)) != 0)
    {
      hepa_canvas_set_overlay (self->canvas, 0, NULL, NULL, 0, 0, 0);
      return;
    }
  cls = (picked == 0 || picked > r->n_classes) ? r->top : picked - 1;
  plane = (gsize) r->cam_width * r->cam_height;
  /* Absolute scaling shares one zero-anchored range across every class of the result, so a
   * weak class looks weak instead of being stretched to full contrast. */
  hepa_canvas_set_overlay (self->canvas, hepa_classifier_get_result_frame (self->classifier),
                           &r->roi, r->cams + cls * plane, r->cam_width, r->cam_height,
                           hepa_overlay_max_positive (r->cams, plane * r->n_classes));
}

static void
show_result (HepaWindow *self)
{
  const HepaResult *result = hepa_classifier_get_result (self->classifier);
  const char *roi_id = hepa_classifier_get_result_roi_id (self->classifier);
  const HepaRoi *roi = hepa_roi_store_lookup (self->store, roi_id);
  const HepaModelCard *card = hepa_model_get_card (current_model (self)->model);
  HepaImage *image = hepa_document_get_image (self->document);
  const HepaFrame *frame = image != NULL
                           ? hepa_image_get_frame (image,
                                                   hepa_classifier_get_result_frame (self->classifier),
                                                   NULL)
                           : NULL;
  g_autoptr(HepaApplicability) app = NULL;
  g_autoptr(GPtrArray) reasons = g_ptr_array_new ();
  HepaProbTrust trust = { 0 };

  /* Issue 18: why the answer may not apply, said before any class name. The checks take
   * about a millisecond on the frame the answer is for (decoded and cached already). */
  if (frame != NULL)
    {
      app = hepa_applicability_check (image, frame, &result->roi, card);
      for (guint i = 0; i < app->reasons->len; i++)
        g_ptr_array_add (reasons, ((HepaReason *) g_ptr_array_index (app->reasons, i))->message);
    }
  g_ptr_array_add (reasons, NULL);
  trust.reasons = (const char *const *) reasons->pdata;
  trust.has_ood = card->ood != NULL;
  trust.outside = result->ood_outside;
  trust.calibrated = result->calibrated;
  trust.in_set = result->in_set;
  trust.coverage = result->coverage;
  hepa_prob_panel_set_result_full (prob_panel (self), result->probabilities, result->n_classes,
                                   card->id, result->latency_ms, &trust);
  /* Scripted tests read what the panel says (its screen-reader text). */
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    {
      g_autofree char *summary = hepa_prob_panel_dup_summary (prob_panel (self));

      g_printerr ("hepascope-panel: %s\n", summary);
    }
  refresh_overlay (self);
  hepa_status_bar_set_inference (self->status_bar, result->latency_ms);

  /* A region labeled (or moved after labeling) before its answer was ready gets the answer
   * now. Merely looking at a labeled region never rewrites its stored prediction. */
  if (roi != NULL && roi->label != NULL && hepa_classifier_answers (self->classifier, roi)
      && g_strcmp0 (self->pred_pending_id, roi->id) == 0)
    {
      g_clear_pointer (&self->pred_pending_id, g_free);
      hepa_roi_store_set_prediction (self->store, roi->id, card->id,
                                     (const char *const *) card->classes,
                                     result->probabilities);
    }
}

static void
classifier_result_cb (HepaWindow     *self,
                      const char     *roi_id,
                      HepaClassifier *classifier)
{
  gint64 arrived = g_get_monotonic_time ();

  /* The region was deleted while it was classified. */
  if (hepa_roi_store_lookup (self->store, roi_id) == NULL)
    return;
  show_result (self);
  hepa_timing_result_shown (self->timing, hepa_classifier_get_result (classifier)->latency_ms,
                            hepa_classifier_get_result_start_us (classifier), arrived,
                            g_get_monotonic_time () - arrived,
                            hepa_classifier_get_pending (classifier));
}

static void
classifier_failed_cb (HepaWindow     *self,
                      const char     *roi_id,
                      const char     *message,
                      HepaClassifier *classifier)
{
  hepa_prob_panel_clear (prob_panel (self), message);
  hepa_window_set_status (self, message);
}

static void
classifier_busy_cb (HepaWindow *self)
{
  if (hepa_classifier_get_busy (self->classifier))
    hepa_prob_panel_set_busy (prob_panel (self), TRUE);
}

/* @live: inside a drag (see hepa-classifier.h for what each kind of request does). */
static void
request_inference (HepaWindow *self,
                   gboolean    live)
{
  const HepaRoi *roi = selected_roi (self);

  if (roi == NULL)
    {
      hepa_classifier_request (self->classifier, NULL, FALSE);
      hepa_prob_panel_clear (prob_panel (self),
                             hepa_document_get_image (self->document)
                               ? _("Draw or select a region to classify it.") : NULL);
      refresh_overlay (self);
      return;
    }
  if (current_model (self) == NULL)
    {
      hepa_prob_panel_clear (prob_panel (self),
                             self->model_loading
                               ? _("The model is loading…")
                               : _("No model is loaded, so regions are not classified. Open one "
                                   "from the model menu."));
      return;
    }
  hepa_classifier_request (self->classifier, roi, live);
}

/* ---- Store events --------------------------------------------------------------------- */

static void
store_changed_cb (HepaWindow   *self,
                  guint         change,
                  HepaRoiStore *store)
{
  const HepaRoi *roi = selected_roi (self);
  gboolean answered = roi != NULL && hepa_classifier_answers (self->classifier, roi);

  switch ((HepaRoiChange) change)
    {
    case HEPA_ROI_CHANGE_LIVE:
      self->live_since_edit = TRUE;
      request_inference (self, TRUE);
      break;
    case HEPA_ROI_CHANGE_EDIT:
      /* The last live answer during the drag was already for this place: nothing to wait
       * for. */
      if (answered && self->live_since_edit)
        hepa_timing_roi_already_shown (self->timing);
      self->live_since_edit = FALSE;
      if (roi != NULL && !answered)
        {
          hepa_timing_roi_released (self->timing);
          /* A labeled region that moved needs the answer for its new place. */
          if (roi->label != NULL && current_model (self) != NULL)
            {
              g_free (self->pred_pending_id);
              self->pred_pending_id = g_strdup (roi->id);
            }
        }
      refresh_roi_list (self);
      request_inference (self, FALSE);
      break;
    case HEPA_ROI_CHANGE_LOADED:
      refresh_roi_list (self);
      request_inference (self, FALSE);
      break;
    case HEPA_ROI_CHANGE_PREDICTION:
      refresh_roi_list (self);
      break;
    default:
      break;
    }
}

static void
store_selection_changed_cb (HepaWindow   *self,
                            HepaRoiStore *store)
{
  hepa_side_panel_sync_selection (self->side_panel);
  request_inference (self, FALSE);
}

void
hepa_window_label_selected (HepaWindow *self,
                            int         index)
{
  const HepaRoi *roi = selected_roi (self);
  HepaModelHandle *model = current_model (self);
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
  if (label != NULL && hepa_classifier_answers (self->classifier, roi))
    {
      const HepaModelCard *card = hepa_model_get_card (model->model);

      hepa_roi_store_set_label (self->store, roi->id, label, card->id,
                                (const char *const *) card->classes,
                                hepa_classifier_get_result (self->classifier)->probabilities);
    }
  else
    {
      /* The prediction is recorded when the running inference for this region lands. */
      if (label != NULL && model != NULL)
        {
          g_free (self->pred_pending_id);
          self->pred_pending_id = g_strdup (roi->id);
        }
      hepa_roi_store_set_label (self->store, roi->id, label, NULL, NULL, NULL);
    }

  msg = label ? g_strdup_printf (_("Labeled “%s”"), label) : g_strdup (_("Label cleared"));
  hepa_window_set_status (self, msg);
}

/* ---- Opening -------------------------------------------------------------------------- */

static void
add_recent (HepaWindow *self,
            const char *path)
{
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);

  if (uri != NULL)
    gtk_recent_manager_add_item (self->recent, uri);
}

/* The document has a new image: every view follows it before its regions load. */
static void
document_image_cb (HepaWindow *self)
{
  HepaImage *image = hepa_document_get_image (self->document);
  guint n = image ? hepa_image_get_n_frames (image) : 0;

  hepa_classifier_set_image (self->classifier, image);
  g_clear_pointer (&self->pred_pending_id, g_free);
  /* A message about the previous file goes; one about the model stays. */
  if (self->info_about_file)
    {
      gtk_info_bar_set_revealed (GTK_INFO_BAR (self->info_bar), FALSE);
      self->info_about_file = FALSE;
    }
  self->wanted_frame = 0;
  self->decoding_frame = G_MAXUINT;
  hepa_side_panel_set_image (self->side_panel, image);
  hepa_canvas_set_image (self->canvas, image, 0);
  if (image != NULL)
    hepa_frame_bar_set_n_frames (self->frame_bar, n, hepa_image_get_info (image)->frame_time_ms);
  gtk_widget_set_visible (GTK_WIDGET (self->frame_bar), n > 1);
}

static void
open_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  g_autoptr(HepaWindow) self = user_data;
  /* Only the newest open can fail other than by being cancelled: it is this one. */
  const char *path = self->opening;
  g_autoptr(GError) error = NULL;
  int index;

  if (!hepa_document_open_finish (HEPA_DOCUMENT (source), res, &error))
    {
      g_autofree char *msg = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      gtk_spinner_stop (GTK_SPINNER (self->loading_spinner));
      msg = g_strdup_printf (_("Could not open %s: %s"), path, hepa_document_open_error_text (error, path));
      index = hepa_study_get_index (self->study);
      if (index >= 0 && g_strcmp0 (hepa_study_get_path (self->study, index), path) == 0)
        {
          g_autofree char *base = g_path_get_basename (path);
          g_autofree char *page = g_strdup_printf (_("%s cannot be read."), base);

          /* Stepped onto a file that cannot be read: show that file as unreadable, not the
           * one before under its name, and mark it in the list. */
          hepa_document_close (self->document);
          hepa_study_set_count (self->study, index, _("cannot be read"));
          gtk_label_set_text (GTK_LABEL (self->loading_label), page);
          gtk_stack_set_visible_child_name (GTK_STACK (self->main_stack), "loading");
          update_title (self);
        }
      else
        gtk_stack_set_visible_child_name (GTK_STACK (self->main_stack),
                                          hepa_document_get_image (self->document)
                                            ? "image" : "welcome");
      hepa_window_show_info (self, GTK_MESSAGE_ERROR, msg);
      /* A later file that opens takes the message away. */
      self->info_about_file = TRUE;
      return;
    }

  gtk_spinner_stop (GTK_SPINNER (self->loading_spinner));
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: opened with %u regions\n",
                hepa_roi_store_get_rois (self->store)->len);
  gtk_stack_set_visible_child_name (GTK_STACK (self->main_stack), "image");
  gtk_widget_grab_focus (GTK_WIDGET (self->canvas));
  update_title (self);
  add_recent (self, hepa_document_get_path (self->document));
  hepa_window_set_status (self, NULL);
}

static void
really_open (HepaWindow *self,
             const char *path)
{
  /* Keep the current image on screen for quick study stepping; show the spinner only when
   * there is nothing to look at. */
  if (hepa_document_get_image (self->document) == NULL)
    {
      g_autofree char *base = g_path_get_basename (path);
      g_autofree char *loading = g_strdup_printf (_("Opening %s…"), base);

      gtk_label_set_text (GTK_LABEL (self->loading_label), loading);
      gtk_spinner_start (GTK_SPINNER (self->loading_spinner));
      gtk_stack_set_visible_child_name (GTK_STACK (self->main_stack), "loading");
    }
  g_free (self->opening);
  self->opening = g_strdup (path);
  hepa_document_open_async (self->document, path, NULL, open_cb, g_object_ref (self));
}

static void ask_unsaved (HepaWindow *self);

/* Another file replaces the open one only once its regions are on disk: after the write in
 * flight, and after asking when a write failed. */
static void
open_path (HepaWindow *self,
           const char *path)
{
  if (hepa_document_get_saving (self->document)
      || (hepa_document_get_modified (self->document)
          && hepa_document_get_image (self->document) != NULL))
    {
      g_free (self->pending_open);
      self->pending_open = g_strdup (path);
      if (!hepa_document_get_saving (self->document))
        ask_unsaved (self);
      return;
    }
  really_open (self, path);
}

/* ---- Frames --------------------------------------------------------------------------- */

/* Frames are decoded, windowed and scaled for the screen by the canvas's frame cache on a
 * worker, ahead of playback; the main thread only swaps a ready one in. */

static void
show_frame (HepaWindow *self,
            guint       frame)
{
  HepaImage *image = hepa_document_get_image (self->document);
  HepaFrameCache *cache = hepa_canvas_get_frame_cache (self->canvas);
  guint n = hepa_image_get_n_frames (image);

  hepa_canvas_set_image (self->canvas, image, frame);
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW))
    g_printerr ("hepascope-view: frame %u of %u shown\n", frame + 1, n);
  hepa_timing_frame_shown (self->timing);
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
      || hepa_frame_cache_get_image (cache) != hepa_document_get_image (self->document))
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
frame_changed_cb (HepaWindow   *self,
                  GParamSpec   *pspec,
                  HepaFrameBar *bar)
{
  HepaImage *image = hepa_document_get_image (self->document);
  HepaFrameCache *cache = hepa_canvas_get_frame_cache (self->canvas);
  guint frame = hepa_frame_bar_get_frame (bar);

  if (image == NULL || frame == hepa_canvas_get_frame (self->canvas))
    return;
  self->wanted_frame = frame;
  if (hepa_frame_cache_get_image (cache) != image)
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

/* Drawing while a cine plays: a press on the image pauses it on the frame on screen, so the
 * region lands on the frame it was drawn on and stays in view. */
static void
canvas_pressed_cb (HepaWindow *self)
{
  guint shown = hepa_canvas_get_frame (self->canvas);

  if (!hepa_frame_bar_get_playing (self->frame_bar))
    return;
  hepa_frame_bar_set_playing (self->frame_bar, FALSE);
  self->decoding_frame = G_MAXUINT;
  self->wanted_frame = shown;
  hepa_frame_bar_set_frame (self->frame_bar, shown);
}

static void
playing_changed_cb (HepaWindow   *self,
                    GParamSpec   *pspec,
                    HepaFrameBar *bar)
{
  HepaImage *image = hepa_document_get_image (self->document);
  gboolean playing = hepa_frame_bar_get_playing (bar);

  hepa_timing_set_playing (self->timing, playing);
  if (image != NULL && playing)
    hepa_frame_cache_prefetch (hepa_canvas_get_frame_cache (self->canvas),
                               hepa_canvas_get_frame (self->canvas) + 1,
                               hepa_image_get_n_frames (image) - 1);
}

/* ---- Study ---------------------------------------------------------------------------- */

static void
study_scanned_cb (GObject      *source,
                  GAsyncResult *res,
                  gpointer      user_data)
{
  g_autoptr(HepaWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  const char *folder;

  if (!hepa_study_scan_finish (self->study, res, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        hepa_window_show_info (self, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                                       ? GTK_MESSAGE_WARNING : GTK_MESSAGE_ERROR,
                               error->message);
      return;
    }
  folder = hepa_study_get_folder (self->study);
  hepa_study_set_index (self->study, 0);
  if (folder != NULL)
    add_recent (self, folder);
}

static void
study_files_changed_cb (HepaWindow *self)
{
  gtk_widget_set_visible (self->study_nav, hepa_study_get_n_files (self->study) > 1);
  update_title (self);
}

/* A file picked in the list, stepped to, or the first one of a new study. */
static void
study_index_changed_cb (HepaWindow *self)
{
  int index = hepa_study_get_index (self->study);

  if (index < 0)
    return;
  if (g_strcmp0 (hepa_study_get_path (self->study, index),
                 hepa_document_get_path (self->document)) != 0)
    open_path (self, hepa_study_get_path (self->study, index));
  update_title (self);
}

void
hepa_window_open_folder (HepaWindow *self,
                         const char *folder)
{
  hepa_study_scan_async (self->study, folder, NULL, study_scanned_cb, g_object_ref (self));
}

void
hepa_window_study_step (HepaWindow *self,
                        int         delta)
{
  int n = (int) hepa_study_get_n_files (self->study);

  if (n < 2)
    return;
  hepa_study_set_index (self->study, CLAMP (hepa_study_get_index (self->study) + delta, 0,
                                            n - 1));
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
      hepa_study_clear (self->study);
      open_path (self, g_ptr_array_index (paths, 0));
    }
  else if (paths->len > 1)
    {
      g_ptr_array_add (paths, NULL);
      hepa_study_scan_files_async (self->study, (const char *const *) paths->pdata, NULL,
                                   study_scanned_cb, g_object_ref (self));
    }
}

/* ---- Pointer and zoom ----------------------------------------------------------------- */

static void
pointer_moved_cb (HepaWindow *self,
                  double      x,
                  double      y,
                  gboolean    inside,
                  HepaCanvas *canvas)
{
  hepa_status_bar_set_pointer (self->status_bar, hepa_document_get_image (self->document),
                               hepa_canvas_get_frame (canvas), x, y, inside);
}

static void
view_changed_cb (HepaWindow *self,
                 HepaCanvas *canvas)
{
  hepa_status_bar_set_zoom (self->status_bar, hepa_canvas_get_zoom (canvas));

  /* For scripted pointer tests: where image pixel (0, 0) lies in the window's surface. */
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW) && hepa_document_get_image (self->document) != NULL)
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

static void
window_level_changed_cb (HepaWindow *self,
                         HepaCanvas *canvas)
{
  double center, width;

  hepa_canvas_get_window_level (canvas, &center, &width);
  hepa_status_bar_set_window_level (self->status_bar, hepa_canvas_has_window_level (canvas),
                                    center, width);
  if (hepa_debug_enabled (HEPA_DEBUG_VIEW) && hepa_canvas_has_window_level (canvas))
    g_printerr ("hepascope-view: window %.1f level %.1f\n", width, center);
}

/* ---- Saliency controls and settings --------------------------------------------------- */

static void
saliency_changed_cb (HepaWindow *self)
{
  double opacity;
  guint cmap, scale;

  hepa_side_panel_get_saliency (self->side_panel, &opacity, &cmap, &scale);
  hepa_canvas_set_overlay_opacity (self->canvas, opacity);
  hepa_canvas_set_colormap (self->canvas, cmap == 1 ? HEPA_COLORMAP_VIRIDIS
                                          : cmap == 2 ? HEPA_COLORMAP_JET
                                                      : HEPA_COLORMAP_INFERNO);
  hepa_canvas_set_overlay_scale (self->canvas, scale == 1 ? HEPA_OVERLAY_SCALE_ABSOLUTE
                                                          : HEPA_OVERLAY_SCALE_PER_ROI);
  refresh_overlay (self);
  if (self->settings != NULL)
    {
      g_settings_set_double (self->settings, "overlay-opacity", opacity);
      g_settings_set_enum (self->settings, "colormap", (int) cmap);
      g_settings_set_enum (self->settings, "overlay-scaling", (int) scale);
    }
}

/* ---- Lifecycle ------------------------------------------------------------------------ */

/* What the timing watch counts as work in flight. */
static HepaTimingWork
timing_busy (gpointer data)
{
  HepaWindow *self = data;
  HepaTimingWork work = 0;

  if (hepa_classifier_get_busy (self->classifier))
    work |= HEPA_TIMING_INFERENCE;
  if (self->decoding_frame != G_MAXUINT || hepa_document_get_loading (self->document)
      || hepa_frame_cache_is_busy (hepa_canvas_get_frame_cache (self->canvas)))
    work |= HEPA_TIMING_DECODING;
  if (hepa_document_get_saving (self->document))
    work |= HEPA_TIMING_SAVING;
  if (hepa_frame_bar_get_playing (self->frame_bar))
    work |= HEPA_TIMING_PLAYING;
  return work;
}

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

static void
unsaved_answered (HepaSaveDialogOutcome outcome,
                  gpointer              user_data)
{
  g_autoptr(HepaWindow) self = user_data;
  g_autofree char *pending = g_steal_pointer (&self->pending_open);

  self->asking = FALSE;
  if (pending != NULL)
    {
      const char *open_now = hepa_document_get_path (self->document);

      /* Asked before another file: stay on this one (and its place in the study), or go. */
      if (outcome != HEPA_SAVE_DIALOG_CANCELLED)
        really_open (self, pending);
      else
        for (guint i = 0; i < hepa_study_get_n_files (self->study); i++)
          if (g_strcmp0 (hepa_study_get_path (self->study, i), open_now) == 0)
            hepa_study_set_index (self->study, (int) i);
      return;
    }
  if (outcome == HEPA_SAVE_DIALOG_CANCELLED)
    return;
  self->may_close = TRUE;
  gtk_window_close (GTK_WINDOW (self));
}

/* Regions that could not be written are not dropped by closing: ask what to do with them. */
static void
ask_unsaved (HepaWindow *self)
{
  if (self->asking)
    return;
  self->asking = TRUE;
  gtk_widget_set_visible (GTK_WIDGET (self), TRUE);
  hepa_save_dialog_ask (GTK_WINDOW (self), self->document, unsaved_answered,
                        g_object_ref (self));
}

static void
document_saving_cb (HepaWindow *self)
{
  if (hepa_document_get_saving (self->document))
    return;
  if (self->pending_open != NULL && !self->close_after_save)
    {
      g_autofree char *pending = NULL;

      if (hepa_document_get_modified (self->document))
        ask_unsaved (self);
      else
        {
          pending = g_steal_pointer (&self->pending_open);
          really_open (self, pending);
        }
      return;
    }
  if (!self->close_after_save)
    return;
  self->close_after_save = FALSE;
  if (hepa_document_get_modified (self->document))
    ask_unsaved (self);
  else
    gtk_window_destroy (GTK_WINDOW (self));
}

static gboolean
hepa_window_close_request (GtkWindow *window)
{
  HepaWindow *self = HEPA_WINDOW (window);

  if (self->settings != NULL && !self->close_after_save && !self->may_close)
    {
      int width, height;

      gtk_window_get_default_size (window, &width, &height);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized",
                              gtk_window_is_maximized (window));
    }

  /* Nothing a user drew is lost: wait for the last save before closing, and ask when it
   * failed. */
  if (hepa_document_get_saving (self->document))
    {
      self->close_after_save = TRUE;
      gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
      return TRUE;
    }
  if (hepa_document_get_modified (self->document) && !self->may_close)
    {
      ask_unsaved (self);
      return TRUE;
    }
  return GTK_WINDOW_CLASS (hepa_window_parent_class)->close_request (window);
}

static void
hepa_window_dispose (GObject *object)
{
  HepaWindow *self = HEPA_WINDOW (object);

  if (self->timing != NULL)
    {
      hepa_timing_finish (self->timing, 1000.0 / hepa_frame_bar_get_interval_ms (self->frame_bar));
      self->timing = NULL;
    }
  if (self->recent != NULL)
    g_signal_handlers_disconnect_by_data (self->recent, self);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  if (self->document != NULL)
    g_signal_handlers_disconnect_by_data (self->document, self);
  if (self->classifier != NULL)
    g_signal_handlers_disconnect_by_data (self->classifier, self);
  if (self->study != NULL)
    g_signal_handlers_disconnect_by_data (self->study, self);
  g_clear_object (&self->store);
  g_clear_object (&self->document);
  g_clear_object (&self->classifier);
  g_clear_object (&self->study);
  g_clear_object (&self->settings);
  g_clear_object (&self->recent_menu);

  gtk_widget_dispose_template (GTK_WIDGET (self), HEPA_TYPE_WINDOW);

  G_OBJECT_CLASS (hepa_window_parent_class)->dispose (object);
}

static void
hepa_window_finalize (GObject *object)
{
  HepaWindow *self = HEPA_WINDOW (object);

  g_clear_pointer (&self->classes, g_strfreev);
  g_clear_pointer (&self->pred_pending_id, g_free);
  g_clear_pointer (&self->model_error, g_free);
  g_clear_pointer (&self->pending_open, g_free);
  g_clear_pointer (&self->opening, g_free);

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
  g_type_ensure (HEPA_TYPE_SIDE_PANEL);
  g_type_ensure (HEPA_TYPE_STATUS_BAR);

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
  BIND (side_panel);
  BIND (status_bar);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, info_bar_response_cb);
  gtk_widget_class_bind_template_callback (widget_class, roi_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, saliency_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, pointer_moved_cb);
  gtk_widget_class_bind_template_callback (widget_class, view_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, window_level_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, frame_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, playing_changed_cb);
}

static void
hepa_window_init (HepaWindow *self)
{
  GtkGesture *press;
  HepaFrameCache *cache;

  self->decoding_frame = G_MAXUINT;
  self->classes = g_strdupv ((char **) default_classes);

  gtk_widget_init_template (GTK_WIDGET (self));
  self->timing = hepa_timing_new (GTK_WIDGET (self), timing_busy, self);

  self->document = hepa_document_new ();
  self->store = g_object_ref (hepa_document_get_store (self->document));
  self->classifier = hepa_classifier_new ();
  self->study = hepa_study_new ();
  hepa_roi_store_set_rater (self->store, g_get_user_name ());
  hepa_canvas_set_store (self->canvas, self->store);
  hepa_side_panel_set_store (self->side_panel, self->store);
  hepa_side_panel_set_study (self->side_panel, self->study);

  g_signal_connect_swapped (self->store, "changed", G_CALLBACK (store_changed_cb), self);
  g_signal_connect_swapped (self->store, "selection-changed",
                            G_CALLBACK (store_selection_changed_cb), self);
  g_signal_connect_swapped (self->document, "notify::image", G_CALLBACK (document_image_cb),
                            self);
  g_signal_connect_swapped (self->document, "notify::saving", G_CALLBACK (document_saving_cb),
                            self);
  g_signal_connect_swapped (self->document, "notice", G_CALLBACK (document_notice_cb), self);
  g_signal_connect_swapped (self->classifier, "result", G_CALLBACK (classifier_result_cb), self);
  g_signal_connect_swapped (self->classifier, "failed", G_CALLBACK (classifier_failed_cb), self);
  g_signal_connect_swapped (self->classifier, "notify::busy", G_CALLBACK (classifier_busy_cb),
                            self);
  g_signal_connect_swapped (self->study, "notify::n-files", G_CALLBACK (study_files_changed_cb),
                            self);
  g_signal_connect_swapped (self->study, "notify::index", G_CALLBACK (study_index_changed_cb),
                            self);
  cache = hepa_canvas_get_frame_cache (self->canvas);
  g_signal_connect_object (cache, "ready", G_CALLBACK (frame_ready_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (cache, "failed", G_CALLBACK (frame_failed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect (self, "realize", G_CALLBACK (realize_cb), NULL);

  press = gtk_gesture_click_new ();
  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (press), GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (press, "pressed", G_CALLBACK (canvas_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->canvas), GTK_EVENT_CONTROLLER (press));

  self->recent = gtk_recent_manager_get_default ();
}

HepaWindow *
hepa_window_new (GtkApplication *app,
                 GSettings      *settings)
{
  HepaWindow *self = g_object_new (HEPA_TYPE_WINDOW, "application", app, NULL);
  g_autofree char *demo = hepa_demo_find_dir ();

  if (settings != NULL)
    {
      g_autofree char *rater = g_settings_get_string (settings, "rater-name");

      self->settings = g_object_ref (settings);
      gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (settings, "window-width"),
                                   g_settings_get_int (settings, "window-height"));
      if (g_settings_get_boolean (settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
      if (rater != NULL && *rater)
        hepa_roi_store_set_rater (self->store, rater);
      hepa_side_panel_set_saliency (self->side_panel,
                                    g_settings_get_double (settings, "overlay-opacity"),
                                    (guint) g_settings_get_enum (settings, "colormap"),
                                    (guint) g_settings_get_enum (settings, "overlay-scaling"));
    }
  saliency_changed_cb (self);
  gtk_widget_set_visible (self->demo_button, demo != NULL);

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
