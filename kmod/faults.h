/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault points for tests: the kernel's fault attributes, one debugfs
 * directory each (CONFIG_FAULT_INJECTION_DEBUG_FS; debug kernels), set
 * by the selftests to fail a chosen step as running out of memory would.
 * (fail_function's kprobes would do, but lockdep reports their context
 * taking the random pool's lock.)  Without fault injection every check
 * is false.
 */
#ifndef SKV_FAULTS_H
#define SKV_FAULTS_H

#include <linux/fault-inject.h>

/* A client write's record finds no room in the replication queue. */
extern struct fault_attr skv_fail_repl_queue;
/* A chunk of a copy of the store to the backups fails. */
extern struct fault_attr skv_fail_repl_copy;
/* A migration target's change of its tablet map finds no memory. */
extern struct fault_attr skv_fail_tgt_tablet;
/* A migration source's change of its tablet map at END finds none. */
extern struct fault_attr skv_fail_src_end;

/* Module load and unload: the debugfs files. */
void skv_faults_init(void);
void skv_faults_exit(void);

#endif /* SKV_FAULTS_H */
