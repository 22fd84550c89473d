#!/usr/bin/env bash
# Extract the few files steadykv takes from Debian's linux-source-6.12
# tarball (they are never committed): the kselftest harness headers and
# net/lib.sh for the selftests, checkpatch for `make lint`, and ynl-gen for
# `make nl-gen`.  Output: $1/linux-src and the harness headers in
# $1/kselftest ($1 defaults to build), with a stamp naming the tarball so a
# new kernel source re-extracts.
set -euo pipefail

build=${1:-build}
out=$build/linux-src
tarball=$(find /usr/src -maxdepth 1 -name "linux-source-6.12*.tar.xz" | sort -V | tail -n 1)
if [[ -z "$tarball" ]]; then
	echo "linux-src: no /usr/src/linux-source-6.12*.tar.xz (run make deps)" >&2
	exit 1
fi
stamp="$out/.extracted"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$tarball" ]]; then
	exit 0
fi

rm -rf "$out"
mkdir -p "$out"
echo "linux-src: extracting from $tarball"
tar -xJf "$tarball" -C "$out" --strip-components=1 --wildcards \
	'*/tools/testing/selftests/kselftest.h' \
	'*/tools/testing/selftests/kselftest_harness.h' \
	'*/tools/testing/selftests/kselftest/*' \
	'*/tools/testing/selftests/net/lib.sh' \
	'*/tools/testing/selftests/net/lib/*' \
	'*/scripts/checkpatch.pl' \
	'*/scripts/spelling.txt' \
	'*/scripts/const_structs.checkpatch' \
	'*/tools/net/ynl/*' \
	'*/Documentation/netlink/genetlink*.yaml'
# One include directory for the harness headers.
mkdir -p "$build/kselftest"
cp "$out/tools/testing/selftests/kselftest.h" \
   "$out/tools/testing/selftests/kselftest_harness.h" "$build/kselftest/"
echo "$tarball" > "$stamp"
