/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The phantom gallery (issue 24): each class's textbook features as the generator makes them,
 * freshly generated examples, a lesion-contrast difficulty slider, and one click to make a case
 * set of N phantoms per class and start working through it. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define HEPA_TYPE_GALLERY (hepa_gallery_get_type ())
G_DECLARE_FINAL_TYPE (HepaGallery, hepa_gallery, HEPA, GALLERY, GtkWindow)

HepaGallery *hepa_gallery_new (GtkWindow *parent);

G_END_DECLS
