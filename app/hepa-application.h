/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-model-handle.h"

G_BEGIN_DECLS

#define HEPA_TYPE_APPLICATION (hepa_application_get_type ())
G_DECLARE_FINAL_TYPE (HepaApplication, hepa_application, HEPA, APPLICATION, GtkApplication)

HepaApplication *hepa_application_new            (void);
/* The current model, or NULL while none is loaded (transfer none). */
HepaModelHandle *hepa_application_get_model      (HepaApplication *self);
/* TRUE while a model is being loaded. */
gboolean         hepa_application_get_loading    (HepaApplication *self);
/* Why there is no model (a missing default, a load error), or NULL. */
const char      *hepa_application_get_model_error (HepaApplication *self);
/* Loads @path (NULL: the default model) in a worker; "notify::model" fires when done. */
void             hepa_application_load_model     (HepaApplication *self,
                                                  const char      *path);
/* GSettings for the app, or NULL when the schema is not installed (running uninstalled). */
GSettings       *hepa_application_get_settings   (HepaApplication *self);

G_END_DECLS
