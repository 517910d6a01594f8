/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-results.h"

#include "hepa-dicom-sr.h"
#include "hepa-error.h"
#include "hepa-image.h"
#include "hepa-model.h"

#include <cairo.h>
#include <cairo-pdf.h>
#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* Matplotlib's inferno at nine stops, as the classify command's --cam. */
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
dcm_error (HepaDcmStatus   status,
           const char     *msg,
           GError        **error)
{
  switch (status)
    {
    case HEPA_DCM_OK:
      return TRUE;
    case HEPA_DCM_ERR_IO:
      g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_IO, msg);
      break;
    case HEPA_DCM_ERR_FORMAT:
    case HEPA_DCM_ERR_NOT_FOUND:
      g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_FORMAT, msg);
      break;
    default:
      g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_FAILED, msg);
      break;
    }
  return FALSE;
}

static char *
new_uid (void)
{
  char uid[72];

  hepa_dcm_new_uid (uid, sizeof uid);
  return g_strdup (uid);
}

/* One labeled ROI and the model's answer on it. */
typedef struct
{
  const HepaRoi *roi;
  HepaResult    *result;
  char          *uid;
} Finding;

static void
finding_clear (Finding *f)
{
  g_clear_pointer (&f->result, hepa_result_free);
  g_clear_pointer (&f->uid, g_free);
}

/* One image with its findings. */
typedef struct
{
  char            *path;
  char            *stem;
  HepaImage       *image;
  HepaAnnotations *annotations;
  GArray          *findings;          /* (element-type Finding) */
  guint            view_frame;
  cairo_surface_t *view;              /* the annotated view of view_frame */
} Item;

static void
item_free (Item *item)
{
  g_free (item->path);
  g_free (item->stem);
  g_clear_pointer (&item->image, hepa_image_unref);
  g_clear_pointer (&item->annotations, hepa_annotations_free);
  g_clear_pointer (&item->findings, g_array_unref);
  g_clear_pointer (&item->view, cairo_surface_destroy);
  g_free (item);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Item, item_free)

/* The top class's map of @r over the whole frame, 0..255: positive evidence only, scaled to the
 * map's maximum (as the workbench's overlay), zero outside the ROI. (height, width) bytes. */
static guint8 *
saliency_map (const HepaResult *r,
              int               width,
              int               height)
{
  const float *cam = r->cams + (gsize) r->top * r->cam_width * r->cam_height;
  guint8 *map = g_try_malloc0 ((gsize) width * height);
  float max = 0;

  if (map == NULL)
    return NULL;
  for (gsize j = 0; j < (gsize) r->cam_width * r->cam_height; j++)
    max = MAX (max, cam[j]);
  for (int y = 0; y < r->roi.height; y++)
    for (int x = 0; x < r->roi.width; x++)
      {
        int cx = MIN ((int) ((gint64) x * r->cam_width / r->roi.width), r->cam_width - 1);
        int cy = MIN ((int) ((gint64) y * r->cam_height / r->roi.height), r->cam_height - 1);
        float v = cam[(gsize) cy * r->cam_width + cx];
        float t = max > 0 ? MAX (v, 0.0f) / max : 0.0f;

        map[(gsize) (r->roi.y + y) * width + r->roi.x + x] = (guint8) lroundf (t * 255.0f);
      }
  return map;
}

/* The annotated view of one frame, as the workbench shows it: the frame, each ROI's map blended
 * in, its box and a caption (label, rater, model's top class). */
