/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-list-sync.h"

#define KEY_DATA "hepa-list-sync-key"

const char *
hepa_list_box_row_get_key (GtkListBoxRow *row)
{
  g_return_val_if_fail (GTK_IS_LIST_BOX_ROW (row), NULL);
  return g_object_get_data (G_OBJECT (row), KEY_DATA);
}

guint
hepa_list_box_sync (GtkListBox      *list,
                    guint            n_items,
                    HepaListKeyFunc  key_func,
                    HepaListRowFunc  row_func,
                    gpointer         user_data)
{
  GtkListBoxRow *row;
  guint built = 0;

  g_return_val_if_fail (GTK_IS_LIST_BOX (list), 0);
  g_return_val_if_fail (key_func != NULL && row_func != NULL, 0);

  for (guint i = 0; i < n_items; i++)
    {
      g_autofree char *key = key_func (i, user_data);
      GtkWidget *widget;

      row = gtk_list_box_get_row_at_index (list, (int) i);
      if (row != NULL && g_strcmp0 (hepa_list_box_row_get_key (row), key) == 0)
        continue;
      if (row != NULL)
        gtk_list_box_remove (list, GTK_WIDGET (row));
      widget = row_func (i, user_data);
      /* GtkListBox wraps a child that is not a row in one; the key goes on the row. */
      gtk_list_box_insert (list, widget, (int) i);
      row = gtk_list_box_get_row_at_index (list, (int) i);
      g_object_set_data_full (G_OBJECT (row), KEY_DATA, g_steal_pointer (&key), g_free);
      built++;
    }
  while ((row = gtk_list_box_get_row_at_index (list, (int) n_items)) != NULL)
    gtk_list_box_remove (list, GTK_WIDGET (row));
  return built;
}
