/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-weights-private.h"
#include "hepa-error.h"
#include "hepa-test-utils.h"
#include "hepa-safetensors.h"
#include "hepa-model-file.h"
#include "hepa-pth.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->dir = hepa_test_mkdtemp ();
  fixture->path = g_build_filename (fixture->dir, "w.safetensors", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  hepa_test_rmtree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
}

static HepaWeights *
make_weights (void)
{
  HepaWeights *w = hepa_weights_new ();
  const gint64 shape_a[4] = { 4, 3, 3, 3 };
  const gint64 shape_b[1] = { 5 };
  const gint64 shape_c[2] = { 2, 7 };
  float a[108];
  float b[5] = { 0.0f, -1.5f, 65504.0f, 6.0e-8f, 1.0e-3f };
  float c[14];

  for (int i = 0; i < 108; i++)
    a[i] = sinf ((float) i) * 3.0f;
  for (int i = 0; i < 14; i++)
    c[i] = (float) i / 7.0f - 1.0f;
  hepa_weights_add (w, "conv1.weight", 4, shape_a, a);
  hepa_weights_add (w, "bn1.bias", 1, shape_b, b);
  hepa_weights_add (w, "fc.weight", 2, shape_c, c);
  hepa_weights_set_metadata (w, "hepascope.card", "{\"arch\": \"resnet18\"}");
  hepa_weights_set_metadata (w, "format", "pt");
  return w;
}

static void
assert_same_tensors (HepaWeights *a,
                     HepaWeights *b,
                     double       rtol,
                     double       atol)
{
  g_assert_cmpuint (hepa_weights_get_n (a), ==, hepa_weights_get_n (b));
  for (guint i = 0; i < hepa_weights_get_n (a); i++)
    {
      const HepaTensorEntry *x = hepa_weights_get_nth (a, i);
      const HepaTensorEntry *y = hepa_weights_lookup (b, x->name);

      g_assert_nonnull (y);
      g_assert_cmpint (x->ndim, ==, y->ndim);
      for (int d = 0; d < x->ndim; d++)
        g_assert_cmpint (x->shape[d], ==, y->shape[d]);
      g_assert_cmpint (x->n_elements, ==, y->n_elements);
      hepa_assert_allclose (y->data, x->data, (gsize) x->n_elements, rtol, atol);
    }
}

static void
test_container (void)
{
  g_autoptr(HepaWeights) w = make_weights ();
  const HepaTensorEntry *e;
  const gint64 shape[1] = { 2 };
  const float v[2] = { 7.0f, 8.0f };

  g_assert_cmpuint (hepa_weights_get_n (w), ==, 3);
  e = hepa_weights_lookup (w, "bn1.bias");
  g_assert_nonnull (e);
  g_assert_cmpint (e->n_elements, ==, 5);
  g_assert_cmpfloat (e->data[1], ==, -1.5f);
  g_assert_null (hepa_weights_lookup (w, "bn1.weight"));
  g_assert_cmpstr (hepa_weights_get_nth (w, 2)->name, ==, "fc.weight");
  g_assert_cmpstr (hepa_weights_get_metadata (w, "format"), ==, "pt");
  g_assert_null (hepa_weights_get_metadata (w, "nothing"));
  hepa_weights_set_metadata (w, "format", NULL);
  g_assert_null (hepa_weights_get_metadata (w, "format"));

  /* A later tensor of the same name wins. */
  hepa_weights_add (w, "bn1.bias", 1, shape, v);
  g_assert_cmpint (hepa_weights_lookup (w, "bn1.bias")->n_elements, ==, 2);
}

