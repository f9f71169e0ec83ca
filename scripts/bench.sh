#!/usr/bin/env bash
# bench.sh: the entry point for forkpool's benchmarks; the code is in bench/
# (bench/bench.sh: throughput, --setup, --compare; see the README).
exec "$(dirname "$0")/../bench/bench.sh" "$@"
