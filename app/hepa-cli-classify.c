/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli classify: probabilities, logits and a CAM for regions of one frame. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-applicability.h"
#include "hepa-core.h"
#include "hepa-engine.h"
#include "hepa-image.h"
#include "hepa-model.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Matplotlib's inferno at nine stops; linear in between is close enough for an overlay. */
static const guint8 inferno[9][3] = {
  { 0, 0, 4 },      { 31, 12, 72 },   { 85, 15, 109 },  { 136, 34, 106 }, { 186, 54, 85 },
  { 227, 89, 51 },  { 249, 140, 10 }, { 249, 201, 50 }, { 252, 255, 164 },
};

static void
inferno_color (float   t,
               guint8  rgb[3])
{
  float pos = CLAMP (t, 0.0f, 1.0f) * 8.0f;
  int i = MIN ((int) pos, 7);
  float f = pos - i;

  for (int c = 0; c < 3; c++)
    rgb[c] = (guint8) lroundf (inferno[i][c] + f * (inferno[i + 1][c] - inferno[i][c]));
}

static gboolean
parse_roi (const char *text,
           HepaRect   *roi)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  gint64 v[4];

  if (g_strv_length (parts) != 4)
    return FALSE;
  for (int i = 0; i < 4; i++)
    {
      g_strstrip (parts[i]);
      if (!g_ascii_string_to_signed (parts[i], 10, -(1 << 30), 1 << 30, &v[i], NULL))
        return FALSE;
    }
  *roi = (HepaRect) { (int) v[0], (int) v[1], (int) v[2], (int) v[3] };
  return TRUE;
}

/* The top class's CAM of every region, blended over the displayed frame. Positive evidence
 * only (as Grad-CAM's ReLU), scaled to each map's maximum. */
static gboolean
write_cam_png (const char       *path,
               const HepaFrame  *frame,
               GPtrArray        *results,
               GError          **error)
{
  g_autofree guint8 *rgb = g_try_malloc ((gsize) frame->width * frame->height * 3);

  if (rgb == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Not enough memory for the CAM image"));
      return FALSE;
    }
  hepa_frame_render_rgb (frame, 0, 0, rgb);
  for (guint i = 0; i < results->len; i++)
    {
      const HepaResult *r = g_ptr_array_index (results, i);
      const float *cam = r->cams + (gsize) r->top * r->cam_width * r->cam_height;
      float max = 0;

      for (gsize j = 0; j < (gsize) r->cam_width * r->cam_height; j++)
        max = MAX (max, cam[j]);
      for (int y = 0; y < r->roi.height; y++)
        for (int x = 0; x < r->roi.width; x++)
          {
            /* The CAM may be coarser than the ROI (HEPA_CAM_MAX_SIDE): nearest cell. */
            int cx = MIN ((int) ((gint64) x * r->cam_width / r->roi.width), r->cam_width - 1);
            int cy = MIN ((int) ((gint64) y * r->cam_height / r->roi.height), r->cam_height - 1);
            float v = cam[(gsize) cy * r->cam_width + cx];
            float t = max > 0 ? MAX (v, 0.0f) / max : 0.0f;
            guint8 color[3];
            guint8 *p = rgb + ((gsize) (r->roi.y + y) * frame->width + r->roi.x + x) * 3;

            inferno_color (t, color);
            for (int c = 0; c < 3; c++)
              p[c] = (guint8) lroundf (0.5f * p[c] + 0.5f * color[c]);
          }
    }
  return hepa_png_write_rgb (path, frame->width, frame->height, rgb, error);
}

static void
add_floats (JsonBuilder *builder,
            const float *values,
            guint        n)
{
  json_builder_begin_array (builder);
  for (guint i = 0; i < n; i++)
    json_builder_add_double_value (builder, values[i]);
  json_builder_end_array (builder);
}

/* The prediction set as class names: "cyst or hemangioma". */
static char *
set_text (const HepaModelCard *card,
          const HepaResult    *r)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) v = NULL;

  for (guint k = 0; k < r->n_classes; k++)
    if (r->in_set[k])
      g_strv_builder_add (names, card->classes[k]);
  v = g_strv_builder_end (names);
  if (v[0] == NULL)
    return g_strdup (_("no class"));
  /* Translators: joins class names of a prediction set: "cyst or hemangioma" */
  return g_strjoinv (_(" or "), v);
}

