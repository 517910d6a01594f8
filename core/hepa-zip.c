/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A zip reader for torch.save archives, written from the PKWARE APPNOTE (4.3.x): end of central
 * directory (+ ZIP64 locator and record), central directory, local headers. Only stored entries
 * are read; PyTorch never compresses them. */
#include "config.h"

#include "hepa-zip.h"

#include "hepa-error.h"

#include <glib/gi18n.h>
#include <string.h>

#define SIG_LOCAL        0x04034b50u
#define SIG_CENTRAL      0x02014b50u
#define SIG_EOCD         0x06054b50u
#define SIG_ZIP64_EOCD   0x06064b50u
#define SIG_ZIP64_LOCATOR 0x07064b50u

#define EOCD_SIZE          22
#define ZIP64_LOCATOR_SIZE 20
#define ZIP64_EOCD_SIZE    56
#define CENTRAL_SIZE       46
#define LOCAL_SIZE         30

/* A central directory entry name longer than this is not something torch writes. */
#define MAX_NAME_LEN 4096

typedef struct
{
  char    *name;
  guint16  flags;
  guint16  method;
  guint32  crc;
  guint64  csize;
  guint64  usize;
  guint64  local_offset;
} ZipEntry;

struct _HepaZip
{
  const guint8 *data;
  gsize         size;
  char         *prefix;    /* "file: " or "", for error messages */
  GArray       *entries;   /* ZipEntry */
  GHashTable   *by_name;   /* name -> index + 1 */
};

static inline guint16
rd16 (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static inline guint32
rd32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static inline guint64
rd64 (const guint8 *p)
{
  return (guint64) rd32 (p) | ((guint64) rd32 (p + 4) << 32);
}

/* TRUE when [offset, offset + len) lies inside a buffer of @size bytes, without overflow. */
static inline gboolean
in_bounds (guint64 size,
           guint64 offset,
           guint64 len)
{
  return offset <= size && len <= size - offset;
}

static void
zip_entry_clear (gpointer p)
{
  ZipEntry *e = p;

  g_free (e->name);
}

void
hepa_zip_free (HepaZip *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->entries, g_array_unref);
  g_free (self->prefix);
  g_free (self);
}

static gboolean
fail (GError    **error,
      const char *name,
      const char *what)
{
  if (name != NULL)
    g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT, "%s: %s", name, what);
  else
    g_set_error_literal (error, HEPA_ERROR, HEPA_ERROR_FORMAT, what);
  return FALSE;
}

static gboolean
entry_fail (HepaZip    *self,
            GError    **error,
            HepaError   code,
            const char *format,
            ...) G_GNUC_PRINTF (4, 5);

static gboolean
entry_fail (HepaZip    *self,
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
  g_set_error (error, HEPA_ERROR, code, "%s%s", self->prefix, message);
  return FALSE;
}

/* Reads the ZIP64 extended information extra field of a central entry, replacing the fields that
 * were saturated (0xFFFFFFFF) in the fixed part, in the APPNOTE's order. */
static gboolean
parse_zip64_extra (const guint8 *extra,
                   gsize         extra_len,
                   ZipEntry     *e,
                   gboolean      need_usize,
                   gboolean      need_csize,
                   gboolean      need_offset)
{
  gsize pos = 0;

  while (pos + 4 <= extra_len)
    {
      guint16 id = rd16 (extra + pos);
      guint16 len = rd16 (extra + pos + 2);
      const guint8 *field = extra + pos + 4;
      gsize used = 0;

      if (len > extra_len - pos - 4)
        return FALSE;
      if (id == 0x0001)
        {
          if (need_usize)
            {
              if (used + 8 > len)
                return FALSE;
              e->usize = rd64 (field + used);
              used += 8;
            }
          if (need_csize)
            {
              if (used + 8 > len)
                return FALSE;
              e->csize = rd64 (field + used);
              used += 8;
            }
          if (need_offset)
            {
              if (used + 8 > len)
                return FALSE;
              e->local_offset = rd64 (field + used);
              used += 8;
            }
          return TRUE;
        }
      pos += 4 + (gsize) len;
    }
  return !need_usize && !need_csize && !need_offset;
}

