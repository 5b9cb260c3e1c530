/* What is measured (SPEC §3), from the attention composition c_n of every class. All
 * entropies are in nats. For class n:
 *   entropy          H(c_n)
 *   entropy_distinct H of c_n restricted to the distinct tokens of n, renormalised
 *                    (the quantity of the paper's Figure 6)
 *   common_mass      sum of c_n over tokens common to several classes
 *   distinct_mass    sum of c_n over the distinct tokens of n
 *   kendall_tau      Kendall tau-b between P(l|n) and c_n[l]/P(l|n) over distinct tokens
 *                    (0 when either side is constant, e.g. at zero init)
 * The averages are plain means over classes. */
#ifndef SCANSNAP_METRICS_H
#define SCANSNAP_METRICS_H
#include "scansnap/data.h"

typedef struct {
  double entropy, entropy_distinct, common_mass, distinct_mass, kendall_tau;
} ss_class_metrics;

void ss_metrics_class(const ss_classes *cl, int n, const double *c_n, ss_class_metrics *out);
/* per: [N] (may be NULL); avg: the means over classes. */
void ss_metrics_all(const ss_classes *cl, const double *c, ss_class_metrics *per, ss_class_metrics *avg);
/* Kendall tau-b of two sequences of length n (ties handled; 0 if undefined). */
double ss_kendall_tau_b(const double *a, const double *b, int n);
double ss_entropy(const double *p, int n); /* of p/sum(p), nats */

#endif
