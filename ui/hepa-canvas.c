/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-canvas.h"

#include "hepa-frame-cache.h"

#include <glib/gi18n.h>
#include <math.h>

#define HANDLE_SIZE   9.0   /* widget pixels */
#define HANDLE_GRAB  16.0   /* pointer slop around a handle */
#define DRAG_START    4.0   /* widget pixels before a press becomes a new ROI */
#define ZOOM_STEP     1.25
#define KEY_ROI_SIZE  64
/* Ready frames of a cine: the demo's 12 frames at 640 x 480 with their scaled surfaces take
 * about 45 MB in a 920 x 690 view, 75 MB just below 2x. */
#define FRAME_CACHE_BYTES (128 * 1024 * 1024)

typedef enum
{
  DRAG_NONE,
  DRAG_CREATE,
  DRAG_MOVE,
  DRAG_RESIZE,
  DRAG_PAN,
  DRAG_WINDOW,
} DragMode;

/* Which edges a resize handle moves. */
enum {
  EDGE_LEFT = 1 << 0,
  EDGE_RIGHT = 1 << 1,
  EDGE_TOP = 1 << 2,
  EDGE_BOTTOM = 1 << 3,
};

struct _HepaCanvas
{
  GtkWidget         parent_instance;

  gboolean          hide_labels;    /* read first / blind: outlines without labels (issue 24) */
  double            line_scale;     /* presentation: thicker ROI lines; 0 means 1 */

  HepaImage        *image;
  guint             frame_index;
  const HepaFrame  *frame;          /* owned by image */
  cairo_surface_t  *surface;        /* the frame as displayed (RGB24) */
  cairo_surface_t  *scaled;         /* the same at the zoom on screen (ARGB32), from the cache,
                                     * or NULL: see snapshot_image_cairo */
  HepaFrameCache   *cache;          /* frames made ready on a worker */
  GdkTexture       *texture;        /* the same pixels, for the GPU path when reduced; made
                                     * on first use */
  double            wl_center;
  double            wl_width;

  HepaRoiStore     *store;
  char            **classes;

  double            zoom;
  double            offset_x;
  double            offset_y;
  gboolean          fit;

  /* Saliency overlay */
  cairo_surface_t  *overlay;
  GdkTexture       *overlay_texture;
  float            *overlay_map;
  int               overlay_w;
  int               overlay_h;
  HepaRect          overlay_rect;
  guint             overlay_frame;
  float             overlay_reference;
  gboolean          overlay_visible;
  double            overlay_opacity;
  HepaColormap      cmap;
  HepaOverlayScale  scale;

  /* The image and the overlay as last drawn by the cairo path, each its own node, reused
   * while nothing it shows changed: the renderer then sees the same node and repaints only
   * what moved over it (a dragged region, a new overlay), not the whole scaled image. */
  GskRenderNode    *image_node;
  double            node_zoom;
  double            node_x;
  double            node_y;
  int               node_w;
  int               node_h;
  cairo_surface_t  *node_scaled;    /* (not owned) compared only */
  GskRenderNode    *overlay_node;
  double            onode_zoom;
  double            onode_x;
  double            onode_y;
  int               onode_w;
  int               onode_h;
  double            onode_opacity;

  /* Interaction */
  GtkGesture       *drag;
  DragMode          drag_mode;
  guint             drag_edges;
  double            drag_x0;         /* widget coordinates where the drag began */
  double            drag_y0;
  HepaRect          drag_rect0;
  double            drag_offset_x0;
  double            drag_offset_y0;
  double            drag_wl_center0;
  double            drag_wl_width0;
  char             *drag_id;
  gboolean          space_held;
  double            pointer_x;
  double            pointer_y;
  gboolean          pointer_inside;
};

G_DEFINE_FINAL_TYPE (HepaCanvas, hepa_canvas, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_ZOOM,
  PROP_OVERLAY_VISIBLE,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_POINTER_MOVED,
  SIGNAL_VIEW_CHANGED,
  SIGNAL_WINDOW_LEVEL_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. Labels are
 * also always written as text next to the ROI, so colour is never the only cue. */
static const char *const label_colors[] = {
  "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999",
};

void
hepa_canvas_label_color (int      class_index,
                         GdkRGBA *color)
{
  if (class_index < 0)
    {
      gdk_rgba_parse (color, "#ffffff");
      return;
    }
  gdk_rgba_parse (color, label_colors[class_index % G_N_ELEMENTS (label_colors)]);
}

static int
class_index_of (HepaCanvas *self,
                const char *label)
{
  if (label == NULL || self->classes == NULL)
    return -1;
  for (int i = 0; self->classes[i] != NULL; i++)
    if (g_strcmp0 (self->classes[i], label) == 0)
      return i;
  return -1;
}

static int
image_width (HepaCanvas *self)
{
  return self->frame ? self->frame->width : 0;
}

static int
image_height (HepaCanvas *self)
{
  return self->frame ? self->frame->height : 0;
}

static void
view_changed (HepaCanvas *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
  g_signal_emit (self, signals[SIGNAL_VIEW_CHANGED], 0);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Wraps a cairo image surface's pixels (native-endian ARGB32/RGB24 with opaque alpha, which
 * is GDK_MEMORY_DEFAULT) as a texture. */
static GdkTexture *
texture_from_surface (cairo_surface_t *surface)
{
  int w = cairo_image_surface_get_width (surface);
  int h = cairo_image_surface_get_height (surface);
  int stride = cairo_image_surface_get_stride (surface);
  g_autoptr(GBytes) bytes = g_bytes_new (cairo_image_surface_get_data (surface),
                                         (gsize) stride * h);

  return gdk_memory_texture_new (w, h, GDK_MEMORY_DEFAULT, bytes, stride);
}

/* The look the cache is to make frames in: the window/level, and the zoom and phase of the
 * scaled surface that snapshot_image_cairo draws (0 when it draws none). */
static void
update_look (HepaCanvas *self,
             double      scaled_zoom)
{
  HepaFrameLook look = {
    .wl_center = self->wl_center,
    .wl_width = self->wl_width,
    .zoom = scaled_zoom,
    .phase_x = scaled_zoom > 0 ? self->offset_x - floor (self->offset_x) : 0,
    .phase_y = scaled_zoom > 0 ? self->offset_y - floor (self->offset_y) : 0,
  };

  hepa_frame_cache_set_look (self->cache, &look);
}

/* Takes the displayed surface from the cache after the frame or the window changed, rendering
 * it here only when no worker made it already (a new window/level, the first frame shown). */
static void
render_frame (HepaCanvas *self)
{
  HepaFrameLook look;
  cairo_surface_t *surface = NULL, *scaled = NULL;

  g_clear_pointer (&self->surface, cairo_surface_destroy);
  g_clear_pointer (&self->scaled, cairo_surface_destroy);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->image_node, gsk_render_node_unref);
  if (self->frame == NULL)
    return;

  hepa_frame_cache_get_look (self->cache, &look);
  update_look (self, look.zoom);
  if (hepa_frame_cache_lookup (self->cache, self->frame_index, &surface, &scaled))
    {
      self->surface = cairo_surface_reference (surface);
      self->scaled = scaled ? cairo_surface_reference (scaled) : NULL;
      return;
    }
  hepa_frame_cache_get_look (self->cache, &look);
  self->surface = hepa_frame_cache_render (self->frame, &look);
  if (self->surface != NULL)
    hepa_frame_cache_insert (self->cache, self->frame_index, self->surface);
}

