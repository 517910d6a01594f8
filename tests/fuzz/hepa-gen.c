/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "hepa-gen.h"

#include <string.h>
#include <zlib.h>

typedef struct
{
  GByteArray *out;
  gboolean    implicit;
  gboolean    big;
} Writer;

static void
put_u16 (Writer  *w,
         guint16  v)
{
  guint8 b[2];

  if (w->big)
    b[0] = v >> 8, b[1] = v & 0xff;
  else
    b[0] = v & 0xff, b[1] = v >> 8;
  g_byte_array_append (w->out, b, 2);
}

static void
put_u32 (Writer  *w,
         guint32  v)
{
  guint8 b[4];

  for (int i = 0; i < 4; i++)
    b[w->big ? 3 - i : i] = (v >> (8 * i)) & 0xff;
  g_byte_array_append (w->out, b, 4);
}

static gboolean
long_vr (const char *vr)
{
  return strstr ("OB OD OF OL OV OW SQ SV UC UN UR UT UV", vr) != NULL;
}

static guint
header_size (const Writer *w,
             const char   *vr)
{
  return w->implicit ? 8 : long_vr (vr) ? 12 : 8;
}

static void
put_header (Writer     *w,
            guint16     group,
            guint16     element,
            const char *vr,
            guint32     length)
{
  put_u16 (w, group);
  put_u16 (w, element);
  if (w->implicit)
    put_u32 (w, length);
  else if (long_vr (vr))
    {
      g_byte_array_append (w->out, (const guint8 *) vr, 2);
      put_u16 (w, 0);
      put_u32 (w, length);
    }
  else
    {
      g_byte_array_append (w->out, (const guint8 *) vr, 2);
      put_u16 (w, (guint16) length);
    }
}

/* A text value, padded to even length (space, NUL for UI). */
static void
put_text (Writer     *w,
          guint16     group,
          guint16     element,
          const char *vr,
          const char *value)
{
  gsize n = strlen (value);
  gsize padded = n + (n & 1);

  put_header (w, group, element, vr, (guint32) padded);
  g_byte_array_append (w->out, (const guint8 *) value, (guint) n);
  if (padded > n)
    g_byte_array_append (w->out, (const guint8 *) (strcmp (vr, "UI") == 0 ? "\0" : " "), 1);
}

static void
put_us (Writer  *w,
        guint16  group,
        guint16  element,
        guint16  value)
{
  put_header (w, group, element, "US", 2);
  put_u16 (w, value);
}