static void
test_round_trip_f32 (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(HepaWeights) w = make_weights ();
  g_autoptr(HepaWeights) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  guint64 header_len = 0;

  g_assert_true (hepa_safetensors_save (w, fixture->path, HEPA_DTYPE_F32, &error));
  g_assert_no_error (error);

  /* The header is padded so the data starts 8-byte aligned. */
  g_assert_true (g_file_get_contents (fixture->path, &contents, &len, NULL));
  for (int i = 7; i >= 0; i--)
    header_len = (header_len << 8) | (guint8) contents[i];
  g_assert_cmpuint (header_len % 8, ==, 0);
  g_assert_cmpuint (len, ==, 8 + header_len + (108 + 5 + 14) * 4);

  r = hepa_safetensors_load (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  assert_same_tensors (w, r, 0.0, 0.0);
  g_assert_cmpint (hepa_weights_lookup (r, "fc.weight")->stored_dtype, ==, HEPA_DTYPE_F32);
  g_assert_cmpstr (hepa_weights_get_metadata (r, "hepascope.card"), ==, "{\"arch\": \"resnet18\"}");
  g_assert_cmpstr (hepa_weights_get_metadata (r, "format"), ==, "pt");
}

static void
test_round_trip_f16 (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(HepaWeights) w = make_weights ();
  g_autoptr(HepaWeights) r = NULL;
  g_autoptr(GError) error = NULL;
  const HepaTensorEntry *b;

  g_assert_true (hepa_safetensors_save (w, fixture->path, HEPA_DTYPE_F16, &error));
  g_assert_no_error (error);
  r = hepa_model_file_load (fixture->path, &error);
  g_assert_no_error (error);
  /* fp16 keeps 11 significant bits. */
  assert_same_tensors (w, r, 1.0 / 2048, 6e-8);
  b = hepa_weights_lookup (r, "bn1.bias");
  g_assert_cmpint (b->stored_dtype, ==, HEPA_DTYPE_F16);
  g_assert_cmpfloat (b->data[2], ==, 65504.0f);        /* the largest fp16 */
  g_assert_cmpfloat (b->data[3], ==, ldexpf (1, -24)); /* rounds to the smallest subnormal */
}

static void
test_f16_range (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(HepaWeights) w = hepa_weights_new ();
  g_autoptr(GError) error = NULL;
  const gint64 shape[1] = { 2 };
  const float v[2] = { 1.0f, 70000.0f };

  hepa_weights_add (w, "big", 1, shape, v);
  g_assert_false (hepa_safetensors_save (w, fixture->path, HEPA_DTYPE_F16, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "big"));
  /* Nothing is left behind, not even the temporary file. */
  g_assert_false (g_file_test (fixture->path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  g_assert_true (hepa_safetensors_save (w, fixture->path, HEPA_DTYPE_F32, &error));
  g_assert_no_error (error);
}

/* Writes a safetensors file by hand: @header is the JSON, @data the payload. */
static void
write_raw (const char   *path,
           const char   *header,
           const guint8 *data,
           gsize         data_len,
           gint64        claimed_len)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  guint64 len = claimed_len >= 0 ? (guint64) claimed_len : strlen (header);
  guint8 len_bytes[8];

  for (int i = 0; i < 8; i++)
    len_bytes[i] = (guint8) (len >> (8 * i));
  g_byte_array_append (bytes, len_bytes, 8);
  g_byte_array_append (bytes, (const guint8 *) header, (guint) strlen (header));
  if (data_len > 0)
    g_byte_array_append (bytes, data, (guint) data_len);
  g_assert_true (g_file_set_contents (path, (const char *) bytes->data, bytes->len, NULL));
}

typedef struct
{
  const char *name;
  const char *header;
  gsize       data_len;
  gint64      claimed_len;  /* -1: the header's real length */
  int         code;
  const char *needle;       /* must appear in the message */
} BadCase;

static const BadCase bad_cases[] = {
  { "empty", "", 0, 0, HEPA_ERROR_FORMAT, "header length" },
  { "absurd-header-length", "{}", 0, G_GINT64_CONSTANT (0x7fffffffffffffff), HEPA_ERROR_FORMAT,
    "header length" },
  { "header-past-end", "{\"a\":{}}", 0, 4096, HEPA_ERROR_FORMAT, "truncated" },
  { "not-json", "{not json at all", 0, -1, HEPA_ERROR_FORMAT, "Damaged" },
  { "not-object", "[1, 2, 3]", 0, -1, HEPA_ERROR_FORMAT, "JSON object" },
  { "f64", "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16, -1,
    HEPA_ERROR_UNSUPPORTED, "“w” is stored as F64" },
  { "i64", "{\"idx\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, -1,
    HEPA_ERROR_UNSUPPORTED, "“idx” is stored as I64" },
  { "unknown-dtype", "{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1,
    HEPA_ERROR_FORMAT, "unknown dtype" },
  { "truncated-data", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, -1,
    HEPA_ERROR_FORMAT, "truncated" },
  { "size-mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, -1,
    HEPA_ERROR_FORMAT, "shape needs 12" },
  { "huge-shape",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
    "\"data_offsets\":[0,16]}}", 16, -1, HEPA_ERROR_FORMAT, "“w”" },
  { "negative-dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, -1,
    HEPA_ERROR_FORMAT, "shape" },
  { "reversed-offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, -1,
    HEPA_ERROR_FORMAT, "outside" },
  { "overlap",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1, HEPA_ERROR_FORMAT,
    "overlap" },
  { "no-dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1, HEPA_ERROR_FORMAT,
    "no dtype" },
  { "too-many-dims",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, -1,
    HEPA_ERROR_FORMAT, "dimensions" },
  { "metadata-not-string", "{\"__metadata__\":{\"x\":3}}", 0, -1, HEPA_ERROR_FORMAT, "“x”" },
  { "newline-in-name", "{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    4, -1, HEPA_ERROR_FORMAT, "“a?b”" },
  { "empty-name", "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1,
    HEPA_ERROR_FORMAT, "unprintable name" },
  { "float-offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", 4, -1,
    HEPA_ERROR_FORMAT, "data_offsets" },
};

static void
test_bad_file (Fixture       *fixture,
               gconstpointer  user_data)
{
  const BadCase *c = user_data;
  g_autoptr(HepaWeights) w = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = g_malloc0 (MAX (c->data_len, 1));

  write_raw (fixture->path, c->header, data, c->data_len, c->claimed_len);
  w = hepa_safetensors_load (fixture->path, &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, c->code);
  g_test_message ("%s: %s", c->name, error->message);
  g_assert_nonnull (strstr (error->message, c->needle));
  g_assert_null (strchr (error->message, '\n'));

  /* The in-memory parser (the fuzz target's entry point) says the same. */
  {
    g_autofree char *contents = NULL;
    g_autoptr(GError) error2 = NULL;
    gsize len;

    g_assert_true (g_file_get_contents (fixture->path, &contents, &len, NULL));
    g_assert_null (hepa_safetensors_parse ((const guint8 *) contents, len, &error2));
    g_assert_cmpstr (error2->message, ==, error->message);
  }
}

static void
test_nan_weights (Fixture       *fixture,
                  gconstpointer  user_data)
{
  const char *header = "{\"ok\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"layer2.0.bn1.running_var\":{\"dtype\":\"F16\",\"shape\":[2],"
                       "\"data_offsets\":[4,8]}}";
  /* 1.0f, then fp16 1.0 and NaN (0x7e00). */
  const guint8 data[8] = { 0x00, 0x00, 0x80, 0x3f, 0x00, 0x3c, 0x00, 0x7e };
  const guint8 inf32[4] = { 0x00, 0x00, 0x80, 0x7f };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = NULL;

  write_raw (fixture->path, header, data, sizeof data, -1);
  w = hepa_safetensors_load (fixture->path, &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "“layer2.0.bn1.running_var” contains NaN"));
  g_clear_error (&error);

  write_raw (fixture->path, "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             inf32, 4, -1);
  g_assert_null (hepa_safetensors_load (fixture->path, &error));
  g_assert_nonnull (strstr (error->message, "“fc.bias” contains NaN or infinite"));
}

static void
test_bf16_and_unaligned (Fixture       *fixture,
                         gconstpointer  user_data)
{
  /* An unpadded header puts the F32 tensor at an odd address: it must be copied, not mapped. */
  const char *header = "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
  const guint8 data[8] = { 0x80, 0x3f, 0x40, 0xc0, 0x00, 0x00, 0x20, 0x41 };
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = NULL;

  write_raw (fixture->path, header, data, sizeof data, -1);
  w = hepa_safetensors_load (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (hepa_weights_lookup (w, "a")->data[0], ==, 1.0f);
  g_assert_cmpfloat (hepa_weights_lookup (w, "a")->data[1], ==, -3.0f);
  g_assert_cmpint (hepa_weights_lookup (w, "a")->stored_dtype, ==, HEPA_DTYPE_BF16);
  g_assert_cmpfloat (hepa_weights_lookup (w, "b")->data[0], ==, 10.0f);
}

/* Every finite half converts exactly (the F16C path and the scalar one alike): 63488 values in
 * a multiple of 8, then an odd tail of 13 that takes the scalar loop. Bits compared, so -0 and
 * the subnormals count. */
static void
test_f16_every_value (void)
{
  const gsize n_a = 63488, n_b = 13;
  g_autofree char *header = g_strdup_printf (
    "{\"a\":{\"dtype\":\"F16\",\"shape\":[%" G_GSIZE_FORMAT "],\"data_offsets\":[0,%"
    G_GSIZE_FORMAT "]},\"b\":{\"dtype\":\"F16\",\"shape\":[%" G_GSIZE_FORMAT
    "],\"data_offsets\":[%" G_GSIZE_FORMAT ",%" G_GSIZE_FORMAT "]}}",
    n_a, 2 * n_a, n_b, 2 * n_a, 2 * (n_a + n_b));
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_autofree guint16 *halves = g_new (guint16, n_a + n_b);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = NULL;
  guint64 len = strlen (header);
  gsize k = 0;

  for (guint h = 0; h < 65536; h++)
    if (((h >> 10) & 0x1f) != 0x1f)
      halves[k++] = (guint16) h;
  g_assert_cmpuint (k, ==, n_a);
  for (gsize i = 0; i < n_b; i++)
    halves[k++] = (guint16) (0x8001 + 0x0f37 * i);   /* subnormals and normals, both signs */
  for (int i = 0; i < 8; i++)
    g_byte_array_append (bytes, (const guint8[]) { (guint8) (len >> (8 * i)) }, 1);
  g_byte_array_append (bytes, (const guint8 *) header, (guint) len);
  for (gsize i = 0; i < n_a + n_b; i++)
    g_byte_array_append (bytes, (const guint8[]) { halves[i] & 0xff, halves[i] >> 8 }, 2);

  w = hepa_safetensors_parse (bytes->data, bytes->len, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < n_a + n_b; i++)
    {
      guint16 h = halves[i];
      int e = (h >> 10) & 0x1f, m = h & 0x3ff;
      float want = e == 0 ? ldexpf ((float) m, -24) : ldexpf ((float) (1024 + m), e - 25);
      const float *got = i < n_a ? &hepa_weights_lookup (w, "a")->data[i]
                                 : &hepa_weights_lookup (w, "b")->data[i - n_a];

      if (h & 0x8000)
        want = -want;
      if (memcmp (got, &want, sizeof want) != 0)
        g_error ("half 0x%04x read as %a, not %a", h, *got, want);
    }
}

static void
test_truncated_everywhere (Fixture       *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(HepaWeights) w = make_weights ();
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (hepa_safetensors_save (w, fixture->path, HEPA_DTYPE_F16, &error));
  g_assert_true (g_file_get_contents (fixture->path, &contents, &len, NULL));
  /* Every prefix is refused with an error; flipping each header byte never crashes. */
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr(HepaWeights) r = hepa_safetensors_parse ((const guint8 *) contents, cut,
                                                                &error);

      g_assert_null (r);
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
  for (gsize i = 0; i < MIN (len, 300); i++)
    {
      g_autofree char *copy = g_memdup2 (contents, len);
      g_autoptr(HepaWeights) r = NULL;

      copy[i] ^= 0x55;
      r = hepa_safetensors_parse ((const guint8 *) copy, len, &error);
      g_assert_true ((r == NULL) == (error != NULL));
      g_clear_error (&error);
    }
}

static void
test_missing_file (void)
{
  g_autoptr(GError) error = NULL;

  g_autofree char *folder = g_dir_make_tmp ("hepa-weights-XXXXXX", NULL);

  /* The caller names the file, so the message does not: "PATH: No such file or directory". */
  g_assert_null (hepa_model_file_load ("/nonexistent/model.safetensors", &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  g_assert_null (strstr (error->message, "nonexistent"));
  g_assert_cmpstr (error->message, ==, g_strerror (ENOENT));
  g_clear_error (&error);

  g_assert_nonnull (folder);
  g_assert_null (hepa_model_file_load (folder, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  g_assert_null (strstr (error->message, folder));
  g_assert_nonnull (strstr (error->message, "folder"));
  g_clear_error (&error);
  g_assert_null (hepa_pth_load (folder, &error));
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  g_rmdir (folder);
}

/* A model file above HEPASCOPE_MAX_MODEL_MB is refused before it is mapped or parsed. */
static void
test_size_ceiling (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "big.safetensors", NULL);
  g_autofree guint8 *zeros = g_malloc0 (3 * 1048576);
  g_autoptr(GError) error = NULL;
  HepaWeights *w;

  g_assert_true (g_file_set_contents (path, (const char *) zeros, 3 * 1048576, NULL));
  g_setenv ("HEPASCOPE_MAX_MODEL_MB", "2", TRUE);
  w = hepa_model_file_load (path, &error);
  g_unsetenv ("HEPASCOPE_MAX_MODEL_MB");
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "HEPASCOPE_MAX_MODEL_MB"));

  /* Below the ceiling the same file gets the parser's own answer. */
  g_clear_error (&error);
  w = hepa_model_file_load (path, &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  hepa_test_rmtree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/weights/container", test_container);
  g_test_add_func ("/core/weights/missing-file", test_missing_file);
  g_test_add_func ("/core/weights/size-ceiling", test_size_ceiling);
  g_test_add_func ("/core/weights/f16-every-value", test_f16_every_value);
  g_test_add ("/core/weights/round-trip-f32", Fixture, NULL, fixture_set_up, test_round_trip_f32,
              fixture_tear_down);
  g_test_add ("/core/weights/round-trip-f16", Fixture, NULL, fixture_set_up, test_round_trip_f16,
              fixture_tear_down);
  g_test_add ("/core/weights/f16-range", Fixture, NULL, fixture_set_up, test_f16_range,
              fixture_tear_down);
  g_test_add ("/core/weights/nan", Fixture, NULL, fixture_set_up, test_nan_weights,
              fixture_tear_down);
  g_test_add ("/core/weights/bf16-unaligned", Fixture, NULL, fixture_set_up,
              test_bf16_and_unaligned, fixture_tear_down);
  g_test_add ("/core/weights/truncated-everywhere", Fixture, NULL, fixture_set_up,
              test_truncated_everywhere, fixture_tear_down);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/weights/bad/%s", bad_cases[i].name);

      g_test_add (path, Fixture, &bad_cases[i], fixture_set_up, test_bad_file,
                  fixture_tear_down);
    }
  return g_test_run ();
}
