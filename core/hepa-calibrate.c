/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Calibration and the out-of-distribution reference of a model card. */
#include "config.h"

#include "hepa-calibrate.h"
#include "hepa-error.h"

#include <cblas.h>
#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

/* The covariance keeps this many directions at most (and a quarter of the fit crops). */
#define OOD_RANK       64
#define POWER_STEPS    10

/* ---- Probabilities ------------------------------------------------------------------------- */

static void
softmax_t (const float *logits,
           guint        n_classes,
           double       temperature,
           double      *p)
{
  double mx = -INFINITY, sum = 0;

  for (guint k = 0; k < n_classes; k++)
    mx = MAX (mx, logits[k] / temperature);
  for (guint k = 0; k < n_classes; k++)
    sum += p[k] = exp (logits[k] / temperature - mx);
  for (guint k = 0; k < n_classes; k++)
    p[k] /= sum;
}

void
hepa_reliability_compute (const float     *logits,
                          const guint     *labels,
                          guint            n,
                          guint            n_classes,
                          double           temperature,
                          HepaReliability *out)
{
  g_autofree double *p = g_new (double, n_classes);

  memset (out, 0, sizeof *out);
  for (guint i = 0; i < n; i++)
    {
      guint top = 0;
      int bin;

      softmax_t (logits + (gsize) i * n_classes, n_classes, temperature, p);
      for (guint k = 1; k < n_classes; k++)
        if (p[k] > p[top])
          top = k;
      bin = MIN ((int) (p[top] * HEPA_ECE_BINS), HEPA_ECE_BINS - 1);
      out->count[bin]++;
      out->confidence[bin] += p[top];
      out->accuracy[bin] += top == labels[i];
    }
  for (int b = 0; b < HEPA_ECE_BINS; b++)
    if (out->count[b] > 0)
      {
        out->ece += fabs (out->accuracy[b] - out->confidence[b]) / MAX (n, 1);
        out->confidence[b] /= out->count[b];
        out->accuracy[b] /= out->count[b];
      }
}

static double
nll (const float *logits,
     const guint *labels,
     guint        n,
     guint        n_classes,
     double       temperature)
{
  double total = 0;

  for (guint i = 0; i < n; i++)
    {
      const float *l = logits + (gsize) i * n_classes;
      double mx = -INFINITY, sum = 0;

      for (guint k = 0; k < n_classes; k++)
        mx = MAX (mx, l[k] / temperature);
      for (guint k = 0; k < n_classes; k++)
        sum += exp (l[k] / temperature - mx);
      total += mx + log (sum) - l[labels[i]] / temperature;
    }
  return total / MAX (n, 1);
}

