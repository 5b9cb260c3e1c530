/* Status codes, error messages and the seeded PRNG shared by every concern.
 * Library functions never print or exit: they return a status and fill an ss_err.
 * The status codes (SS_OK, SS_EINPUT, ...) and the names the public API shares with the
 * library's own (ss_err, ss_config, ss_config_set, ...) are declared once, in the public
 * header <scansnap.h>, which every internal header gets through this one: the compiler
 * checks that both say the same. */
#ifndef SCANSNAP_COMMON_H
#define SCANSNAP_COMMON_H
#include <stddef.h>
#include <stdint.h>

#include <scansnap.h>

/* Inside the library an error is this struct (callers outside see an opaque handle). */
struct ss_err {
  int code;
  char msg[1024];
};

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

/* How a run was stopped, for its message: a stop flag holding a signal number (the CLI's
 * handler) gives "by signal N", a negative one (a request of the program through the public
 * API) "on request". Returns buf. */
const char *ss_stop_by(int flag, char *buf, size_t n);

/* Seconds from a monotonic clock. */
double ss_now(void);

/* Threads of the library's parallel regions (every "omp parallel" says num_threads(ss_threads())).
 * ss_threads_for(n): n, or all cores for n <= 0. ss_threads_set(n) sets the count for the
 * calling thread and returns the previous setting (0: none), so a call can restore it;
 * ss_threads(): the calling thread's count, or OpenMP's default when none is set. Nothing
 * here changes the program's OpenMP settings. Stop requests are per run (ss_run_opts.stop). */
int ss_threads_for(int n);
int ss_threads_set(int n);
int ss_threads(void);

#endif
