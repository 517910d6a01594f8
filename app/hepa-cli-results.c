/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli results: a study's labeled ROIs as DICOM (SR, saliency SEGs, annotated views, a
 * PDF report), optionally sent to the archive; and an SR read back into ROIs. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-core.h"
#include "hepa-engine.h"
#include "hepa-model.h"
#include "hepa-pacs.h"
#include "hepa-results.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static void
progress_cb (guint        done,
             guint        total,
             const char  *path,
             gpointer     user_data)
{
  HepaCliProgress **progress = user_data;

  if (*progress == NULL)
    *progress = hepa_cli_progress_new (_("Classifying"), total);
  hepa_cli_progress_update (*progress, done, NULL);
}

static void
send_progress_cb (guint    done,
                  guint    total,
                  gpointer user_data)
{
  HepaCliProgress **progress = user_data;

  if (*progress == NULL)
    *progress = hepa_cli_progress_new (_("Sending"), total);
  hepa_cli_progress_update (*progress, done, NULL);
}

/* DIR arguments: the images directly inside (sidecars, hidden files and PNG/JSON/CSV outputs
 * left out), sorted; files as given. */
static gboolean
collect_images (const char  *path,
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
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (name[0] != '.' && !g_str_has_suffix (name, ".json") && !g_str_has_suffix (name, ".png")
          && !g_str_has_suffix (name, ".csv") && !g_str_has_suffix (name, ".pdf")
          && g_file_test (child, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, g_steal_pointer (&child));
    }
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (out, g_strdup (g_ptr_array_index (names, i)));
  return TRUE;
}

static void
print_rois_json (const char      *sr_path,
                 const char      *sop_uid,
                 HepaAnnotations *set)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "report");
  json_builder_add_string_value (b, sr_path);
  json_builder_set_member_name (b, "sop_instance_uid");
  json_builder_add_string_value (b, sop_uid);
  json_builder_set_member_name (b, "rois");
  json_builder_begin_array (b);
  /* Each region in the sidecar's own form (hepa-annotations owns that schema). */
  for (guint i = 0; i < set->rois->len; i++)
    json_builder_add_value (b, hepa_roi_to_json (g_ptr_array_index (set->rois, i)));
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

static int
import_sr (const char *sr_path,
           const char *apply_dir,
           gboolean    json)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sop_uid = NULL;
  g_autoptr(HepaAnnotations) set = hepa_results_import_sr (sr_path, &sop_uid, &error);

  if (set == NULL)
    return hepa_cli_fail (sr_path, error);
  if (json)
    print_rois_json (sr_path, sop_uid, set);
  else
    for (guint i = 0; i < set->rois->len; i++)
      {
        const HepaRoi *roi = g_ptr_array_index (set->rois, i);

        printf (_("ROI %s, frame %u, %d,%d,%d,%d: %s (rater %s)\n"), roi->id, roi->frame,
                roi->rect.x, roi->rect.y, roi->rect.width, roi->rect.height,
                roi->label != NULL ? roi->label : _("unlabeled"), roi->rater);
      }
  if (apply_dir != NULL)
    {
      g_autofree char *image = hepa_results_apply_sr (sr_path, apply_dir, &error);

      if (image == NULL)
        return hepa_cli_fail (NULL, error);
      g_printerr (g_dngettext (GETTEXT_PACKAGE, "%u ROI restored on %s\n",
                               "%u ROIs restored on %s\n", set->rois->len), set->rois->len, image);
    }
  return 0;
}