HepaZip *
hepa_zip_open (const guint8 *data,
               gsize         size,
               const char   *name,
               GError      **error)
{
  g_autoptr(HepaZip) self = NULL;
  gint64 eocd = -1;
  guint64 n_entries, cd_size, cd_offset;
  gsize lowest;
  gsize pos;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  if (size < EOCD_SIZE)
    {
      fail (error, name, _("file is too short to be a zip archive"));
      return NULL;
    }

  /* The end of central directory record is followed by a comment of at most 65535 bytes; search
   * backwards for a signature whose comment length reaches exactly the end of the file. */
  lowest = size > EOCD_SIZE + 0xffff ? size - EOCD_SIZE - 0xffff : 0;
  for (gsize p = size - EOCD_SIZE + 1; p-- > lowest;)
    {
      if (rd32 (data + p) == SIG_EOCD && p + EOCD_SIZE + rd16 (data + p + 20) == size)
        {
          eocd = (gint64) p;
          break;
        }
    }
  if (eocd < 0)
    {
      fail (error, name, _("no zip end of central directory record (truncated or not a zip file)"));
      return NULL;
    }

  {
    const guint8 *e = data + eocd;
    guint16 disk = rd16 (e + 4), cd_disk = rd16 (e + 6);

    n_entries = rd16 (e + 10);
    cd_size = rd32 (e + 12);
    cd_offset = rd32 (e + 16);
    if ((disk != 0 && disk != 0xffff) || (cd_disk != 0 && cd_disk != 0xffff)
        || rd16 (e + 8) != rd16 (e + 10))
      {
        fail (error, name, _("multi-volume zip archives are not supported"));
        return NULL;
      }
  }

  if (n_entries == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu)
    {
      const guint8 *loc, *z;
      guint64 z_offset;

      if (eocd < ZIP64_LOCATOR_SIZE
          || rd32 (data + eocd - ZIP64_LOCATOR_SIZE) != SIG_ZIP64_LOCATOR)
        {
          fail (error, name, _("zip archive needs ZIP64 but has no ZIP64 locator"));
          return NULL;
        }
      loc = data + eocd - ZIP64_LOCATOR_SIZE;
      z_offset = rd64 (loc + 8);
      if (!in_bounds (size, z_offset, ZIP64_EOCD_SIZE)
          || rd32 (data + z_offset) != SIG_ZIP64_EOCD)
        {
          fail (error, name, _("ZIP64 end of central directory record is missing or corrupt"));
          return NULL;
        }
      z = data + z_offset;
      n_entries = rd64 (z + 32);
      cd_size = rd64 (z + 40);
      cd_offset = rd64 (z + 48);
      if (rd64 (z + 24) != n_entries)
        {
          fail (error, name, _("multi-volume zip archives are not supported"));
          return NULL;
        }
    }

  if (!in_bounds ((guint64) eocd, cd_offset, cd_size))
    {
      fail (error, name, _("zip central directory lies outside the file"));
      return NULL;
    }
  if (n_entries > cd_size / CENTRAL_SIZE)
    {
      fail (error, name, _("zip central directory is too small for its entry count"));
      return NULL;
    }

  self = g_new0 (HepaZip, 1);
  self->data = data;
  self->size = size;
  self->prefix = name != NULL ? g_strdup_printf ("%s: ", name) : g_strdup ("");
  self->entries = g_array_sized_new (FALSE, TRUE, sizeof (ZipEntry), (guint) n_entries);
  g_array_set_clear_func (self->entries, zip_entry_clear);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  pos = (gsize) cd_offset;
  for (guint64 i = 0; i < n_entries; i++)
    {
      const guint8 *c = data + pos;
      guint16 name_len, extra_len, comment_len;
      guint32 csize32, usize32, offset32;
      ZipEntry entry = { 0 };

      if (!in_bounds (cd_offset + cd_size, pos, CENTRAL_SIZE) || rd32 (c) != SIG_CENTRAL)
        {
          fail (error, name, _("zip central directory is corrupt"));
          return NULL;
        }
      name_len = rd16 (c + 28);
      extra_len = rd16 (c + 30);
      comment_len = rd16 (c + 32);
      if (!in_bounds (cd_offset + cd_size, pos + CENTRAL_SIZE,
                      (guint64) name_len + extra_len + comment_len))
        {
          fail (error, name, _("zip central directory entry runs past the directory"));
          return NULL;
        }
      if (name_len == 0 || name_len > MAX_NAME_LEN
          || memchr (c + CENTRAL_SIZE, '\0', name_len) != NULL)
        {
          fail (error, name, _("zip central directory has an invalid entry name"));
          return NULL;
        }

      entry.flags = rd16 (c + 8);
      entry.method = rd16 (c + 10);
      entry.crc = rd32 (c + 16);
      csize32 = rd32 (c + 20);
      usize32 = rd32 (c + 24);
      offset32 = rd32 (c + 42);
      entry.csize = csize32;
      entry.usize = usize32;
      entry.local_offset = offset32;
      if ((csize32 == 0xffffffffu || usize32 == 0xffffffffu || offset32 == 0xffffffffu)
          && !parse_zip64_extra (c + CENTRAL_SIZE + name_len, extra_len, &entry,
                                 usize32 == 0xffffffffu, csize32 == 0xffffffffu,
                                 offset32 == 0xffffffffu))
        {
          fail (error, name, _("zip entry has a corrupt ZIP64 extra field"));
          return NULL;
        }
      if (!in_bounds (cd_offset, entry.local_offset, LOCAL_SIZE)
          || !in_bounds (cd_offset, entry.local_offset, entry.csize))
        {
          fail (error, name, _("zip entry lies outside the file (truncated archive?)"));
          return NULL;
        }

      entry.name = g_strndup ((const char *) c + CENTRAL_SIZE, name_len);
      g_array_append_val (self->entries, entry);
      /* The first of duplicated names wins; torch never writes duplicates. */
      if (!g_hash_table_contains (self->by_name, entry.name))
        g_hash_table_insert (self->by_name, entry.name, GUINT_TO_POINTER (self->entries->len));
      pos += CENTRAL_SIZE + (gsize) name_len + extra_len + comment_len;
    }

  return g_steal_pointer (&self);
}

