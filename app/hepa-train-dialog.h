/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Train from the workbench: the current study's labeled regions (and optionally more folders)
 * are exported to a private tree, a model is trained on a worker at a lowered priority with a
 * progress bar, an ETA and live loss curves, and at the end the report is shown with "Use this
 * model", which moves the model into the library and says so ("model-adopted"). Cancel leaves a
 * checkpoint; Resume continues from it. */
#pragma once

#include <gtk/gtk.h>

#include "hepa-train.h"

G_BEGIN_DECLS

typedef enum
{
  HEPA_TRAIN_PRESET_QUICK,     /* resnet18, 64 px, 3 epochs, one model: a quick check */
  HEPA_TRAIN_PRESET_PAPER,     /* resnet50, 224 px, 30 epochs, 5-fold CV then a final model */
  HEPA_TRAIN_PRESET_FINETUNE,  /* the current model's network and size, from its weights */
} HepaTrainPreset;

#define HEPA_TYPE_TRAIN_DIALOG (hepa_train_dialog_get_type ())
G_DECLARE_FINAL_TYPE (HepaTrainDialog, hepa_train_dialog, HEPA, TRAIN_DIALOG, GtkWindow)

/* @study_paths: the study's image files (NULL-terminated, may be empty); @current_model
 * (nullable): the model the workbench uses, for "fine-tune". */
HepaTrainDialog *hepa_train_dialog_new        (GtkWindow          *parent,
                                               const char *const  *study_paths,
                                               const char         *current_model);
/* GAction-ready: makes the dialog and presents it. (transfer none): the window owns it. */
HepaTrainDialog *hepa_train_dialog_present    (GtkWindow          *parent,
                                               const char *const  *study_paths,
                                               const char         *current_model);

void             hepa_train_dialog_set_preset (HepaTrainDialog    *self,
                                               HepaTrainPreset     preset);
void             hepa_train_dialog_add_folder (HepaTrainDialog    *self,
                                               const char         *folder);
/* The options the widgets show (transfer none; valid until the next change). */
const HepaTrainOptions *hepa_train_dialog_get_options (HepaTrainDialog *self);
/* Sets the widgets from @opts (arch, size, epochs, folds and every expander option). */
void             hepa_train_dialog_set_options (HepaTrainDialog        *self,
                                                const HepaTrainOptions *opts);

/* The Train button (Resume when a cancelled run left a checkpoint). */
void             hepa_train_dialog_start      (HepaTrainDialog    *self);
void             hepa_train_dialog_cancel     (HepaTrainDialog    *self);
gboolean         hepa_train_dialog_is_running (HepaTrainDialog    *self);
/* The last run's result (NULL before one finished); interrupted after a cancel. */
const HepaTrainResult *hepa_train_dialog_get_result (HepaTrainDialog *self);
/* The last failure's message, or NULL. */
const char      *hepa_train_dialog_get_error  (HepaTrainDialog    *self);
/* "Use this model": moves the trained model into the library and emits "model-adopted" with
 * its path there. */
gboolean         hepa_train_dialog_adopt      (HepaTrainDialog    *self,
                                               GError            **error);

G_END_DECLS
