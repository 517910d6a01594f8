/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window's archive and export actions (issue 23): Save view as PNG, Copy view, Query and
 * retrieve from a PACS. Attached by whoever makes the window, after hepa_window_actions_attach. */
#pragma once

#include "hepa-window.h"

G_BEGIN_DECLS

void hepa_window_archive_attach (HepaWindow *self);

G_END_DECLS
