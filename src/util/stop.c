/* The stop flag long runs poll at step boundaries (see ss_request_stop in common.h). A
 * volatile sig_atomic_t is the only object a signal handler may portably write. */
#include <signal.h>

#include "scansnap/common.h"

static volatile sig_atomic_t g_stop = 0;

void ss_request_stop(int why) { g_stop = why ? why : 1; }
int ss_stop_requested(void) { return (int)g_stop; }
void ss_clear_stop(void) { g_stop = 0; }
