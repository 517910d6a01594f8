/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Every subcommand: argv[0] is the subcommand's name. Returns the process exit status:
 * 0 on success, 1 on a user error (one line `hepascope-cli: FILE: reason` on stderr). */
typedef int (*HepaCliCommand) (int argc, char **argv);

/* Prints `hepascope-cli: WHAT: reason` (WHAT may be NULL) and returns 1. */
int      hepa_cli_fail        (const char   *what,
                               const GError *error);
int      hepa_cli_failf       (const char   *what,
                               const char   *format,
                               ...) G_GNUC_PRINTF (2, 3);
/* Parses @entries for subcommand @name with @summary for --help; prints errors itself.
 * Returns FALSE when the caller should exit with *status. */
gboolean hepa_cli_parse       (const char   *name,
                               const char   *parameter_string,
                               const char   *summary,
                               const GOptionEntry *entries,
                               int          *argc,
                               char       ***argv,
                               int          *status);

/* A progress line: a bar with ETA on a terminal, plain lines every few seconds otherwise. */
typedef struct _HepaCliProgress HepaCliProgress;
HepaCliProgress *hepa_cli_progress_new    (const char      *what,
                                           gint64           total);
void             hepa_cli_progress_update (HepaCliProgress *self,
                                           gint64           done,
                                           const char      *extra);
void             hepa_cli_progress_free   (HepaCliProgress *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaCliProgress, hepa_cli_progress_free)

/* The subcommands (one file each: hepa-cli-<name>.c). */
int hepa_cli_info     (int argc, char **argv);
int hepa_cli_render   (int argc, char **argv);
int hepa_cli_classify (int argc, char **argv);
int hepa_cli_bench    (int argc, char **argv);
int hepa_cli_synth    (int argc, char **argv);
int hepa_cli_export   (int argc, char **argv);
int hepa_cli_train    (int argc, char **argv);
int hepa_cli_eval     (int argc, char **argv);
int hepa_cli_calibrate (int argc, char **argv);
int hepa_cli_convert  (int argc, char **argv);
int hepa_cli_model    (int argc, char **argv);
int hepa_cli_pacs     (int argc, char **argv);
int hepa_cli_results  (int argc, char **argv);

/* hepascope-cli bench --train (hepa-cli-train.c): times SGD steps of @arch (a HepaArch). */
int hepa_cli_bench_train (int      arch,
                          int      batch,
                          int      size,
                          int      runs,
                          int      warmup,
                          gboolean json,
                          int      n_threads);

G_END_DECLS