static void
cache_ready_cb (HepaCanvas     *self,
                guint           frame,
                HepaFrameCache *cache)
{
  cairo_surface_t *surface, *scaled;

  if (frame != self->frame_index || self->surface == NULL
      || !hepa_frame_cache_lookup (cache, frame, &surface, &scaled)
      || surface != self->surface || scaled == NULL || scaled == self->scaled)
    return;
  g_clear_pointer (&self->scaled, cairo_surface_destroy);
  self->scaled = cairo_surface_reference (scaled);
  g_clear_pointer (&self->image_node, gsk_render_node_unref);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
render_overlay (HepaCanvas *self)
{
  g_clear_pointer (&self->overlay, cairo_surface_destroy);
  g_clear_object (&self->overlay_texture);
  g_clear_pointer (&self->overlay_node, gsk_render_node_unref);
  if (self->overlay_map == NULL)
    return;

  self->overlay = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, self->overlay_w,
                                              self->overlay_h);
  if (cairo_surface_status (self->overlay) != CAIRO_STATUS_SUCCESS
      || cairo_image_surface_get_stride (self->overlay) != self->overlay_w * 4)
    {
      g_clear_pointer (&self->overlay, cairo_surface_destroy);
      return;
    }
  cairo_surface_flush (self->overlay);
  hepa_overlay_render_argb32 (self->overlay_map, self->overlay_w, self->overlay_h, self->scale,
                              self->overlay_reference, self->cmap,
                              (guint32 *) (gpointer) cairo_image_surface_get_data (self->overlay));
  cairo_surface_mark_dirty (self->overlay);
}

void
hepa_canvas_widget_to_image (HepaCanvas *self,
                             double      wx,
                             double      wy,
                             double     *ix,
                             double     *iy)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  *ix = (wx - self->offset_x) / self->zoom;
  *iy = (wy - self->offset_y) / self->zoom;
}

void
hepa_canvas_image_to_widget (HepaCanvas *self,
                             double      ix,
                             double      iy,
                             double     *wx,
                             double     *wy)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  *wx = self->offset_x + ix * self->zoom;
  *wy = self->offset_y + iy * self->zoom;
}

static void
apply_fit (HepaCanvas *self)
{
  int ww = gtk_widget_get_width (GTK_WIDGET (self));
  int wh = gtk_widget_get_height (GTK_WIDGET (self));
  int iw = image_width (self), ih = image_height (self);

  if (iw <= 0 || ih <= 0 || ww <= 0 || wh <= 0)
    return;
  self->zoom = CLAMP (MIN ((double) ww / iw, (double) wh / ih), HEPA_CANVAS_ZOOM_MIN,
                      HEPA_CANVAS_ZOOM_MAX);
  self->offset_x = round ((ww - iw * self->zoom) / 2.0);
  self->offset_y = round ((wh - ih * self->zoom) / 2.0);
}

void
hepa_canvas_zoom_fit (HepaCanvas *self)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  self->fit = TRUE;
  apply_fit (self);
  view_changed (self);
}

void
hepa_canvas_set_zoom (HepaCanvas *self,
                      double      zoom,
                      double      anchor_x,
                      double      anchor_y)
{
  double ix, iy;

  g_return_if_fail (HEPA_IS_CANVAS (self));

  zoom = CLAMP (zoom, HEPA_CANVAS_ZOOM_MIN, HEPA_CANVAS_ZOOM_MAX);
  /* Keep the image point under the anchor where it is. */
  hepa_canvas_widget_to_image (self, anchor_x, anchor_y, &ix, &iy);
  self->zoom = zoom;
  self->offset_x = anchor_x - ix * zoom;
  self->offset_y = anchor_y - iy * zoom;
  self->fit = FALSE;
  view_changed (self);
}

void
hepa_canvas_zoom_step (HepaCanvas *self,
                       int         steps)
{
  double ax, ay;

  g_return_if_fail (HEPA_IS_CANVAS (self));

  if (self->pointer_inside)
    {
      ax = self->pointer_x;
      ay = self->pointer_y;
    }
  else
    {
      ax = gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
      ay = gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
    }
  hepa_canvas_set_zoom (self, self->zoom * pow (ZOOM_STEP, steps), ax, ay);
}

double
hepa_canvas_get_zoom (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), 1.0);
  return self->zoom;
}

gboolean
hepa_canvas_get_fit (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), FALSE);
  return self->fit;
}

void
hepa_canvas_pan (HepaCanvas *self,
                 double      dx,
                 double      dy)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  self->offset_x += dx;
  self->offset_y += dy;
  self->fit = FALSE;
  view_changed (self);
}

void
hepa_canvas_set_image (HepaCanvas *self,
                       HepaImage  *image,
                       guint       frame)
{
  g_autoptr(GError) error = NULL;
  int old_w, old_h;
  gboolean same_image;

  g_return_if_fail (HEPA_IS_CANVAS (self));

  old_w = image_width (self);
  old_h = image_height (self);
  same_image = image != NULL && image == self->image;

  if (image != self->image)
    {
      g_clear_pointer (&self->image, hepa_image_unref);
      self->image = image ? hepa_image_ref (image) : NULL;
    }
  if (hepa_frame_cache_get_image (self->cache) != self->image)
    hepa_frame_cache_set_image (self->cache, self->image);
  self->frame_index = frame;
  self->frame = NULL;
  if (self->image != NULL)
    {
      self->frame = hepa_image_get_frame (self->image, frame, &error);
      if (self->frame == NULL)
        g_warning ("%s", error->message);
    }

  if (!same_image)
    {
      /* A new image starts at its own default window. */
      self->wl_center = self->frame ? self->frame->window_center : 0.0;
      self->wl_width = self->frame ? self->frame->window_width : 0.0;
      g_signal_emit (self, signals[SIGNAL_WINDOW_LEVEL_CHANGED], 0);
    }
  render_frame (self);

  if (!same_image || old_w != image_width (self) || old_h != image_height (self))
    {
      self->fit = TRUE;
      apply_fit (self);
      view_changed (self);
    }
  else
    /* Another frame of the same image: the view is as it was, only the pixels change. */
    gtk_widget_queue_draw (GTK_WIDGET (self));
}

HepaImage *
hepa_canvas_get_image (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), NULL);
  return self->image;
}

HepaFrameCache *
hepa_canvas_get_frame_cache (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), NULL);
  return self->cache;
}

guint
hepa_canvas_get_frame (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), 0);
  return self->frame_index;
}

static void
store_changed_cb (HepaCanvas   *self,
                  guint         change,
                  HepaRoiStore *store)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
hepa_canvas_set_store (HepaCanvas   *self,
                       HepaRoiStore *store)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  if (self->store == store)
    return;
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_set_object (&self->store, store);
  if (store != NULL)
    {
      g_signal_connect_swapped (store, "changed", G_CALLBACK (store_changed_cb), self);
      g_signal_connect_swapped (store, "selection-changed", G_CALLBACK (gtk_widget_queue_draw),
                                self);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
hepa_canvas_set_classes (HepaCanvas         *self,
                         const char *const *classes)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  g_strfreev (self->classes);
  self->classes = g_strdupv ((char **) classes);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
hepa_canvas_set_window_level (HepaCanvas *self,
                              double      center,
                              double      width)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  if (self->frame == NULL || self->frame->format != HEPA_PIXEL_GRAY16)
    return;
  if (width <= 0)
    {
      center = self->frame->window_center;
      width = self->frame->window_width;
    }
  self->wl_center = center;
  self->wl_width = width;
  render_frame (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[SIGNAL_WINDOW_LEVEL_CHANGED], 0);
}

