# SPDX-License-Identifier: GPL-2.0
# steadykv top-level build.  `make` builds steadykv.ko and the userspace
# programs; `make check` runs every test; `make demo` runs the main job.
# Kbuild (next to this file) describes the module for the kernel's build.

# The kernel to build for: Debian bookworm's 6.12 LTS, found at build time.
KVER ?= $(shell ls -1 /lib/modules 2>/dev/null | grep -E '^6\.12\..*-amd64$$' | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build
export KVER

# Build on every core (the module, the kernel-source extraction and the
# userspace objects in parallel) unless the command line says -j.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif

.PHONY: all deps module userspace linux-src selftests host-test check vm-check \
	check-debug demo tour bench-node bench-conns bench-repl bench-recovery bench-lineage bench-pull bench-core lint nl-gen clean help crash-test \
	check-packaging

all: module userspace selftests

help:
	@echo "make deps       install the Debian packages steadykv needs (root)"
	@echo "make            build steadykv.ko, userspace programs, selftests"
	@echo "make host-test  fast host-only tests (store core, client library)"
	@echo "make check      host tests, then the VM suite; ends 'N passed, N failed'"
	@echo "make check-debug the VM suite on a debug kernel, then with allocation failures"
	@echo "make crash-test real crashes in the multi-VM lab: every point, every role, 5 times"
	@echo "make check-packaging  the .debs installed, run and purged in a guest"
	@echo "make demo       the migration experiment beside Redis Cluster (build/demo/)"
	@echo "make tour       boot a guest, start three nodes, store and read keys"
	@echo "make lint       checkpatch on kmod/ and include/, cppcheck on userspace/"
	@echo "make deb        Debian packages steadykv-dkms and steadykv in build/deb/"

# Installs packages only when one is missing, so it is cheap to depend on.
deps:
	@bash scripts/deps.sh

linux-src: deps
	@bash scripts/linux-src.sh $(BUILD)

module: deps
	@test -n "$(KVER)" || { echo "no 6.12 kernel headers found (make deps)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules
	@mkdir -p $(BUILD)
	@cp steadykv.ko $(BUILD)/steadykv.ko

userspace: deps linux-src
	$(MAKE) -C userspace all

selftests: deps linux-src userspace
	$(MAKE) -C selftests all

host-test: userspace
	@bash scripts/check.sh --host-only

check: all
	@bash scripts/check.sh

# The VM suite alone (after `make`).
vm-check:
	@bash scripts/check.sh --vm-only

# The VM suite on a debug kernel (KASAN, UBSAN, lockdep, kmemleak, KFENCE),
# then with allocation failures injected; the kernel is built once per machine.
check-debug: all
	@bash scripts/check-debug.sh

# Real crashes in the multi-VM lab (vm-test/lab.sh): every crash point for
# every role CRASH_REPEAT times (default 5), then the network faults.
CRASH_REPEAT ?= 5
crash-test: all
	@bash scripts/crash-test.sh --repeat $(CRASH_REPEAT)

# The packages installed, run and purged in a guest (10 minutes: depmod
# under TCG dominates); the host half, dist/deb-check.sh, is in make check.
# One vCPU: systemd's start in the guest flips static keys while programs
# run, and under TCG (QEMU 7.2) a CPU once ran a patched site's int3 after
# the patching had ended (an "Oops: int3" in kmem_cache_free_bulk during
# an exec; vm-test/README.md).
check-packaging: all
	@bash dist/deb-check.sh && vm-test/run.sh --name packaging --smp 1 --timeout 1800 -- \
		selftests/packaging.sh

demo: all
	@bash scripts/demo.sh

# The first demo: three nodes, keys stored and read by hand.
tour: all
	@vm-test/run.sh --name tour --timeout 300 -- scripts/tour-guest.sh

# Throughput of one node in a guest beside redis-server (ratios only).
bench-node: all
	@bash scripts/bench-node.sh

# 10,000 connections to one node beside redis-server and memcached:
# ops/s against 8 connections, and memory per connection.
bench-conns: all
	@bash scripts/bench-conns.sh

# PUT throughput and p99.9 with R = 0 and R = 2 beside Redis with WAIT 2.
bench-repl: all
	@bash scripts/bench-repl.sh

# One node rebuilding a dead primary's tablet, by data size, beside iperf3.
bench-recovery: all
	@bash scripts/bench-recovery.sh

# A migration under load with lineage against re-replicating while it pulls.
bench-lineage: all
	@bash scripts/bench-lineage.sh

# A migration's CPU per MB by value size, records copied into the source's
# replies against sent from its log pages (pull_splice_min).
bench-pull: all
	@bash scripts/bench-pull.sh

# The host benchmark of the store core beside memcpy.
bench-core: userspace
	$(MAKE) -C userspace/core bench

# Debian packages (debian/, dist/): steadykv-dkms and steadykv in build/deb/.
.PHONY: deb
deb: deps
	@bash dist/deb.sh $(BUILD)/deb

lint: deps linux-src
	@bash scripts/lint.sh

# Regenerate the netlink uapi header and kernel policies from the YAML spec.
nl-gen: linux-src
	@bash scripts/nl-gen.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C userspace clean
	-$(MAKE) -C selftests clean
	rm -rf $(BUILD)
