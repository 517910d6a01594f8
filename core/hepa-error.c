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

int
hepa_open_regular_file (const char  *path,
                        GError     **error)
{
  struct stat st;
  int fd, errsv, flags;

  g_return_val_if_fail (path != NULL, -1);

  /* O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer, for ever. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      errsv = errno;
      if (fd >= 0)
        close (fd);
      g_set_error_literal (error, HEPA_ERROR, hepa_error_from_errno (errsv), g_strerror (errsv));
      return -1;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_IO,
                           S_ISDIR (st.st_mode) ? _("Is a folder, not a file")
                                                : _("Not a regular file"));
      return -1;
    }
  flags = fcntl (fd, F_GETFL);
  if (flags >= 0)
    (void) fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

gboolean
hepa_file_get_contents (const char  *path,
                        gsize        max_bytes,
                        char       **contents,
                        gsize       *length,
                        GError     **error)
{
  g_autofree char *buf = NULL;
  struct stat st;
  gsize size, used = 0;
  int fd;

  g_return_val_if_fail (contents != NULL, FALSE);

  *contents = NULL;
  if (length != NULL)
    *length = 0;
  fd = hepa_open_regular_file (path, error);
  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) == 0 && (guint64) st.st_size > max_bytes)
    {
      close (fd);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Larger than the %zu bytes allowed"), (size_t) max_bytes);
      return FALSE;
    }
  /* st_size is a hint only (a file may grow while it is read); the bytes read are what count. */
  size = MIN ((gsize) MAX (st.st_size, 0), max_bytes) + 1;
  size = MAX (size, 4096);
  buf = g_malloc (size + 1);
  for (;;)
    {
      gssize n;

      if (used == size)
        {
          if (used > max_bytes)
            break;
          size = MIN (size * 2, max_bytes + 1);
          buf = g_realloc (buf, size + 1);
        }
      n = read (fd, buf + used, size - used);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;

          close (fd);
          g_set_error_literal (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                               g_strerror (errsv));
          return FALSE;
        }
      if (n == 0)
        break;
      used += (gsize) n;
    }
  close (fd);
  if (used > max_bytes)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Larger than the %zu bytes allowed"), (size_t) max_bytes);
      return FALSE;
    }
  buf[used] = '\0';
  *contents = g_steal_pointer (&buf);
  if (length != NULL)
    *length = used;
  return TRUE;
}

GMappedFile *
hepa_map_file (const char  *path,
               GError     **error)
{
  g_autoptr(GError) local = NULL;
  GMappedFile *file;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = hepa_open_regular_file (path, error);
  if (fd < 0)
    return NULL;
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
