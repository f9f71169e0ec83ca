#!/usr/bin/env bash
# test.sh: the whole test suite from nothing. Installs missing Debian packages,
# builds in a fresh directory with AddressSanitizer, UBSan and -Werror, and
# runs every ctest test (unit and integration), then the Python package's
# pytest tests against that build's binary (among them the status page's
# browser test, python/tests/test_ui_browser.py, which leaves its screenshots,
# ui-desktop.png and ui-mobile.png, in that build directory). A Release configuration is
# built too (not run), with -Werror: its optimiser finds warnings the Debug
# build does not. Then every fuzz target runs for 10 s (scripts/fuzz.sh,
# clang, in a fresh build-test-fuzz/), so the targets and the clang build stay
# green. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_TEST_BUILD_DIR:-build-test}
release_dir=${FP_TEST_RELEASE_DIR:-build-test-release}
fuzz_dir=${FP_TEST_FUZZ_DIR:-build-test-fuzz}
jobs=$(nproc 2>/dev/null || echo 2)

echo "== test.sh: checking packages"
scripts/bootstrap.sh

echo "== test.sh: configuring $build_dir (ASan + UBSan, -Werror)"
rm -rf "$build_dir"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug \
  -DFP_ASAN=ON -DFP_UBSAN=ON -DFP_WERROR=ON -DFP_TESTS=ON >/dev/null

echo "== test.sh: building with $jobs jobs"
cmake --build "$build_dir" -j "$jobs"

echo "== test.sh: configuring and building $release_dir (Release, -Werror)"
rm -rf "$release_dir"
cmake -S . -B "$release_dir" -DCMAKE_BUILD_TYPE=Release -DFP_WERROR=ON -DFP_TESTS=ON >/dev/null
cmake --build "$release_dir" -j "$jobs"

echo "== test.sh: running the suite"
(cd "$build_dir" && ctest --output-on-failure -j "$jobs")

echo "== test.sh: the Python package (python/tests, pytest)"
# Debian's /usr/bin/python3, which has python3-pytest and python3-redis; a
# version manager's python3 first on PATH may have neither. No cache and no
# bytecode, so the run leaves nothing in the checkout.
FORKPOOL_BIN="$PWD/$build_dir/forkpool" PYTHONDONTWRITEBYTECODE=1 \
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests

echo "== test.sh: the quickstart on the embedded queue, with no Redis to be found"
# redis-server and redis-cli shadowed by commands that fail: the quickstart's
# main job must not need them (2,000 jobs, built in $release_dir).
no_redis=$(mktemp -d)
for tool in redis-server redis-cli; do
  printf '#!/bin/sh\necho "%s: not installed (test.sh hides it)" >&2\nexit 127\n' "$tool" \
    > "$no_redis/$tool"
  chmod +x "$no_redis/$tool"
done
PATH="$no_redis:$PATH" FP_BUILD_DIR=$release_dir FP_QUICKSTART_JOBS=2000 \
  FP_QUICKSTART_DIR="$no_redis/run" scripts/quickstart.sh
rm -rf "$no_redis"

echo "== test.sh: fuzzing every target for 10 s in $fuzz_dir"
rm -rf "$fuzz_dir"
FP_FUZZ_BUILD_DIR=$fuzz_dir scripts/fuzz.sh --seconds 10
