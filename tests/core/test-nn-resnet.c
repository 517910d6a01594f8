/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ResNet topologies against torchvision: tests/fixtures/resnet-ref.ini holds the logits and
 * class activation maps torchvision computed with weights and inputs drawn from
 * hepa_nn_seeded_uniform (see tests/gen-resnet-ref.py, which defines the recipe mirrored here). */
#include "config.h"

#include "hepa-nn.h"
#include "hepa-resnet.h"
#include "hepa-test-utils.h"

#include <math.h>

/* The recipe of tests/gen-resnet-ref.py: tensor @index of @arch from seed arch << 16 | index. */
static float *
make_param (HepaArch             arch,
            int                  index,
            const HepaParamInfo *info,
            int                  feat_c)
{
  gsize n = 1;
  float *v;
  const char *name = info->name;
  double scale, offset;

  for (int i = 0; i < info->ndim; i++)
    n *= info->shape[i];
  /* value = offset + scale * u, by the kind of tensor */
  if (g_str_has_suffix (name, "running_var"))
    offset = 1.25, scale = 0.25;
  else if (g_str_equal (name, "fc.weight"))
    offset = 0, scale = 1.0 / sqrt (feat_c);
  else if (g_str_has_suffix (name, "weight") && info->ndim == 4)
    offset = 0, scale = sqrt (6.0 / (info->shape[1] * info->shape[2] * info->shape[3]));
  else if (g_str_has_suffix (name, "weight"))
    offset = 1, scale = 0.1;
  else
    offset = 0, scale = 0.1;
  v = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    {
      double u = hepa_nn_seeded_uniform (((guint64) arch << 16) | (guint64) index, i);

      v[i] = (float) (offset + scale * u);
    }
  return v;
}

typedef struct
{
  HepaArch    arch;
  int         n_classes;
  GHashTable *tensors;   /* name -> float[] */
  GHashTable *shapes;    /* name -> HepaParamInfo */
  int         lookups;
  int         fail_at;   /* make the n-th lookup fail; -1: never */
} Params;

static void
params_init (Params   *p,
             HepaArch  arch,
             int       n_classes)
{
  int n = hepa_resnet_n_params (arch), feat_c;
  HepaParamInfo fc;

  p->arch = arch;
  p->n_classes = n_classes;
  p->lookups = 0;
  p->fail_at = -1;
  p->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  p->shapes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  hepa_resnet_param_info (arch, n_classes, n - 2, &fc);
  feat_c = fc.shape[1];
  for (int i = 0; i < n; i++)
    {
      HepaParamInfo *info = g_new (HepaParamInfo, 1);

      hepa_resnet_param_info (arch, n_classes, i, info);
      g_hash_table_insert (p->tensors, (gpointer) info->name, make_param (arch, i, info, feat_c));
      g_hash_table_insert (p->shapes, (gpointer) info->name, info);
    }
}

static void
params_clear (Params *p)
{
  g_clear_pointer (&p->tensors, g_hash_table_unref);
  g_clear_pointer (&p->shapes, g_hash_table_unref);
}

static const float *
lookup (void       *user,
        const char *name,
        const int  *shape,
        int         ndim)
{
  Params *p = user;
  const HepaParamInfo *info = g_hash_table_lookup (p->shapes, name);

  if (p->fail_at >= 0 && p->lookups++ == p->fail_at)
    return NULL;
  /* The network asks for exactly the shapes the enumeration announced. */
  g_assert_nonnull (info);
  g_assert_cmpint (ndim, ==, info->ndim);
  for (int i = 0; i < ndim; i++)
    g_assert_cmpint (shape[i], ==, info->shape[i]);
  return g_hash_table_lookup (p->tensors, name);
}

static GKeyFile *
load_fixture (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fixtures", "resnet-ref.ini", NULL);
  GKeyFile *kf = g_key_file_new ();

  g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  return kf;
}

static float *
read_floats (GKeyFile   *kf,
             const char *group,
             const char *key,
             gsize       expected)
{
  g_autoptr(GError) error = NULL;
  gsize n = 0;
  g_autofree double *d = g_key_file_get_double_list (kf, group, key, &n, &error);
  float *f;

  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, expected);
  f = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    f[i] = (float) d[i];
  return f;
}

