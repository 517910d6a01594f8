/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Winograd F(4x4, 3x3) for the stride-1 3x3 convolutions (Lavin & Gray 2015, points 0, +-1, +-2).
 *
 * Each 4x4 output tile is A^T [ (G g G^T) . (B^T d B) ] A over a 6x6 input tile d. The 36
 * elementwise products summed over input channels are 36 independent GEMMs, with 4 times fewer
 * multiplies than the direct convolution:
 *   m[t] (c_out, tiles) = u[t] (c_out, c_in) * v[t] (c_in, tiles)
 * Those GEMMs are small (64 x 64 x 196 in layer1 at 224), where a BLAS spends its time packing,
 * so everything here works on blocks of 8 tiles held in the 8 lanes of a vector, one block at a
 * time per thread, so that nothing but the weights leaves the cache:
 *   v (36, c_in, 8 lanes)           the block's transformed input, written by the gathers
 *   u (36, c_out / 8, c_in, 8 rows) packed once at load
 *   m (36, 8 rows, 8 lanes)         per 8 output channels: an 8 x 8 register-blocked kernel per t,
 *                                   then the output transform for those channels. */
#include "hepa-nn.h"
#include "hepa-nn-private.h"

#include <string.h>

#define T 6       /* input tile */
#define TT HEPA_NN_WINO_TT
#define M_OUT HEPA_NN_WINO_TILE   /* output tile */
#define LANES HEPA_NN_WINO_LANES

static int
round8 (int v)
{
  return (v + LANES - 1) / LANES * LANES;
}

static int
n_tiles (int extent)
{
  return (extent + M_OUT - 1) / M_OUT;
}

size_t
hepa_nn_winograd_weight_size (int c_in,
                              int c_out)
{
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0);
  return (size_t) TT * c_in * round8 (c_out);
}

void
hepa_nn_winograd_pack (const float *weight,
                       int          c_in,
                       int          c_out,
                       float       *u)
{
  hepa_nn_winograd_pack_scaled (weight, NULL, c_in, c_out, u);
}

void
hepa_nn_winograd_pack_scaled (const float  *weight,
                              const double *out_scale,
                              int           c_in,
                              int           c_out,
                              float        *u)
{
  /* G (6, 3) */
  static const double g_mat[T][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
  };
  const int co_blocks = round8 (c_out) / LANES;

  HEPA_NN_ASSERT (weight != NULL && u != NULL && c_in > 0 && c_out > 0);
  /* Eight output channels at a time, so that each of the 36 planes of u is written in order. */
  for (int cb = 0; cb < co_blocks; cb++)
    for (int ci = 0; ci < c_in; ci++)
      {
        float out[TT][LANES];

        for (int r = 0; r < LANES; r++)
          {
            int co = cb * LANES + r;
            double tmp[T][3];

            if (co >= c_out)
              {
                for (int t = 0; t < TT; t++)
                  out[t][r] = 0.f;
                continue;
              }
            const float *w = weight + ((size_t) co * c_in + ci) * 9;
            float g[9];

            /* Scaled as hepa_nn_bn_fold would: rounded once from the double product. */
            for (int j = 0; j < 9; j++)
              g[j] = out_scale != NULL ? (float) ((double) w[j] * out_scale[co]) : w[j];

            /* tmp = G g, then G g G^T */
            for (int i = 0; i < T; i++)
              for (int j = 0; j < 3; j++)
                tmp[i][j] = g_mat[i][0] * g[j] + g_mat[i][1] * g[3 + j] + g_mat[i][2] * g[6 + j];
            for (int i = 0; i < T; i++)
              for (int j = 0; j < T; j++)
                out[i * T + j][r] = (float) (tmp[i][0] * g_mat[j][0] + tmp[i][1] * g_mat[j][1]
                                             + tmp[i][2] * g_mat[j][2]);
          }
        for (int t = 0; t < TT; t++)
          memcpy (u + (((size_t) t * co_blocks + cb) * c_in + ci) * LANES, out[t],
                  sizeof out[t]);
      }
}

/* Per thread: a group of blocks' transformed inputs and their products for a chunk of
 * channel blocks. */
static size_t
thread_scratch (int c_in)
{
  return (size_t) HEPA_NN_WINO_GROUP * TT * LANES * c_in
         + (size_t) HEPA_NN_WINO_GROUP * TT * HEPA_NN_WINO_CB_CHUNK * LANES * LANES;
}

size_t
hepa_nn_winograd_scratch_size (int c_in,
                               int c_out,
                               int n,
                               int h,
                               int w)
{
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0 && n > 0 && h > 0 && w > 0);
  return (size_t) HEPA_NN_MAX_THREADS * thread_scratch (c_in);
}