double
hepa_fit_temperature (const float *logits,
                      const guint *labels,
                      guint        n,
                      guint        n_classes)
{
  const double phi = (sqrt (5.0) - 1) / 2;
  double a = log (0.05), b = log (20.0);
  double c = b - phi * (b - a), d = a + phi * (b - a);
  double fc = nll (logits, labels, n, n_classes, exp (c));
  double fd = nll (logits, labels, n, n_classes, exp (d));

  for (int it = 0; it < 80 && b - a > 1e-6; it++)
    {
      if (fc < fd)
        {
          b = d;
          d = c;
          fd = fc;
          c = b - phi * (b - a);
          fc = nll (logits, labels, n, n_classes, exp (c));
        }
      else
        {
          a = c;
          c = d;
          fc = fd;
          d = a + phi * (b - a);
          fd = nll (logits, labels, n, n_classes, exp (d));
        }
    }
  return exp ((a + b) / 2);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* The ceil (q n)-th smallest of @v (sorted in place). */
static double
quantile (double *v,
          guint   n,
          double  q)
{
  guint k;

  qsort (v, n, sizeof *v, compare_doubles);
  k = (guint) ceil (q * n);
  return v[CLAMP (k, 1, n) - 1];
}

/* ---- Low-rank covariance ------------------------------------------------------------------- */

/* Orthonormalizes the @k rows (length @d) of @v, modified Gram-Schmidt; a row that vanishes is
 * replaced by a unit vector along one axis. */
static void
orthonormalize (float *v,
                guint  k,
                guint  d)
{
  for (guint i = 0; i < k; i++)
    {
      float *r = v + (gsize) i * d;
      double norm = 0;

      for (guint j = 0; j < i; j++)
        {
          const float *q = v + (gsize) j * d;
          double dot = 0;

          for (guint t = 0; t < d; t++)
            dot += (double) r[t] * q[t];
          for (guint t = 0; t < d; t++)
            r[t] -= (float) (dot * q[t]);
        }
      for (guint t = 0; t < d; t++)
        norm += (double) r[t] * r[t];
      norm = sqrt (norm);
      if (norm < 1e-20)
        {
          memset (r, 0, d * sizeof (float));
          r[i % d] = 1;
          continue;
        }
      for (guint t = 0; t < d; t++)
        r[t] = (float) (r[t] / norm);
    }
}

/* Eigen-decomposition of the symmetric @k x @k matrix @a (destroyed) by cyclic Jacobi:
 * eigenvalues in @w, eigenvectors in the columns of @u. */
static void
jacobi (double *a,
        guint   k,
        double *w,
        double *u)
{
  for (guint i = 0; i < k; i++)
    for (guint j = 0; j < k; j++)
      u[i * k + j] = i == j;
  for (int sweep = 0; sweep < 100; sweep++)
    {
      double off = 0;

      for (guint p = 0; p < k; p++)
        for (guint q = p + 1; q < k; q++)
          off += a[p * k + q] * a[p * k + q];
      if (off < 1e-30)
        break;
      for (guint p = 0; p < k; p++)
        for (guint q = p + 1; q < k; q++)
          {
            double apq = a[p * k + q], theta, t, c, s;

            if (fabs (apq) < 1e-300)
              continue;
            theta = (a[q * k + q] - a[p * k + p]) / (2 * apq);
            t = (theta >= 0 ? 1 : -1) / (fabs (theta) + sqrt (theta * theta + 1));
            c = 1 / sqrt (t * t + 1);
            s = t * c;
            for (guint r = 0; r < k; r++)
              {
                double arp = a[r * k + p], arq = a[r * k + q];

                a[r * k + p] = c * arp - s * arq;
                a[r * k + q] = s * arp + c * arq;
              }
            for (guint r = 0; r < k; r++)
              {
                double apr = a[p * k + r], aqr = a[q * k + r];

                a[p * k + r] = c * apr - s * aqr;
                a[q * k + r] = s * apr + c * aqr;
              }
            for (guint r = 0; r < k; r++)
              {
                double urp = u[r * k + p], urq = u[r * k + q];

                u[r * k + p] = c * urp - s * urq;
                u[r * k + q] = s * urp + c * urq;
              }
          }
    }
  for (guint i = 0; i < k; i++)
    w[i] = a[i * k + i];
}

/* Top @k eigenpairs of xc^T xc / m (xc: m x d, rows centred) by subspace iteration. */
static void
top_eigen (const float *xc,
           guint        m,
           guint        d,
           guint        k,
           float       *components,
           float       *eigenvalues)
{
  g_autofree float *y = g_new (float, (gsize) m * k);
  g_autofree float *v = g_new (float, (gsize) k * d);
  g_autofree double *b = g_new (double, (gsize) k * k);
  g_autofree double *w = g_new (double, k);
  g_autofree double *u = g_new (double, (gsize) k * k);
  g_autofree guint *order = g_new (guint, k);
  GRand *rand = g_rand_new_with_seed (20261207);

  for (gsize i = 0; i < (gsize) k * d; i++)
    v[i] = (float) g_rand_double_range (rand, -1, 1);
  g_rand_free (rand);
  orthonormalize (v, k, d);
  for (int step = 0; step < POWER_STEPS; step++)
    {
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) m, (int) k, (int) d, 1.0f, xc,
                   (int) d, v, (int) d, 0.0f, y, (int) k);
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (int) k, (int) d, (int) m, 1.0f, y,
                   (int) k, xc, (int) d, 0.0f, v, (int) d);
      orthonormalize (v, k, d);
    }
  /* Rayleigh-Ritz in the subspace. */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) m, (int) k, (int) d, 1.0f, xc,
               (int) d, v, (int) d, 0.0f, y, (int) k);
  for (guint i = 0; i < k; i++)
    for (guint j = 0; j < k; j++)
      {
        double s = 0;

        for (guint r = 0; r < m; r++)
          s += (double) y[(gsize) r * k + i] * y[(gsize) r * k + j];
        b[i * k + j] = s / m;
      }
  jacobi (b, k, w, u);
  for (guint i = 0; i < k; i++)
    order[i] = i;
  /* Largest first (k is small: selection sort). */
  for (guint i = 0; i < k; i++)
    for (guint j = i + 1; j < k; j++)
      if (w[order[j]] > w[order[i]])
        {
          guint t = order[i];

          order[i] = order[j];
          order[j] = t;
        }
  for (guint i = 0; i < k; i++)
    {
      float *out = components + (gsize) i * d;
      guint e = order[i];

      memset (out, 0, d * sizeof (float));
      for (guint j = 0; j < k; j++)
        {
          float coef = (float) u[j * k + e];
          const float *vj = v + (gsize) j * d;

          for (guint t = 0; t < d; t++)
            out[t] += coef * vj[t];
        }
      eigenvalues[i] = (float) MAX (w[e], 1e-12);
    }
  orthonormalize (components, k, d);
}

