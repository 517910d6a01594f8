/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-debug.h"

static const GDebugKey debug_keys[] = {
  { "timing", HEPA_DEBUG_TIMING },
  { "view", HEPA_DEBUG_VIEW },
};

HepaDebugFlags
hepa_debug_get_flags (void)
{
  static gsize flags;

  if (g_once_init_enter (&flags))
    {
      guint parsed = g_parse_debug_string (g_getenv ("HEPASCOPE_DEBUG"), debug_keys,
                                           G_N_ELEMENTS (debug_keys));

      /* Non-zero once set, so that the value 0 can mean "not parsed yet". */
      g_once_init_leave (&flags, parsed | (1u << 31));
    }
  return (HepaDebugFlags) (flags & ~(1u << 31));
}

gboolean
hepa_debug_enabled (HepaDebugFlags flag)
{
  return (hepa_debug_get_flags () & flag) != 0;
}
