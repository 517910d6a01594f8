/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The .pth reader: fixtures written by torch 1.13 (tests/gen-pth-fixtures.py), hostile pickles,
 * and damaged archives made here from them. */
#include "config.h"

#include <errno.h>

#include "hepa-error.h"
#include "hepa-model.h"
#include "hepa-pickle.h"
#include "hepa-pth.h"
#include "hepa-weights.h"
#include "hepa-safetensors.h"
#include "hepa-zip.h"
#include "hepa-test-utils.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

static char *
fixture_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "fixtures", "pth", name, NULL);
}

static GBytes *
read_fixture (const char *name)
{
  g_autofree char *path = fixture_path (name);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, length);
}

/* A stored zip of @n entries named names[i] holding datas[i], as torch.save lays them out. */
static GByteArray *
build_zip (guint              n,
           const char *const *names,
           GBytes *const     *datas)
{
  GByteArray *out = g_byte_array_new ();
  g_autoptr(GByteArray) central = g_byte_array_new ();
  guint32 cd_offset;

#define PUT16(a, v) G_STMT_START { guint16 _v = GUINT16_TO_LE (v); \
    g_byte_array_append (a, (const guint8 *) &_v, 2); } G_STMT_END
#define PUT32(a, v) G_STMT_START { guint32 _v = GUINT32_TO_LE (v); \
    g_byte_array_append (a, (const guint8 *) &_v, 4); } G_STMT_END
  for (guint i = 0; i < n; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (datas[i], &len);
      guint32 crc = hepa_zip_crc32 (data, len);
      guint32 offset = out->len;
      guint16 name_len = strlen (names[i]);

      PUT32 (out, 0x04034b50); PUT16 (out, 20); PUT16 (out, 0); PUT16 (out, 0); PUT16 (out, 0);
      PUT16 (out, 0); PUT32 (out, crc); PUT32 (out, len); PUT32 (out, len); PUT16 (out, name_len);
      PUT16 (out, 0);
      g_byte_array_append (out, (const guint8 *) names[i], name_len);
      g_byte_array_append (out, data, len);

      PUT32 (central, 0x02014b50); PUT16 (central, 20); PUT16 (central, 20); PUT16 (central, 0);
      PUT16 (central, 0); PUT16 (central, 0); PUT16 (central, 0); PUT32 (central, crc);
      PUT32 (central, len); PUT32 (central, len); PUT16 (central, name_len); PUT16 (central, 0);
      PUT16 (central, 0); PUT16 (central, 0); PUT16 (central, 0); PUT32 (central, 0);
      PUT32 (central, offset);
      g_byte_array_append (central, (const guint8 *) names[i], name_len);
    }
  cd_offset = out->len;
  g_byte_array_append (out, central->data, central->len);
  PUT32 (out, 0x06054b50); PUT16 (out, 0); PUT16 (out, 0); PUT16 (out, n); PUT16 (out, n);
  PUT32 (out, central->len); PUT32 (out, cd_offset); PUT16 (out, 0);
#undef PUT16
#undef PUT32
  return out;
}

/* Loads a one-entry archive whose archive/data.pkl is @pickle. */
static HepaWeights *
load_pickle (const guint8 *pickle,
             gsize         size,
             GError      **error)
{
  const char *names[] = { "archive/data.pkl" };
  g_autoptr(GBytes) pkl = g_bytes_new (pickle, size);
  GBytes *datas[] = { pkl };
  g_autoptr(GByteArray) zip = build_zip (1, names, datas);

  return hepa_pth_load_from_data (zip->data, zip->len, "test.pth", error);
}

static void
assert_tensor (HepaWeights *w,
               const char  *name,
               int          ndim,
               const gint64 *shape,
               const float *expect,
               HepaDType    dtype)
{
  const HepaTensorEntry *e = hepa_weights_lookup (w, name);
  gint64 n = 1;

  g_test_message ("tensor %s", name);
  g_assert_nonnull (e);
  g_assert_cmpint (e->ndim, ==, ndim);
  for (int k = 0; k < ndim; k++)
    {
      g_assert_cmpint (e->shape[k], ==, shape[k]);
      n *= shape[k];
    }
  g_assert_cmpint (e->n_elements, ==, n);
  g_assert_cmpint (e->stored_dtype, ==, dtype);
  hepa_assert_allclose (e->data, expect, (gsize) n, 0.0, 0.0);
}

