#!/usr/bin/env bash
# build-deb.sh: build forkpool's Debian package, forkpool_VERSION-REV_ARCH.deb,
# from a fresh Release build (never the sanitizer build the tests use) with
# Debian's hardening flags (dpkg-buildflags), then cpack -G DEB. What the
# package holds and why: docs/packaging.md.
#   scripts/build-deb.sh [BUILD_DIR]      (default: build-deb)
# The last line printed is the path of the .deb.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$src/build-deb}
jobs=$(nproc 2>/dev/null || echo 2)

for tool in dpkg-buildflags dpkg-shlibdeps dpkg-deb cpack; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "build-deb: $tool not found (scripts/bootstrap.sh installs it)" >&2; exit 1; }
done
# A fresh configuration, so flags from an earlier run never linger; only a
# directory that is a build directory (or empty) is wiped.
if [ -d "$build_dir" ] && [ -n "$(ls -A "$build_dir")" ] && [ ! -f "$build_dir/CMakeCache.txt" ]; then
  echo "build-deb: $build_dir exists and is not a CMake build directory; not wiping it" >&2
  exit 1
fi
rm -rf "$build_dir"

# Full hardening (fortify, stack protector, relro, bindnow): what lintian
# checks the binary for. CMake reads CFLAGS and LDFLAGS, not CPPFLAGS.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS

# -Werror as in every build: the fortify flags above show warnings the
# other builds do not (an unchecked ftruncate once), and pkg.deb builds this
# way in CI, so a new one fails there rather than in a user's package.
echo "== build-deb: configuring $build_dir (Release)" >&2
# Only what the package holds is built: cpack's install step does not build
# everything else first (CMAKE_SKIP_INSTALL_ALL_DEPENDENCY).
cmake -S "$src" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF -DFP_WERROR=ON \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
echo "== build-deb: building" >&2
cmake --build "$build_dir" -j "$jobs" --target forkpool fp_deb_files >&2
echo "== build-deb: cpack -G DEB" >&2
# cpack writes every file as root:root itself; no fakeroot needed.
(cd "$build_dir" && cpack -G DEB >&2)
deb=$(ls "$build_dir"/forkpool_*.deb)
echo "$deb"
