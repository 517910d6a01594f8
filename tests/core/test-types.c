/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-error.h"
#include "hepa-types.h"

#include <errno.h>

static void
test_rect_clamp_inside (void)
{
  HepaRect r = { 10, 20, 30, 40 };

  g_assert_false (hepa_rect_clamp (&r, 100, 100));
  g_assert_cmpint (r.x, ==, 10);
  g_assert_cmpint (r.width, ==, 30);
}

static void
test_rect_clamp_across_border (void)
{
  HepaRect r = { -5, 90, 30, 40 };

  g_assert_true (hepa_rect_clamp (&r, 100, 100));
  g_assert_cmpint (r.x, ==, 0);
  g_assert_cmpint (r.y, ==, 90);
  g_assert_cmpint (r.width, ==, 25);
  g_assert_cmpint (r.height, ==, 10);
}

static void
test_rect_clamp_outside (void)
{
  HepaRect r = { 200, 200, 30, 40 };

  g_assert_true (hepa_rect_clamp (&r, 100, 100));
  g_assert_cmpint (r.width, ==, 0);
  g_assert_cmpint (r.height, ==, 0);
}

static void
test_error_from_errno (void)
{
  g_assert_cmpint (hepa_error_from_errno (ENOSPC), ==, HEPA_ERROR_NO_SPACE);
  g_assert_cmpint (hepa_error_from_errno (EACCES), ==, HEPA_ERROR_PERMISSION);
  g_assert_cmpint (hepa_error_from_errno (EIO), ==, HEPA_ERROR_IO);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/types/rect-clamp-inside", test_rect_clamp_inside);
  g_test_add_func ("/core/types/rect-clamp-across-border", test_rect_clamp_across_border);
  g_test_add_func ("/core/types/rect-clamp-outside", test_rect_clamp_outside);
  g_test_add_func ("/core/types/error-from-errno", test_error_from_errno);
  return g_test_run ();
}
