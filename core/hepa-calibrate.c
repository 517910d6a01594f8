/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Calibration and the out-of-distribution reference of a model card. */
#include "config.h"

#include "hepa-calibrate.h"
#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-model-file.h"
#include "hepa-safetensors.h"

#include <cblas.h>
#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

/* The covariance keeps this many directions at most (and a quarter of the fit crops). */
#define OOD_RANK       64
#define POWER_STEPS    10
#define MEASURE_CHUNK  8

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

/* The OOD reference: crops 0, 2, 4, ... of @features fit it; crops 1, 3, 5, ... give its
 * percentiles. */
static gboolean
calibrate_ood (HepaModelCard  *card,
               const float    *features,
               guint           dim,
               const guint    *labels,
               guint           n,
               const char     *reference,
               GError        **error)
{
  g_autoptr(HepaOodReference) ood = fit_ood (features, dim, labels, n, card->n_classes, error);
  guint nh = n / 2;
  g_autofree double *scores = NULL;

  if (ood == NULL)
    return FALSE;
  scores = g_new (double, MAX (nh, 1));
  for (guint h = 0; h < nh; h++)
    scores[h] = hepa_ood_score (ood, features + (gsize) (2 * h + 1) * dim);
  ood->p95 = quantile (scores, nh, 0.95);
  ood->p99 = quantile (scores, nh, 0.99);
  ood->n_heldout = nh;
  ood->reference = g_strdup (reference);
  hepa_ood_reference_free (card->ood);
  card->ood = g_steal_pointer (&ood);
  return TRUE;
}

/* Temperature, ECE and the split-conformal threshold from held-out @logits. */
static void
calibrate_probabilities (HepaModelCard *card,
                         const float   *logits,
                         const guint   *labels,
                         guint          n,
                         double         coverage,
                         const char    *reference)
{
  guint nc = card->n_classes;
  g_autofree double *p = g_new (double, nc);
  g_autofree double *scores = g_new (double, MAX (n, 1));
  HepaReliability before, after;
  double t = hepa_fit_temperature (logits, labels, n, nc);
  guint k;

  hepa_reliability_compute (logits, labels, n, nc, 1.0, &before);
  hepa_reliability_compute (logits, labels, n, nc, t, &after);
  /* Split conformal: the ceil ((n + 1) coverage)-th smallest of 1 - p (true class). */
  for (guint h = 0; h < n; h++)
    {
      softmax_t (logits + (gsize) h * nc, nc, t, p);
      scores[h] = 1 - p[labels[h]];
    }
  qsort (scores, n, sizeof *scores, compare_doubles);
  k = (guint) ceil ((n + 1) * coverage);
  card->conformal_threshold = k > n ? 1.0 : scores[k - 1];
  card->calibrated = TRUE;
  card->temperature = t;
  card->coverage = coverage;
  card->ece_before = before.ece;
  card->ece_after = after.ece;
  card->n_calibration = n;
  g_free (card->calibration_data);
  card->calibration_data = g_strdup (reference);
}

static gboolean
check_labels (const guint  *labels,
              guint         n,
              guint         nc,
              GError      **error)
{
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
  return TRUE;
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
  g_autofree float *held_logits = NULL;
  g_autofree guint *held_labels = NULL;

  g_return_val_if_fail (card != NULL && features != NULL && logits != NULL && labels != NULL,
                        FALSE);

  if (!check_labels (labels, n, nc, error)
      || !calibrate_ood (card, features, dim, labels, n, reference, error))
    return FALSE;
  held_logits = g_new (float, (gsize) nh * nc);
  held_labels = g_new (guint, nh);
  for (guint h = 0; h < nh; h++)
    {
      memcpy (held_logits + (gsize) h * nc, logits + (gsize) (2 * h + 1) * nc,
              nc * sizeof (float));
      held_labels[h] = labels[2 * h + 1];
    }
  calibrate_probabilities (card, held_logits, held_labels, nh, coverage, reference);
  hepa_model_card_sync_json (card);
  return TRUE;
}

