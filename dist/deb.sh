#!/usr/bin/env bash
# make deb: build the Debian packages steadykv-dkms and steadykv (debian/)
# into OUT (default build/deb).  dpkg-buildpackage writes its results next
# to the source tree, so it builds a copy of the tree (the files git knows
# and new ones it does not ignore) in OUT/src/steadykv-VERSION, and the
# results are moved up into OUT.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)
out=${1:-$top/build/deb}
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/src/steadykv-$version

rm -rf "$out"
mkdir -p "$src"
git -C "$top" ls-files -z --cached --others --exclude-standard |
	(cd "$top" && tar --null -T - -cf - --ignore-failed-read) | tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -b -us -uc --no-sign >"$out/build.log" 2>&1) || {
	tail -n 30 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
rm -rf "$out/src"
ls -1 "$out"/*.deb
