/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Asserts |a - b| <= atol + rtol * |b| elementwise and reports the worst element. */
#define hepa_assert_allclose(a, b, n, rtol, atol) \
  hepa_test_assert_allclose (__FILE__, __LINE__, #a, a, b, n, rtol, atol)

void   hepa_test_assert_allclose (const char  *file,
                                  int          line,
                                  const char  *expr,
                                  const float *a,
                                  const float *b,
                                  gsize        n,
                                  double       rtol,
                                  double       atol);
/* Normalized mean squared error sum((a-b)^2) / sum(b^2), as ggml's tests use. */
double hepa_test_nmse            (const float *a,
                                  const float *b,
                                  gsize        n);
/* A fresh temporary folder removed by the caller with hepa_test_rmtree. */
char  *hepa_test_mkdtemp         (void);
void   hepa_test_rmtree          (const char  *path);

G_END_DECLS
