// SPDX-License-Identifier: GPL-2.0
/* Fault points for tests (faults.h). */
#include <linux/debugfs.h>
#include <linux/kernel.h>

#include "faults.h"

DECLARE_FAULT_ATTR(skv_fail_repl_queue);
DECLARE_FAULT_ATTR(skv_fail_repl_copy);
DECLARE_FAULT_ATTR(skv_fail_tgt_tablet);
DECLARE_FAULT_ATTR(skv_fail_src_end);

static const struct {
	const char *name;
	struct fault_attr *attr;
} skv_faults[] = {
	{ "steadykv_fail_repl_queue", &skv_fail_repl_queue },
	{ "steadykv_fail_repl_copy", &skv_fail_repl_copy },
	{ "steadykv_fail_tgt_tablet", &skv_fail_tgt_tablet },
	{ "steadykv_fail_src_end", &skv_fail_src_end },
};

static struct dentry *skv_fault_dirs[ARRAY_SIZE(skv_faults)];

void skv_faults_init(void)
{
	unsigned int i;

	/* An error here (no debugfs) only leaves the point unset. */
	for (i = 0; i < ARRAY_SIZE(skv_faults); i++)
		skv_fault_dirs[i] =
			fault_create_debugfs_attr(skv_faults[i].name, NULL,
						  skv_faults[i].attr);
}

void skv_faults_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(skv_faults); i++)
		debugfs_remove_recursive(skv_fault_dirs[i]);
}
