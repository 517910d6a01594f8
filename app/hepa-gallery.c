/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-gallery.h"

#include "hepa-caseset.h"
#include "hepa-synth.h"
#include "hepa-window-private.h"

#include <glib/gi18n.h>

#define N_CLASSES 5
#define THUMB 160

struct _HepaGallery
{
  GtkWindow      parent_instance;

  GtkWidget     *classes_grid;
  GtkAdjustment *contrast_adjustment;
  GtkWidget     *count_spin;
  GtkWidget     *status_label;
  GtkWidget     *make_button;

  GtkWidget     *pictures[N_CLASSES];
  guint          generation;     /* new examples: the next phantom index */
  GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE (HepaGallery, hepa_gallery, GTK_TYPE_WINDOW)

/* What the generator (core/hepa-synth.c) gives each class, in its own terms: echo level against
 * the liver, margin, what happens behind the lesion, halo. */
static const char *
class_features (guint klass)
{
  switch (klass)
    {
    case 0:
      return N_("No focal lesion: a box of parenchyma; vessels and portal triads may cross it.");
    case 1:
      return N_("Cyst: anechoic (−42 to −30 dB), thin bright wall, smooth round margin; fluid barely "
                "attenuates, so posterior enhancement, with refractive edge shadows.");
    case 2:
      return N_("Hemangioma: hyperechoic (+7 to +13 dB over liver), homogeneous, well defined, "
                "lobulated margin; posterior enhancement in about 4 of 10.");
    case 3:
      return N_("Focal fatty sparing: slightly hypoechoic (−3 to 0 dB) geographic area with straight "
                "or angular margins, no mass effect, a vessel running through; fatty liver around.");
    case 4:
      return N_("HCC: hypoechoic (7 to 12 dB under liver), larger ones a mosaic with septa, irregular "
                "margin; a hypoechoic halo (capsule) in 3 of 4 with lateral shadows.");
    default:
      return "";
    }
}

/* The lesion's neighbourhood as an RGB texture, THUMB pixels square. */
static GdkTexture *
render_example (guint    klass,
                guint    index,
                double   contrast,
                GError **error)
{
  g_autofree guint8 *gray = NULL;
  g_autoptr(GBytes) bytes = NULL;
  HepaSynthInfo info;
  HepaSynthParams params;
  guint8 *rgb;
  int cx, cy, side;

  if (!hepa_case_phantom_render ((int) klass, 2024, index, contrast, &gray, &info, error))
    return NULL;
  hepa_synth_params_init (&params, (HepaSynthClass) klass, 2024, index);
  side = MAX (MAX (info.roi.width, info.roi.height) * 2, 64);
  cx = info.roi.x + info.roi.width / 2;
  cy = info.roi.y + info.roi.height / 2;
  rgb = g_malloc ((gsize) THUMB * THUMB * 3);
  for (int y = 0; y < THUMB; y++)
    for (int x = 0; x < THUMB; x++)
      {
        int sx = cx - side / 2 + x * side / THUMB, sy = cy - side / 2 + y * side / THUMB;
        guint8 v = sx >= 0 && sy >= 0 && sx < params.width && sy < params.height
                   ? gray[(gsize) sy * params.width + sx] : 0;
        guint8 *p = rgb + ((gsize) y * THUMB + x) * 3;

        p[0] = p[1] = p[2] = v;
      }
  bytes = g_bytes_new_take (rgb, (gsize) THUMB * THUMB * 3);
  return gdk_memory_texture_new (THUMB, THUMB, GDK_MEMORY_R8G8B8, bytes, THUMB * 3);
}

static void
refresh_examples (HepaGallery *self)
{
  double contrast = gtk_adjustment_get_value (self->contrast_adjustment);

  for (guint k = 0; k < N_CLASSES; k++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkTexture) texture = render_example (k, self->generation, contrast, &error);

      if (texture == NULL)
        {
          gtk_label_set_text (GTK_LABEL (self->status_label), error->message);
          continue;
        }
      gtk_picture_set_paintable (GTK_PICTURE (self->pictures[k]), GDK_PAINTABLE (texture));
    }
}

