/* SPDX-License-Identifier: GPL-3.0-or-later */
/* How deeply a DICOM file nests its sequences, told without DCMTK. DCMTK's reader recurses once
 * per sequence and per item: ten thousand nested sequences (240 KB) overflow the stack. This
 * walk keeps its own bounded stack, reads only element headers (values are skipped with a seek,
 * or inflated and dropped for a deflated data set) and stops at the first level over the limit.
 * It follows every encoding DCMTK reads: explicit and implicit VR, both byte orders, defined and
 * undefined lengths, deflate, with or without preamble and meta header. Where it cannot follow
 * the structure (damage), it stops and lets DCMTK report the damage. */
#include "config.h"

#include "hepa-dicom.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define BUF_SIZE   (64 * 1024)
#define UNDEFINED  G_MAXUINT64
/* A deflated data set larger than this is refused: DCMTK would inflate it whole into memory. */
#define MAX_INFLATED ((guint64) 2 << 30)

typedef struct
{
  int       fd;
  guint64   file_off;        /* next byte of the file to read */
  gboolean  deflated;
  z_stream  z;
  gboolean  z_ready;
  gboolean  z_done;
  guint8    in[BUF_SIZE];
  guint8    buf[BUF_SIZE];
  gsize     start, end;      /* unread bytes of buf */
  guint64   pos;             /* logical position of buf[start] in the stream */
  guint64   inflated;
  gboolean  too_large;
} Reader;

