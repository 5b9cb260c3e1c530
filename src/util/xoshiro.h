/* One step of xoshiro256** (Blackman & Vigna) on a state the caller holds: ss_rng_u64 runs it
 * on the generator, the batch sampler (src/data/batch.c) on a copy in locals for a whole
 * sequence (no call and no state loads/stores per token); the same stream either way. */
#ifndef SCANSNAP_XOSHIRO_H
#define SCANSNAP_XOSHIRO_H
#include <stdint.h>

static inline uint64_t ss_rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* The state's step alone (the AVX-512 sampler steps the state in scalar registers and computes
 * the outputs, rotl(5 s1, 7) 9 of the s1 before each step, on vectors). */
static inline void ss_xoshiro_step(uint64_t *s0, uint64_t *s1, uint64_t *s2, uint64_t *s3) {
  const uint64_t t = *s1 << 17;
  *s2 ^= *s0;
  *s3 ^= *s1;
  *s1 ^= *s2;
  *s0 ^= *s3;
  *s2 ^= t;
  *s3 = ss_rotl64(*s3, 45);
}

static inline uint64_t ss_xoshiro_next(uint64_t *s0, uint64_t *s1, uint64_t *s2, uint64_t *s3) {
  const uint64_t result = ss_rotl64(*s1 * 5, 7) * 9;
  ss_xoshiro_step(s0, s1, s2, s3);
  return result;
}

#endif
