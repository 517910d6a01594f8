/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-list-sync.h"

#include <gtk/gtk.h>

static char *
key_cb (guint    index,
        gpointer user_data)
{
  return g_strdup (((const char *const *) user_data)[index]);
}

static GtkWidget *
row_cb (guint    index,
        gpointer user_data)
{
  return gtk_label_new (((const char *const *) user_data)[index]);
}

static guint
sync_rows (GtkListBox        *list,
           const char *const *items)
{
  return hepa_list_box_sync (list, g_strv_length ((char **) items), key_cb, row_cb,
                             (gpointer) items);
}

/* The rows show @items in order, one each. */
static void
assert_rows (GtkListBox        *list,
             const char *const *items)
{
  guint n = g_strv_length ((char **) items);

  for (guint i = 0; i < n; i++)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (list, (int) i);

      g_assert_nonnull (row);
      g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (gtk_list_box_row_get_child (row))), ==,
                       items[i]);
      g_assert_cmpstr (hepa_list_box_row_get_key (row), ==, items[i]);
    }
  g_assert_null (gtk_list_box_get_row_at_index (list, (int) n));
}

static void
test_sync (void)
{
  GtkWidget *list = g_object_ref_sink (gtk_list_box_new ());
  GtkListBox *box = GTK_LIST_BOX (list);
  const char *const abc[] = { "a", "b", "c", NULL };
  const char *const aBc[] = { "a", "B", "c", NULL };
  const char *const aBcd[] = { "a", "B", "c", "d", NULL };
  const char *const ab[] = { "a", "B", NULL };
  const char *const none[] = { NULL };
  GtkListBoxRow *first, *third;

  g_assert_cmpuint (sync_rows (box, abc), ==, 3);
  assert_rows (box, abc);
  first = gtk_list_box_get_row_at_index (box, 0);
  third = gtk_list_box_get_row_at_index (box, 2);

  /* Nothing changed: nothing is built, the rows are the same widgets. */
  g_assert_cmpuint (sync_rows (box, abc), ==, 0);
  g_assert_true (gtk_list_box_get_row_at_index (box, 0) == first);
  g_assert_true (gtk_list_box_get_row_at_index (box, 2) == third);

  /* One item changed: only its row is built again. */
  g_assert_cmpuint (sync_rows (box, aBc), ==, 1);
  assert_rows (box, aBc);
  g_assert_true (gtk_list_box_get_row_at_index (box, 0) == first);
  g_assert_true (gtk_list_box_get_row_at_index (box, 2) == third);

  /* Growing adds at the end; shrinking drops the rows past the end. */
  g_assert_cmpuint (sync_rows (box, aBcd), ==, 1);
  assert_rows (box, aBcd);
  g_assert_true (gtk_list_box_get_row_at_index (box, 2) == third);
  g_assert_cmpuint (sync_rows (box, ab), ==, 0);
  assert_rows (box, ab);
  g_assert_cmpuint (sync_rows (box, none), ==, 0);
  assert_rows (box, none);

  /* A selected row that is rebuilt leaves no selection behind on a removed widget. */
  sync_rows (box, abc);
  gtk_list_box_select_row (box, gtk_list_box_get_row_at_index (box, 1));
  sync_rows (box, aBc);
  g_assert_null (gtk_list_box_get_selected_row (box));

  g_assert_finalize_object (list);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/list-sync/sync", test_sync);
  return g_test_run ();
}
