/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A pickle machine that only builds data. The opcodes follow CPython's Lib/pickletools.py
 * descriptions; anything that would import or call code outside the allow-list is refused. */
#include "config.h"

#include "hepa-pickle.h"

#include "hepa-error.h"

#include <glib/gi18n.h>
#include <string.h>

/* Ceilings on what a pickle may make us hold; a state dict of 10 000 tensors uses a few hundred
 * thousand values. */
#define MAX_VALUES      (1u << 22)
#define MAX_STACK       (1u << 22)
#define MAX_MARKS       (1u << 16)
#define MAX_MEMO        (1u << 22)
#define MAX_ITEMS       (1u << 24)
#define MAX_LINE        1024

struct _HepaPickle
{
  GPtrArray       *arena;   /* every HepaPickleValue made, freed together */
  HepaPickleValue *root;
};

typedef struct
{
  HepaPickle        *pickle;
  const guint8      *data;
  gsize              size;
  gsize              pos;
  const char        *name;
  const char *const *allowed;
  const char *const *callable;
  GPtrArray         *stack;     /* borrowed HepaPickleValue* */
  GArray            *marks;     /* guint stack positions */
  GHashTable        *memo;      /* index -> HepaPickleValue* */
  guint64            n_items;
} Machine;

static void
value_free (gpointer p)
{
  HepaPickleValue *v = p;

  g_free (v->str);
  if (v->items != NULL)
    g_ptr_array_unref (v->items);
  g_free (v);
}

void
hepa_pickle_free (HepaPickle *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->arena, g_ptr_array_unref);
  g_free (self);
}

const HepaPickleValue *
hepa_pickle_get_root (HepaPickle *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->root;
}

const HepaPickleValue *
hepa_pickle_dict_lookup (const HepaPickleValue *dict,
                         const char            *key)
{
  const HepaPickleValue *found = NULL;

  if (dict == NULL || dict->kind != HEPA_PICKLE_DICT)
    return NULL;
  /* The last assignment wins, as in Python. */
  for (guint i = 0; i + 1 < dict->items->len; i += 2)
    {
      const HepaPickleValue *k = g_ptr_array_index (dict->items, i);

      if (k->kind == HEPA_PICKLE_STRING && strcmp (k->str, key) == 0)
        found = g_ptr_array_index (dict->items, i + 1);
    }
  return found;
}

gboolean
hepa_pickle_is_global (const HepaPickleValue *value,
                       const char            *qualname)
{
  if (value == NULL)
    return FALSE;
  if (value->kind == HEPA_PICKLE_OBJECT)
    value = value->callable;
  return value->kind == HEPA_PICKLE_GLOBAL && strcmp (value->str, qualname) == 0;
}

