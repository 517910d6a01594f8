/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-application.h"

#include <glib/gi18n.h>
#include <locale.h>

int
main (int    argc,
      char **argv)
{
  g_autoptr(HepaApplication) app = NULL;

  setlocale (LC_ALL, "");
  /* Uninstalled (meson devenv, build-aux/run.sh): the catalogues compiled into the build. */
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("HEPASCOPE_LOCALEDIR") ? g_getenv ("HEPASCOPE_LOCALEDIR")
                                                                     : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = hepa_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
