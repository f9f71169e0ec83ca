#!/usr/bin/env bash
# completion_check.sh: contrib/bash-completion/forkpool completes what the
# binary has (every command of `forkpool --help`, every long option and
# action word of `forkpool COMMAND --help`, and offers nothing it lacks),
# a few cases by hand, and the man pages in man/ format without a warning
# (groff, man; each skipped where missing). Run by ctest as unit.completion_check:
#   completion_check.sh SOURCE_DIR FORKPOOL_BIN
set -u
src=${1:?source dir}
bin=${2:?forkpool binary}
comp=$src/contrib/bash-completion/forkpool
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# complete FILE LINE: what FILE's completion offers for LINE (the cursor at
# its end, an empty last word when it ends in a space), one per line,
# sorted. Each run is a fresh bash, so nothing leaks between cases.
complete_line() {
  (cd "$tmp" && bash --norc --noprofile -c '
    source "$1" || exit 1
    line=$2
    read -r -a COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    _forkpool forkpool "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$1" "$2")
}

# check_against_binary FILE: FILE agrees with the binary; prints each
# disagreement, returns 1 on any.
check_against_binary() {
  local file=$1 bad=0 cmd words offered w usage actions
  words=$("$bin" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 {print $1}')
  [ -n "$words" ] || { echo "FAIL: no commands in forkpool --help"; return 1; }
  offered=$(complete_line "$file" "forkpool ")
  for cmd in $words; do
    grep -qxF -- "$cmd" <<<"$offered" || { echo "FAIL: forkpool <TAB> lacks $cmd"; bad=1; }
  done
  for w in $offered; do
    case $w in --help | --version) continue ;; esac
    grep -qxF -- "$w" <<<"$words" || { echo "FAIL: forkpool <TAB> offers $w, no command"; bad=1; }
  done
  for cmd in $words; do
    usage=$("$bin" "$cmd" --help)
    offered=$(complete_line "$file" "forkpool $cmd --")
    for w in $(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$usage" | sort -u); do
      grep -qxF -- "$w" <<<"$offered" ||
        { echo "FAIL: forkpool $cmd --<TAB> lacks $w (forkpool $cmd --help)"; bad=1; }
    done
    for w in $offered; do
      [ "$w" = --help ] && continue
      grep -qE -- "(^|[^a-z-])$w([^a-z0-9-]|$)" <<<"$usage" ||
        { echo "FAIL: forkpool $cmd --<TAB> offers $w, not in forkpool $cmd --help"; bad=1; }
    done
    # Action words: "usage: forkpool dead list|retry|purge ...".
    actions=$(head -n1 <<<"$usage" | awk -v c="$cmd" '$2 == "forkpool" && $3 == c && $4 ~ /\|/ && $4 !~ /^[-[]/ {print $4}' | tr '|' ' ')
    offered=$(complete_line "$file" "forkpool $cmd ")
    for w in $actions; do
      grep -qxF -- "$w" <<<"$offered" || { echo "FAIL: forkpool $cmd <TAB> lacks $w"; bad=1; }
    done
  done
  return $bad
}

# expect LINE WORD...: the completion of LINE offers each WORD.
expect() {
  local line=$1 got w
  shift
  got=$(complete_line "$comp" "$line")
  for w in "$@"; do
    if ! grep -qxF -- "$w" <<<"$got"; then
      echo "FAIL: '$line<TAB>' lacks $w; got: $(tr '\n' ' ' <<<"$got")"
      fail=1
      return
    fi
  done
  echo "ok: '$line<TAB>' offers $*"
}

[ -f "$comp" ] || { echo "FAIL: $comp is missing"; exit 1; }
bash -n "$comp" || { echo "FAIL: $comp does not parse"; exit 1; }

# The check itself must catch a mistake: a completion without --burst.
sed 's/ --burst//' "$comp" > "$tmp/broken"
if out=$(check_against_binary "$tmp/broken"); then
  echo "FAIL: a completion without --burst went unnoticed; this check checks nothing"
  fail=1
else
  echo "ok: a completion without --burst is caught: $out"
fi
rm -f "$tmp/broken"

check_against_binary "$comp" && echo "ok: every command, option and action of the binary completes" ||
  fail=1

[ "$(complete_line "$comp" "forkpool ru")" = run ] && echo "ok: 'forkpool ru<TAB>' is run" ||
  { echo "FAIL: 'forkpool ru<TAB>' gives: $(complete_line "$comp" "forkpool ru")"; fail=1; }
expect "forkpool run --" --burst --children --queue --config
expect "forkpool enqueue --" --delay --count
expect "forkpool dead " list retry purge
expect "forkpool jobs --outcome " ok dead crashed
expect "forkpool check-config --print" --print-json
touch "$tmp/site.toml" "$tmp/other.toml"
expect "forkpool run -c si" site.toml
expect "forkpool stats --config ot" other.toml
[ -z "$(complete_line "$comp" "forkpool dead list ")" ] &&
  echo "ok: 'forkpool dead list <TAB>' offers no second action" ||
  { echo "FAIL: 'forkpool dead list <TAB>' offers a second action"; fail=1; }

# The man pages format without a single warning.
for page in "$src/man/forkpool.1" "$src/man/forkpool.toml.5"; do
  if command -v groff >/dev/null 2>&1; then
    out=$(groff -man -ww -z "$page" 2>&1)
    [ -z "$out" ] && echo "ok: groff -man -ww -z ${page##*/}" ||
      { echo "FAIL: groff -man -ww warns about $page:"; echo "$out"; fail=1; }
  else
    echo "groff not found: ${page##*/} not checked with it"
  fi
  if command -v man >/dev/null 2>&1; then
    out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$out" ] && echo "ok: man --warnings -l ${page##*/}" ||
      { echo "FAIL: man --warnings warns about $page:"; echo "$out"; fail=1; }
  fi
done
exit $fail
