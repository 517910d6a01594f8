/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli pacs: verify, query, retrieve from and send to a DICOM node (a PACS). */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-pacs.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  char     *node;
  char     *aet;
  int       timeout;
  int       port;
} NodeOptions;

static void
node_options_clear (NodeOptions *o)
{
  g_free (o->node);
  g_free (o->aet);
}

#define NODE_ENTRIES(o)                                                                          \
  { "node", 'n', 0, G_OPTION_ARG_STRING, &(o).node,                                              \
    N_("The archive: its AE title, host and port"), N_("AET@HOST:PORT") },                       \
  { "aet", 0, 0, G_OPTION_ARG_STRING, &(o).aet,                                                  \
    N_("Our own AE title (default HEPASCOPE)"), N_("AET") },                                     \
  { "timeout", 0, 0, G_OPTION_ARG_INT, &(o).timeout,                                             \
    N_("Seconds to wait for the node at each step (default 30)"), N_("S") }

static HepaPacsNode *
make_node (NodeOptions  *o,
           int          *status)
{
  g_autoptr(GError) error = NULL;
  HepaPacsNode *node;

  if (o->node == NULL)
    {
      *status = hepa_cli_failf (NULL, _("--node AET@HOST:PORT is required"));
      return NULL;
    }
  node = hepa_pacs_node_parse (o->node, o->aet, &error);
  if (node == NULL)
    {
      *status = hepa_cli_fail (NULL, error);
      return NULL;
    }
  if (o->timeout < 0 || o->timeout > 3600)
    {
      hepa_pacs_node_free (node);
      *status = hepa_cli_failf (NULL, _("--timeout must be 1 to 3600 seconds"));
      return NULL;
    }
  node->timeout_s = o->timeout;
  node->our_port = o->port;
  return node;
}

