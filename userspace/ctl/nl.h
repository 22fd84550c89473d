/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykvctl's generic netlink plumbing now lives in libskvnl
 * (userspace/nl/sknl.h), shared with steadykvd; the command files keep
 * including this name.
 */
#ifndef SKV_CTL_NL_H
#define SKV_CTL_NL_H

#include "sknl.h"

#endif
