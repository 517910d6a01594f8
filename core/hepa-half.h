/* SPDX-License-Identifier: GPL-3.0-or-later */
/* IEEE half precision (F16) and bfloat16 to and from fp32: the one converter the safetensors
 * reader and writer and the .pth reader share. */
#pragma once

#include <glib.h>
#include <string.h>

G_BEGIN_DECLS

/* Exact: every half, subnormals included, is representable in fp32. */
static inline float
hepa_half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;
  guint32 bits;
  float f;

  if (exponent == 0)
    {
      /* Zero or subnormal: mantissa * 2^-24, exact in fp32. */
      f = (float) mantissa * (1.0f / 16777216.0f);
      return sign ? -f : f;
    }
  if (exponent == 31)
    bits = sign | 0x7f800000 | (mantissa << 13);
  else
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  memcpy (&f, &bits, sizeof f);
  return f;
}

static inline float
hepa_bfloat_to_float (guint16 h)
{
  guint32 bits = (guint32) h << 16;
  float f;

  memcpy (&f, &bits, sizeof f);
  return f;
}

/* @n little-endian halves at @src -> @dst (fp32), with the F16C instruction where the CPU has
 * it, giving the same values as hepa_half_to_float. */
void    hepa_half_to_float_n (const guint8 *src,
                              gsize         n,
                              float        *dst);

/* Rounds to nearest even; the caller has checked that |@f| fits (<= 65504) and is finite. */
guint16 hepa_float_to_half   (float         f);

G_END_DECLS
