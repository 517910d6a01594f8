/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-demo.h"

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