guint
hepa_zip_get_n_entries (HepaZip *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->entries->len;
}

const char *
hepa_zip_get_name (HepaZip *self,
                   guint    index)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (index < self->entries->len, NULL);
  return g_array_index (self->entries, ZipEntry, index).name;
}

gboolean
hepa_zip_has_entry (HepaZip    *self,
                    const char *entry)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return g_hash_table_contains (self->by_name, entry);
}

gboolean
hepa_zip_get_entry (HepaZip       *self,
                    const char    *entry,
                    gboolean       verify_crc,
                    const guint8 **out_data,
                    gsize         *out_size,
                    GError       **error)
{
  guint index;
  const ZipEntry *e;
  const guint8 *l;
  guint64 data_offset;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (entry != NULL, FALSE);

  index = GPOINTER_TO_UINT (g_hash_table_lookup (self->by_name, entry));
  if (index == 0)
    {
      entry_fail (self, error, HEPA_ERROR_FORMAT,
                  _("zip archive has no entry “%s”"), entry);
      return FALSE;
    }
  e = &g_array_index (self->entries, ZipEntry, index - 1);

  if (e->flags & 0x0001)
    {
      entry_fail (self, error, HEPA_ERROR_UNSUPPORTED,
                  _("zip entry “%s” is encrypted"), entry);
      return FALSE;
    }
  if (e->method != 0 || e->csize != e->usize)
    {
      entry_fail (self, error, HEPA_ERROR_UNSUPPORTED,
                  _("zip entry “%s” is compressed (method %u); only stored entries, as "
                    "torch.save writes them, are supported"),
                  entry, e->method);
      return FALSE;
    }

  l = self->data + e->local_offset;
  if (rd32 (l) != SIG_LOCAL)
    {
      entry_fail (self, error, HEPA_ERROR_FORMAT,
                  _("zip local header of “%s” is corrupt"), entry);
      return FALSE;
    }
  /* The local header repeats the name; a mismatch means the directory points at the wrong
   * place. (It lies before the central directory, as checked on open.) */
  if (rd16 (l + 26) != strlen (e->name)
      || !in_bounds (self->size, e->local_offset + LOCAL_SIZE, rd16 (l + 26))
      || memcmp (l + LOCAL_SIZE, e->name, rd16 (l + 26)) != 0)
    {
      entry_fail (self, error, HEPA_ERROR_FORMAT,
                  _("zip local header of “%s” names another entry"), entry);
      return FALSE;
    }
  data_offset = e->local_offset + LOCAL_SIZE + rd16 (l + 26) + rd16 (l + 28);
  if (!in_bounds (self->size, data_offset, e->usize))
    {
      entry_fail (self, error, HEPA_ERROR_FORMAT,
                  _("zip entry “%s” runs past the end of the file (truncated archive?)"), entry);
      return FALSE;
    }
  if (verify_crc && hepa_zip_crc32 (self->data + data_offset, (gsize) e->usize) != e->crc)
    {
      entry_fail (self, error, HEPA_ERROR_FORMAT,
                  _("zip entry “%s” fails its CRC-32 check (the file is damaged)"), entry);
      return FALSE;
    }

  *out_data = self->data + data_offset;
  *out_size = (gsize) e->usize;
  return TRUE;
}

/* Slicing-by-8 tables, built once. */
static guint32 crc_table[8][256];

