/* Errors, PRNG, clock, thread count. */
#include "scansnap/common.h"

#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/xoshiro.h"

int ss_seterr(ss_err *err, int code, const char *fmt, ...) {
  if (err) {
    /* format into a copy first: callers prefix context to the message they already hold
     * (ss_seterr(err, c, "key 'out': %s", err->msg)), and vsnprintf onto its own argument
     * is undefined (it garbled the message) */
    char buf[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(err->msg, buf, sizeof buf);
    err->code = code;
  }
  return code;
}

const char *ss_stop_by(int flag, char *buf, size_t n) {
  if (flag > 0)
    snprintf(buf, n, "by signal %d", flag);
  else
    snprintf(buf, n, "on request");
  return buf;
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ss_rng_seed(ss_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t ss_rng_u64(ss_rng *r) { return ss_xoshiro_next(&r->s[0], &r->s[1], &r->s[2], &r->s[3]); }

double ss_rng_uniform(ss_rng *r) { return (double)(ss_rng_u64(r) >> 11) * 0x1.0p-53; }

uint32_t ss_rng_below(ss_rng *r, uint32_t n) {
  /* Lemire's multiply-shift with rejection: exact for every n. */
  uint64_t m = (uint64_t)(uint32_t)(ss_rng_u64(r) >> 32) * n;
  uint32_t l = (uint32_t)m;
  if (l < n) {
    uint32_t t = (uint32_t)(-n) % n;
    while (l < t) {
      m = (uint64_t)(uint32_t)(ss_rng_u64(r) >> 32) * n;
      l = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

double ss_rng_normal(ss_rng *r) {
  double u1 = ss_rng_uniform(r), u2 = ss_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double ss_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The thread count of the library's parallel regions: every "omp parallel" of the library
 * says num_threads(ss_threads()). A run sets it for its own calls (ss_threads_set, restored
 * when the call returns), per thread like the OpenMP setting it replaces: runs started from
 * inside a parallel loop (verify, sweeps) each have their own, and the library never touches
 * the program's OpenMP settings (omp_set_num_threads). */
static _Thread_local int g_threads = 0;

int ss_threads_for(int n) { return n > 0 ? n : omp_get_num_procs(); }

int ss_threads_set(int n) {
  const int old = g_threads;
  g_threads = n;
  return old;
}

int ss_threads(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }
