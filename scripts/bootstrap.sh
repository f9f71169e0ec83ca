#!/usr/bin/env bash
# bootstrap.sh: install the Debian packages forkpool needs, only those missing.
# Called by quickstart.sh and test.sh; safe to run again and again.
#   scripts/bootstrap.sh          everything: build, tests, benchmarks, packaging
#   scripts/bootstrap.sh --run    only what building and running forkpool on its
#                                 embedded queue needs (quickstart.sh): no
#                                 redis-server, no test tools
#   scripts/bootstrap.sh --redis  --run, and redis-server (quickstart.sh --redis)
set -euo pipefail

mode=${1:-all}
case "$mode" in
  all|--run|--redis) ;;
  *) echo "usage: scripts/bootstrap.sh [--run | --redis]" >&2; exit 64 ;;
esac

run_packages=(
  build-essential cmake pkg-config
  libuv1-dev libhiredis-dev libcjson-dev libsqlite3-dev libhttp-parser-dev
  libssl-dev openssl sqlite3 tzdata libncurses-dev
)

packages=(
  build-essential cmake pkg-config
  libuv1-dev libhiredis-dev libcjson-dev libsqlite3-dev libhttp-parser-dev
  # rediss://: OpenSSL under the TLS relay (lib/redis/tls_relay.c); the package's
  # runtime libssl3 comes from dpkg-shlibdeps (scripts/build-deb.sh).
  libssl-dev openssl
  libcmocka-dev redis-server sqlite3 python3 time libfaketime
  # [[schedule]] timezone: the TZif files forkpool reads itself (lib/schedule/tz_load.c).
  tzdata
  # `forkpool top`'s terminal (ncursesw), and tmux, in which
  # integration.test_it_top runs it.
  libncurses-dev tmux
  # promtool, for the /metrics, alert-rule and dashboard checks (unit.alerts_check,
  # integration.test_it_metrics).
  prometheus
  # python/tests: pytest, the producer's Redis client, and pip + setuptools
  # for the offline `pip install ./python` test, mypy for its annotations.
  python3-pytest python3-redis python3-pip python3-setuptools mypy
  # systemd-analyze, for unit.systemd_verify (contrib/systemd); installed
  # and configured in a container too, where it is not PID 1.
  systemd
  # scripts/build-deb.sh and pkg.deb: dpkg-shlibdeps computes the package's
  # Depends; lintian checks the package (docs/packaging.md).
  dpkg-dev lintian
  # bench/timeline_plot.py draws the PNGs of scripts/bench.sh --autoscale and --steer.
  python3-matplotlib
)

# The status page's browser test (python/tests/test_ui_browser.py): headless
# Chromium driven by Selenium. Optional: where they cannot be installed (an
# architecture Debian builds no Chromium for), the install goes on without
# them and that one test skips, saying why.
optional=(chromium chromium-driver python3-selenium)

case "$mode" in
  --run) packages=("${run_packages[@]}"); optional=() ;;
  --redis) packages=("${run_packages[@]}" redis-server); optional=() ;;
esac

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
missing_optional=()
for p in "${optional[@]}"; do
  installed "$p" || missing_optional+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "bootstrap: all packages present"
  exit 0
fi

echo "bootstrap: installing ${missing[*]} ${missing_optional[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Only the tools are wanted, not the services some packages start when
# installed (prometheus would serve on :9090 on every interface, redis-server
# on 6379): the tests and quickstart start their own servers on loopback. A
# policy-rc.d answering 101 keeps invoke-rc.d and deb-systemd-invoke from
# starting them during this install; a machine's own policy is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ${#missing_optional[@]} -gt 0 ] &&
   ! $sudo apt-get install -y -qq --no-install-recommends "${missing_optional[@]}"; then
  echo "bootstrap: could not install ${missing_optional[*]}: the browser test will skip" >&2
fi
echo "bootstrap: done"
