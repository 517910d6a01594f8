/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The archives Hepascope talks to (issue 23 item 1), as kept in GSettings (pacs-nodes,
 * pacs-node, pacs-our-aet, pacs-our-port), and the Preferences section that edits them: add,
 * remove, and Verify (C-ECHO) with one line of result per node. */
#pragma once

#include <gtk/gtk.h>

#include "hepa-pacs.h"

G_BEGIN_DECLS

/* The nodes of @settings with our AE title and, for nodes set to retrieve with C-MOVE, our
 * storage port (else our_port 0: C-GET). (element-type HepaPacsNode) (transfer full) */
GPtrArray    *hepa_pacs_nodes_from_settings (GSettings   *settings);
/* Appends a node after checking it (one error line: the AE title, host or port at fault). */
gboolean      hepa_pacs_nodes_add          (GSettings   *settings,
                                            const char  *aet,
                                            const char  *host,
                                            int          port,
                                            gboolean     move,
                                            GError     **error);
void          hepa_pacs_nodes_remove       (GSettings   *settings,
                                            guint        index);

#define HEPA_TYPE_PACS_NODES (hepa_pacs_nodes_get_type ())
G_DECLARE_FINAL_TYPE (HepaPacsNodes, hepa_pacs_nodes, HEPA, PACS_NODES, GtkBox)

/* The Preferences section over @settings. Its controls are named for tests: "pacs-our-aet",
 * "pacs-our-port", "pacs-add-aet", "pacs-add-host", "pacs-add-port", "pacs-add-move",
 * "pacs-add", "pacs-add-error", and per node N "pacs-verify-N", "pacs-remove-N",
 * "pacs-result-N". */
GtkWidget    *hepa_pacs_nodes_new          (GSettings   *settings);

G_END_DECLS
