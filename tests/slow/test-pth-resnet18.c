/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A torchvision resnet18 state dict saved by torch itself gives torch's logits: the checkpoint is
 * written at test time by tests/gen-pth-fixtures.py --resnet18 with the seeded weights of
 * tests/gen-resnet-ref.py, whose logits are in tests/fixtures/resnet-ref.ini. The test is skipped
 * (and says so) when /usr/bin/python3 cannot import torch and torchvision. */
#include "config.h"

#include "hepa-model.h"
#include "hepa-weights.h"
#include "hepa-pth.h"
#include "nn/hepa-resnet.h"
#include "hepa-test-utils.h"

#include <math.h>
#include <string.h>
#include <sys/wait.h>

#define PYTHON "/usr/bin/python3"

static gboolean
have_torch (void)
{
  const char *argv[] = { PYTHON, "-c", "import torch, torchvision", NULL };
  int status = -1;

  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                     | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL))
    return FALSE;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

static void
spawn_ok (const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = -1;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                &status, &error);
  g_assert_no_error (error);
  g_test_message ("%s: %s", argv[0], err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static float
max_abs (const float *v,
         gsize        n)
{
  float m = 0;

  for (gsize i = 0; i < n; i++)
    m = MAX (m, fabsf (v[i]));
  return m;
}

/* Every resnet-ref.ini case of resnet18 with 5 classes through @model. */
static int
check_logits (HepaModel *model)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fixtures", "resnet-ref.ini",
                                                 NULL);
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) groups = NULL;
  const HepaResnet *net = hepa_model_get_network (model);
  int checked = 0;

  g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  groups = g_key_file_get_groups (kf, NULL);
  for (int g = 0; groups[g] != NULL; g++)
    {
      const char *grp = groups[g];
      int size, seed;
      gsize n_ref = 0;
      g_autofree double *ref = NULL;
      g_autofree float *ref_f = NULL, *input = NULL;
      float logits[5];
      HepaResnetWorkspace *ws;

      if (g_key_file_get_integer (kf, grp, "arch", NULL) != 18
          || g_key_file_get_integer (kf, grp, "classes", NULL) != 5)
        continue;
      size = g_key_file_get_integer (kf, grp, "size", NULL);
      seed = g_key_file_get_integer (kf, grp, "input_seed", NULL);
      ref = g_key_file_get_double_list (kf, grp, "logits", &n_ref, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (n_ref, ==, 5);
      ref_f = g_new (float, 5);
      for (int k = 0; k < 5; k++)
        ref_f[k] = (float) ref[k];
      input = g_new (float, (gsize) 3 * size * size);
      for (gsize i = 0; i < (gsize) 3 * size * size; i++)
        input[i] = hepa_nn_seeded_uniform ((guint64) seed, i);
      ws = hepa_resnet_workspace_new (net, 1, size);
      g_assert_nonnull (ws);
      g_assert_cmpint (hepa_resnet_forward (net, ws, input, 1, logits, NULL, NULL), ==, 0);
      hepa_resnet_workspace_free (ws);
      g_test_message ("%s: NMSE %.3g", grp, hepa_test_nmse (logits, ref_f, 5));
      hepa_assert_allclose (logits, ref_f, 5, 0, 1e-3 * max_abs (ref_f, 5));
      checked++;
    }
  return checked;
}

static void
test_torch_resnet18 (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *pth = NULL;
  g_autofree char *out = NULL;
  g_autofree char *script = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaWeights) weights = NULL;
  g_autoptr(HepaModel) model = NULL;
  g_autoptr(HepaModel) converted = NULL;
  const char *root = g_getenv ("HEPASCOPE_SOURCE_ROOT");
  const char *cli = g_getenv ("HEPASCOPE_CLI");

  if (!have_torch ())
    {
      g_test_skip ("/usr/bin/python3 cannot import torch and torchvision: no torch-saved "
                   "checkpoint to read");
      return;
    }
  g_assert_nonnull (root);
  g_assert_nonnull (cli);
  dir = hepa_test_mkdtemp ();
  pth = g_build_filename (dir, "resnet18.pth", NULL);
  out = g_build_filename (dir, "resnet18.safetensors", NULL);
  script = g_build_filename (root, "tests", "gen-pth-fixtures.py", NULL);
  spawn_ok ((const char *const[]) { PYTHON, script, "--resnet18", pth, NULL });

  weights = hepa_pth_load (pth, &error);
  g_assert_no_error (error);
  /* Every parameter and running statistic; the num_batches_tracked buffers are left out. */
  g_assert_cmpuint (hepa_weights_get_n (weights), ==, hepa_resnet_n_params (HEPA_ARCH_RESNET18));
  g_assert_null (hepa_weights_lookup (weights, "bn1.num_batches_tracked"));
  model = hepa_model_new_from_weights (weights, "resnet18", &error);
  g_assert_no_error (error);
  g_assert_cmpint (check_logits (model), ==, 8);

  /* The same through convert and the model loader. */
  spawn_ok ((const char *const[]) { cli, "convert", pth, out, "--classes",
                                    "non_fll,cyst,hemangioma,ffs,hcc", NULL });
  converted = hepa_model_load (out, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (hepa_model_get_card (converted)->classes[4], ==, "hcc");
  g_assert_cmpint (check_logits (converted), ==, 8);

  hepa_test_rmtree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/slow/pth/torch-resnet18", test_torch_resnet18);
  return g_test_run ();
}
