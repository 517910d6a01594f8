/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-report.h"

#include "hepa-error.h"

#include <cairo.h>
#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define PLOT_W 900
#define PLOT_H 560

static const double palette[][3] = {
  { 0.12, 0.47, 0.71 }, { 1.00, 0.50, 0.05 }, { 0.17, 0.63, 0.17 }, { 0.84, 0.15, 0.16 },
  { 0.58, 0.40, 0.74 }, { 0.55, 0.34, 0.29 }, { 0.89, 0.47, 0.76 }, { 0.50, 0.50, 0.50 },
  { 0.74, 0.74, 0.13 }, { 0.09, 0.75, 0.81 },
};

static void
set_color (cairo_t *cr,
           guint    i)
{
  const double *c = palette[i % G_N_ELEMENTS (palette)];

  cairo_set_source_rgb (cr, c[0], c[1], c[2]);
}

static gboolean
finish_png (cairo_surface_t  *surface,
            const char       *path,
            GError          **error)
{
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  cairo_status_t status = cairo_surface_write_to_png (surface, tmp);

  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS || g_rename (tmp, path) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("%s: could not write the plot (%s)"),
                   path, status != CAIRO_STATUS_SUCCESS ? cairo_status_to_string (status)
                   : g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static cairo_t *
new_canvas (cairo_surface_t **surface,
            int               w,
            int               h)
{
  cairo_t *cr;

  *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cr = cairo_create (*surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 13);
  return cr;
}

static void
text_at (cairo_t    *cr,
         double      x,
         double      y,
         double      align,   /* 0 left, 0.5 centre, 1 right */
         const char *text)
{
  cairo_text_extents_t ext;

  cairo_text_extents (cr, text, &ext);
  cairo_move_to (cr, x - align * ext.x_advance, y);
  cairo_show_text (cr, text);
}

/* Axes box [x0, x1] x [y0, y1] in pixels for data [xmin, xmax] x [ymin, ymax]. */
typedef struct
{
  double x0, x1, y0, y1;
  double xmin, xmax, ymin, ymax;
} Axes;

static double
ax_x (const Axes *a,
      double      v)
{
  return a->x0 + (v - a->xmin) / (a->xmax - a->xmin) * (a->x1 - a->x0);
}

static double
ax_y (const Axes *a,
      double      v)
{
  return a->y1 - (v - a->ymin) / (a->ymax - a->ymin) * (a->y1 - a->y0);
}

static void
draw_axes (cairo_t    *cr,
           const Axes *a,
           const char *title,
           const char *xlabel,
           const char *ylabel,
           int         xticks,
           gboolean    integer_x)
{
  char buf[32];

  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_font_size (cr, 16);
  text_at (cr, (a->x0 + a->x1) / 2, a->y0 - 18, 0.5, title);
  cairo_set_font_size (cr, 12);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, a->x0, a->y0, a->x1 - a->x0, a->y1 - a->y0);
  cairo_stroke (cr);
  for (int i = 0; i <= 5; i++)
    {
      double v = a->ymin + (a->ymax - a->ymin) * i / 5.0;
      double y = ax_y (a, v);
      cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
      cairo_move_to (cr, a->x0 + 1, y);
      cairo_line_to (cr, a->x1 - 1, y);
      cairo_stroke (cr);
      cairo_set_source_rgb (cr, 0, 0, 0);
      g_snprintf (buf, sizeof buf, "%.3g", v);
      text_at (cr, a->x0 - 6, y + 4, 1.0, buf);
    }
  for (int i = 0; i <= xticks; i++)
    {
      double v = a->xmin + (a->xmax - a->xmin) * i / xticks;
      if (integer_x)
        g_snprintf (buf, sizeof buf, "%d", (int) lround (v));
      else
        g_snprintf (buf, sizeof buf, "%.2g", v);
      text_at (cr, ax_x (a, v), a->y1 + 16, 0.5, buf);
    }
  text_at (cr, (a->x0 + a->x1) / 2, a->y1 + 36, 0.5, xlabel);
  cairo_save (cr);
  cairo_move_to (cr, a->x0 - 52, (a->y0 + a->y1) / 2);
  cairo_rotate (cr, -G_PI / 2);
  {
    cairo_text_extents_t ext;
    cairo_text_extents (cr, ylabel, &ext);
    cairo_rel_move_to (cr, -ext.x_advance / 2, 0);
  }
  cairo_show_text (cr, ylabel);
  cairo_restore (cr);
}

static void
legend_entry (cairo_t    *cr,
              double      x,
              double      y,
              guint       color,
              gboolean    dashed,
              const char *label)
{
  double dash[1] = { 6 };

  set_color (cr, color);
  cairo_set_line_width (cr, 2);
  cairo_set_dash (cr, dash, dashed ? 1 : 0, 0);
  cairo_move_to (cr, x, y - 4);
  cairo_line_to (cr, x + 26, y - 4);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_set_source_rgb (cr, 0, 0, 0);
  text_at (cr, x + 32, y, 0, label);
}

