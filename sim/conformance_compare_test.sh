#!/usr/bin/env bash
# Tests sim/conformance_compare.py on small made-up outputs: it must pass
# only when every difference is listed with the virtual kernel's exact line.
set -uo pipefail
compare=$(realpath "$1")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fails=0
expect() {  # expect STATUS DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" > out.txt 2>&1
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; cat out.txt; fails=$((fails + 1))
  fi
}
printf 'a.one: x=1\nb.two: y=2\n' > ref.txt
printf 'a.one: x=1\nb.two: y=3\n' > virt.txt
printf '[b.two]\nvirtual: y=3\nwhy: Windows says so (MS: Page)\n' > listed.txt
: > empty.txt
expect 0 "a listed difference with the recorded line" -- python3 "$compare" virt.txt ref.txt listed.txt
grep -q "2 checks, 1 agree with the reference, 1 listed differences, 0 problems" out.txt ||
  { echo "FAIL: summary line"; cat out.txt; fails=$((fails + 1)); }
expect 1 "an unlisted difference" -- python3 "$compare" virt.txt ref.txt empty.txt
printf 'a.one: x=1\nb.two: y=4\n' > changed.txt
expect 1 "a listed difference whose line changed" -- python3 "$compare" changed.txt ref.txt listed.txt
expect 1 "a stale entry (the check agrees now)" -- python3 "$compare" ref.txt ref.txt listed.txt
printf 'a.one: x=1\n' > short.txt
expect 1 "a check missing from the virtual output" -- python3 "$compare" short.txt ref.txt empty.txt
printf '[b.two]\nwhy: no virtual line\n' > bad.txt
expect 2 "an entry without its virtual line" -- python3 "$compare" virt.txt ref.txt bad.txt
grep -q "bad.txt:1: b.two needs both" out.txt || { echo "FAIL: message names file:line"; cat out.txt; fails=$((fails + 1)); }
printf 'not a check line\n' > junk.txt
expect 2 "a malformed output line" -- python3 "$compare" junk.txt ref.txt empty.txt
expect 2 "a missing file" -- python3 "$compare" nosuch.txt ref.txt empty.txt
printf 'a.one: x=1\r\nb.two: y=2\r\n' > crlf.txt
expect 0 "--same ignores carriage returns" -- python3 "$compare" --same crlf.txt ref.txt
expect 1 "--same reports drift" -- python3 "$compare" --same virt.txt ref.txt
printf 'a.one: x=1\nb.two: y=3\n' > windows.txt
expect 0 "--windows expects the virtual line where Wine is listed as differing" -- python3 "$compare" --windows windows.txt ref.txt listed.txt
expect 1 "--windows reports Windows printing Wine's line there" -- python3 "$compare" --windows ref.txt ref.txt listed.txt
[ "$fails" -eq 0 ] && echo "conformance_compare.py: all cases behave"
exit "$fails"
