/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-model-handle.h"

G_DEFINE_BOXED_TYPE (HepaModelHandle, hepa_model_handle, hepa_model_handle_ref,
                     hepa_model_handle_unref)

static void
model_handle_clear (HepaModelHandle *self)
{
  g_clear_pointer (&self->engine, hepa_engine_free);
  g_clear_pointer (&self->model, hepa_model_unref);
  g_clear_pointer (&self->path, g_free);
}

HepaModelHandle *
hepa_model_handle_new (HepaModel  *model,
                       HepaEngine *engine,
                       const char *path)
{
  HepaModelHandle *self = g_atomic_rc_box_new0 (HepaModelHandle);

  self->model = model;
  self->engine = engine;
  self->path = g_strdup (path);
  return self;
}

HepaModelHandle *
hepa_model_handle_ref (HepaModelHandle *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
hepa_model_handle_unref (HepaModelHandle *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) model_handle_clear);
}
