/* The snap detector (include/scansnap/run.h): on a synthetic concentration curve with a
 * known break (fast linear growth, then slow growth, plus SGD-like noise) it reports t0 at the
 * break; on curves without a transition (linear growth, accelerating growth, nothing moving)
 * it reports none. */
#include <math.h>

#include "ss_test.h"
#include "scansnap/all.h"

#define R 51 /* rows at steps 0, 2, ..., 100 like a default run */

static void series(double *steps, double *k, int kind, double noise, unsigned seed) {
  ss_rng r;
  ss_rng_seed(&r, seed);
  for (int i = 0; i < R; i++) {
    double t = 2.0 * i, v;
    switch (kind) {
    case 0: v = t < 40 ? 0.01 * t : 0.4 + 0.0003 * (t - 40); break; /* break at 40 */
    case 1: v = 0.01 * t; break;                                     /* linear: no break */
    case 2: v = 1e-4 * t * t; break;                                 /* accelerating */
    case 3: v = 0; break;                                            /* nothing moves */
    default: v = t < 40 ? 0.4 * (1 - pow(1 - t / 40, 2)) : 0.4 + 0.02 * log(1 + (t - 40) / 10); /* smooth snap into log growth */
    }
    steps[i] = t;
    k[i] = v + noise * (2 * ss_rng_uniform(&r) - 1);
  }
}

static void finds_known_break(void **state) {
  (void)state;
  ss_snap_opts o;
  ss_snap_default_opts(&o);
  double s[R], k[R];
  ss_snap_class c;
  for (unsigned seed = 1; seed <= 20; seed++) {
    series(s, k, 0, seed == 1 ? 0 : 0.004, seed); /* noise 0.004 nats: 20% of a fast step */
    ss_snap_detect(s, k, R, &o, &c);
    if (!c.found) fail_msg("seed %u: no t0 found, break at 40 (rate_max %g)", seed, c.rate_max);
    if (!(c.t0 >= 38 && c.t0 <= 48)) fail_msg("seed %u: t0 = %g, break at 40", seed, c.t0);
    assert_true(fabs(c.rate_max - 0.01) < 0.003);
    assert_true(c.rate_after < o.rho * c.rate_max);
  }
  series(s, k, 4, 0, 1);
  ss_snap_detect(s, k, R, &o, &c);
  assert_true(c.found);
  assert_true(c.t0 >= 20 && c.t0 <= 50);
}

static void no_transition_gives_none(void **state) {
  (void)state;
  ss_snap_opts o;
  ss_snap_default_opts(&o);
  double s[R], k[R];
  ss_snap_class c;
  for (int kind = 1; kind <= 3; kind++)
    for (unsigned seed = 1; seed <= 10; seed++) {
      series(s, k, kind, kind == 3 ? 1e-6 : 0.002, seed);
      ss_snap_detect(s, k, R, &o, &c);
      if (c.found) fail_msg("kind %d seed %u: found t0 = %g where there is no transition", kind, seed, c.t0);
      assert_true(isnan(c.t0) && isnan(c.rate_after));
    }
}

/* A break in the last rows is not a transition: too little of the run follows it. */
static void break_at_the_very_end_is_not_reported(void **state) {
  (void)state;
  ss_snap_opts o;
  ss_snap_default_opts(&o);
  double s[R], k[R];
  for (int i = 0; i < R; i++) {
    s[i] = 2.0 * i;
    k[i] = i < R - 1 ? 0.01 * s[i] : 0.01 * s[R - 2];
  }
  o.window = 1;
  ss_snap_class c;
  ss_snap_detect(s, k, R, &o, &c);
  assert_false(c.found);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(finds_known_break),
      cmocka_unit_test(no_transition_gives_none),
      cmocka_unit_test(break_at_the_very_end_is_not_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