static cairo_surface_t *
render_view (Item                 *item,
             const HepaFrame      *frame,
             guint                 frame_index,
             const HepaModelCard  *card,
             GError              **error)
{
  g_autofree guint8 *rgb = g_try_malloc ((gsize) frame->width * frame->height * 3);
  cairo_surface_t *surface;
  cairo_t *cr;
  guint8 *data;
  int stride;

  if (rgb == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("%s: not enough memory for the view"),
                   item->path);
      return NULL;
    }
  hepa_frame_render_rgb (frame, 0, 0, rgb);
  for (guint i = 0; i < item->findings->len; i++)
    {
      const Finding *f = &g_array_index (item->findings, Finding, i);
      g_autofree guint8 *map = NULL;
      const HepaRect *r = &f->result->roi;

      if (f->roi->frame != frame_index)
        continue;
      map = saliency_map (f->result, frame->width, frame->height);
      if (map == NULL)
        continue;
      for (int y = r->y; y < r->y + r->height; y++)
        for (int x = r->x; x < r->x + r->width; x++)
          {
            guint8 color[3];
            guint8 *p = rgb + ((gsize) y * frame->width + x) * 3;

            inferno_color (map[(gsize) y * frame->width + x] / 255.0f, color);
            for (int c = 0; c < 3; c++)
              p[c] = (guint8) lroundf (0.6f * p[c] + 0.4f * color[c]);
          }
    }

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, frame->width, frame->height);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (surface);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("%s: not enough memory for the view"),
                   item->path);
      return NULL;
    }
  cairo_surface_flush (surface);
  data = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);
  for (int y = 0; y < frame->height; y++)
    for (int x = 0; x < frame->width; x++)
      {
        const guint8 *p = rgb + ((gsize) y * frame->width + x) * 3;

        ((guint32 *) (data + (gsize) y * stride))[x] = (guint32) p[0] << 16 | (guint32) p[1] << 8 | p[2];
      }
  cairo_surface_mark_dirty (surface);

  cr = cairo_create (surface);
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size (cr, MAX (11.0, frame->height / 40.0));
  cairo_set_line_width (cr, MAX (1.5, frame->height / 300.0));
  for (guint i = 0; i < item->findings->len; i++)
    {
      const Finding *f = &g_array_index (item->findings, Finding, i);
      const HepaRect *r = &f->roi->rect;
      g_autofree char *caption = NULL;

      if (f->roi->frame != frame_index)
        continue;
      cairo_set_source_rgb (cr, 1.0, 0.85, 0.1);
      cairo_rectangle (cr, r->x + 0.5, r->y + 0.5, r->width - 1, r->height - 1);
      cairo_stroke (cr);
      caption = g_strdup_printf (_("labeled %s · model %s %.0f%%"), f->roi->label,
                                 card->classes[f->result->top],
                                 100.0 * f->result->probabilities[f->result->top]);
      cairo_move_to (cr, r->x + 2, r->y > 20 ? r->y - 5 : r->y + r->height + 16);
      cairo_show_text (cr, caption);
    }
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_set_font_size (cr, MAX (10.0, frame->height / 50.0));
  cairo_move_to (cr, 6, frame->height - 8);
  cairo_show_text (cr, _("Hepascope: model output, not a diagnosis"));
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  return surface;
}

static guint8 *
surface_to_rgb (cairo_surface_t *surface)
{
  int width = cairo_image_surface_get_width (surface);
  int height = cairo_image_surface_get_height (surface);
  int stride = cairo_image_surface_get_stride (surface);
  const guint8 *data = cairo_image_surface_get_data (surface);
  guint8 *rgb = g_try_malloc ((gsize) width * height * 3);

  if (rgb == NULL)
    return NULL;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint32 v = ((const guint32 *) (data + (gsize) y * stride))[x];
        guint8 *p = rgb + ((gsize) y * width + x) * 3;

        p[0] = v >> 16;
        p[1] = v >> 8;
        p[2] = v;
      }
  return rgb;
}

