/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

GMappedFile *
hepa_map_file (const char  *path,
               GError     **error)
{
  g_autoptr(GError) local = NULL;
  GMappedFile *file;
  GStatBuf st;
  int fd, errsv;

  g_return_val_if_fail (path != NULL, NULL);

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      errsv = errno;
      if (fd >= 0)
        close (fd);
      g_set_error_literal (error, HEPA_ERROR, hepa_error_from_errno (errsv), g_strerror (errsv));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_IO,
                           S_ISDIR (st.st_mode) ? _("Is a folder, not a file")
                                                : _("Not a regular file"));
      return NULL;
    }
  file = g_mapped_file_new_from_fd (fd, FALSE, &local);
  close (fd);
  if (file == NULL)
    {
      /* GLib's message names the descriptor ("fd"); its last part is the system's reason. */
      const char *reason = g_strrstr (local->message, ": ");

      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE, _("Cannot map it into memory: %s"),
                   reason != NULL ? reason + 2 : local->message);
      return NULL;
    }
  return file;
}
