/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-colormap.h"

#include <math.h>

static void
test_endpoints (void)
{
  guint8 rgb[3];

  hepa_colormap_lookup (HEPA_COLORMAP_INFERNO, 0.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 0);
  g_assert_cmpuint (rgb[2], ==, 4);
  hepa_colormap_lookup (HEPA_COLORMAP_INFERNO, 1.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 252);
  g_assert_cmpuint (rgb[1], ==, 255);
  hepa_colormap_lookup (HEPA_COLORMAP_VIRIDIS, 0.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 68);
  g_assert_cmpuint (rgb[2], ==, 84);
  hepa_colormap_lookup (HEPA_COLORMAP_VIRIDIS, 1.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 253);
  g_assert_cmpuint (rgb[1], ==, 231);

  /* Jet: dark blue, green in the middle, dark red. */
  hepa_colormap_lookup (HEPA_COLORMAP_JET, 0.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 0);
  g_assert_cmpuint (rgb[1], ==, 0);
  g_assert_cmpuint (rgb[2], ==, 128);
  hepa_colormap_lookup (HEPA_COLORMAP_JET, 0.5, rgb);
  g_assert_cmpuint (rgb[1], ==, 255);
  hepa_colormap_lookup (HEPA_COLORMAP_JET, 1.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 128);
  g_assert_cmpuint (rgb[2], ==, 0);

  /* Out of range and NaN clamp instead of reading outside the tables. */
  hepa_colormap_lookup (HEPA_COLORMAP_INFERNO, -3.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 0);
  hepa_colormap_lookup (HEPA_COLORMAP_INFERNO, NAN, rgb);
  g_assert_cmpuint (rgb[0], ==, 0);
  hepa_colormap_lookup (HEPA_COLORMAP_VIRIDIS, 7.0, rgb);
  g_assert_cmpuint (rgb[0], ==, 253);
}

static void
test_monotonic_luminance (void)
{
  /* Inferno and viridis are perceptually ordered: luminance never falls as t rises. */
  HepaColormap maps[] = { HEPA_COLORMAP_INFERNO, HEPA_COLORMAP_VIRIDIS };

  for (guint m = 0; m < G_N_ELEMENTS (maps); m++)
    {
      double last = -1;

      for (int i = 0; i <= 64; i++)
        {
          guint8 rgb[3];
          double y;

          hepa_colormap_lookup (maps[m], i / 64.0, rgb);
          y = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
          g_assert_cmpfloat (y, >=, last - 0.5);
          last = y;
        }
    }
}

static void
test_ranges (void)
{
  const float map[] = { -2.0f, 0.0f, 3.0f, 6.0f };
  const float flat[] = { 2.0f, 2.0f, 2.0f };
  float lo, hi;

  hepa_overlay_range (map, 4, HEPA_OVERLAY_SCALE_PER_ROI, 0, &lo, &hi);
  g_assert_cmpfloat (lo, ==, -2.0f);
  g_assert_cmpfloat (hi, ==, 6.0f);
  hepa_overlay_range (map, 4, HEPA_OVERLAY_SCALE_ABSOLUTE, 12.0f, &lo, &hi);
  g_assert_cmpfloat (lo, ==, 0.0f);
  g_assert_cmpfloat (hi, ==, 12.0f);
  hepa_overlay_range (map, 4, HEPA_OVERLAY_SCALE_ABSOLUTE, 0.0f, &lo, &hi);
  g_assert_cmpfloat (hi, ==, 1.0f);
  hepa_overlay_range (flat, 3, HEPA_OVERLAY_SCALE_PER_ROI, 0, &lo, &hi);
  g_assert_cmpfloat (lo, ==, 2.0f);
  g_assert_cmpfloat (hi, >, lo);
  g_assert_cmpfloat (hepa_overlay_max_positive (map, 4), ==, 6.0f);
  g_assert_cmpfloat (hepa_overlay_max_positive (map, 1), ==, 0.0f);
}

static guint32
expected (HepaColormap cmap,
          double       t)
{
  guint8 rgb[3];

  hepa_colormap_lookup (cmap, t, rgb);
  return 0xff000000u | ((guint32) rgb[0] << 16) | ((guint32) rgb[1] << 8) | rgb[2];
}

static void
test_render (void)
{
  /* 2x2 map: per-ROI puts min at the bottom and max at the top of the map; absolute with
   * reference 12 puts 6 in the middle and clips negatives to the bottom. */
  const float map[] = { -2.0f, 0.0f, 3.0f, 6.0f };
  guint32 out[4];

  hepa_overlay_render_argb32 (map, 2, 2, HEPA_OVERLAY_SCALE_PER_ROI, 0, HEPA_COLORMAP_VIRIDIS,
                              out);
  g_assert_cmphex (out[0], ==, expected (HEPA_COLORMAP_VIRIDIS, 0.0));
  g_assert_cmphex (out[3], ==, expected (HEPA_COLORMAP_VIRIDIS, 1.0));
  g_assert_cmphex (out[1], ==, expected (HEPA_COLORMAP_VIRIDIS, 64 / 255.0));  /* 2/8 */

  hepa_overlay_render_argb32 (map, 2, 2, HEPA_OVERLAY_SCALE_ABSOLUTE, 12.0f,
                              HEPA_COLORMAP_INFERNO, out);
  g_assert_cmphex (out[0], ==, expected (HEPA_COLORMAP_INFERNO, 0.0));
  g_assert_cmphex (out[1], ==, expected (HEPA_COLORMAP_INFERNO, 0.0));
  g_assert_cmphex (out[3], ==, expected (HEPA_COLORMAP_INFERNO, 128 / 255.0));
  for (int i = 0; i < 4; i++)
    g_assert_cmphex (out[i] >> 24, ==, 0xff);
  g_assert_cmpstr (hepa_colormap_to_string (HEPA_COLORMAP_JET), ==, "jet");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/colormap/endpoints", test_endpoints);
  g_test_add_func ("/ui/colormap/monotonic-luminance", test_monotonic_luminance);
  g_test_add_func ("/ui/overlay/ranges", test_ranges);
  g_test_add_func ("/ui/overlay/render", test_render);
  return g_test_run ();
}
