/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-model-handle.h"

G_BEGIN_DECLS

/* "About This Model": the model card's facts and the whole card (hepa-model-card-dialog.ui). */

#define HEPA_TYPE_MODEL_CARD_DIALOG (hepa_model_card_dialog_get_type ())
G_DECLARE_FINAL_TYPE (HepaModelCardDialog, hepa_model_card_dialog, HEPA, MODEL_CARD_DIALOG,
                      GtkWindow)

GtkWidget *hepa_model_card_dialog_new (GtkWindow       *parent,
                                       HepaModelHandle *model);

G_END_DECLS