static cairo_status_t
pdf_write_cb (void                *closure,
              const unsigned char *data,
              unsigned int         length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

/* The study's findings on A4 pages: per image its annotated view and, per ROI, the region, label,
 * rater and every class probability. */
static GByteArray *
render_pdf (GPtrArray           *items,
            const HepaModelCard *card,
            GError             **error)
{
  GByteArray *bytes = g_byte_array_new ();
  const double page_w = 595, page_h = 842, margin = 48;
  cairo_surface_t *surface = cairo_pdf_surface_create_for_stream (pdf_write_cb, bytes, page_w, page_h);
  cairo_t *cr = cairo_create (surface);
  double y = margin;
  cairo_status_t status;

#define LINE(size, weight, ...)                                                                 \
  G_STMT_START {                                                                                \
    g_autofree char *line_ = g_strdup_printf (__VA_ARGS__);                                     \
    if (y + (size) * 1.4 > page_h - margin)                                                     \
      {                                                                                         \
        cairo_show_page (cr);                                                                   \
        y = margin;                                                                             \
      }                                                                                         \
    cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, (weight));              \
    cairo_set_font_size (cr, (size));                                                           \
    y += (size) * 1.4;                                                                          \
    cairo_move_to (cr, margin, y);                                                              \
    cairo_show_text (cr, line_);                                                                \
  } G_STMT_END

  cairo_set_source_rgb (cr, 0, 0, 0);
  LINE (18, CAIRO_FONT_WEIGHT_BOLD, "%s", _("Hepascope findings"));
  LINE (9, CAIRO_FONT_WEIGHT_NORMAL, _("Model %s (%s), file sha256 %.16s…; Hepascope %s"),
        card->id, card->arch, card->sha256[0] ? card->sha256 : "-", PACKAGE_VERSION);
  LINE (9, CAIRO_FONT_WEIGHT_NORMAL, "%s",
        _("Model output for teaching, labeling and software testing; not a diagnosis."));
  y += 8;
  for (guint i = 0; i < items->len; i++)
    {
      Item *item = g_ptr_array_index (items, i);
      const HepaImageInfo *info = hepa_image_get_info (item->image);
      int w = cairo_image_surface_get_width (item->view);
      int h = cairo_image_surface_get_height (item->view);
      double scale = MIN (300.0 / w, 220.0 / h);

      LINE (12, CAIRO_FONT_WEIGHT_BOLD, _("Image %u: SOP Instance UID %s"), i + 1, info->sop_uid);
      if (y + h * scale + 8 > page_h - margin)
        {
          cairo_show_page (cr);
          y = margin;
        }
      cairo_save (cr);
      cairo_translate (cr, margin, y + 4);
      cairo_scale (cr, scale, scale);
      cairo_set_source_surface (cr, item->view, 0, 0);
      cairo_paint (cr);
      cairo_restore (cr);
      cairo_set_source_rgb (cr, 0, 0, 0);
      y += h * scale + 8;
      for (guint k = 0; k < item->findings->len; k++)
        {
          const Finding *f = &g_array_index (item->findings, Finding, k);
          g_autoptr(GString) probs = g_string_new (NULL);

          for (guint c = 0; c < f->result->n_classes; c++)
            g_string_append_printf (probs, "%s%s %.1f%%", c ? ", " : "", card->classes[c],
                                    100.0 * f->result->probabilities[c]);
          LINE (10, CAIRO_FONT_WEIGHT_NORMAL,
                _("ROI %s, frame %u, %d,%d %d×%d px: labeled %s by %s; model: %s"), f->roi->id,
                f->roi->frame, f->roi->rect.x, f->roi->rect.y, f->roi->rect.width,
                f->roi->rect.height, f->roi->label,
                f->roi->rater[0] ? f->roi->rater : _("unknown rater"),
                card->classes[f->result->top]);
          LINE (8, CAIRO_FONT_WEIGHT_NORMAL, "    %s", probs->str);
        }
      y += 8;
    }
#undef LINE
  cairo_destroy (cr);
  cairo_surface_finish (surface);
  status = cairo_surface_status (surface);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_byte_array_unref (bytes);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FAILED, _("Could not draw the PDF report: %s"),
                   cairo_status_to_string (status));
      return NULL;
    }
  return bytes;
}

/* Opens @path, loads its sidecar and classifies its labeled ROIs. NULL with no error: nothing
 * labeled. */