gboolean
hepa_canvas_has_window_level (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), FALSE);
  return self->frame != NULL && self->frame->format == HEPA_PIXEL_GRAY16;
}

void
hepa_canvas_apply_window_preset (HepaCanvas       *self,
                                 HepaWindowPreset  preset)
{
  const HepaFrame *f = self->frame;

  g_return_if_fail (HEPA_IS_CANVAS (self));

  if (!hepa_canvas_has_window_level (self))
    return;
  if (preset == HEPA_WINDOW_FULL_RANGE)
    {
      double range = (double) (1u << CLAMP (f->bits_stored, 8, 16));

      hepa_canvas_set_window_level (self, range / 2.0, range);
    }
  else if (preset == HEPA_WINDOW_FRAME_RANGE)
    {
      guint16 lo = G_MAXUINT16, hi = 0;

      for (int y = 0; y < f->height; y++)
        {
          const guint16 *row = (const guint16 *) (gconstpointer) (f->data + y * f->stride);

          for (int x = 0; x < f->width; x++)
            {
              lo = MIN (lo, row[x]);
              hi = MAX (hi, row[x]);
            }
        }
      hepa_canvas_set_window_level (self, (lo + hi + 1) / 2.0, MAX (1.0, hi - lo + 1.0));
    }
  else
    hepa_canvas_set_window_level (self, 0, 0);
}

double
hepa_canvas_get_window_drag_step (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), 1.0);
  return MAX (self->wl_width, 16.0) / 300.0;
}

void
hepa_canvas_get_window_level (HepaCanvas *self,
                              double     *center,
                              double     *width)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  *center = self->wl_center;
  *width = self->wl_width;
}

void
hepa_canvas_set_overlay (HepaCanvas     *self,
                         guint           frame,
                         const HepaRect *rect,
                         const float    *map,
                         int             width,
                         int             height,
                         float           reference)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  g_clear_pointer (&self->overlay_map, g_free);
  if (map != NULL && rect != NULL && width > 0 && height > 0)
    {
      self->overlay_map = g_memdup2 (map, sizeof (float) * width * height);
      self->overlay_w = width;
      self->overlay_h = height;
      self->overlay_rect = *rect;
      self->overlay_frame = frame;
      self->overlay_reference = reference;
    }
  render_overlay (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
hepa_canvas_set_overlay_visible (HepaCanvas *self,
                                 gboolean    visible)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  visible = !!visible;
  if (self->overlay_visible == visible)
    return;
  self->overlay_visible = visible;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OVERLAY_VISIBLE]);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
hepa_canvas_get_overlay_visible (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), FALSE);
  return self->overlay_visible;
}

void
hepa_canvas_set_overlay_opacity (HepaCanvas *self,
                                 double      opacity)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  self->overlay_opacity = CLAMP (opacity, 0.0, 1.0);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
hepa_canvas_set_colormap (HepaCanvas   *self,
                          HepaColormap  cmap)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  self->cmap = cmap;
  render_overlay (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
hepa_canvas_set_overlay_scale (HepaCanvas       *self,
                               HepaOverlayScale  scale)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));

  self->scale = scale;
  render_overlay (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Drawing */

static void
rect_to_widget (HepaCanvas     *self,
                const HepaRect *r,
                double         *x,
                double         *y,
                double         *w,
                double         *h)
{
  *x = self->offset_x + r->x * self->zoom;
  *y = self->offset_y + r->y * self->zoom;
  *w = r->width * self->zoom;
  *h = r->height * self->zoom;
}

static void
handle_position (double  x,
                 double  y,
                 double  w,
                 double  h,
                 guint   edges,
                 double *hx,
                 double *hy)
{
  *hx = (edges & EDGE_LEFT) ? x : (edges & EDGE_RIGHT) ? x + w : x + w / 2.0;
  *hy = (edges & EDGE_TOP) ? y : (edges & EDGE_BOTTOM) ? y + h : y + h / 2.0;
}

static const guint handle_edges[8] = {
  EDGE_LEFT | EDGE_TOP, EDGE_TOP, EDGE_RIGHT | EDGE_TOP, EDGE_RIGHT,
  EDGE_RIGHT | EDGE_BOTTOM, EDGE_BOTTOM, EDGE_LEFT | EDGE_BOTTOM, EDGE_LEFT,
};

static char *
roi_caption (HepaCanvas    *self,
             const HepaRoi *roi,
             guint          number)
{
  double sx, sy;
  const char *label = self->hide_labels ? "?" : roi->label ? roi->label : _("Unlabeled");

  if (self->image != NULL
      && hepa_image_get_spacing_at (self->image, roi->rect.x + roi->rect.width / 2,
                                    roi->rect.y + roi->rect.height / 2, &sx, &sy))
    return g_strdup_printf ("%u · %s · %.1f × %.1f mm", number, label, roi->rect.width * sx,
                            roi->rect.height * sy);
  return g_strdup_printf ("%u · %s · %d × %d px", number, label, roi->rect.width,
                          roi->rect.height);
}

static void
draw_roi (HepaCanvas    *self,
          cairo_t       *cr,
          PangoLayout   *layout,
          const HepaRoi *roi,
          guint          number,
          gboolean       selected)
{
  double x, y, w, h, tw, th, ty;
  /* Hidden labels draw as unlabeled outlines, solid: no colour gives the class away. */
  const char *shown = self->hide_labels ? NULL : roi->label;
  int class_index = class_index_of (self, shown);
  double lw = self->line_scale > 0 ? self->line_scale : 1.0;
  GdkRGBA color;
  PangoRectangle ink, logical;
  g_autofree char *caption = NULL;
  double luminance;

  rect_to_widget (self, &roi->rect, &x, &y, &w, &h);
  x = round (x) + 0.5;
  y = round (y) + 0.5;
  w = round (w);
  h = round (h);

  hepa_canvas_label_color (shown ? class_index : -1, &color);
  if (shown != NULL && class_index < 0)
    gdk_rgba_parse (&color, label_colors[G_N_ELEMENTS (label_colors) - 1]);

  /* A dark halo keeps the outline visible on bright speckle. */
  cairo_set_line_width (cr, (selected ? 4.0 : 3.0) * lw);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.7);
  cairo_rectangle (cr, x, y, w, h);
  cairo_stroke (cr);

  cairo_set_line_width (cr, (selected ? 2.0 : 1.5) * lw);
  if (roi->label == NULL)
    {
      /* Unlabeled ROIs are dashed, so they read as unfinished without relying on colour. */
      static const double dash[] = { 6.0, 4.0 };
      cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
    }
  gdk_cairo_set_source_rgba (cr, &color);
  cairo_rectangle (cr, x, y, w, h);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);

  /* Caption tag: number, label as text, and size. */
  caption = roi_caption (self, roi, number);
  pango_layout_set_text (layout, caption, -1);
  pango_layout_get_pixel_extents (layout, &ink, &logical);
  tw = logical.width + 10;
  th = logical.height + 4;
  ty = y - th - 1;
  if (ty < 0)
    ty = y + 1;
  if (shown == NULL)
    cairo_set_source_rgba (cr, 0.12, 0.12, 0.12, 0.85);
  else
    gdk_cairo_set_source_rgba (cr, &color);
  cairo_rectangle (cr, x - 0.5, ty, tw, th);
  cairo_fill (cr);
  luminance = 0.2126 * color.red + 0.7152 * color.green + 0.0722 * color.blue;
  if (shown != NULL && luminance > 0.5)
    cairo_set_source_rgb (cr, 0, 0, 0);
  else
    cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_move_to (cr, x + 4.5, ty + 2);
  pango_cairo_show_layout (cr, layout);

  if (!selected)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (handle_edges); i++)
    {
      double hx, hy;

      handle_position (x, y, w, h, handle_edges[i], &hx, &hy);
      cairo_rectangle (cr, round (hx - HANDLE_SIZE / 2) + 0.5, round (hy - HANDLE_SIZE / 2) + 0.5,
                       HANDLE_SIZE - 1, HANDLE_SIZE - 1);
      cairo_set_source_rgb (cr, 1, 1, 1);
      cairo_fill_preserve (cr);
      cairo_set_line_width (cr, 1.0);
      cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
      cairo_stroke (cr);
    }
}

