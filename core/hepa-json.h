/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one way Hepascope hands text to json-glib. json-glib's parser is recursive: a few hundred
 * thousand nested brackets (a few hundred KB of file) overflow the stack. Every JSON reader
 * (sidecars, manifests, safetensors headers, model cards, COCO files) checks the nesting depth
 * with this scanner first. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deepest nesting of objects and arrays any file of ours needs is 6; 64 leaves room for other
 * tools' JSON (a model card's extra members) while staying far from json-glib's stack limit. */
#define HEPA_JSON_MAX_DEPTH 64

/* The deepest nesting of `{` and `[` in @data (@length bytes, or NUL-terminated when -1), as
 * json-glib would see it: brackets inside strings ("..." with backslash escapes, '...' without)
 * and comments (// to the end of the line, C-style) do not count. Never recurses. */
guint    hepa_json_depth        (const char  *data,
                                 gssize       length);

/* FALSE with HEPA_ERROR_FORMAT ("JSON nested deeper than 64 levels") when @data is too deep. */
gboolean hepa_json_check_depth  (const char  *data,
                                 gssize       length,
                                 GError     **error);

/* json_parser_load_from_data () after hepa_json_check_depth (). Errors are json-glib's, or
 * HEPA_ERROR_FORMAT for the depth. */
gboolean hepa_json_parser_load  (JsonParser  *parser,
                                 const char  *data,
                                 gssize       length,
                                 GError     **error);

/* Reads the regular file @path (at most @max_bytes, see hepa_file_get_contents ()) and parses it
 * as hepa_json_parser_load () does. Messages do not name the file. */
gboolean hepa_json_parser_load_file (JsonParser  *parser,
                                     const char  *path,
                                     gsize        max_bytes,
                                     GError     **error);

G_END_DECLS