static Item *
load_item (HepaEngine    *engine,
           const char    *path,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(Item) item = g_new0 (Item, 1);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (path, NULL);
  g_autofree char *base = g_path_get_basename (path);
  char *dot;

  item->path = g_strdup (path);
  item->annotations = hepa_annotations_load (sidecar, error);
  if (item->annotations == NULL)
    return NULL;
  item->findings = g_array_new (FALSE, TRUE, sizeof (Finding));
  g_array_set_clear_func (item->findings, (GDestroyNotify) finding_clear);
  for (guint i = 0; i < item->annotations->rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (item->annotations->rois, i);
      Finding f = { roi, NULL, NULL };

      if (roi->label != NULL && roi->label[0] != '\0')
        g_array_append_val (item->findings, f);
    }
  if (item->findings->len == 0)
    return NULL;

  item->image = hepa_image_open (path, error);
  if (item->image == NULL)
    return NULL;
  if (strcmp (hepa_image_get_info (item->image)->format, "DICOM") != 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                   _("%s: results go to the archive as DICOM and refer to their image, so the "
                     "image must be DICOM"), path);
      return NULL;
    }
  for (guint i = 0; i < item->findings->len; i++)
    {
      Finding *f = &g_array_index (item->findings, Finding, i);
      const HepaFrame *frame;

      if (f->roi->frame >= hepa_image_get_n_frames (item->image))
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                       _("%s: ROI %s is on frame %u, but the image has %u"), path, f->roi->id,
                       f->roi->frame, hepa_image_get_n_frames (item->image));
          return NULL;
        }
      frame = hepa_image_get_frame (item->image, f->roi->frame, error);
      if (frame == NULL)
        return NULL;
      f->result = hepa_engine_classify (engine, frame, &f->roi->rect, cancellable, error);
      if (f->result == NULL)
        {
          g_prefix_error (error, "%s: ", path);
          return NULL;
        }
      f->uid = new_uid ();
    }
  dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';
  item->stem = g_strdup (base);
  item->view_frame = g_array_index (item->findings, Finding, 0).roi->frame;
  return g_steal_pointer (&item);
}

typedef struct
{
  char *uid;
  int   number;
  int   next_instance;
} Series;