/* Whether the scaled surface is for the zoom and phase on screen. */
static gboolean
scaled_matches (HepaCanvas *self)
{
  HepaFrameLook look;
  cairo_surface_t *surface, *scaled;

  hepa_frame_cache_get_look (self->cache, &look);
  return look.zoom == self->zoom
         && hepa_frame_cache_lookup (self->cache, self->frame_index, &surface, &scaled)
         && surface == self->surface && scaled == self->scaled;
}

/* Whether the scaled image is not much larger than the widget: a magnified large image is
 * better drawn directly, only where it is seen, until the worker has scaled it. */
static gboolean
scaled_fits (HepaCanvas *self,
             int         ww,
             int         wh)
{
  return image_width (self) * self->zoom * image_height (self) * self->zoom
         <= 2.0 * ww * wh;
}

static gboolean
overlay_shown (HepaCanvas *self)
{
  return self->overlay_visible && self->overlay != NULL
         && self->overlay_frame == self->frame_index;
}

/* Magnified: cairo with a nearest filter, so every image pixel is an exact square. Under the
 * cairo renderer also reduced, with cairo's default filter (what it used for textures). A
 * cairo node records its drawing and the renderer replays it at every paint of the damaged
 * area, so a scaled image would be scaled again at every paint (most of a cine frame's main
 * thread time). Below 2x the frame is drawn from a surface already scaled to the zoom on
 * screen, which replays as a plain copy: made by the cache's worker ahead of playback, or here
 * once when it is missing (a large image magnified is drawn directly until the worker has
 * it). The node covers only the visible part of the image. */
static void
snapshot_image_cairo (HepaCanvas  *self,
                      GtkSnapshot *snapshot,
                      int          ww,
                      int          wh)
{
  gboolean with_overlay = overlay_shown (self);
  gboolean magnified = self->zoom >= 2.0;
  cairo_filter_t filter = magnified ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD;
  double x0, y0, x1, y1;
  cairo_t *cr;

  update_look (self, magnified ? 0 : self->zoom);
  if (self->scaled != NULL && (magnified || !scaled_matches (self)))
    g_clear_pointer (&self->scaled, cairo_surface_destroy);
  if (!magnified && self->scaled == NULL)
    {
      cairo_surface_t *surface, *scaled;

      if (hepa_frame_cache_lookup (self->cache, self->frame_index, &surface, &scaled)
          && surface == self->surface && scaled != NULL)
        self->scaled = cairo_surface_reference (scaled);
      else if (surface == self->surface && scaled_fits (self, ww, wh))
        {
          HepaFrameLook look;

          /* Not made by the worker yet (a new zoom, window or file): scaling once here costs
           * what one direct paint does, and every later paint (a cross-fade, a region moved)
           * is then a copy. */
          hepa_frame_cache_get_look (self->cache, &look);
          self->scaled = hepa_frame_cache_scale (self->surface, &look);
          if (self->scaled != NULL)
            hepa_frame_cache_insert_scaled (self->cache, self->frame_index, self->scaled);
        }
      else
        hepa_frame_cache_request (self->cache, self->frame_index);
    }

  if (self->image_node == NULL || self->node_zoom != self->zoom
      || self->node_x != self->offset_x || self->node_y != self->offset_y
      || self->node_w != ww || self->node_h != wh || self->node_scaled != self->scaled)
    {
      g_clear_pointer (&self->image_node, gsk_render_node_unref);
      x0 = MAX (floor (self->offset_x), 0);
      y0 = MAX (floor (self->offset_y), 0);
      x1 = MIN (ceil (self->offset_x + image_width (self) * self->zoom), ww);
      y1 = MIN (ceil (self->offset_y + image_height (self) * self->zoom), wh);
      if (x1 <= x0 || y1 <= y0)
        return;
      self->image_node = gsk_cairo_node_new (&GRAPHENE_RECT_INIT (x0, y0, x1 - x0, y1 - y0));
      self->node_zoom = self->zoom;
      self->node_x = self->offset_x;
      self->node_y = self->offset_y;
      self->node_w = ww;
      self->node_h = wh;
      self->node_scaled = self->scaled;
      cr = gsk_cairo_node_get_draw_context (self->image_node);
      if (self->scaled != NULL)
        {
          /* Made with the image origin at the phase of the offset: drawn at the integer
           * part, the pixels are those of the direct drawing below. */
          cairo_set_source_surface (cr, self->scaled, floor (self->offset_x),
                                    floor (self->offset_y));
          cairo_paint (cr);
        }
      else
        {
          cairo_translate (cr, self->offset_x, self->offset_y);
          cairo_scale (cr, self->zoom, self->zoom);
          cairo_set_source_surface (cr, self->surface, 0, 0);
          cairo_pattern_set_filter (cairo_get_source (cr), filter);
          cairo_rectangle (cr, 0, 0, image_width (self), image_height (self));
          cairo_fill (cr);
        }
      cairo_destroy (cr);
    }
  gtk_snapshot_append_node (snapshot, self->image_node);

  if (!with_overlay)
    return;
  if (self->overlay_node == NULL || self->onode_zoom != self->zoom
      || self->onode_x != self->offset_x || self->onode_y != self->offset_y
      || self->onode_w != ww || self->onode_h != wh
      || self->onode_opacity != self->overlay_opacity)
    {
      cairo_surface_t *scaled;

      g_clear_pointer (&self->overlay_node, gsk_render_node_unref);
      x0 = MAX (floor (self->offset_x + self->overlay_rect.x * self->zoom), 0);
      y0 = MAX (floor (self->offset_y + self->overlay_rect.y * self->zoom), 0);
      x1 = MIN (ceil (self->offset_x + (self->overlay_rect.x + self->overlay_rect.width)
                      * self->zoom), ww);
      y1 = MIN (ceil (self->offset_y + (self->overlay_rect.y + self->overlay_rect.height)
                      * self->zoom), wh);
      if (x1 <= x0 || y1 <= y0)
        return;
      /* Scaled once into the pixels it covers on screen, so that a region dragged over it
       * replays a copy, not the scaling. */
      scaled = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) (x1 - x0),
                                           (int) (y1 - y0));
      cr = cairo_create (scaled);
      cairo_translate (cr, self->offset_x - x0, self->offset_y - y0);
      cairo_scale (cr, self->zoom, self->zoom);
      cairo_rectangle (cr, self->overlay_rect.x, self->overlay_rect.y, self->overlay_rect.width,
                       self->overlay_rect.height);
      cairo_clip (cr);
      cairo_translate (cr, self->overlay_rect.x, self->overlay_rect.y);
      cairo_scale (cr, (double) self->overlay_rect.width / self->overlay_w,
                   (double) self->overlay_rect.height / self->overlay_h);
      cairo_set_source_surface (cr, self->overlay, 0, 0);
      cairo_pattern_set_filter (cairo_get_source (cr), filter);
      cairo_paint (cr);
      cairo_destroy (cr);

      self->overlay_node = gsk_cairo_node_new (&GRAPHENE_RECT_INIT (x0, y0, x1 - x0, y1 - y0));
      self->onode_zoom = self->zoom;
      self->onode_x = self->offset_x;
      self->onode_y = self->offset_y;
      self->onode_w = ww;
      self->onode_h = wh;
      self->onode_opacity = self->overlay_opacity;
      cr = gsk_cairo_node_get_draw_context (self->overlay_node);
      cairo_set_source_surface (cr, scaled, x0, y0);
      cairo_paint_with_alpha (cr, self->overlay_opacity);
      cairo_destroy (cr);
      cairo_surface_destroy (scaled);
    }
  gtk_snapshot_append_node (snapshot, self->overlay_node);
}

