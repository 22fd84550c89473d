#!/usr/bin/env bash
# make nl-gen: regenerate the netlink uapi header and the kernel policies
# and ops from Documentation/netlink/specs/steadykv.yaml with the 6.12
# kernel's own ynl-gen (taken from the linux-source tarball).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/linux-src
spec=Documentation/netlink/specs/steadykv.yaml

# ynl-gen validates against the schemas beside the specs directory, and
# walks up to a tree root that has a MAINTAINERS file (it loops without one).
mkdir -p "$src/Documentation/netlink/specs"
touch "$src/MAINTAINERS"
cp "$top/$spec" "$src/$spec"
# The spec's change ops are uns-admin-perm (a namespace's own admin runs its
# node).  6.12's genetlink.yaml schema lists only admin-perm, although
# genetlink-legacy.yaml and the generator take uns-admin-perm (it becomes
# GENL_UNS_ADMIN_PERM): allow it in this copy of the schema.
sed -i 's/enum: \[ admin-perm \]/enum: [ admin-perm, uns-admin-perm ]/' \
	"$src/Documentation/netlink/genetlink.yaml"

gen() {
	(cd "$src" && python3 tools/net/ynl/ynl-gen-c.py --spec "$spec" "$@")
}
gen --mode uapi --header -o "$top/include/uapi/linux/steadykv.h"
gen --mode kernel --header -o "$top/kmod/nl-gen.h"
gen --mode kernel --source -o "$top/kmod/nl-gen.c"
echo "nl-gen: regenerated; review with git diff"
