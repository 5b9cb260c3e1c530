/* scansnap — train 1-layer transformers and watch how they learn (Tian et al., "Scan and Snap").
 * The whole public API; each concern has its own header under scansnap/. */
#ifndef SCANSNAP_H
#define SCANSNAP_H
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
