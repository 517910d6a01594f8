/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The folder of the bundled demo study, or NULL when it is not installed (transfer full). */
char *hepa_demo_find_dir         (void);
/* The demo study as the user works on it: a copy in <user data>/hepascope/demo, made (or
 * completed) from the installed one, so that regions drawn on it never touch the source tree or
 * the installed files. Files already in the copy are kept. Returns its folder (transfer full). */
char *hepa_demo_copy_to_user_dir (GError **error);

G_END_DECLS