static void
check_tiny (HepaWeights *w)
{
  float base[12], t[12], slice[4], shared_a[6], shared_b[6], half_strided[6], expanded[6];
  float param[12];
  float scalar = 3.5f;

  for (int i = 0; i < 12; i++)
    {
      base[i] = i * 0.25f - 1.0f;
      param[i] = base[i] + 10.0f;
    }
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 3; c++)
      t[r * 3 + c] = base[c * 4 + r];
  for (int r = 0; r < 2; r++)
    for (int c = 0; c < 2; c++)
      slice[r * 2 + c] = base[(r + 1) * 4 + c + 1];
  for (int i = 0; i < 6; i++)
    {
      shared_a[i] = i * 0.5f;
      shared_b[i] = (i + 6) * 0.5f;
      half_strided[i] = base[(i / 2) * 4 + (i % 2) * 2];
      expanded[i] = (float) (i % 3 + 1);
    }

  g_assert_cmpuint (hepa_weights_get_n (w), ==, 11);
  assert_tensor (w, "w32", 2, (gint64[]) { 3, 4 }, base, HEPA_DTYPE_F32);
  assert_tensor (w, "w16", 2, (gint64[]) { 3, 4 }, base, HEPA_DTYPE_F16);
  assert_tensor (w, "wbf16", 2, (gint64[]) { 3, 4 }, base, HEPA_DTYPE_BF16);
  assert_tensor (w, "transposed", 2, (gint64[]) { 4, 3 }, t, HEPA_DTYPE_F32);
  assert_tensor (w, "slice", 2, (gint64[]) { 2, 2 }, slice, HEPA_DTYPE_F32);
  assert_tensor (w, "shared_a", 2, (gint64[]) { 2, 3 }, shared_a, HEPA_DTYPE_F32);
  assert_tensor (w, "shared_b", 1, (gint64[]) { 6 }, shared_b, HEPA_DTYPE_F32);
  assert_tensor (w, "half_strided", 2, (gint64[]) { 3, 2 }, half_strided, HEPA_DTYPE_F16);
  assert_tensor (w, "expanded", 2, (gint64[]) { 2, 3 }, expanded, HEPA_DTYPE_F32);
  assert_tensor (w, "scalar", 0, NULL, &scalar, HEPA_DTYPE_F32);
  assert_tensor (w, "param", 2, (gint64[]) { 3, 4 }, param, HEPA_DTYPE_F32);
  g_assert_null (hepa_weights_lookup (w, "bn.num_batches_tracked"));
  /* Insertion order is the state dict's. */
  g_assert_cmpstr (hepa_weights_get_nth (w, 0)->name, ==, "w32");
  g_assert_cmpstr (hepa_weights_get_nth (w, 10)->name, ==, "param");
}

static void
test_tiny (void)
{
  g_autofree char *path = fixture_path ("tiny.pth");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load (path, &error);

  g_assert_no_error (error);
  check_tiny (w);
}

static void
test_zip64 (void)
{
  g_autofree char *path = fixture_path ("tiny-zip64.pth");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load (path, &error);

  g_assert_no_error (error);
  check_tiny (w);
}

static void
check_small_net (HepaWeights *w)
{
  g_assert_cmpuint (hepa_weights_get_n (w), ==, 2);
  assert_tensor (w, "conv.weight", 4, (gint64[]) { 2, 1, 1, 1 },
                 (const float[]) { 0.5f, 0.5f }, HEPA_DTYPE_F32);
  assert_tensor (w, "conv.bias", 1, (gint64[]) { 2 }, (const float[]) { 1.0f, -1.0f },
                 HEPA_DTYPE_F32);
}

static void
test_wrapped_module_prefix (void)
{
  g_autofree char *path = fixture_path ("wrapped.pth");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load (path, &error);

  g_assert_no_error (error);
  check_small_net (w);
}

static void
test_model_key (void)
{
  g_autofree char *path = fixture_path ("model.pth");
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load (path, &error);

  g_assert_no_error (error);
  check_small_net (w);
}

static void
assert_refused (const char *fixture,
                int         code,
                const char *needle)
{
  g_autofree char *path = fixture_path (fixture);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load (path, &error);

  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, code);
  g_test_message ("%s: %s", fixture, error->message);
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_null (strchr (error->message, '\n'));
}

static void
test_legacy (void)
{
  assert_refused ("legacy.pth", HEPA_ERROR_UNSUPPORTED, "unsupported legacy format");
}

