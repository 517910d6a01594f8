/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-annotations-private.h"
#include "hepa-engine.h"
#include "hepa-error.h"
#include "hepa-export.h"
#include "hepa-image.h"
#include "hepa-manifest.h"
#include "hepa-pseudonym.h"
#include "hepa-test-dicom.h"
#include "hepa-test-utils.h"
#include "hepa-train.h"
#include "dicom/hepa-dicom-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_CLASSES "non_fll,cyst,hemangioma,ffs,hcc"

/* ---- Fixtures ----------------------------------------------------------------------------- */

typedef struct
{
  char *dir;       /* everything lives below */
  char *in;        /* images and sidecars */
  char *out;       /* the export */
  char *key;       /* the pseudonym key */
  HepaModelCard *card;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->dir = hepa_test_mkdtemp ();
  f->in = g_build_filename (f->dir, "in", NULL);
  f->out = g_build_filename (f->dir, "out", NULL);
  f->key = g_build_filename (f->dir, "config", "pseudonym.key", NULL);
  g_assert_cmpint (g_mkdir (f->in, 0755), ==, 0);
  f->card = hepa_export_card_new_default (NULL);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  hepa_test_rmtree (f->dir);
  g_free (f->dir);
  g_free (f->in);
  g_free (f->out);
  g_free (f->key);
  hepa_export_card_free (f->card);
}

/* A width x height RGB PNG with a seeded pattern. */
static char *
make_png (const char *dir,
          const char *name,
          int         width,
          int         height,
          guint32     seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree guint8 *rgb = g_new (guint8, (gsize) width * height * 3);
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      guint8 v = (guint8) ((i % width) * 3 + (i / width) + g_rand_int_range (rand, 0, 16));

      rgb[3 * i] = v;
      rgb[3 * i + 1] = (guint8) (v / 2 + 20);
      rgb[3 * i + 2] = (guint8) (255 - v);
    }
  g_assert_true (hepa_png_write_rgb (path, width, height, rgb, &error));
  g_assert_no_error (error);
  return path;
}

typedef struct
{
  int         frame;
  int         x, y, w, h;
  const char *label;
} RoiSpec;

/* Writes the sidecar of @image with @n ROIs; ids are r-<index> so tests can name them. */
static void
make_sidecar (const char    *image,
              const RoiSpec *rois,
              guint          n,
              const char    *sop_uid)
{
  g_autofree char *base = g_path_get_basename (image);
  g_autofree char *sidecar = hepa_annotations_sidecar_path (image, NULL);
  g_autoptr(HepaAnnotations) set = hepa_annotations_new (base);
  g_autoptr(GError) error = NULL;
  const char *classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };

  if (sop_uid != NULL)
    set->sop_uid_sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, sop_uid, -1);
  for (guint i = 0; i < n; i++)
    {
      HepaRect rect = { rois[i].x, rois[i].y, rois[i].w, rois[i].h };
      HepaRoi *roi = hepa_roi_new (rois[i].frame, &rect, rois[i].label, "tester");
      float p[5] = { 0.1f, 0.5f, 0.2f, 0.1f, 0.1f };

      g_free (roi->id);
      roi->id = g_strdup_printf ("r-%u", i);
      roi->created = 1795770000;
      roi->modified = 1795770060 + i;
      hepa_roi_set_prediction (roi, "resnet50-test", classes, p);
      g_ptr_array_add (set->rois, roi);
    }
  g_assert_true (hepa_annotations_save (set, sidecar, &error));
  g_assert_no_error (error);
}

static HepaExportSummary *
run_export (Fixture    *f,
            const char *path,
            gboolean    native,
            gboolean    force)
{
  HepaExportOptions options;
  const char *paths[] = { path, NULL };
  g_autoptr(GError) error = NULL;
  HepaExportSummary *summary;

  hepa_export_options_init (&options, f->out, f->card);
  options.native = native;
  options.force = force;
  options.key_path = f->key;
  summary = hepa_export_run (&options, paths, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (summary);
  for (guint i = 0; i < summary->problems->len; i++)
    {
      HepaExportProblem *p = g_ptr_array_index (summary->problems, i);

      g_test_message ("problem: %s: %s", p->path, p->message);
    }
  return summary;
}

static char *
file_sha256 (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

/* Every regular file below @dir (relative paths), sorted. */
static void
list_files_rec (const char *root,
                const char *relative,
                GPtrArray  *out)
{
  g_autofree char *dir = relative != NULL ? g_build_filename (root, relative, NULL)
                                          : g_strdup (root);
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  if (handle == NULL)
    return;
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *rel = relative != NULL ? g_build_filename (relative, name, NULL)
                                              : g_strdup (name);
      g_autofree char *full = g_build_filename (root, rel, NULL);

      if (g_file_test (full, G_FILE_TEST_IS_DIR))
        list_files_rec (root, rel, out);
      else
        g_ptr_array_add (out, g_steal_pointer (&rel));
    }
}

static GPtrArray *
list_files (const char *root)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  list_files_rec (root, NULL, out);
  g_ptr_array_sort (out, compare_names);
  return out;
}

/* ---- Pseudonyms --------------------------------------------------------------------------- */

