/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-metrics.h"

#include <math.h>
#include <stdlib.h>

static int
argmax (const float *p,
        guint        k)
{
  int best = 0;

  for (guint j = 1; j < k; j++)
    if (p[j] > p[best])
      best = (int) j;
  return best;
}

static double
ratio (double num,
       double den)
{
  return den > 0 ? num / den : NAN;
}

static double
nan_mean (const double *v,
          guint         n)
{
  double s = 0;
  guint c = 0;

  for (guint i = 0; i < n; i++)
    if (!isnan (v[i]))
      {
        s += v[i];
        c++;
      }
  return c ? s / c : NAN;
}

typedef struct
{
  float score;
  int   positive;
} Scored;

static int
cmp_scored_desc (const void *a,
                 const void *b)
{
  float sa = ((const Scored *) a)->score, sb = ((const Scored *) b)->score;

  return sa < sb ? 1 : sa > sb ? -1 : 0;
}

guint
hepa_metrics_roc (guint         n_classes,
                  guint         n,
                  const int    *labels,
                  const float  *probs,
                  guint         k,
                  double      **fpr,
                  double      **tpr)
{
  g_autofree Scored *s = g_new (Scored, MAX (n, 1));
  guint pos = 0, neg, m = 0;
  double tp = 0, fp = 0;
  double *fx = g_new (double, n + 2), *ty = g_new (double, n + 2);

  for (guint i = 0; i < n; i++)
    {
      s[i].score = probs[(gsize) i * n_classes + k];
      s[i].positive = labels[i] == (int) k;
      pos += s[i].positive;
    }
  neg = n - pos;
  qsort (s, n, sizeof (Scored), cmp_scored_desc);
  fx[m] = 0;
  ty[m] = 0;
  m++;
  for (guint i = 0; i < n;)
    {
      /* Samples with the same score move the threshold together. */
      guint j = i;
      while (j < n && s[j].score == s[i].score)
        {
          if (s[j].positive)
            tp++;
          else
            fp++;
          j++;
        }
      fx[m] = neg ? fp / neg : 0;
      ty[m] = pos ? tp / pos : 0;
      m++;
      i = j;
    }
  *fpr = fx;
  *tpr = ty;
  return m;
}

static double
auc_of (guint        n_classes,
        guint        n,
        const int   *labels,
        const float *probs,
        guint        k)
{
  g_autofree double *fx = NULL, *ty = NULL;
  guint pos = 0, m;
  double area = 0;

  for (guint i = 0; i < n; i++)
    pos += labels[i] == (int) k;
  if (pos == 0 || pos == n)
    return NAN;
  m = hepa_metrics_roc (n_classes, n, labels, probs, k, &fx, &ty);
  /* Trapezoids: ties count half, as the Mann-Whitney statistic. */
  for (guint i = 1; i < m; i++)
    area += (fx[i] - fx[i - 1]) * (ty[i] + ty[i - 1]) * 0.5;
  return area;
}

HepaMetrics *
hepa_metrics_compute (guint              n_classes,
                      const char *const *classes,
                      guint              n,
                      const int         *labels,
                      const float       *probs)
{
  HepaMetrics *m;
  guint correct = 0;

  g_return_val_if_fail (n_classes >= 2, NULL);
  m = g_new0 (HepaMetrics, 1);
  m->n_classes = n_classes;
  m->classes = g_new0 (char *, n_classes + 1);
  for (guint k = 0; k < n_classes; k++)
    m->classes[k] = classes ? g_strdup (classes[k]) : g_strdup_printf ("class%u", k);
  m->n = n;
  m->loss = NAN;
  m->confusion = g_new0 (guint, n_classes * n_classes);
  m->class_accuracy = g_new (double, n_classes);
  m->sensitivity = g_new (double, n_classes);
  m->specificity = g_new (double, n_classes);
  m->precision = g_new (double, n_classes);
  m->f1 = g_new (double, n_classes);
  m->auc = g_new (double, n_classes);

  for (guint i = 0; i < n; i++)
    {
      int pred = argmax (probs + (gsize) i * n_classes, n_classes);
      g_return_val_if_fail (labels[i] >= 0 && labels[i] < (int) n_classes, m);
      m->confusion[labels[i] * n_classes + pred]++;
      correct += pred == labels[i];
    }
  m->accuracy = ratio (correct, n);
  for (guint k = 0; k < n_classes; k++)
    {
      double tp = m->confusion[k * n_classes + k], fn = 0, fp = 0, tn;
      for (guint j = 0; j < n_classes; j++)
        if (j != k)
          {
            fn += m->confusion[k * n_classes + j];
            fp += m->confusion[j * n_classes + k];
          }
      tn = n - tp - fn - fp;
      m->class_accuracy[k] = ratio (tp + tn, n);
      m->sensitivity[k] = ratio (tp, tp + fn);
      m->specificity[k] = ratio (tn, tn + fp);
      m->precision[k] = ratio (tp, tp + fp);
      m->f1[k] = ratio (2 * tp, 2 * tp + fp + fn);
      m->auc[k] = auc_of (n_classes, n, labels, probs, k);
    }
  m->macro_sensitivity = nan_mean (m->sensitivity, n_classes);
  m->macro_specificity = nan_mean (m->specificity, n_classes);
  m->macro_precision = nan_mean (m->precision, n_classes);
  m->macro_f1 = nan_mean (m->f1, n_classes);
  m->macro_auc = nan_mean (m->auc, n_classes);
  return m;
}

void
hepa_metrics_free (HepaMetrics *self)
{
  if (self == NULL)
    return;
  g_strfreev (self->classes);
  g_free (self->confusion);
  g_free (self->class_accuracy);
  g_free (self->sensitivity);
  g_free (self->specificity);
  g_free (self->precision);
  g_free (self->f1);
  g_free (self->auc);
  g_free (self);
}