static void
test_hostile_globals (void)
{
  assert_refused ("os-system.pth", HEPA_ERROR_UNSUPPORTED,
                  "refusing to load pickle global os.system");
  assert_refused ("posix-system.pth", HEPA_ERROR_UNSUPPORTED,
                  "refusing to load pickle global posix.system");
  assert_refused ("eval.pth", HEPA_ERROR_UNSUPPORTED, "refusing to load pickle global builtins.eval");
  assert_refused ("load-from-bytes.pth", HEPA_ERROR_UNSUPPORTED,
                  "refusing to load pickle global torch.storage._load_from_bytes");
  assert_refused ("whole-model.pth", HEPA_ERROR_UNSUPPORTED,
                  "refusing to load pickle global torch.nn.modules.container.Sequential");
  assert_refused ("call-storage.pth", HEPA_ERROR_UNSUPPORTED,
                  "refusing to call pickle global torch.FloatStorage");
}

static void
test_oversize_length (void)
{
  assert_refused ("oversize.pth", HEPA_ERROR_FORMAT, "runs past the end of the pickle");
}

static void
test_other_dtypes (void)
{
  assert_refused ("float64.pth", HEPA_ERROR_UNSUPPORTED, "float64");
  assert_refused ("int64.pth", HEPA_ERROR_UNSUPPORTED, "int64");
}

static void
test_not_found (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load ("/nonexistent/x.pth", &error);

  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_IO);
  /* The caller names the file; the message says why. */
  g_assert_null (strstr (error->message, "/nonexistent/x.pth"));
  g_assert_cmpstr (error->message, ==, g_strerror (ENOENT));
}

static void
test_not_a_checkpoint (void)
{
  static const guint8 text[] = "hello, this is not a zip file at all";
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load_from_data (text, sizeof text, "x.pth", &error);

  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "not a PyTorch checkpoint"));
  g_assert_false (hepa_pth_sniff (text, sizeof text));
}

/* Every prefix of a good archive is refused cleanly. */
static void
test_truncated (void)
{
  g_autoptr(GBytes) bytes = read_fixture ("tiny.pth");
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  g_assert_true (hepa_pth_sniff (data, size));
  for (gsize len = 0; len < size; len++)
    {
      /* A private copy, so reading past @len is caught by ASan. */
      g_autofree guint8 *copy = g_memdup2 (data, len);
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaWeights) w = hepa_pth_load_from_data (copy, len, "cut.pth", &error);

      g_assert_null (w);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, "cut.pth"));
    }
}

static gsize
find_sig (const guint8 *data,
          gsize         size,
          guint32       sig)
{
  for (gsize i = 0; i + 4 <= size; i++)
    if (data[i] == (sig & 0xff) && data[i + 1] == ((sig >> 8) & 0xff)
        && data[i + 2] == ((sig >> 16) & 0xff) && data[i + 3] == sig >> 24)
      return i;
  g_assert_not_reached ();
  return 0;
}

static HepaWeights *
load_modified (GBytes  *bytes,
               gsize    at,
               guint8   value,
               GError **error)
{
  gsize size;
  g_autofree guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (bytes), &size);

  copy[at] = value;
  return hepa_pth_load_from_data (copy, size, "bad.pth", error);
}

static void
test_corrupt_central_directory (void)
{
  g_autoptr(GBytes) bytes = read_fixture ("tiny.pth");
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  gsize cd = find_sig (data, size, 0x02014b50);
  gsize eocd = size - 22;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = NULL;

  /* The signature of the first central entry. */
  w = load_modified (bytes, cd, 'X', &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "central directory"));
  g_clear_error (&error);

  /* The first entry's local header offset, pointed past the directory. */
  w = load_modified (bytes, cd + 45, 0x7f, &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_clear_error (&error);

  /* The directory offset in the end record. */
  g_assert_cmpuint (data[eocd], ==, 0x50);
  w = load_modified (bytes, eocd + 19, 0x40, &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "central directory"));
  g_clear_error (&error);

  /* The entry count. */
  w = load_modified (bytes, eocd + 10, 0xff, &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
}

/* A flipped bit in a storage is caught by the CRC. */
static void
test_crc (void)
{
  g_autoptr(GBytes) bytes = read_fixture ("tiny.pth");
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = NULL;
  gsize at;

  /* Flip the last byte of a storage's data, found through the central directory. */
  {
    g_autoptr(HepaZip) zip = hepa_zip_open (data, size, "tiny.pth", &error);
    const guint8 *entry;
    gsize entry_size;

    g_assert_no_error (error);
    g_assert_true (hepa_zip_get_entry (zip, "tiny/data/0", TRUE, &entry, &entry_size, &error));
    g_assert_no_error (error);
    at = (entry - data) + entry_size - 1;
  }
  w = load_modified (bytes, at, data[at] ^ 0x01, &error);
  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "CRC"));
}