int
hepa_cli_results (int    argc,
                  char **argv)
{
  g_autofree char *out_dir = NULL, *model_path = NULL, *node_spec = NULL, *aet = NULL;
  g_autofree char *import = NULL, *apply = NULL;
  gboolean json = FALSE;
  int timeout = 0;
  const GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, N_("Folder to write the results into"),
      N_("OUTDIR") },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Model file (.safetensors or .pth); default: $HEPASCOPE_MODEL or the installed one"),
      N_("MODEL") },
    { "node", 'n', 0, G_OPTION_ARG_STRING, &node_spec,
      N_("Also send the DICOM results to this archive (C-STORE)"), N_("AET@HOST:PORT") },
    { "aet", 0, 0, G_OPTION_ARG_STRING, &aet, N_("Our own AE title (default HEPASCOPE)"),
      N_("AET") },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
      N_("Seconds to wait for the node at each step (default 30)"), N_("S") },
    { "import", 0, 0, G_OPTION_ARG_FILENAME, &import,
      N_("Read the ROIs and labels of a Hepascope SR instead"), N_("SR.dcm") },
    { "apply", 0, 0, G_OPTION_ARG_FILENAME, &apply,
      N_("With --import: restore them into the sidecar of the referenced image in DIR"),
      N_("DIR") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("With --import: print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(HepaPacsNode) node = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaCliProgress) progress = NULL;
  g_autoptr(GPtrArray) dicom = g_ptr_array_new ();
  HepaEngine *engine;
  gboolean ok;
  int status = 0;

  if (!hepa_cli_parse ("results", _("DIR|FILE…"),
                       _("Write a study's results as DICOM for the archive: per image with labeled "
                         "ROIs a TID 1500 SR, a saliency map per ROI (fractional SEG) and the "
                         "annotated view (Secondary Capture); a PDF report, also as Encapsulated "
                         "PDF. Runs the model on every labeled ROI; not for diagnosis."),
                       entries, &argc, &argv, &status))
    return status;

  if (import != NULL)
    {
      if (argc != 1 || out_dir != NULL || node_spec != NULL)
        return hepa_cli_failf (NULL, _("--import takes no FILE, --out or --node (see --help)"));
      return import_sr (import, apply, json);
    }
  if (apply != NULL || json)
    return hepa_cli_failf (NULL, _("--apply and --json go with --import"));
  if (argc < 2)
    return hepa_cli_failf (NULL, _("results takes a study folder or files (see --help)"));
  if (out_dir == NULL)
    return hepa_cli_failf (NULL, _("--out OUTDIR is required"));
  if (node_spec != NULL)
    {
      node = hepa_pacs_node_parse (node_spec, aet, &error);
      if (node == NULL)
        return hepa_cli_fail (NULL, error);
      if (timeout < 0 || timeout > 3600)
        return hepa_cli_failf (NULL, _("--timeout must be 1 to 3600 seconds"));
      node->timeout_s = timeout;
    }
  for (int i = 1; i < argc; i++)
    if (!collect_images (argv[i], paths, &error))
      return hepa_cli_fail (NULL, error);

  if (model_path == NULL)
    model_path = hepa_model_find_default ();
  if (model_path == NULL)
    return hepa_cli_failf (NULL, _("no model found: pass --model or set HEPASCOPE_MODEL"));
  hepa_core_init_threads (0);
  model = hepa_model_load (model_path, &error);
  if (model == NULL)
    return hepa_cli_fail (model_path, error);
  engine = hepa_engine_new (model, &error);
  if (engine == NULL)
    return hepa_cli_fail (model_path, error);
  ok = hepa_results_write_study (engine, (const char *const *) paths->pdata, paths->len, out_dir,
                                 written, progress_cb, &progress, NULL, &error);
  hepa_engine_free (engine);
  g_clear_pointer (&progress, hepa_cli_progress_free);
  if (!ok)
    return hepa_cli_fail (NULL, error);
  for (guint i = 0; i < written->len; i++)
    {
      const char *path = g_ptr_array_index (written, i);

      printf ("%s\n", path);
      if (g_str_has_suffix (path, ".dcm"))
        g_ptr_array_add (dicom, (gpointer) path);
    }

  if (node != NULL)
    {
      g_autofree char *name = hepa_pacs_node_to_string (node);
      guint n = 0;

      if (!hepa_pacs_store (node, (const char *const *) dicom->pdata, dicom->len,
                            send_progress_cb, &progress, &n, NULL, &error))
        {
          g_clear_pointer (&progress, hepa_cli_progress_free);
          status = hepa_cli_fail (NULL, error);
          g_printerr (_("hepascope-cli: the results stay in %s (%u of %u sent)\n"), out_dir, n,
                      dicom->len);
          return status;
        }
      g_clear_pointer (&progress, hepa_cli_progress_free);
      g_printerr (g_dngettext (GETTEXT_PACKAGE, "Sent %u object to %s\n",
                               "Sent %u objects to %s\n", n), n, name);
    }
  return 0;
}
