/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Query and retrieve (issue 23 item 2): C-FIND at study level by patient name and ID, dates,
 * accession and modality; the series of the chosen study; retrieve the study (or the chosen
 * series) into the local cache with C-GET, or C-MOVE where the node is set so, with a progress
 * bar and Cancel. A retrieved study is announced with ::study-retrieved (the folder).
 * Patient data is shown, never logged. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define HEPA_TYPE_PACS_DIALOG (hepa_pacs_dialog_get_type ())
G_DECLARE_FINAL_TYPE (HepaPacsDialog, hepa_pacs_dialog, HEPA, PACS_DIALOG, GtkWindow)

/* Its controls are named for tests (see hepa-pacs-dialog.ui): "pacs-node", "pacs-patient-name",
 * "pacs-patient-id", "pacs-date-from", "pacs-date-to", "pacs-accession", "pacs-modality",
 * "pacs-find", "pacs-studies", "pacs-series", "pacs-status", "pacs-progress", "pacs-cancel",
 * "pacs-retrieve". */
HepaPacsDialog *hepa_pacs_dialog_new          (GtkWindow      *parent,
                                               GSettings      *settings);
/* TRUE while a find or retrieve is under way. */
gboolean        hepa_pacs_dialog_get_busy     (HepaPacsDialog *self);
/* The studies (or series of the chosen study) the last find gave. */
guint           hepa_pacs_dialog_get_n_studies (HepaPacsDialog *self);
guint           hepa_pacs_dialog_get_n_series  (HepaPacsDialog *self);

G_END_DECLS
