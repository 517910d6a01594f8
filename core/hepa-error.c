/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-error.h"

#include <errno.h>

G_DEFINE_QUARK (hepa-error-quark, hepa_error)

HepaError
hepa_error_from_errno (int errsv)
{
  switch (errsv)
    {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
      return HEPA_ERROR_NO_SPACE;
    case EACCES:
    case EPERM:
    case EROFS:
      return HEPA_ERROR_PERMISSION;
    case EFBIG:
    case ENOMEM:
      return HEPA_ERROR_TOO_LARGE;
    default:
      return HEPA_ERROR_IO;
    }
}