static HepaOodReference *
fit_ood (const float *features,
         guint        dim,
         const guint *labels,
         guint        n,
         guint        n_classes,
         GError     **error)
{
  g_autoptr(HepaOodReference) ood = g_new0 (HepaOodReference, 1);
  g_autofree guint *counts = g_new0 (guint, n_classes);
  g_autofree double *sums = g_new0 (double, (gsize) n_classes * dim);
  g_autofree float *xc = NULL;
  guint m = 0;
  double trace = 0, kept = 0;

  for (guint i = 0; i < n; i += 2)
    {
      counts[labels[i]]++;
      for (guint j = 0; j < dim; j++)
        sums[(gsize) labels[i] * dim + j] += features[(gsize) i * dim + j];
      m++;
    }
  for (guint c = 0; c < n_classes; c++)
    if (counts[c] < 2)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                     _("At least 4 crops of every class are needed to calibrate"));
        return NULL;
      }
  ood->dim = dim;
  ood->n_classes = n_classes;
  ood->rank = MIN (OOD_RANK, m / 4);
  ood->rank = MIN (ood->rank, dim - 1);
  ood->means = g_new (float, (gsize) n_classes * dim);
  for (guint c = 0; c < n_classes; c++)
    for (guint j = 0; j < dim; j++)
      ood->means[(gsize) c * dim + j] = (float) (sums[(gsize) c * dim + j] / counts[c]);
  xc = g_new (float, (gsize) m * dim);
  for (guint i = 0, r = 0; i < n; i += 2, r++)
    for (guint j = 0; j < dim; j++)
      {
        float v = features[(gsize) i * dim + j] - ood->means[(gsize) labels[i] * dim + j];

        xc[(gsize) r * dim + j] = v;
        trace += (double) v * v;
      }
  trace /= m;
  ood->components = g_new (float, (gsize) MAX (ood->rank, 1) * dim);
  ood->eigenvalues = g_new (float, MAX (ood->rank, 1));
  if (ood->rank > 0)
    top_eigen (xc, m, dim, ood->rank, ood->components, ood->eigenvalues);
  for (guint i = 0; i < ood->rank; i++)
    kept += ood->eigenvalues[i];
  /* What the kept directions do not explain, spread over the others; never below a
   * thousandth of the mean variance, so directions unseen in the fit crops still count. */
  ood->residual = MAX ((trace - kept) / (dim - ood->rank), 1e-3 * trace / dim);
  ood->residual = MAX (ood->residual, 1e-20);
  ood->n_fit = m;
  return g_steal_pointer (&ood);
}