static int
pacs_echo (int    argc,
           char **argv)
{
  NodeOptions o = { 0 };
  const GOptionEntry entries[] = { NODE_ENTRIES (o), { NULL } };
  g_autoptr(HepaPacsNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  gint64 start;
  int status = 0;

  if (!hepa_cli_parse ("pacs echo", "", _("Verify a DICOM node (C-ECHO)."), entries, &argc,
                       &argv, &status))
    goto out;
  if (argc != 1)
    {
      status = hepa_cli_failf (NULL, _("pacs echo takes no FILE (see --help)"));
      goto out;
    }
  if ((node = make_node (&o, &status)) == NULL)
    goto out;
  name = hepa_pacs_node_to_string (node);
  start = g_get_monotonic_time ();
  if (!hepa_pacs_echo (node, NULL, &error))
    {
      status = hepa_cli_fail (NULL, error);
      goto out;
    }
  printf (_("%s answers (C-ECHO in %.0f ms)\n"), name,
          (g_get_monotonic_time () - start) / 1000.0);
out:
  node_options_clear (&o);
  return status;
}

static void
add_member (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static int
pacs_find (int    argc,
           char **argv)
{
  NodeOptions o = { 0 };
  g_autofree char *patient_id = NULL, *patient_name = NULL, *date = NULL, *accession = NULL;
  g_autofree char *modality = NULL, *study = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    NODE_ENTRIES (o),
    { "patient-id", 0, 0, G_OPTION_ARG_STRING, &patient_id, N_("Patient ID (wildcards * ?)"),
      N_("ID") },
    { "patient-name", 0, 0, G_OPTION_ARG_STRING, &patient_name,
      N_("Patient name, DICOM form FAMILY^GIVEN (wildcards * ?)"), N_("NAME") },
    { "date", 0, 0, G_OPTION_ARG_STRING, &date, N_("Study date or range"),
      N_("YYYYMMDD[-YYYYMMDD]") },
    { "accession", 0, 0, G_OPTION_ARG_STRING, &accession, N_("Accession number"), N_("NUMBER") },
    { "modality", 0, 0, G_OPTION_ARG_STRING, &modality, N_("Modality, e.g. US"), N_("MODALITY") },
    { "study", 0, 0, G_OPTION_ARG_STRING, &study,
      N_("List the series of this study instead of studies"), N_("UID") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(HepaPacsNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) matches = NULL;
  HepaPacsQuery query;
  HepaPacsLevel level;
  int status = 0;

  if (!hepa_cli_parse ("pacs find", "",
                       _("Find studies (or, with --study, its series) on a DICOM node (C-FIND)."),
                       entries, &argc, &argv, &status))
    goto out;
  if (argc != 1)
    {
      status = hepa_cli_failf (NULL, _("pacs find takes no FILE (see --help)"));
      goto out;
    }
  if ((node = make_node (&o, &status)) == NULL)
    goto out;
  level = study != NULL ? HEPA_PACS_LEVEL_SERIES : HEPA_PACS_LEVEL_STUDY;
  query = (HepaPacsQuery) { patient_name, patient_id, date, accession, modality, study };
  matches = hepa_pacs_find (node, level, &query, NULL, &error);
  if (matches == NULL)
    {
      status = hepa_cli_fail (NULL, error);
      goto out;
    }

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      add_member (b, "level", level == HEPA_PACS_LEVEL_STUDY ? "study" : "series");
      json_builder_set_member_name (b, "matches");
      json_builder_begin_array (b);
      for (guint i = 0; i < matches->len; i++)
        {
          const HepaPacsMatch *m = g_ptr_array_index (matches, i);

          json_builder_begin_object (b);
          add_member (b, "patient_name", m->patient_name);
          add_member (b, "patient_id", m->patient_id);
          add_member (b, "study_uid", m->study_uid);
          add_member (b, "study_date", m->study_date);
          add_member (b, "study_time", m->study_time);
          add_member (b, "accession_number", m->accession_number);
          add_member (b, "study_description", m->study_description);
          add_member (b, level == HEPA_PACS_LEVEL_STUDY ? "modalities" : "modality",
                      m->modalities);
          if (level == HEPA_PACS_LEVEL_SERIES)
            {
              add_member (b, "series_uid", m->series_uid);
              add_member (b, "series_number", m->series_number);
              add_member (b, "series_description", m->series_description);
            }
          else
            {
              json_builder_set_member_name (b, "n_series");
              json_builder_add_int_value (b, m->n_series);
            }
          json_builder_set_member_name (b, "n_instances");
          json_builder_add_int_value (b, m->n_instances);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      text = json_generator_to_data (gen, NULL);
      printf ("%s\n", text);
    }
  else
    {
      for (guint i = 0; i < matches->len; i++)
        {
          const HepaPacsMatch *m = g_ptr_array_index (matches, i);
          g_autofree char *count = NULL;

          if (m->n_instances >= 0)
            count = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%ld image", "%ld images",
                                                  m->n_instances), m->n_instances);
          if (level == HEPA_PACS_LEVEL_STUDY)
            printf ("%s  %s  %-24s %-16s %-6s %s\n", m->study_uid,
                    m->study_date[0] ? m->study_date : "--------", m->patient_name,
                    m->patient_id, m->modalities, count != NULL ? count : "");
          else
            printf ("%s  %-4s %-6s %s  %s\n", m->series_uid, m->series_number, m->modalities,
                    m->series_description, count != NULL ? count : "");
        }
      g_printerr (g_dngettext (GETTEXT_PACKAGE, "%u match\n", "%u matches\n", matches->len),
                  matches->len);
    }
out:
  node_options_clear (&o);
  return status;
}

typedef struct
{
  const char      *what;
  HepaCliProgress *progress;
  gint64           total;
  gint64           done;
} Progress;

static void
progress_cb (guint    done,
             guint    total,
             gpointer user_data)
{
  Progress *p = user_data;

  /* Archives repeat the count (a C-GET response after each stored object): draw changes only. */
  if (total == 0 || ((gint64) total == p->total && (gint64) done == p->done))
    return;
  p->done = done;
  if (p->progress == NULL || (gint64) total != p->total)
    {
      g_clear_pointer (&p->progress, hepa_cli_progress_free);
      p->progress = hepa_cli_progress_new (p->what, total);
      p->total = total;
    }
  hepa_cli_progress_update (p->progress, done, NULL);
}

static int
pacs_get (int    argc,
          char **argv)
{
  NodeOptions o = { 0 };
  g_autofree char *study = NULL, *series = NULL, *out_dir = NULL;
  gboolean move = FALSE;
  const GOptionEntry entries[] = {
    NODE_ENTRIES (o),
    { "study", 0, 0, G_OPTION_ARG_STRING, &study, N_("Study Instance UID to retrieve"),
      N_("UID") },
    { "series", 0, 0, G_OPTION_ARG_STRING, &series, N_("Only this series of the study"),
      N_("UID") },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
      N_("Folder to write into (default: the cache, ~/.cache/hepascope/pacs/UID)"), N_("DIR") },
    { "move", 0, 0, G_OPTION_ARG_NONE, &move,
      N_("Use C-MOVE to our own storage service (for archives without C-GET)"), NULL },
    { "port", 0, 0, G_OPTION_ARG_INT, &o.port,
      N_("With --move: the port we listen on; the archive must know our AE title there"),
      N_("PORT") },
    { NULL }
  };
  g_autoptr(HepaPacsNode) node = NULL;
  g_autoptr(GError) error = NULL;
  Progress p = { _("Retrieving"), NULL, 0, -1 };
  gint64 start;
  guint n = 0;
  int status = 0;

  if (!hepa_cli_parse ("pacs get", "",
                       _("Retrieve a study or series from a DICOM node (C-GET or C-MOVE) into a "
                         "folder that opens as a study."), entries, &argc, &argv, &status))
    goto out;
  if (argc != 1)
    {
      status = hepa_cli_failf (NULL, _("pacs get takes no FILE (see --help)"));
      goto out;
    }
  if (study == NULL)
    {
      status = hepa_cli_failf (NULL, _("--study UID is required"));
      goto out;
    }
  if (move && (o.port <= 0 || o.port > 65535))
    {
      status = hepa_cli_failf (NULL, _("--move needs --port, 1 to 65535"));
      goto out;
    }
  if ((node = make_node (&o, &status)) == NULL)
    goto out;
  if (out_dir == NULL)
    out_dir = hepa_pacs_cache_dir (study);

  start = g_get_monotonic_time ();
  if (!hepa_pacs_retrieve (node, study, series, out_dir, move, progress_cb, &p, &n, NULL, &error))
    {
      g_clear_pointer (&p.progress, hepa_cli_progress_free);
      status = hepa_cli_fail (NULL, error);
      goto out;
    }
  g_clear_pointer (&p.progress, hepa_cli_progress_free);
  printf (g_dngettext (GETTEXT_PACKAGE, "Retrieved %u object into %s in %.2f s\n",
                       "Retrieved %u objects into %s in %.2f s\n", n),
          n, out_dir, (g_get_monotonic_time () - start) / 1e6);
  printf (_("Open it as a study: hepascope %s\n"), out_dir);
out:
  node_options_clear (&o);
  return status;
}

