/* The Figure-7 configuration's training step in scansnap (bench/bench_tf.sh builds and
 * runs this; see docs/transformer.md). A synthetic token stream stands in for the corpus:
 * the step's cost depends on the vocabulary size, not on which tokens.
 *   tf_step --coretype-hint          prints the OPENBLAS_CORETYPE the CPU wants (or nothing)
 *   tf_step V STEPS THREADS          times STEPS steps after 2 warm-up steps
 * Prints key=value lines: model_step_s (forward+backward), full_step_s (+ clip 0.5 + SGD),
 * tokens_per_s (full step), maxrss_kb, blas. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/optim.h"
#include "scansnap/transformer.h"

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--coretype-hint")) {
    const char *h = ss_blas_coretype_hint();
    if (h) puts(h);
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: tf_step V STEPS THREADS | --coretype-hint\n");
    return 2;
  }
  const int V = atoi(argv[1]), steps = atoi(argv[2]), threads = atoi(argv[3]);
  const int B = 20, T = 35;
  ss_set_threads(threads);
  ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  const char *kv[] = {"model.type", "transformer", "model.task", "lm", "model.d", "200", "model.H", "1",
                      "model.use_ffn", "true", "model.ffn_hidden", "200", "model.use_Wo", "true", "model.attn_bias", "true",
                      "model.use_residue", "true", "model.use_ln", "true", "model.dropout", "0.2", "model.pos", "sinusoidal",
                      "opt.method", "sgd", "opt.momentum", "0", "opt.lr", "5", "opt.clip", "0.5", "data.T", "35", NULL};
  for (int i = 0; kv[i]; i += 2)
    if (ss_config_set(&c, kv[i], kv[i + 1], &e)) {
      fprintf(stderr, "%s\n", e.msg);
      return 2;
    }
  ss_model *m;
  ss_optim o;
  if (ss_tf_new(&c, V, T, &m, &e) || ss_optim_init(&o, &c, m, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 2;
  }
  ss_batch b;
  ss_batch_alloc(&b, B, T, &e);
  int *y = malloc(sizeof(int) * B * T);
  b.y = y;
  ss_rng r;
  ss_rng_seed(&r, 1);
  double tm = 0, tf = 0, loss = 0, acc;
  for (int s = 0; s < steps + 2; s++) {
    /* a token stream: y is x shifted by one */
    int prev = (int)ss_rng_below(&r, V);
    for (int i = 0; i < B * T; i++) {
      b.x[i] = prev;
      y[i] = prev = (int)ss_rng_below(&r, V);
    }
    double t0 = ss_now();
    if (m->ops->step(m, &b, &loss, &acc, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      return 1;
    }
    double t1 = ss_now();
    ss_clip_grad_norm(m, c.opt.clip);
    ss_optim_step(&o, m, 1.0);
    double t2 = ss_now();
    if (s >= 2) {
      tm += t1 - t0;
      tf += t2 - t0;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  char blas[512];
  ss_blas_describe(blas, sizeof blas);
  printf("model_step_s=%.5f\nfull_step_s=%.5f\ntokens_per_s=%.1f\nloss=%.4f\nmaxrss_kb=%ld\nparams=%zu\nthreads=%d\nblas=%s\n",
         tm / steps, tf / steps, B * T * steps / tf, loss, ru.ru_maxrss, m->nparams, omp_get_max_threads(), blas);
  b.y = NULL;
  free(y);
  ss_batch_free(&b);
  ss_optim_free(&o);
  ss_model_free(m);
  return 0;
}
