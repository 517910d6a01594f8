/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "hepa-resnet.h"

/* splitmix64 of (seed, index): counter-based, so element i of a tensor does not depend on how
 * many numbers were drawn before it, and numpy can compute the same thing vectorized. */
static inline uint64_t
splitmix64 (uint64_t z)
{
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float
hepa_nn_seeded_uniform (uint64_t seed,
                        uint64_t index)
{
  uint64_t r = splitmix64 (splitmix64 (seed) ^ index);

  /* 24 high bits -> [0, 1) exactly representable in fp32, then [-1, 1). */
  return (float) (r >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}
