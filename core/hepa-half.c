/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Half precision conversions (see hepa-half.h). */
#include "config.h"

#include "hepa-half.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HEPA_HAVE_F16C_PATH 1
#endif

/* n little-endian halves at @src -> dst. The F16C instruction converts 8 at a time, exactly as
 * hepa_half_to_float does (every half is exact in fp32, subnormals included); it was a quarter of a
 * ResNet50 load in the scalar loop. */
#ifdef HEPA_HAVE_F16C_PATH
__attribute__ ((target ("avx,f16c")))
static void
half_to_float_f16c (const guint8 *src,
                 gsize         n,
                 float        *dst)
{
  gsize i = 0;

  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (dst + i, _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) (src + 2 * i))));
  for (; i < n; i++)
    dst[i] = hepa_half_to_float ((guint16) (src[2 * i] | (src[2 * i + 1] << 8)));
}

/* CPUID and XGETBV rather than __builtin_cpu_supports ("f16c"), which clang 14 does not know:
 * F16C, AVX and OSXSAVE, and an OS that saves the YMM registers. */
static gboolean
have_f16c (void)
{
  static gsize answer;      /* 0 not asked yet, 1 no, 2 yes */

  if (g_once_init_enter (&answer))
    {
      unsigned int a, b, c, d, lo, hi;
      const unsigned int need = (1u << 29) | (1u << 28) | (1u << 27);
      gsize yes = 1;

      if (__get_cpuid (1, &a, &b, &c, &d) && (c & need) == need)
        {
          __asm__ ("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0));
          if ((lo & 6) == 6)
            yes = 2;
        }
      g_once_init_leave (&answer, yes);
    }
  return answer == 2;
}
#endif

void
hepa_half_to_float_n (const guint8 *src,
              gsize         n,
              float        *dst)
{
#ifdef HEPA_HAVE_F16C_PATH
  if (G_BYTE_ORDER == G_LITTLE_ENDIAN && have_f16c ())
    {
      half_to_float_f16c (src, n, dst);
      return;
    }
#endif
  for (gsize i = 0; i < n; i++)
    dst[i] = hepa_half_to_float ((guint16) (src[2 * i] | (src[2 * i + 1] << 8)));
}

guint16
hepa_float_to_half (float f)
{
  guint32 bits;
  guint32 sign;
  int exponent;
  guint32 mantissa;

  memcpy (&bits, &f, sizeof bits);
  sign = (bits >> 16) & 0x8000;
  exponent = (int) ((bits >> 23) & 0xff) - 127 + 15;
  mantissa = bits & 0x7fffff;

  if (exponent <= 0)
    {
      /* Subnormal or zero in fp16. */
      guint32 shift;
      guint32 m;
      guint32 half;
      guint32 rounded;

      if (exponent < -10)
        return (guint16) sign;
      m = mantissa | 0x800000;
      shift = (guint32) (14 - exponent);
      half = 1u << (shift - 1);
      rounded = m >> shift;
      if ((m & ((1u << shift) - 1)) > half
          || ((m & ((1u << shift) - 1)) == half && (rounded & 1)))
        rounded++;
      return (guint16) (sign | rounded);
    }
  else
    {
      guint32 h = ((guint32) exponent << 10) | (mantissa >> 13);
      guint32 rest = mantissa & 0x1fff;

      /* A carry out of the mantissa correctly bumps the exponent. */
      if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;
      return (guint16) (sign | h);
    }
}
