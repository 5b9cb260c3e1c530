/* Every header of the library's own (internal) API, for the command line and the tests. The
 * public API, the one a program outside scansnap uses, is <scansnap.h>. */
#ifndef SCANSNAP_ALL_H
#define SCANSNAP_ALL_H
#include "scansnap/common.h"
#include "scansnap/io.h"
#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/metrics.h"
#include "scansnap/model.h"
#include "scansnap/yz.h"
#include "scansnap/optim.h"
#include "scansnap/train.h"
#include "scansnap/theory.h"
#include "scansnap/text.h"
#endif
