/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-cli.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
hepa_cli_fail (const char   *what,
               const GError *error)
{
  /* Core messages about files often name the file already: say it once. */
  if (what != NULL && error != NULL && g_str_has_prefix (error->message, what)
      && error->message[strlen (what)] == ':')
    what = NULL;

  if (what != NULL)
    g_printerr ("hepascope-cli: %s: %s\n", what, error != NULL ? error->message : _("failed"));
  else
    g_printerr ("hepascope-cli: %s\n", error != NULL ? error->message : _("failed"));
  return 1;
}

int
hepa_cli_failf (const char *what,
                const char *format,
                ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (what != NULL)
    g_printerr ("hepascope-cli: %s: %s\n", what, message);
  else
    g_printerr ("hepascope-cli: %s\n", message);
  return 1;
}

gboolean
hepa_cli_parse (const char          *name,
                const char          *parameter_string,
                const char          *summary,
                const GOptionEntry  *entries,
                int                 *argc,
                char              ***argv,
                int                 *status)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("hepascope-cli %s", name);

  g_set_prgname (prgname);
  context = g_option_context_new (parameter_string);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_help_enabled (context, TRUE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("hepascope-cli %s: %s\n", name, error->message);
      g_printerr (_("Try “hepascope-cli %s --help”.\n"), name);
      *status = 1;
      return FALSE;
    }
  g_set_prgname ("hepascope-cli");
  return TRUE;
}

struct _HepaCliProgress
{
  char     *what;
  gint64    total;
  gint64    start_us;
  gint64    last_us;
  gboolean  tty;
  gboolean  drawn;
};

HepaCliProgress *
hepa_cli_progress_new (const char *what,
                       gint64      total)
{
  HepaCliProgress *self = g_new0 (HepaCliProgress, 1);

  self->what = g_strdup (what);
  self->total = MAX (total, 1);
  self->start_us = g_get_monotonic_time ();
  self->tty = isatty (STDERR_FILENO) && g_getenv ("CI") == NULL;
  return self;
}

static void
format_duration (double seconds,
                 char  *buf,
                 gsize  size)
{
  int s = (int) (seconds + 0.5);

  if (s >= 3600)
    g_snprintf (buf, size, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  else
    g_snprintf (buf, size, "%d:%02d", s / 60, s % 60);
}

void
hepa_cli_progress_update (HepaCliProgress *self,
                          gint64           done,
                          const char      *extra)
{
  gint64 now = g_get_monotonic_time ();
  double elapsed = (now - self->start_us) / 1e6;
  double fraction = CLAMP ((double) done / self->total, 0.0, 1.0);
  double eta = done > 0 ? elapsed * (self->total - done) / done : 0.0;
  char eta_text[32];
  gboolean finished = done >= self->total;

  /* Redraw a terminal ten times a second; plain lines every five seconds. */
  if (!finished && now - self->last_us < (self->tty ? 100000 : 5000000))
    return;
  self->last_us = now;
  format_duration (eta, eta_text, sizeof eta_text);

  if (self->tty)
    {
      char bar[31];
      int filled = (int) (fraction * 30);

      for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '-';
      bar[30] = '\0';
      fprintf (stderr, "\r%s [%s] %3d%% %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " ETA %s %s\033[K",
               self->what, bar, (int) (fraction * 100), done, self->total, eta_text,
               extra != NULL ? extra : "");
      self->drawn = TRUE;
      if (finished)
        {
          fputc ('\n', stderr);
          self->drawn = FALSE;
        }
    }
  else
    {
      fprintf (stderr, "%s: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " (%d%%) ETA %s %s\n",
               self->what, done, self->total, (int) (fraction * 100), eta_text,
               extra != NULL ? extra : "");
    }
  fflush (stderr);
}

void
hepa_cli_progress_free (HepaCliProgress *self)
{
  if (self == NULL)
    return;
  if (self->drawn)
    fputc ('\n', stderr);
  g_free (self->what);
  g_free (self);
}
