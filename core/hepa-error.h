/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define HEPA_ERROR (hepa_error_quark ())

/* Runtime failures of libhepa-core. Cancellation uses G_IO_ERROR_CANCELLED. */
typedef enum
{
  HEPA_ERROR_FAILED,
  HEPA_ERROR_IO,                 /* could not read or write a file */
  HEPA_ERROR_FORMAT,             /* the file is damaged or not what it claims to be */
  HEPA_ERROR_UNSUPPORTED,        /* valid, but a feature we cannot handle */
  HEPA_ERROR_DICOM_UNSUPPORTED,  /* a transfer syntax DCMTK cannot decode */
  HEPA_ERROR_TOO_LARGE,          /* a size read from a file is above a configured ceiling */
  HEPA_ERROR_MODEL,              /* weights do not match the topology or the card */
  HEPA_ERROR_INVALID_ARGUMENT,   /* a user-given value is out of range */
  HEPA_ERROR_NO_SPACE,           /* the disk is full */
  HEPA_ERROR_PERMISSION,         /* a folder or file is not writable */
} HepaError;

GQuark hepa_error_quark (void);

/* Maps an errno value to the closest HepaError code. */
HepaError hepa_error_from_errno (int errsv);

/* Maps the regular file @path read-only. On failure the message says why without naming the
 * file (the caller names it once: "PATH: No such file or directory"). */
GMappedFile *hepa_map_file (const char  *path,
                            GError     **error);

/* Opens @path without blocking (O_NONBLOCK: a FIFO does not wait for a writer), checks with
 * fstat () on the open descriptor that it is a regular file (a symlink to /dev/zero or a FIFO is
 * refused) and reads it whole, counting the bytes actually read: more than @max_bytes is
 * HEPA_ERROR_TOO_LARGE, whatever st_size said. *contents is NUL-terminated. Messages do not name
 * the file, as hepa_map_file's. */
gboolean     hepa_file_get_contents (const char  *path,
                                     gsize        max_bytes,
                                     char       **contents,
                                     gsize       *length,
                                     GError     **error);

/* Opens @path read-only and non-blocking and checks on the descriptor that it is a regular file;
 * returns the descriptor (blocking again) or -1 with the reason, not naming the file. */
int          hepa_open_regular_file (const char  *path,
                                     GError     **error);

G_END_DECLS
