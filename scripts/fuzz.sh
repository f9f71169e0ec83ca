#!/usr/bin/env bash
# fuzz.sh: builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan,
# -Werror) and runs each for a bounded time, one after the other, starting
# from its seed corpus in fuzz/corpus/NAME (and fuzz/NAME.dict, tokens for
# code without coverage feedback, when there is one). The corpus grown by a run stays in
# the build directory; only the seeds are in the repository. A crash, leak,
# sanitizer report or hang is a finding: the input is kept in
# fuzz/findings/NAME/ and the script exits 1 after the remaining targets ran.
#
#   scripts/fuzz.sh                     every target, 60 s each
#   scripts/fuzz.sh --seconds 10 toml   one target, 10 s
#   scripts/fuzz.sh --list              the target names
#
# Installs clang (Debian's, which ships libFuzzer) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build_dir=${FP_FUZZ_BUILD_DIR:-build-fuzz}
targets=()
list_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    --list) list_only=true; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in
  ''|*[!0-9]*|0) echo "fuzz.sh: --seconds takes a whole number above 0" >&2; exit 2 ;;
esac

all=()
for src in fuzz/fuzz_*.c; do
  name=${src#fuzz/fuzz_}
  all+=("${name%.c}")
done
if $list_only; then
  printf '%s\n' "${all[@]}"
  exit 0
fi
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no target \"$t\" (try --list)" >&2; exit 2; }
done

libfuzzer_works() {
  command -v clang >/dev/null 2>&1 || return 1
  local dir
  dir=$(mktemp -d)
  printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$dir/t.c"
  clang -fsanitize=fuzzer,address,undefined "$dir/t.c" -o "$dir/t" >/dev/null 2>&1
  local rc=$?
  rm -rf "$dir"
  return $rc
}

echo "== fuzz.sh: checking packages"
scripts/bootstrap.sh
if ! libfuzzer_works; then
  echo "fuzz.sh: installing clang (libFuzzer)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends clang libclang-rt-dev
  libfuzzer_works || { echo "fuzz.sh: clang cannot build a libFuzzer target" >&2; exit 1; }
fi

echo "== fuzz.sh: building the targets in $build_dir (clang, ASan + UBSan, -Werror)"
CC=clang cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFP_FUZZ=ON \
  -DFP_WERROR=ON -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" --target fuzz -j "$(nproc 2>/dev/null || echo 2)"

# The last status line ("#123 DONE cov: 1 ft: 2 corp: 3/4b ...") and the
# execution count, for the summary.
summary_of() {
  local log=$1 execs line
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  local cov ft corp
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$line")
  printf '%-10s execs %-10s cov %-6s ft %-7s corpus %s' "$2" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}"
}

failed=()
report=()
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  findings="fuzz/findings/$t"
  log="$build_dir/fuzz-$t.log"
  mkdir -p "$corpus" "$findings"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz.sh: $t for ${seconds}s"
  # One process (the machine is shared); -timeout makes a hang a finding.
  dict=()
  [ ! -f "fuzz/$t.dict" ] || dict=(-dict="fuzz/$t.dict")
  rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$build_dir/fuzz_$t" "$corpus" -max_total_time="$seconds" -timeout=10 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" >"$log" 2>&1 || rc=$?
  line=$(summary_of "$log" "$t")
  if [ $rc -ne 0 ]; then
    tail -40 "$log" >&2
    failed+=("$t")
    line="$line  FINDING (exit $rc): $(ls "$findings" | tr '\n' ' ')"
  fi
  echo "$line"
  report+=("$line")
done

echo "== fuzz.sh: summary (${seconds}s per target; full logs in $build_dir/fuzz-NAME.log)"
printf '%s\n' "${report[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]}: inputs kept in fuzz/findings/" >&2
  echo "  replay one with: $build_dir/fuzz_NAME fuzz/findings/NAME/<file>" >&2
  exit 1
fi