static void
test_pseudonym_key (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(HepaPseudonymizer) a = NULL;
  g_autoptr(HepaPseudonymizer) b = NULL;
  g_autoptr(HepaPseudonymizer) c = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *other_key = g_build_filename (f->dir, "other", "pseudonym.key", NULL);
  g_autofree char *h1 = NULL, *h2 = NULL, *h3 = NULL, *h4 = NULL, *h5 = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *env_path = NULL;
  g_autofree char *config = g_build_filename (f->dir, "config", NULL);
  struct stat st;

  a = hepa_pseudonymizer_new (f->key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (f->key, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (f->key, &contents, NULL, NULL));
  g_assert_cmpuint (strlen (contents), ==, 65);

  b = hepa_pseudonymizer_new (f->key, &error);
  g_assert_no_error (error);
  h1 = hepa_pseudonymizer_hash (a, "patient", "PID-1");
  h2 = hepa_pseudonymizer_hash (b, "patient", "PID-1");
  h3 = hepa_pseudonymizer_hash (a, "study", "PID-1");
  g_assert_cmpuint (strlen (h1), ==, HEPA_PSEUDONYM_LENGTH);
  g_assert_cmpstr (h1, ==, h2);
  g_assert_cmpstr (h1, !=, h3);
  /* Not a plain hash: another installation's key gives other ids. */
  c = hepa_pseudonymizer_new (other_key, &error);
  g_assert_no_error (error);
  h4 = hepa_pseudonymizer_hash (c, "patient", "PID-1");
  g_assert_cmpstr (h1, !=, h4);
  g_assert_null (strstr (contents, h1));

  /* A key readable by others is made private; a damaged key is refused and kept. */
  g_assert_cmpint (g_chmod (f->key, 0644), ==, 0);
  g_clear_pointer (&b, hepa_pseudonymizer_free);
  b = hepa_pseudonymizer_new (f->key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (f->key, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_set_contents (other_key, "not a key\n", -1, NULL));
  g_clear_pointer (&c, hepa_pseudonymizer_free);
  c = hepa_pseudonymizer_new (other_key, &error);
  g_assert_null (c);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_clear_error (&error);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (other_key, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "not a key\n");

  /* HEPASCOPE_CONFIG_DIR names the folder of the default key. */
  g_setenv ("HEPASCOPE_CONFIG_DIR", config, TRUE);
  env_path = hepa_pseudonym_dup_key_path ();
  g_unsetenv ("HEPASCOPE_CONFIG_DIR");
  g_assert_cmpstr (env_path, ==, f->key);
  g_clear_pointer (&c, hepa_pseudonymizer_free);
  c = hepa_pseudonymizer_new (env_path, &error);
  g_assert_no_error (error);
  h5 = hepa_pseudonymizer_hash (c, "patient", "PID-1");
  g_assert_cmpstr (h5, ==, h1);
}

/* ---- Manifest ----------------------------------------------------------------------------- */

static HepaManifest *
make_manifest (void)
{
  const char *classes[] = { "non_fll", "cyst", "hcc", NULL };
  HepaManifest *m = hepa_manifest_new (classes);

  for (guint i = 0; i < 3; i++)
    {
      HepaManifestRow *row = hepa_manifest_row_new ();

      row->crop_id = g_strdup_printf ("c%019u", i);
      row->label = g_strdup (classes[i]);
      row->file = g_strdup_printf ("%s/%s.png", row->label, row->crop_id);
      row->patient = g_strdup ("0123456789abcdef0123");
      row->study = g_strdup ("aaaaaaaaaaaaaaaaaaaa");
      row->sop = g_strdup_printf ("b%019u", i);
      row->frame = i;
      row->roi = (HepaRect) { 10 * i, 20, 30 + i, 40 };
      row->has_mm = i != 1;
      row->roi_mm[0] = 1.5;
      row->roi_mm[1] = 2.25;
      row->roi_mm[2] = 3.125;
      row->roi_mm[3] = 4.0;
      row->rater = g_strdup (i == 2 ? "Dr \"Q\", \"rater\"\nline 2" : "me");
      row->created = 1795770000 + i;
      row->modified = 1795770100 + i;
      if (i != 1)
        {
          const char *pc[] = { "non_fll", "cyst", "hcc", NULL };
          float p[3] = { 0.125f, 0.75f, 0.125f };

          row->pred_model_id = g_strdup ("resnet50-0123456789ab");
          row->pred_classes = g_strdupv ((char **) pc);
          row->pred_probabilities = g_memdup2 (p, sizeof p);
        }
      row->sha256 = g_strnfill (64, "0123456789abcdef"[i]);
      if (i == 0)
        {
          row->native_file = g_strdup_printf ("native/%s", row->file);
          row->native_sha256 = g_strnfill (64, 'e');
        }
      row->manufacturer = g_strdup ("ACME, Inc.");
      row->transfer_syntax = g_strdup ("1.2.840.10008.1.2.1");
      row->pixel_spacing_mm[0] = i == 1 ? 0 : 0.25;
      row->pixel_spacing_mm[1] = i == 1 ? 0 : 0.5;
      g_ptr_array_add (m->rows, row);
    }
  return m;
}

static void
assert_manifests_equal (const HepaManifest *a,
                        const HepaManifest *b)
{
  g_assert_cmpuint (a->rows->len, ==, b->rows->len);
  for (guint i = 0; i < a->rows->len; i++)
    {
      const HepaManifestRow *x = g_ptr_array_index (a->rows, i);
      const HepaManifestRow *y = g_ptr_array_index (b->rows, i);

      g_assert_cmpstr (x->crop_id, ==, y->crop_id);
      g_assert_cmpstr (x->file, ==, y->file);
      g_assert_cmpstr (x->native_file, ==, y->native_file);
      g_assert_cmpstr (x->label, ==, y->label);
      g_assert_cmpstr (x->patient, ==, y->patient);
      g_assert_cmpstr (x->study, ==, y->study);
      g_assert_cmpstr (x->sop, ==, y->sop);
      g_assert_cmpuint (x->frame, ==, y->frame);
      g_assert_cmpint (x->roi.x, ==, y->roi.x);
      g_assert_cmpint (x->roi.width, ==, y->roi.width);
      g_assert_cmpint (x->has_mm, ==, y->has_mm);
      if (x->has_mm)
        for (int k = 0; k < 4; k++)
          g_assert_cmpfloat_with_epsilon (x->roi_mm[k], y->roi_mm[k], 1e-3);
      g_assert_cmpstr (x->rater, ==, y->rater);
      g_assert_cmpint (x->created, ==, y->created);
      g_assert_cmpint (x->modified, ==, y->modified);
      g_assert_cmpstr (x->pred_model_id, ==, y->pred_model_id);
      if (x->pred_classes != NULL)
        for (guint k = 0; x->pred_classes[k] != NULL; k++)
          {
            g_assert_cmpstr (x->pred_classes[k], ==, y->pred_classes[k]);
            g_assert_cmpfloat_with_epsilon (x->pred_probabilities[k],
                                            y->pred_probabilities[k], 1e-6);
          }
      g_assert_cmpstr (x->sha256, ==, y->sha256);
      g_assert_cmpstr (x->native_sha256, ==, y->native_sha256);
      g_assert_cmpstr (x->manufacturer, ==, y->manufacturer);
      g_assert_cmpstr (x->transfer_syntax, ==, y->transfer_syntax);
      g_assert_cmpfloat_with_epsilon (x->pixel_spacing_mm[0], y->pixel_spacing_mm[0], 1e-9);
      g_assert_cmpfloat_with_epsilon (x->pixel_spacing_mm[1], y->pixel_spacing_mm[1], 1e-9);
    }
}

static void
test_manifest_round_trip (void)
{
  g_autoptr(HepaManifest) m = make_manifest ();
  g_autoptr(HepaManifest) from_json = NULL;
  g_autoptr(HepaManifest) from_csv = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *json2 = NULL;
  g_autofree char *csv = NULL;
  gsize length = 0;

  json = hepa_manifest_to_json (m, &length);
  from_json = hepa_manifest_parse_json (json, length, &error);
  g_assert_no_error (error);
  assert_manifests_equal (m, from_json);
  g_assert_true (g_strv_equal ((const char *const *) m->classes,
                               (const char *const *) from_json->classes));
  json2 = hepa_manifest_to_json (from_json, NULL);
  g_assert_cmpstr (json, ==, json2);

  csv = hepa_manifest_to_csv (m, &length);
  g_assert_true (g_str_has_prefix (csv, HEPA_MANIFEST_CSV_HEADER "\r\n"));
  from_csv = hepa_manifest_parse_csv (csv, length, &error);
  g_assert_no_error (error);
  assert_manifests_equal (m, from_csv);
}

static void
test_manifest_rejects (void)
{
  struct
  {
    const char *field;
    const char *value;
  } bad[] = {
    { "file", "../etc/passwd" },
    { "file", "/abs/x.png" },
    { "file", "cyst//x.png" },
    { "file", "cyst\\x.png" },
    { "native_file", "native/../../x.png" },
    { "label", "not_a_class" },
    { "sha256", "xyz" },
    { "crop_id", "a b" },
    { "patient", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(HepaManifest) m = make_manifest ();
      HepaManifestRow *row = g_ptr_array_index (m->rows, 0);
      g_autoptr(GError) error = NULL;
      g_autofree char *json = NULL;
      g_autofree char *csv = NULL;
      char **slot = NULL;

      if (strcmp (bad[i].field, "file") == 0)
        slot = &row->file;
      else if (strcmp (bad[i].field, "native_file") == 0)
        slot = &row->native_file;
      else if (strcmp (bad[i].field, "label") == 0)
        slot = &row->label;
      else if (strcmp (bad[i].field, "sha256") == 0)
        slot = &row->sha256;
      else if (strcmp (bad[i].field, "crop_id") == 0)
        slot = &row->crop_id;
      else
        slot = &row->patient;
      g_free (*slot);
      *slot = g_strdup (bad[i].value);

      json = hepa_manifest_to_json (m, NULL);
      g_assert_null (hepa_manifest_parse_json (json, strlen (json), &error));
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
      g_clear_error (&error);
      /* The CSV has no class list, so an unknown label is a new class there. */
      if (strcmp (bad[i].field, "label") == 0)
        continue;
      csv = hepa_manifest_to_csv (m, NULL);
      g_assert_null (hepa_manifest_parse_csv (csv, strlen (csv), &error));
      g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
    }

  {
    g_autoptr(HepaManifest) m = make_manifest ();
    HepaManifestRow *row1 = g_ptr_array_index (m->rows, 1);
    g_autoptr(GError) error = NULL;
    g_autofree char *json = NULL;

    g_free (row1->crop_id);
    row1->crop_id = g_strdup (((HepaManifestRow *) g_ptr_array_index (m->rows, 0))->crop_id);
    json = hepa_manifest_to_json (m, NULL);
    g_assert_null (hepa_manifest_parse_json (json, strlen (json), &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  }
  {
    const char *newer = "{\"format\": \"hepascope-export\", \"version\": 2, \"classes\": [],"
                        " \"crops\": []}";
    const char *unterminated = HEPA_MANIFEST_CSV_HEADER "\r\n\"abc";
    g_autoptr(GError) error = NULL;

    g_assert_null (hepa_manifest_parse_json (newer, strlen (newer), &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_UNSUPPORTED);
    g_clear_error (&error);
    g_assert_null (hepa_manifest_parse_csv (unterminated, strlen (unterminated), &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
    g_clear_error (&error);
    g_assert_null (hepa_manifest_parse_csv ("a,b\r\n1,2\r\n", 10, &error));
    g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  }
}

/* ---- Export of PNG files ------------------------------------------------------------------ */

static void
check_export_tree (Fixture *f,
                   guint    n_expected)
{
  g_autoptr(HepaManifest) json = NULL;
  g_autoptr(HepaManifest) csv = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *csv_path = g_build_filename (f->out, "manifest.csv", NULL);

  json = hepa_manifest_load (f->out, &error);
  g_assert_no_error (error);
  csv = hepa_manifest_load (csv_path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json->rows->len, ==, n_expected);
  assert_manifests_equal (json, csv);
  g_assert_cmpint (json->input_size, ==, f->card->input_size);

  for (guint i = 0; i < json->rows->len; i++)
    {
      HepaManifestRow *row = g_ptr_array_index (json->rows, i);
      g_autofree char *path = g_build_filename (f->out, row->file, NULL);
      g_autofree char *digest = file_sha256 (path);
      g_autoptr(HepaImage) crop = hepa_image_open (path, &error);
      g_autofree char *expected_file = g_strdup_printf ("%s/%s.png", row->label, row->crop_id);

      g_assert_no_error (error);
      g_assert_cmpstr (row->file, ==, expected_file);
      g_assert_cmpstr (digest, ==, row->sha256);
      g_assert_cmpint (hepa_image_get_width (crop), ==, f->card->input_size);
      g_assert_cmpint (hepa_image_get_height (crop), ==, f->card->input_size);
      g_assert_cmpint (hepa_image_get_format (crop), ==, HEPA_PIXEL_RGB8);
      if (row->native_file != NULL)
        {
          g_autofree char *native = g_build_filename (f->out, row->native_file, NULL);
          g_autofree char *native_digest = file_sha256 (native);
          g_autoptr(HepaImage) big = hepa_image_open (native, &error);

          g_assert_no_error (error);
          g_assert_cmpstr (native_digest, ==, row->native_sha256);
          g_assert_cmpint (hepa_image_get_width (big), ==, row->roi.width);
          g_assert_cmpint (hepa_image_get_height (big), ==, row->roi.height);
        }
    }
}

static void
test_export_png (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *a = make_png (f->in, "a.png", 320, 240, 1);
  g_autofree char *b = make_png (f->in, "b.png", 200, 150, 2);
  g_autofree char *unannotated = make_png (f->in, "c.png", 64, 64, 3);
  g_autofree char *sub = g_build_filename (f->in, "sub", NULL);
  g_autofree char *d = NULL;
  const RoiSpec rois_a[] = {
    { 0, 10, 20, 100, 80, "cyst" },
    { 0, 150, 40, 60, 120, "hcc" },
    { 0, 0, 0, 320, 240, "non_fll" },
    { 0, 5, 5, 20, 20, NULL },
  };
  const RoiSpec rois_b[] = { { 0, 50, 50, 30, 30, "hemangioma" } };
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *coco = g_build_filename (f->out, "coco.json", NULL);
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *annotations;

  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  d = make_png (sub, "d.png", 100, 100, 4);
  make_sidecar (a, rois_a, G_N_ELEMENTS (rois_a), NULL);
  make_sidecar (b, rois_b, G_N_ELEMENTS (rois_b), NULL);
  make_sidecar (d, rois_b, G_N_ELEMENTS (rois_b), NULL);

  summary = run_export (f, f->in, TRUE, FALSE);
  g_assert_cmpuint (summary->n_images, ==, 3);
  g_assert_cmpuint (summary->n_labeled, ==, 5);
  g_assert_cmpuint (summary->n_unlabeled, ==, 1);
  g_assert_cmpuint (summary->n_exported, ==, 5);
  g_assert_cmpuint (summary->n_skipped, ==, 0);
  g_assert_cmpuint (summary->n_frames, ==, 3);
  check_export_tree (f, 5);

  /* Crop ids come from (SOP, frame, ROI id): the same ROI of two images differs. */
  manifest = hepa_manifest_load (f->out, &error);
  g_assert_no_error (error);
  {
    HepaManifestRow *r0 = g_ptr_array_index (manifest->rows, 0);
    HepaManifestRow *r3 = g_ptr_array_index (manifest->rows, 3);
    HepaManifestRow *r4 = g_ptr_array_index (manifest->rows, 4);

    g_assert_cmpstr (r0->label, ==, "cyst");
    /* Not allow-listed: keyed pseudonyms (stable for one key, so still groupable). */
    g_assert_true (g_str_has_prefix (r0->rater, "rater-"));
    g_assert_cmpstr (r0->rater, ==, ((HepaManifestRow *) g_ptr_array_index (manifest->rows,
                                                                             1))->rater);
    g_assert_true (g_str_has_prefix (r0->pred_model_id, "model-"));
    g_assert_false (r0->has_mm);
    g_assert_cmpstr (r3->crop_id, !=, r4->crop_id);
    g_assert_cmpstr (r3->patient, !=, r4->patient);
  }

  /* coco.json: one image per frame, one box per crop, categories in card order. */
  g_assert_true (json_parser_load_from_file (parser, coco, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "images")), ==, 3);
  annotations = json_object_get_array_member (root, "annotations");
  g_assert_cmpuint (json_array_get_length (annotations), ==, 5);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (annotations, 0),
                                               "category_id"), ==, 2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "categories")),
                    ==, 5);
  {
    JsonObject *image = json_array_get_object_element (json_object_get_array_member (root,
                                                                                     "images"),
                                                       0);
    g_autofree char *frame = g_build_filename (f->out,
                                               json_object_get_string_member (image, "file_name"),
                                               NULL);
    g_autoptr(HepaImage) whole = hepa_image_open (frame, &error);

    g_assert_no_error (error);
    g_assert_cmpint (hepa_image_get_width (whole), ==, 320);
  }
}

/* The trainer reads the tree: only labeled classes are folders, native/ and frames/ are not
 * classes, and the manifest's patients group the crops. */
static void
test_export_loads_in_trainer (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(HepaDataset) dataset = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("img%u.png", i);
      g_autofree char *path = make_png (f->in, name, 120, 100, 500 + i);
      const RoiSpec rois[] = {
        { 0, 10, 10, 40, 40, "cyst" },
        { 0, 60, 40, 40, 50, i % 2 == 0 ? "hcc" : "cyst" },
      };

      make_sidecar (path, rois, 2, NULL);
    }
  summary = run_export (f, f->in, TRUE, FALSE);
  g_assert_cmpuint (summary->n_exported, ==, 8);
  dataset = hepa_dataset_load (f->out, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->n_classes, ==, 2);
  g_assert_cmpstr (dataset->classes[0], ==, "cyst");
  g_assert_cmpstr (dataset->classes[1], ==, "hcc");
  g_assert_cmpuint (dataset->samples->len, ==, 8);
  g_assert_cmpuint (hepa_dataset_count (dataset, 0), ==, 6);
  g_assert_true (dataset->has_manifest);
  /* A PNG has no patient id: each image is its own patient, two crops each. */
  g_assert_cmpuint (dataset->n_groups, ==, 4);
  g_assert_true (hepa_dataset_preload (dataset, f->card, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (dataset->size, ==, f->card->input_size);
}

/* The model-input crop is what the engine's preprocessing gives, in 8 bits. */
static void
test_export_matches_preprocess (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *a = make_png (f->in, "a.png", 300, 200, 9);
  const RoiSpec rois[] = { { 0, 30, 40, 150, 90, "ffs" } };
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(HepaImage) source = NULL;
  g_autoptr(HepaImage) crop = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *chw = NULL;
  g_autofree char *crop_path = NULL;
  const HepaFrame *sf, *cf;
  HepaRect rect = { 30, 40, 150, 90 };
  int size = f->card->input_size;
  double max_diff = 0;

  make_sidecar (a, rois, 1, NULL);
  summary = run_export (f, f->in, FALSE, FALSE);
  g_assert_cmpuint (summary->n_exported, ==, 1);
  manifest = hepa_manifest_load (f->out, &error);
  g_assert_no_error (error);
  crop_path = g_build_filename (f->out,
                                ((HepaManifestRow *) g_ptr_array_index (manifest->rows, 0))->file,
                                NULL);

  source = hepa_image_open (a, &error);
  g_assert_no_error (error);
  sf = hepa_image_get_frame (source, 0, &error);
  g_assert_no_error (error);
  chw = g_new (float, 3 * size * size);
  hepa_preprocess_roi (f->card, sf, &rect, chw);
  crop = hepa_image_open (crop_path, &error);
  g_assert_no_error (error);
  cf = hepa_image_get_frame (crop, 0, &error);
  g_assert_no_error (error);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      for (int c = 0; c < 3; c++)
        {
          double expected = (chw[(gsize) c * size * size + y * size + x] * f->card->std[c]
                             + f->card->mean[c]) * 255.0;
          double got = cf->data[(gsize) y * cf->stride + x * 3 + c];

          max_diff = MAX (max_diff, fabs (expected - got));
        }
  /* Only the rounding to 8 bits separates them. */
  g_assert_cmpfloat (max_diff, <=, 0.5 + 1e-3);
  /* The card is grayscale: the three channels are equal. */
  g_assert_cmpint (cf->data[0], ==, cf->data[1]);
  g_assert_cmpint (cf->data[1], ==, cf->data[2]);
}

static void
test_export_native_gray16 (Fixture       *f,
                           gconstpointer  data)
{
  int w = 64, h = 48;
  g_autofree guint16 *pixels = g_new (guint16, w * h);
  g_autofree char *path = g_build_filename (f->in, "gray16.png", NULL);
  const RoiSpec rois[] = { { 0, 8, 4, 40, 30, "cyst" } };
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(HepaImage) native = NULL;
  g_autofree char *native_path = NULL;
  const HepaFrame *frame;

  for (int i = 0; i < w * h; i++)
    pixels[i] = (guint16) (i * 97 % 65536);
  png = hepa_export_encode_png ((const guint8 *) pixels, w, h, w * 2, 1, 16, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (png, NULL),
                                      g_bytes_get_size (png), NULL));
  make_sidecar (path, rois, 1, NULL);
  summary = run_export (f, f->in, TRUE, FALSE);
  g_assert_cmpuint (summary->n_exported, ==, 1);
  check_export_tree (f, 1);
  manifest = hepa_manifest_load (f->out, &error);
  native_path = g_build_filename (f->out, ((HepaManifestRow *) g_ptr_array_index (manifest->rows,
                                                                                  0))->native_file,
                                  NULL);
  native = hepa_image_open (native_path, &error);
  g_assert_no_error (error);
  frame = hepa_image_get_frame (native, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (frame->format, ==, HEPA_PIXEL_GRAY16);
  for (int y = 0; y < 30; y++)
    for (int x = 0; x < 40; x++)
      g_assert_cmpuint (((const guint16 *) (frame->data + y * frame->stride))[x], ==,
                        pixels[(y + 4) * w + x + 8]);

  /* The whole frame for coco.json is gray, so it is written as a gray PNG. */
  {
    g_autoptr(GPtrArray) files = list_files (f->out);
    guint n_frames = 0;

    for (guint i = 0; i < files->len; i++)
      if (g_str_has_prefix (g_ptr_array_index (files, i), "frames/"))
        {
          g_autofree char *whole = g_build_filename (f->out, g_ptr_array_index (files, i), NULL);
          g_autoptr(HepaImage) image = hepa_image_open (whole, &error);

          g_assert_no_error (error);
          g_assert_cmpint (hepa_image_get_format (image), ==, HEPA_PIXEL_GRAY16);
          g_assert_cmpint (hepa_image_get_width (image), ==, w);
          n_frames++;
        }
    g_assert_cmpuint (n_frames, ==, 1);
  }
}

static void
test_export_idempotent (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *a = make_png (f->in, "a.png", 160, 120, 5);
  const RoiSpec rois[] = {
    { 0, 10, 10, 50, 40, "cyst" },
    { 0, 70, 20, 60, 60, "hcc" },
  };
  RoiSpec relabeled[] = {
    { 0, 10, 10, 50, 40, "hemangioma" },
    { 0, 70, 20, 60, 60, "hcc" },
  };
  g_autoptr(HepaExportSummary) first = NULL;
  g_autoptr(HepaExportSummary) second = NULL;
  g_autoptr(HepaExportSummary) third = NULL;
  g_autoptr(HepaExportSummary) fourth = NULL;
  g_autoptr(HepaExportSummary) fifth = NULL;
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(GPtrArray) relabeled_files = NULL;
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree struct stat *stats = NULL;
  g_autofree char *victim = NULL;
  g_autofree char *contents = NULL;

  make_sidecar (a, rois, 2, NULL);
  first = run_export (f, a, FALSE, FALSE);
  g_assert_cmpuint (first->n_exported, ==, 2);
  before = list_files (f->out);

  /* Age every file, so a rewrite would show in its time stamp and inode. */
  stats = g_new0 (struct stat, before->len);
  for (guint i = 0; i < before->len; i++)
    {
      g_autofree char *path = g_build_filename (f->out, g_ptr_array_index (before, i), NULL);
      struct timespec times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

      g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
      g_assert_cmpint (stat (path, &stats[i]), ==, 0);
    }

  second = run_export (f, a, FALSE, FALSE);
  g_assert_cmpuint (second->n_exported, ==, 2);
  g_assert_cmpuint (second->n_written, ==, 0);
  g_assert_cmpuint (second->n_unchanged, ==, before->len);
  after = list_files (f->out);
  g_assert_cmpuint (after->len, ==, before->len);
  for (guint i = 0; i < before->len; i++)
    {
      g_autofree char *path = g_build_filename (f->out, g_ptr_array_index (before, i), NULL);
      struct stat st;

      g_assert_cmpstr (g_ptr_array_index (after, i), ==, g_ptr_array_index (before, i));
      g_assert_cmpint (stat (path, &st), ==, 0);
      g_assert_cmpint (st.st_ino, ==, stats[i].st_ino);
      g_assert_cmpint (st.st_mtim.tv_sec, ==, stats[i].st_mtim.tv_sec);
    }

  /* A relabeled ROI moves to its new class folder; the old crop goes. */
  make_sidecar (a, relabeled, 2, NULL);
  third = run_export (f, a, FALSE, FALSE);
  g_assert_cmpuint (third->n_skipped, ==, 0);
  g_assert_cmpuint (third->n_removed, ==, 1);
  check_export_tree (f, 2);
  relabeled_files = list_files (f->out);
  g_assert_cmpuint (relabeled_files->len, ==, before->len);
  manifest = hepa_manifest_load (f->out, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (((HepaManifestRow *) g_ptr_array_index (manifest->rows, 0))->label, ==,
                   "hemangioma");

  /* Someone edits a crop: without force it stays and the export says why; with force it is
   * replaced. */
  victim = g_build_filename (f->out,
                             ((HepaManifestRow *) g_ptr_array_index (manifest->rows, 1))->file,
                             NULL);
  g_assert_true (g_file_set_contents (victim, "edited by hand", -1, NULL));
  fourth = run_export (f, a, FALSE, FALSE);
  g_assert_cmpuint (fourth->n_skipped, ==, 1);
  g_assert_cmpuint (fourth->skipped[HEPA_EXPORT_SKIP_EXISTS], ==, 1);
  g_assert_cmpuint (fourth->n_exported, ==, 1);
  g_assert_true (g_file_get_contents (victim, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "edited by hand");
  check_export_tree (f, 1);
  fifth = run_export (f, a, FALSE, TRUE);
  g_assert_cmpuint (fifth->n_skipped, ==, 0);
  check_export_tree (f, 2);
}

static void
test_export_bad_input (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *good = make_png (f->in, "good.png", 100, 100, 6);
  g_autofree char *broken = g_build_filename (f->in, "broken.png", NULL);
  g_autofree char *newer = make_png (f->in, "newer.png", 50, 50, 7);
  g_autofree char *damaged = make_png (f->in, "damaged.png", 50, 50, 8);
  g_autofree char *wrong = make_png (f->in, "wrong.png", 50, 50, 9);
  g_autofree char *lonely = make_png (f->in, "lonely.png", 50, 50, 10);
  g_autofree char *newer_sidecar = hepa_annotations_sidecar_path (newer, NULL);
  g_autofree char *damaged_sidecar = hepa_annotations_sidecar_path (damaged, NULL);
  g_autofree char *missing = g_build_filename (f->in, "missing.png", NULL);
  const RoiSpec good_rois[] = {
    { 0, 10, 10, 30, 30, "cyst" },
    { 0, 90, 90, 30, 30, "cyst" },       /* partly outside */
    { 0, 10, 10, 30, 30, "metastasis" }, /* not a class */
    { 3, 10, 10, 30, 30, "hcc" },        /* no such frame */
    { 0, 50, 50, 20, 20, "ffs" },
  };
  const RoiSpec one[] = { { 0, 1, 1, 10, 10, "cyst" } };
  const char *paths[] = { f->in, lonely, missing, NULL };
  HepaExportOptions options;
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;

  g_assert_true (g_file_set_contents (broken, "\x89PNG\r\n\x1a\n garbage", -1, NULL));
  make_sidecar (good, good_rois, G_N_ELEMENTS (good_rois), NULL);
  make_sidecar (broken, one, 1, NULL);
  make_sidecar (wrong, one, 1, "1.2.3.4");
  g_assert_true (g_file_set_contents (newer_sidecar, "{\"format\": \"hepascope-annotations\", "
                                      "\"version\": 7, \"rois\": []}", -1, NULL));
  g_assert_true (g_file_set_contents (damaged_sidecar, "{\"format\": \"hepascope-annot", -1,
                                      NULL));

  hepa_export_options_init (&options, f->out, f->card);
  options.key_path = f->key;
  summary = hepa_export_run (&options, paths, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < summary->problems->len; i++)
    {
      HepaExportProblem *p = g_ptr_array_index (summary->problems, i);

      g_test_message ("%s: %s: %s", hepa_export_skip_describe (p->reason), p->path, p->message);
      g_assert_null (strchr (p->message, '\n'));
    }
  g_assert_cmpuint (summary->n_exported, ==, 3);  /* good r-0, r-4; wrong r-0 */
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_OUTSIDE], ==, 2);
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_UNKNOWN_LABEL], ==, 1);
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_UNREADABLE], ==, 2);  /* broken, missing */
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_NEWER_SIDECAR], ==, 1);
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_DAMAGED_SIDECAR], ==, 1);
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_NO_SIDECAR], ==, 1);
  /* The SOP of a PNG is unknown, so the tie to "1.2.3.4" cannot be checked: exported. */
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_WRONG_IMAGE], ==, 0);
  g_assert_cmpuint (summary->n_skipped, ==, 8);
  check_export_tree (f, 3);

  /* The export only reads: the damaged sidecar is where it was. */
  g_assert_true (g_file_get_contents (damaged_sidecar, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "{\"format\": \"hepascope-annot");
}

