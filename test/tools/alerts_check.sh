#!/usr/bin/env bash
# alerts_check.sh: docs/prometheus/alerts.yml passes `promtool check rules`
# and its alerts fire (and stay silent) as test/tools/alerts_test.yml says,
# under `promtool test rules`. Run by ctest as unit.alerts_check:
#   alerts_check.sh SOURCE_DIR
# Exits 77 (ctest: skipped) where promtool (Debian's prometheus) is missing.
set -u
src=${1:?source dir}
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found (Debian package prometheus, installed by scripts/bootstrap.sh): skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# promtool test rules finds rule_files relative to the test file.
cp "$src/docs/prometheus/alerts.yml" "$src/test/tools/alerts_test.yml" "$tmp/" || exit 1
promtool check rules "$tmp/alerts.yml" || exit 1
(cd "$tmp" && promtool test rules alerts_test.yml) || exit 1
echo "alerts_check: ok"
