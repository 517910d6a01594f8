/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

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

#define HEPA_TYPE_MODEL_HANDLE (hepa_model_handle_get_type ())
GType            hepa_model_handle_get_type (void) G_GNUC_CONST;
/* Takes @model and @engine. */
HepaModelHandle *hepa_model_handle_new      (HepaModel       *model,
                                             HepaEngine      *engine,
                                             const char      *path);
HepaModelHandle *hepa_model_handle_ref      (HepaModelHandle *self);
void             hepa_model_handle_unref    (HepaModelHandle *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaModelHandle, hepa_model_handle_unref)

G_END_DECLS