/* A sidecar that is a FIFO blocked the export for ever; one that links to /dev/zero read until
 * memory ran out. Both are skipped as unreadable, at once; the other image is exported. */
static void
test_export_not_regular_sidecar (Fixture       *f,
                                 gconstpointer  data)
{
  g_autofree char *good = make_png (f->in, "good.png", 60, 60, 21);
  g_autofree char *piped = make_png (f->in, "piped.png", 60, 60, 22);
  g_autofree char *zeroed = make_png (f->in, "zeroed.png", 60, 60, 23);
  g_autofree char *fifo = hepa_annotations_sidecar_path (piped, NULL);
  g_autofree char *zero = hepa_annotations_sidecar_path (zeroed, NULL);
  const RoiSpec one[] = { { 0, 5, 5, 20, 20, "cyst" } };
  g_autoptr(HepaExportSummary) summary = NULL;
  gint64 start;

  make_sidecar (good, one, 1, NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (symlink ("/dev/zero", zero), ==, 0);
  start = g_get_monotonic_time ();
  summary = run_export (f, f->in, FALSE, FALSE);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  g_assert_cmpuint (summary->n_exported, ==, 1);
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_UNREADABLE], ==, 2);
  for (guint i = 0; i < summary->problems->len; i++)
    {
      HepaExportProblem *p = g_ptr_array_index (summary->problems, i);

      g_assert_nonnull (strstr (p->message, "Not a regular file"));
    }
}

