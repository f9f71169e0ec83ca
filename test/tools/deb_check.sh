#!/usr/bin/env bash
# deb_check.sh: the Debian package scripts/build-deb.sh builds (from a
# Release build) holds exactly the files docs/packaging.md lists, depends on
# the runtime libraries, marks its configuration a conffile, and works when
# installed by dpkg into a throwaway root: `forkpool version`, check-config
# of the shipped configuration, the Python package imports, the packaged
# units pass `systemd-analyze verify`, an edited conffile survives a
# reinstall and a purge removes everything; lintian shows no tag outside
# contrib/debian/lintian-allowed-tags. Run by ctest as pkg.deb:
#   deb_check.sh SOURCE_DIR WORK_DIR
# Exits 77 (ctest: skipped) where dpkg-dev, lintian or systemd-analyze is
# missing (scripts/bootstrap.sh installs them).
set -u
src=${1:?source dir}
work=${2:?work dir}
for tool in dpkg-deb dpkg-shlibdeps lintian systemd-analyze; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found (scripts/bootstrap.sh installs it): skipped"
    exit 77
  fi
done
mkdir -p "$work"
root=$(mktemp -d)
tmp=$(mktemp -d)
trap 'rm -rf "$root" "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

deb=$("$src/scripts/build-deb.sh" "$work/build" 2>"$tmp/build.log" | tail -n 1)
if [ ! -f "$deb" ]; then
  cat "$tmp/build.log"
  echo "FAIL: scripts/build-deb.sh built no package"
  exit 1
fi
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "forkpool_${version}_${arch}.deb" ] ||
  bad "package named $(basename "$deb"), not forkpool_${version}_${arch}.deb"
# The changelog's newest entry is this version.
head -n 1 "$src/contrib/debian/changelog" | grep -qF "forkpool ($version)" ||
  bad "contrib/debian/changelog's first entry is not $version"

# -- contents: exactly these files, root-owned, only the binary executable.
{
  printf '%s\n' /etc/forkpool/forkpool.toml /lib/systemd/system/forkpool.service \
    /lib/systemd/system/forkpool@.service /usr/bin/forkpool /usr/include/forkpool/plugin.h \
    /usr/share/bash-completion/completions/forkpool /usr/share/doc/forkpool/changelog.Debian.gz \
    /usr/share/doc/forkpool/copyright /usr/share/man/man1/forkpool.1.gz \
    /usr/share/man/man5/forkpool.toml.5.gz \
    /usr/lib/python3/dist-packages/forkpool/py.typed
  # The Python modules are whatever python/forkpool holds.
  for py in "$src"/python/forkpool/*.py; do
    echo "/usr/lib/python3/dist-packages/forkpool/$(basename "$py")"
  done
} | LC_ALL=C sort > "$tmp/expected"
dpkg-deb -c "$deb" > "$tmp/listing" || bad "dpkg-deb -c failed"
awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' "$tmp/listing" | LC_ALL=C sort > "$tmp/files"
if ! diff -u "$tmp/expected" "$tmp/files"; then
  bad "the package's files (+) differ from the expected list (-)"
fi
awk '$2 != "root/root" { print }' "$tmp/listing" | grep . && bad "files not owned by root/root"
awk '$1 !~ /^d/ && $6 != "./usr/bin/forkpool" && $1 != "-rw-r--r--" { print }' "$tmp/listing" |
  grep . && bad "a file other than the binary is not mode 0644"
grep -qE '^-rwxr-xr-x .* \./usr/bin/forkpool$' "$tmp/listing" || bad "/usr/bin/forkpool is not 0755"

# -- control: Depends from dpkg-shlibdeps, the conffile, the suggestions.
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libuv1 libhiredis libsqlite3 libcjson libhttp-parser libncursesw6; do
  printf '%s\n' "$depends" | grep -qE "(^|, )$lib" || bad "Depends ($depends) lacks $lib"
done
suggests=$(dpkg-deb -f "$deb" Suggests)
printf '%s\n' "$suggests" | grep -qw python3-redis || bad "Suggests ($suggests) lacks python3-redis"
recommends=$(dpkg-deb -f "$deb" Recommends)
printf '%s\n' "$recommends" | grep -qw tzdata || bad "Recommends ($recommends) lacks tzdata"
conffiles=$(dpkg-deb -I "$deb" conffiles)
[ "$conffiles" = "/etc/forkpool/forkpool.toml" ] || bad "conffiles is '$conffiles'"

# -- installed by dpkg into a throwaway root with its own database; the
# maintainer scripts run outside a chroot with DPKG_ROOT set, so they leave
# the host's systemd alone. The libraries it depends on are the host's,
# absent from that database (--force-depends).
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
: > "$root/var/lib/dpkg/status"
rdpkg() {
  dpkg --root="$root" --force-script-chrootless --force-not-root --force-depends "$@" \
    </dev/null > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; return 1; }
}
rdpkg -i "$deb" || bad "dpkg -i into a throwaway root failed"
status=$(dpkg --root="$root" -s forkpool 2>/dev/null | sed -n 's/^Status: //p')
[ "$status" = "install ok installed" ] || bad "dpkg says forkpool is '$status'"
# A Release build: no sanitizer runtime linked in.
readelf -d "$root/usr/bin/forkpool" | grep -E 'NEEDED.*lib(a|ub|t)san' && bad "the packaged binary links a sanitizer"
# The tests' fault hooks are built only with the tests (CMakeLists.txt, FP_TEST_HOOKS).
grep -qa FORKPOOL_MIGRATE_CRASH_AFTER "$root/usr/bin/forkpool" &&
  bad "the packaged binary carries the tests' fault hook FORKPOOL_MIGRATE_CRASH_AFTER"
out=$("$root/usr/bin/forkpool" version 2>&1) || bad "forkpool version failed: $out"
printf '%s\n' "$out" | grep -qF "${version%-*}" || bad "forkpool version says '$out', not ${version%-*}"
conf=$root/etc/forkpool/forkpool.toml
json=$("$root/usr/bin/forkpool" check-config -c "$conf" --print-json 2>&1) ||
  bad "check-config of the shipped configuration failed: $json"
# The ledger lives in the units' StateDirectory (/var/lib/forkpool).
printf '%s\n' "$json" | grep -qF '"/var/lib/forkpool/ledger.db"' ||
  bad "the shipped configuration's ledger.path is not /var/lib/forkpool/ledger.db"
# Below its opening comment, the shipped file is config.example.toml but for
# that one line.
diff <(sed '1,/^$/d' "$src/config.example.toml") <(sed '1,/^$/d' "$conf") | grep '^[<>]' \
  > "$tmp/confdiff"
if ! printf '< path = ""\n> path = "/var/lib/forkpool/ledger.db"\n' | cmp -s - "$tmp/confdiff"; then
  cat "$tmp/confdiff"
  bad "the shipped configuration differs from config.example.toml in more than ledger.path"
fi
for page in man1/forkpool.1 man5/forkpool.toml.5; do
  cmp -s <(zcat "$root/usr/share/man/$page.gz") "$src/man/${page#*/}" ||
    bad "$page.gz is not man/${page#*/}"