static gpointer
crc_init (gpointer data)
{
  for (guint32 i = 0; i < 256; i++)
    {
      guint32 c = i;

      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      crc_table[0][i] = c;
    }
  for (guint32 i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
  return NULL;
}

/* Table-driven CRC of @c (pre-inverted, as in the loop below) over @size bytes. */
static guint32
crc_tables (guint32       c,
            const guint8 *data,
            gsize         size)
{
  while (size >= 8)
    {
      guint32 lo = c ^ rd32 (data);
      guint32 hi = rd32 (data + 4);

      c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff]
          ^ crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24]
          ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff]
          ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
      data += 8;
      size -= 8;
    }
  while (size-- > 0)
    c = crc_table[0][(c ^ *data++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Carry-less multiplication folding (Gopal et al., "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction", Intel, 2009), in the bit-reflected domain of the
 * zip polynomial: four 128-bit lanes fold 64 bytes per step, then fold to one lane, to 64 bits,
 * and a Barrett reduction gives the 32-bit remainder. @size is a multiple of 16, at least 64;
 * @c is pre-inverted. */
__attribute__((target ("pclmul,sse4.1")))
static guint32
crc_clmul (guint32       c,
           const guint8 *data,
           gsize         size)
{
  /* x^(4*128+32) and x^(4*128-32) mod P, for folding across 512 bits; the same for 128 bits;
   * x^64 mod P; then P itself and floor (x^64 / P) for the reduction, all bit-reflected. */
  const __m128i fold512 = _mm_set_epi64x (0x01c6e41596, 0x0154442bd4);
  const __m128i fold128 = _mm_set_epi64x (0x00ccaa009e, 0x01751997d0);
  const __m128i fold64 = _mm_set_epi64x (0, 0x0163cd6124);
  const __m128i barrett = _mm_set_epi64x (0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32 (~0, 0, ~0, 0);
  __m128i a = _mm_loadu_si128 ((const __m128i *) data);
  __m128i b = _mm_loadu_si128 ((const __m128i *) (data + 16));
  __m128i d = _mm_loadu_si128 ((const __m128i *) (data + 32));
  __m128i e = _mm_loadu_si128 ((const __m128i *) (data + 48));
  __m128i t;

#define FOLD(x, k, next) \
  _mm_xor_si128 (_mm_xor_si128 (_mm_clmulepi64_si128 (x, k, 0x00), \
                                _mm_clmulepi64_si128 (x, k, 0x11)), next)

  a = _mm_xor_si128 (a, _mm_cvtsi32_si128 ((int) c));
  data += 64;
  size -= 64;
  for (; size >= 64; data += 64, size -= 64)
    {
      a = FOLD (a, fold512, _mm_loadu_si128 ((const __m128i *) data));
      b = FOLD (b, fold512, _mm_loadu_si128 ((const __m128i *) (data + 16)));
      d = FOLD (d, fold512, _mm_loadu_si128 ((const __m128i *) (data + 32)));
      e = FOLD (e, fold512, _mm_loadu_si128 ((const __m128i *) (data + 48)));
    }
  a = FOLD (a, fold128, b);
  a = FOLD (a, fold128, d);
  a = FOLD (a, fold128, e);
  for (; size >= 16; data += 16, size -= 16)
    a = FOLD (a, fold128, _mm_loadu_si128 ((const __m128i *) data));
#undef FOLD

  /* 128 -> 64 bits. */
  t = _mm_clmulepi64_si128 (a, fold128, 0x10);
  a = _mm_xor_si128 (_mm_srli_si128 (a, 8), t);
  t = _mm_srli_si128 (a, 4);
  a = _mm_clmulepi64_si128 (_mm_and_si128 (a, low32), fold64, 0x00);
  a = _mm_xor_si128 (a, t);
  /* Barrett reduction to 32 bits. */
  t = _mm_clmulepi64_si128 (_mm_and_si128 (a, low32), barrett, 0x10);
  t = _mm_clmulepi64_si128 (_mm_and_si128 (t, low32), barrett, 0x00);
  a = _mm_xor_si128 (a, t);
  return (guint32) _mm_extract_epi32 (a, 1);
}
#define HAVE_CRC_CLMUL 1
#endif

guint32
hepa_zip_crc32 (const guint8 *data,
                gsize         size)
{
  static GOnce once = G_ONCE_INIT;
  guint32 c = 0xffffffffu;

  g_once (&once, crc_init, NULL);
#ifdef HAVE_CRC_CLMUL
  {
    static int have_clmul = -1;

    if (have_clmul < 0)
      have_clmul = __builtin_cpu_supports ("pclmul") && __builtin_cpu_supports ("sse4.1");
    if (have_clmul && size >= 64)
      {
        gsize n = size & ~(gsize) 15;

        c = crc_clmul (c, data, n);
        data += n;
        size -= n;
      }
  }
#endif
  return crc_tables (c, data, size) ^ 0xffffffffu;
}

/* The table-only CRC, for tests of the fast path. */
guint32
hepa_zip_crc32_portable (const guint8 *data,
                         gsize         size)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, crc_init, NULL);
  return crc_tables (0xffffffffu, data, size) ^ 0xffffffffu;
}