static void
add_trust_json (JsonBuilder             *b,
                const HepaModelCard     *card,
                const HepaResult        *r,
                const HepaApplicability *app)
{
  json_builder_set_member_name (b, "applicability");
  json_builder_begin_array (b);
  for (guint i = 0; i < app->reasons->len; i++)
    {
      const HepaReason *reason = g_ptr_array_index (app->reasons, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "code");
      json_builder_add_string_value (b, reason->code);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, reason->message);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "not_checked");
  json_builder_begin_array (b);
  for (guint i = 0; app->not_checked[i] != NULL; i++)
    json_builder_add_string_value (b, app->not_checked[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "ood");
  if (isnan (r->ood_score))
    json_builder_add_null_value (b);
  else
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "score");
      json_builder_add_double_value (b, r->ood_score);
      json_builder_set_member_name (b, "threshold");
      json_builder_add_double_value (b, r->ood_threshold);
      json_builder_set_member_name (b, "outside");
      json_builder_add_boolean_value (b, r->ood_outside);
      json_builder_end_object (b);
    }
  json_builder_set_member_name (b, "calibrated");
  json_builder_add_boolean_value (b, r->calibrated);
  json_builder_set_member_name (b, "prediction_set");
  if (r->in_set == NULL)
    json_builder_add_null_value (b);
  else
    {
      json_builder_begin_array (b);
      for (guint k = 0; k < r->n_classes; k++)
        if (r->in_set[k])
          json_builder_add_string_value (b, card->classes[k]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "coverage");
      json_builder_add_double_value (b, r->coverage);
    }
  json_builder_set_member_name (b, "checks_ms");
  json_builder_add_double_value (b, round ((app->seconds * 1000 + r->trust_ms) * 1000) / 1000);
}

static void
print_json (HepaModel *model,
            guint      frame_index,
            GPtrArray *results,
            GPtrArray *checks)
{
  const HepaModelCard *card = hepa_model_get_card (model);
  g_autofree char *calibration = hepa_model_card_describe_calibration (card);
  g_autofree char *ood = hepa_model_card_describe_ood (card);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "model");
  json_builder_begin_object (builder);
  hepa_model_card_add_summary (card, builder);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "intended_use");
  json_builder_add_string_value (builder, hepa_model_card_get_intended_use (card));
  json_builder_set_member_name (builder, "calibration");
  json_builder_add_string_value (builder, calibration);
  json_builder_set_member_name (builder, "ood_reference");
  json_builder_add_string_value (builder, ood);

  json_builder_set_member_name (builder, "results");
  json_builder_begin_array (builder);
  for (guint i = 0; i < results->len; i++)
    {
      const HepaResult *r = g_ptr_array_index (results, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "frame");
      json_builder_add_int_value (builder, frame_index);
      json_builder_set_member_name (builder, "roi");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, r->roi.x);
      json_builder_add_int_value (builder, r->roi.y);
      json_builder_add_int_value (builder, r->roi.width);
      json_builder_add_int_value (builder, r->roi.height);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "roi_clamped");
      json_builder_add_boolean_value (builder, r->roi_clamped);
      json_builder_set_member_name (builder, "probabilities");
      add_floats (builder, r->probabilities, r->n_classes);
      json_builder_set_member_name (builder, "logits");
      add_floats (builder, r->logits, r->n_classes);
      json_builder_set_member_name (builder, "top");
      json_builder_add_string_value (builder, card->classes[r->top]);
      json_builder_set_member_name (builder, "top_index");
      json_builder_add_int_value (builder, r->top);
      json_builder_set_member_name (builder, "latency_ms");
      json_builder_add_double_value (builder, round (r->latency_ms * 1000) / 1000);
      add_trust_json (builder, card, r, g_ptr_array_index (checks, i));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}

static void
print_text (const char *file,
            HepaModel  *model,
            guint       frame_index,
            GPtrArray  *results,
            GPtrArray  *checks)
{
  const HepaModelCard *card = hepa_model_get_card (model);
  g_autofree char *calibration = hepa_model_card_describe_calibration (card);
  g_autofree char *ood = hepa_model_card_describe_ood (card);
  int width = 0;

  for (guint k = 0; k < card->n_classes; k++)
    width = MAX (width, (int) g_utf8_strlen (card->classes[k], -1));
  printf (_("Model %s (%s)\n"), card->id, card->arch);
  printf (_("Intended use: %s\n"), hepa_model_card_get_intended_use (card));
  printf ("%s; %s\n", calibration, ood);
  for (guint i = 0; i < results->len; i++)
    {
      const HepaResult *r = g_ptr_array_index (results, i);
      const HepaApplicability *app = g_ptr_array_index (checks, i);

      printf (_("%s, frame %u, region %d,%d,%d,%d:\n"), file, frame_index, r->roi.x, r->roi.y,
              r->roi.width, r->roi.height);
      for (guint j = 0; j < app->reasons->len; j++)
        printf (_("  Does not apply: %s\n"),
                ((const HepaReason *) g_ptr_array_index (app->reasons, j))->message);
      if (r->ood_outside)
        printf (_("  Outside what this model learned (out-of-distribution score %.2f, "
                  "threshold %.2f)\n"), r->ood_score, r->ood_threshold);
      if (r->in_set != NULL)
        {
          g_autofree char *set = set_text (card, r);

          printf (_("  %s, %.0f %%\n"), set, 100 * r->coverage);
        }
      printf (_("  %s (%.1f%%%s), %.1f ms (checks and OOD score %.2f ms)\n"),
              card->classes[r->top], 100.0 * r->probabilities[r->top],
              r->calibrated ? _(", calibrated") : "", r->latency_ms,
              app->seconds * 1000 + r->trust_ms);
      for (guint k = 0; k < r->n_classes; k++)
        printf ("  %-*s %6.2f%%  logit %8.4f%s\n", width, card->classes[k],
                100.0 * r->probabilities[k], r->logits[k], k == r->top ? "  *" : "");
    }
}