static void
new_examples_cb (HepaGallery *self)
{
  self->generation++;
  refresh_examples (self);
}

static void
make_response_cb (HepaGallery          *self,
                  int                   response,
                  GtkFileChooserNative *chooser)
{
  g_autoptr(GFile) folder = NULL;
  g_autofree char *parent = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *name = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GError) error = NULL;
  guint n = (guint) gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->count_spin));
  double contrast = gtk_adjustment_get_value (self->contrast_adjustment);
  guint64 seed = (guint64) g_get_real_time ();
  GtkWindow *workbench = gtk_window_get_transient_for (GTK_WINDOW (self));

  if (response != GTK_RESPONSE_ACCEPT)
    {
      g_clear_object (&self->chooser);
      return;
    }
  folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_clear_object (&self->chooser);
  parent = folder != NULL ? g_file_get_path (folder) : NULL;
  if (parent == NULL)
    return;
  name = g_date_time_format (now, "phantoms-%Y%m%d-%H%M%S");
  dir = g_build_filename (parent, name, NULL);
  if (!hepa_case_set_make_phantoms (dir, n, contrast, seed, &error))
    {
      gtk_label_set_text (GTK_LABEL (self->status_label), error->message);
      return;
    }
  if (workbench != NULL && HEPA_IS_WINDOW (workbench))
    hepa_window_start_case_set (HEPA_WINDOW (workbench), dir, TRUE, seed);
  gtk_window_close (GTK_WINDOW (self));
}

static void
make_clicked_cb (HepaGallery *self)
{
  g_clear_object (&self->chooser);
  self->chooser = gtk_file_chooser_native_new (_("Folder for the Case Set"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                               _("_Make"), _("_Cancel"));
  g_signal_connect_swapped (self->chooser, "response", G_CALLBACK (make_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
hepa_gallery_dispose (GObject *object)
{
  HepaGallery *self = HEPA_GALLERY (object);

  g_clear_object (&self->chooser);
  G_OBJECT_CLASS (hepa_gallery_parent_class)->dispose (object);
}

static void
hepa_gallery_class_init (HepaGalleryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hepa_gallery_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/hepascope/Hepascope/hepa-gallery.ui");
  gtk_widget_class_bind_template_child (widget_class, HepaGallery, classes_grid);
  gtk_widget_class_bind_template_child (widget_class, HepaGallery, contrast_adjustment);
  gtk_widget_class_bind_template_child (widget_class, HepaGallery, count_spin);
  gtk_widget_class_bind_template_child (widget_class, HepaGallery, status_label);
  gtk_widget_class_bind_template_child (widget_class, HepaGallery, make_button);
  gtk_widget_class_bind_template_callback (widget_class, new_examples_cb);
  gtk_widget_class_bind_template_callback (widget_class, make_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
hepa_gallery_init (HepaGallery *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  for (guint k = 0; k < N_CLASSES; k++)
    {
      GtkWidget *name = gtk_label_new (hepa_synth_class_name ((HepaSynthClass) k));
      GtkWidget *text = gtk_label_new (_(class_features (k)));

      gtk_widget_add_css_class (name, "heading");
      gtk_label_set_xalign (GTK_LABEL (name), 0);
      gtk_label_set_wrap (GTK_LABEL (text), TRUE);
      gtk_label_set_xalign (GTK_LABEL (text), 0);
      gtk_widget_set_hexpand (text, TRUE);
      self->pictures[k] = gtk_picture_new ();
      gtk_widget_set_size_request (self->pictures[k], THUMB, THUMB);
      gtk_grid_attach (GTK_GRID (self->classes_grid), name, 0, k, 1, 1);
      gtk_grid_attach (GTK_GRID (self->classes_grid), self->pictures[k], 1, k, 1, 1);
      gtk_grid_attach (GTK_GRID (self->classes_grid), text, 2, k, 1, 1);
    }
  refresh_examples (self);
}

HepaGallery *
hepa_gallery_new (GtkWindow *parent)
{
  return g_object_new (HEPA_TYPE_GALLERY, "transient-for", parent, NULL);
}
