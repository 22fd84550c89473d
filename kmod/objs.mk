# SPDX-License-Identifier: GPL-2.0
# Objects of the node part of steadykv.ko (everything in kmod/ but the core).
# nl-gen.o is generated from Documentation/netlink/specs/steadykv.yaml.
SKV_KMOD_OBJS := main.o node.o netlink.o nl-gen.o transport_tcp.o conn.o \
		 request.o reply.o mig_netlink.o mig_source.o mig_target.o \
		 mig_target_resolve.o mig_target_pull.o mig_target_park.o \
		 mig_target_pace.o \
		 peer.o \
		 auth.o auth_request.o auth_nl.o auth_client.o \
		 metrics.o repl_primary.o repl_backup.o repl_nl.o \
		 recovery.o faults.o
