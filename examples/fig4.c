/* The paper's Figure-4 run through the public C API (<scansnap.h>), linked with pkg-config:
 *   cc fig4.c $(pkg-config --cflags --libs scansnap) -o fig4 && ./fig4 [OUT_DIR]
 * trains it, then prints the entropy of c_n at every tenth save step and where the run went. */
#include <scansnap.h>
#include <stdio.h>

int main(int argc, char **argv) {
  ss_err *err = ss_err_new();
  ss_config *cfg = ss_config_new(); /* the built-in defaults are the Figure-4 run */
  ss_run *run = ss_run_new();
  int rc = argc > 1 ? ss_config_set(cfg, "out", argv[1], err) : SS_OK;
  if (rc == SS_OK) rc = ss_run_train(run, cfg, err);
  if (rc != SS_OK) {
    fprintf(stderr, "fig4: %s\n", ss_err_message(err));
  } else {
    int64_t n, S, N, M;
    const double *step = ss_run_column(run, "step", &n), *H = ss_run_column(run, "entropy", &n);
    const double *c = ss_run_cn(run, &S, &N, &M);
    printf("scansnap %s: %lld classes over %lld tokens, %lld saves in %s\n", ss_version(), (long long)N, (long long)M,
           (long long)S, ss_run_path(run));
    for (int64_t i = 0; i < n; i += 10) printf("step %4.0f  entropy %.4f\n", step[i], H[i]);
    printf("final entropy %.4f, c_0 on token 0 at the end %.4f\n", H[n - 1], c[((S - 1) * N + 0) * M + 0]);
  }
  ss_run_free(run);
  ss_config_free(cfg);
  ss_err_free(err);
  return rc == SS_OK ? 0 : 1;
}