gboolean
hepa_calibrate_card (HepaModelCard  *card,
                     const float    *features,
                     guint           dim,
                     const float    *logits,
                     const guint    *labels,
                     guint           n,
                     double          coverage,
                     const char     *reference,
                     GError        **error)
{
  guint nc = card->n_classes;
  guint nh = n / 2;
  g_autoptr(HepaOodReference) ood = NULL;
  g_autofree double *scores = NULL;
  g_autofree float *held_logits = NULL;
  g_autofree guint *held_labels = NULL;
  g_autofree double *p = g_new (double, nc);
  HepaReliability before, after;
  double t;

  g_return_val_if_fail (card != NULL && features != NULL && logits != NULL && labels != NULL,
                        FALSE);

  if (n < 20)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("Calibration needs at least 20 crops; %u given"), n);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    if (labels[i] >= nc)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                     _("Crop %u has label %u but the model has %u classes"), i, labels[i], nc);
        return FALSE;
      }
  ood = fit_ood (features, dim, labels, n, nc, error);
  if (ood == NULL)
    return FALSE;

  /* The held-out half: crops 1, 3, 5, ... */
  scores = g_new (double, nh);
  held_logits = g_new (float, (gsize) nh * nc);
  held_labels = g_new (guint, nh);
  for (guint h = 0; h < nh; h++)
    {
      guint i = 2 * h + 1;

      scores[h] = hepa_ood_score (ood, features + (gsize) i * dim);
      memcpy (held_logits + (gsize) h * nc, logits + (gsize) i * nc, nc * sizeof (float));
      held_labels[h] = labels[i];
    }
  ood->p95 = quantile (scores, nh, 0.95);
  ood->p99 = quantile (scores, nh, 0.99);
  ood->n_heldout = nh;
  ood->reference = g_strdup (reference);

  t = hepa_fit_temperature (held_logits, held_labels, nh, nc);
  hepa_reliability_compute (held_logits, held_labels, nh, nc, 1.0, &before);
  hepa_reliability_compute (held_logits, held_labels, nh, nc, t, &after);
  /* Split conformal: the ceil ((n + 1) coverage)-th smallest of 1 - p (true class). */
  for (guint h = 0; h < nh; h++)
    {
      softmax_t (held_logits + (gsize) h * nc, nc, t, p);
      scores[h] = 1 - p[held_labels[h]];
    }
  qsort (scores, nh, sizeof *scores, compare_doubles);
  {
    guint k = (guint) ceil ((nh + 1) * coverage);

    card->conformal_threshold = k > nh ? 1.0 : scores[k - 1];
  }
  card->calibrated = TRUE;
  card->temperature = t;
  card->coverage = coverage;
  card->ece_before = before.ece;
  card->ece_after = after.ece;
  card->n_calibration = nh;
  g_free (card->calibration_data);
  card->calibration_data = g_strdup (reference);
  hepa_ood_reference_free (card->ood);
  card->ood = g_steal_pointer (&ood);
  hepa_model_card_sync_json (card);
  return TRUE;
}

void
hepa_calibrate_roi_sizes (HepaModelCard *card,
                          const double  *side_px,
                          const double  *side_mm,
                          guint          n)
{
  g_autofree double *v = g_new (double, MAX (n, 1));
  guint m = 0;

  if (n == 0)
    return;
  memcpy (v, side_px, n * sizeof *v);
  card->roi_px[0] = quantile (v, n, 0.05);
  card->roi_px[1] = quantile (v, n, 0.5);
  card->roi_px[2] = quantile (v, n, 0.95);
  card->has_roi_px = TRUE;
  for (guint i = 0; side_mm != NULL && i < n; i++)
    if (isfinite (side_mm[i]) && side_mm[i] > 0)
      v[m++] = side_mm[i];
  card->has_roi_mm = m > 0 && m >= n / 2;
  if (card->has_roi_mm)
    {
      card->roi_mm[0] = quantile (v, m, 0.05);
      card->roi_mm[1] = quantile (v, m, 0.5);
      card->roi_mm[2] = quantile (v, m, 0.95);
    }
  hepa_model_card_sync_json (card);
}