gboolean
hepa_calibrate_measure (HepaModel          *model,
                        const HepaDataset  *data,
                        float             **features_out,
                        guint              *dim_out,
                        float             **logits_out,
                        guint             **labels_out,
                        HepaCalibrateProgress progress,
                        gpointer            user_data,
                        GError            **error)
{
  const HepaModelCard *card = hepa_model_get_card (model);
  guint n = data->samples->len;
  g_autofree float *features = NULL;
  g_autofree float *logits = g_new (float, (gsize) MAX (n, 1) * card->n_classes);
  g_autofree guint *labels = g_new (guint, MAX (n, 1));
  g_autofree guint *card_label = g_new (guint, MAX (data->n_classes, 1));
  g_autoptr(HepaEngine) engine = NULL;
  guint dim = 0;

  for (guint c = 0; c < data->n_classes; c++)
    {
      guint k;

      for (k = 0; k < card->n_classes; k++)
        if (g_strcmp0 (card->classes[k], data->classes[c]) == 0)
          break;
      if (k == card->n_classes)
        {
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                       _("%s: class “%s” is not one of the model's"), data->dir,
                       data->classes[c]);
          return FALSE;
        }
      card_label[c] = k;
    }
  engine = hepa_engine_new (model, error);
  if (engine == NULL)
    return FALSE;
  for (guint start = 0; start < n; start += MEASURE_CHUNK)
    {
      guint b = MIN (MEASURE_CHUNK, n - start);
      HepaImage *images[MEASURE_CHUNK] = { NULL };
      const HepaFrame *frames[MEASURE_CHUNK];
      g_autoptr(GPtrArray) results = NULL;
      gboolean ok = TRUE;

      for (guint i = 0; i < b && ok; i++)
        {
          const HepaSample *s = g_ptr_array_index (data->samples, start + i);

          images[i] = hepa_image_open (s->path, error);
          ok = images[i] != NULL
               && (frames[i] = hepa_image_get_frame (images[i], 0, error)) != NULL;
          if (!ok)
            g_prefix_error (error, "%s: ", s->path);
          labels[start + i] = card_label[s->label];
        }
      if (ok)
        results = hepa_engine_classify_batch (engine, frames, NULL, b, NULL, error);
      for (guint i = 0; i < b; i++)
        g_clear_pointer (&images[i], hepa_image_unref);
      if (results == NULL)
        return FALSE;
      for (guint i = 0; i < b; i++)
        {
          const HepaResult *r = g_ptr_array_index (results, i);

          if (features == NULL)
            {
              dim = r->n_features;
              features = g_new (float, (gsize) n * dim);
            }
          memcpy (features + (gsize) (start + i) * dim, r->features, dim * sizeof (float));
          memcpy (logits + (gsize) (start + i) * card->n_classes, r->logits,
                  card->n_classes * sizeof (float));
        }
      if (progress != NULL)
        progress (start + b, n, user_data);
    }
  *features_out = g_steal_pointer (&features);
  *dim_out = dim;
  *logits_out = g_steal_pointer (&logits);
  *labels_out = g_steal_pointer (&labels);
  return TRUE;
}

gboolean
hepa_calibrate_after_training (const char         *path,
                               const HepaDataset  *data,
                               const float        *oof_probs,
                               const guint        *oof_labels,
                               guint               n_oof,
                               GError            **error)
{
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaWeights) weights = NULL;
  g_autofree float *features = NULL, *logits = NULL;
  g_autofree guint *labels = NULL;
  g_autofree char *reference = NULL;
  HepaModelCard *card;
  const HepaTensorEntry *fc;
  guint dim = 0, n = data->samples->len;
  gboolean ok;

  /* Too few crops for a reference: the card keeps saying "No out-of-distribution reference". */
  if (n < 20)
    return TRUE;
  for (guint c = 0; c < data->n_classes; c++)
    if (hepa_dataset_count (data, (int) c) < 4)
      return TRUE;
  model = hepa_model_load (path, error);
  if (model == NULL || (weights = hepa_model_file_load (path, error)) == NULL)
    return FALSE;
  if (!hepa_calibrate_measure (model, data, &features, &dim, &logits, &labels, NULL, NULL,
                               error))
    return FALSE;
  card = hepa_model_card_copy (hepa_model_get_card (model));
  reference = g_strdup_printf ("the training crops of %s: %u (sha256 of the file list %.16s…); "
                               "the percentiles are of training crops too, so fresh crops of "
                               "the same kind exceed them more often than 1 %% / 5 %%",
                               data->name, n, data->hash);
  ok = check_labels (labels, n, card->n_classes, error)
       && calibrate_ood (card, features, dim, labels, n, reference, error);
  if (ok && oof_probs != NULL && n_oof >= 20)
    {
      g_autofree float *logp = g_new (float, (gsize) n_oof * card->n_classes);
      g_autofree char *what = g_strdup_printf ("out-of-fold predictions of the "
                                               "cross-validation on %s (%u crops)",
                                               data->name, n_oof);

      for (gsize i = 0; i < (gsize) n_oof * card->n_classes; i++)
        logp[i] = logf (MAX (oof_probs[i], 1e-30f));
      calibrate_probabilities (card, logp, oof_labels, n_oof, 0.9, what);
    }
  if (ok)
    {
      hepa_model_card_sync_json (card);
      hepa_weights_set_metadata (weights, HEPA_MODEL_CARD_KEY, card->json);
      fc = hepa_weights_lookup (weights, "fc.weight");
      g_clear_pointer (&model, hepa_model_unref);
      ok = hepa_safetensors_save (weights, path,
                                          fc != NULL && fc->stored_dtype == HEPA_DTYPE_F16
                                          ? HEPA_DTYPE_F16 : HEPA_DTYPE_F32, error);
    }
  hepa_model_card_free (card);
  return ok;
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