gboolean
hepa_report_plot_curves (GPtrArray   *runs,
                         const char  *what,
                         const char  *path,
                         GError     **error)
{
  gboolean is_loss = g_str_equal (what, "loss");
  cairo_surface_t *surface;
  cairo_t *cr = new_canvas (&surface, PLOT_W, PLOT_H);
  Axes a = { 80, PLOT_W - 200, 50, PLOT_H - 60, 1, 2, 0, 1 };
  guint max_epochs = 1;
  double vmax = 0;
  double dash[1] = { 6 };
  int legend_row = 0;

  for (guint r = 0; r < runs->len; r++)
    {
      const HepaTrainRun *run = g_ptr_array_index (runs, r);
      max_epochs = MAX (max_epochs, run->n_epochs);
      for (guint e = 0; e < run->n_epochs; e++)
        {
          double v1 = is_loss ? run->train_loss[e] : run->train_acc[e];
          double v2 = is_loss ? run->test_loss[e] : run->test_acc[e];
          if (isfinite (v1))
            vmax = MAX (vmax, v1);
          if (isfinite (v2))
            vmax = MAX (vmax, v2);
        }
    }
  a.xmax = MAX (2, max_epochs);
  a.ymax = is_loss ? (vmax > 0 ? vmax * 1.05 : 1) : 1.0;
  draw_axes (cr, &a, is_loss ? _("Loss (mean cross-entropy) per epoch")
                             : _("Accuracy per epoch"),
             _("epoch"), is_loss ? _("loss") : _("accuracy"),
             (int) MIN (10, a.xmax - 1), TRUE);

  for (guint r = 0; r < runs->len; r++)
    {
      const HepaTrainRun *run = g_ptr_array_index (runs, r);
      for (int series = 0; series < 2; series++)
        {
          const double *v = series == 0 ? (is_loss ? run->train_loss : run->train_acc)
                                        : (is_loss ? run->test_loss : run->test_acc);
          gboolean any = FALSE;
          g_autofree char *label = NULL;

          set_color (cr, r);
          cairo_set_line_width (cr, 2);
          cairo_set_dash (cr, dash, series == 1 ? 1 : 0, 0);
          for (guint e = 0; e < run->n_epochs; e++)
            {
              double y;
              if (!isfinite (v[e]))
                continue;
              y = ax_y (&a, CLAMP (v[e], a.ymin, a.ymax));
              if (!any)
                cairo_move_to (cr, ax_x (&a, e + 1), y);
              else
                cairo_line_to (cr, ax_x (&a, e + 1), y);
              any = TRUE;
            }
          if (run->n_epochs == 1 && any)
            {
              cairo_rel_line_to (cr, 0.5, 0);
              cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
              cairo_set_line_width (cr, 6);
            }
          cairo_stroke (cr);
          cairo_set_dash (cr, NULL, 0, 0);
          if (any)
            {
              label = g_strdup_printf ("%s %s", run->name, series == 0 ? _("train") : _("test"));
              legend_entry (cr, PLOT_W - 185, 60 + 18 * legend_row++, r, series == 1, label);
            }
        }
    }
  cairo_destroy (cr);
  return finish_png (surface, path, error);
}

gboolean
hepa_report_plot_confusion (const guint  *confusion,
                            guint         k,
                            char        **classes,
                            const char   *title,
                            const char   *path,
                            GError      **error)
{
  int cell = CLAMP (480 / (int) MAX (k, 1), 24, 120);
  int left = 150, top = 70;
  int w = left + cell * (int) k + 40, h = top + cell * (int) k + 90;
  cairo_surface_t *surface;
  cairo_t *cr = new_canvas (&surface, MAX (w, 420), h);

  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_font_size (cr, 16);
  text_at (cr, left + cell * k / 2.0, 28, 0.5, title);
  cairo_set_font_size (cr, 12);
  text_at (cr, left + cell * k / 2.0, 52, 0.5, _("predicted class"));
  for (guint i = 0; i < k; i++)
    {
      guint row_sum = 0;
      for (guint j = 0; j < k; j++)
        row_sum += confusion[i * k + j];
      for (guint j = 0; j < k; j++)
        {
          guint v = confusion[i * k + j];
          double f = row_sum ? (double) v / row_sum : 0;
          char buf[32];

          /* White to blue by the share of the true class's row. */
          cairo_set_source_rgb (cr, 1 - 0.85 * f, 1 - 0.6 * f, 1 - 0.3 * f);
          cairo_rectangle (cr, left + j * cell, top + i * cell, cell, cell);
          cairo_fill (cr);
          cairo_set_source_rgb (cr, f > 0.55 ? 1 : 0, f > 0.55 ? 1 : 0, f > 0.55 ? 1 : 0);
          g_snprintf (buf, sizeof buf, "%u", v);
          text_at (cr, left + j * cell + cell / 2.0, top + i * cell + cell / 2.0 + 4, 0.5, buf);
        }
      cairo_set_source_rgb (cr, 0, 0, 0);
      text_at (cr, left - 8, top + i * cell + cell / 2.0 + 4, 1.0, classes[i]);
    }
  cairo_set_source_rgb (cr, 0, 0, 0);
  for (guint j = 0; j < k; j++)
    {
      cairo_save (cr);
      cairo_move_to (cr, left + j * cell + cell / 2.0 + 4, top + k * cell + 8);
      cairo_rotate (cr, G_PI / 4);
      cairo_show_text (cr, classes[j]);
      cairo_restore (cr);
    }
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, left, top, cell * k, cell * k);
  cairo_stroke (cr);
  cairo_save (cr);
  cairo_move_to (cr, 18, top + cell * k / 2.0);
  cairo_rotate (cr, -G_PI / 2);
  cairo_show_text (cr, _("true class"));
  cairo_restore (cr);
  cairo_destroy (cr);
  return finish_png (surface, path, error);
}

