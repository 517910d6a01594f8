/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internals of hepa-annotations.c shared with export, the fuzz targets and the tests. */
#pragma once

#include <sys/types.h>

#include "hepa-annotations.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Largest sidecar we read; a bigger one is refused as damaged before it is read whole. */
#define HEPA_ANNOTATIONS_MAX_BYTES (64 * 1024 * 1024)

/* Serializes to the sidecar JSON (pretty-printed, trailing newline). */
char            *hepa_annotations_to_data   (const HepaAnnotations *self,
                                             gsize                 *length);

/* Test hook: the write(2) used by hepa_annotations_save, to inject ENOSPC and short writes.
 * NULL restores write(2). Not thread-safe; tests only. */
typedef ssize_t (*HepaWriteFunc) (int         fd,
                                  const void *buf,
                                  size_t      count);
void             hepa_annotations_set_write_func_for_testing (HepaWriteFunc func);

/* Writes @data to @path atomically: a temp file in the same folder, write, fsync, rename,
 * fsync of the folder. On failure the old file is untouched and no temp file is left; the
 * error is HEPA_ERROR_NO_SPACE, HEPA_ERROR_PERMISSION or HEPA_ERROR_IO with a message naming
 * @what (e.g. "annotations") and @path. @mode is for a new file, before the umask. */
gboolean         hepa_write_file_atomic (const char  *path,
                                         const void  *data,
                                         gsize        length,
                                         int          mode,
                                         const char  *what,
                                         GError     **error);
/* The same; with @sync FALSE it skips both fsyncs, for many files made durable together
 * afterwards (syncfs), as the export does before its manifest. */
gboolean         hepa_write_file_atomic_full (const char  *path,
                                              const void  *data,
                                              gsize        length,
                                              int          mode,
                                              gboolean     sync,
                                              const char  *what,
                                              GError     **error);

/* Replaces control characters (newlines from a parser quoting the input) with spaces, in
 * place, so that an error stays one line. Returns @message. */
char            *hepa_one_line (char *message);
/* Sets HEPA_ERROR_FORMAT with a printf-style message and returns FALSE, for parsers' early
 * returns. */
gboolean         hepa_format_error (GError    **error,
                                    const char *format,
                                    ...) G_GNUC_PRINTF (2, 3);

/* TRUE when every string (and member name) under @node is valid UTF-8. json-glib's scanner
 * turns some escapes (a backslash and octal digits) into raw bytes, so a file of plain ASCII
 * can parse into strings that are not text. */
gboolean         hepa_json_strings_are_utf8 (JsonNode *node);
/* Parses @data (not NUL-terminated) into @parser and returns its top-level object, or NULL with
 * HEPA_ERROR_FORMAT: a NUL byte, invalid JSON, a top level that is not an object, or strings that
 * are not UTF-8. (transfer none): owned by @parser. */
JsonObject      *hepa_json_parse_object     (JsonParser  *parser,
                                             const char  *data,
                                             gsize        length,
                                             GError     **error);

/* Formats unix seconds as "2026-11-27T09:00:00Z"; parses the same (any ISO 8601 with a zone). */
char            *hepa_annotations_format_time (gint64      unix_seconds);
gboolean         hepa_annotations_parse_time  (const char *text,
                                               gint64     *unix_seconds);

G_END_DECLS