static ssize_t
enospc_write (int         fd,
              const void *buf,
              size_t      count)
{
  errno = ENOSPC;
  return -1;
}

static void
test_export_disk_full (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *a = make_png (f->in, "a.png", 100, 100, 11);
  const RoiSpec rois[] = { { 0, 10, 10, 30, 30, "cyst" }, { 0, 40, 40, 30, 30, "hcc" } };
  const char *paths[] = { f->in, NULL };
  HepaExportOptions options;
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autoptr(HepaExportSummary) good = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *manifest = g_build_filename (f->out, "manifest.json", NULL);
  g_autofree char *old_manifest = NULL;
  g_autofree char *now_manifest = NULL;

  make_sidecar (a, rois, 2, NULL);
  hepa_export_options_init (&options, f->out, f->card);
  options.key_path = f->key;
  options.n_threads = 1;

  /* A fresh export onto a full disk: one clear problem per file, and no manifest at all. */
  hepa_annotations_set_write_func_for_testing (enospc_write);
  summary = hepa_export_run (&options, paths, NULL, NULL, NULL, &error);
  hepa_annotations_set_write_func_for_testing (NULL);
  g_assert_no_error (error);
  g_assert_false (summary->manifest_written);
  g_assert_cmpuint (summary->n_exported, ==, 0);
  /* Two crops and the manifest (a frame without exported crops is not written). */
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_NO_SPACE], ==, 3);
  for (guint i = 0; i < summary->problems->len; i++)
    g_assert_nonnull (strstr (((HepaExportProblem *) g_ptr_array_index (summary->problems,
                                                                        i))->message, "full"));
  g_assert_false (g_file_test (manifest, G_FILE_TEST_EXISTS));
  g_clear_pointer (&summary, hepa_export_summary_free);

  /* Over a complete export, the old manifest survives and still names existing files. */
  good = run_export (f, f->in, FALSE, FALSE);
  g_assert_cmpuint (good->n_exported, ==, 2);
  g_assert_true (g_file_get_contents (manifest, &old_manifest, NULL, NULL));
  make_sidecar (a, (RoiSpec[]) { { 0, 10, 10, 30, 30, "ffs" }, { 0, 40, 40, 30, 30, "hcc" } }, 2,
                NULL);
  hepa_annotations_set_write_func_for_testing (enospc_write);
  summary = hepa_export_run (&options, paths, NULL, NULL, NULL, &error);
  hepa_annotations_set_write_func_for_testing (NULL);
  g_assert_no_error (error);
  g_assert_false (summary->manifest_written);
  g_assert_cmpuint (summary->skipped[HEPA_EXPORT_SKIP_NO_SPACE], >=, 1);
  g_assert_true (g_file_get_contents (manifest, &now_manifest, NULL, NULL));
  g_assert_cmpstr (now_manifest, ==, old_manifest);
  check_export_tree (f, 2);
}