/* FILE arguments: files as given, folders by their regular files (recursively, sorted), sidecars
 * and hidden files left out. */
static gboolean
collect_files (const char  *path,
               GPtrArray   *out,
               GError     **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("%s: no such file"), path);
          return FALSE;
        }
      g_ptr_array_add (out, g_strdup (path));
      return TRUE;
    }
  dir = g_dir_open (path, 0, error);
  if (dir == NULL)
    return FALSE;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.' && !g_str_has_suffix (name, ".json") && !g_str_has_suffix (name, ".png")
        && !g_str_has_suffix (name, ".pdf") && !g_str_has_suffix (name, ".csv"))
      g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < names->len; i++)
    {
      const char *child = *(const char **) &names->pdata[i];

      if (!collect_files (child, out, error))
        return FALSE;
    }
  return TRUE;
}

static int
pacs_send (int    argc,
           char **argv)
{
  NodeOptions o = { 0 };
  const GOptionEntry entries[] = { NODE_ENTRIES (o), { NULL } };
  g_autoptr(HepaPacsNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *name = NULL;
  Progress p = { _("Sending"), NULL, 0, -1 };
  guint n = 0;
  int status = 0;

  if (!hepa_cli_parse ("pacs send", _("FILE|DIR…"), _("Send DICOM files to a node (C-STORE)."),
                       entries, &argc, &argv, &status))
    goto out;
  if (argc < 2)
    {
      status = hepa_cli_failf (NULL, _("pacs send takes at least one FILE (see --help)"));
      goto out;
    }
  if ((node = make_node (&o, &status)) == NULL)
    goto out;
  for (int i = 1; i < argc; i++)
    if (!collect_files (argv[i], files, &error))
      {
        status = hepa_cli_fail (NULL, error);
        goto out;
      }
  if (!hepa_pacs_store (node, (const char *const *) files->pdata, files->len, progress_cb, &p, &n,
                        NULL, &error))
    {
      g_clear_pointer (&p.progress, hepa_cli_progress_free);
      status = hepa_cli_fail (NULL, error);
      if (n > 0)
        g_printerr (_("hepascope-cli: %u of %u files were sent before that\n"), n, files->len);
      goto out;
    }
  g_clear_pointer (&p.progress, hepa_cli_progress_free);
  name = hepa_pacs_node_to_string (node);
  printf (g_dngettext (GETTEXT_PACKAGE, "Sent %u file to %s\n", "Sent %u files to %s\n", n), n,
          name);
out:
  node_options_clear (&o);
  return status;
}

static void
print_pacs_usage (FILE *out)
{
  fprintf (out, "%s\n\n", _("Usage: hepascope-cli pacs echo|find|get|send --node AET@HOST:PORT "
                            "[OPTION…]"));
  fprintf (out, "  echo  %s\n", _("Verify the node (C-ECHO)"));
  fprintf (out, "  find  %s\n", _("Find studies, or the series of a study (C-FIND)"));
  fprintf (out, "  get   %s\n", _("Retrieve a study or series into a folder (C-GET, C-MOVE)"));
  fprintf (out, "  send  %s\n", _("Send DICOM files (C-STORE)"));
  fprintf (out, "\n%s\n", _("Run “hepascope-cli pacs ACTION --help” for its options."));
}

int
hepa_cli_pacs (int    argc,
               char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      print_pacs_usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 1 : 0;
    }
  if (strcmp (argv[1], "echo") == 0)
    return pacs_echo (argc - 1, argv + 1);
  if (strcmp (argv[1], "find") == 0)
    return pacs_find (argc - 1, argv + 1);
  if (strcmp (argv[1], "get") == 0)
    return pacs_get (argc - 1, argv + 1);
  if (strcmp (argv[1], "send") == 0)
    return pacs_send (argc - 1, argv + 1);
  g_printerr (_("hepascope-cli: pacs %s: unknown action\n"), argv[1]);
  print_pacs_usage (stderr);
  return 1;
}