/* The carry-less multiplication CRC agrees with the table one on every length and alignment,
 * and both give the standard check value. */
static void
test_crc32_fast (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  g_autofree guint8 *buf = g_malloc (70000);

  g_assert_cmphex (hepa_zip_crc32 ((const guint8 *) "123456789", 9), ==, 0xcbf43926);
  g_assert_cmphex (hepa_zip_crc32_portable ((const guint8 *) "123456789", 9), ==, 0xcbf43926);
  for (gsize i = 0; i < 70000; i++)
    buf[i] = (guint8) g_rand_int (rand);
  for (gsize len = 0; len < 600; len++)
    for (gsize off = 0; off < 4; off++)
      g_assert_cmphex (hepa_zip_crc32 (buf + off, len), ==,
                       hepa_zip_crc32_portable (buf + off, len));
  g_assert_cmphex (hepa_zip_crc32 (buf + 3, 69997), ==, hepa_zip_crc32_portable (buf + 3, 69997));
}

/* Every single-byte change of a good archive either loads or fails cleanly. */
static void
test_every_byte (void)
{
  g_autoptr(GBytes) bytes = read_fixture ("tiny.pth");
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  guint n_failed = 0;

  for (gsize i = 0; i < size; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaWeights) w = load_modified (bytes, i, data[i] ^ 0xa5, &error);

      g_assert_true ((w == NULL) == (error != NULL));
      n_failed += w == NULL;
      /* What loads despite the change (a date, padding, an unused record) is the original:
       * the CRCs leave no silent corruption of names or values. */
      if (w != NULL)
        check_tiny (w);
    }
  g_test_message ("%u of %" G_GSIZE_FORMAT " modified archives refused", n_failed, size);
  g_assert_cmpuint (n_failed, >, size / 2);
}

typedef struct
{
  const char *what;
  const char *pickle;
  gsize       size;
  const char *needle;
} BadPickle;

#define P(s) s, sizeof (s) - 1

static void
test_bad_pickles (void)
{
  static const BadPickle cases[] = {
    { "empty", P (""), "ends without STOP" },
    { "no stop", P ("\x80\x02}q\x00"), "ends without STOP" },
    { "stack underflow", P ("\x80\x02s."), "underflow" },
    { "mark never set", P ("\x80\x02}u."), "MARK" },
    { "memo miss", P ("\x80\x02h\x05."), "memo entry 5" },
    { "protocol 9", P ("\x80\x09}."), "protocol 9" },
    { "huge long", P ("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."), "64 bits" },
    { "frame cut short", P ("\x80\x04\x95\x01\x00"), "truncated" },
    { "text global", P ("\x80\x02" "cposix\nsystem\n."), "posix.system" },
    { "stack global", P ("\x80\x04\x8c\x08" "builtins\x8c\x04" "exec\x93."), "builtins.exec" },
    { "unknown opcode", P ("\x80\x02i."), "“i”" },
    { "root is a list", P ("\x80\x02]."), "no dict" },
    { "no tensors", P ("\x80\x02}X\x01\x00\x00\x00" "aK\x01s."), "no tensors" },
    { "bad utf-8", P ("\x80\x02}X\x01\x00\x00\x00\xffK\x01s."), "UTF-8" },
    { "short binunicode past end", P ("\x80\x02\x8c\x40" "abc"), "runs past" },
    { "append to dict", P ("\x80\x02}K\x01" "a."), "non-list" },
    /* {"state_dict": <itself>}: the wrapper walk must stop. */
    { "self-referencing dict", P ("\x80\x02}q\x00X\x0a\x00\x00\x00state_dicth\x00s."),
      "no tensors" },
    /* A tensor whose persistent id names a storage missing from the archive. */
    { "missing storage",
      P ("\x80\x02}X\x01\x00\x00\x00" "t"
         "ctorch._utils\n_rebuild_tensor_v2\n("
         "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00"
         "cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89)tRs."),
      "no entry “archive/data/0”" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaWeights) w = load_pickle ((const guint8 *) cases[i].pickle, cases[i].size,
                                              &error);

      g_test_message ("%s: %s", cases[i].what, error != NULL ? error->message : "(loaded)");
      g_assert_null (w);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, cases[i].needle));
    }
}

/* Storage bounds: a tensor that reaches one element past its storage is refused; one that ends
 * exactly at its end loads. */
