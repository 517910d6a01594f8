/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "hepa-document.h"

G_BEGIN_DECLS

/* Closing with regions that could not be written (a full disk, a folder gone read-only): asks,
 * and saves them to the workspace folder or to a place the user picks; a write that fails again
 * asks again. Nothing a user drew is dropped without this question. */

typedef enum
{
  HEPA_SAVE_DIALOG_CANCELLED,  /* keep the window open */
  HEPA_SAVE_DIALOG_SAVED,      /* written: close */
  HEPA_SAVE_DIALOG_DISCARDED,  /* the user chose to lose them: close */
} HepaSaveDialogOutcome;

typedef void (*HepaSaveDialogDone) (HepaSaveDialogOutcome outcome,
                                    gpointer              user_data);

void hepa_save_dialog_ask (GtkWindow          *parent,
                           HepaDocument       *document,
                           HepaSaveDialogDone  done,
                           gpointer            user_data);

G_END_DECLS