static gboolean
fail (Machine    *m,
      GError    **error,
      HepaError   code,
      const char *format,
      ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail (Machine    *m,
      GError    **error,
      HepaError   code,
      const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (m->name != NULL)
    g_set_error (error, HEPA_ERROR, code, "%s: %s", m->name, message);
  else
    g_set_error_literal (error, HEPA_ERROR, code, message);
  return FALSE;
}

static HepaPickleValue *
value_new (Machine        *m,
           HepaPickleKind  kind,
           GError        **error)
{
  HepaPickleValue *v;

  if (m->pickle->arena->len >= MAX_VALUES)
    {
      fail (m, error, HEPA_ERROR_TOO_LARGE, _("pickle makes more than %u values"), MAX_VALUES);
      return NULL;
    }
  v = g_new0 (HepaPickleValue, 1);
  v->kind = kind;
  if (kind == HEPA_PICKLE_TUPLE || kind == HEPA_PICKLE_LIST || kind == HEPA_PICKLE_DICT)
    v->items = g_ptr_array_new ();
  g_ptr_array_add (m->pickle->arena, v);
  return v;
}

static gboolean
push (Machine          *m,
      HepaPickleValue  *v,
      GError          **error)
{
  if (v == NULL)
    return FALSE;
  if (m->stack->len >= MAX_STACK)
    return fail (m, error, HEPA_ERROR_TOO_LARGE, _("pickle stack grows past %u entries"),
                 MAX_STACK);
  g_ptr_array_add (m->stack, v);
  return TRUE;
}

static HepaPickleValue *
pop (Machine  *m,
     GError  **error)
{
  guint floor = m->marks->len > 0 ? g_array_index (m->marks, guint, m->marks->len - 1) : 0;

  if (m->stack->len <= floor)
    {
      fail (m, error, HEPA_ERROR_FORMAT, _("pickle stack underflow at byte %zu"),
            (size_t) m->pos);
      return NULL;
    }
  return g_ptr_array_steal_index (m->stack, m->stack->len - 1);
}

static HepaPickleValue *
top (Machine  *m,
     GError  **error)
{
  guint floor = m->marks->len > 0 ? g_array_index (m->marks, guint, m->marks->len - 1) : 0;

  if (m->stack->len <= floor)
    {
      fail (m, error, HEPA_ERROR_FORMAT, _("pickle stack underflow at byte %zu"),
            (size_t) m->pos);
      return NULL;
    }
  return g_ptr_array_index (m->stack, m->stack->len - 1);
}

/* Pops the topmost mark; the values above it stay on the stack from *start on. */
static gboolean
pop_mark (Machine  *m,
          guint    *start,
          GError  **error)
{
  if (m->marks->len == 0)
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle uses a MARK that was never set"));
  *start = g_array_index (m->marks, guint, m->marks->len - 1);
  g_array_set_size (m->marks, m->marks->len - 1);
  return TRUE;
}

static gboolean
take (Machine       *m,
      gsize          n,
      const guint8 **out,
      GError       **error)
{
  if (n > m->size - m->pos)
    return fail (m, error, HEPA_ERROR_FORMAT,
                 _("pickle is truncated: needs %zu bytes at byte %zu, %zu left"),
                 (size_t) n, (size_t) m->pos, (size_t) (m->size - m->pos));
  *out = m->data + m->pos;
  m->pos += n;
  return TRUE;
}

static gboolean
take_uint (Machine  *m,
           int       n_bytes,
           guint64  *out,
           GError  **error)
{
  const guint8 *p;
  guint64 v = 0;

  if (!take (m, n_bytes, &p, error))
    return FALSE;
  for (int k = n_bytes - 1; k >= 0; k--)
    v = (v << 8) | p[k];
  *out = v;
  return TRUE;
}

static gboolean
take_line (Machine  *m,
           char    **out,
           GError  **error)
{
  const guint8 *start = m->data + m->pos;
  gsize avail = MIN (m->size - m->pos, (gsize) MAX_LINE);
  const guint8 *nl = memchr (start, '\n', avail);

  if (nl == NULL)
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle has an unterminated text line"));
  if (!g_utf8_validate_len ((const char *) start, nl - start, NULL))
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle has a text line that is not UTF-8"));
  *out = g_strndup ((const char *) start, nl - start);
  m->pos += (nl - start) + 1;
  return TRUE;
}

static gboolean
push_string (Machine        *m,
             HepaPickleKind  kind,
             guint64         len,
             GError        **error)
{
  const guint8 *p;
  HepaPickleValue *v;

  if (len > m->size - m->pos)
    return fail (m, error, HEPA_ERROR_FORMAT,
                 _("pickle string of %llu bytes runs past the end of the pickle"),
                 (unsigned long long) len);
  if (!take (m, (gsize) len, &p, error))
    return FALSE;
  if (kind == HEPA_PICKLE_STRING && !g_utf8_validate_len ((const char *) p, (gsize) len, NULL))
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle string is not valid UTF-8"));
  v = value_new (m, kind, error);
  if (v == NULL)
    return FALSE;
  v->str = g_malloc ((gsize) len + 1);
  memcpy (v->str, p, (gsize) len);
  v->str[len] = '\0';
  v->len = (gsize) len;
  return push (m, v, error);
}

static gboolean
push_int (Machine  *m,
          gint64    i,
          GError  **error)
{
  HepaPickleValue *v = value_new (m, HEPA_PICKLE_INT, error);

  if (v == NULL)
    return FALSE;
  v->i = i;
  return push (m, v, error);
}

/* LONG1/LONG4: little-endian two's complement of @n bytes. */
static gboolean
push_long (Machine  *m,
           guint64   n,
           GError  **error)
{
  const guint8 *p;
  guint64 u = 0;

  if (n > 8)
    return fail (m, error, HEPA_ERROR_UNSUPPORTED,
                 _("pickle integer of %llu bytes does not fit in 64 bits"),
                 (unsigned long long) n);
  if (!take (m, (gsize) n, &p, error))
    return FALSE;
  for (int k = (int) n - 1; k >= 0; k--)
    u = (u << 8) | p[k];
  if (n > 0 && n < 8 && (p[n - 1] & 0x80))
    u |= ~(guint64) 0 << (8 * n);
  return push_int (m, (gint64) u, error);
}

static gboolean
in_list (const char *const *list,
         const char        *qualname)
{
  for (const char *const *a = list; a != NULL && *a != NULL; a++)
    if (strcmp (*a, qualname) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
push_global (Machine    *m,
             const char *module,
             const char *attr,
             GError    **error)
{
  g_autofree char *qualname = g_strdup_printf ("%s.%s", module, attr);
  HepaPickleValue *v;

  if (!in_list (m->allowed, qualname))
    {
      g_autofree char *shown = g_strescape (qualname, NULL);

      return fail (m, error, HEPA_ERROR_UNSUPPORTED,
                   _("refusing to load pickle global %s: only the types of a PyTorch state "
                     "dict are read and nothing is ever called (a whole saved model must be "
                     "saved again as model.state_dict ())"),
                   shown);
    }
  v = value_new (m, HEPA_PICKLE_GLOBAL, error);
  if (v == NULL)
    return FALSE;
  v->str = g_steal_pointer (&qualname);
  v->len = strlen (v->str);
  return push (m, v, error);
}

static gboolean
memo_put (Machine          *m,
          guint64           index,
          HepaPickleValue  *v,
          GError          **error)
{
  if (index > G_MAXUINT32)
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle memo index out of range"));
  if (g_hash_table_size (m->memo) >= MAX_MEMO
      && !g_hash_table_contains (m->memo, GUINT_TO_POINTER ((guint) index)))
    return fail (m, error, HEPA_ERROR_TOO_LARGE, _("pickle memo grows past %u entries"),
                 MAX_MEMO);
  g_hash_table_insert (m->memo, GUINT_TO_POINTER ((guint) index), v);
  return TRUE;
}

static gboolean
memo_get (Machine  *m,
          guint64   index,
          GError  **error)
{
  HepaPickleValue *v = NULL;

  if (index <= G_MAXUINT32)
    v = g_hash_table_lookup (m->memo, GUINT_TO_POINTER ((guint) index));
  if (v == NULL)
    return fail (m, error, HEPA_ERROR_FORMAT,
                 _("pickle reads memo entry %llu that was never stored"),
                 (unsigned long long) index);
  return push (m, v, error);
}

static gboolean
add_items (Machine          *m,
           HepaPickleValue  *container,
           guint             start,
           GError          **error)
{
  guint n = m->stack->len - start;

  if (m->n_items + n > MAX_ITEMS)
    return fail (m, error, HEPA_ERROR_TOO_LARGE, _("pickle containers hold more than %u items"),
                 MAX_ITEMS);
  m->n_items += n;
  for (guint k = start; k < m->stack->len; k++)
    g_ptr_array_add (container->items, g_ptr_array_index (m->stack, k));
  g_ptr_array_set_size (m->stack, start);
  return TRUE;
}

static gboolean
make_tuple (Machine  *m,
            guint     n,
            GError  **error)
{
  guint floor = m->marks->len > 0 ? g_array_index (m->marks, guint, m->marks->len - 1) : 0;
  HepaPickleValue *t;

  if (m->stack->len < floor + n)
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle stack underflow at byte %zu"),
                 (size_t) m->pos);
  t = value_new (m, HEPA_PICKLE_TUPLE, error);
  if (t == NULL || !add_items (m, t, m->stack->len - n, error))
    return FALSE;
  return push (m, t, error);
}

/* REDUCE and NEWOBJ: records the call instead of making it. collections.OrderedDict() is the
 * one call whose result we know: an empty dict. */
static gboolean
reduce (Machine  *m,
        GError  **error)
{
  HepaPickleValue *args, *callable, *obj;

  if ((args = pop (m, error)) == NULL || (callable = pop (m, error)) == NULL)
    return FALSE;
  if (callable->kind != HEPA_PICKLE_GLOBAL)
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle calls something that is not a global"));
  if (!in_list (m->callable, callable->str))
    {
      g_autofree char *shown = g_strescape (callable->str, NULL);

      return fail (m, error, HEPA_ERROR_UNSUPPORTED, _("refusing to call pickle global %s"),
                   shown);
    }
  if (args->kind != HEPA_PICKLE_TUPLE)
    return fail (m, error, HEPA_ERROR_FORMAT, _("pickle calls %s with arguments that are not a "
                                                "tuple"), callable->str);
  if (strcmp (callable->str, "collections.OrderedDict") == 0)
    {
      if (args->items->len != 0)
        return fail (m, error, HEPA_ERROR_UNSUPPORTED,
                     _("pickle builds an OrderedDict from arguments"));
      return push (m, value_new (m, HEPA_PICKLE_DICT, error), error);
    }
  obj = value_new (m, HEPA_PICKLE_OBJECT, error);
  if (obj == NULL)
    return FALSE;
  obj->callable = callable;
  obj->args = args;
  return push (m, obj, error);
}

static gboolean
step (Machine   *m,
      gboolean  *stop,
      GError   **error)
{
  const guint8 *p;
  guint8 op;
  guint64 n;
  guint start;
  HepaPickleValue *a, *b, *c;
  gsize op_pos = m->pos;

  if (!take (m, 1, &p, error))
    return FALSE;
  op = *p;

  switch (op)
    {
    case 0x80: /* PROTO */
      if (!take_uint (m, 1, &n, error))
        return FALSE;
      if (n < 2 || n > 5)
        return fail (m, error, HEPA_ERROR_UNSUPPORTED,
                     _("pickle protocol %u is not supported"), (guint) n);
      return TRUE;
    case 0x95: /* FRAME: a length hint only */
      return take_uint (m, 8, &n, error);
    case '.': /* STOP */
      if ((m->pickle->root = pop (m, error)) == NULL)
        return FALSE;
      *stop = TRUE;
      return TRUE;
    case '(': /* MARK */
      if (m->marks->len >= MAX_MARKS)
        return fail (m, error, HEPA_ERROR_TOO_LARGE, _("pickle nests more than %u marks"),
                     MAX_MARKS);
      g_array_append_val (m->marks, m->stack->len);
      return TRUE;
    case '0': /* POP */
      return pop (m, error) != NULL;
    case '1': /* POP_MARK */
      if (!pop_mark (m, &start, error))
        return FALSE;
      g_ptr_array_set_size (m->stack, start);
      return TRUE;
    case '2': /* DUP */
      return (a = top (m, error)) != NULL && push (m, a, error);
    case 'N': /* NONE */
      return push (m, value_new (m, HEPA_PICKLE_NONE, error), error);
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
      if ((a = value_new (m, HEPA_PICKLE_BOOL, error)) == NULL)
        return FALSE;
      a->b = op == 0x88;
      return push (m, a, error);
    case 'J': /* BININT */
      return take_uint (m, 4, &n, error) && push_int (m, (gint32) (guint32) n, error);
    case 'K': /* BININT1 */
      return take_uint (m, 1, &n, error) && push_int (m, (gint64) n, error);
    case 'M': /* BININT2 */
      return take_uint (m, 2, &n, error) && push_int (m, (gint64) n, error);
    case 0x8a: /* LONG1 */
      return take_uint (m, 1, &n, error) && push_long (m, n, error);
    case 0x8b: /* LONG4 */
      return take_uint (m, 4, &n, error) && push_long (m, n, error);
    case 'G': /* BINFLOAT: big-endian IEEE double */
      {
        guint64 bits = 0;
        union { guint64 u; double d; } conv;

        if (!take (m, 8, &p, error))
          return FALSE;
        for (int k = 0; k < 8; k++)
          bits = (bits << 8) | p[k];
        conv.u = bits;
        if ((a = value_new (m, HEPA_PICKLE_FLOAT, error)) == NULL)
          return FALSE;
        a->f = conv.d;
        return push (m, a, error);
      }
    case 'X': /* BINUNICODE */
      return take_uint (m, 4, &n, error) && push_string (m, HEPA_PICKLE_STRING, n, error);
    case 0x8c: /* SHORT_BINUNICODE */
      return take_uint (m, 1, &n, error) && push_string (m, HEPA_PICKLE_STRING, n, error);
    case 0x8d: /* BINUNICODE8 */
      return take_uint (m, 8, &n, error) && push_string (m, HEPA_PICKLE_STRING, n, error);
    case 'T': /* BINSTRING (Python 2 str) */
    case 'B': /* BINBYTES */
      return take_uint (m, 4, &n, error) && push_string (m, HEPA_PICKLE_BYTES, n, error);
    case 'U': /* SHORT_BINSTRING */
    case 'C': /* SHORT_BINBYTES */
      return take_uint (m, 1, &n, error) && push_string (m, HEPA_PICKLE_BYTES, n, error);
    case 0x8e: /* BINBYTES8 */
      return take_uint (m, 8, &n, error) && push_string (m, HEPA_PICKLE_BYTES, n, error);
    case '}': /* EMPTY_DICT */
      return push (m, value_new (m, HEPA_PICKLE_DICT, error), error);
    case ']': /* EMPTY_LIST */
      return push (m, value_new (m, HEPA_PICKLE_LIST, error), error);
    case ')': /* EMPTY_TUPLE */
      return push (m, value_new (m, HEPA_PICKLE_TUPLE, error), error);
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
      return make_tuple (m, op - 0x84, error);
    case 't': /* TUPLE */
    case 'l': /* LIST */
    case 'd': /* DICT */
      if (!pop_mark (m, &start, error))
        return FALSE;
      if (op == 'd' && (m->stack->len - start) % 2 != 0)
        return fail (m, error, HEPA_ERROR_FORMAT, _("pickle DICT has an odd number of items"));
      a = value_new (m, op == 't' ? HEPA_PICKLE_TUPLE
                        : op == 'l' ? HEPA_PICKLE_LIST : HEPA_PICKLE_DICT, error);
      return a != NULL && add_items (m, a, start, error) && push (m, a, error);
    case 'a': /* APPEND */
      if ((b = pop (m, error)) == NULL || (a = top (m, error)) == NULL)
        return FALSE;
      if (a->kind != HEPA_PICKLE_LIST)
        return fail (m, error, HEPA_ERROR_UNSUPPORTED, _("pickle appends to a non-list"));
      if (!push (m, b, error))
        return FALSE;
      return add_items (m, a, m->stack->len - 1, error);
    case 'e': /* APPENDS */
      if (!pop_mark (m, &start, error))
        return FALSE;
      if (start == 0 || start < (m->marks->len > 0
                                 ? g_array_index (m->marks, guint, m->marks->len - 1) + 1 : 1))
        return fail (m, error, HEPA_ERROR_FORMAT, _("pickle APPENDS has no list"));
      a = g_ptr_array_index (m->stack, start - 1);
      if (a->kind != HEPA_PICKLE_LIST)
        return fail (m, error, HEPA_ERROR_UNSUPPORTED, _("pickle appends to a non-list"));
      return add_items (m, a, start, error);
    case 's': /* SETITEM */
      if ((c = pop (m, error)) == NULL || (b = pop (m, error)) == NULL
          || (a = top (m, error)) == NULL)
        return FALSE;
      if (a->kind != HEPA_PICKLE_DICT)
        return fail (m, error, HEPA_ERROR_UNSUPPORTED, _("pickle sets an item of a non-dict"));
      if (!push (m, b, error) || !push (m, c, error))
        return FALSE;
      return add_items (m, a, m->stack->len - 2, error);
    case 'u': /* SETITEMS */
      if (!pop_mark (m, &start, error))
        return FALSE;
      if ((m->stack->len - start) % 2 != 0)
        return fail (m, error, HEPA_ERROR_FORMAT, _("pickle SETITEMS has an odd number of items"));
      if (start == 0 || start < (m->marks->len > 0
                                 ? g_array_index (m->marks, guint, m->marks->len - 1) + 1 : 1))
        return fail (m, error, HEPA_ERROR_FORMAT, _("pickle SETITEMS has no dict"));
      a = g_ptr_array_index (m->stack, start - 1);
      if (a->kind != HEPA_PICKLE_DICT)
        return fail (m, error, HEPA_ERROR_UNSUPPORTED, _("pickle sets items of a non-dict"));
      return add_items (m, a, start, error);
    case 'q': /* BINPUT */
      return take_uint (m, 1, &n, error) && (a = top (m, error)) != NULL
             && memo_put (m, n, a, error);
    case 'r': /* LONG_BINPUT */
      return take_uint (m, 4, &n, error) && (a = top (m, error)) != NULL
             && memo_put (m, n, a, error);
    case 0x94: /* MEMOIZE */
      return (a = top (m, error)) != NULL && memo_put (m, g_hash_table_size (m->memo), a, error);
    case 'h': /* BINGET */
      return take_uint (m, 1, &n, error) && memo_get (m, n, error);
    case 'j': /* LONG_BINGET */
      return take_uint (m, 4, &n, error) && memo_get (m, n, error);
    case 'c': /* GLOBAL */
      {
        g_autofree char *module = NULL;
        g_autofree char *attr = NULL;

        return take_line (m, &module, error) && take_line (m, &attr, error)
               && push_global (m, module, attr, error);
      }
    case 0x93: /* STACK_GLOBAL */
      if ((b = pop (m, error)) == NULL || (a = pop (m, error)) == NULL)
        return FALSE;
      if (a->kind != HEPA_PICKLE_STRING || b->kind != HEPA_PICKLE_STRING)
        return fail (m, error, HEPA_ERROR_FORMAT, _("pickle STACK_GLOBAL names are not strings"));
      return push_global (m, a->str, b->str, error);
    case 'R': /* REDUCE */
    case 0x81: /* NEWOBJ */
      return reduce (m, error);
    case 'b': /* BUILD: records the state; nothing's __setstate__ is called */
      if ((b = pop (m, error)) == NULL || (a = top (m, error)) == NULL)
        return FALSE;
      if (a->kind == HEPA_PICKLE_OBJECT)
        a->state = b;
      else if (a->kind != HEPA_PICKLE_DICT)  /* the _metadata attribute of a state dict */
        return fail (m, error, HEPA_ERROR_UNSUPPORTED, _("pickle BUILDs a plain value"));
      return TRUE;
    case 'Q': /* BINPERSID */
      if ((a = pop (m, error)) == NULL || (b = value_new (m, HEPA_PICKLE_PERSID, error)) == NULL)
        return FALSE;
      b->args = a;
      return push (m, b, error);
    default:
      if (op >= 0x20 && op < 0x7f)
        return fail (m, error, HEPA_ERROR_UNSUPPORTED,
                     _("pickle opcode “%c” (0x%02x) at byte %zu is not supported"),
                     op, op, (size_t) op_pos);
      return fail (m, error, HEPA_ERROR_UNSUPPORTED,
                   _("pickle opcode 0x%02x at byte %zu is not supported"),
                   op, (size_t) op_pos);
    }
}

HepaPickle *
hepa_pickle_load (const guint8      *data,
                  gsize              size,
                  const char *const *allowed_globals,
                  const char *const *callable_globals,
                  const char        *name,
                  GError           **error)
{
  g_autoptr(HepaPickle) self = g_new0 (HepaPickle, 1);
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();
  g_autoptr(GArray) marks = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GHashTable) memo = g_hash_table_new (NULL, NULL);
  Machine m = {
    .pickle = self,
    .data = data,
    .size = size,
    .name = name,
    .allowed = allowed_globals,
    .callable = callable_globals,
    .stack = stack,
    .marks = marks,
    .memo = memo,
  };
  gboolean stopped = FALSE;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  self->arena = g_ptr_array_new_with_free_func (value_free);
  while (!stopped)
    {
      if (m.pos >= size)
        {
          fail (&m, error, HEPA_ERROR_FORMAT, _("pickle ends without STOP"));
          return NULL;
        }
      if (!step (&m, &stopped, error))
        return NULL;
    }
  return g_steal_pointer (&self);
}