static void
test_export_reserved_class (Fixture       *f,
                            gconstpointer  data)
{
  const char *classes[] = { "cyst", "native", NULL };
  g_autoptr(HepaModelCard) card = hepa_export_card_new_default (classes);
  const char *paths[] = { f->in, NULL };
  HepaExportOptions options;
  g_autoptr(GError) error = NULL;

  hepa_export_options_init (&options, f->out, card);
  options.key_path = f->key;
  g_assert_null (hepa_export_run (&options, paths, NULL, NULL, NULL, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
}

/* ---- De-identification -------------------------------------------------------------------- */

/* Every identifying attribute of the PS3.15 Annex E basic profile that a US file may carry,
 * with a marker value; UIDs and dates are markers of their own syntax. */
static const struct
{
  const char *tag;
  const char *marker;
} identifying[] = {
  { "(0010,0010)", "MRKNAME^QWXPATIENT" },
  { "(0010,0020)", "MRKPID7731" },
  { "(0010,0030)", "19310417" },
  { "(0010,0032)", "031415" },
  { "(0010,1000)", "MRKOTHERPID" },
  { "(0010,1001)", "MRKOTHERNAME" },
  { "(0010,1040)", "MRKADDRESS STREET" },
  { "(0010,2154)", "5550199MRK" },
  { "(0010,21B0)", "MRKHISTORY" },
  { "(0010,4000)", "MRKPATCOMMENT" },
  { "(0010,1010)", "087Y" },
  { "(0008,0050)", "MRKACC0042" },
  { "(0008,0080)", "MRKINSTITUTION" },
  { "(0008,0081)", "MRKINSTADDRESS" },
  { "(0008,0090)", "MRKREFPHYS" },
  { "(0008,1040)", "MRKDEPARTMENT" },
  { "(0008,1050)", "MRKPERFPHYS" },
  { "(0008,1070)", "MRKOPERATOR" },
  { "(0008,1010)", "MRKSTATION" },
  { "(0008,1030)", "MRKSTUDYDESC" },
  { "(0008,103E)", "MRKSERIESDESC" },
  { "(0020,4000)", "MRKIMGCOMMENT" },
  { "(0032,4000)", "MRKSTUDYCOMMENT" },
  { "(0018,1000)", "MRKSERIAL" },
  { "(0020,0010)", "MRKSTUDYID" },
  { "(0008,0020)", "19870605" },
  { "(0008,0021)", "19870606" },
  { "(0008,0023)", "19870607" },
  { "(0008,0030)", "101112" },
  { "(0020,000D)", "1.2.826.0.1.3680043.10.777.1" },
  { "(0020,000E)", "1.2.826.0.1.3680043.10.777.2" },
  { "(0008,0018)", "1.2.826.0.1.3680043.10.777.3" },
  { "(0020,0052)", "1.2.826.0.1.3680043.10.777.4" },
};

static gboolean
run_quiet (const char *const *argv,
           char             **err)
{
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, err, &status, NULL))
    return FALSE;
  return g_spawn_check_wait_status (status, NULL);
}

static char *
make_marked_dicom (const char *dir,
                   const char *name,
                   const char *sop_uid,
                   guint32     seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  int w = 256, h = 192;
  g_autofree guint8 *pixels = g_new (guint8, w * h * 3);
  HepaDicomUsParams params = { 0 };
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *err = NULL;
  g_autofree char *bak = g_strconcat (path, ".bak", NULL);

  for (int i = 0; i < w * h * 3; i++)
    pixels[i] = (guint8) (g_rand_int_range (rand, 0, 256));
  params.width = w;
  params.height = h;
  params.n_frames = 2;
  params.rgb = TRUE;
  params.pixels = NULL;
  {
    guint8 *two = g_new (guint8, w * h * 3 * 2);

    memcpy (two, pixels, (gsize) w * h * 3);
    memcpy (two + (gsize) w * h * 3, pixels, (gsize) w * h * 3);
    params.pixels = two;
    params.mm_per_pixel_x = 0.2;
    params.mm_per_pixel_y = 0.2;
    params.region = (HepaRect) { 16, 8, 224, 176 };
    params.patient_name = identifying[0].marker;
    params.patient_id = identifying[1].marker;
    params.study_uid = identifying[29].marker;
    params.series_uid = identifying[30].marker;
    params.sop_uid = sop_uid;
    params.series_description = "MRKSERIESDESC";
    params.image_comments = "MRKIMGCOMMENT";
    params.manufacturer = "Hepascope Phantoms";
    g_assert_true (hepa_dicom_write_us (path, &params, &error));
    g_free (two);
  }
  g_assert_no_error (error);

  g_ptr_array_add (argv, g_strdup ("dcmodify"));
  g_ptr_array_add (argv, g_strdup ("-nb"));
  g_ptr_array_add (argv, g_strdup ("-q"));
  for (guint i = 0; i < G_N_ELEMENTS (identifying); i++)
    {
      /* The SOP Instance UID is given per file. */
      if (strcmp (identifying[i].tag, "(0008,0018)") == 0)
        continue;
      g_ptr_array_add (argv, g_strdup ("-i"));
      g_ptr_array_add (argv, g_strdup_printf ("%s=%s", identifying[i].tag, identifying[i].marker));
    }
  g_ptr_array_add (argv, g_strdup (path));
  g_ptr_array_add (argv, NULL);
  if (!run_quiet ((const char *const *) argv->pdata, &err))
    g_error ("dcmodify failed: %s", err);
  g_unlink (bak);
  return path;
}

