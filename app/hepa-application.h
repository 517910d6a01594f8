/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-engine.h"
#include "hepa-model.h"

G_BEGIN_DECLS

/* A loaded model and its engine, shared by the windows and kept alive by in-flight work. */
typedef struct
{
  HepaModel  *model;
  HepaEngine *engine;
  char       *path;
} HepaModelHandle;

HepaModelHandle *hepa_model_handle_ref   (HepaModelHandle *self);
void             hepa_model_handle_unref (HepaModelHandle *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaModelHandle, hepa_model_handle_unref)

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
/* The folder of the bundled demo study, or NULL when it is not installed (transfer full). */
char            *hepa_application_find_demo_dir  (void);
/* GSettings for the app, or NULL when the schema is not installed (running uninstalled). */
GSettings       *hepa_application_get_settings   (HepaApplication *self);
/* HEPASCOPE_DEBUG contains @flag ("timing"). */
gboolean         hepa_debug_enabled              (const char      *flag);

G_END_DECLS
