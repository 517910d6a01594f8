/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Presentation mode for teaching (issue 24): full screen (F11), larger type and thicker ROI lines
 * (Ctrl+Shift+P), the side panel collapsible (F9), and a blind switch (Ctrl+B) that hides labels
 * and file names from the screen. Actions on the window, attached from outside as
 * hepa-window-actions.c does. */
#pragma once

#include "hepa-window.h"

G_BEGIN_DECLS

void hepa_presentation_attach (HepaWindow *self);

G_END_DECLS