gboolean
hepa_report_plot_roc (const int    *labels,
                      const float  *probs,
                      guint         n,
                      guint         k,
                      char        **classes,
                      const char   *path,
                      GError      **error)
{
  cairo_surface_t *surface;
  cairo_t *cr = new_canvas (&surface, PLOT_W, PLOT_H);
  Axes a = { 80, 80 + PLOT_H - 110, 50, PLOT_H - 60, 0, 1, 0, 1 };
  double dash[1] = { 4 };
  g_autoptr(HepaMetrics) m = hepa_metrics_compute (k, (const char *const *) classes, n, labels,
                                                   probs);

  draw_axes (cr, &a, _("ROC curves, one class vs the rest"), _("false positive rate"),
             _("true positive rate"), 5, FALSE);
  cairo_set_source_rgb (cr, 0.6, 0.6, 0.6);
  cairo_set_dash (cr, dash, 1, 0);
  cairo_move_to (cr, ax_x (&a, 0), ax_y (&a, 0));
  cairo_line_to (cr, ax_x (&a, 1), ax_y (&a, 1));
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
  for (guint c = 0; c < k; c++)
    {
      g_autofree double *fpr = NULL, *tpr = NULL;
      g_autofree char *label = NULL;
      guint pts;

      if (isnan (m->auc[c]))
        continue;
      pts = hepa_metrics_roc (k, n, labels, probs, c, &fpr, &tpr);
      set_color (cr, c);
      cairo_set_line_width (cr, 2);
      for (guint i = 0; i < pts; i++)
        {
          if (i == 0)
            cairo_move_to (cr, ax_x (&a, fpr[i]), ax_y (&a, tpr[i]));
          else
            cairo_line_to (cr, ax_x (&a, fpr[i]), ax_y (&a, tpr[i]));
        }
      cairo_stroke (cr);
      label = g_strdup_printf ("%s (AUC %.3f)", classes[c], m->auc[c]);
      legend_entry (cr, a.x1 + 30, 60 + 18 * c, c, FALSE, label);
    }
  cairo_destroy (cr);
  return finish_png (surface, path, error);
}

/* ---- JSON and Markdown --------------------------------------------------------------------- */

static void
add_num (JsonBuilder *b,
         const char  *name,
         double       v)
{
  json_builder_set_member_name (b, name);
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b);
}

static void
add_nums (JsonBuilder  *b,
          const char   *name,
          const double *v,
          guint         n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      if (isfinite (v[i]))
        json_builder_add_double_value (b, v[i]);
      else
        json_builder_add_null_value (b);
    }
  json_builder_end_array (b);
}