done
where=$(cd "$tmp" && PYTHONPATH=$root/usr/lib/python3/dist-packages PYTHONDONTWRITEBYTECODE=1 \
  /usr/bin/python3 -c 'import forkpool, forkpool.worker; print(forkpool.__file__)' 2>&1)
[ "$where" = "$root/usr/lib/python3/dist-packages/forkpool/__init__.py" ] ||
  bad "import forkpool from the package: $where"
for unit in forkpool.service forkpool@.service; do
  cmp -s "$root/lib/systemd/system/$unit" "$src/contrib/systemd/$unit" ||
    bad "the packaged $unit is not contrib/systemd/$unit"
  # verify needs ExecStart's binary to exist: the extracted one.
  sed "s|/usr/bin/forkpool|$root/usr/bin/forkpool|" "$root/lib/systemd/system/$unit" > "$tmp/$unit"
done
cp "$tmp/forkpool@.service" "$tmp/forkpool@demo.service"
man_opt=
command -v man >/dev/null 2>&1 || man_opt=--man=no
for unit in forkpool.service forkpool@demo.service; do
  # systemd-analyze only warns (rc 0) about a bad key: its output tells.
  # Documentation=man:... must name the packaged pages (where man exists).
  out=$(cd "$tmp" && MANPATH=$root/usr/share/man systemd-analyze verify $man_opt "./$unit" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || printf '%s\n' "$out" | grep -q forkpool; then
    printf '%s\n' "$out"
    bad "systemd-analyze verify $unit (rc $rc)"
  fi
done

# -- an edited conffile survives a reinstall; a purge leaves nothing.
echo '# edited' >> "$conf"
rdpkg -i "$deb" || bad "dpkg -i again failed"
[ "$(tail -n 1 "$conf")" = "# edited" ] || bad "reinstalling replaced the edited $conf"
rdpkg --purge forkpool || bad "dpkg --purge failed"
left=$(cd "$root" && find . -path ./var/lib/dpkg -prune -o ! -type d -print)
[ -z "$left" ] || bad "dpkg --purge left: $left"

# -- lintian: errors, warnings and infos, each on the allow-list, and each
# allowed tag explained in docs/packaging.md.
allowed=$(grep -v '^#' "$src/contrib/debian/lintian-allowed-tags" | grep .)
for tag in $allowed; do
  grep -qF "\`$tag\`" "$src/docs/packaging.md" || bad "docs/packaging.md does not explain $tag"
done
# --fail-on none: a non-zero exit means lintian could not check at all.
lintian --display-info --tag-display-limit 0 --fail-on none "$deb" > "$tmp/lintian" \
  2> "$tmp/lintian.err" || { cat "$tmp/lintian.err"; bad "lintian failed to run"; }
tags=$(sed -nE 's/^[EWI]: forkpool[^:]*: ([a-z0-9.+-]+).*/\1/p' "$tmp/lintian" | sort -u)
# A line of lintian's this parser does not read must not pass for no tag.
if grep -vE '^[EWI]: forkpool[^:]*: [a-z0-9.+-]+' "$tmp/lintian" | grep .; then
  bad "lintian printed lines that are not tags"
fi
for tag in $tags; do
  printf '%s\n' "$allowed" | grep -qxF "$tag" || { grep -E ": $tag( |$)" "$tmp/lintian"; bad "lintian: $tag"; }
done
echo "lintian tags: $(echo $tags)"
[ $fail -eq 0 ] && echo "ok: $(basename "$deb")"
exit $fail