/* Reduced or near 1:1: texture nodes, which the GL renderer scales on the GPU. */
static void
snapshot_image_texture (HepaCanvas  *self,
                        GtkSnapshot *snapshot)
{
  if (self->texture == NULL)
    self->texture = texture_from_surface (self->surface);
  if (self->overlay != NULL && self->overlay_texture == NULL)
    self->overlay_texture = texture_from_surface (self->overlay);
  gtk_snapshot_append_texture (snapshot, self->texture,
                               &GRAPHENE_RECT_INIT (self->offset_x, self->offset_y,
                                                    image_width (self) * self->zoom,
                                                    image_height (self) * self->zoom));
  if (overlay_shown (self) && self->overlay_texture != NULL)
    {
      gtk_snapshot_push_opacity (snapshot, self->overlay_opacity);
      gtk_snapshot_append_texture (snapshot, self->overlay_texture,
                                   &GRAPHENE_RECT_INIT (self->offset_x
                                                          + self->overlay_rect.x * self->zoom,
                                                        self->offset_y
                                                          + self->overlay_rect.y * self->zoom,
                                                        self->overlay_rect.width * self->zoom,
                                                        self->overlay_rect.height * self->zoom));
      gtk_snapshot_pop (snapshot);
    }
}

/* The cairo renderer (no GL: Xvfb, remote X, many virtual machines) paints a texture node by
 * converting the whole texture into a new cairo surface at every paint, pixel by pixel through
 * floats in GTK 4.8 (a third of the main thread's time while a cine played, perf); the canvas's
 * own cairo surfaces are drawn as they are. */
static gboolean
renderer_is_cairo (HepaCanvas *self)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
  GskRenderer *renderer = native != NULL ? gtk_native_get_renderer (native) : NULL;

  return renderer != NULL && GSK_IS_CAIRO_RENDERER (renderer);
}

static void
hepa_canvas_snapshot (GtkWidget   *widget,
                      GtkSnapshot *snapshot)
{
  HepaCanvas *self = HEPA_CANVAS (widget);
  int ww = gtk_widget_get_width (widget);
  int wh = gtk_widget_get_height (widget);
  g_autoptr(PangoLayout) layout = NULL;
  const HepaRoi *sel_roi = NULL;
  guint sel_number = 0;
  GPtrArray *rois;
  const char *selected;
  double bx0 = G_MAXDOUBLE, by0 = G_MAXDOUBLE, bx1 = -G_MAXDOUBLE, by1 = -G_MAXDOUBLE;
  cairo_t *cr;

  if (self->surface == NULL || ww <= 0 || wh <= 0)
    return;

  if (self->zoom >= 2.0 || renderer_is_cairo (self))
    snapshot_image_cairo (self, snapshot, ww, wh);
  else
    snapshot_image_texture (self, snapshot);

  if (self->store == NULL)
    return;

  /* The ROI layer covers only the regions and their captions, not the whole widget, so a
   * drag redraws a small surface. */
  rois = hepa_roi_store_get_rois (self->store);
  for (guint i = 0; i < rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (rois, i);
      double x, y, w, h;

      if (roi->frame != self->frame_index)
        continue;
      rect_to_widget (self, &roi->rect, &x, &y, &w, &h);
      bx0 = MIN (bx0, x - HANDLE_SIZE);
      by0 = MIN (by0, y - 40);
      bx1 = MAX (bx1, MAX (x + w + HANDLE_SIZE, x + 420));
      by1 = MAX (by1, y + h + 40);
    }
  bx0 = MAX (floor (bx0), 0);
  by0 = MAX (floor (by0), 0);
  bx1 = MIN (ceil (bx1), ww);
  by1 = MIN (ceil (by1), wh);
  if (bx1 <= bx0 || by1 <= by0)
    return;

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (bx0, by0, bx1 - bx0, by1 - by0));
  layout = gtk_widget_create_pango_layout (widget, NULL);
  selected = hepa_roi_store_get_selected (self->store);
  for (guint i = 0; i < rois->len; i++)
    {
      const HepaRoi *roi = g_ptr_array_index (rois, i);

      if (roi->frame != self->frame_index)
        continue;
      if (g_strcmp0 (roi->id, selected) == 0)
        {
          sel_roi = roi;
          sel_number = i + 1;
          continue;
        }
      draw_roi (self, cr, layout, roi, i + 1, FALSE);
    }
  /* The selected ROI goes on top so its handles are never hidden. */
  if (sel_roi != NULL)
    draw_roi (self, cr, layout, sel_roi, sel_number, TRUE);
  cairo_destroy (cr);
}

static void
hepa_canvas_size_allocate (GtkWidget *widget,
                           int        width,
                           int        height,
                           int        baseline)
{
  HepaCanvas *self = HEPA_CANVAS (widget);

  if (self->fit)
    {
      apply_fit (self);
      g_signal_emit (self, signals[SIGNAL_VIEW_CHANGED], 0);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
    }
}

static void
hepa_canvas_measure (GtkWidget      *widget,
                     GtkOrientation  orientation,
                     int             for_size,
                     int            *minimum,
                     int            *natural,
                     int            *minimum_baseline,
                     int            *natural_baseline)
{
  *minimum = 120;
  *natural = 640;
}

/* Hit testing */

static const HepaRoi *
selected_roi (HepaCanvas *self)
{
  const HepaRoi *roi;

  if (self->store == NULL)
    return NULL;
  roi = hepa_roi_store_lookup (self->store, hepa_roi_store_get_selected (self->store));
  if (roi == NULL || roi->frame != self->frame_index)
    return NULL;
  return roi;
}

/* The handle under (@wx, @wy): the selected region's eight, then the corners of the other
 * regions on this frame, so that pressing on an unselected region's corner resizes it instead
 * of drawing a new region. The region is stored in @out_roi. */