static void
add_number (JsonBuilder *b,
            const char  *name,
            double       v)
{
  json_builder_set_member_name (b, name);
  if (isnan (v) || isinf (v))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, v);
}

static void
add_confusion (JsonBuilder  *b,
               const guint  *confusion,
               guint         k)
{
  json_builder_set_member_name (b, "confusion");
  json_builder_begin_array (b);
  for (guint i = 0; i < k; i++)
    {
      json_builder_begin_array (b);
      for (guint j = 0; j < k; j++)
        json_builder_add_int_value (b, confusion[i * k + j]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

void
hepa_metrics_add_json (const HepaMetrics *self,
                       JsonBuilder       *b)
{
  json_builder_set_member_name (b, "n");
  json_builder_add_int_value (b, self->n);
  add_number (b, "accuracy", self->accuracy);
  if (!isnan (self->loss))
    add_number (b, "loss", self->loss);
  add_number (b, "macro_sensitivity", self->macro_sensitivity);
  add_number (b, "macro_specificity", self->macro_specificity);
  add_number (b, "macro_precision", self->macro_precision);
  add_number (b, "macro_f1", self->macro_f1);
  add_number (b, "macro_auc", self->macro_auc);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint k = 0; k < self->n_classes; k++)
    json_builder_add_string_value (b, self->classes[k]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "per_class");
  json_builder_begin_object (b);
  for (guint k = 0; k < self->n_classes; k++)
    {
      json_builder_set_member_name (b, self->classes[k]);
      json_builder_begin_object (b);
      add_number (b, "accuracy", self->class_accuracy[k]);
      add_number (b, "sensitivity", self->sensitivity[k]);
      add_number (b, "specificity", self->specificity[k]);
      add_number (b, "precision", self->precision[k]);
      add_number (b, "recall", self->sensitivity[k]);
      add_number (b, "f1", self->f1[k]);
      add_number (b, "auc", self->auc[k]);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  add_confusion (b, self->confusion, self->n_classes);
}

HepaMeanSd
hepa_mean_sd (const double *values,
              guint         n)
{
  HepaMeanSd r = { NAN, NAN, 0 };
  double s = 0, ss = 0;

  for (guint i = 0; i < n; i++)
    if (!isnan (values[i]))
      {
        s += values[i];
        r.n++;
      }
  if (r.n == 0)
    return r;
  r.mean = s / r.n;
  for (guint i = 0; i < n; i++)
    if (!isnan (values[i]))
      ss += (values[i] - r.mean) * (values[i] - r.mean);
  r.sd = r.n > 1 ? sqrt (ss / (r.n - 1)) : 0.0;
  return r;
}

static void
add_mean_sd (JsonBuilder  *b,
             const char   *name,
             const double *v,
             guint         n)
{
  HepaMeanSd r = hepa_mean_sd (v, n);

  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  add_number (b, "mean", r.mean);
  add_number (b, "sd", r.sd);
  json_builder_end_object (b);
}

#define GATHER(expr)                         \
  G_STMT_START                               \
  {                                          \
    for (guint f_ = 0; f_ < n_folds; f_++)   \
      {                                      \
        const HepaMetrics *m_ = folds[f_];   \
        v[f_] = (expr);                      \
      }                                      \
  }                                          \
  G_STMT_END

void
hepa_metrics_add_summary_json (HepaMetrics *const *folds,
                               guint               n_folds,
                               JsonBuilder        *b)
{
  g_autofree double *v = g_new (double, MAX (n_folds, 1));
  g_autofree guint *sum = NULL;
  guint k;

  g_return_if_fail (n_folds > 0);
  k = folds[0]->n_classes;
  GATHER (m_->accuracy);
  add_mean_sd (b, "accuracy", v, n_folds);
  GATHER (m_->macro_sensitivity);
  add_mean_sd (b, "macro_sensitivity", v, n_folds);
  GATHER (m_->macro_specificity);
  add_mean_sd (b, "macro_specificity", v, n_folds);
  GATHER (m_->macro_precision);
  add_mean_sd (b, "macro_precision", v, n_folds);
  GATHER (m_->macro_f1);
  add_mean_sd (b, "macro_f1", v, n_folds);
  GATHER (m_->macro_auc);
  add_mean_sd (b, "macro_auc", v, n_folds);

  json_builder_set_member_name (b, "per_class");
  json_builder_begin_object (b);
  for (guint c = 0; c < k; c++)
    {
      json_builder_set_member_name (b, folds[0]->classes[c]);
      json_builder_begin_object (b);
      GATHER (m_->class_accuracy[c]);
      add_mean_sd (b, "accuracy", v, n_folds);
      GATHER (m_->sensitivity[c]);
      add_mean_sd (b, "sensitivity", v, n_folds);
      GATHER (m_->specificity[c]);
      add_mean_sd (b, "specificity", v, n_folds);
      GATHER (m_->precision[c]);
      add_mean_sd (b, "precision", v, n_folds);
      GATHER (m_->sensitivity[c]);
      add_mean_sd (b, "recall", v, n_folds);
      GATHER (m_->f1[c]);
      add_mean_sd (b, "f1", v, n_folds);
      GATHER (m_->auc[c]);
      add_mean_sd (b, "auc", v, n_folds);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);

  sum = g_new0 (guint, k * k);
  for (guint f = 0; f < n_folds; f++)
    for (guint i = 0; i < k * k; i++)
      sum[i] += folds[f]->confusion[i];
  add_confusion (b, sum, k);
}
