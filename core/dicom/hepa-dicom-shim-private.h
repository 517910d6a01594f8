/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the C++ files of the DCMTK shim share (C++ only; never included from C). */
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdio>

/* Writes a printf-style message into the caller's buffer, as every extern "C" function of the
 * shim reports its failure; nothing when @msg is NULL or empty. */
inline void
hepa_shim_set_msg (char       *msg,
                   size_t      msg_size,
                   const char *format,
                   ...)
{
  if (msg == nullptr || msg_size == 0)
    return;
  va_list args;
  va_start (args, format);
  std::vsnprintf (msg, msg_size, format, args);
  va_end (args);
}