typedef struct
{
  const float        *u;
  int                 c_in, c_out;
  const float        *x;
  int                 n, h, w;
  const HepaEpilogue *epi;
  float              *y;
  float              *scratch;
  int                 blocks, co_blocks, co_parts, shared;
  const HepaNnKernels *kern;
} WinoCtx;

static void
wino_team_job (void *data,
               int   job,
               int   index)
{
  const WinoCtx *g = data;
  int group = job / g->co_parts, part = job % g->co_parts;
  int blk0 = group * HEPA_NN_WINO_GROUP;
  int blk1 = blk0 + HEPA_NN_WINO_GROUP < g->blocks ? blk0 + HEPA_NN_WINO_GROUP : g->blocks;
  int cb0 = (int) ((long) g->co_blocks * part / g->co_parts);
  int cb1 = (int) ((long) g->co_blocks * (part + 1) / g->co_parts);
  float *v = g->scratch + (size_t) index * thread_scratch (g->c_in);   /* (36, c_in, 8) */
  float *m = v + (size_t) HEPA_NN_WINO_GROUP * TT * g->c_in * LANES;

  if (g->shared)
    {
      /* Inputs transformed once for the team (wino_input_team_job), products per thread. */
      v = g->scratch + (size_t) blk0 * TT * g->c_in * LANES;
      m = g->scratch + (size_t) g->blocks * TT * g->c_in * LANES
          + (size_t) index * HEPA_NN_WINO_GROUP * TT * HEPA_NN_WINO_CB_CHUNK * LANES * LANES;
    }
  g->kern->winograd_job (g->u, g->c_in, g->c_out, g->x, g->n, g->h, g->w, blk0, blk1, cb0, cb1,
                         g->epi, g->y, v, m, g->shared);
}

static void
wino_input_team_job (void *data,
                     int   blk,
                     int   index)
{
  const WinoCtx *g = data;

  (void) index;
  g->kern->winograd_input (g->x, g->c_in, g->n, g->h, g->w, blk,
                           g->scratch + (size_t) blk * TT * g->c_in * LANES);
}

void
hepa_nn_conv3x3_winograd (const float        *u,
                          int                 c_in,
                          int                 c_out,
                          const float        *x,
                          int                 n,
                          int                 h,
                          int                 w,
                          const HepaEpilogue *epi,
                          float              *y,
                          float              *scratch)
{
  HEPA_NN_ASSERT (u != NULL && x != NULL && y != NULL && scratch != NULL);
  HEPA_NN_ASSERT (c_in > 0 && c_out > 0 && n > 0 && h > 0 && w > 0);
  HEPA_NN_ASSERT (x != y);
  HEPA_NN_ASSERT (epi == NULL || epi->residual != y);
  /* Gather offsets are int: one batch of inputs must stay below 2^31 floats. */
  HEPA_NN_ASSERT ((double) n * c_in * h * w < 2147483647.0);

  WinoCtx g = { u, c_in, c_out, x, n, h, w, epi, y, scratch, 0, 0, 0, 0, hepa_nn_kernels () };
  const int th = n_tiles (h), tw = n_tiles (w);
  const int blocks = (n * th * tw + LANES - 1) / LANES;
  const int groups = (blocks + HEPA_NN_WINO_GROUP - 1) / HEPA_NN_WINO_GROUP;
  const int threads = hepa_nn_team_size ();

  g.blocks = blocks;
  g.co_blocks = round8 (c_out) / LANES;
  /* Jobs are groups of up to four blocks (each slice of u serves the whole group from L1). Few
   * groups (layer3 at batch 1 has one): split the output channels too, each part transforming
   * the group's input itself, which costs little beside its GEMMs. */
  g.co_parts = (4 * threads + groups - 1) / groups;
  if (g.co_parts > g.co_blocks)
    g.co_parts = g.co_blocks;
  if (g.co_parts < 1 || threads == 1)
    g.co_parts = 1;
  /* A small layer runs on the calling thread: no wake-up, no barrier. */
  if ((double) blocks * LANES * TT * c_in * c_out < 2e5)
    {
      for (int job = 0; job < groups * g.co_parts; job++)
        wino_team_job (&g, job, hepa_nn_team_index ());
      return;
    }
  /* Output channels split: each part would transform the group's inputs again (eight times
   * over in layer3 at batch 1 with two threads), so the inputs are transformed once, by block,
   * into the scratch shared by the team when they fit it beside the threads' products. */
  if (g.co_parts > 1
      && (size_t) blocks * TT * c_in * LANES
         + (size_t) HEPA_NN_MAX_THREADS * HEPA_NN_WINO_GROUP * TT * HEPA_NN_WINO_CB_CHUNK
           * LANES * LANES
         <= hepa_nn_winograd_scratch_size (c_in, c_out, n, h, w))
    {
      g.shared = 1;
      hepa_nn_team_run (blocks, wino_input_team_job, &g);
    }
  hepa_nn_team_run (groups * g.co_parts, wino_team_job, &g);
}