static gboolean
contains_bytes (const char *haystack,
                gsize       length,
                const char *needle)
{
  gsize n = strlen (needle);

  if (n == 0 || n > length)
    return FALSE;
  for (gsize i = 0; i + n <= length; i++)
    if (haystack[i] == needle[0] && memcmp (haystack + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static void
test_export_deidentified (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *dcmodify = g_find_program_in_path ("dcmodify");
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *cli = NULL;
  g_autofree char *out_text = NULL;
  g_autofree char *err_text = NULL;
  g_autofree char *key = NULL;
  g_autofree char *config = g_build_filename (f->dir, "config", NULL);
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(HepaImage) probe = NULL;
  g_autoptr(GError) error = NULL;
  const char *sop_a = identifying[31].marker;
  const char *sop_b = "1.2.826.0.1.3680043.10.777.5";
  const RoiSpec rois[] = {
    { 0, 40, 30, 80, 60, "cyst" },
    { 1, 100, 60, 90, 70, "hcc" },
    { 0, 0, 0, 10, 10, "not_a_class" },
  };
  int status = 0;
  guint n_checked = 0;

  if (dcmodify == NULL)
    {
      g_test_skip ("dcmodify (DCMTK's tools) is not installed");
      return;
    }
  a = make_marked_dicom (f->in, "a.dcm", sop_a, 12);
  b = make_marked_dicom (f->in, "b.dcm", sop_b, 13);

  /* The markers are really in the file, as the loader sees them. */
  probe = hepa_image_open (a, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (hepa_image_get_info (probe)->patient_id, ==, "MRKPID7731");
  g_assert_cmpstr (hepa_image_get_info (probe)->institution_name, ==, "MRKINSTITUTION");
  g_assert_cmpstr (hepa_image_get_info (probe)->sop_uid, ==, sop_a);

  /* A rater who typed the patient's name, and a label that repeats it, must not leak. */
  make_sidecar (a, rois, G_N_ELEMENTS (rois), sop_a);
  make_sidecar (b, rois, 2, sop_b);
  {
    g_autofree char *sidecar = hepa_annotations_sidecar_path (a, NULL);
    g_autoptr(HepaAnnotations) set = hepa_annotations_load (sidecar, &error);
    HepaRoi *roi0 = g_ptr_array_index (set->rois, 0);
    HepaRoi *roi2 = g_ptr_array_index (set->rois, 2);

    g_assert_no_error (error);
    g_free (roi0->rater);
    roi0->rater = g_strdup ("seen with MRKOPERATOR");
    g_free (roi2->label);
    roi2->label = g_strdup ("MRKPID7731");
    g_assert_true (hepa_annotations_save (set, sidecar, &error));
  }

  /* Through the command line, so its output lines are checked too. */
  cli = g_strdup (g_getenv ("HEPASCOPE_CLI"));
  if (cli == NULL)
    {
      g_test_skip ("HEPASCOPE_CLI is not set (run through meson test)");
      return;
    }
  {
    const char *argv[] = { cli, "export", "--native", "--classes", DEFAULT_CLASSES, "--out",
                           f->out, f->in, NULL };
    g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "HEPASCOPE_CONFIG_DIR", config,
                                           TRUE);

    g_assert_true (g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
                                 &out_text, &err_text, &status, &error));
    g_assert_no_error (error);
  }
  g_test_message ("stdout: %s\nstderr: %s", out_text, err_text);
  /* The ROI with a label out of the class list is skipped: exit status 1. */
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_nonnull (strstr (err_text, "not among the classes"));

  manifest = hepa_manifest_load (f->out, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (manifest->rows->len, ==, 4);
  {
    HepaManifestRow *r0 = g_ptr_array_index (manifest->rows, 0);
    HepaManifestRow *r2 = g_ptr_array_index (manifest->rows, 2);

    /* Same patient and study in both files, other SOP instances. */
    g_assert_cmpstr (r0->patient, ==, r2->patient);
    g_assert_cmpstr (r0->study, ==, r2->study);
    g_assert_cmpstr (r0->sop, !=, r2->sop);
    g_assert_true (g_str_has_prefix (r0->rater, "rater-"));
    g_assert_true (r0->has_mm);
    g_assert_cmpfloat_with_epsilon (r0->pixel_spacing_mm[0], 0.2, 1e-9);
    g_assert_cmpfloat_with_epsilon (r0->roi_mm[2], 16.0, 1e-6);
    g_assert_cmpstr (r0->manufacturer, ==, "Hepascope Phantoms");
    g_assert_cmpstr (r0->transfer_syntax, ==, "1.2.840.10008.1.2.1");
  }

  /* The byte search: no marker in any file name, file, or output line; nor the key. */
  g_assert_true (g_file_get_contents (f->key, &key, NULL, NULL));
  g_strstrip (key);
  files = list_files (f->out);
  g_assert_cmpuint (files->len, >=, 4 + 4 + 3 + 3);
  for (guint i = 0; i < files->len; i++)
    {
      const char *rel = g_ptr_array_index (files, i);
      g_autofree char *path = g_build_filename (f->out, rel, NULL);
      g_autofree char *contents = NULL;
      gsize length = 0;

      g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
      for (guint k = 0; k < G_N_ELEMENTS (identifying); k++)
        {
          if (contains_bytes (rel, strlen (rel), identifying[k].marker)
              || contains_bytes (contents, length, identifying[k].marker))
            g_error ("%s holds the value of %s", rel, identifying[k].tag);
          n_checked++;
        }
      g_assert_false (contains_bytes (contents, length, key));
      /* PNGs carry pixels only: no text or time chunks. */
      if (g_str_has_suffix (rel, ".png"))
        {
          g_assert_false (contains_bytes (contents, length, "tEXt"));
          g_assert_false (contains_bytes (contents, length, "iTXt"));
          g_assert_false (contains_bytes (contents, length, "zTXt"));
          g_assert_false (contains_bytes (contents, length, "tIME"));
        }
    }
  for (guint k = 0; k < G_N_ELEMENTS (identifying); k++)
    {
      g_assert_false (contains_bytes (out_text, strlen (out_text), identifying[k].marker));
      g_assert_false (contains_bytes (err_text, strlen (err_text), identifying[k].marker));
    }
  g_test_message ("%u file x marker checks over %u files", n_checked, files->len);
}

/* Issue 19's marker audit: identifying values beyond the top-level Annex E list (a private
 * attribute, a nested Other Patient IDs Sequence, Consulting Physician's Name, Ethnic Group,
 * an overlay label, the file name, the birth date as people write it) typed into a sidecar's
 * free text, by raters and model ids that are even allow-listed, must not reach any output.
 * On c0480bc (without --allow, which it lacks) 10 of these 11 reached manifest.csv and
 * manifest.json verbatim (DRWHO was typed in another case then). Raters and model ids that are not
 * allow-listed become pseudonyms. */
static void
test_export_deid_audit (Fixture       *f,
                        gconstpointer  data)
{
  static const HepaTestDicomText texts[] = {
    { 0x0010, 0x1002, 0x0010, 0x0020, "LO", "MRKNESTEDPID" },
    { 0x0040, 0x0275, 0x0040, 0x1001, "SH", "MRKREQPROC" },
    { 0, 0, 0x0008, 0x009C, "PN", "MRKCONSULT^DRWHO" },
    { 0, 0, 0x0010, 0x2160, "SH", "MRKETHNIC" },
    { 0, 0, 0x6000, 0x1500, "LO", "MRKOVERLAYLBL" },
    { 0, 0, 0x0009, 0x0010, "LO", "MRKCREATOR" },
    { 0, 0, 0x0009, 0x1001, "LO", "MRKPRIVATE" },
  };
  /* Marker, and the free text that carries it (rater or model id). */
  static const struct { const char *marker, *text; gboolean model; } carried[] = {
    { "MRKNESTEDPID", "MRKNESTEDPID", FALSE },
    { "MRKREQPROC", "proc MRKREQPROC", FALSE },
    { "MRKCONSULT", "MRKCONSULT", FALSE },
    { "DRWHO", "DRWHO", FALSE },
    { "MRKETHNIC", "MRKETHNIC-net", TRUE },
    { "MRKOVERLAYLBL", "MRKOVERLAYLBL", FALSE },
    { "MRKCREATOR", "MRKCREATOR-v2", TRUE },
    { "MRKPRIVATE", "MRKPRIVATE", FALSE },
    { "MRKFILENAME7", "from MRKFILENAME7", FALSE },
    { "17.04.1931", "born 17.04.1931", FALSE },
    { "1931-04-17", "1931-04-17-model", TRUE },
  };
  g_autofree char *dcmodify = g_find_program_in_path ("dcmodify");
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  g_autofree char *config = g_build_filename (f->dir, "config", NULL);
  g_autofree char *image = NULL;
  g_autofree char *sidecar = NULL;
  g_autofree char *out_text = NULL, *err_text = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(HepaAnnotations) set = NULL;
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GError) error = NULL;
  const char *classes[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc", NULL };
  float p[5] = { 0.1f, 0.5f, 0.2f, 0.1f, 0.1f };
  char msg[256] = "";
  guint n_checked = 0, n_clean = 0, n_pseudonym = 0;
  int status = 0;

  if (dcmodify == NULL || cli == NULL)
    {
      g_test_skip ("dcmodify or HEPASCOPE_CLI missing");
      return;
    }
  image = make_marked_dicom (f->in, "MRKFILENAME7.dcm", "1.2.826.0.1.3680043.10.777.9", 31);
  if (hepa_test_dicom_add_texts (image, texts, G_N_ELEMENTS (texts), msg, sizeof msg) != 0)
    g_error ("fixture: %s", msg);

  /* One ROI per carried marker, plus a clean allow-listed rater and an unlisted one. */
  set = hepa_annotations_new ("MRKFILENAME7.dcm");
  for (guint i = 0; i < G_N_ELEMENTS (carried) + 2; i++)
    {
      HepaRect rect = { 10 + (int) i * 8, 20, 30, 30 };
      const char *rater = i < G_N_ELEMENTS (carried) ? (carried[i].model ? "Dr Clean"
                                                        : carried[i].text)
                          : i == G_N_ELEMENTS (carried) ? "Dr Clean" : "unlisted person";
      const char *model = i < G_N_ELEMENTS (carried) && carried[i].model ? carried[i].text
                          : "resnet50-test";
      HepaRoi *roi = hepa_roi_new (0, &rect, "cyst", rater);

      hepa_roi_set_prediction (roi, model, classes, p);
      g_ptr_array_add (set->rois, roi);
    }
  sidecar = hepa_annotations_sidecar_path (image, NULL);
  g_assert_true (hepa_annotations_save (set, sidecar, &error));
  g_assert_no_error (error);

  /* Every carrying text is allow-listed: only the search over the data set can stop it. */
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("export"));
  for (guint i = 0; i < G_N_ELEMENTS (carried); i++)
    {
      g_ptr_array_add (argv, g_strdup ("--allow"));
      g_ptr_array_add (argv, g_strdup (carried[i].text));
    }
  g_ptr_array_add (argv, g_strdup ("--allow=Dr Clean"));
  g_ptr_array_add (argv, g_strdup ("--allow=resnet50-test"));
  g_ptr_array_add (argv, g_strdup ("--native"));
  g_ptr_array_add (argv, g_strdup ("--classes=" DEFAULT_CLASSES));
  g_ptr_array_add (argv, g_strdup ("--out"));
  g_ptr_array_add (argv, g_strdup (f->out));
  g_ptr_array_add (argv, g_strdup (f->in));
  g_ptr_array_add (argv, NULL);
  {
    g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "HEPASCOPE_CONFIG_DIR", config,
                                           TRUE);

    g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                                 &out_text, &err_text, &status, &error));
  }
  g_test_message ("stdout: %s\nstderr: %s", out_text, err_text);
  g_assert_true (WIFEXITED (status));

  manifest = hepa_manifest_load (f->out, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (manifest->rows->len, ==, G_N_ELEMENTS (carried) + 2);
  for (guint i = 0; i < manifest->rows->len; i++)
    {
      HepaManifestRow *row = g_ptr_array_index (manifest->rows, i);

      if (g_strcmp0 (row->rater, "Dr Clean") == 0)
        n_clean++;
      else
        {
          g_assert_true (g_str_has_prefix (row->rater, "rater-"));
          n_pseudonym++;
        }
    }
  /* The allow-listed clean rater passes (ROIs carrying a model id marker, and one more). */
  g_assert_cmpuint (n_clean, ==, 4);

  files = list_files (f->out);
  for (guint i = 0; i < files->len; i++)
    {
      const char *rel = g_ptr_array_index (files, i);
      g_autofree char *path = g_build_filename (f->out, rel, NULL);
      g_autofree char *contents = NULL;
      gsize length = 0;

      g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
      for (guint k = 0; k < G_N_ELEMENTS (carried); k++)
        {
          if (contains_bytes (rel, strlen (rel), carried[k].marker)
              || contains_bytes (contents, length, carried[k].marker))
            g_error ("%s holds %s", rel, carried[k].marker);
          n_checked++;
        }
    }
  for (guint k = 0; k < G_N_ELEMENTS (carried); k++)
    {
      g_assert_false (contains_bytes (out_text, strlen (out_text), carried[k].marker));
      g_assert_false (contains_bytes (err_text, strlen (err_text), carried[k].marker));
    }
  g_test_message ("%u file x marker checks over %u files; %u raters pseudonymized", n_checked,
                  files->len, n_pseudonym);
}

