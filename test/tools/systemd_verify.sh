#!/usr/bin/env bash
# systemd_verify.sh: contrib/systemd/forkpool.service and forkpool@.service
# pass `systemd-analyze verify` without a single complaint about them, and
# keep what README's "Run under systemd" promises (Type=notify, ExecReload,
# WatchdogSec, the hardening). Run by ctest as unit.systemd_verify:
#   systemd_verify.sh SOURCE_DIR FORKPOOL_BIN
# Exits 77 (ctest: skipped) where systemd-analyze is missing.
set -u
src=${1:?source dir}
bin=${2:?forkpool binary}
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not found (Debian's systemd package): skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
# verify looks up each Documentation=man:PAGE(N): man/ laid out as a man
# tree stands in for the installed pages; without man, --man=no.
mkdir -p "$tmp/man/man1" "$tmp/man/man5"
cp "$src/man/forkpool.1" "$tmp/man/man1/"
cp "$src/man/forkpool.toml.5" "$tmp/man/man5/"
man_opt=()
command -v man >/dev/null 2>&1 || man_opt=(--man=no)

# verify FILE...: rc 0 and no line naming one of our units. systemd-analyze
# only warns (rc 0) about an unknown key or a bad value, so its output is
# what tells; lines about the host's own units are not ours to judge.
verify() {
  local out rc
  out=$(cd "$tmp" && MANPATH="$tmp/man" systemd-analyze verify "${man_opt[@]}" "$@" 2>&1)
  rc=$?
  local ours
  ours=$(printf '%s\n' "$out" | grep -E 'forkpool' || true)
  if [ $rc -ne 0 ] || [ -n "$ours" ]; then
    echo "FAIL: systemd-analyze verify $* (rc $rc):"
    printf '%s\n' "$out"
    return 1
  fi
  echo "ok: systemd-analyze verify $*"
}

# The check itself must catch a mistake: a misspelt key is reported.
printf '[Service]\nType=notify\nExecStart=%s version\nWatchdogSecs=30s\n' "$bin" \
  > "$tmp/forkpool-broken.service"
if verify ./forkpool-broken.service >/dev/null; then
  echo "FAIL: a misspelt key went unnoticed; this check checks nothing"
  fail=1
fi
rm -f "$tmp/forkpool-broken.service"

for unit in forkpool.service forkpool@.service; do
  path="$src/contrib/systemd/$unit"
  if [ ! -f "$path" ]; then
    echo "FAIL: $path is missing"
    fail=1
    continue
  fi
  # verify needs ExecStart's binary to exist: the build's stands in for
  # /usr/bin/forkpool.
  sed "s|/usr/bin/forkpool|$bin|" "$path" > "$tmp/$unit"
  for key in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'WatchdogSec=30s' \
             'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
             'NoNewPrivileges=yes' 'DynamicUser=yes' 'KillMode=mixed'; do
    if ! grep -qxF "$key" "$path"; then
      echo "FAIL: $unit lacks the line $key"
      fail=1
    fi
  done
  grep -qE '^StateDirectory=forkpool' "$path" || { echo "FAIL: $unit lacks StateDirectory"; fail=1; }
done
verify ./forkpool.service || fail=1
grep -qxF 'ExecStart=/usr/bin/forkpool run -c /etc/forkpool/forkpool.toml' \
  "$src/contrib/systemd/forkpool.service" || { echo "FAIL: forkpool.service's ExecStart"; fail=1; }
grep -qxF 'ExecStart=/usr/bin/forkpool run -c /etc/forkpool/%i.toml' \
  "$src/contrib/systemd/forkpool@.service" || { echo "FAIL: forkpool@.service's ExecStart"; fail=1; }
# The template, and one instance of it as systemctl would load it.
if [ -f "$tmp/forkpool@.service" ]; then
  verify ./forkpool@.service || fail=1
  cp "$tmp/forkpool@.service" "$tmp/forkpool@demo.service"
  verify ./forkpool@demo.service || fail=1
fi
exit $fail
