/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* HEPASCOPE_DEBUG, parsed once with g_parse_debug_string ("timing,view", "all", "help"). */
typedef enum
{
  HEPA_DEBUG_TIMING = 1 << 0,  /* timing lines (tests/ui/bench-*.sh parse them) */
  HEPA_DEBUG_VIEW   = 1 << 1,  /* what scripted tests need to know: origin, frames, messages */
} HepaDebugFlags;

HepaDebugFlags hepa_debug_get_flags (void);
/* TRUE when HEPASCOPE_DEBUG holds @flag. */
gboolean       hepa_debug_enabled   (HepaDebugFlags flag);

G_END_DECLS