static void
test_storage_bounds (void)
{
  static const char *const names[] = { "archive/data.pkl", "archive/data/0" };
  /* {"t": _rebuild_tensor_v2(storage(float, 4), OFFSET, (N,), (1,), False, ())} */
  const struct { guint8 offset, n; gboolean ok; const char *needle; } cases[] = {
    { 0, 4, TRUE, NULL },
    { 1, 3, TRUE, NULL },
    { 1, 4, FALSE, "past its storage" },
    { 4, 1, FALSE, "past its storage" },
    { 9, 0, TRUE, NULL },
  };
  float values[4] = { 1, 2, 3, 4 };
  g_autoptr(GBytes) storage = g_bytes_new (values, sizeof values);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GString) p = g_string_new_len (
        "\x80\x02}X\x01\x00\x00\x00t"
        "ctorch._utils\n_rebuild_tensor_v2\n("
        "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00"
        "cpuK\x04tQK", 95);
      g_autoptr(GBytes) pkl = NULL;
      g_autoptr(GByteArray) zip = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaWeights) w = NULL;
      GBytes *datas[2];

      g_string_append_c (p, (char) cases[i].offset);
      g_string_append_c (p, 'K');
      g_string_append_c (p, (char) cases[i].n);
      g_string_append_len (p, "\x85K\x01\x85\x89)tRs.", 10);
      pkl = g_bytes_new (p->str, p->len);
      datas[0] = pkl;
      datas[1] = storage;
      zip = build_zip (2, (const char *const *) names, datas);
      w = hepa_pth_load_from_data (zip->data, zip->len, "bounds.pth", &error);
      if (cases[i].ok)
        {
          const HepaTensorEntry *e;

          g_assert_no_error (error);
          e = hepa_weights_lookup (w, "t");
          g_assert_nonnull (e);
          g_assert_cmpint (e->n_elements, ==, cases[i].n);
          if (cases[i].n > 0)
            g_assert_cmpfloat (e->data[0], ==, values[cases[i].offset]);
        }
      else
        {
          g_assert_null (w);
          g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
          g_assert_nonnull (strstr (error->message, cases[i].needle));
        }
    }
}

/* A stride-0 view of 8193 x 8193 elements over a 4-element storage is refused before anything
 * is allocated. */
static void
test_overlap_cap (void)
{
  static const char *const names[] = { "archive/data.pkl", "archive/data/0" };
  static const char pickle[] =
    "\x80\x02}X\x01\x00\x00\x00t"
    "ctorch._utils\n_rebuild_tensor_v2\n("
    "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00"
    "cpuK\x04tQK\x00(M\x01\x20M\x01\x20t(K\x00K\x00t\x89)tRs.";
  float values[4] = { 1, 2, 3, 4 };
  g_autoptr(GBytes) storage = g_bytes_new (values, sizeof values);
  g_autoptr(GBytes) pkl = g_bytes_new (pickle, sizeof pickle - 1);
  GBytes *datas[] = { pkl, storage };
  g_autoptr(GByteArray) zip = build_zip (2, names, datas);
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) w = hepa_pth_load_from_data (zip->data, zip->len, "cap.pth", &error);

  g_assert_null (w);
  g_assert_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "repeats its storage"));
}

static void
pickle_str (GByteArray *p,
            const char *s)
{
  guint32 len = GUINT32_TO_LE (strlen (s));

  g_byte_array_append (p, (const guint8 *) "X", 1);
  g_byte_array_append (p, (const guint8 *) &len, 4);
  g_byte_array_append (p, (const guint8 *) s, strlen (s));
}

static void
pickle_int (GByteArray *p,
            gint64      v)
{
  gint32 le = GINT32_TO_LE ((gint32) v);

  g_assert_cmpint (v, <=, G_MAXINT32);
  g_byte_array_append (p, (const guint8 *) "J", 1);
  g_byte_array_append (p, (const guint8 *) &le, 4);
}

#define PICKLE_OP(p, s) g_byte_array_append (p, (const guint8 *) s, sizeof (s) - 1)

/* Writes @w as torch.save would write {"epoch": 1, "state_dict": {"module." + name: tensor}}
 * (protocol 2, one float32 storage per tensor, plus int64 num_batches_tracked buffers), so the
 * convert path is tested without Python. */
