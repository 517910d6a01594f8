/* SPDX-License-Identifier: GPL-3.0-or-later */
/* make-ui-fixtures DIR [resnet50]: writes DIR/phantom-<class>.png for the five classes and
 * DIR/random-model.safetensors (ResNet18 at 64, or ResNet50 at 224 for timing), seeded random
 * weights, for trying the workbench by hand. */
#include "config.h"

#include "hepa-ui-fixtures.h"

#include <stdio.h>

int
main (int    argc,
      char **argv)
{
  static const char *classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc" };
  g_autoptr(GError) error = NULL;
  g_autofree char *model = NULL;

  gboolean r50 = argc == 3 && g_str_equal (argv[2], "resnet50");

  if (argc != 2 && !r50)
    {
      fprintf (stderr, "usage: make-ui-fixtures DIR [resnet50]\n");
      return 1;
    }
  g_mkdir_with_parents (argv[1], 0755);
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    {
      g_autofree char *name = g_strdup_printf ("phantom-%s.png", classes[i]);
      g_autofree char *path = g_build_filename (argv[1], name, NULL);

      if (!hepa_ui_fixture_write_phantom (path, classes[i], 7 + i, NULL, &error))
        {
          fprintf (stderr, "make-ui-fixtures: %s: %s\n", path, error->message);
          return 1;
        }
    }
  model = g_build_filename (argv[1], "random-model.safetensors", NULL);
  if (!hepa_ui_fixture_write_model_full (model, r50 ? HEPA_ARCH_RESNET50 : HEPA_ARCH_RESNET18,
                                         r50 ? 224 : 64, &error))
    {
      fprintf (stderr, "make-ui-fixtures: %s: %s\n", model, error->message);
      return 1;
    }
  return 0;
}
