/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The folder of the bundled demo study, or NULL when it is not installed (transfer full). */
char *hepa_demo_find_dir (void);

G_END_DECLS