static void
write_state_dict (HepaWeights *w,
                  const char  *path)
{
  g_autoptr(GByteArray) p = g_byte_array_new ();
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) datas = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GByteArray) zip = NULL;
  g_autoptr(GError) error = NULL;
  guint n = hepa_weights_get_n (w);

  PICKLE_OP (p, "\x80\x02}");
  pickle_str (p, "epoch");
  pickle_int (p, 1);
  PICKLE_OP (p, "s");
  pickle_str (p, "state_dict");
  PICKLE_OP (p, "ccollections\nOrderedDict\n)R(");
  g_ptr_array_add (names, g_strdup ("archive/data.pkl"));
  g_ptr_array_add (datas, NULL);
  for (guint i = 0; i < n; i++)
    {
      const HepaTensorEntry *e = hepa_weights_get_nth (w, i);
      g_autofree char *key = g_strdup_printf ("%u", i);
      g_autofree char *name = g_strconcat ("module.", e->name, NULL);
      gint64 stride = 1;

      pickle_str (p, name);
      PICKLE_OP (p, "ctorch._utils\n_rebuild_tensor_v2\n((");
      pickle_str (p, "storage");
      PICKLE_OP (p, "ctorch\nFloatStorage\n");
      pickle_str (p, key);
      pickle_str (p, "cpu");
      pickle_int (p, e->n_elements);
      PICKLE_OP (p, "tQ");
      pickle_int (p, 0);
      PICKLE_OP (p, "(");
      for (int d = 0; d < e->ndim; d++)
        pickle_int (p, e->shape[d]);
      PICKLE_OP (p, "t(");
      for (int d = 0; d < e->ndim; d++)
        {
          gint64 s = 1;

          for (int k = d + 1; k < e->ndim; k++)
            s *= e->shape[k];
          pickle_int (p, s);
          stride = s;
        }
      (void) stride;
      PICKLE_OP (p, "t\x89" "ccollections\nOrderedDict\n)RtR");
      g_ptr_array_add (names, g_strdup_printf ("archive/data/%s", key));
      g_ptr_array_add (datas, g_bytes_new (e->data, (gsize) e->n_elements * sizeof (float)));

      if (g_str_has_suffix (e->name, "running_var"))
        {
          g_autofree char *nbt = g_strdup_printf ("module.%.*snum_batches_tracked",
                                                  (int) (strlen (e->name)
                                                         - strlen ("running_var")), e->name);
          g_autofree char *nbt_key = g_strdup_printf ("n%u", i);
          gint64 zero = 0;

          pickle_str (p, nbt);
          PICKLE_OP (p, "ctorch._utils\n_rebuild_tensor_v2\n((");
          pickle_str (p, "storage");
          PICKLE_OP (p, "ctorch\nLongStorage\n");
          pickle_str (p, nbt_key);
          pickle_str (p, "cpu");
          pickle_int (p, 1);
          PICKLE_OP (p, "tQ");
          pickle_int (p, 0);
          PICKLE_OP (p, ")))\x89" "ccollections\nOrderedDict\n)RtR");
          g_ptr_array_add (names, g_strdup_printf ("archive/data/%s", nbt_key));
          g_ptr_array_add (datas, g_bytes_new (&zero, sizeof zero));
        }
    }
  PICKLE_OP (p, "us.");
  g_ptr_array_index (datas, 0) = g_bytes_new (p->data, p->len);
  zip = build_zip (names->len, (const char *const *) names->pdata, (GBytes *const *) datas->pdata);
  g_file_set_contents (path, (const char *) zip->data, zip->len, &error);
  g_assert_no_error (error);
}

static void
run_cli (const char *const *args,
         int                 expect_status,
         char              **err_out)
{
  const char *cli = g_getenv ("HEPASCOPE_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status = -1;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (gpointer) cli);
  for (const char *const *a = args; *a != NULL; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, err_out,
                &status, &error);
  g_assert_no_error (error);
  g_test_message ("stdout: %s", out);
  g_test_message ("stderr: %s", *err_out);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, expect_status);
}

