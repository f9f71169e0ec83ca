#!/usr/bin/env bash
# quickstart.sh: from nothing to forkpool doing its job. Installs missing
# Debian packages, builds an optimised binary, and checks the example
# configuration. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_BUILD_DIR:-build}
jobs=$(nproc 2>/dev/null || echo 2)

echo "== quickstart: checking packages"
scripts/bootstrap.sh

echo "== quickstart: building $build_dir (release)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$jobs" --target forkpool

echo "== quickstart: $build_dir/forkpool version"
"$build_dir/forkpool" version

echo "== quickstart: checking config.example.toml"
"$build_dir/forkpool" check-config -c config.example.toml

echo "== quickstart: done. The binary is $build_dir/forkpool; 'forkpool --help' lists its commands."
