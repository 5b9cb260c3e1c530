/* The Figure-7 configuration's training step in scansnap (bench/bench_tf.sh builds and
 * runs this; see docs/transformer.md). A synthetic token stream stands in for the corpus:
 * the step's cost depends on the vocabulary size, not on which tokens.
 *   tf_step --coretype-hint          prints the OPENBLAS_CORETYPE the CPU wants (or nothing)
 *   tf_step V STEPS THREADS          times STEPS steps after 2 warm-up steps
 *   tf_step --sgemm V THREADS        GFLOP/s of the decoder's three sgemms alone (BLAS ceiling)
 * Prints key=value lines: model_step_s (forward+backward), full_step_s (+ clip 0.5 + SGD),
 * model_step_cpu_s (CPU seconds of all threads per forward+backward: what a loaded machine
 * cannot inflate, except by spinning), tokens_per_s (full step), maxrss_kb, blas. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/optim.h"
#include "scansnap/transformer.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--coretype-hint")) {
    const char *h = ss_blas_coretype_hint(getenv("OPENBLAS_CORETYPE"));
    if (h) puts(h);
    return 0;
  }
  if (argc > 3 && !strcmp(argv[1], "--sgemm")) {
    /* The BLAS ceiling right now: the decoder's three products (logits, dW, dX) on whole
     * matrices with OpenBLAS's own threads. Separates "the machine is busy" from "the step
     * is slow". */
    const int V = atoi(argv[2]), th = atoi(argv[3]), N = 700, C = 200;
    openblas_set_num_threads(th);
    float *A = malloc(sizeof(float) * N * C), *W = malloc(sizeof(float) * (size_t)V * C),
          *L = malloc(sizeof(float) * (size_t)N * V), *D = malloc(sizeof(float) * (size_t)V * C);
    for (size_t i = 0; i < (size_t)N * C; i++) A[i] = (float)(i % 97) * 0.01f;
    for (size_t i = 0; i < (size_t)V * C; i++) W[i] = (float)(i % 89) * 0.01f;
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
      double t0 = ss_now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C, 1, A, C, W, C, 0, L, V);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, N, 1, L, V, A, C, 0, D, C);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, V, 1, L, V, W, C, 0, A, C);
      double t = ss_now() - t0;
      if (t < best) best = t;
    }
    printf("sgemm_gflops=%.1f\n", 3 * 2.0 * N * C * (double)V / best / 1e9);
    free(A); free(W); free(L); free(D);
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: tf_step V STEPS THREADS | --coretype-hint\n");
    return 2;
  }
  const int V = atoi(argv[1]), steps = atoi(argv[2]), threads = atoi(argv[3]);
  const int B = 20, T = 35;
  ss_threads_set(ss_threads_for(threads));
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
  double tm = 0, tf = 0, cm = 0, loss = 0, acc;
  for (int s = 0; s < steps + 2; s++) {
    /* a token stream: y is x shifted by one */
    int prev = (int)ss_rng_below(&r, V);
    for (int i = 0; i < B * T; i++) {
      b.x[i] = prev;
      y[i] = prev = (int)ss_rng_below(&r, V);
    }
    double t0 = ss_now(), c0 = cpu_now();
    if (m->ops->step(m, &b, &loss, &acc, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      return 1;
    }
    double t1 = ss_now(), c1 = cpu_now();
    ss_clip_grad_norm(m, c.opt.clip);
    ss_optim_step(&o, m, 1.0);
    double t2 = ss_now();
    if (s >= 2) {
      tm += t1 - t0;
      cm += c1 - c0;
      tf += t2 - t0;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  char blas[512];
  ss_blas_describe(blas, sizeof blas, getenv("OPENBLAS_CORETYPE"));
  printf("model_step_cpu_s=%.5f\n", cm / steps);
  printf("model_step_s=%.5f\nfull_step_s=%.5f\ntokens_per_s=%.1f\nloss=%.4f\nmaxrss_kb=%ld\nparams=%zu\nthreads=%d\nblas=%s\n",
         tm / steps, tf / steps, B * T * steps / tf, loss, ru.ru_maxrss, m->nparams, omp_get_max_threads(), blas);
  b.y = NULL;
  free(y);
  ss_batch_free(&b);
  ss_optim_free(&o);
  ss_model_free(m);
  return 0;
}
