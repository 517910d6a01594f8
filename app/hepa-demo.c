/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-demo.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gi18n.h>

char *
hepa_demo_find_dir (void)
{
  g_autofree char *source = g_build_filename (HEPA_SOURCE_DATADIR, "samples", NULL);
  g_autofree char *installed = g_build_filename (PKGDATADIR, "samples", NULL);
  const char *candidates[] = { g_getenv ("HEPASCOPE_DEMO_DIR"), source, installed };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autoptr(GDir) dir = NULL;
      const char *name;

      if (candidates[i] == NULL)
        continue;
      dir = g_dir_open (candidates[i], 0, NULL);
      if (dir == NULL)
        continue;
      /* A folder with only a README is not a study. */
      while ((name = g_dir_read_name (dir)) != NULL)
        if (!g_str_has_suffix (name, ".json") && !g_str_has_suffix (name, ".md")
            && name[0] != '.')
          return g_strdup (candidates[i]);
    }
  return NULL;
}

char *
hepa_demo_copy_to_user_dir (GError **error)
{
  g_autofree char *source = hepa_demo_find_dir ();
  g_autofree char *dest = g_build_filename (g_get_user_data_dir (), "hepascope", "demo", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (source == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("The demo study is not installed (data/samples)."));
      return NULL;
    }
  if (g_mkdir_with_parents (dest, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Could not copy the demo study to %s: %s"), dest, g_strerror (saved));
      return NULL;
    }
  dir = g_dir_open (source, 0, error);
  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *from_path = g_build_filename (source, name, NULL);
      g_autofree char *to_path = g_build_filename (dest, name, NULL);
      g_autoptr(GFile) from = g_file_new_for_path (from_path);
      g_autoptr(GFile) to = g_file_new_for_path (to_path);
      g_autoptr(GError) local = NULL;

      /* Files only; one already in the copy is the user's (their regions): it stays. */
      if (!g_file_test (from_path, G_FILE_TEST_IS_REGULAR)
          || g_file_test (to_path, G_FILE_TEST_EXISTS))
        continue;
      if (!g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, &local))
        {
          g_set_error (error, G_IO_ERROR, local->code, _("Could not copy the demo study to %s: %s"),
                       dest, local->message);
          return NULL;
        }
    }
  return g_steal_pointer (&dest);
}