static guint
hit_handle (HepaCanvas     *self,
            double          wx,
            double          wy,
            const HepaRoi **out_roi)
{
  const HepaRoi *sel = selected_roi (self);
  GPtrArray *rois;
  double x, y, w, h;

  if (out_roi != NULL)
    *out_roi = NULL;
  if (self->store == NULL)
    return 0;
  if (sel != NULL)
    {
      rect_to_widget (self, &sel->rect, &x, &y, &w, &h);
      for (guint i = 0; i < G_N_ELEMENTS (handle_edges); i++)
        {
          double hx, hy;

          handle_position (x, y, w, h, handle_edges[i], &hx, &hy);
          if (fabs (wx - hx) <= HANDLE_GRAB / 2 && fabs (wy - hy) <= HANDLE_GRAB / 2)
            {
              if (out_roi != NULL)
                *out_roi = sel;
              return handle_edges[i];
            }
        }
    }
  rois = hepa_roi_store_get_rois (self->store);
  for (guint i = rois->len; i > 0; i--)
    {
      const HepaRoi *roi = g_ptr_array_index (rois, i - 1);

      if (roi == sel || roi->frame != self->frame_index)
        continue;
      rect_to_widget (self, &roi->rect, &x, &y, &w, &h);
      for (guint k = 0; k < G_N_ELEMENTS (handle_edges); k += 2)
        {
          double hx, hy;

          /* Corners only: the even entries of handle_edges. */
          handle_position (x, y, w, h, handle_edges[k], &hx, &hy);
          if (fabs (wx - hx) <= HANDLE_GRAB / 2 && fabs (wy - hy) <= HANDLE_GRAB / 2)
            {
              if (out_roi != NULL)
                *out_roi = roi;
              return handle_edges[k];
            }
        }
    }
  return 0;
}

static const HepaRoi *
hit_roi (HepaCanvas *self,
         double      wx,
         double      wy)
{
  GPtrArray *rois;
  const HepaRoi *sel = selected_roi (self);
  double ix, iy;

  if (self->store == NULL)
    return NULL;
  hepa_canvas_widget_to_image (self, wx, wy, &ix, &iy);
#define INSIDE(r) (ix >= (r)->rect.x && ix < (r)->rect.x + (r)->rect.width \
                   && iy >= (r)->rect.y && iy < (r)->rect.y + (r)->rect.height)
  if (sel != NULL && INSIDE (sel))
    return sel;
  rois = hepa_roi_store_get_rois (self->store);
  for (guint i = rois->len; i > 0; i--)
    {
      const HepaRoi *roi = g_ptr_array_index (rois, i - 1);

      if (roi->frame == self->frame_index && INSIDE (roi))
        return roi;
    }
#undef INSIDE
  return NULL;
}

static const char *
cursor_for_edges (guint edges)
{
  switch (edges)
    {
    case EDGE_LEFT | EDGE_TOP:
      return "nw-resize";
    case EDGE_RIGHT | EDGE_TOP:
      return "ne-resize";
    case EDGE_LEFT | EDGE_BOTTOM:
      return "sw-resize";
    case EDGE_RIGHT | EDGE_BOTTOM:
      return "se-resize";
    case EDGE_LEFT:
      return "w-resize";
    case EDGE_RIGHT:
      return "e-resize";
    case EDGE_TOP:
      return "n-resize";
    case EDGE_BOTTOM:
      return "s-resize";
    default:
      return "crosshair";
    }
}

static void
update_cursor (HepaCanvas *self)
{
  const char *name = "crosshair";
  guint edges;

  if (self->drag_mode == DRAG_PAN)
    name = "grabbing";
  else if (self->space_held)
    name = "grab";
  else if (self->drag_mode == DRAG_MOVE)
    name = "move";
  else if (self->drag_mode == DRAG_RESIZE)
    name = cursor_for_edges (self->drag_edges);
  else if (self->drag_mode == DRAG_NONE && self->pointer_inside)
    {
      edges = hit_handle (self, self->pointer_x, self->pointer_y, NULL);
      if (edges != 0)
        name = cursor_for_edges (edges);
      else if (hit_roi (self, self->pointer_x, self->pointer_y) != NULL)
        name = "move";
    }
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), name);
}

/* Events */

static void
emit_pointer (HepaCanvas *self)
{
  double ix = -1, iy = -1;

  if (self->pointer_inside)
    hepa_canvas_widget_to_image (self, self->pointer_x, self->pointer_y, &ix, &iy);
  g_signal_emit (self, signals[SIGNAL_POINTER_MOVED], 0, ix, iy, self->pointer_inside);
}

static void
motion_cb (HepaCanvas               *self,
           double                    x,
           double                    y,
           GtkEventControllerMotion *motion)
{
  self->pointer_x = x;
  self->pointer_y = y;
  self->pointer_inside = TRUE;
  update_cursor (self);
  emit_pointer (self);
}

static void
leave_cb (HepaCanvas               *self,
          GtkEventControllerMotion *motion)
{
  self->pointer_inside = FALSE;
  emit_pointer (self);
}

static gboolean
scroll_cb (HepaCanvas               *self,
           double                    dx,
           double                    dy,
           GtkEventControllerScroll *scroll)
{
  if (self->surface == NULL || dy == 0)
    return FALSE;
  hepa_canvas_set_zoom (self, self->zoom * pow (ZOOM_STEP, -dy),
                        self->pointer_inside ? self->pointer_x : gtk_widget_get_width (GTK_WIDGET (self)) / 2.0,
                        self->pointer_inside ? self->pointer_y : gtk_widget_get_height (GTK_WIDGET (self)) / 2.0);
  return TRUE;
}

static void
drag_begin_cb (HepaCanvas     *self,
               double          x,
               double          y,
               GtkGestureDrag *gesture)
{
  guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  const HepaRoi *roi;

  gtk_widget_grab_focus (GTK_WIDGET (self));
  self->drag_x0 = x;
  self->drag_y0 = y;
  self->drag_mode = DRAG_NONE;
  g_clear_pointer (&self->drag_id, g_free);

  if (self->surface == NULL)
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }

  if (button == GDK_BUTTON_MIDDLE || (button == GDK_BUTTON_PRIMARY && self->space_held))
    {
      self->drag_mode = DRAG_PAN;
      self->drag_offset_x0 = self->offset_x;
      self->drag_offset_y0 = self->offset_y;
    }
  else if (button == GDK_BUTTON_SECONDARY)
    {
      if (self->frame->format != HEPA_PIXEL_GRAY16)
        {
          gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
          return;
        }
      self->drag_mode = DRAG_WINDOW;
      self->drag_wl_center0 = self->wl_center;
      self->drag_wl_width0 = self->wl_width;
    }
  else if (button == GDK_BUTTON_PRIMARY && self->store != NULL)
    {
      const HepaRoi *grabbed = NULL;
      guint edges = hit_handle (self, x, y, &grabbed);

      if (edges != 0)
        {
          roi = grabbed;
          self->drag_mode = DRAG_RESIZE;
          self->drag_edges = edges;
        }
      else if ((roi = hit_roi (self, x, y)) != NULL)
        self->drag_mode = DRAG_MOVE;
      else
        self->drag_mode = DRAG_CREATE;

      if (roi != NULL && self->drag_mode != DRAG_CREATE)
        {
          self->drag_id = g_strdup (roi->id);
          self->drag_rect0 = roi->rect;
          hepa_roi_store_select (self->store, roi->id);
        }
      if (!hepa_roi_store_in_edit (self->store))
        hepa_roi_store_begin_edit (self->store);
    }
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  update_cursor (self);
}