static int
argmax (const float *v,
        int          n)
{
  int best = 0;

  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

static float
max_abs (const float *v,
         gsize        n)
{
  float m = 0;

  for (gsize i = 0; i < n; i++)
    m = fmaxf (m, fabsf (v[i]));
  return m;
}

/* Every fixture case of @arch: logits within 1e-3 max|logit|, same top-1, CAMs within 1e-4 of
 * max|CAM|. Returns the number of cases checked. */
static int
check_arch (HepaArch arch)
{
  g_autoptr(GKeyFile) kf = load_fixture ();
  g_auto(GStrv) groups = g_key_file_get_groups (kf, NULL);
  int checked = 0;

  for (int classes = 2; classes <= 5; classes++)
    {
      Params p;
      HepaResnet *net = NULL;

      for (int g = 0; groups[g] != NULL; g++)
        {
          const char *grp = groups[g];
          int size, seed, ch, cw, fc, fh, fw, feat_c;
          HepaResnetWorkspace *ws;
          g_autofree float *input = NULL, *ref_logits = NULL, *ref_cam = NULL;
          g_autofree float *logits = NULL, *cam = NULL;
          const float *feat;
          gsize n_in;

          if (g_key_file_get_integer (kf, grp, "arch", NULL) != (int) arch ||
              g_key_file_get_integer (kf, grp, "classes", NULL) != classes)
            continue;
          if (net == NULL)
            {
              params_init (&p, arch, classes);
              net = hepa_resnet_new (arch, classes, lookup, &p);
              g_assert_nonnull (net);
              /* The data is only read during hepa_resnet_new. */
              params_clear (&p);
            }
          size = g_key_file_get_integer (kf, grp, "size", NULL);
          seed = g_key_file_get_integer (kf, grp, "input_seed", NULL);
          ch = g_key_file_get_integer (kf, grp, "cam_h", NULL);
          cw = g_key_file_get_integer (kf, grp, "cam_w", NULL);
          n_in = (gsize) 3 * size * size;
          input = g_new (float, n_in);
          for (gsize i = 0; i < n_in; i++)
            input[i] = hepa_nn_seeded_uniform ((guint64) seed, i);
          ref_logits = read_floats (kf, grp, "logits", classes);
          ref_cam = read_floats (kf, grp, "cam", (gsize) classes * ch * cw);

          ws = hepa_resnet_workspace_new (net, 1, size);
          g_assert_nonnull (ws);
          logits = g_new (float, classes);
          g_assert_cmpint (hepa_resnet_forward (net, ws, input, 1, logits, NULL, NULL), ==, 0);
          g_test_message ("%s: resnet%d size %d logits NMSE %.3g", grp, arch, size,
                          hepa_test_nmse (logits, ref_logits, classes));
          hepa_assert_allclose (logits, ref_logits, classes, 0, 1e-3 * max_abs (ref_logits, classes));
          g_assert_cmpint (argmax (logits, classes), ==, argmax (ref_logits, classes));
          g_assert_cmpint (argmax (logits, classes), ==,
                           g_key_file_get_integer (kf, grp, "top", NULL));

          feat = hepa_resnet_workspace_features (ws, &fc, &fh, &fw);
          g_assert_nonnull (feat);
          g_assert_nonnull (hepa_resnet_fc_weight (net, &feat_c));
          g_assert_cmpint (fc, ==, feat_c);
          g_assert_cmpint (fh, ==, ch);
          g_assert_cmpint (fw, ==, cw);
          cam = g_new (float, (gsize) classes * ch * cw);
          hepa_nn_cam (feat, fc, fh * fw, hepa_resnet_fc_weight (net, NULL), classes, cam);
          g_test_message ("%s: CAM NMSE %.3g, max|CAM| %g", grp,
                          hepa_test_nmse (cam, ref_cam, (gsize) classes * ch * cw),
                          max_abs (ref_cam, (gsize) classes * ch * cw));
          hepa_assert_allclose (cam, ref_cam, (gsize) classes * ch * cw, 0,
                                1e-4 * max_abs (ref_cam, (gsize) classes * ch * cw));
          hepa_resnet_workspace_free (ws);
          checked++;
        }
      hepa_resnet_free (net);
    }
  return checked;
}

/* The fixtures on one build of the hot kernels (hepa_nn_set_isa); skipped where this CPU
 * cannot run it. */
static void
test_parity (gconstpointer data)
{
  const char *const *c = data;   /* { isa, "18" or "50" } */
  HepaArch arch = strcmp (c[1], "18") == 0 ? HEPA_ARCH_RESNET18 : HEPA_ARCH_RESNET50;

  if (!hepa_nn_isa_available (c[0]))
    {
      g_test_skip ("this CPU cannot run these kernels");
      return;
    }
  g_assert_true (hepa_nn_set_isa (c[0]));
  g_assert_cmpint (check_arch (arch), >=, 8);
  hepa_nn_set_isa (NULL);
}

static void
test_param_names (void)
{
  HepaParamInfo info;

  /* torchvision state_dict sizes without the num_batches_tracked buffers. */
  g_assert_cmpint (hepa_resnet_n_params (HEPA_ARCH_RESNET50), ==, 320 - 53);
  g_assert_cmpint (hepa_resnet_n_params (HEPA_ARCH_RESNET18), ==, 122 - 20);

  hepa_resnet_param_info (HEPA_ARCH_RESNET50, 5, 0, &info);
  g_assert_cmpstr (info.name, ==, "conv1.weight");
  g_assert_cmpint (info.ndim, ==, 4);
  g_assert_cmpint (info.shape[0], ==, 64);
  g_assert_cmpint (info.shape[1], ==, 3);
  g_assert_cmpint (info.shape[2], ==, 7);
  hepa_resnet_param_info (HEPA_ARCH_RESNET50, 5, 4, &info);
  g_assert_cmpstr (info.name, ==, "bn1.running_var");
  hepa_resnet_param_info (HEPA_ARCH_RESNET50, 5, 5, &info);
  g_assert_cmpstr (info.name, ==, "layer1.0.conv1.weight");
  hepa_resnet_param_info (HEPA_ARCH_RESNET50, 5, 20, &info);
  g_assert_cmpstr (info.name, ==, "layer1.0.downsample.0.weight");
  g_assert_cmpint (info.shape[0], ==, 256);
  g_assert_cmpint (info.shape[1], ==, 64);
  g_assert_cmpint (info.shape[2], ==, 1);
  hepa_resnet_param_info (HEPA_ARCH_RESNET50, 5, 24, &info);
  g_assert_cmpstr (info.name, ==, "layer1.0.downsample.1.running_var");
  hepa_resnet_param_info (HEPA_ARCH_RESNET50, 7, 265, &info);
  g_assert_cmpstr (info.name, ==, "fc.weight");
  g_assert_cmpint (info.ndim, ==, 2);
  g_assert_cmpint (info.shape[0], ==, 7);
  g_assert_cmpint (info.shape[1], ==, 2048);
  hepa_resnet_param_info (HEPA_ARCH_RESNET50, 7, 266, &info);
  g_assert_cmpstr (info.name, ==, "fc.bias");
  g_assert_cmpint (info.shape[0], ==, 7);

  hepa_resnet_param_info (HEPA_ARCH_RESNET18, 2, 10, &info);
  g_assert_cmpstr (info.name, ==, "layer1.0.conv2.weight");
  g_assert_cmpint (info.shape[0], ==, 64);
  g_assert_cmpint (info.shape[2], ==, 3);
  hepa_resnet_param_info (HEPA_ARCH_RESNET18, 2, 100, &info);
  g_assert_cmpstr (info.name, ==, "fc.weight");
  g_assert_cmpint (info.shape[1], ==, 512);
  hepa_resnet_param_info (HEPA_ARCH_RESNET18, 2, 35, &info);
  g_assert_cmpstr (info.name, ==, "layer2.0.downsample.0.weight");
  g_assert_cmpint (info.shape[0], ==, 128);
  g_assert_cmpint (info.shape[1], ==, 64);
}

static void
test_macs (void)
{
  Params p;
  HepaResnet *net;

  params_init (&p, HEPA_ARCH_RESNET50, 5);
  net = hepa_resnet_new (HEPA_ARCH_RESNET50, 5, lookup, &p);
  params_clear (&p);
  g_assert_nonnull (net);
  /* ../shared/peers/flops.py: 4.0871 GMAC for torchvision resnet50 (5 classes) at 224. */
  g_assert_cmpfloat_with_epsilon (hepa_resnet_macs (net, 224) / 1e9, 4.0871, 0.0001);
  g_assert_cmpint (hepa_resnet_get_arch (net), ==, HEPA_ARCH_RESNET50);
  g_assert_cmpint (hepa_resnet_get_n_classes (net), ==, 5);
  hepa_resnet_free (net);
}

static void
test_missing_tensor (void)
{
  /* A failing lookup at any point gives NULL, freeing what was built (checked under ASan). */
  for (int at = 0; at < 102; at += 7)
    {
      Params p;
      HepaResnet *net;

      params_init (&p, HEPA_ARCH_RESNET18, 4);
      p.fail_at = at;
      net = hepa_resnet_new (HEPA_ARCH_RESNET18, 4, lookup, &p);
      g_assert_null (net);
      params_clear (&p);
    }
}

static int
cancel_after (void *user)
{
  int *left = user;

  return (*left)-- <= 0;
}

static void
test_batch_and_cancel (void)
{
  const int size = 40, batch = 3, classes = 4;
  const gsize n_in = (gsize) 3 * size * size;
  Params p;
  HepaResnet *net;
  HepaResnetWorkspace *ws;
  g_autofree float *input = g_new (float, n_in * batch);
  float logits[3 * 4], one[4];
  int left;

  params_init (&p, HEPA_ARCH_RESNET18, classes);
  net = hepa_resnet_new (HEPA_ARCH_RESNET18, classes, lookup, &p);
  params_clear (&p);
  g_assert_nonnull (net);
  for (gsize i = 0; i < n_in * batch; i++)
    input[i] = hepa_nn_seeded_uniform (77, i);
  /* Sizes the network cannot take give NULL, not a crash. */
  g_assert_null (hepa_resnet_workspace_new (net, 1, HEPA_RESNET_MIN_SIZE - 1));
  g_assert_null (hepa_resnet_workspace_new (net, 1, 1 << 20));
  g_assert_null (hepa_resnet_workspace_new (net, 1 << 20, 224));
  ws = hepa_resnet_workspace_new (net, batch, size);
  g_assert_nonnull (ws);

  /* A batch gives each image's logits as a batch of one does. */
  g_assert_cmpint (hepa_resnet_forward (net, ws, input, batch, logits, NULL, NULL), ==, 0);
  for (int b = 0; b < batch; b++)
    {
      g_assert_cmpint (hepa_resnet_forward (net, ws, input + b * n_in, 1, one, NULL, NULL), ==, 0);
      hepa_assert_allclose (one, logits + b * classes, classes, 1e-5, 1e-5);
    }

  /* Cancelled before the stem, and before the fourth block. */
  left = 0;
  g_assert_cmpint (hepa_resnet_forward (net, ws, input, batch, logits, cancel_after, &left), ==, 1);
  g_assert_null (hepa_resnet_workspace_features (ws, NULL, NULL, NULL));
  left = 4;
  g_assert_cmpint (hepa_resnet_forward (net, ws, input, batch, logits, cancel_after, &left), ==, 1);
  g_assert_cmpint (left, ==, -1);
  left = 1000;
  g_assert_cmpint (hepa_resnet_forward (net, ws, input, batch, logits, cancel_after, &left), ==, 0);
  /* The stem, then one check per block. */
  g_assert_cmpint (1000 - left, ==, 1 + 8);

  hepa_resnet_workspace_free (ws);
  hepa_resnet_free (net);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/nn/resnet/param-names", test_param_names);
  g_test_add_func ("/core/nn/resnet/macs", test_macs);
  g_test_add_func ("/core/nn/resnet/missing-tensor", test_missing_tensor);
  g_test_add_func ("/core/nn/resnet/batch-and-cancel", test_batch_and_cancel);
  {
    static const char *const runs[][2] = { { "avx512", "18" }, { "avx512", "50" },
                                           { "avx2", "18" }, { "avx2", "50" },
                                           { "baseline", "18" }, { "baseline", "50" } };

    for (gsize i = 0; i < G_N_ELEMENTS (runs); i++)
      {
        g_autofree char *path = g_strdup_printf ("/core/nn/resnet/%s/parity-resnet%s",
                                                 runs[i][0], runs[i][1]);
        g_test_add_data_func (path, runs[i], test_parity);
      }
  }
  return g_test_run ();
}
