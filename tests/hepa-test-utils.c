/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-test-utils.h"

#include <glib/gstdio.h>
#include <math.h>

void
hepa_test_assert_allclose (const char  *file,
                           int          line,
                           const char  *expr,
                           const float *a,
                           const float *b,
                           gsize        n,
                           double       rtol,
                           double       atol)
{
  gsize worst = 0;
  double worst_excess = -1.0;

  for (gsize i = 0; i < n; i++)
    {
      double diff = fabs ((double) a[i] - (double) b[i]);
      double limit = atol + rtol * fabs ((double) b[i]);
      double excess = isfinite (diff) ? diff - limit : INFINITY;

      if (excess > worst_excess)
        {
          worst_excess = excess;
          worst = i;
        }
    }
  if (n > 0 && worst_excess > 0)
    {
      g_autofree char *msg = g_strdup_printf ("%s: element %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                                              " is %.9g, expected %.9g (rtol %g, atol %g)",
                                              expr, worst, n, a[worst], b[worst], rtol, atol);
      g_assertion_message (G_LOG_DOMAIN, file, line, G_STRFUNC, msg);
    }
}

double
hepa_test_nmse (const float *a,
                const float *b,
                gsize        n)
{
  double num = 0, den = 0;

  for (gsize i = 0; i < n; i++)
    {
      double d = (double) a[i] - (double) b[i];
      num += d * d;
      den += (double) b[i] * b[i];
    }
  return den > 0 ? num / den : num;
}

char *
hepa_test_mkdtemp (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("hepascope-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
hepa_test_rmtree (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK) || !g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_unlink (path);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      hepa_test_rmtree (child);
    }
  g_rmdir (path);
}