static void
drag_update_cb (HepaCanvas     *self,
                double          dx,
                double          dy,
                GtkGestureDrag *gesture)
{
  double ix0, iy0, ix1, iy1;
  HepaRect r;

  switch (self->drag_mode)
    {
    case DRAG_PAN:
      self->offset_x = self->drag_offset_x0 + dx;
      self->offset_y = self->drag_offset_y0 + dy;
      self->fit = FALSE;
      view_changed (self);
      break;

    case DRAG_WINDOW:
      {
        /* Scaled from the window at the start of the drag, not from 2^bits_stored: 16-bit
         * data with a narrow window moved about 100 times too fast. */
        double scale = MAX (self->drag_wl_width0, 16.0) / 300.0;

        hepa_canvas_set_window_level (self, self->drag_wl_center0 - dy * scale,
                                      MAX (1.0, self->drag_wl_width0 + dx * scale));
      }
      break;

    case DRAG_CREATE:
      if (self->drag_id == NULL && hypot (dx, dy) < DRAG_START)
        break;
      hepa_canvas_widget_to_image (self, self->drag_x0, self->drag_y0, &ix0, &iy0);
      hepa_canvas_widget_to_image (self, self->drag_x0 + dx, self->drag_y0 + dy, &ix1, &iy1);
      r.x = (int) floor (MIN (ix0, ix1));
      r.y = (int) floor (MIN (iy0, iy1));
      r.width = (int) ceil (MAX (ix0, ix1)) - r.x;
      r.height = (int) ceil (MAX (iy0, iy1)) - r.y;
      if (self->drag_id == NULL)
        {
          const char *id = hepa_roi_store_add (self->store, self->frame_index, &r);

          self->drag_id = g_strdup (id);
        }
      else
        hepa_roi_store_set_rect (self->store, self->drag_id, &r);
      break;

    case DRAG_MOVE:
      r = self->drag_rect0;
      r.x += (int) lround (dx / self->zoom);
      r.y += (int) lround (dy / self->zoom);
      /* Moving never shrinks: keep the whole ROI inside the image. */
      r.x = CLAMP (r.x, 0, MAX (0, image_width (self) - r.width));
      r.y = CLAMP (r.y, 0, MAX (0, image_height (self) - r.height));
      hepa_roi_store_set_rect (self->store, self->drag_id, &r);
      break;

    case DRAG_RESIZE:
      {
        int x0 = self->drag_rect0.x, y0 = self->drag_rect0.y;
        int x1 = x0 + self->drag_rect0.width, y1 = y0 + self->drag_rect0.height;
        int mx = (int) lround (dx / self->zoom), my = (int) lround (dy / self->zoom);

        if (self->drag_edges & EDGE_LEFT)
          x0 = MIN (x0 + mx, x1 - HEPA_ROI_MIN_SIZE);
        if (self->drag_edges & EDGE_RIGHT)
          x1 = MAX (x1 + mx, x0 + HEPA_ROI_MIN_SIZE);
        if (self->drag_edges & EDGE_TOP)
          y0 = MIN (y0 + my, y1 - HEPA_ROI_MIN_SIZE);
        if (self->drag_edges & EDGE_BOTTOM)
          y1 = MAX (y1 + my, y0 + HEPA_ROI_MIN_SIZE);
        r.x = x0;
        r.y = y0;
        r.width = x1 - x0;
        r.height = y1 - y0;
        hepa_roi_store_set_rect (self->store, self->drag_id, &r);
      }
      break;

    case DRAG_NONE:
    default:
      break;
    }
}

static void
drag_end_cb (HepaCanvas     *self,
             double          dx,
             double          dy,
             GtkGestureDrag *gesture)
{
  DragMode mode = self->drag_mode;

  self->drag_mode = DRAG_NONE;
  if (mode == DRAG_CREATE && self->drag_id == NULL)
    hepa_roi_store_select (self->store, NULL);  /* a plain click on the image */
  if (self->store != NULL && hepa_roi_store_in_edit (self->store)
      && (mode == DRAG_CREATE || mode == DRAG_MOVE || mode == DRAG_RESIZE))
    hepa_roi_store_end_edit (self->store);
  g_clear_pointer (&self->drag_id, g_free);
  update_cursor (self);
}

static void
drag_cancel_cb (HepaCanvas       *self,
                GdkEventSequence *sequence,
                GtkGesture       *gesture)
{
  drag_end_cb (self, 0, 0, GTK_GESTURE_DRAG (gesture));
}

const char *
hepa_canvas_add_roi_at_center (HepaCanvas *self)
{
  double ix, iy;
  HepaRect r;

  g_return_val_if_fail (HEPA_IS_CANVAS (self), NULL);

  if (self->store == NULL || self->frame == NULL)
    return NULL;
  hepa_canvas_widget_to_image (self, gtk_widget_get_width (GTK_WIDGET (self)) / 2.0,
                               gtk_widget_get_height (GTK_WIDGET (self)) / 2.0, &ix, &iy);
  r.width = MIN (KEY_ROI_SIZE, image_width (self));
  r.height = MIN (KEY_ROI_SIZE, image_height (self));
  r.x = CLAMP ((int) ix - r.width / 2, 0, image_width (self) - r.width);
  r.y = CLAMP ((int) iy - r.height / 2, 0, image_height (self) - r.height);
  return hepa_roi_store_add (self->store, self->frame_index, &r);
}

static gboolean
key_pressed_cb (HepaCanvas            *self,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                GtkEventControllerKey *controller)
{
  const HepaRoi *roi = selected_roi (self);
  gboolean shift = (state & GDK_SHIFT_MASK) != 0;
  gboolean ctrl = (state & GDK_CONTROL_MASK) != 0;
  int step = shift ? 10 : 1;
  int mx = 0, my = 0;
  HepaRect r;

  switch (keyval)
    {
    case GDK_KEY_space:
      self->space_held = TRUE;
      update_cursor (self);
      return TRUE;
    case GDK_KEY_plus:
    case GDK_KEY_equal:
    case GDK_KEY_KP_Add:
      hepa_canvas_zoom_step (self, 1);
      return TRUE;
    case GDK_KEY_minus:
    case GDK_KEY_KP_Subtract:
      hepa_canvas_zoom_step (self, -1);
      return TRUE;
    case GDK_KEY_n:
      if (ctrl || self->store == NULL)
        return FALSE;
      hepa_canvas_add_roi_at_center (self);
      return TRUE;
    case GDK_KEY_r:
      if (ctrl)
        return FALSE;
      hepa_canvas_set_window_level (self, 0, 0);
      return TRUE;
    case GDK_KEY_Escape:
      if (self->store == NULL || hepa_roi_store_get_selected (self->store) == NULL)
        return FALSE;
      hepa_roi_store_select (self->store, NULL);
      return TRUE;
    case GDK_KEY_Left:
      mx = -step;
      break;
    case GDK_KEY_Right:
      mx = step;
      break;
    case GDK_KEY_Up:
      my = -step;
      break;
    case GDK_KEY_Down:
      my = step;
      break;
    default:
      return FALSE;
    }

  /* Alt+arrows move the selected ROI, Alt+Ctrl+arrows resize it, as in other annotation
   * tools; plain arrows always fall through to the window (frame stepping), so a stray arrow
   * never rewrites a region. */
  if ((state & GDK_ALT_MASK) == 0 || roi == NULL || self->store == NULL
      || hepa_roi_store_in_edit (self->store))
    return FALSE;
  r = roi->rect;
  if (ctrl)
    {
      r.width = MAX (HEPA_ROI_MIN_SIZE, r.width + mx);
      r.height = MAX (HEPA_ROI_MIN_SIZE, r.height + my);
    }
  else
    {
      r.x = CLAMP (r.x + mx, 0, MAX (0, image_width (self) - r.width));
      r.y = CLAMP (r.y + my, 0, MAX (0, image_height (self) - r.height));
    }
  hepa_roi_store_set_rect (self->store, roi->id, &r);
  return TRUE;
}