gboolean
hepa_results_write_study (HepaEngine               *engine,
                          const char *const        *paths,
                          guint                     n_paths,
                          const char               *out_dir,
                          GPtrArray                *written,
                          HepaResultsProgressFunc   progress,
                          gpointer                  user_data,
                          GCancellable             *cancellable,
                          GError                  **error)
{
  const HepaModelCard *card = hepa_model_get_card (hepa_engine_get_model (engine));
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  g_autofree char *device_uid = new_uid ();
  g_autofree char *sha_param = g_strdup_printf ("model-sha256=%s", card->sha256);
  g_autoptr(GByteArray) pdf = NULL;
  g_autofree char *pdf_path = NULL;
  g_autofree char *pdf_dcm_path = NULL;
  /* Series numbers after the source's, high enough not to collide with a scanner's. */
  Series sr = { new_uid (), 9001, 1 }, seg = { new_uid (), 9002, 1 };
  Series sc = { new_uid (), 9003, 1 }, doc = { new_uid (), 9004, 1 };
  gboolean ok = FALSE;
  char msg[1024];

  g_return_val_if_fail (engine != NULL && out_dir != NULL && written != NULL, FALSE);

  if (g_mkdir_with_parents (out_dir, 0755) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", out_dir,
                   g_strerror (errsv));
      goto out;
    }

  for (guint i = 0; i < n_paths; i++)
    {
      g_autoptr(GError) local = NULL;
      Item *item = load_item (engine, paths[i], cancellable, &local);

      if (item == NULL && local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          goto out;
        }
      if (item != NULL)
        g_ptr_array_add (items, item);
      if (progress != NULL)
        progress (i + 1, n_paths, paths[i], user_data);
    }
  if (items->len == 0)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("No image has a labeled ROI: label ROIs first (results are written for "
                     "labeled ROIs only)"));
      goto out;
    }

  for (guint i = 0; i < items->len; i++)
    {
      Item *item = g_ptr_array_index (items, i);
      g_autofree HepaDcmSrRoi *rois = g_new0 (HepaDcmSrRoi, item->findings->len);
      g_autofree char *sr_path = NULL, *sr_uid = new_uid (), *sc_path = NULL, *sc_uid = new_uid ();
      g_autofree guint8 *rgb = NULL;
      const HepaFrame *frame;
      HepaDcmSrSpec spec;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto out;

      for (guint k = 0; k < item->findings->len; k++)
        {
          const Finding *f = &g_array_index (item->findings, Finding, k);

          rois[k] = (HepaDcmSrRoi) {
            .tracking_id = f->roi->id,
            .tracking_uid = f->uid,
            .frame = f->roi->frame,
            .x = f->roi->rect.x,
            .y = f->roi->rect.y,
            .width = f->roi->rect.width,
            .height = f->roi->rect.height,
            .label = f->roi->label,
            .rater = f->roi->rater,
            .n_classes = f->result->n_classes,
            .classes = (const char *const *) card->classes,
            .probabilities = f->result->probabilities,
          };
        }
      spec = (HepaDcmSrSpec) {
        .object = { item->path, sr.uid, sr_uid, sr.number, sr.next_instance++,
                    "Hepascope findings", PACKAGE_VERSION },
        .device_uid = device_uid,
        .algorithm_name = card->id,
        .algorithm_version = PACKAGE_VERSION,
        .model_sha256 = card->sha256,
        .rois = rois,
        .n_rois = item->findings->len,
      };
      sr_path = g_strdup_printf ("%s/%s.sr.dcm", out_dir, item->stem);
      if (!dcm_error (hepa_dcm_write_sr (sr_path, &spec, msg, sizeof msg), msg, error))
        goto out;
      g_ptr_array_add (written, g_steal_pointer (&sr_path));

      for (guint k = 0; k < item->findings->len; k++)
        {
          const Finding *f = &g_array_index (item->findings, Finding, k);
          g_autofree char *seg_path = g_strdup_printf ("%s/%s.roi%u.seg.dcm", out_dir, item->stem,
                                                       k + 1);
          g_autofree char *seg_uid = new_uid ();
          g_autofree char *label = g_strdup_printf ("Saliency %s", card->classes[f->result->top]);
          g_autofree guint8 *map = NULL;
          HepaDcmSegSpec s;

          frame = hepa_image_get_frame (item->image, f->roi->frame, error);
          if (frame == NULL)
            goto out;
          map = saliency_map (f->result, frame->width, frame->height);
          if (map == NULL)
            {
              g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                           _("%s: not enough memory for the map"), item->path);
              goto out;
            }
          s = (HepaDcmSegSpec) {
            .object = { item->path, seg.uid, seg_uid, seg.number, seg.next_instance++,
                        "Hepascope saliency maps", PACKAGE_VERSION },
            .frame = f->roi->frame,
            .width = frame->width,
            .height = frame->height,
            .map = map,
            .segment_label = label,
            .algorithm_name = card->id,
            .algorithm_version = PACKAGE_VERSION,
            .algorithm_parameters = sha_param,
          };
          if (!dcm_error (hepa_dcm_write_seg (seg_path, &s, msg, sizeof msg), msg, error))
            goto out;
          g_ptr_array_add (written, g_steal_pointer (&seg_path));
        }

      frame = hepa_image_get_frame (item->image, item->view_frame, error);
      if (frame == NULL)
        goto out;
      item->view = render_view (item, frame, item->view_frame, card, error);
      if (item->view == NULL)
        goto out;
      rgb = surface_to_rgb (item->view);
      if (rgb == NULL)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                       _("%s: not enough memory for the view"), item->path);
          goto out;
        }
      {
        HepaDcmNewObject o = { item->path, sc.uid, sc_uid, sc.number, sc.next_instance++,
                               "Hepascope annotated views", PACKAGE_VERSION };

        sc_path = g_strdup_printf ("%s/%s.view.dcm", out_dir, item->stem);
        if (!dcm_error (hepa_dcm_write_sc (sc_path, &o, frame->width, frame->height, rgb,
                                           "Image with regions, labels and saliency maps",
                                           msg, sizeof msg), msg, error))
          goto out;
        g_ptr_array_add (written, g_steal_pointer (&sc_path));
      }
    }

  pdf = render_pdf (items, card, error);
  if (pdf == NULL)
    goto out;
  pdf_path = g_build_filename (out_dir, "report.pdf", NULL);
  if (!g_file_set_contents (pdf_path, (const char *) pdf->data, pdf->len, error))
    goto out;
  g_ptr_array_add (written, g_strdup (pdf_path));
  {
    Item *first = g_ptr_array_index (items, 0);
    g_autofree char *pdf_uid = new_uid ();
    HepaDcmNewObject o = { first->path, doc.uid, pdf_uid, doc.number, doc.next_instance++,
                           "Hepascope report", PACKAGE_VERSION };

    pdf_dcm_path = g_build_filename (out_dir, "report.dcm", NULL);
    if (!dcm_error (hepa_dcm_write_pdf (pdf_dcm_path, &o, pdf->data, pdf->len,
                                        "Hepascope findings", msg, sizeof msg), msg, error))
      goto out;
    g_ptr_array_add (written, g_steal_pointer (&pdf_dcm_path));
  }
  ok = TRUE;
out:
  g_free (sr.uid);
  g_free (seg.uid);
  g_free (sc.uid);
  g_free (doc.uid);
  return ok;
}