/* ---- The command line: interruption ------------------------------------------------------ */

static gboolean
any_png_below (const char *dir)
{
  g_autoptr(GPtrArray) files = list_files (dir);

  for (guint i = 0; i < files->len; i++)
    if (g_str_has_suffix (g_ptr_array_index (files, i), ".png")
        && !g_str_has_prefix (g_ptr_array_index (files, i), "frames/"))
      return TRUE;
  return FALSE;
}

/* Starts the CLI export and kills it once it has written a crop. Returns FALSE when the export
 * finished before it could be killed. */
static gboolean
kill_export_midway (Fixture  *f,
                    gboolean  wait_for_new_class)
{
  g_autofree char *cli = g_strdup (g_getenv ("HEPASCOPE_CLI"));
  g_autofree char *config = g_build_filename (f->dir, "config", NULL);
  g_autofree char *watch = g_build_filename (f->out, wait_for_new_class ? "ffs" : "", NULL);
  /* --size: the fixture's card, whatever the default model's input size is. */
  const char *argv[] = { cli, "export", "--threads", "1", "--classes", DEFAULT_CLASSES,
                         "--size", "224", "--out", f->out, f->in, NULL };
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "HEPASCOPE_CONFIG_DIR", config, TRUE);
  g_autoptr(GError) error = NULL;
  GPid pid;
  int status = 0;
  gboolean killed = FALSE;

  g_assert_true (g_spawn_async (NULL, (char **) argv, envp,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                                | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 20000; i++)
    {
      if (waitpid (pid, &status, WNOHANG) == pid)
        return FALSE;
      if (any_png_below (watch))
        {
          kill (pid, SIGKILL);
          killed = TRUE;
          break;
        }
      g_usleep (500);
    }
  g_assert_true (killed);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
  g_spawn_close_pid (pid);
  return TRUE;
}

static void
assert_manifest_complete (Fixture *f)
{
  g_autoptr(HepaManifest) manifest = NULL;
  g_autoptr(GError) error = NULL;

  manifest = hepa_manifest_load (f->out, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < manifest->rows->len; i++)
    {
      HepaManifestRow *row = g_ptr_array_index (manifest->rows, i);
      g_autofree char *path = g_build_filename (f->out, row->file, NULL);
      g_autofree char *digest = file_sha256 (path);

      g_assert_cmpstr (digest, ==, row->sha256);
    }
}

static void
test_export_interrupted (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *manifest_json = g_build_filename (f->out, "manifest.json", NULL);
  g_autofree char *manifest_csv = g_build_filename (f->out, "manifest.csv", NULL);
  g_autofree char *coco = g_build_filename (f->out, "coco.json", NULL);
  const char *labels[] = { "cyst", "hcc", "hemangioma", "non_fll" };
  guint n_killed = 0;

  if (g_getenv ("HEPASCOPE_CLI") == NULL)
    {
      g_test_skip ("HEPASCOPE_CLI is not set (run through meson test)");
      return;
    }
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *name = g_strdup_printf ("img%03u.png", i);
      g_autofree char *path = make_png (f->in, name, 400, 300, 100 + i);
      RoiSpec rois[5];

      for (guint k = 0; k < 5; k++)
        rois[k] = (RoiSpec) { 0, 20 + 30 * k, 10 + 20 * k, 120, 100, labels[(i + k) % 4] };
      make_sidecar (path, rois, 5, NULL);
    }

  /* A fresh export killed mid-way leaves crops but no manifest. */
  if (kill_export_midway (f, FALSE))
    {
      n_killed++;
      g_assert_false (g_file_test (manifest_json, G_FILE_TEST_EXISTS));
      g_assert_false (g_file_test (manifest_csv, G_FILE_TEST_EXISTS));
      g_assert_false (g_file_test (coco, G_FILE_TEST_EXISTS));
    }

  /* Completed, then relabeled and killed again: the old manifest still names existing files
   * holding exactly what it says. */
  {
    g_autoptr(HepaExportSummary) summary = run_export (f, f->in, FALSE, FALSE);

    g_assert_cmpuint (summary->n_exported, ==, 200);
    g_assert_cmpuint (summary->n_skipped, ==, 0);
  }
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/img%03u.png", f->in, i);
      RoiSpec rois[5];

      for (guint k = 0; k < 5; k++)
        rois[k] = (RoiSpec) { 0, 20 + 30 * k, 10 + 20 * k, 120, 100, "ffs" };
      make_sidecar (path, rois, 5, NULL);
    }
  if (kill_export_midway (f, TRUE))
    {
      n_killed++;
      assert_manifest_complete (f);
    }
  g_test_message ("%u of 2 exports were killed mid-way", n_killed);
  g_assert_cmpuint (n_killed, >=, 1);

  /* The next run finishes the job and removes what the old manifest had. */
  {
    g_autoptr(HepaExportSummary) summary = run_export (f, f->in, FALSE, FALSE);
    g_autoptr(GPtrArray) files = list_files (f->out);

    g_assert_cmpuint (summary->n_exported, ==, 200);
    g_assert_cmpuint (summary->n_skipped, ==, 0);
    assert_manifest_complete (f);
    for (guint i = 0; i < files->len; i++)
      {
        const char *rel = g_ptr_array_index (files, i);

        g_assert_false (rel[0] == '.' || strstr (rel, "/.") != NULL);  /* no temp files */
        g_assert_false (g_str_has_prefix (rel, "cyst/") || g_str_has_prefix (rel, "hcc/"));
      }
  }
}