static void
key_released_cb (HepaCanvas            *self,
                 guint                  keyval,
                 guint                  keycode,
                 GdkModifierType        state,
                 GtkEventControllerKey *controller)
{
  if (keyval == GDK_KEY_space)
    {
      self->space_held = FALSE;
      update_cursor (self);
    }
}

static void
focus_leave_cb (HepaCanvas              *self,
                GtkEventControllerFocus *focus)
{
  self->space_held = FALSE;
}

static void
hepa_canvas_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  HepaCanvas *self = HEPA_CANVAS (object);

  switch (prop_id)
    {
    case PROP_ZOOM:
      g_value_set_double (value, self->zoom);
      break;
    case PROP_OVERLAY_VISIBLE:
      g_value_set_boolean (value, self->overlay_visible);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_canvas_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  HepaCanvas *self = HEPA_CANVAS (object);

  switch (prop_id)
    {
    case PROP_OVERLAY_VISIBLE:
      hepa_canvas_set_overlay_visible (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hepa_canvas_dispose (GObject *object)
{
  HepaCanvas *self = HEPA_CANVAS (object);

  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);
  if (self->cache != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->cache, self);
      hepa_frame_cache_set_image (self->cache, NULL);
    }
  g_clear_object (&self->cache);

  G_OBJECT_CLASS (hepa_canvas_parent_class)->dispose (object);
}

static void
hepa_canvas_finalize (GObject *object)
{
  HepaCanvas *self = HEPA_CANVAS (object);

  g_clear_pointer (&self->surface, cairo_surface_destroy);
  g_clear_pointer (&self->scaled, cairo_surface_destroy);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->overlay, cairo_surface_destroy);
  g_clear_object (&self->overlay_texture);
  g_clear_pointer (&self->image_node, gsk_render_node_unref);
  g_clear_pointer (&self->overlay_node, gsk_render_node_unref);
  g_clear_pointer (&self->overlay_map, g_free);
  g_clear_pointer (&self->image, hepa_image_unref);
  g_clear_pointer (&self->classes, g_strfreev);
  g_clear_pointer (&self->drag_id, g_free);

  G_OBJECT_CLASS (hepa_canvas_parent_class)->finalize (object);
}

static void
hepa_canvas_class_init (HepaCanvasClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_canvas_dispose;
  object_class->finalize = hepa_canvas_finalize;
  object_class->get_property = hepa_canvas_get_property;
  object_class->set_property = hepa_canvas_set_property;

  widget_class->snapshot = hepa_canvas_snapshot;
  widget_class->size_allocate = hepa_canvas_size_allocate;
  widget_class->measure = hepa_canvas_measure;

  properties[PROP_ZOOM] =
    g_param_spec_double ("zoom", NULL, NULL, HEPA_CANVAS_ZOOM_MIN, HEPA_CANVAS_ZOOM_MAX, 1.0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_OVERLAY_VISIBLE] =
    g_param_spec_boolean ("overlay-visible", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * HepaCanvas::pointer-moved:
   * @x: image x of the pointer (fractional; floor gives the pixel)
   * @y: image y
   * @inside: FALSE when the pointer left the canvas
   */
  signals[SIGNAL_POINTER_MOVED] =
    g_signal_new ("pointer-moved", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_DOUBLE, G_TYPE_DOUBLE, G_TYPE_BOOLEAN);
  signals[SIGNAL_VIEW_CHANGED] =
    g_signal_new ("view-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);

  /**
   * HepaCanvas::window-level-changed:
   *
   * The window/level of GRAY16 frames changed (a drag, a preset, a new image).
   */
  signals[SIGNAL_WINDOW_LEVEL_CHANGED] =
    g_signal_new ("window-level-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_css_name (widget_class, "hepacanvas");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
hepa_canvas_init (HepaCanvas *self)
{
  GtkEventController *controller;

  self->zoom = 1.0;
  self->fit = TRUE;
  self->overlay_visible = TRUE;
  self->overlay_opacity = 0.45;
  self->cmap = HEPA_COLORMAP_INFERNO;
  self->scale = HEPA_OVERLAY_SCALE_PER_ROI;
  self->cache = hepa_frame_cache_new (FRAME_CACHE_BYTES);
  g_signal_connect_swapped (self->cache, "ready", G_CALLBACK (cache_ready_cb), self);

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "crosshair");

  self->drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (self->drag), 0);
  g_signal_connect_swapped (self->drag, "drag-begin", G_CALLBACK (drag_begin_cb), self);
  g_signal_connect_swapped (self->drag, "drag-update", G_CALLBACK (drag_update_cb), self);
  g_signal_connect_swapped (self->drag, "drag-end", G_CALLBACK (drag_end_cb), self);
  g_signal_connect_swapped (self->drag, "cancel", G_CALLBACK (drag_cancel_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (self->drag));

  controller = gtk_event_controller_motion_new ();
  g_signal_connect_swapped (controller, "motion", G_CALLBACK (motion_cb), self);
  g_signal_connect_swapped (controller, "enter", G_CALLBACK (motion_cb), self);
  g_signal_connect_swapped (controller, "leave", G_CALLBACK (leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect_swapped (controller, "scroll", G_CALLBACK (scroll_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_key_new ();
  g_signal_connect_swapped (controller, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  g_signal_connect_swapped (controller, "key-released", G_CALLBACK (key_released_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_focus_new ();
  g_signal_connect_swapped (controller, "leave", G_CALLBACK (focus_leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Image and regions of interest"),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  _("Drag to draw a region, N adds one, arrows move it, "
                                    "number keys label it"),
                                  -1);
}

GtkWidget *
hepa_canvas_new (void)
{
  return g_object_new (HEPA_TYPE_CANVAS, NULL);
}

/* ---- Teaching (issue 24) ---------------------------------------------------------------- */

void
hepa_canvas_set_hide_labels (HepaCanvas *self,
                             gboolean    hide)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));
  if (self->hide_labels == !!hide)
    return;
  self->hide_labels = !!hide;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
hepa_canvas_get_hide_labels (HepaCanvas *self)
{
  g_return_val_if_fail (HEPA_IS_CANVAS (self), FALSE);
  return self->hide_labels;
}

void
hepa_canvas_set_line_scale (HepaCanvas *self,
                            double      scale)
{
  g_return_if_fail (HEPA_IS_CANVAS (self));
  self->line_scale = CLAMP (scale, 0.5, 4.0);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}
