/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Synthetic B-mode liver phantoms: a scatterer-based ultrasound simulator.
 *
 * Pipeline for one image (all lengths in mm, beam space = (line, depth sample)):
 *   1. scene: probe, acquisition settings, body wall, liver, vessels, gallbladder, diaphragm and
 *      the lesion are drawn from class-specific ranges with a counter-based generator;
 *   2. tissue lattice: for every beam-space cell the tissue there gives a backscatter level (dB),
 *      a scatterer density (per mm^2) and an attenuation (dB/cm/MHz); the cell gets its random
 *      point scatterers (explicitly, as Poisson-many unit phasors, when sparse; as their
 *      complex-Gaussian sum when dense) scaled by the two-way attenuation accumulated along the
 *      beam, so posterior enhancement and shadowing come out of the physics;
 *   3. lateral PSF: a Gaussian beam whose width follows the focus (narrowest at the focal depth);
 *      a cine frame samples the lattice at a sub-line offset, which is a slow probe sweep;
 *   4. electronic noise, then the axial PSF;
 *   5. envelope, time-gain compensation, log compression and a grey map;
 *   6. scan conversion from (angle, depth) to the Cartesian image with bilinear interpolation.
 *
 * I/Q demodulation is done analytically: a scatterer at depth z contributes to the RF line
 * a * g(t - z) * cos (2 k0 (t - z)), a Gaussian-modulated cosine; mixing down by the carrier and
 * low-pass filtering leaves a * g(t - z) * exp (-2i k0 z). The simulator therefore stores each
 * scatterer as that complex phasor and convolves with the Gaussian envelope g, which is the
 * baseband (I/Q) signal of the RF line, sampled at the envelope's bandwidth instead of the
 * carrier's. The detected envelope is its modulus.
 *
 * Textbook appearance of each class, and where it comes from:
 *   - Simple cyst: anechoic, thin bright wall brightest where the beam meets it at right angles,
 *     posterior acoustic enhancement, refractive edge shadows beneath the lateral margins.
 *     (Bartolotta TV, Taibbi A, Midiri M, Lagalla R. "Focal liver lesions: contrast-enhanced
 *     ultrasound." Abdom Imaging 2009;34:193-209; Harvey CJ, Albrecht T. "Ultrasound of focal
 *     liver lesions." Eur Radiol 2001;11:1578-93; Rumack CM, Wilson SR, Charboneau JW.
 *     Diagnostic Ultrasound, 4th ed. 2011, ch. 4 "The Liver".)
 *   - Hemangioma: well-defined, homogeneous, hyperechoic, often lobulated margin, sometimes
 *     posterior enhancement; large ones may have a heterogeneous or hypoechoic centre.
 *     (Harvey & Albrecht 2001; Bartolotta et al. 2009; Rumack 2011.)
 *   - Hepatocellular carcinoma: small tumours hypoechoic; larger ones mixed "mosaic" (nodules
 *     separated by septa), a hypoechoic halo (fibrous capsule) with lateral shadows, irregular
 *     margin; background liver often cirrhotic (coarse, nodular). (Harvey & Albrecht 2001;
 *     Minami Y, Kudo M. "Hepatic malignancies: correlation between sonographic findings and
 *     pathological features." World J Radiol 2010;2:249-56; Rumack 2011.)
 *   - Focal fatty sparing: hypoechoic geographic area with straight or angular margins and no
 *     mass effect (vessels cross it undisplaced) in a bright, more attenuating fatty liver, near
 *     the gallbladder bed or along the portal vein. (Hamer OW et al. "Fatty liver: imaging
 *     patterns and pitfalls." RadioGraphics 2006;26:1637-53; Décarie PO et al. "Fatty liver
 *     deposition and sparing: a pictorial review." Insights Imaging 2011;2:533-8.)
 *   - Non-FLL: normal homogeneous parenchyma (about isoechoic to the renal cortex) or diffusely
 *     fatty liver (bright, with posterior attenuation and blurred deep vessels), sometimes coarse.
 *     (Hamer 2006; Rumack 2011.)
 */
#include "config.h"

#include "hepa-synth.h"

#include "hepa-error.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define BLOB_N 128
#define MAX_VESSELS 12
#define MAX_SEPTA 4
#define N_TGC_KNOTS 8
#define LN10_10 0.23025850929940458   /* ln (10) / 10 */
#define LN10_20 0.11512925464970229   /* ln (10) / 20 */

static const char *const class_names[HEPA_SYNTH_N_CLASSES] = {
  "non_fll", "cyst", "hemangioma", "ffs", "hcc",
};

/* ---- counter-based random numbers --------------------------------------------------------- */

/* splitmix64's finalizer: every draw is mix (key, counter), so a number never depends on how
 * many were drawn before it in another thread. */
static inline guint64
mix64 (guint64 z)
{
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline guint64
hash2 (guint64 key,
       guint64 counter)
{
  return mix64 (key ^ mix64 (counter * 0xd1b54a32d192ed03ull + 0x8cb92ba72f3d8dd7ull));
}

static inline double
unit53 (guint64 h)
{
  return (double) (h >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct
{
  guint64 key;
  guint64 counter;
} Rng;

static void
rng_init (Rng     *r,
          guint64  key)
{
  r->key = key;
  r->counter = 0;
}

static double
rng_uniform (Rng *r)
{
  return unit53 (hash2 (r->key, r->counter++));
}

static double
rng_range (Rng    *r,
           double  lo,
           double  hi)
{
  return lo + (hi - lo) * rng_uniform (r);
}

static gboolean
rng_chance (Rng    *r,
            double  p)
{
  return rng_uniform (r) < p;
}

static int
rng_int (Rng *r,
         int  lo,
         int  hi)
{
  int v = lo + (int) floor (rng_uniform (r) * (hi - lo + 1));

  return MIN (v, hi);
}

static guint64
derive_key (guint64 key,
            guint64 stream)
{
  return mix64 (key ^ mix64 (stream * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
}

/* Unit complex-Gaussian phasors (E |z|^2 = 1) from 64 random bits: a Rayleigh magnitude and a
 * uniform phase, each from 12 independent bits through a table of 4096 values (the magnitude's
 * inverse CDF at bin centres; its tail is cut at |z|^2 = 9, a 1e-4 event). */
#define PHASE_BITS 12
static float phase_table[2 << PHASE_BITS];   /* (4096, 2): cos, sin */
static float rayleigh_table[1 << PHASE_BITS];

static void
phase_table_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (int k = 0; k < (1 << PHASE_BITS); k++)
        {
          phase_table[2 * k] = (float) cos (2.0 * G_PI * k / (1 << PHASE_BITS));
          phase_table[2 * k + 1] = (float) sin (2.0 * G_PI * k / (1 << PHASE_BITS));
          rayleigh_table[k] = (float) sqrt (-log ((k + 0.5) / (1 << PHASE_BITS)));
        }
      g_once_init_leave (&done, 1);
    }
}

static inline void
random_phasor (guint64  h,
               float    scale,
               float   *re,
               float   *im)
{
  float m = scale * rayleigh_table[(h >> 40) & ((1u << PHASE_BITS) - 1)];
  guint idx = (guint) (h & ((1u << PHASE_BITS) - 1));

  *re = m * phase_table[2 * idx];
  *im = m * phase_table[2 * idx + 1];
}

/* log2 (x) for normal positive floats, within 2e-4: the exponent plus a quartic fitted to the
 * mantissa on [1, 2). Good to 1e-3 dB, far below a grey level. */
static inline float
fast_log2 (float x)
{
  union { float f; guint32 i; } u = { x };
  float e = (float) ((int) ((u.i >> 23) & 0xff) - 127);
  float m;

  u.i = (u.i & 0x007fffffu) | 0x3f800000u;
  m = u.f;
  return e + ((((-0.07914958f * m + 0.62880993f) * m - 2.08104478f) * m + 4.02835522f) * m
              - 2.49676653f);
}

/* atan (y / x) for x > 0, within 2e-6 rad (a minimax odd polynomial on [-1, 1]). */
static inline float
fast_atan_ratio (float y,
                 float x)
{
  gboolean swap = fabsf (y) > x;
  float t = swap ? x / y : y / x, t2 = t * t;
  float a = t * (0.99997726f + t2 * (-0.33262347f + t2 * (0.19354346f + t2 * (-0.11643287f
            + t2 * (0.05265332f + t2 * -0.01172120f)))));

  if (swap)
    a = (t > 0.0f ? (float) G_PI_2 : (float) -G_PI_2) - a;
  return a;
}

/* ---- procedural textures ---------------------------------------------------------------- */

static inline float
lattice_value (guint64 key,
               gint64  ix,
               gint64  iz)
{
  guint64 h = hash2 (key, ((guint64) (guint32) ix << 32) | (guint64) (guint32) iz);

  return (float) (h >> 40) * (1.0f / 16777216.0f);
}

/* Smooth value noise on a unit lattice, in [0, 1). */
static float
value_noise (guint64 key,
             double  x,
             double  z)
{
  double fx = floor (x), fz = floor (z);
  gint64 ix = (gint64) fx, iz = (gint64) fz;
  float tx = (float) (x - fx), tz = (float) (z - fz);
  float a, b, c, d;

  tx = tx * tx * (3.0f - 2.0f * tx);
  tz = tz * tz * (3.0f - 2.0f * tz);
  a = lattice_value (key, ix, iz);
  b = lattice_value (key, ix + 1, iz);
  c = lattice_value (key, ix, iz + 1);
  d = lattice_value (key, ix + 1, iz + 1);
  return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * tz;
}

/* Cellular (Worley) noise on a unit lattice: the random value in [0, 1) of the nearest feature
 * point, and in @edge the distance margin to the second nearest (small on a septum). */
static float
cell_noise (guint64  key,
            double   x,
            double   z,
            float   *edge)
{
  double fx = floor (x), fz = floor (z);
  gint64 ix = (gint64) fx, iz = (gint64) fz;
  double d1 = 1e9, d2 = 1e9;
  float value = 0.0f;

  for (int dz = -1; dz <= 1; dz++)
    for (int dx = -1; dx <= 1; dx++)
      {
        guint64 h = hash2 (key, ((guint64) (guint32) (ix + dx) << 32) | (guint32) (iz + dz));
        double px = fx + dx + (double) (h & 0xffff) / 65536.0;
        double pz = fz + dz + (double) ((h >> 16) & 0xffff) / 65536.0;
        double d = (px - x) * (px - x) + (pz - z) * (pz - z);

        if (d < d1)
          {
            d2 = d1;
            d1 = d;
            value = (float) (h >> 40) * (1.0f / 16777216.0f);
          }
        else if (d < d2)
          {
            d2 = d;
          }
      }
  *edge = (float) (sqrt (d2) - sqrt (d1));
  return value;
}

/* ---- shapes ------------------------------------------------------------------------------ */

/* A star-shaped region: an ellipse (centre, semi-axes, rotation) whose normalized radius
 * follows a table rho (phi), so margins can be smooth, lobulated or angular. */
typedef struct
{
  double cx, cz;
  double ax, az;
  double cos_r, sin_r;
  double extent;                 /* mm from the centre that bounds the shape and its margins */
  float  rho[BLOB_N + 1];        /* phi = -pi + 2 pi i / BLOB_N */
} Blob;

static void
blob_set_frame (Blob   *b,
                double  cx,
                double  cz,
                double  ax,
                double  az,
                double  rotation,
                double  margin)
{
  float rho_max = 0.0f;

  b->cx = cx;
  b->cz = cz;
  b->ax = ax;
  b->az = az;
  b->cos_r = cos (rotation);
  b->sin_r = sin (rotation);
  b->rho[BLOB_N] = b->rho[0];
  for (int i = 0; i < BLOB_N; i++)
    rho_max = MAX (rho_max, b->rho[i]);
  b->extent = rho_max * MAX (ax, az) + margin;
}

/* Smooth or lobulated margin: low harmonics with amplitude falling as 1/k. */
static void
blob_init_harmonic (Blob   *b,
                    Rng    *r,
                    double  cx,
                    double  cz,
                    double  ax,
                    double  az,
                    double  rotation,
                    double  roughness,
                    double  margin)
{
  double amp[7], phase[7];

  for (int k = 2; k <= 6; k++)
    {
      amp[k] = roughness * rng_range (r, 0.3, 1.0) * 2.0 / k;
      phase[k] = rng_range (r, 0.0, 2.0 * G_PI);
    }
  for (int i = 0; i < BLOB_N; i++)
    {
      double phi = -G_PI + 2.0 * G_PI * i / BLOB_N;
      double rho = 1.0;

      for (int k = 2; k <= 6; k++)
        rho += amp[k] * cos (k * phi + phase[k]);
      b->rho[i] = (float) MAX (rho, 0.5);
    }
  blob_set_frame (b, cx, cz, ax, az, rotation, margin);
}

/* Geographic margin: a polygon of 3..6 vertices with slightly rounded corners. */
static void
blob_init_polygon (Blob   *b,
                   Rng    *r,
                   double  cx,
                   double  cz,
                   double  ax,
                   double  az,
                   double  rotation,
                   double  margin)
{
  int n = rng_int (r, 3, 6);
  double vx[7], vz[7], angle0 = rng_range (r, 0.0, 2.0 * G_PI);
  float raw[BLOB_N];

  for (int j = 0; j < n; j++)
    {
      double a = angle0 + 2.0 * G_PI * (j + rng_range (r, -0.2, 0.2)) / n;
      double rad = rng_range (r, 0.8, 1.25);

      vx[j] = rad * cos (a);
      vz[j] = rad * sin (a);
    }
  vx[n] = vx[0];
  vz[n] = vz[0];

  for (int i = 0; i < BLOB_N; i++)
    {
      double phi = -G_PI + 2.0 * G_PI * i / BLOB_N;
      double dx = cos (phi), dz = sin (phi);
      double best = 0.0;

      /* The ray from the centre meets exactly one edge of a star-shaped polygon. */
      for (int j = 0; j < n; j++)
        {
          double ex = vx[j + 1] - vx[j], ez = vz[j + 1] - vz[j];
          double den = dx * ez - dz * ex;
          double t, s;

          if (fabs (den) < 1e-12)
            continue;
          t = (vx[j] * ez - vz[j] * ex) / den;
          s = (vx[j] * dz - vz[j] * dx) / den;
          if (t > 0.0 && s >= -1e-9 && s <= 1.0 + 1e-9)
            best = MAX (best, t);
        }
      raw[i] = (float) CLAMP (best, 0.3, 1.6);
    }
  for (int i = 0; i < BLOB_N; i++)
    b->rho[i] = (raw[(i + BLOB_N - 2) % BLOB_N] + raw[(i + BLOB_N - 1) % BLOB_N] + raw[i]
                 + raw[(i + 1) % BLOB_N] + raw[(i + 2) % BLOB_N]) / 5.0f;
  blob_set_frame (b, cx, cz, ax, az, rotation, margin);
}

/* Approximate signed distance in mm to the margin (negative inside). */
static double
blob_sdist (const Blob *b,
            double      x,
            double      z)
{
  double dx = x - b->cx, dz = z - b->cz;
  double lx, lz, rho, phi, t, rb, scale;
  int i;

  if (fabs (dx) > b->extent || fabs (dz) > b->extent)
    return 1e9;
  lx = (dx * b->cos_r + dz * b->sin_r) / b->ax;
  lz = (-dx * b->sin_r + dz * b->cos_r) / b->az;
  rho = sqrt (lx * lx + lz * lz);
  if (rho < 1e-9)
    return -MIN (b->ax, b->az) * b->rho[0];
  phi = atan2 (lz, lx);
  t = (phi + G_PI) * (BLOB_N / (2.0 * G_PI));
  i = CLAMP ((int) t, 0, BLOB_N - 1);
  t -= i;
  rb = b->rho[i] * (1.0 - t) + b->rho[i + 1] * t;
  scale = sqrt (lx * lx * b->ax * b->ax + lz * lz * b->az * b->az) / rho;
  return (rho - rb) * scale;
}

/* Boundary point @i (of BLOB_N) in mm, pushed out by @outset mm. */
static void
blob_point (const Blob *b,
            int         i,
            double      outset,
            double     *x,
            double     *z)
{
  double phi = -G_PI + 2.0 * G_PI * i / BLOB_N;
  double lx = b->rho[i] * cos (phi) * b->ax, lz = b->rho[i] * sin (phi) * b->az;
  double len = sqrt (lx * lx + lz * lz);

  if (len > 1e-9)
    {
      lx += outset * lx / len;
      lz += outset * lz / len;
    }
  *x = b->cx + lx * b->cos_r - lz * b->sin_r;
  *z = b->cz + lx * b->sin_r + lz * b->cos_r;
}

#define VESSEL_SEGS 3

/* A vessel cut by the image plane: a gently curved, tapering tube (a polyline of three
 * segments), or a short one seen in cross-section. */
typedef struct
{
  double   px[VESSEL_SEGS + 1], pz[VESSEL_SEGS + 1];
  double   r_start, r_end;
  double   wall;               /* mm */
  double   wall_db;            /* portal walls are bright, hepatic vein walls barely seen */
  gboolean portal;
  double   minx, maxx, minz, maxz;
} Vessel;

static void
vessel_finish (Vessel *v)
{
  double m = MAX (v->r_start, v->r_end) + v->wall + 0.5;

  v->minx = v->maxx = v->px[0];
  v->minz = v->maxz = v->pz[0];
  for (int k = 1; k <= VESSEL_SEGS; k++)
    {
      v->minx = MIN (v->minx, v->px[k]);
      v->maxx = MAX (v->maxx, v->px[k]);
      v->minz = MIN (v->minz, v->pz[k]);
      v->maxz = MAX (v->maxz, v->pz[k]);
    }
  v->minx -= m;
  v->maxx += m;
  v->minz -= m;
  v->maxz += m;
}

/* Signed distance in mm from the lumen's surface (negative in the lumen); the unit normal
 * away from the axis in @nx, @nz. */
static double
vessel_dist (const Vessel *v,
             double        x,
             double        z,
             double       *nx,
             double       *nz)
{
  double best = 1e9;

  *nx = 0.0;
  *nz = 1.0;
  for (int k = 0; k < VESSEL_SEGS; k++)
    {
      double ex = v->px[k + 1] - v->px[k], ez = v->pz[k + 1] - v->pz[k];
      double len2 = ex * ex + ez * ez;
      double t = len2 > 1e-12 ? ((x - v->px[k]) * ex + (z - v->pz[k]) * ez) / len2 : 0.0;
      double qx, qz, d, radius;

      t = CLAMP (t, 0.0, 1.0);
      qx = x - (v->px[k] + t * ex);
      qz = z - (v->pz[k] + t * ez);
      d = sqrt (qx * qx + qz * qz);
      radius = v->r_start + (v->r_end - v->r_start) * (k + t) / VESSEL_SEGS;
      if (d - radius < best)
        {
          best = d - radius;
          *nx = d > 1e-9 ? qx / d : 0.0;
          *nz = d > 1e-9 ? qz / d : 1.0;
        }
    }
  return best;
}

/* ---- the scene -------------------------------------------------------------------------- */

typedef struct
{
  gboolean sector;
  double   r0;                 /* sector: radius of curvature of the probe face */
  double   half_angle;         /* sector: radians */
  double   half_width;         /* linear: mm */
  double   depth;              /* mm along the beam */
  int      n_lines;
  int      n_rows;
  double   du;                 /* line pitch: radians (sector) or mm (linear) */
  double   u_first;
  double   dv;                 /* sample step along the beam, mm */
  double   mm_px;
  double   ox, oz;             /* pixel coordinates of the skin centre (x = 0, z = 0) */
  HepaRect region;
} Geometry;

typedef struct
{
  HepaSynthClass klass;
  Geometry       g;
  guint64        key_cells, key_noise, key_tex, key_tex2, key_mosaic;

  /* Acquisition. */
  double f_mhz;
  double sigma_ax, sigma_lat_focus, focus, rayleigh_len;
  double focal_gain_db;
  double gain_db, dyn_range_db, gamma;
  double tgc_alpha, tgc_knots[N_TGC_KNOTS];
  double noise_db, tgc_max_db;
  double frame_time_ms, sweep_lines_per_frame;
  double smooth_centre;                   /* scanner's speckle-reduction filter [1 c 1] */

  /* Body wall, depths along the beam. */
  double skin_t, fat_end, muscle_end, liver_top;
  double fat_db, muscle_db, fascia_db;
  double septa_v[MAX_SEPTA], septa_slope[MAX_SEPTA];
  int    n_septa;
  double liver_wave_a, liver_wave_k, liver_wave_p;

  /* Liver. */
  double   liver_db, liver_alpha, liver_density;
  gboolean fatty, coarse;
  double   fine_db, fine_scale, coarse_db, coarse_scale;

  /* Diaphragm: a circle around the liver dome; beyond it, lung and mirror artefact. */
  gboolean has_diaphragm;
  double   dia_x, dia_z, dia_r, dia_t, dia_db, beyond_db;

  gboolean has_gb;
  Blob     gb;
  double   gb_wall, gb_wall_db;

  Vessel vessels[MAX_VESSELS];
  int    n_vessels;

  /* Lesion (or the spared area for FFS). */
  gboolean has_lesion;
  Blob     lesion;
  double   les_db, les_alpha, les_density;
  double   les_het_db, les_het_scale;
  double   rim_w, rim_db, rim_alpha;      /* cyst wall / HCC halo */
  gboolean has_rim;
  gboolean mosaic;
  double   mosaic_cell, mosaic_db, septum_w, septum_db;
  gboolean hypo_centre;                   /* atypical hemangioma */
  double   hypo_centre_db;
  double   soft_edge;

  HepaRect truth;
  HepaRect roi;
  gboolean has_avoid;                     /* vessels keep out of this box (mm): masses */
  double   avoid_x0, avoid_z0, avoid_x1, avoid_z1;
} Scene;

typedef struct
{
  float  db;                   /* backscatter level relative to normal liver */
  float  density;              /* scatterers per mm^2 */
  float  alpha;                /* dB / cm / MHz */
  float  tex_weight;           /* how much of the parenchyma texture to add to db */
  guint8 label;
} Tissue;

/* Brightness of a specular interface: strongest where the beam meets it at right angles. */
static inline double
specular_db (double nx,
             double nz,
             double bx,
             double bz)
{
  double c = nx * bx + nz * bz;

  return 10.0 * log10 (0.08 + 0.92 * c * c);
}

static void
body_wall (const Scene *s,
           double       x,
           double       v,
           Tissue      *t)
{
  t->label = HEPA_SYNTH_LABEL_BODY_WALL;
  if (v < s->skin_t)
    {
      t->db = 8.0f;
      t->density = 40.0f;
      t->alpha = 1.2f;
    }
  else if (v < s->fat_end)
    {
      /* Subcutaneous fat: hypoechoic, sparse scatterers, bright fibrous septa. */
      t->db = (float) s->fat_db;
      t->density = 4.0f;
      t->alpha = 0.6f;
      for (int k = 0; k < s->n_septa; k++)
        if (fabs (v - (s->septa_v[k] + s->septa_slope[k] * x)) < 0.35)
          {
            t->db = 3.0f;
            t->density = 30.0f;
          }
    }
  else if (v < s->muscle_end)
    {
      /* Muscle: mid-grey with fine echogenic striations (perimysium) along the fibres. */
      double phase = (v - s->fat_end + 0.04 * x) * (2.0 * G_PI / 1.6);

      t->db = (float) (s->muscle_db + (sin (phase) > 0.75 ? 6.0 : 0.0));
      t->density = 20.0f;
      t->alpha = 1.0f;
    }
  else
    {
      /* Fascia and peritoneum: a bright line over the liver capsule. */
      t->db = (float) s->fascia_db;
      t->density = 40.0f;
      t->alpha = 1.0f;
    }
}

static inline double
liver_top_at (const Scene *s,
              double       x)
{
  return s->liver_top + s->liver_wave_a * sin (x * s->liver_wave_k + s->liver_wave_p);
}

/* Echotexture of the parenchyma at (x, z), in dB: a low-frequency variation and, if cirrhotic,
 * a coarse nodular one. The lattice samples it every few rows (it varies over millimetres). */
static double
parenchyma_texture (const Scene *s,
                    double       x,
                    double       z)
{
  double db = s->fine_db * (2.0 * value_noise (s->key_tex, x / s->fine_scale,
                                               z / s->fine_scale) - 1.0);

  if (s->coarse)
    db += s->coarse_db * (2.0 * value_noise (s->key_tex2, x / s->coarse_scale,
                                             z / s->coarse_scale) - 1.0);
  return db;
}

static inline void
parenchyma (const Scene *s,
            Tissue      *t)
{
  t->db = (float) s->liver_db;
  t->tex_weight = 1.0f;
  t->density = (float) s->liver_density;
  t->alpha = (float) s->liver_alpha;
  t->label = HEPA_SYNTH_LABEL_LIVER;
}

/* Reverberation inside fluid: faint copies of the bright body-wall interfaces at multiples of
 * their depth, the artefact that fills the near part of cysts and the gallbladder. */
static inline double
reverberation_db (const Scene *s,
                  double       v)
{
  for (int k = 2; k <= 3; k++)
    if (fabs (v - k * s->muscle_end) < 0.8)
      return -14.0 - 6.0 * k;
  return -60.0;
}

static void
lesion_interior (const Scene *s,
                 double       x,
                 double       z,
                 double       v,
                 double       d,
                 double       bx,
                 double       bz,
                 Tissue      *t)
{
  t->label = HEPA_SYNTH_LABEL_LESION;
  t->alpha = (float) s->les_alpha;
  t->density = (float) s->les_density;

  switch (s->klass)
    {
    case HEPA_SYNTH_CYST:
      if (d >= 0.0)
        {
          double nx = x - s->lesion.cx, nz = z - s->lesion.cz, n = sqrt (nx * nx + nz * nz);

          /* The wall: specular, and refracting/defocusing the beam that grazes it. The extra
           * attenuation in the wall turns into edge shadows because a grazing beam crosses
           * several millimetres of wall while a central beam crosses about one. */
          t->db = (float) (s->rim_db + specular_db (nx / MAX (n, 1e-9), nz / MAX (n, 1e-9),
                                                    bx, bz));
          t->alpha = (float) s->rim_alpha;
          t->density = 40.0f;
          t->label = HEPA_SYNTH_LABEL_LESION_RIM;
        }
      else
        {
          t->db = (float) MAX (s->les_db, reverberation_db (s, v));
        }
      return;

    case HEPA_SYNTH_HEMANGIOMA:
      t->db = (float) (s->les_db
                       + s->les_het_db * (2.0 * value_noise (s->key_tex2, x / s->les_het_scale,
                                                             z / s->les_het_scale) - 1.0));
      if (s->hypo_centre && d < -0.45 * MIN (s->lesion.ax, s->lesion.az))
        t->db = (float) (t->db + s->hypo_centre_db);
      return;

    case HEPA_SYNTH_HCC:
      if (s->has_rim && d > -s->rim_w)
        {
          t->db = (float) s->rim_db;
          t->alpha = (float) s->rim_alpha;
          t->label = HEPA_SYNTH_LABEL_LESION_RIM;
          return;
        }
      {
        double db = s->les_db
                    + s->les_het_db * (2.0 * value_noise (s->key_tex2, x / s->les_het_scale,
                                                          z / s->les_het_scale) - 1.0);
        if (s->mosaic)
          {
            float edge;
            float val = cell_noise (s->key_mosaic, x / s->mosaic_cell, z / s->mosaic_cell,
                                    &edge);

            db += s->mosaic_db * (2.0 * val - 1.0);
            if (edge * s->mosaic_cell < s->septum_w)
              db += s->septum_db;
          }
        t->db = (float) db;
      }
      return;

    case HEPA_SYNTH_FFS:
    case HEPA_SYNTH_NON_FLL:
    case HEPA_SYNTH_N_CLASSES:
    default:
      g_assert_not_reached ();
    }
}

/* The tissue at physical (x, z), depth @v along the beam whose direction is (bx, bz). */
static void
scene_eval (const Scene *s,
            double       x,
            double       z,
            double       v,
            double       bx,
            double       bz,
            Tissue      *t)
{
  double ltop = v < s->liver_top + s->liver_wave_a + 1.0 ? liver_top_at (s, x) : s->liver_top;
  double d_ffs = 1e9;

  t->tex_weight = 0.0f;
  if (v < ltop)
    {
      body_wall (s, x, v, t);
      return;
    }

  if (s->has_diaphragm)
    {
      double dx = x - s->dia_x, dz = z - s->dia_z;
      double rr = sqrt (dx * dx + dz * dz);
      double dd = rr - s->dia_r;

      if (dd > -0.5 * s->dia_t)
        {
          t->label = HEPA_SYNTH_LABEL_BEYOND;
          if (dd < 0.5 * s->dia_t)
            {
              /* Diaphragm / lung interface: the brightest specular echo in the image. */
              t->db = (float) (s->dia_db + specular_db (dx / rr, dz / rr, bx, bz));
              t->density = 60.0f;
              t->alpha = 1.5f;
            }
          else
            {
              /* Past it: the mirror-image artefact of the liver, dimmer and coarser. */
              t->db = (float) (s->beyond_db
                               + 3.0 * (2.0 * value_noise (s->key_tex2, x / 3.0, z / 3.0) - 1.0));
              t->density = 25.0f;
              t->alpha = 1.2f;
            }
          return;
        }
    }

  if (v < ltop + 0.9)
    {
      /* Liver capsule. */
      t->db = 4.0f;
      t->density = 40.0f;
      t->alpha = (float) s->liver_alpha;
      t->label = HEPA_SYNTH_LABEL_LIVER;
      return;
    }

  if (s->has_gb)
    {
      double d = blob_sdist (&s->gb, x, z);

      if (d < s->gb_wall)
        {
          t->label = HEPA_SYNTH_LABEL_GALLBLADDER;
          if (d < 0.0)
            {
              t->db = (float) MAX (-36.0, reverberation_db (s, v));
              t->density = 0.5f;
              t->alpha = 0.005f;   /* bile: almost no attenuation -> posterior enhancement */
            }
          else
            {
              double nx = x - s->gb.cx, nz = z - s->gb.cz, n = MAX (sqrt (nx * nx + nz * nz), 1e-9);

              t->db = (float) (s->gb_wall_db + specular_db (nx / n, nz / n, bx, bz));
              t->density = 40.0f;
              t->alpha = 1.0f;
            }
          return;
        }
    }

  if (s->has_lesion)
    {
      double d = blob_sdist (&s->lesion, x, z);

      if (s->klass == HEPA_SYNTH_FFS)
        {
          d_ffs = d;
        }
      else
        {
          double outer = s->klass == HEPA_SYNTH_CYST ? s->rim_w : 0.0;

          if (d < outer)
            {
              lesion_interior (s, x, z, v, d, bx, bz, t);
              return;
            }
        }
    }

  /* Vessels cross the spared area of FFS undisplaced (no mass effect), so they come after it;
   * a true mass hides them (checked above). */
  for (int k = 0; k < s->n_vessels; k++)
    {
      const Vessel *ve = &s->vessels[k];
      double nx, nz, d;

      if (x < ve->minx || x > ve->maxx || z < ve->minz || z > ve->maxz)
        continue;
      d = vessel_dist (ve, x, z, &nx, &nz);
      if (d < ve->wall)
        {
          t->label = HEPA_SYNTH_LABEL_VESSEL;
          if (d < 0.0)
            {
              t->db = -32.0f;
              t->density = 2.0f;
              t->alpha = 0.3f;    /* blood, and the beam's refraction at the walls */
            }
          else
            {
              t->db = (float) (ve->portal ? ve->wall_db + specular_db (nx, nz, bx, bz)
                                          : s->liver_db + ve->wall_db);
              t->density = 40.0f;
              t->alpha = (float) s->liver_alpha;
            }
          return;
        }
    }

  parenchyma (s, t);
  if (d_ffs < s->soft_edge)
    {
      /* Spared parenchyma: normal liver level and attenuation, sharp but unencapsulated edge. */
      double w = d_ffs <= -s->soft_edge ? 1.0 : 0.5 - 0.5 * d_ffs / s->soft_edge;
      double spared = s->les_db
                      + s->les_het_db * (2.0 * value_noise (s->key_tex2, x / s->les_het_scale,
                                                            z / s->les_het_scale) - 1.0);

      t->db = (float) (t->db + w * (spared - t->db));
      t->tex_weight = (float) (1.0 - w);
      t->alpha = (float) (t->alpha + w * (s->les_alpha - t->alpha));
      if (d_ffs < 0.0)
        t->label = HEPA_SYNTH_LABEL_LESION;
    }
}

/* ---- geometry ------------------------------------------------------------------------------ */

/* Beam coordinates (u, v) of physical (x, z). */
static inline void
xz_to_beam (const Geometry *g,
            double          x,
            double          z,
            double         *u,
            double         *v)
{
  if (g->sector)
    {
      double zz = z + g->r0;

      *u = atan2 (x, zz);
      *v = sqrt (x * x + zz * zz) - g->r0;
    }
  else
    {
      *u = x;
      *v = z;
    }
}

/* Is (x, z) inside the imaged field, at least @margin mm from its sides and bottom? */
static gboolean
in_field (const Geometry *g,
          double          x,
          double          z,
          double          margin)
{
  double u, v;

  xz_to_beam (g, x, z, &u, &v);
  if (v > g->depth - margin)
    return FALSE;
  if (g->sector)
    return fabs (u) * (g->r0 + MAX (v, 0.0)) < g->half_angle * (g->r0 + MAX (v, 0.0)) - margin;
  return fabs (u) < g->half_width - margin;
}

static void
geometry_init (Geometry       *g,
               Rng            *r,
               HepaSynthProbe  probe,
               int             width,
               int             height)
{
  double xmin, xmax, zmin, zmax, top_px, px_w, px_h;

  g->sector = probe == HEPA_SYNTH_PROBE_CURVED;
  if (g->sector)
    {
      g->r0 = rng_range (r, 40.0, 60.0);
      g->half_angle = rng_range (r, 30.0, 37.0) * G_PI / 180.0;
      g->depth = rng_range (r, 110.0, 165.0);
      xmax = (g->r0 + g->depth) * sin (g->half_angle);
      zmin = g->r0 * cos (g->half_angle) - g->r0;
    }
  else
    {
      g->half_width = rng_range (r, 19.0, 23.0);
      g->depth = rng_range (r, 45.0, 75.0);
      xmax = g->half_width;
      zmin = 0.0;
    }
  xmin = -xmax;
  zmax = g->depth;

  /* Fit the field into the image as scanners do: centred, a small top margin. */
  top_px = MAX (4.0, height * 0.04);
  px_w = (xmax - xmin) / (width * 0.94);
  px_h = (zmax - zmin) / (height - top_px - MAX (3.0, height * 0.03));
  g->mm_px = MAX (px_w, px_h);
  g->ox = width / 2.0;
  g->oz = top_px - zmin / g->mm_px;
  g->region.x = (int) floor (g->ox + xmin / g->mm_px);
  g->region.y = (int) floor (top_px);
  g->region.width = (int) ceil (g->ox + xmax / g->mm_px) - g->region.x;
  g->region.height = (int) ceil (g->oz + zmax / g->mm_px) - g->region.y;
  hepa_rect_clamp (&g->region, width, height);

  /* Beam sampling: lines about 0.4 per displayed pixel of width; samples at half a pixel or
   * finer, bounded by the axial resolution. */
  g->n_lines = CLAMP ((int) lround (width * 0.4), 48, 800);
  if (g->sector)
    {
      g->du = 2.0 * g->half_angle / (g->n_lines - 1);
      g->u_first = -g->half_angle;
    }
  else
    {
      g->du = 2.0 * g->half_width / (g->n_lines - 1);
      g->u_first = -g->half_width;
    }
  g->dv = CLAMP (g->mm_px * 0.6, 0.06, 0.25);
  g->n_rows = (int) ceil (g->depth / g->dv);
}

static void
world_to_px (const Geometry *g,
             double          x,
             double          z,
             double         *px,
             double         *py)
{
  *px = g->ox + x / g->mm_px;
  *py = g->oz + z / g->mm_px;
}

/* ---- scene drawing ------------------------------------------------------------------------- */

/* Tries to place a disc of radius @rad (mm) in the liver, clear of the field's edges, the
 * diaphragm, the gallbladder and @avoid (may be NULL). */
static gboolean
place_in_liver (const Scene *s,
                Rng         *r,
                double       rad,
                const Blob  *avoid,
                double      *cx,
                double      *cz)
{
  const Geometry *g = &s->g;
  double zlo = s->liver_top + s->liver_wave_a + rad + 4.0;
  double zhi = g->depth - rad - 5.0;

  if (zhi <= zlo)
    return FALSE;
  for (int attempt = 0; attempt < 60; attempt++)
    {
      double z = rng_range (r, zlo, zhi);
      double half = g->sector ? (g->r0 + z) * sin (g->half_angle) : g->half_width;
      double x = rng_range (r, -half, half);
      gboolean ok = TRUE;

      /* The probe points ring the disc; a smaller structure could still sit inside it. */
      if (s->has_gb && blob_sdist (&s->gb, x, z) < rad + s->gb_wall + 3.0)
        ok = FALSE;
      if (avoid != NULL && blob_sdist (avoid, x, z) < rad + 3.0)
        ok = FALSE;

      for (int k = 0; k < 12 && ok; k++)
        {
          double a = 2.0 * G_PI * k / 12.0;
          double px = x + (rad + 3.0) * cos (a), pz = z + (rad + 3.0) * sin (a);

          if (!in_field (g, px, pz, 2.0) || pz < liver_top_at (s, px) + 3.0)
            ok = FALSE;
          else if (s->has_diaphragm
                   && hypot (px - s->dia_x, pz - s->dia_z) > s->dia_r - s->dia_t - 2.0)
            ok = FALSE;
          else if (s->has_gb && blob_sdist (&s->gb, px, pz) < s->gb_wall + 2.0)
            ok = FALSE;
          else if (avoid != NULL && blob_sdist (avoid, px, pz) < 2.0)
            ok = FALSE;
        }
      if (ok)
        {
          *cx = x;
          *cz = z;
          return TRUE;
        }
    }
  return FALSE;
}

static Vessel *
add_vessel (Scene    *s,
            Rng      *r,
            double    cx,
            double    cz,
            double    angle,
            gboolean  portal,
            double    radius,
            double    length)
{
  Vessel *ve;
  double bend = rng_range (r, -0.5, 0.5), dx, dz, mx, mz;

  if (s->n_vessels >= MAX_VESSELS)
    return NULL;
  ve = &s->vessels[s->n_vessels++];
  ve->portal = portal;
  ve->r_start = radius;
  ve->r_end = radius * rng_range (r, 0.55, 1.0);
  ve->px[0] = 0.0;
  ve->pz[0] = 0.0;
  for (int k = 1; k <= VESSEL_SEGS; k++)
    {
      double a = angle + bend * (k - 2);

      ve->px[k] = ve->px[k - 1] + length / VESSEL_SEGS * cos (a);
      ve->pz[k] = ve->pz[k - 1] + length / VESSEL_SEGS * sin (a);
    }
  mx = 0.5 * (ve->px[1] + ve->px[2]);
  mz = 0.5 * (ve->pz[1] + ve->pz[2]);
  dx = cx - mx;
  dz = cz - mz;
  for (int k = 0; k <= VESSEL_SEGS; k++)
    {
      ve->px[k] += dx;
      ve->pz[k] += dz;
    }
  if (portal)
    {
      /* Portal triads: echogenic fibrofatty walls (Rumack 2011). */
      ve->wall = rng_range (r, 0.7, 1.4);
      ve->wall_db = rng_range (r, 7.0, 12.0);
    }
  else
    {
      ve->wall = 0.4;
      ve->wall_db = rng_range (r, 0.0, 2.0);
    }
  vessel_finish (ve);
  return ve;
}

static gboolean
vessel_enters_avoid (const Scene  *s,
                     const Vessel *ve)
{
  double m = MAX (ve->r_start, ve->r_end) + ve->wall + 1.5;

  if (!s->has_avoid)
    return FALSE;
  for (int k = 0; k < VESSEL_SEGS; k++)
    for (int q = 0; q <= 8; q++)
      {
        double x = ve->px[k] + (ve->px[k + 1] - ve->px[k]) * q / 8.0;
        double z = ve->pz[k] + (ve->pz[k + 1] - ve->pz[k]) * q / 8.0;

        if (x > s->avoid_x0 - m && x < s->avoid_x1 + m && z > s->avoid_z0 - m
            && z < s->avoid_z1 + m)
          return TRUE;
      }
  return FALSE;
}

static void
bbox_of_blob (const Scene *s,
              const Blob  *b,
              double       outset,
              int          width,
              int          height,
              HepaRect    *rect)
{
  double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;

  for (int i = 0; i < BLOB_N; i++)
    {
      double x, z, px, py;

      blob_point (b, i, outset, &x, &z);
      /* The gallbladder hides what it overlaps (fatty sparing at its bed). */
      if (s->has_gb && b != &s->gb && blob_sdist (&s->gb, x, z) < s->gb_wall)
        continue;
      world_to_px (&s->g, x, z, &px, &py);
      x0 = MIN (x0, px);
      y0 = MIN (y0, py);
      x1 = MAX (x1, px);
      y1 = MAX (y1, py);
    }
  rect->x = (int) floor (x0) - 1;
  rect->y = (int) floor (y0) - 1;
  rect->width = (int) ceil (x1) + 2 - rect->x;
  rect->height = (int) ceil (y1) + 2 - rect->y;
  hepa_rect_clamp (rect, width, height);
}

static void
scene_init (Scene                 *s,
            const HepaSynthParams *p)
{
  Geometry *g = &s->g;
  guint64 key = derive_key (derive_key (derive_key (p->seed, 0x5157), p->klass), p->index);
  Rng r;
  double bg_db, rad = 10.0;
  double les_x = 0, les_z = 0;
  gboolean placed = FALSE;

  memset (s, 0, sizeof *s);
  s->klass = p->klass;
  rng_init (&r, derive_key (key, 1));
  s->key_cells = derive_key (key, 2);
  s->key_noise = derive_key (key, 3);
  s->key_tex = derive_key (key, 4);
  s->key_tex2 = derive_key (key, 5);
  s->key_mosaic = derive_key (key, 6);

  geometry_init (g, &r, p->probe, p->width, p->height);

  /* Acquisition: frequency, resolution, focus, gain, dynamic range, TGC, noise. */
  s->f_mhz = g->sector ? rng_range (&r, 2.5, 4.5) : rng_range (&r, 5.0, 8.0);
  s->sigma_ax = rng_range (&r, 0.38, 0.52) * sqrt (3.5 / s->f_mhz);
  s->sigma_lat_focus = rng_range (&r, 0.7, 1.05) * sqrt (3.5 / s->f_mhz);
  s->focus = rng_range (&r, 0.35, 0.6) * g->depth;
  s->rayleigh_len = 0.3 * g->depth;
  s->focal_gain_db = rng_range (&r, 0.5, 2.5);
  s->gain_db = rng_range (&r, -3.5, 3.5);
  s->dyn_range_db = rng_range (&r, 50.0, 68.0);
  s->gamma = rng_range (&r, 0.85, 1.25);
  for (int k = 0; k < N_TGC_KNOTS; k++)
    s->tgc_knots[k] = rng_range (&r, -1.5, 1.5);
  s->noise_db = rng_range (&r, -84.0, -70.0) - (g->sector ? 0.0 : 10.0);
  s->tgc_max_db = -s->noise_db - rng_range (&r, 14.0, 24.0);
  s->frame_time_ms = rng_range (&r, 30.0, 50.0);
  s->smooth_centre = rng_range (&r, 1.5, 5.0);
  s->sweep_lines_per_frame = rng_range (&r, 0.15, 0.35) * (rng_chance (&r, 0.5) ? 1.0 : -1.0);

  /* Body wall. */
  s->skin_t = rng_range (&r, 1.0, 2.0);
  s->fat_end = s->skin_t + (g->sector ? rng_range (&r, 4.0, 20.0) : rng_range (&r, 2.0, 8.0));
  s->muscle_end = s->fat_end + (g->sector ? rng_range (&r, 5.0, 13.0) : rng_range (&r, 3.0, 7.0));
  s->liver_top = s->muscle_end + rng_range (&r, 1.0, 2.5);
  s->fat_db = rng_range (&r, -12.0, -6.0);
  s->muscle_db = rng_range (&r, -6.0, -2.0);
  s->fascia_db = rng_range (&r, 5.0, 10.0);
  s->n_septa = rng_int (&r, 1, MAX_SEPTA);
  for (int k = 0; k < s->n_septa; k++)
    {
      s->septa_v[k] = rng_range (&r, s->skin_t + 1.0, MAX (s->skin_t + 1.5, s->fat_end - 1.0));
      s->septa_slope[k] = rng_range (&r, -0.08, 0.08);
    }

  /* Background liver. Fatty liver: brighter and more attenuating (Hamer 2006). Cirrhosis:
   * coarse, nodular echotexture and a nodular surface. */
  switch (p->klass)
    {
    case HEPA_SYNTH_FFS:
      s->fatty = TRUE;
      s->coarse = rng_chance (&r, 0.1);
      break;
    case HEPA_SYNTH_HCC:
      s->fatty = rng_chance (&r, 0.15);
      s->coarse = rng_chance (&r, 0.5);
      break;
    case HEPA_SYNTH_NON_FLL:
      s->fatty = rng_chance (&r, 0.4);
      s->coarse = rng_chance (&r, 0.15);
      break;
    case HEPA_SYNTH_CYST:
    case HEPA_SYNTH_HEMANGIOMA:
    case HEPA_SYNTH_N_CLASSES:
    default:
      s->fatty = rng_chance (&r, 0.25);
      s->coarse = rng_chance (&r, 0.12);
      break;
    }
  s->liver_db = s->fatty ? rng_range (&r, 7.0, 12.0) : rng_range (&r, -1.0, 1.0);
  if (s->fatty && g->sector)
    {
      /* A fatty liver is scanned at a lower frequency to reach its depth. */
      double f = MIN (s->f_mhz, rng_range (&r, 2.2, 3.2));

      s->sigma_ax *= sqrt (s->f_mhz / f);
      s->sigma_lat_focus *= sqrt (s->f_mhz / f);
      s->f_mhz = f;
    }
  s->liver_alpha = s->fatty ? rng_range (&r, 0.75, 1.05) : rng_range (&r, 0.42, 0.6);
  s->liver_density = rng_range (&r, 30.0, 60.0);
  /* The sonographer sets the TGC for the liver in front of them: nearly right in a normal liver,
   * short of the extra attenuation of a fatty one, whose depth then fades (Hamer 2006). */
  s->tgc_alpha = s->liver_alpha * (s->fatty ? rng_range (&r, 0.72, 0.92)
                                             : rng_range (&r, 0.9, 1.08));
  s->fine_db = rng_range (&r, 0.5, 1.5);
  s->fine_scale = rng_range (&r, 6.0, 14.0);
  s->coarse_db = rng_range (&r, 1.5, 3.5);
  s->coarse_scale = rng_range (&r, 1.8, 3.5);
  s->liver_wave_a = s->coarse ? rng_range (&r, 0.6, 1.5) : rng_range (&r, 0.0, 0.6);
  s->liver_wave_k = s->coarse ? rng_range (&r, 0.3, 0.6) : rng_range (&r, 0.03, 0.1);
  s->liver_wave_p = rng_range (&r, 0.0, 2.0 * G_PI);
  bg_db = s->liver_db;

  /* Diaphragm: a bright curve deep in the field; a fatty liver often hides it. */
  s->has_diaphragm = g->sector && rng_chance (&r, 0.5);
  if (s->has_diaphragm)
    {
      double bottom = rng_range (&r, 0.8, 1.05) * g->depth;

      s->dia_x = rng_range (&r, -0.4, 0.4) * g->depth;
      s->dia_z = rng_range (&r, -0.6, 0.3) * g->depth;
      s->dia_r = bottom - s->dia_z;
      s->dia_t = rng_range (&r, 1.5, 3.0);
      s->dia_db = rng_range (&r, 14.0, 20.0);
      s->beyond_db = rng_range (&r, -8.0, -3.0);
    }

  /* Gallbladder: anechoic, bright wall, posterior enhancement; FFS sits by its bed. */
  s->has_gb = g->sector && rng_chance (&r, p->klass == HEPA_SYNTH_FFS ? 0.6 : 0.25);
  if (s->has_gb)
    {
      double ax = rng_range (&r, 20.0, 38.0), az = rng_range (&r, 9.0, 16.0);
      double gx, gz;

      s->gb_wall = rng_range (&r, 1.0, 2.5);
      s->gb_wall_db = rng_range (&r, 6.0, 11.0);
      s->has_gb = FALSE;
      memset (&s->gb, 0, sizeof s->gb);
      blob_init_harmonic (&s->gb, &r, 0, 0, ax, az, 0, 0.03, s->gb_wall + 1.0);
      if (place_in_liver (s, &r, ax, NULL, &gx, &gz))
        {
          blob_init_harmonic (&s->gb, &r, gx, gz, ax, az, rng_range (&r, -0.5, 0.5), 0.04,
                              s->gb_wall + 1.0);
          s->has_gb = TRUE;
        }
    }

  /* The lesion, by class. */
  s->soft_edge = 0.6;
  switch (p->klass)
    {
    case HEPA_SYNTH_CYST:
      rad = rng_range (&r, 5.0, 22.0);
      break;
    case HEPA_SYNTH_HEMANGIOMA:
      rad = rng_range (&r, 7.0, 21.0);
      break;
    case HEPA_SYNTH_HCC:
      rad = rng_range (&r, 7.0, 28.0);
      break;
    case HEPA_SYNTH_FFS:
      rad = rng_range (&r, 14.0, 28.0);
      break;
    case HEPA_SYNTH_NON_FLL:
    case HEPA_SYNTH_N_CLASSES:
    default:
      rad = rng_range (&r, 9.0, 22.0);
      break;
    }
  if (!g->sector)
    rad = MIN (rad, 0.32 * (g->depth - s->liver_top));

  if (p->klass == HEPA_SYNTH_FFS && s->has_gb)
    {
      /* Next to the gallbladder, on the liver side (Hamer 2006). */
      for (int attempt = 0; attempt < 24 && !placed; attempt++)
        {
          double a = rng_range (&r, -G_PI, 0.0);
          double dx = cos (a), dz = sin (a), t = 0.0;

          while (blob_sdist (&s->gb, s->gb.cx + t * dx, s->gb.cz + t * dz) < s->gb_wall
                 && t < 80.0)
            t += 0.5;
          les_x = s->gb.cx + (t + 0.85 * rad) * dx;
          les_z = s->gb.cz + (t + 0.85 * rad) * dz;
          placed = in_field (g, les_x, les_z, rad * 0.5)
                   && les_z - rad > liver_top_at (s, les_x) + 3.0;
        }
    }
  if (!placed)
    {
      for (int attempt = 0; attempt < 8 && !placed; attempt++)
        {
          /* A non-FLL box reaches out to its corners, about 1.45 times its half side;
           * irregular and geographic margins to about 1.3 times the radius. */
          double reach = p->klass == HEPA_SYNTH_NON_FLL ? 1.45
                         : p->klass == HEPA_SYNTH_HCC || p->klass == HEPA_SYNTH_FFS ? 1.3 : 1.1;

          placed = place_in_liver (s, &r, reach * rad, NULL, &les_x, &les_z);
          if (!placed)
            rad *= 0.8;
        }
      if (!placed)
        {
          rad = 4.0;
          les_x = 0.0;
          les_z = MIN (s->liver_top + 10.0, g->depth - 8.0);
        }
      if (p->klass == HEPA_SYNTH_FFS)
        {
          /* Along a portal branch that runs through the spared area. */
          add_vessel (s, &r, les_x + rng_range (&r, -0.3, 0.3) * rad,
                      les_z + rng_range (&r, -0.3, 0.3) * rad, rng_range (&r, 0.0, G_PI), TRUE,
                      rng_range (&r, 2.0, 4.0), rng_range (&r, 2.0, 3.0) * rad);
        }
    }

  {
    double aspect = 1.0, rot = rng_range (&r, -G_PI, G_PI);
    double ax, az;

    switch (p->klass)
      {
      case HEPA_SYNTH_CYST:
        aspect = rng_range (&r, 0.75, 1.0);
        ax = rad;
        az = rad * aspect;
        s->les_db = rng_range (&r, -42.0, -30.0);
        s->les_density = rng_range (&r, 0.1, 0.6);
        s->les_alpha = 0.005;           /* fluid: posterior enhancement */
        s->rim_w = rng_range (&r, 0.5, 1.0);
        s->rim_db = rng_range (&r, 9.0, 15.0) + 0.5 * (bg_db - 0.0);
        s->rim_alpha = rng_range (&r, 1.5, 3.0);
        s->has_rim = TRUE;
        blob_init_harmonic (&s->lesion, &r, les_x, les_z, ax, az, rot, 0.015, s->rim_w + 1.0);
        s->has_lesion = TRUE;
        break;

      case HEPA_SYNTH_HEMANGIOMA:
        aspect = rng_range (&r, 0.7, 1.0);
        ax = rad;
        az = rad * aspect;
        s->les_db = bg_db + rng_range (&r, 7.0, 13.0);
        s->les_density = rng_range (&r, 50.0, 90.0);
        s->les_het_db = rng_range (&r, 0.3, 1.5);
        s->les_het_scale = rng_range (&r, 2.0, 5.0);
        s->les_alpha = s->liver_alpha * (rng_chance (&r, 0.4) ? rng_range (&r, 0.3, 0.6) : 1.0);
        s->hypo_centre = rad > 12.0 && rng_chance (&r, 0.12);
        s->hypo_centre_db = -rng_range (&r, 4.0, 8.0);
        blob_init_harmonic (&s->lesion, &r, les_x, les_z, ax, az, rot,
                            rng_range (&r, 0.02, 0.07), 1.0);
        s->has_lesion = TRUE;
        break;

      case HEPA_SYNTH_HCC:
        aspect = rng_range (&r, 0.75, 1.0);
        ax = rad;
        az = rad * aspect;
        /* Small HCCs are hypoechoic; larger ones mixed, often a mosaic (Minami & Kudo 2010).
         * The base level is at least 6.5 dB (mosaic) or 7 dB under the liver's: a mosaic's
         * cells and bright septa lift its mean, and from 3 and 6 dB under (before 2026-11-27)
         * 18 of 100 HCCs (seed 31415926) averaged out to within 0.45 liver SDs of the liver
         * (tests/bench/bench-phantom-contrast.c), with nothing but a halo to show; now 2 of
         * 100. Iso-echoic HCC, not rare in patients, is thus not among the phantoms. */
        s->mosaic = rad > 12.0 && rng_chance (&r, 0.65);
        s->les_db = bg_db - (s->mosaic ? rng_range (&r, 6.5, 10.0) : rng_range (&r, 7.0, 12.0));
        s->les_density = rng_range (&r, 5.0, 14.0);
        s->les_het_db = rng_range (&r, 1.5, 3.5);
        s->les_het_scale = rng_range (&r, 2.0, 5.0);
        s->mosaic_cell = rng_range (&r, 4.0, 8.0);
        s->mosaic_db = rng_range (&r, 4.0, 7.0);
        s->septum_w = rng_range (&r, 0.4, 0.9);
        s->septum_db = rng_chance (&r, 0.5) ? rng_range (&r, 3.0, 6.0) : -rng_range (&r, 4.0, 8.0);
        s->les_alpha = s->liver_alpha * rng_range (&r, 0.6, 1.0);
        s->has_rim = rng_chance (&r, 0.75);
        s->rim_w = rng_range (&r, 1.3, 3.0);
        s->rim_db = bg_db - rng_range (&r, 14.0, 22.0);
        s->rim_alpha = rng_range (&r, 1.0, 3.0);
        blob_init_harmonic (&s->lesion, &r, les_x, les_z, ax, az, rot,
                            rng_range (&r, 0.06, 0.16), 1.0);
        s->has_lesion = TRUE;
        break;

      case HEPA_SYNTH_FFS:
        aspect = rng_range (&r, 0.45, 0.9);
        ax = rad;
        az = rad * aspect;
        s->les_db = rng_range (&r, -3.0, 0.0);
        s->les_het_db = rng_range (&r, 0.3, 1.0);
        s->les_het_scale = rng_range (&r, 3.0, 6.0);
        s->les_alpha = rng_range (&r, 0.45, 0.6);
        blob_init_polygon (&s->lesion, &r, les_x, les_z, ax, az, rot, 1.0);
        s->has_lesion = TRUE;
        break;

      case HEPA_SYNTH_NON_FLL:
      case HEPA_SYNTH_N_CLASSES:
      default:
        {
          /* A parenchyma box, as a rater would draw to label "no focal lesion". */
          double w = rad * rng_range (&r, 1.6, 2.2), h = rad * rng_range (&r, 1.4, 2.0);
          double px0, py0, px1, py1;

          s->has_avoid = TRUE;
          s->avoid_x0 = les_x - w / 2;
          s->avoid_z0 = les_z - h / 2;
          s->avoid_x1 = les_x + w / 2;
          s->avoid_z1 = les_z + h / 2;
          world_to_px (g, les_x - w / 2, les_z - h / 2, &px0, &py0);
          world_to_px (g, les_x + w / 2, les_z + h / 2, &px1, &py1);
          s->truth.x = (int) floor (px0);
          s->truth.y = (int) floor (py0);
          s->truth.width = MAX (2, (int) ceil (px1) - s->truth.x);
          s->truth.height = MAX (2, (int) ceil (py1) - s->truth.y);
          hepa_rect_clamp (&s->truth, p->width, p->height);
        }
        break;
      }
  }
  if (s->has_lesion)
    {
      bbox_of_blob (s, &s->lesion, s->klass == HEPA_SYNTH_CYST ? s->rim_w : 0.0, p->width,
                    p->height, &s->truth);
      /* A mass displaces the vessels around it; fatty sparing does not (no mass effect). */
      if (p->klass != HEPA_SYNTH_FFS)
        {
          s->has_avoid = TRUE;
          s->avoid_x0 = s->avoid_z0 = 1e9;
          s->avoid_x1 = s->avoid_z1 = -1e9;
          for (int i = 0; i < BLOB_N; i++)
            {
              double bx, bz;

              blob_point (&s->lesion, i, s->rim_w, &bx, &bz);
              s->avoid_x0 = MIN (s->avoid_x0, bx);
              s->avoid_z0 = MIN (s->avoid_z0, bz);
              s->avoid_x1 = MAX (s->avoid_x1, bx);
              s->avoid_z1 = MAX (s->avoid_z1, bz);
            }
        }
    }

  /* The ROI a rater draws around a lesion is adjusted to its size with a rim of the liver around
   * it (the paper's Figure 1), never quite centred: each side gets its own margin of 10-35% of
   * the lesion's extent, at least 3 px. Its own generator keeps every image the same. */
  s->roi = s->truth;
  if (s->has_lesion)
    {
      Rng rr;
      int mx0, mx1, my0, my1;

      rng_init (&rr, derive_key (key, 0x401));
      mx0 = MAX (3, (int) lround (rng_range (&rr, 0.10, 0.35) * s->truth.width));
      mx1 = MAX (3, (int) lround (rng_range (&rr, 0.10, 0.35) * s->truth.width));
      my0 = MAX (3, (int) lround (rng_range (&rr, 0.10, 0.35) * s->truth.height));
      my1 = MAX (3, (int) lround (rng_range (&rr, 0.10, 0.35) * s->truth.height));
      s->roi.x = MAX (s->truth.x - mx0, g->region.x);
      s->roi.y = MAX (s->truth.y - my0, g->region.y);
      s->roi.width = MIN (s->truth.x + s->truth.width + mx1, g->region.x + g->region.width)
                     - s->roi.x;
      s->roi.height = MIN (s->truth.y + s->truth.height + my1, g->region.y + g->region.height)
                      - s->roi.y;
      hepa_rect_clamp (&s->roi, p->width, p->height);
    }

  /* Vessels: portal branches (bright walls) and hepatic veins, cut along or across. */
  {
    int n = rng_int (&r, g->sector ? 3 : 1, g->sector ? 8 : 3);

    for (int k = 0; k < n; k++)
      {
        gboolean portal = rng_chance (&r, 0.55);
        double vr = portal ? rng_range (&r, 1.5, 5.5) : rng_range (&r, 1.8, 5.0);
        double len = rng_chance (&r, 0.4) ? rng_range (&r, 0.0, 1.5) * vr
                                          : rng_range (&r, 15.0, 70.0);
        double vx, vz;

        if (!g->sector)
          vr *= 0.6;
        if (place_in_liver (s, &r, vr, NULL, &vx, &vz))
          {
            double angle = rng_range (&r, 0.0, G_PI);
            Vessel *ve = add_vessel (s, &r, vx, vz, angle, portal, vr, len);

            if (ve != NULL && vessel_enters_avoid (s, ve))
              {
                s->n_vessels--;
                continue;
              }

            /* A side branch leaves long vessels at an acute angle. */
            if (ve != NULL && len > 25.0 && rng_chance (&r, 0.4))
              {
                double side = rng_chance (&r, 0.5) ? 1.0 : -1.0;
                double blen = len * rng_range (&r, 0.3, 0.6);
                double ba = angle + side * rng_range (&r, 0.5, 1.0);

                Vessel *branch = add_vessel (s, &r, ve->px[2] + 0.5 * blen * cos (ba),
                                             ve->pz[2] + 0.5 * blen * sin (ba), ba, portal,
                                             vr * rng_range (&r, 0.5, 0.7), blen);

                if (branch != NULL && vessel_enters_avoid (s, branch))
                  s->n_vessels--;
              }
          }
      }
  }
}

/* ---- beam formation -------------------------------------------------------------------- */

/* Complex baseband samples are interleaved (re, im). */

/* Fills the tissue lattice: (n_cols, n_rows) complex reflectivity with two-way attenuation. */
static void
fill_lattice (const Scene *s,
              int          n_cols,
              int          col_offset,
              float       *lattice)
{
  const Geometry *g = &s->g;
  /* Two-way amplitude loss per mm for 1 dB/cm/MHz: 2 * f / 10 dB. */
  double loss_per_mm = 2.0 * s->f_mhz / 10.0 * g->dv;

  for (int c = 0; c < n_cols; c++)
    {
      double u = g->u_first + (c - col_offset) * g->du;
      double su = g->sector ? sin (u) : 0.0, cu = g->sector ? cos (u) : 1.0;
      float *col = lattice + (gsize) c * g->n_rows * 2;
      guint64 col_id = (guint64) (guint32) (c - col_offset + 100000) << 32;
      double loss_db = 0.0;
      double tex = 0.0;
      int tex_row = -1000;

      for (int j = 0; j < g->n_rows; j++)
        {
          double v = (j + 0.5) * g->dv;
          double x, z, width, area, amp, lambda;
          Tissue t;
          guint64 h;

          if (g->sector)
            {
              x = (g->r0 + v) * su;
              z = (g->r0 + v) * cu - g->r0;
              width = (g->r0 + v) * g->du;
            }
          else
            {
              x = u;
              z = v;
              width = g->du;
            }
          scene_eval (s, x, z, v, su, cu, &t);
          if (t.tex_weight > 0.0f)
            {
              if (j - tex_row >= (s->coarse ? 2 : 4))
                {
                  tex = parenchyma_texture (s, x, z);
                  tex_row = j;
                }
              t.db += t.tex_weight * (float) tex;
            }
          loss_db += 0.5 * t.alpha * loss_per_mm;
          area = width * g->dv;
          lambda = t.density * area;
          amp = expf ((float) ((t.db - loss_db) * LN10_20)) * sqrtf ((float) area);
          loss_db += 0.5 * t.alpha * loss_per_mm;

          h = hash2 (s->key_cells, col_id | (guint32) j);
          if (lambda >= 2.0)
            {
              /* Many scatterers: their phasor sum is complex Gaussian, E|.|^2 = amp^2. */
              random_phasor (h, (float) amp, &col[2 * j], &col[2 * j + 1]);
            }
          else
            {
              /* Sparse: a Poisson number of point scatterers, each a phasor whose phase is
               * set by its depth within the cell and whose amplitude is Rayleigh distributed
               * (E a^2 = 1), scaled so E|sum|^2 = amp^2 as in the dense case. */
              double uu = unit53 (h), p = exp (-lambda), cdf = p;
              float re = 0.0f, im = 0.0f;
              float a = (float) (amp / sqrt (MAX (lambda, 1e-6)));
              int n = 0;

              while (uu > cdf && n < 12)
                {
                  n++;
                  p *= lambda / n;
                  cdf += p;
                }
              for (int k = 0; k < n; k++)
                {
                  guint64 hk = hash2 (s->key_cells ^ 0xa5a5a5a5ull,
                                      (col_id | (guint32) j) * 16 + k);
                  float pr, pi;

                  random_phasor (hk, a, &pr, &pi);
                  re += pr;
                  im += pi;
                }
              col[2 * j] = re;
              col[2 * j + 1] = im;
            }
        }
    }
}

/* Lateral beam width (Gaussian sigma, mm) at depth v: a focused beam. */
static double
lateral_sigma (const Scene *s,
               double       v)
{
  double q = (v - s->focus) / s->rayleigh_len;

  return s->sigma_lat_focus * sqrt (1.0 + q * q);
}

/* One frame's lateral PSF: output line i sees lattice columns around i + col_offset + shift,
 * with Gaussian weights in mm, normalized so that sum (w^2 * cell width) = 1 (a uniform medium
 * of level I keeps level I whatever the beam width). Writes (n_lines, n_rows) complex. */
static void
lateral_psf (const Scene *s,
             const float *lattice,
             int          n_cols,
             int          col_offset,
             double       shift,
             float       *out)
{
  const Geometry *g = &s->g;
  int n_rows = g->n_rows;
  double shift_floor = floor (shift);
  double frac = shift - shift_floor;
  int kmax = 1;
  g_autofree float *weights = NULL;   /* (2 * kmax + 2, n_rows) */
  g_autofree int *row_lo = NULL;
  g_autofree int *row_hi = NULL;
  g_autofree double *sig = g_new (double, n_rows);
  int n_taps;

  for (int j = 0; j < n_rows; j++)
    {
      double v = (j + 0.5) * g->dv;
      double w = g->sector ? (g->r0 + v) * g->du : g->du;

      sig[j] = lateral_sigma (s, v) / w;     /* in lines */
      kmax = MAX (kmax, (int) ceil (3.0 * sig[j]));
    }
  kmax = MIN (kmax, n_cols / 2);
  n_taps = 2 * kmax + 2;
  weights = g_new0 (float, (gsize) n_taps * n_rows);
  row_lo = g_new (int, n_taps);
  row_hi = g_new (int, n_taps);

  for (int j = 0; j < n_rows; j++)
    {
      double v = (j + 0.5) * g->dv;
      double w = g->sector ? (g->r0 + v) * g->du : g->du;
      double sum2 = 0.0;

      for (int k = 0; k < n_taps; k++)
        {
          double off = (k - kmax) - frac;
          double gw = fabs (off) <= 3.0 * sig[j] + 1.0 ? exp (-0.5 * off * off / (sig[j] * sig[j]))
                                                        : 0.0;

          weights[(gsize) k * n_rows + j] = (float) gw;
          sum2 += gw * gw;
        }
      for (int k = 0; k < n_taps; k++)
        weights[(gsize) k * n_rows + j] /= (float) sqrt (sum2 * w);
    }
  for (int k = 0; k < n_taps; k++)
    {
      const float *wk = weights + (gsize) k * n_rows;

      row_lo[k] = n_rows;
      row_hi[k] = 0;
      for (int j = 0; j < n_rows; j++)
        if (wk[j] != 0.0f)
          {
            row_lo[k] = MIN (row_lo[k], j);
            row_hi[k] = j + 1;
          }
    }

  memset (out, 0, sizeof (float) * 2 * (gsize) g->n_lines * n_rows);
  for (int i = 0; i < g->n_lines; i++)
    {
      float *o = out + (gsize) i * n_rows * 2;
      int base = i + col_offset + (int) shift_floor - kmax;

      for (int k = 0; k < n_taps; k++)
        {
          int c = base + k;
          const float *src, *wk;

          if (c < 0 || c >= n_cols)
            continue;
          src = lattice + (gsize) c * n_rows * 2;
          wk = weights + (gsize) k * n_rows;
          for (int j = row_lo[k]; j < row_hi[k]; j++)
            {
              o[2 * j] += wk[j] * src[2 * j];
              o[2 * j + 1] += wk[j] * src[2 * j + 1];
            }
        }
    }
}

/* Adds receiver noise, applies the axial PSF (the Gaussian envelope of the pulse, normalized so
 * sum (w^2) * dv = 1), then detects the envelope and applies TGC and log compression.
 * @frame_field: (n_lines, n_rows) complex, @scratch: n_rows complex,
 * @log_image: (n_lines, n_rows) displayed level in dB. */
static void
axial_detect (const Scene *s,
              guint        frame,
              float       *frame_field,
              float       *scratch,
              float       *log_image)
{
  const Geometry *g = &s->g;
  int n_rows = g->n_rows;
  int ka = MAX (1, (int) ceil (3.0 * s->sigma_ax / g->dv));
  g_autofree float *w = g_new (float, 2 * ka + 1);
  g_autofree float *tgc = g_new (float, n_rows);
  double sum2 = 0.0;
  double noise_amp = exp (s->noise_db * LN10_20) * sqrt (g->dv);
  guint64 key = derive_key (s->key_noise, frame);

  for (int k = -ka; k <= ka; k++)
    {
      double off = k * g->dv / s->sigma_ax;

      w[k + ka] = (float) exp (-0.5 * off * off);
      sum2 += (double) w[k + ka] * w[k + ka];
    }
  for (int k = 0; k <= 2 * ka; k++)
    w[k] /= (float) sqrt (sum2 * g->dv);

  /* TGC, in dB added to the detected level: the nominal liver attenuation, the slider knots,
   * the overall gain, and the focal gain of the transmit beam. */
  for (int j = 0; j < n_rows; j++)
    {
      double v = (j + 0.5) * g->dv;
      double pos = v / g->depth * (N_TGC_KNOTS - 1);
      int kn = CLAMP ((int) pos, 0, N_TGC_KNOTS - 2);
      double t = pos - kn;
      double q = (v - s->focus) / s->rayleigh_len;

      /* The depth gain stops where it would lift the receiver noise above the noise floor
       * the scanner allows, so deep, attenuated echoes fade into dim noise. */
      double depth_gain = 2.0 * s->f_mhz * s->tgc_alpha / 10.0 * v;

      depth_gain /= pow (1.0 + pow (depth_gain / s->tgc_max_db, 4.0), 0.25);
      tgc[j] = (float) (depth_gain
                        + s->tgc_knots[kn] * (1.0 - t) + s->tgc_knots[kn + 1] * t
                        + s->gain_db + s->focal_gain_db * exp (-q * q));
    }

  for (int i = 0; i < g->n_lines; i++)
    {
      float *line = frame_field + (gsize) i * n_rows * 2;
      float *out = log_image + (gsize) i * n_rows;
      guint64 line_id = ((guint64) (guint32) i << 32);

      for (int j = 0; j < n_rows; j++)
        {
          float nr, ni;

          random_phasor (hash2 (key, line_id | (guint32) j), (float) noise_amp, &nr, &ni);
          line[2 * j] += nr;
          line[2 * j + 1] += ni;
        }

      memset (scratch, 0, sizeof (float) * 2 * n_rows);
      for (int k = -ka; k <= ka; k++)
        {
          float wk = w[k + ka];
          int lo = MAX (0, -k), hi = MIN (n_rows, n_rows - k);

          for (int j = lo; j < hi; j++)
            {
              scratch[2 * j] += wk * line[2 * (j + k)];
              scratch[2 * j + 1] += wk * line[2 * (j + k) + 1];
            }
        }
      for (int j = 0; j < n_rows; j++)
        {
          float re = scratch[2 * j], im = scratch[2 * j + 1];

          out[j] = 3.0103f * fast_log2 (re * re + im * im + 1e-30f) + tgc[j];
        }
    }
}

/* A scanner's mild speckle-reduction post-filter on the log image: [1 c 1] / (c + 2) along
 * the beam and across lines. @scratch: (n_lines, n_rows). */
static void
smooth_log (const Scene *s,
            float       *log_image,
            float       *scratch)
{
  const Geometry *g = &s->g;
  int n_rows = g->n_rows, n_lines = g->n_lines;
  float c = (float) s->smooth_centre, norm = 1.0f / (c + 2.0f);

  for (int i = 0; i < n_lines; i++)
    {
      const float *a = log_image + (gsize) i * n_rows;
      float *o = scratch + (gsize) i * n_rows;

      o[0] = a[0];
      o[n_rows - 1] = a[n_rows - 1];
      for (int j = 1; j < n_rows - 1; j++)
        o[j] = (a[j - 1] + c * a[j] + a[j + 1]) * norm;
    }
  for (int i = 0; i < n_lines; i++)
    {
      const float *prev = scratch + (gsize) MAX (i - 1, 0) * n_rows;
      const float *cur = scratch + (gsize) i * n_rows;
      const float *next = scratch + (gsize) MIN (i + 1, n_lines - 1) * n_rows;
      float *o = log_image + (gsize) i * n_rows;

      for (int j = 0; j < n_rows; j++)
        o[j] = (prev[j] + c * cur[j] + next[j]) * norm;
    }
}

/* The displayed grey map: dB window [top - range, top] then a gamma curve, as a LUT over
 * the window in 1024 steps. */
#define GREY_LUT 1024

static void
build_grey_lut (const Scene *s,
                guint8      *lut)
{
  for (int k = 0; k < GREY_LUT; k++)
    {
      double t = (double) k / (GREY_LUT - 1);

      lut[k] = (guint8) lround (255.0 * pow (t, s->gamma));
    }
}

/* Scan conversion: each output pixel looks up its (angle, depth) and interpolates bilinearly
 * between the four nearest beam samples. Pixels outside the field are black. */
static void
scan_convert (const Scene  *s,
              const float  *log_image,
              const guint8 *lut,
              int           width,
              int           height,
              guint8       *pixels)
{
  const Geometry *g = &s->g;
  /* Normal liver at 0 dB shows at about grey 90-110 after Rayleigh statistics. */
  float top = (float) (s->dyn_range_db * 0.5);
  float lo = top - (float) s->dyn_range_db;
  float scale = (GREY_LUT - 1) / (float) s->dyn_range_db;
  int n_rows = g->n_rows;

  memset (pixels, 0, (gsize) width * height);
  for (int py = g->region.y; py < g->region.y + g->region.height; py++)
    {
      float z = (float) ((py + 0.5 - g->oz) * g->mm_px);

      for (int px = g->region.x; px < g->region.x + g->region.width; px++)
        {
          float x = (float) ((px + 0.5 - g->ox) * g->mm_px);
          float u, v, fl, fr, tl, tr, val;
          int il, ir;
          const float *a, *b;

          if (g->sector)
            {
              float zz = z + (float) g->r0;

              u = fast_atan_ratio (x, zz);
              v = sqrtf (x * x + zz * zz) - (float) g->r0;
            }
          else
            {
              u = x;
              v = z;
            }
          fl = (u - (float) g->u_first) / (float) g->du;
          fr = v / (float) g->dv - 0.5f;
          if (fl < 0.0f || fl > g->n_lines - 1 || v < 0.0f || v > g->depth)
            continue;
          fr = CLAMP (fr, 0.0f, (float) (n_rows - 1));
          il = MIN ((int) fl, g->n_lines - 2);
          ir = MIN ((int) fr, n_rows - 2);
          tl = fl - il;
          tr = fr - ir;
          a = log_image + (gsize) il * n_rows + ir;
          b = a + n_rows;
          val = (a[0] * (1 - tr) + a[1] * tr) * (1 - tl) + (b[0] * (1 - tr) + b[1] * tr) * tl;
          val = (val - lo) * scale;
          val = CLAMP (val, 0.0f, (float) (GREY_LUT - 1));
          pixels[(gsize) py * width + px] = MAX (lut[(int) val], 1);
        }
    }
}

/* Burned-in marks as on a scanner: depth ticks every centimetre on the right of the field,
 * the focal-zone marker, and the orientation dot. */
static inline void
put_pixel (guint8 *pixels,
           int     width,
           int     height,
           int     x,
           int     y,
           guint8  value)
{
  if (x >= 0 && x < width && y >= 0 && y < height)
    pixels[(gsize) y * width + x] = value;
}

static void
draw_marks (const Scene *s,
            int          width,
            int          height,
            guint8      *pixels)
{
  const Geometry *g = &s->g;
  int x_right = g->region.x + g->region.width + 2;
  int len = MAX (2, width / 160);
  double px, py;
  int y;

  for (int cm = 0; cm * 10.0 <= g->depth; cm++)
    {
      world_to_px (g, 0.0, cm * 10.0, &px, &py);
      y = (int) lround (py);
      for (int k = 0; k < (cm % 5 == 0 ? 2 * len : len); k++)
        put_pixel (pixels, width, height, x_right + k, y, 200);
    }

  /* The focal zone: a small triangle pointing at the scale. */
  world_to_px (g, 0.0, s->focus, &px, &py);
  y = (int) lround (py);
  for (int dy = -len; dy <= len; dy++)
    for (int dx = ABS (dy); dx <= len; dx++)
      put_pixel (pixels, width, height, x_right + 2 * len + 1 + dx, y + dy, 230);

  /* The orientation dot at the top left of the field. */
  {
    int cx = MAX (len + 1, g->region.x - 2 * len), cy = g->region.y + 2 * len;

    for (int dy = -len; dy <= len; dy++)
      for (int dx = -len; dx <= len; dx++)
        if (dx * dx + dy * dy <= len * len)
          put_pixel (pixels, width, height, cx + dx, cy + dy, 220);
  }
}

static void
label_map (const Scene *s,
           int          width,
           int          height,
           guint8      *labels)
{
  const Geometry *g = &s->g;

  memset (labels, HEPA_SYNTH_LABEL_OUTSIDE, (gsize) width * height);
  for (int py = 0; py < height; py++)
    for (int px = 0; px < width; px++)
      {
        double x = (px + 0.5 - g->ox) * g->mm_px, z = (py + 0.5 - g->oz) * g->mm_px;
        double u, v, bx = 0.0, bz = 1.0;
        Tissue t;

        xz_to_beam (g, x, z, &u, &v);
        if (v < 0.0 || v > g->depth)
          continue;
        if (g->sector ? fabs (u) > g->half_angle : fabs (u) > g->half_width)
          continue;
        if (g->sector)
          {
            bx = sin (u);
            bz = cos (u);
          }
        scene_eval (s, x, z, v, bx, bz, &t);
        labels[(gsize) py * width + px] = t.label;
      }
}

/* ---- public API ---------------------------------------------------------------------------- */

const char *
hepa_synth_class_name (HepaSynthClass klass)
{
  if ((int) klass < 0 || klass >= HEPA_SYNTH_N_CLASSES)
    return NULL;
  return class_names[klass];
}

gboolean
hepa_synth_class_from_name (const char     *name,
                            HepaSynthClass *klass)
{
  g_return_val_if_fail (klass != NULL, FALSE);

  if (name == NULL)
    return FALSE;
  for (int k = 0; k < HEPA_SYNTH_N_CLASSES; k++)
    if (g_strcmp0 (name, class_names[k]) == 0)
      {
        *klass = (HepaSynthClass) k;
        return TRUE;
      }
  return FALSE;
}

void
hepa_synth_params_init (HepaSynthParams *params,
                        HepaSynthClass   klass,
                        guint64          seed,
                        guint            index)
{
  g_return_if_fail (params != NULL);

  memset (params, 0, sizeof *params);
  params->klass = klass;
  params->seed = seed;
  params->index = index;
  params->width = 640;
  params->height = 480;
  params->probe = HEPA_SYNTH_PROBE_CURVED;
  params->n_frames = 1;
}

gsize
hepa_synth_buffer_size (const HepaSynthParams *params)
{
  g_return_val_if_fail (params != NULL, 0);

  if (params->width <= 0 || params->height <= 0)
    return 0;
  return (gsize) params->n_frames * params->height * params->width;
}

gboolean
hepa_synth_generate (const HepaSynthParams  *params,
                     guint8                 *pixels,
                     guint8                 *labels,
                     HepaSynthInfo          *info,
                     GError                **error)
{
  g_autofree Scene *s = NULL;
  g_autofree float *lattice = NULL;
  g_autofree float *frame_field = NULL;
  g_autofree float *scratch = NULL;
  g_autofree float *log_image = NULL;
  guint8 lut[GREY_LUT];
  const Geometry *g;
  double max_shift;
  int n_cols, col_offset, pad;
  gsize frame_bytes;

  g_return_val_if_fail (params != NULL, FALSE);
  g_return_val_if_fail (pixels != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((int) params->klass < 0 || params->klass >= HEPA_SYNTH_N_CLASSES)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("Unknown phantom class %d"), (int) params->klass);
      return FALSE;
    }
  if (params->width < 64 || params->width > 4096 || params->height < 64
      || params->height > 4096)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("Phantom size %dx%d is out of range (64 to 4096 pixels a side)"),
                   params->width, params->height);
      return FALSE;
    }
  if (params->n_frames < 1 || params->n_frames > 1000)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("Phantom frame count %u is out of range (1 to 1000)"), params->n_frames);
      return FALSE;
    }
  if (params->probe != HEPA_SYNTH_PROBE_CURVED && params->probe != HEPA_SYNTH_PROBE_LINEAR)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("Unknown probe type %d"), (int) params->probe);
      return FALSE;
    }

  phase_table_init ();
  s = g_new0 (Scene, 1);
  scene_init (s, params);
  g = &s->g;

  /* The lattice spans the lines of every frame of the sweep plus the lateral PSF's reach. */
  max_shift = fabs (s->sweep_lines_per_frame) * (params->n_frames - 1);
  {
    double sig_max = 0.0;

    for (int j = 0; j < g->n_rows; j += 8)
      {
        double v = (j + 0.5) * g->dv;
        double w = g->sector ? (g->r0 + v) * g->du : g->du;

        sig_max = MAX (sig_max, lateral_sigma (s, v) / w);
      }
    pad = (int) ceil (3.0 * sig_max) + 3;
  }
  col_offset = pad + (s->sweep_lines_per_frame < 0 ? (int) ceil (max_shift) : 0);
  n_cols = g->n_lines + 2 * pad + (int) ceil (max_shift);

  lattice = g_try_new (float, (gsize) n_cols * g->n_rows * 2);
  frame_field = g_try_new (float, (gsize) g->n_lines * g->n_rows * 2);
  log_image = g_try_new (float, (gsize) g->n_lines * g->n_rows);
  scratch = g_try_new (float, (gsize) g->n_rows * 2);
  if (lattice == NULL || frame_field == NULL || log_image == NULL || scratch == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("Not enough memory for a %dx%d phantom"), params->width, params->height);
      return FALSE;
    }

  fill_lattice (s, n_cols, col_offset, lattice);
  build_grey_lut (s, lut);
  frame_bytes = (gsize) params->width * params->height;

  for (guint f = 0; f < params->n_frames; f++)
    {
      guint8 *out = pixels + f * frame_bytes;

      lateral_psf (s, lattice, n_cols, col_offset, s->sweep_lines_per_frame * f, frame_field);
      axial_detect (s, f, frame_field, scratch, log_image);
      smooth_log (s, log_image, frame_field);
      scan_convert (s, log_image, lut, params->width, params->height, out);
      draw_marks (s, params->width, params->height, out);
    }

  if (labels != NULL)
    label_map (s, params->width, params->height, labels);

  if (info != NULL)
    {
      memset (info, 0, sizeof *info);
      info->truth = s->truth;
      info->roi = s->roi;
      info->region = g->region;
      info->mm_per_pixel_x = g->mm_px;
      info->mm_per_pixel_y = g->mm_px;
      info->frame_time_ms = s->frame_time_ms;
      info->depth_mm = g->depth;
      info->frequency_mhz = s->f_mhz;
      info->fatty = s->fatty;
      info->has_gallbladder = s->has_gb;
      info->has_diaphragm = s->has_diaphragm;
      info->n_vessels = (guint) s->n_vessels;
    }
  return TRUE;
}