static JsonObject *
parse_card (HepaWeights *w)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  const char *card = hepa_weights_get_metadata (w, "hepascope.card");

  g_assert_nonnull (card);
  json_parser_load_from_data (parser, card, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
assert_same_tensor (HepaWeights *a,
                    HepaWeights *b,
                    const char  *name)
{
  const HepaTensorEntry *ea = hepa_weights_lookup (a, name);
  const HepaTensorEntry *eb = hepa_weights_lookup (b, name);

  g_assert_nonnull (ea);
  g_assert_nonnull (eb);
  g_assert_cmpint (ea->n_elements, ==, eb->n_elements);
  g_assert_cmpmem (ea->data, ea->n_elements * sizeof (float), eb->data,
                   eb->n_elements * sizeof (float));
}

/* An ImageNet-shaped resnet18 checkpoint (1000 classes) becomes a 3-class model: the backbone
 * is kept bit for bit, the head is new, seeded and bounded like torch.nn.Linear's. */
static void
test_convert_new_head (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *in = g_build_filename (dir, "imagenet.pth", NULL);
  g_autofree char *out = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *out2 = g_build_filename (dir, "model2.safetensors", NULL);
  g_autofree char *out3 = g_build_filename (dir, "model3.safetensors", NULL);
  g_autofree char *err = NULL, *err2 = NULL, *err3 = NULL;
  g_autoptr(HepaWeights) src = hepa_model_random_weights (HEPA_ARCH_RESNET18, 1000, 42);
  g_autoptr(HepaWeights) w = NULL, w2 = NULL, w3 = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(JsonObject) card = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  gsize len;
  JsonObject *from;
  const HepaTensorEntry *fc;
  const HepaModelCard *mc;

  write_state_dict (src, in);
  run_cli ((const char *const[]) { "convert", in, out, "--classes", "a,b,c", "--seed", "7",
                                   NULL }, 0, &err);
  g_assert_nonnull (strstr (err, "1000 outputs"));

  w = hepa_safetensors_load (out, &error);
  g_assert_no_error (error);
  assert_same_tensor (w, src, "conv1.weight");
  assert_same_tensor (w, src, "layer4.1.bn2.running_var");
  fc = hepa_weights_lookup (w, "fc.weight");
  g_assert_cmpint (fc->shape[0], ==, 3);
  g_assert_cmpint (fc->shape[1], ==, 512);
  for (gint64 i = 0; i < fc->n_elements; i++)
    g_assert_cmpfloat (fabsf (fc->data[i]), <=, 1.0f / sqrtf (512.0f));
  g_assert_null (hepa_weights_lookup (w, "bn1.num_batches_tracked"));

  card = parse_card (w);
  g_assert_cmpstr (json_object_get_string_member (card, "arch"), ==, "resnet18");
  g_assert_cmpint (json_object_get_int_member (card, "input_size"), ==, 224);
  g_assert_true (json_object_get_boolean_member (
    json_object_get_object_member (card, "preprocess"), "grayscale"));
  from = json_object_get_object_member (card, "backbone_from");
  g_assert_nonnull (from);
  g_assert_cmpstr (json_object_get_string_member (from, "file"), ==, "imagenet.pth");
  g_file_get_contents (in, &contents, &len, &error);
  g_assert_no_error (error);
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) contents, len);
  g_assert_cmpstr (json_object_get_string_member (from, "sha256"), ==, sha);
  g_assert_cmpstr (json_object_get_string_member (from, "head"), ==, "initialized");

  model = hepa_model_load (out, &error);
  g_assert_no_error (error);
  mc = hepa_model_get_card (model);
  g_assert_cmpuint (mc->n_classes, ==, 3);
  g_assert_cmpstr (mc->classes[2], ==, "c");
  g_assert_true (mc->grayscale);
  g_assert_true (mc->has_card);

  /* The same seed gives the same head; another seed another one. */
  run_cli ((const char *const[]) { "convert", in, out2, "--classes", "a,b,c", "--seed", "7",
                                   NULL }, 0, &err2);
  run_cli ((const char *const[]) { "convert", in, out3, "--classes", "a,b,c", "--seed", "8",
                                   NULL }, 0, &err3);
  w2 = hepa_safetensors_load (out2, &error);
  g_assert_no_error (error);
  w3 = hepa_safetensors_load (out3, &error);
  g_assert_no_error (error);
  assert_same_tensor (w, w2, "fc.weight");
  assert_same_tensor (w, w2, "fc.bias");
  g_assert_cmpfloat (hepa_weights_lookup (w, "fc.weight")->data[0], !=,
                     hepa_weights_lookup (w3, "fc.weight")->data[0]);

  hepa_test_rmtree (dir);
}

