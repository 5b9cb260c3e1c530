/* Status codes, error messages and the seeded PRNG shared by every concern.
 * Library functions never print or exit: they return a status and fill an ss_err. */
#ifndef SCANSNAP_COMMON_H
#define SCANSNAP_COMMON_H
#include <stddef.h>
#include <stdint.h>

enum {
  SS_OK = 0,
  SS_ERUN = 1,    /* the run itself failed (I/O, numerical trouble) */
  SS_EINPUT = 2,  /* bad usage or bad input: key, value, file */
  SS_EDIVERGE = 3, /* NaN/Inf found in loss, gradients or parameters */
  SS_ESTOP = 4     /* stopped on request (ss_request_stop, e.g. SIGINT/SIGTERM); resumable */
};

typedef struct {
  int code;
  char msg[1024];
} ss_err;

/* Fills err (if non-NULL) with a printf-style one-line message; returns code. */
int ss_seterr(ss_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* xoshiro256** seeded by splitmix64. Its whole state is 4 words, saved in checkpoints. */
typedef struct {
  uint64_t s[4];
} ss_rng;

void ss_rng_seed(ss_rng *r, uint64_t seed);
/* A run's independent random streams, all derived from its seed: the batches, the initial
 * weights, the transformer's dropout masks. ss_stream_seed(seed, stream) is the one place
 * that derives them, so whatever must replay a run's stream (its in-memory replay in
 * verify, the benchmarks) gets the very same one. */
enum { SS_STREAM_DATA = 1, SS_STREAM_INIT = 2, SS_STREAM_DROPOUT = 3 };
static inline uint64_t ss_stream_seed(long long seed, int stream) {
  return (uint64_t)seed * 0x9E3779B97F4A7C15ULL + (uint64_t)stream;
}
uint64_t ss_rng_u64(ss_rng *r);
double ss_rng_uniform(ss_rng *r);             /* [0, 1), 53 random bits */
uint32_t ss_rng_below(ss_rng *r, uint32_t n); /* uniform on 0..n-1, unbiased */
double ss_rng_normal(ss_rng *r);              /* standard normal (Box-Muller, no cached state) */

/* Seconds from a monotonic clock. */
double ss_now(void);

/* Cooperative stop (SIGINT/SIGTERM): the CLI's signal handler calls ss_request_stop(signo)
 * (async-signal-safe: it only stores to a volatile sig_atomic_t); long runs poll
 * ss_stop_requested() at step boundaries, write a checkpoint and return SS_ESTOP.
 * ss_stop_requested() returns the value given (the signal number), 0 if none. */
void ss_request_stop(int why);
int ss_stop_requested(void);
void ss_clear_stop(void);

/* Number of threads the library uses (0 in the setter = all cores). */
void ss_set_threads(int n);
int ss_threads(void);

#endif
