/* Internal to src/verify: what the claims share. */
#ifndef SS_VERIFY_INT_H
#define SS_VERIFY_INT_H
#include "scansnap/verify.h"

/* Appends a named number to a claim (at most SS_CLAIM_MAX_NUMBERS; names cut at 39 bytes). */
void ss_claim_add(ss_claim *c, const char *name, double v);
/* The real-text corpus of claims 4 and J3 into path: o->corpus, else data.path; 1 when it is
 * there (a WikiText-layout folder, or the user's own text file), 0 otherwise. */
int ss_verify_corpus(const ss_config *cfg, const ss_verify_opts *o, char *path, size_t n);

#endif