/* A checkpoint whose head fits keeps it; the CLI refuses bad input with one line. */
static void
test_convert_keep_head (void)
{
  g_autofree char *dir = hepa_test_mkdtemp ();
  g_autofree char *in = g_build_filename (dir, "five.pth", NULL);
  g_autofree char *out = g_build_filename (dir, "five.safetensors", NULL);
  g_autofree char *hostile = fixture_path ("os-system.pth");
  g_autofree char *err = NULL, *err2 = NULL, *err3 = NULL, *err4 = NULL;
  g_autoptr(HepaWeights) src = hepa_model_random_weights (HEPA_ARCH_RESNET18, 5, 3);
  g_autoptr(HepaWeights) w = NULL;
  g_autoptr(JsonObject) card = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *classes;

  write_state_dict (src, in);
  run_cli ((const char *const[]) { "convert", in, out, NULL }, 0, &err);
  g_assert_null (strstr (err, "new head"));
  w = hepa_safetensors_load (out, &error);
  g_assert_no_error (error);
  assert_same_tensor (w, src, "fc.weight");
  assert_same_tensor (w, src, "fc.bias");
  card = parse_card (w);
  classes = json_object_get_array_member (card, "classes");
  g_assert_cmpuint (json_array_get_length (classes), ==, 5);
  g_assert_cmpstr (json_array_get_string_element (classes, 0), ==, "class0");
  g_assert_cmpstr (json_object_get_string_member (
    json_object_get_object_member (card, "backbone_from"), "head"), ==, "kept");

  /* --card-extra sets members, and cannot change how the weights run. */
  {
    g_autofree char *extra = g_build_filename (dir, "extra.json", NULL);
    g_autofree char *bad = g_build_filename (dir, "bad-extra.json", NULL);
    g_autofree char *out2 = g_build_filename (dir, "five-f16.safetensors", NULL);
    g_autofree char *err5 = NULL, *err6 = NULL;
    g_autoptr(HepaWeights) w2 = NULL;
    g_autoptr(JsonObject) card2 = NULL;
    JsonArray *warnings;

    g_assert_true (g_file_set_contents (extra, "{\"description\": \"phantoms only\", "
                                        "\"warnings\": [\"limit one\"]}", -1, NULL));
    g_assert_true (g_file_set_contents (bad, "{\"input_size\": 64}", -1, NULL));
    run_cli ((const char *const[]) { "convert", out, out2, "--dtype", "f16", "--card-extra",
                                     extra, NULL }, 0, &err5);
    w2 = hepa_safetensors_load (out2, &error);
    g_assert_no_error (error);
    card2 = parse_card (w2);
    g_assert_cmpstr (json_object_get_string_member (card2, "description"), ==, "phantoms only");
    warnings = json_object_get_array_member (card2, "warnings");
    g_assert_cmpuint (json_array_get_length (warnings), ==, 1);
    g_assert_cmpstr (json_array_get_string_element (warnings, 0), ==, "limit one");
    run_cli ((const char *const[]) { "convert", out, out2, "--card-extra", bad, NULL }, 1,
             &err6);
    g_assert_nonnull (strstr (err6, "input_size"));
    g_assert_nonnull (strstr (err6, "bad-extra.json"));
  }

  run_cli ((const char *const[]) { "convert", hostile, out, NULL }, 1, &err2);
  g_assert_nonnull (strstr (err2, "refusing to load pickle global os.system"));
  g_assert_cmpuint (strchr (err2, '\n') - err2 + 1, ==, strlen (err2));
  run_cli ((const char *const[]) { "convert", in, out, "--arch", "resnet50", NULL }, 1, &err3);
  g_assert_nonnull (strstr (err3, "resnet50"));
  run_cli ((const char *const[]) { "convert", in, out, "--classes", "a,a", NULL }, 1, &err4);
  g_assert_nonnull (strstr (err4, "twice"));

  hepa_test_rmtree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/pth/tiny", test_tiny);
  g_test_add_func ("/core/pth/zip64", test_zip64);
  g_test_add_func ("/core/pth/wrapped-module-prefix", test_wrapped_module_prefix);
  g_test_add_func ("/core/pth/model-key", test_model_key);
  g_test_add_func ("/core/pth/legacy", test_legacy);
  g_test_add_func ("/core/pth/hostile-globals", test_hostile_globals);
  g_test_add_func ("/core/pth/oversize-length", test_oversize_length);
  g_test_add_func ("/core/pth/other-dtypes", test_other_dtypes);
  g_test_add_func ("/core/pth/not-found", test_not_found);
  g_test_add_func ("/core/pth/not-a-checkpoint", test_not_a_checkpoint);
  g_test_add_func ("/core/pth/truncated", test_truncated);
  g_test_add_func ("/core/pth/corrupt-central-directory", test_corrupt_central_directory);
  g_test_add_func ("/core/pth/crc", test_crc);
  g_test_add_func ("/core/pth/crc32-fast", test_crc32_fast);
  g_test_add_func ("/core/pth/every-byte", test_every_byte);
  g_test_add_func ("/core/pth/bad-pickles", test_bad_pickles);
  g_test_add_func ("/core/pth/storage-bounds", test_storage_bounds);
  g_test_add_func ("/core/pth/overlap-cap", test_overlap_cap);
  g_test_add_func ("/core/pth/convert-new-head", test_convert_new_head);
  g_test_add_func ("/core/pth/convert-keep-head", test_convert_keep_head);

  return g_test_run ();
}
