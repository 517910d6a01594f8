/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Files the UI tests generate: a phantom image and a model with seeded random weights. */
#pragma once

#include <cairo.h>
#include <glib.h>

#include "hepa-model.h"

G_BEGIN_DECLS

/* Writes a 640x480 phantom of @klass ("hemangioma", ...) as PNG to @path; the lesion's box is
 * stored in @truth (x, y, width, height) when non-NULL. */
gboolean hepa_ui_fixture_write_phantom (const char  *path,
                                        const char  *klass,
                                        guint64      seed,
                                        int         *truth,
                                        GError     **error);
/* Writes a ResNet18 with seeded random weights and a card that says so (the five default
 * classes, input 64) as safetensors. Its answers are real inference but mean nothing. */
gboolean hepa_ui_fixture_write_model   (const char  *path,
                                        GError     **error);

/* The same with another architecture and input size (ResNet50 at 224 for timing). */
gboolean hepa_ui_fixture_write_model_full (const char  *path,
                                           HepaArch     arch,
                                           int          input_size,
                                           GError     **error);

/* The largest difference of any channel between two image surfaces of the same size (the test
 * fails when the sizes differ); RGB24's undefined top byte is not compared. */
int      hepa_ui_fixture_max_difference   (cairo_surface_t *a,
                                           cairo_surface_t *b);

G_END_DECLS
