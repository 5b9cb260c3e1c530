/* The Figure-4 run's timed work alone, repeated: what bench/bench_fig4.sh measures once per
 * process (forward + exact backward + SGD for 100 steps, then the evaluated last batch),
 * here ROUNDS times over the same 101 batches from the same initial weights, so that the
 * best round is a stable number on a noisy machine. As in training, each batch is sampled
 * (untimed) just before its step, so it is in cache as it is there.
 *   yz_step ROUNDS THREADS [key=value ...]   (defaults: configs/fig4.yaml = built-in defaults;
 *   e.g. model.precision=float32, or model.kernels=x86-64-v3|baseline|reference to time one
 *   kernel set or the plain reference)
 * Prints key=value lines: best_s and median_s (one whole run's timed work), us_per_step (best),
 * seqs_per_s (best), loss (of the last batch: the same in every round, checked). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/optim.h"
#include "scansnap/train.h"

static int cmp_d(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: yz_step ROUNDS THREADS [key=value ...]\n");
    return 2;
  }
  const int rounds = atoi(argv[1]), threads = atoi(argv[2]);
  ss_config cfg;
  ss_err err;
  ss_config_defaults(&cfg);
  for (int i = 3; i < argc; i++)
    if (ss_config_override(&cfg, argv[i], &err)) {
      fprintf(stderr, "yz_step: %s\n", err.msg);
      return 2;
    }
  if (rounds < 1 || threads < 1 || ss_config_validate(&cfg, &err)) {
    fprintf(stderr, "yz_step: %s\n", rounds < 1 || threads < 1 ? "ROUNDS and THREADS must be >= 1" : err.msg);
    return 2;
  }
  ss_threads_set(ss_threads_for(threads));
  ss_classes cl;
  if (ss_classes_from_config(&cfg, &cl, &err)) {
    fprintf(stderr, "yz_step: %s\n", err.msg);
    return 2;
  }
  const int nb = cfg.niter + 1;
  ss_batch b;
  if (ss_batch_alloc(&b, cfg.batchsize, cfg.data.T, &err)) {
    fprintf(stderr, "yz_step: %s\n", err.msg);
    return 2;
  }
  double *t = malloc(sizeof(double) * (size_t)rounds), first_loss = 0;
  for (int r = 0; r < rounds; r++) {
    ss_model *m;
    ss_optim opt;
    if (ss_model_from_config(&cfg, &cl, &m, &err) || ss_optim_init(&opt, &cfg, m, &err)) {
      fprintf(stderr, "yz_step: %s\n", err.msg);
      return 2;
    }
    ss_rng rng;
    ss_rng_seed(&rng, ss_stream_seed(cfg.seed, SS_STREAM_DATA));
    double loss = 0, acc, tsum = 0;
    for (int k = 0; k < nb; k++) {
      ss_batch_sample(&cl, &rng, &b);
      const double t0 = ss_now();
      if (k == nb - 1) {
        m->ops->eval(m, &b, &loss, &acc, &err);
        tsum += ss_now() - t0;
        break;
      }
      m->ops->step(m, &b, &loss, &acc, &err);
      ss_optim_step(&opt, m, 1.0);
      tsum += ss_now() - t0;
    }
    t[r] = tsum;
    if (r == 0) first_loss = loss;
    if (loss != first_loss) {
      fprintf(stderr, "yz_step: round %d ended with loss %.17g, round 0 with %.17g\n", r, loss, first_loss);
      return 1;
    }
    ss_optim_free(&opt);
    ss_model_free(m);
  }
  const double first = t[0];
  qsort(t, (size_t)rounds, sizeof *t, cmp_d);
  printf("first_s=%.6f best_s=%.6f median_s=%.6f us_per_step=%.2f seqs_per_s=%.0f loss=%.17g threads=%d\n", first, t[0],
         t[rounds / 2], t[0] / nb * 1e6, (double)cfg.batchsize * nb / t[0], first_loss, threads);
  ss_batch_free(&b);
  free(t);
  ss_classes_free(&cl);
  return 0;
}
