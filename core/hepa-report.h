/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reports people can read: report.json, report.md and PNG plots (Cairo) of a training job or an
 * evaluation. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "hepa-calibrate.h"
#include "hepa-train.h"

G_BEGIN_DECLS

/* Writes DIR/report.json, DIR/report.md, DIR/loss.png, DIR/accuracy.png, DIR/confusion.png and
 * DIR/roc.png (ROC only when there are test predictions). Creates DIR. */
gboolean  hepa_report_write_train (const HepaTrainResult *result,
                                   const char            *dir,
                                   GError               **error);

/* The JSON of an evaluation (what `hepascope-cli eval --json` prints and report.json holds). */
JsonNode *hepa_report_eval_json   (const HepaTrainRun    *run,
                                   const char            *model_path,
                                   const char            *model_id,
                                   const HepaDataset     *data);
gboolean  hepa_report_write_eval  (const HepaTrainRun    *run,
                                   const char            *model_path,
                                   const char            *model_id,
                                   const HepaDataset     *data,
                                   const char            *dir,
                                   GError               **error);

/* Plots, exposed for tests. @runs: (element-type HepaTrainRun). @what: "loss" or "accuracy". */
gboolean  hepa_report_plot_curves    (GPtrArray          *runs,
                                      const char         *what,
                                      const char         *path,
                                      GError            **error);
gboolean  hepa_report_plot_confusion (const guint        *confusion,
                                      guint               n_classes,
                                      char              **classes,
                                      const char         *title,
                                      const char         *path,
                                      GError            **error);
gboolean  hepa_report_plot_roc       (const int          *labels,
                                      const float        *probs,
                                      guint               n,
                                      guint               n_classes,
                                      char              **classes,
                                      const char         *path,
                                      GError            **error);

/* Reliability diagram: accuracy against confidence per bin, before and after calibration. */
gboolean  hepa_report_plot_reliability (const HepaReliability *before,
                                        const HepaReliability *after,
                                        const char            *path,
                                        GError               **error);
/* DIR/report.md and DIR/reliability.png of a calibration (hepascope-cli calibrate). */
gboolean  hepa_report_write_calibration (const HepaModelCard   *card,
                                         const HepaReliability *before,
                                         const HepaReliability *after,
                                         const char            *dir,
                                         GError               **error);
/* Appends a calibration section (ECE before and after the card's temperature, reliability
 * table) to DIR/report.md of an evaluation and writes DIR/reliability.png. */
gboolean  hepa_report_add_eval_calibration (const HepaTrainRun    *run,
                                            const HepaModelCard   *card,
                                            const char            *dir,
                                            GError               **error);

G_END_DECLS
