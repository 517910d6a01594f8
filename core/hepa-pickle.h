/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A restricted Python pickle reader (protocols 2..5, the subset torch.save uses for state dicts).
 * It never calls anything: GLOBAL names outside the caller's allow-list are refused by name, and
 * REDUCE/NEWOBJ/BUILD only record what would have been called, for the caller to interpret. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  HEPA_PICKLE_NONE,
  HEPA_PICKLE_BOOL,
  HEPA_PICKLE_INT,      /* fits in gint64 */
  HEPA_PICKLE_FLOAT,
  HEPA_PICKLE_STRING,   /* valid UTF-8 without NUL */
  HEPA_PICKLE_BYTES,
  HEPA_PICKLE_TUPLE,
  HEPA_PICKLE_LIST,
  HEPA_PICKLE_DICT,     /* also collections.OrderedDict () */
  HEPA_PICKLE_GLOBAL,   /* an allowed "module.name" */
  HEPA_PICKLE_OBJECT,   /* REDUCE/NEWOBJ of an allowed global: callable, args, BUILD state */
  HEPA_PICKLE_PERSID,   /* BINPERSID: the persistent id, for the caller to resolve */
} HepaPickleKind;

typedef struct _HepaPickleValue HepaPickleValue;
struct _HepaPickleValue
{
  HepaPickleKind    kind;
  gboolean          b;
  gint64            i;
  double            f;
  char             *str;       /* STRING, BYTES (length in len), GLOBAL ("module.name") */
  gsize             len;
  GPtrArray        *items;     /* TUPLE, LIST: values; DICT: key, value, key, value... */
  HepaPickleValue  *callable;  /* OBJECT: a GLOBAL */
  HepaPickleValue  *args;      /* OBJECT: a TUPLE; PERSID: the id */
  HepaPickleValue  *state;     /* OBJECT: BUILD's argument, or NULL */
};

typedef struct _HepaPickle HepaPickle;

/* Runs the pickle in @data against @allowed_globals ("module.name", NULL-terminated): other
 * globals are refused by name, and REDUCE/NEWOBJ may only name those also in @callable_globals.
 * The values live as long as the HepaPickle; they may share children and even form cycles, so
 * walkers must bound their depth. @name (nullable) names the file in error messages. */
HepaPickle            *hepa_pickle_load           (const guint8      *data,
                                                   gsize              size,
                                                   const char *const *allowed_globals,
                                                   const char *const *callable_globals,
                                                   const char        *name,
                                                   GError           **error);
void                   hepa_pickle_free           (HepaPickle        *self);
const HepaPickleValue *hepa_pickle_get_root       (HepaPickle        *self);
/* The value of the string key @key in a DICT, or NULL. */
const HepaPickleValue *hepa_pickle_dict_lookup    (const HepaPickleValue *dict,
                                                   const char            *key);
/* TRUE when @value is a GLOBAL or an OBJECT of the GLOBAL named @qualname. */
gboolean               hepa_pickle_is_global      (const HepaPickleValue *value,
                                                   const char            *qualname);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaPickle, hepa_pickle_free)

G_END_DECLS
