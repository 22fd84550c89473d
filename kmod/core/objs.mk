# SPDX-License-Identifier: GPL-2.0
# Objects of the portable store core: the one list both the kernel module
# (Kbuild, prefixed with kmod/core/) and the host library
# (userspace/core/Makefile) build from.
SKV_CORE_OBJS := record.o log.o index.o tablet.o store.o cleaner.o scan.o \
		 replay.o replica.o departure.o
