#!/usr/bin/env bash
# make lint: checkpatch (--no-tree) on the kernel code in kmod/ and include/,
# and the static analysers on userspace/.  Exits non-zero on any finding.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
rc=0

checkpatch=build/linux-src/scripts/checkpatch.pl
# Generated netlink files keep what ynl-gen emits.
mapfile -t kfiles < <(git ls-files 'kmod/*.[ch]' 'include/*.h' | grep -v 'nl-gen\.[ch]$')
echo "lint: checkpatch on ${#kfiles[@]} kernel files"
if ! perl "$checkpatch" --no-tree --quiet --terse --show-types \
	-f "${kfiles[@]}"; then
	rc=1
fi

echo "lint: userspace static analysis"
if ! make -s -C userspace lint; then
	rc=1
fi

if command -v shellcheck >/dev/null 2>&1; then
	mapfile -t sh < <(git ls-files '*.sh' '.ci/run')
	echo "lint: shellcheck on ${#sh[@]} scripts"
	shellcheck -S warning "${sh[@]}" || rc=1
fi

((rc == 0)) && echo "lint: clean"
exit $rc