static gboolean
write_text (const char  *path,
            const char  *text,
            GError     **error)
{
  if (!g_file_set_contents (path, text, -1, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  return TRUE;
}

static char *
node_to_string (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

static const char *
pct (double v,
     char  *buf,
     gsize  size)
{
  if (isnan (v))
    g_strlcpy (buf, "n/a", size);
  else
    g_snprintf (buf, size, "%.1f", 100.0 * v);
  return buf;
}

static const char *
pct_sd (const double *v,
        guint         n,
        char         *buf,
        gsize         size)
{
  HepaMeanSd r = hepa_mean_sd (v, n);

  if (isnan (r.mean))
    g_strlcpy (buf, "n/a", size);
  else
    g_snprintf (buf, size, "%.1f ± %.1f", 100.0 * r.mean, 100.0 * r.sd);
  return buf;
}

static void
md_confusion (GString      *md,
              const guint  *confusion,
              guint         k,
              char        **classes)
{
  g_string_append (md, "| true \\ predicted |");
  for (guint j = 0; j < k; j++)
    g_string_append_printf (md, " %s |", classes[j]);
  g_string_append (md, "\n|---|");
  for (guint j = 0; j < k; j++)
    g_string_append (md, "---:|");
  g_string_append (md, "\n");
  for (guint i = 0; i < k; i++)
    {
      g_string_append_printf (md, "| %s |", classes[i]);
      for (guint j = 0; j < k; j++)
        g_string_append_printf (md, " %u |", confusion[i * k + j]);
      g_string_append (md, "\n");
    }
  g_string_append (md, "\n");
}

static void
md_per_class (GString            *md,
              HepaMetrics *const *folds,
              guint               n_folds)
{
  guint k = folds[0]->n_classes;
  g_autofree double *v = g_new (double, n_folds);
  char b[6][48];

  g_string_append (md, "| class | accuracy (eq. 1) | sensitivity (eq. 2) | specificity (eq. 3) "
                       "| precision | F1 | AUC |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (guint c = 0; c < k; c++)
    {
#define COL(i, field) \
      for (guint f = 0; f < n_folds; f++) \
        v[f] = folds[f]->field[c]; \
      pct_sd (v, n_folds, b[i], sizeof b[i])
      COL (0, class_accuracy);
      COL (1, sensitivity);
      COL (2, specificity);
      COL (3, precision);
      COL (4, f1);
      COL (5, auc);
#undef COL
      g_string_append_printf (md, "| %s | %s | %s | %s | %s | %s | %s |\n", folds[0]->classes[c],
                              b[0], b[1], b[2], b[3], b[4], b[5]);
    }
  g_string_append (md, "\n");
}

static void
run_json (JsonBuilder        *b,
          const HepaTrainRun *run)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, run->name);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, run->n_epochs);
  json_builder_set_member_name (b, "n_train");
  json_builder_add_int_value (b, run->n_train);
  json_builder_set_member_name (b, "n_test");
  json_builder_add_int_value (b, run->n_test);
  add_num (b, "seconds", run->seconds);
  add_nums (b, "train_loss", run->train_loss, run->n_epochs);
  add_nums (b, "train_accuracy", run->train_acc, run->n_epochs);
  add_nums (b, "test_loss", run->test_loss, run->n_epochs);
  add_nums (b, "test_accuracy", run->test_acc, run->n_epochs);
  if (run->metrics != NULL)
    {
      json_builder_set_member_name (b, "metrics");
      json_builder_begin_object (b);
      hepa_metrics_add_json (run->metrics, b);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
}

static gboolean
make_dir (const char  *dir,
          GError     **error)
{
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int errsv = errno;
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", dir,
                   g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* Test predictions of all folds, concatenated. */
static guint
pooled (const HepaTrainResult *r,
        int                  **labels,
        float                **probs)
{
  guint n = 0, k = r->n_classes, at = 0;

  for (guint i = 0; i < r->runs->len; i++)
    {
      const HepaTrainRun *run = g_ptr_array_index (r->runs, i);
      n += run->metrics != NULL ? run->n_test : 0;
    }
  *labels = g_new (int, MAX (n, 1));
  *probs = g_new (float, (gsize) MAX (n, 1) * k);
  for (guint i = 0; i < r->runs->len; i++)
    {
      const HepaTrainRun *run = g_ptr_array_index (r->runs, i);
      if (run->metrics == NULL)
        continue;
      memcpy (*labels + at, run->test_labels, sizeof (int) * run->n_test);
      memcpy (*probs + (gsize) at * k, run->test_probs, sizeof (float) * run->n_test * k);
      at += run->n_test;
    }
  return n;
}

gboolean
hepa_report_write_train (const HepaTrainResult *r,
                         const char            *dir,
                         GError               **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) folds = g_ptr_array_new ();
  g_autoptr(GString) md = g_string_new (NULL);
  g_autofree char *json_text = NULL, *card = NULL, *p = NULL;
  g_autofree guint *sum = g_new0 (guint, r->n_classes * r->n_classes);
  g_autofree int *labels = NULL;
  g_autofree float *probs = NULL;
  guint k = r->n_classes, n_pooled;
  char buf[8][64];

  if (!make_dir (dir, error))
    return FALSE;
  for (guint i = 0; i < r->runs->len; i++)
    {
      HepaTrainRun *run = g_ptr_array_index (r->runs, i);
      if (run->metrics != NULL)
        {
          g_ptr_array_add (folds, run->metrics);
          for (guint j = 0; j < k * k; j++)
            sum[j] += run->metrics->confusion[j];
        }
    }

  /* report.json: the card plus every run's history and metrics. */
  card = hepa_train_card_json (r);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, "hepascope-train-report");
  json_builder_set_member_name (b, "card");
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    json_parser_load_from_data (parser, card, -1, NULL);
    json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
  }
  json_builder_set_member_name (b, "model");
  if (r->model_path != NULL)
    json_builder_add_string_value (b, r->model_path);
  else
    json_builder_add_null_value (b);
  add_num (b, "seconds", r->seconds);
  add_num (b, "img_per_s", r->img_per_s);
  if (folds->len > 0)
    {
      json_builder_set_member_name (b, "summary");
      json_builder_begin_object (b);
      hepa_metrics_add_summary_json ((HepaMetrics *const *) folds->pdata, folds->len, b);
      json_builder_end_object (b);
    }
  json_builder_set_member_name (b, "runs");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->runs->len; i++)
    run_json (b, g_ptr_array_index (r->runs, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  if (folds->len > 0)
    {
      /* The cross-validated mean accuracy at the top level, as `eval` prints its accuracy. */
      g_autofree double *acc = g_new (double, folds->len);
      for (guint i = 0; i < folds->len; i++)
        acc[i] = ((HepaMetrics *) g_ptr_array_index (folds, i))->accuracy;
      json_object_set_double_member (json_node_get_object (root), "accuracy",
                                     hepa_mean_sd (acc, folds->len).mean);
    }
  json_text = node_to_string (root);
  p = g_build_filename (dir, "report.json", NULL);
  if (!write_text (p, json_text, error))
    return FALSE;

  /* report.md */
  g_string_append_printf (md, "# Training report: %s on “%s”\n\n",
                          hepa_arch_to_string (r->opts.arch), r->data_name);
  g_string_append (md, "Intended use: teaching and software testing; **not for diagnosis**.\n\n");
  g_string_append (md, "## Data\n\n");
  g_string_append_printf (md, "- Folder: `%s` (sha256 of the file list `%.16s…`)\n", r->data_name,
                          r->data_hash);
  g_string_append_printf (md, "- %u images in %u classes:", r->n_samples, r->n_classes);
  for (guint c = 0; c < k; c++)
    g_string_append_printf (md, "%s %s %u", c ? "," : "", r->classes[c], r->class_counts[c]);
  g_string_append_printf (md, "\n- %u %s\n\n", r->n_groups,
                          r->grouped_by_patient ? "patients (from the export manifest)"
                          : "groups: no manifest, so every image is its own group");
  g_string_append (md, "## Protocol\n\n");
  if (r->opts.folds >= 2)
    {
      g_string_append_printf (md, "- %d-fold cross-validation, stratified by class and %s; "
                              "then %s.\n", r->opts.folds,
                              r->grouped_by_patient ? "grouped by patient (no patient in two "
                              "folds)" : "split by image",
                              r->opts.final_model ? "a final model on all the data"
                              : "no final model");
      g_string_append (md, "- The seed paper split its 581 images at random by image (5 folds); "
                           "where a patient has several images, that split lets one patient's "
                           "images sit in both training and test folds, which inflates the "
                           "figures (leakage). Hepascope groups by the pseudonymous patient id "
                           "of the export manifest.\n");
      if (!r->grouped_by_patient)
        g_string_append (md, "- **Warning:** this data has no manifest with patient ids, so the "
                             "folds were split by image, like the paper: expect optimistic "
                             "figures if patients have several images.\n");
    }
  else
    g_string_append (md, "- One model trained on all the data (no cross-validation, no test "
                         "metrics).\n");
  g_string_append_printf (md, "- %s from %s, input %d x %d (grayscale to 3 channels, stretch, "
                          "ImageNet mean/std)\n", hepa_arch_to_string (r->opts.arch),
                          r->opts.init ? r->opts.init : "scratch (He init, zero-init residual)", r->opts.size,
                          r->opts.size);
  g_string_append_printf (md, "- SGD with momentum %g, learning rate %g (%s%s), weight decay %g, "
                          "batch %d, %d epochs, seed %" G_GUINT64_FORMAT "\n", r->opts.momentum,
                          r->opts.lr, r->opts.cosine ? "cosine" : "constant",
                          r->opts.warmup > 0 ? ", linear warm-up" : "",
                          r->opts.weight_decay, r->opts.batch, r->opts.epochs, r->opts.seed);
  g_string_append_printf (md, "- Balancing: %s; augmentation: random x/y translation up to "
                          "%.0f%%, horizontal flip%s\n\n",
                          r->opts.balance ? "classes below the largest filled up with randomly "
                          "rescaled and translated copies (as the paper)" : "none",
                          100 * r->opts.translate, r->opts.vflip ? ", vertical flip" : "");

  if (folds->len > 0)
    {
      g_autofree double *v = g_new (double, folds->len);

      g_string_append (md, "## Cross-validation (test folds)\n\n");
      g_string_append (md, "| fold | n | accuracy | macro sensitivity | macro specificity | "
                           "macro precision | macro F1 | macro AUC |\n"
                           "|---|---:|---:|---:|---:|---:|---:|---:|\n");
      for (guint i = 0; i < folds->len; i++)
        {
          const HepaMetrics *m = g_ptr_array_index (folds, i);
          g_string_append_printf (md, "| %u | %u | %s | %s | %s | %s | %s | %s |\n", i + 1, m->n,
                                  pct (m->accuracy, buf[0], 64),
                                  pct (m->macro_sensitivity, buf[1], 64),
                                  pct (m->macro_specificity, buf[2], 64),
                                  pct (m->macro_precision, buf[3], 64),
                                  pct (m->macro_f1, buf[4], 64), pct (m->macro_auc, buf[5], 64));
        }
#define MSD(i, field) \
      for (guint f = 0; f < folds->len; f++) \
        v[f] = ((HepaMetrics *) g_ptr_array_index (folds, f))->field; \
      pct_sd (v, folds->len, buf[i], 64)
      MSD (0, accuracy);
      MSD (1, macro_sensitivity);
      MSD (2, macro_specificity);
      MSD (3, macro_precision);
      MSD (4, macro_f1);
      MSD (5, macro_auc);
#undef MSD
      g_string_append_printf (md, "| mean ± SD | | %s | %s | %s | %s | %s | %s |\n\n", buf[0],
                              buf[1], buf[2], buf[3], buf[4], buf[5]);
      g_string_append (md, "Percentages; SD is the sample standard deviation over folds.\n\n");
      g_string_append (md, "### Per class (mean ± SD over folds)\n\n");
      md_per_class (md, (HepaMetrics *const *) folds->pdata, folds->len);
      g_string_append (md, "### Confusion matrix (test folds summed)\n\n");
      md_confusion (md, sum, k, r->classes);
      g_string_append (md, "![confusion](confusion.png)\n\n![ROC](roc.png)\n\n");
    }
  g_string_append (md, "## Training curves\n\n![loss](loss.png)\n\n![accuracy](accuracy.png)\n\n");
  g_string_append (md, "## Time\n\n");
  g_string_append_printf (md, "- Whole job: %.1f min; training throughput %.2f images/s.\n",
                          r->seconds / 60, r->img_per_s);
  for (guint i = 0; i < r->runs->len; i++)
    {
      const HepaTrainRun *run = g_ptr_array_index (r->runs, i);
      g_string_append_printf (md, "- %s: %u epochs of %u images, %.1f min\n", run->name,
                              run->n_epochs, run->n_train, run->seconds / 60);
    }
  g_string_append (md, "- For scale: the paper's MATLAB run took 184 min for 10 epochs of about "
                       "2,400 images on one CPU.\n");
  p = (g_free (p), g_build_filename (dir, "report.md", NULL));
  if (!write_text (p, md->str, error))
    return FALSE;

  /* Plots */
  p = (g_free (p), g_build_filename (dir, "loss.png", NULL));
  if (!hepa_report_plot_curves (r->runs, "loss", p, error))
    return FALSE;
  p = (g_free (p), g_build_filename (dir, "accuracy.png", NULL));
  if (!hepa_report_plot_curves (r->runs, "accuracy", p, error))
    return FALSE;
  if (folds->len > 0)
    {
      p = (g_free (p), g_build_filename (dir, "confusion.png", NULL));
      if (!hepa_report_plot_confusion (sum, k, r->classes, _("Confusion matrix, test folds summed"),
                                       p, error))
        return FALSE;
      n_pooled = pooled (r, &labels, &probs);
      p = (g_free (p), g_build_filename (dir, "roc.png", NULL));
      if (!hepa_report_plot_roc (labels, probs, n_pooled, k, r->classes, p, error))
        return FALSE;
    }
  return TRUE;
}

JsonNode *
hepa_report_eval_json (const HepaTrainRun *run,
                       const char         *model_path,
                       const char         *model_id,
                       const HepaDataset  *data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, "hepascope-eval-report");
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, model_path);
  json_builder_set_member_name (b, "model_id");
  json_builder_add_string_value (b, model_id != NULL ? model_id : "");
  json_builder_set_member_name (b, "data");
  json_builder_add_string_value (b, data->name);
  json_builder_set_member_name (b, "data_sha256");
  json_builder_add_string_value (b, data->hash);
  hepa_metrics_add_json (run->metrics, b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

gboolean
hepa_report_write_eval (const HepaTrainRun *run,
                        const char         *model_path,
                        const char         *model_id,
                        const HepaDataset  *data,
                        const char         *dir,
                        GError            **error)
{
  g_autoptr(JsonNode) root = hepa_report_eval_json (run, model_path, model_id, data);
  g_autofree char *text = node_to_string (root);
  g_autofree char *p = NULL;
  g_autoptr(GString) md = g_string_new (NULL);
  const HepaMetrics *m = run->metrics;
  HepaMetrics *one[1] = { run->metrics };
  char buf[8][64];

  if (!make_dir (dir, error))
    return FALSE;
  p = g_build_filename (dir, "report.json", NULL);
  if (!write_text (p, text, error))
    return FALSE;

  g_string_append_printf (md, "# Evaluation report: %s on “%s”\n\n", model_id ? model_id : "",
                          data->name);
  g_string_append (md, "Intended use: teaching and software testing; **not for diagnosis**.\n\n");
  g_string_append_printf (md, "- Model: `%s`\n- Data: `%s`, %u images (sha256 of the file list "
                          "`%.16s…`)\n\n", model_path, data->name, m->n, data->hash);
  g_string_append_printf (md, "| n | accuracy | macro sensitivity | macro specificity | macro "
                          "precision | macro F1 | macro AUC |\n|---:|---:|---:|---:|---:|---:|---:|\n"
                          "| %u | %s | %s | %s | %s | %s | %s |\n\n", m->n,
                          pct (m->accuracy, buf[0], 64), pct (m->macro_sensitivity, buf[1], 64),
                          pct (m->macro_specificity, buf[2], 64),
                          pct (m->macro_precision, buf[3], 64), pct (m->macro_f1, buf[4], 64),
                          pct (m->macro_auc, buf[5], 64));
  g_string_append (md, "### Per class\n\n");
  md_per_class (md, one, 1);
  g_string_append (md, "### Confusion matrix\n\n");
  md_confusion (md, m->confusion, m->n_classes, m->classes);
  g_string_append (md, "![confusion](confusion.png)\n\n![ROC](roc.png)\n");
  p = (g_free (p), g_build_filename (dir, "report.md", NULL));
  if (!write_text (p, md->str, error))
    return FALSE;
  p = (g_free (p), g_build_filename (dir, "confusion.png", NULL));
  if (!hepa_report_plot_confusion (m->confusion, m->n_classes, m->classes, _("Confusion matrix"),
                                   p, error))
    return FALSE;
  p = (g_free (p), g_build_filename (dir, "roc.png", NULL));
  return hepa_report_plot_roc (run->test_labels, run->test_probs, run->n_test, m->n_classes,
                               m->classes, p, error);
}

/* ---- Calibration --------------------------------------------------------------------------- */

gboolean
hepa_report_plot_reliability (const HepaReliability *before,
                              const HepaReliability *after,
                              const char            *path,
                              GError               **error)
{
  cairo_surface_t *surface;
  cairo_t *cr = new_canvas (&surface, PLOT_W, PLOT_H);
  Axes a = { 80, 80 + PLOT_H - 110, 50, PLOT_H - 60, 0, 1, 0, 1 };
  double dash[1] = { 4 };
  const HepaReliability *rel[2] = { before, after };
  double bw = (a.x1 - a.x0) / HEPA_ECE_BINS;

  draw_axes (cr, &a, _("Reliability: accuracy against confidence"), _("confidence (top class)"),
             _("accuracy"), 5, FALSE);
  cairo_set_source_rgb (cr, 0.6, 0.6, 0.6);
  cairo_set_dash (cr, dash, 1, 0);
  cairo_move_to (cr, ax_x (&a, 0), ax_y (&a, 0));
  cairo_line_to (cr, ax_x (&a, 1), ax_y (&a, 1));
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
  for (int s = 0; s < 2; s++)
    {
      g_autofree char *label = NULL;

      if (rel[s] == NULL)
        continue;
      for (int b = 0; b < HEPA_ECE_BINS; b++)
        {
          double x, top;

          if (rel[s]->count[b] == 0)
            continue;
          x = a.x0 + b * bw + (s == 0 ? 0.1 : 0.5) * bw;
          top = ax_y (&a, rel[s]->accuracy[b]);
          set_color (cr, s == 0 ? 7 : 0);
          cairo_rectangle (cr, x, top, 0.4 * bw, a.y1 - top);
          cairo_fill (cr);
        }
      label = g_strdup_printf (s == 0 ? _("before (ECE %.4f)") : _("after (ECE %.4f)"),
                               rel[s]->ece);
      legend_entry (cr, a.x1 + 30, 60 + 18 * s, s == 0 ? 7 : 0, FALSE, label);
    }
  cairo_destroy (cr);
  return finish_png (surface, path, error);
}

static void
md_reliability (GString               *md,
                const HepaReliability *before,
                const HepaReliability *after)
{
  g_string_append (md, "| confidence | n | accuracy before | n | accuracy after |\n"
                   "|---|---:|---:|---:|---:|\n");
  for (int b = 0; b < HEPA_ECE_BINS; b++)
    {
      char acc_b[16] = "–", acc_a[16] = "–";

      if (before->count[b] == 0 && after->count[b] == 0)
        continue;

      if (before->count[b] > 0)
        g_snprintf (acc_b, sizeof acc_b, "%.3f", before->accuracy[b]);
      if (after->count[b] > 0)
        g_snprintf (acc_a, sizeof acc_a, "%.3f", after->accuracy[b]);
      g_string_append_printf (md, "| %.2f–%.2f | %u | %s | %u | %s |\n",
                              (double) b / HEPA_ECE_BINS, (double) (b + 1) / HEPA_ECE_BINS,
                              before->count[b], acc_b, after->count[b], acc_a);
    }
  g_string_append (md, "\n![reliability](reliability.png)\n\n");
}

gboolean
hepa_report_write_calibration (const HepaModelCard   *card,
                               const HepaReliability *before,
                               const HepaReliability *after,
                               const char            *dir,
                               GError               **error)
{
  g_autoptr(GString) md = g_string_new (NULL);
  g_autofree char *p = NULL;
  g_autofree char *cal = hepa_model_card_describe_calibration (card);
  g_autofree char *ood = hepa_model_card_describe_ood (card);

  if (!make_dir (dir, error))
    return FALSE;
  g_string_append_printf (md, "# Calibration report: %s\n\n", card->id);
  g_string_append_printf (md, "Intended use: %s\n\n", hepa_model_card_get_intended_use (card));
  g_string_append_printf (md, "- Data: %s\n- %s\n- %s\n",
                          card->calibration_data ? card->calibration_data : "", cal, ood);
  g_string_append_printf (md, "- Temperature %.4f: expected calibration error (%d bins) %.4f "
                          "before, %.4f after, on %u held-out crops\n", card->temperature,
                          HEPA_ECE_BINS, before->ece, after->ece, card->n_calibration);
  g_string_append_printf (md, "- Split-conformal threshold for %.0f %% sets: a class is in the "
                          "set when its calibrated probability is at least %.4f\n",
                          100 * card->coverage, 1 - card->conformal_threshold);
  if (card->ood != NULL)
    g_string_append_printf (md, "- Out-of-distribution score (rank %u): 95th percentile %.3f, "
                            "99th %.3f (the threshold) on %u held-out crops\n\n",
                            card->ood->rank, card->ood->p95, card->ood->p99,
                            card->ood->n_heldout);
  g_string_append (md, "## Reliability diagram\n\n");
  md_reliability (md, before, after);
  p = g_build_filename (dir, "report.md", NULL);
  if (!write_text (p, md->str, error))
    return FALSE;
  p = (g_free (p), g_build_filename (dir, "reliability.png", NULL));
  return hepa_report_plot_reliability (before, after, p, error);
}

gboolean
hepa_report_add_eval_calibration (const HepaTrainRun  *run,
                                  const HepaModelCard *card,
                                  const char          *dir,
                                  GError             **error)
{
  guint k = card->n_classes;
  guint n = run->n_test;
  g_autofree float *logp = g_new (float, (gsize) MAX (n, 1) * k);
  g_autofree guint *labels = g_new (guint, MAX (n, 1));
  g_autofree char *md_path = g_build_filename (dir, "report.md", NULL);
  g_autofree char *png = g_build_filename (dir, "reliability.png", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GString) md = NULL;
  HepaReliability before, after;

  /* The probabilities are the network's softmax: their logs are the logits up to a constant,
   * which is all temperature scaling needs. */
  for (gsize i = 0; i < (gsize) n * k; i++)
    logp[i] = logf (MAX (run->test_probs[i], 1e-30f));
  for (guint i = 0; i < n; i++)
    labels[i] = (guint) run->test_labels[i];
  hepa_reliability_compute (logp, labels, n, k, 1.0, &before);
  hepa_reliability_compute (logp, labels, n, k, card->calibrated ? card->temperature : 1.0,
                            &after);
  if (!g_file_get_contents (md_path, &text, NULL, error))
    return FALSE;
  md = g_string_new (text);
  g_string_append (md, "\n## Calibration\n\n");
  if (card->calibrated)
    g_string_append_printf (md, "Temperature %.4f from the card. Expected calibration error "
                            "(%d bins) on these images: %.4f before, %.4f after.\n\n",
                            card->temperature, HEPA_ECE_BINS, before.ece, after.ece);
  else
    g_string_append_printf (md, "Not calibrated (the card has no temperature). Expected "
                            "calibration error (%d bins) on these images: %.4f.\n\n",
                            HEPA_ECE_BINS, before.ece);
  md_reliability (md, &before, &after);
  if (!write_text (md_path, md->str, error))
    return FALSE;
  return hepa_report_plot_reliability (&before, card->calibrated ? &after : NULL, png, error);
}
