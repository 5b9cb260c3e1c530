/* Function multi-versioning for hot loops. The library is built for baseline x86-64 (SSE2);
 * SS_CLONES also compiles a function for AVX2 and for AVX-512 and picks one at load time (GCC
 * target_clones). Without FMA contraction (ISO C) every clone does the same operations, so
 * the same bits. Off for clang (the fuzzing build) and under AddressSanitizer, where
 * SS_HAVE_CLONES is 0 and SS_CLONES expands to nothing. */
#ifndef SS_UTIL_CLONES_H
#define SS_UTIL_CLONES_H
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SS_HAVE_CLONES 1
#define SS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SS_HAVE_CLONES 0
#define SS_CLONES
#endif
#endif
