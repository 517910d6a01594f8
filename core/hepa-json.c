/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-json.h"

#include "hepa-error.h"

#include <glib/gi18n.h>
#include <string.h>

typedef enum
{
  LEX_STRICT,        /* JSON as written: "..." strings only */
  LEX_SLASH_PAIR,    /* json-glib's scanner as configured ("//\n" read as a comment from one
                      * slash to the next), with '...' strings */
  LEX_C_COMMENTS,    /* // to the end of the line and C comments, with '...' strings */
} Lexing;

/* One linear pass under one reading of strings and comments. */
static guint
depth_under (const char *data,
             gsize       length,
             Lexing      lexing)
{
  guint depth = 0, deepest = 0;
  gsize i = 0;

  while (i < length)
    {
      char c = data[i++];

      switch (c)
        {
        case '{':
        case '[':
          depth++;
          deepest = MAX (deepest, depth);
          break;
        case '}':
        case ']':
          if (depth > 0)
            depth--;
          break;
        case '"':
          while (i < length && data[i] != '"')
            i += data[i] == '\\' ? 2 : 1;
          i++;
          break;
        case '\'':
          if (lexing == LEX_STRICT)
            break;
          while (i < length && data[i] != '\'')
            i++;
          i++;
          break;
        case '/':
          if (lexing == LEX_SLASH_PAIR)
            {
              while (i < length && data[i] != '/')
                i++;
              i++;
            }
          else if (lexing == LEX_C_COMMENTS && i < length && data[i] == '/')
            {
              while (i < length && data[i] != '\n')
                i++;
            }
          else if (lexing == LEX_C_COMMENTS && i < length && data[i] == '*')
            {
              i++;
              while (i + 1 < length && !(data[i] == '*' && data[i + 1] == '/'))
                i++;
              i += 2;
            }
          break;
        default:
          break;
        }
    }
  return deepest;
}

guint
hepa_json_depth (const char *data,
                 gssize      length)
{
  gsize n;
  guint deepest = 0;

  if (data == NULL)
    return 0;
  n = length < 0 ? strlen (data) : (gsize) length;
  /* Whichever way a scanner reads strings and comments, brackets it counts are counted by one
   * of these readings: the largest is never below json-glib's own depth. */
  deepest = MAX (deepest, depth_under (data, n, LEX_STRICT));
  deepest = MAX (deepest, depth_under (data, n, LEX_SLASH_PAIR));
  deepest = MAX (deepest, depth_under (data, n, LEX_C_COMMENTS));
  return deepest;
}

gboolean
hepa_json_check_depth (const char  *data,
                       gssize       length,
                       GError     **error)
{
  if (hepa_json_depth (data, length) > HEPA_JSON_MAX_DEPTH)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("JSON nested deeper than %d levels"), HEPA_JSON_MAX_DEPTH);
      return FALSE;
    }
  return TRUE;
}

gboolean
hepa_json_parser_load (JsonParser  *parser,
                       const char  *data,
                       gssize       length,
                       GError     **error)
{
  g_return_val_if_fail (JSON_IS_PARSER (parser), FALSE);

  if (!hepa_json_check_depth (data, length, error))
    return FALSE;
  return json_parser_load_from_data (parser, data != NULL ? data : "", length, error);
}

gboolean
hepa_json_parser_load_file (JsonParser  *parser,
                            const char  *path,
                            gsize        max_bytes,
                            GError     **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!hepa_file_get_contents (path, max_bytes, &contents, &length, error))
    return FALSE;
  return hepa_json_parser_load (parser, contents, (gssize) length, error);
}