char *
hepa_synth_uid (guint64     seed,
                const char *what,
                guint64     index)
{
  guint64 name_hash = 0xcbf29ce484222325ull;   /* FNV-1a: stable across releases */
  guint64 key, hi, lo;
  guint32 w[4];
  char digits[48];
  int n = 0;
  GString *uid;

  for (const char *p = what != NULL ? what : ""; *p != '\0'; p++)
    name_hash = (name_hash ^ (guint8) *p) * 0x100000001b3ull;
  key = derive_key (derive_key (seed, name_hash), index);
  hi = mix64 (key);
  lo = mix64 (key ^ 0x1234567ull);

  /* ITU-T X.667 / DICOM PS3.5 B.2: a UUID (version 4, variant 1) as "2.25." and its decimal
   * value, computed by long division of four 32-bit words. */
  hi = (hi & ~(0xfull << 12)) | (0x4ull << 12);
  lo = (lo & ~(0x3ull << 62)) | (0x2ull << 62);
  w[0] = (guint32) (hi >> 32);
  w[1] = (guint32) hi;
  w[2] = (guint32) (lo >> 32);
  w[3] = (guint32) lo;
  do
    {
      guint64 rem = 0;

      for (int k = 0; k < 4; k++)
        {
          guint64 cur = (rem << 32) | w[k];

          w[k] = (guint32) (cur / 10);
          rem = cur % 10;
        }
      digits[n++] = (char) ('0' + (int) rem);
    }
  while ((w[0] | w[1] | w[2] | w[3]) != 0 && n < (int) sizeof digits);

  uid = g_string_new ("2.25.");
  while (n > 0)
    g_string_append_c (uid, digits[--n]);
  return g_string_free (uid, FALSE);
}
