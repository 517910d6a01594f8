/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Brings a GtkListBox's rows in line with a list of items, rebuilding only the rows whose
 * contents changed: each row carries a key (a string of everything it shows), and a row whose
 * key is unchanged at its position is kept as it is. An edit of one item then builds and lays
 * out one row, not the whole list. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The key of item @index: (transfer full). */
typedef char      *(*HepaListKeyFunc)  (guint    index,
                                        gpointer user_data);
/* A new row for item @index: (transfer floating). */
typedef GtkWidget *(*HepaListRowFunc)  (guint    index,
                                        gpointer user_data);

/* Makes @list hold @n_items rows, item i at position i. Returns how many rows were built. */
guint        hepa_list_box_sync        (GtkListBox      *list,
                                        guint            n_items,
                                        HepaListKeyFunc  key_func,
                                        HepaListRowFunc  row_func,
                                        gpointer         user_data);
/* The key a row was built with (transfer none), NULL for a row the sync did not build. */
const char  *hepa_list_box_row_get_key (GtkListBoxRow   *row);

G_END_DECLS