/* Runs the CLI export into a tmpfs mounted over the output folder inside `unshare -rm`:
 * @mount_options "size=64k" (a disk that fills up) or "ro" (a read-only file system). Returns
 * FALSE (test skipped) where user namespaces or tmpfs mounts are not allowed. */
static gboolean
export_onto_tmpfs (Fixture    *f,
                   const char *mount_options,
                   int        *status,
                   char      **err_text)
{
  g_autofree char *unshare = g_find_program_in_path ("unshare");
  g_autofree char *config = g_build_filename (f->dir, "config", NULL);
  g_autofree char *script = NULL;
  g_autoptr(GError) error = NULL;
  const char *cli = g_getenv ("HEPASCOPE_CLI");

  if (unshare == NULL || cli == NULL)
    {
      g_test_skip ("needs unshare(1) and HEPASCOPE_CLI");
      return FALSE;
    }
  g_assert_cmpint (g_mkdir_with_parents (f->out, 0755), ==, 0);
  script = g_strdup_printf ("mount -t tmpfs -o %s tmpfs '%s' || exit 77; "
                            "HEPASCOPE_CONFIG_DIR='%s' exec '%s' export --classes %s --out '%s' "
                            "'%s'", mount_options, f->out, config, cli, DEFAULT_CLASSES, f->out,
                            f->in);
  {
    const char *argv[] = { unshare, "-rm", "sh", "-c", script, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                 NULL, NULL, err_text, status, &error));
    g_assert_no_error (error);
  }
  if (WIFEXITED (*status) && WEXITSTATUS (*status) == 77)
    {
      g_test_skip ("cannot mount a tmpfs in a user namespace here");
      return FALSE;
    }
  if (WIFEXITED (*status) && WEXITSTATUS (*status) == 1 && strstr (*err_text, "unshare") != NULL)
    {
      g_test_skip ("user namespaces are not allowed here");
      return FALSE;
    }
  g_test_message ("%s", *err_text);
  return TRUE;
}

static void
test_export_full_tmpfs (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *err_text = NULL;
  int status = 0;

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *name = g_strdup_printf ("img%u.png", i);
      g_autofree char *path = make_png (f->in, name, 400, 300, 300 + i);
      const RoiSpec rois[] = { { 0, 10, 10, 200, 150, "cyst" }, { 0, 100, 100, 250, 180, "hcc" } };

      make_sidecar (path, rois, 2, NULL);
    }
  if (!export_onto_tmpfs (f, "size=64k", &status, &err_text))
    return;
  /* Crops that do not fit are named one per line, then the manifest cannot be written: a
   * clear message, exit status 1, and (in the namespace) no manifest. */
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_nonnull (strstr (err_text, "the disk is full"));
}

static void
test_export_read_only (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *a = make_png (f->in, "a.png", 100, 100, 400);
  const RoiSpec rois[] = { { 0, 10, 10, 30, 30, "cyst" } };
  g_autofree char *err_text = NULL;
  g_auto(GStrv) lines = NULL;
  int status = 0;

  make_sidecar (a, rois, 1, NULL);
  if (!export_onto_tmpfs (f, "ro", &status, &err_text))
    return;
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_nonnull (strstr (err_text, "not writable"));
  /* One line, not one per crop. */
  lines = g_strsplit (g_strstrip (err_text), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
}

/* ---- The figure --------------------------------------------------------------------------- */

/* A B-mode-like frame: smooth echo texture times multiplicative speckle, gray stored as RGB
 * (as most ultrasound DICOM and screen captures are). */
static char *
make_bmode_png (const char *dir,
                const char *name,
                int         width,
                int         height,
                guint32     seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree guint8 *rgb = g_new (guint8, (gsize) width * height * 3);
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);
  double phase = g_rand_double (rand) * 6.28;

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        double echo = 100 + 60 * sin (x / 40.0 + phase) * cos (y / 30.0);
        int v = (int) (echo * g_rand_double_range (rand, 0.7, 1.3));
        guint8 g = (guint8) CLAMP (v, 0, 255);
        guint8 *p = rgb + ((gsize) y * width + x) * 3;

        p[0] = p[1] = p[2] = g;
      }
  g_assert_true (hepa_png_write_rgb (path, width, height, rgb, &error));
  g_assert_no_error (error);
  return path;
}

/* 1,000 ROIs from 200 files (640 x 480 B-mode-like, gray as RGB, five ROIs of 48..240 pixels
 * each). Run with -m perf; prints the time. */
static void
test_export_figure (Fixture       *f,
                    gconstpointer  data)
{
  const char *labels[] = { "non_fll", "cyst", "hemangioma", "ffs", "hcc" };
  g_autoptr(HepaExportSummary) summary = NULL;
  g_autofree char *load = NULL;
  struct rusage usage0, usage1;
  gint64 start;
  double seconds;
  double cpu;

  if (!g_test_perf ())
    {
      g_test_skip ("a timing: run with -m perf");
      return;
    }
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%03u.png", i);
      g_autofree char *path = make_bmode_png (f->in, name, 640, 480, 1000 + i);
      RoiSpec rois[5];

      for (guint k = 0; k < 5; k++)
        {
          int side = 48 + 48 * k;

          rois[k] = (RoiSpec) { 0, 20 + 70 * k, 10 + 40 * k, side, side, labels[(i + k) % 5] };
        }
      make_sidecar (path, rois, 5, NULL);
    }
  if (!g_file_get_contents ("/proc/loadavg", &load, NULL, NULL))
    load = g_strdup ("?");
  g_strchomp (load);
  getrusage (RUSAGE_SELF, &usage0);
  start = g_get_monotonic_time ();
  summary = run_export (f, f->in, FALSE, FALSE);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  getrusage (RUSAGE_SELF, &usage1);
  cpu = (usage1.ru_utime.tv_sec - usage0.ru_utime.tv_sec)
        + (usage1.ru_utime.tv_usec - usage0.ru_utime.tv_usec) / 1e6
        + (usage1.ru_stime.tv_sec - usage0.ru_stime.tv_sec)
        + (usage1.ru_stime.tv_usec - usage0.ru_stime.tv_usec) / 1e6;
  g_assert_cmpuint (summary->n_exported, ==, 1000);
  /* HEPASCOPE_EXPORT_FIGURE_KEEP=DIR keeps the 200 annotated images for timing the CLI. */
  if (g_getenv ("HEPASCOPE_EXPORT_FIGURE_KEEP") != NULL)
    g_assert_cmpint (g_rename (f->in, g_getenv ("HEPASCOPE_EXPORT_FIGURE_KEEP")), ==, 0);
  g_test_minimized_result (seconds, "1000 ROIs from 200 files exported in %.2f s", seconds);
  g_test_message ("1000 ROIs from 200 files exported in %.2f s wall, %.2f s CPU (%u threads; "
                  "load average at start %s)", seconds, cpu, g_get_num_processors (), load);
}

int
main (int    argc,
      char **argv)
{
  /* Writes the seed corpus of tests/fuzz/fuzz-manifest.c. */
  if (argc == 3 && strcmp (argv[1], "--write-fuzz-seeds") == 0)
    {
      g_autoptr(HepaManifest) m = make_manifest ();
      g_autoptr(HepaManifest) empty = hepa_manifest_new ((const char *const[]) { "a", "b", NULL });
      g_autofree char *json = hepa_manifest_to_json (m, NULL);
      g_autofree char *csv = hepa_manifest_to_csv (m, NULL);
      g_autofree char *empty_json = hepa_manifest_to_json (empty, NULL);
      g_autofree char *p1 = g_build_filename (argv[2], "manifest.json", NULL);
      g_autofree char *p2 = g_build_filename (argv[2], "manifest.csv", NULL);
      g_autofree char *p3 = g_build_filename (argv[2], "empty.json", NULL);

      return g_file_set_contents (p1, json, -1, NULL) && g_file_set_contents (p2, csv, -1, NULL)
             && g_file_set_contents (p3, empty_json, -1, NULL) ? 0 : 1;
    }

  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add ("/core/export/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("pseudonym-key", test_pseudonym_key);
  g_test_add_func ("/core/export/manifest-round-trip", test_manifest_round_trip);
  g_test_add_func ("/core/export/manifest-rejects", test_manifest_rejects);
  ADD ("png", test_export_png);
  ADD ("matches-preprocess", test_export_matches_preprocess);
  ADD ("loads-in-trainer", test_export_loads_in_trainer);
  ADD ("native-gray16", test_export_native_gray16);
  ADD ("idempotent", test_export_idempotent);
  ADD ("bad-input", test_export_bad_input);
  ADD ("not-regular-sidecar", test_export_not_regular_sidecar);
  ADD ("disk-full", test_export_disk_full);
  ADD ("reserved-class", test_export_reserved_class);
  ADD ("deidentified", test_export_deidentified);
  ADD ("deid-audit", test_export_deid_audit);
  ADD ("interrupted", test_export_interrupted);
  ADD ("full-tmpfs", test_export_full_tmpfs);
  ADD ("read-only", test_export_read_only);
  ADD ("figure-1000-rois", test_export_figure);
#undef ADD
  return g_test_run ();
}