static void
put_meta (GByteArray *out,
          const char *xfer)
{
  Writer w = { out, FALSE, FALSE };
  g_autoptr(GByteArray) group = g_byte_array_new ();
  Writer g = { group, FALSE, FALSE };
  static const guint8 version[2] = { 0, 1 };
  guint8 preamble[128] = { 0 };

  put_header (&g, 0x0002, 0x0001, "OB", 2);
  g_byte_array_append (group, version, 2);
  put_text (&g, 0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.6.1");
  put_text (&g, 0x0002, 0x0003, "UI", "1.2.826.0.1.3680043.10.1375.1.1");
  put_text (&g, 0x0002, 0x0010, "UI", xfer);
  g_byte_array_append (out, preamble, sizeof preamble);
  g_byte_array_append (out, (const guint8 *) "DICM", 4);
  put_header (&w, 0x0002, 0x0000, "UL", 4);
  put_u32 (&w, group->len);
  g_byte_array_append (out, group->data, group->len);
}

static void
put_nested (Writer   *w,
            guint     depth,
            gboolean  undefined)
{
  /* Innermost: one short element. */
  Writer probe = { g_byte_array_new (), w->implicit, w->big };
  guint32 content;

  put_text (&probe, 0x0008, 0x0100, "SH", "X");
  content = probe.out->len;
  if (undefined)
    {
      for (guint i = 0; i < depth; i++)
        {
          put_header (w, 0x0008, 0x1115, "SQ", 0xFFFFFFFF);
          put_u16 (w, 0xFFFE), put_u16 (w, 0xE000), put_u32 (w, 0xFFFFFFFF);
        }
      g_byte_array_append (w->out, probe.out->data, probe.out->len);
      for (guint i = 0; i < depth; i++)
        {
          put_u16 (w, 0xFFFE), put_u16 (w, 0xE00D), put_u32 (w, 0);
          put_u16 (w, 0xFFFE), put_u16 (w, 0xE0DD), put_u32 (w, 0);
        }
    }
  else
    {
      guint per_level = header_size (w, "SQ") + 8;

      for (guint i = depth; i > 0; i--)
        {
          guint32 item = content + (i - 1) * per_level;

          put_header (w, 0x0008, 0x1115, "SQ", item + 8);
          put_u16 (w, 0xFFFE), put_u16 (w, 0xE000), put_u32 (w, item);
        }
      g_byte_array_append (w->out, probe.out->data, probe.out->len);
    }
  g_byte_array_unref (probe.out);
}

static GByteArray *
deflate_raw (const guint8 *data,
             gsize         size)
{
  GByteArray *out = g_byte_array_sized_new ((guint) (size / 2 + 64));
  z_stream z = { 0 };
  guint8 buf[16384];
  int status;

  deflateInit2 (&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = (Bytef *) data;
  z.avail_in = (uInt) size;
  do
    {
      z.next_out = buf;
      z.avail_out = sizeof buf;
      status = deflate (&z, Z_FINISH);
      g_byte_array_append (out, buf, (guint) (sizeof buf - z.avail_out));
    }
  while (status == Z_OK);
  deflateEnd (&z);
  return out;
}

const char *
hepa_gen_encoding_name (HepaGenEncoding encoding)
{
  static const char *const names[] = { "explicit-le", "implicit-le", "explicit-be", "deflated",
                                        "no-meta-implicit" };

  return encoding < HEPA_GEN_N_ENCODINGS ? names[encoding] : "?";
}

GBytes *
hepa_gen_nested_dicom (guint           depth,
                       HepaGenEncoding encoding,
                       gboolean        undefined_lengths)
{
  static const char *const xfers[] = { "1.2.840.10008.1.2.1", "1.2.840.10008.1.2",
                                       "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99", NULL };
  GByteArray *file = g_byte_array_new ();
  g_autoptr(GByteArray) ds = g_byte_array_new ();
  Writer w = { ds, encoding == HEPA_GEN_IMPLICIT_LE || encoding == HEPA_GEN_NO_META_IMPLICIT,
               encoding == HEPA_GEN_EXPLICIT_BE };
  guint8 pixels[64];

  if (encoding != HEPA_GEN_NO_META_IMPLICIT)
    put_meta (file, xfers[encoding]);
  put_text (&w, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.6.1");
  put_text (&w, 0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.10.1375.1.1");
  put_text (&w, 0x0008, 0x0060, "CS", "US");
  put_nested (&w, depth, undefined_lengths);
  put_text (&w, 0x0010, 0x0010, "PN", "Nested^Test");
  put_us (&w, 0x0028, 0x0002, 1);
  put_text (&w, 0x0028, 0x0004, "CS", "MONOCHROME2");
  put_us (&w, 0x0028, 0x0010, 8);
  put_us (&w, 0x0028, 0x0011, 8);
  put_us (&w, 0x0028, 0x0100, 8);
  put_us (&w, 0x0028, 0x0101, 8);
  put_us (&w, 0x0028, 0x0102, 7);
  put_us (&w, 0x0028, 0x0103, 0);
  for (guint i = 0; i < sizeof pixels; i++)
    pixels[i] = (guint8) (i * 4);
  put_header (&w, 0x7FE0, 0x0010, "OB", sizeof pixels);
  g_byte_array_append (ds, pixels, sizeof pixels);

  if (encoding == HEPA_GEN_DEFLATED)
    {
      g_autoptr(GByteArray) packed = deflate_raw (ds->data, ds->len);

      g_byte_array_append (file, packed->data, packed->len);
    }
  else
    g_byte_array_append (file, ds->data, ds->len);
  return g_byte_array_free_to_bytes (file);
}

/* The data set of a JPEG baseline image up to its pixel data's header. */
static void
put_jpeg_header (GByteArray *file,
                 Writer     *w,
                 guint       rows,
                 guint       columns)
{
  put_meta (file, "1.2.840.10008.1.2.4.50");
  put_text (w, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.6.1");
  put_text (w, 0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.10.1375.1.2");
  put_text (w, 0x0008, 0x0060, "CS", "US");
  put_us (w, 0x0028, 0x0002, 1);
  put_text (w, 0x0028, 0x0004, "CS", "MONOCHROME2");
  put_us (w, 0x0028, 0x0010, (guint16) rows);
  put_us (w, 0x0028, 0x0011, (guint16) columns);
  put_us (w, 0x0028, 0x0100, 8);
  put_us (w, 0x0028, 0x0101, 8);
  put_us (w, 0x0028, 0x0102, 7);
  put_us (w, 0x0028, 0x0103, 0);
  put_header (w, 0x7FE0, 0x0010, "OB", 0xFFFFFFFF);
  put_u16 (w, 0xFFFE), put_u16 (w, 0xE000), put_u32 (w, 0);   /* empty offset table */
}

GBytes *
hepa_gen_fragments_dicom (guint n_fragments)
{
  GByteArray *file = g_byte_array_new ();
  Writer w = { file, FALSE, FALSE };

  put_jpeg_header (file, &w, 64, 64);
  for (guint i = 0; i < n_fragments; i++)
    put_u16 (&w, 0xFFFE), put_u16 (&w, 0xE000), put_u32 (&w, 0);
  put_u16 (&w, 0xFFFE), put_u16 (&w, 0xE0DD), put_u32 (&w, 0);
  return g_byte_array_free_to_bytes (file);
}

GBytes *
hepa_gen_jpeg_dicom (guint         rows,
                     guint         columns,
                     const guint8 *jpeg,
                     gsize         jpeg_size)
{
  GByteArray *file = g_byte_array_new ();
  Writer w = { file, FALSE, FALSE };
  gsize padded = jpeg_size + (jpeg_size & 1);

  put_jpeg_header (file, &w, rows, columns);
  put_u16 (&w, 0xFFFE), put_u16 (&w, 0xE000), put_u32 (&w, (guint32) padded);
  g_byte_array_append (file, jpeg, (guint) jpeg_size);
  if (padded > jpeg_size)
    g_byte_array_append (file, (const guint8 *) "\0", 1);
  put_u16 (&w, 0xFFFE), put_u16 (&w, 0xE0DD), put_u32 (&w, 0);
  return g_byte_array_free_to_bytes (file);
}

char *
hepa_gen_nested_json (guint    depth,
                      gboolean objects)
{
  GString *s = g_string_sized_new (depth * (objects ? 6 : 2) + 2);

  for (guint i = 0; i < depth; i++)
    g_string_append (s, objects ? "{\"a\":" : "[");
  g_string_append (s, objects ? "1" : "");
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, objects ? '}' : ']');
  return g_string_free (s, FALSE);
}