static gboolean
fill (Reader *r)
{
  if (r->start > 0)
    {
      memmove (r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
  if (r->end == BUF_SIZE)
    return TRUE;
  if (!r->deflated)
    {
      ssize_t n;

      do
        n = pread (r->fd, r->buf + r->end, BUF_SIZE - r->end, (off_t) r->file_off);
      while (n < 0 && errno == EINTR);
      if (n <= 0)
        return FALSE;
      r->file_off += (guint64) n;
      r->end += (gsize) n;
      return TRUE;
    }
  while (!r->z_done)
    {
      int status;
      gsize before;
      uInt in_before;

      if (r->z.avail_in == 0)
        {
          ssize_t n;

          do
            n = pread (r->fd, r->in, BUF_SIZE, (off_t) r->file_off);
          while (n < 0 && errno == EINTR);
          if (n <= 0)
            {
              r->z_done = TRUE;
              break;
            }
          r->file_off += (guint64) n;
          r->z.next_in = r->in;
          r->z.avail_in = (uInt) n;
        }
      r->z.next_out = r->buf + r->end;
      r->z.avail_out = (uInt) (BUF_SIZE - r->end);
      before = r->z.avail_out;
      in_before = r->z.avail_in;
      status = inflate (&r->z, Z_NO_FLUSH);
      r->end += before - r->z.avail_out;
      r->inflated += before - r->z.avail_out;
      if (r->inflated > MAX_INFLATED)
        {
          r->too_large = TRUE;
          r->z_done = TRUE;
          return FALSE;
        }
      /* The end, damage, or a call that moved nothing (zlib then answers Z_BUF_ERROR for ever:
       * a fuzzer found this spinning). */
      if (status == Z_STREAM_END || (status != Z_OK && status != Z_BUF_ERROR)
          || (before == r->z.avail_out && in_before == r->z.avail_in))
        r->z_done = TRUE;
      if (before != r->z.avail_out)
        return TRUE;
    }
  /* Only new bytes count: returning TRUE for bytes already there made want () spin on a
   * deflated stream that ended short of an element header (found by fuzz-dicom). */
  return FALSE;
}

/* Makes @n bytes available at buf + start; FALSE at the end of the data. */
static gboolean
want (Reader *r,
      gsize   n)
{
  while (r->end - r->start < n)
    if (!fill (r))
      return FALSE;
  return TRUE;
}

static gboolean
skip (Reader  *r,
      guint64  n)
{
  gsize here = (gsize) MIN (n, (guint64) (r->end - r->start));

  r->start += here;
  r->pos += here;
  n -= here;
  if (n == 0)
    return TRUE;
  if (!r->deflated)
    {
      r->file_off += n;
      r->pos += n;
      return TRUE;
    }
  while (n > 0)
    {
      if (!fill (r))
        return FALSE;
      here = (gsize) MIN (n, (guint64) (r->end - r->start));
      r->start += here;
      r->pos += here;
      n -= here;
    }
  return TRUE;
}

static guint16
u16 (const guint8 *p,
     gboolean      big)
{
  return big ? (guint16) (p[0] << 8 | p[1]) : (guint16) (p[1] << 8 | p[0]);
}

static guint32
u32 (const guint8 *p,
     gboolean      big)
{
  return big ? (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3]
             : (guint32) p[3] << 24 | (guint32) p[2] << 16 | (guint32) p[1] << 8 | p[0];
}

static gboolean
long_length_vr (const guint8 *vr)
{
  static const char *const vrs[] = { "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC",
                                     "UN", "UR", "UT", "UV" };

  for (gsize i = 0; i < G_N_ELEMENTS (vrs); i++)
    if (vr[0] == vrs[i][0] && vr[1] == vrs[i][1])
      return TRUE;
  return FALSE;
}

typedef struct
{
  gboolean  items;      /* inside a sequence (items expected), else inside a data set */
  gboolean  fragments;  /* pixel data fragments: item values are not data sets */
  gboolean  implicit;
  guint64   end;        /* logical end, or UNDEFINED */
} Frame;

/* Walks the data set from the reader's position. Returns the deepest sequence nesting seen,
 * stopping as soon as it passes @limit. */
static guint
walk (Reader   *r,
      gboolean  implicit,
      gboolean  big,
      guint     limit)
{
  Frame stack[2 * 256 + 4];
  guint top = 0, depth = 0, deepest = 0;

  g_assert (limit < 256);
  stack[0] = (Frame) { FALSE, FALSE, implicit, UNDEFINED };
  for (;;)
    {
      Frame *f = &stack[top];
      guint16 group, element;
      guint64 length;
      guint8 vr[2] = { 0, 0 };

      if (f->end != UNDEFINED && r->pos >= f->end)
        {
          if (top == 0)
            return deepest;
          if (f->items)
            depth--;
          top--;
          continue;
        }
      if (!want (r, 8))
        return deepest;
      group = u16 (r->buf + r->start, big);
      element = u16 (r->buf + r->start + 2, big);
      if (group == 0xFFFE)
        {
          length = u32 (r->buf + r->start + 4, big);
          skip (r, 8);
          if (element == 0xE000 && f->items)
            {
              if (f->fragments)
                {
                  if (length == 0xFFFFFFFF || !skip (r, length))
                    return deepest;
                  continue;
                }
              stack[++top] = (Frame) { FALSE, FALSE, f->implicit,
                                       length == 0xFFFFFFFF ? UNDEFINED : r->pos + length };
              continue;
            }
          if ((element == 0xE0DD && f->items) || (element == 0xE00D && !f->items && top > 0))
            {
              if (f->items)
                depth--;
              top--;
              continue;
            }
          /* A delimiter out of place: damage DCMTK reports. */
          return deepest;
        }
      if (f->items)
        return deepest;   /* an element where an item belongs */
      if (f->implicit)
        {
          length = u32 (r->buf + r->start + 4, big);
          skip (r, 8);
        }
      else
        {
          vr[0] = r->buf[r->start + 4];
          vr[1] = r->buf[r->start + 5];
          if (long_length_vr (vr))
            {
              if (!want (r, 12))
                return deepest;
              length = u32 (r->buf + r->start + 8, big);
              skip (r, 12);
            }
          else
            {
              length = u16 (r->buf + r->start + 6, big);
              skip (r, 8);
            }
        }

      {
        gboolean sequence = FALSE, fragments = FALSE, child_implicit = f->implicit;

        if (length == 0xFFFFFFFF)
          {
            /* Undefined length: a sequence, encapsulated pixel data, or UN holding an implicit
             * little endian sequence (CP 246). */
            sequence = TRUE;
            fragments = group == 0x7FE0 && element == 0x0010;
            if (!f->implicit && vr[0] == 'U' && vr[1] == 'N')
              child_implicit = TRUE;
          }
        else if (!f->implicit && vr[0] == 'S' && vr[1] == 'Q')
          sequence = TRUE;
        else if (length >= 8 && want (r, 4) && u16 (r->buf + r->start, big) == 0xFFFE
                 && u16 (r->buf + r->start + 2, big) == 0xE000)
          {
            /* Implicit VR, or a VR that is not SQ, whose value starts like an item: DCMTK
             * reads a dictionary SQ this way, so count it as one. */
            sequence = TRUE;
            if (!f->implicit && vr[0] == 'U' && vr[1] == 'N')
              child_implicit = TRUE;
          }
        if (!sequence)
          {
            if (!skip (r, length))
              return deepest;
            continue;
          }
        depth++;
        deepest = MAX (deepest, depth);
        if (depth > limit)
          return deepest;
        stack[++top] = (Frame) { TRUE, fragments, child_implicit,
                                 length == 0xFFFFFFFF ? UNDEFINED : r->pos + length };
      }
    }
}

static void
reader_reset (Reader  *r,
              guint64  file_off)
{
  if (r->z_ready)
    inflateEnd (&r->z);
  memset (&r->z, 0, sizeof r->z);
  r->z_ready = FALSE;
  r->z_done = FALSE;
  r->deflated = FALSE;
  r->file_off = file_off;
  r->start = r->end = 0;
  r->pos = 0;
  r->inflated = 0;
}

guint
hepa_dicom_nesting_depth (int       fd,
                          guint     limit,
                          gboolean *too_large)
{
  g_autofree Reader *r = g_new0 (Reader, 1);
  guint64 data_off = 0;
  g_autofree char *xfer = NULL;
  guint deepest = 0;
  gboolean implicit = FALSE, big = FALSE, deflated = FALSE, meta = FALSE;

  *too_large = FALSE;
  limit = MIN (limit, 250);
  r->fd = fd;
  reader_reset (r, 0);

  /* Preamble and "DICM", or none. */
  if (want (r, 132) && memcmp (r->buf + 128, "DICM", 4) == 0)
    {
      skip (r, 132);
      data_off = 132;
    }
  /* The meta header (group 0002) is explicit VR little endian. */
  while (want (r, 8) && u16 (r->buf + r->start, FALSE) == 0x0002)
    {
      guint16 element = u16 (r->buf + r->start + 2, FALSE);
      guint64 length;

      meta = TRUE;
      if (long_length_vr (r->buf + r->start + 4))
        {
          if (!want (r, 12))
            break;
          length = u32 (r->buf + r->start + 8, FALSE);
          skip (r, 12);
        }
      else
        {
          length = u16 (r->buf + r->start + 6, FALSE);
          skip (r, 8);
        }
      if (length == 0xFFFFFFFF)
        break;
      if (element == 0x0010 && length < 128 && want (r, (gsize) length))
        {
          g_free (xfer);
          xfer = g_strndup ((const char *) r->buf + r->start, (gsize) length);
          g_strstrip (xfer);
        }
      if (!skip (r, length))
        break;
      data_off = r->pos;
    }

  if (meta && xfer != NULL)
    {
      implicit = g_strcmp0 (xfer, "1.2.840.10008.1.2") == 0;
      big = g_strcmp0 (xfer, "1.2.840.10008.1.2.2") == 0;
      deflated = g_strcmp0 (xfer, "1.2.840.10008.1.2.1.99") == 0;
    }
  else if (want (r, 6))
    {
      const guint8 *p = r->buf + r->start;

      /* No meta header: guess as DCMTK does, from the first element. */
      big = p[0] == 0 && p[1] != 0;
      implicit = !(g_ascii_isupper (p[4]) && g_ascii_isupper (p[5]));
    }

  if (deflated)
    {
      reader_reset (r, data_off);
      r->deflated = TRUE;
      if (inflateInit2 (&r->z, -MAX_WBITS) != Z_OK)
        return 0;
      r->z_ready = TRUE;
      deepest = walk (r, FALSE, FALSE, limit);
      *too_large = r->too_large;
      inflateEnd (&r->z);
      r->z_ready = FALSE;
      if (deepest > limit || *too_large)
        return deepest;
      /* Some writers keep the zlib wrapper: read it that way too. */
      reader_reset (r, data_off);
      r->deflated = TRUE;
      if (inflateInit2 (&r->z, MAX_WBITS + 32) != Z_OK)
        return deepest;
      r->z_ready = TRUE;
      {
        guint again = walk (r, FALSE, FALSE, limit);   /* MAX () would walk twice */

        deepest = MAX (deepest, again);
      }
      *too_large = r->too_large;
      inflateEnd (&r->z);
      r->z_ready = FALSE;
      return deepest;
    }

  /* The encoding the file declares, then the others: DCMTK may read a file in another encoding
   * than it declares (or that the guess above gave), and a wrong reading stops at once on real
   * data, so this costs a few reads. */
  {
    const struct { gboolean implicit, big; } encodings[] = {
      { implicit, big }, { TRUE, FALSE }, { FALSE, FALSE }, { FALSE, TRUE },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (encodings) && deepest <= limit; i++)
      {
        if (i > 0 && encodings[i].implicit == implicit && encodings[i].big == big)
          continue;
        guint found;

        reader_reset (r, data_off);
        found = walk (r, encodings[i].implicit, encodings[i].big, limit);
        deepest = MAX (deepest, found);
      }
  }
  return deepest;
}