int
hepa_cli_classify (int    argc,
                   char **argv)
{
  g_autofree char *model_path = NULL;
  g_autofree char *cam_path = NULL;
  g_auto(GStrv) roi_texts = NULL;
  int frame_number = 0;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Model file (.safetensors or .pth); default: $HEPASCOPE_MODEL or the installed one"),
      N_("MODEL") },
    { "frame", 'f', 0, G_OPTION_ARG_INT, &frame_number, N_("Frame to classify (from 0)"),
      N_("N") },
    { "roi", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &roi_texts,
      N_("Region in pixels; repeat for several (default: the whole frame)"), N_("X,Y,W,H") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "cam", 0, 0, G_OPTION_ARG_FILENAME, &cam_path,
      N_("Write the top class's activation map over the image as a PNG"), N_("OUT.png") },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaImage) image = NULL;
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GPtrArray) checks = NULL;
  g_autofree HepaRect *rois = NULL;
  g_autofree const HepaFrame **frames = NULL;
  const HepaFrame *frame;
  const char *file;
  HepaEngine *engine;
  guint n_rois;
  int status = 0;

  if (!hepa_cli_parse ("classify", _("FILE"),
                       _("Classify regions of an image with the ResNet model; not for diagnosis."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return hepa_cli_failf (NULL, _("classify takes one FILE (see --help)"));
  file = argv[1];
  if (frame_number < 0)
    return hepa_cli_failf (NULL, _("--frame must be 0 or more"));

  n_rois = roi_texts != NULL ? g_strv_length (roi_texts) : 0;
  rois = g_new (HepaRect, MAX (n_rois, 1));
  for (guint i = 0; i < n_rois; i++)
    if (!parse_roi (roi_texts[i], &rois[i]))
      return hepa_cli_failf (NULL, _("invalid --roi “%s”: expected X,Y,W,H in pixels"),
                             roi_texts[i]);

  if (model_path == NULL)
    model_path = hepa_model_find_default ();
  if (model_path == NULL)
    return hepa_cli_failf (NULL, _("no model found: pass --model or set HEPASCOPE_MODEL"));

  /* The image first: a wrong FILE is the likelier mistake, and it is cheap to find out. */
  image = hepa_image_open (file, &error);
  if (image == NULL)
    return hepa_cli_fail (file, error);
  if ((guint) frame_number >= hepa_image_get_n_frames (image))
    return hepa_cli_failf (file, _("no frame %d: the file has %u"), frame_number,
                           hepa_image_get_n_frames (image));
  frame = hepa_image_get_frame (image, (guint) frame_number, &error);
  if (frame == NULL)
    return hepa_cli_fail (file, error);

  hepa_core_init_threads (0);
  model = hepa_model_load (model_path, &error);
  if (model == NULL)
    return hepa_cli_fail (model_path, error);
  if (!hepa_model_get_card (model)->has_card)
    g_printerr (_("hepascope-cli: %s: no model card; assuming classes class0..%u, ImageNet "
                  "mean/std, RGB input, stretched to 224×224\n"), model_path,
                hepa_model_get_card (model)->n_classes - 1);

  engine = hepa_engine_new (model, &error);
  if (engine == NULL)
    return hepa_cli_fail (model_path, error);
  frames = g_new (const HepaFrame *, MAX (n_rois, 1));
  for (guint i = 0; i < MAX (n_rois, 1); i++)
    frames[i] = frame;
  results = hepa_engine_classify_batch (engine, frames, n_rois > 0 ? rois : NULL,
                                        MAX (n_rois, 1), NULL, &error);
  hepa_engine_free (engine);
  if (results == NULL)
    return hepa_cli_fail (file, error);

  for (guint i = 0; i < n_rois; i++)
    {
      const HepaResult *r = g_ptr_array_index (results, i);

      if (r->roi_clamped)
        g_printerr (_("hepascope-cli: %s: region %d,%d,%d,%d clamped to the image: %d,%d,%d,%d\n"),
                    file, rois[i].x, rois[i].y, rois[i].width, rois[i].height, r->roi.x, r->roi.y,
                    r->roi.width, r->roi.height);
    }

  checks = g_ptr_array_new_with_free_func ((GDestroyNotify) hepa_applicability_free);
  for (guint i = 0; i < results->len; i++)
    {
      const HepaResult *r = g_ptr_array_index (results, i);

      g_ptr_array_add (checks, hepa_applicability_check (image, frame, &r->roi,
                                                         hepa_model_get_card (model)));
    }
  if (json)
    print_json (model, (guint) frame_number, results, checks);
  else
    print_text (file, model, (guint) frame_number, results, checks);

  if (cam_path != NULL && !write_cam_png (cam_path, frame, results, &error))
    return hepa_cli_fail (cam_path, error);
  return 0;
}