typedef struct
{
  HepaAnnotations *set;
  char            *sop_uid;
  gboolean         mixed;
} Import;

static void
import_roi_cb (void               *user_data,
               const HepaDcmSrRoi *r,
               const char         *source_sop_uid)
{
  Import *import = user_data;
  HepaRect rect = { (int) lround (r->x), (int) lround (r->y), (int) lround (r->width),
                    (int) lround (r->height) };
  HepaRoi *roi = hepa_roi_new (r->frame, &rect, r->label[0] ? r->label : NULL, r->rater);

  if (r->tracking_id[0] != '\0')
    {
      g_free (roi->id);
      roi->id = g_strdup (r->tracking_id);
    }
  if (r->n_classes > 0)
    {
      g_autofree const char **classes = g_new0 (const char *, r->n_classes + 1);

      for (unsigned k = 0; k < r->n_classes; k++)
        classes[k] = r->classes[k];
      hepa_roi_set_prediction (roi, "dicom-sr", classes, r->probabilities);
    }
  g_ptr_array_add (import->set->rois, roi);
  if (import->sop_uid == NULL)
    import->sop_uid = g_strdup (source_sop_uid);
  else if (strcmp (import->sop_uid, source_sop_uid) != 0)
    import->mixed = TRUE;
}

HepaAnnotations *
hepa_results_import_sr (const char  *sr_path,
                        char       **source_sop_uid,
                        GError     **error)
{
  Import import = { hepa_annotations_new (""), NULL, FALSE };
  char msg[1024];

  g_return_val_if_fail (sr_path != NULL, NULL);
  if (!dcm_error (hepa_dcm_read_sr (sr_path, import_roi_cb, &import, msg, sizeof msg), msg, error))
    {
      hepa_annotations_free (import.set);
      g_free (import.sop_uid);
      return NULL;
    }
  if (import.mixed)
    {
      hepa_annotations_free (import.set);
      g_free (import.sop_uid);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED,
                   _("%s: the report's regions are on several images; import them one image at a "
                     "time"), sr_path);
      return NULL;
    }
  if (source_sop_uid != NULL)
    *source_sop_uid = g_steal_pointer (&import.sop_uid);
  g_free (import.sop_uid);
  return import.set;
}

char *
hepa_results_apply_sr (const char  *sr_path,
                       const char  *dir,
                       GError     **error)
{
  g_autofree char *sop_uid = NULL;
  g_autoptr(HepaAnnotations) imported = hepa_results_import_sr (sr_path, &sop_uid, error);
  g_autoptr(GDir) d = NULL;
  g_autofree char *image_path = NULL;
  g_autofree char *sidecar = NULL;
  g_autoptr(HepaAnnotations) set = NULL;
  const char *name;

  if (imported == NULL)
    return NULL;
  d = g_dir_open (dir, 0, error);
  if (d == NULL)
    return NULL;
  while (image_path == NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(HepaImage) image = NULL;

      if (name[0] == '.' || g_str_has_suffix (name, ".json")
          || !g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      image = hepa_image_open (path, NULL);
      if (image != NULL && strcmp (hepa_image_get_info (image)->sop_uid, sop_uid) == 0)
        image_path = g_steal_pointer (&path);
    }
  if (image_path == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("%s: no image in %s is the one the report refers to"), sr_path, dir);
      return NULL;
    }

  sidecar = hepa_annotations_sidecar_path (image_path, NULL);
  set = hepa_annotations_load (sidecar, error);
  if (set == NULL)
    return NULL;
  if (set->sop_uid_sha256 == NULL)
    set->sop_uid_sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, sop_uid, -1);
  for (guint i = 0; i < imported->rois->len; i++)
    {
      HepaRoi *roi = g_ptr_array_index (imported->rois, i);

      for (guint k = 0; k < set->rois->len; k++)
        if (strcmp (((HepaRoi *) g_ptr_array_index (set->rois, k))->id, roi->id) == 0)
          {
            g_ptr_array_remove_index (set->rois, k);
            break;
          }
      g_ptr_array_add (set->rois, hepa_roi_copy (roi));
    }
  if (!hepa_annotations_save (set, sidecar, error))
    return NULL;
  return g_steal_pointer (&image_path);
}
