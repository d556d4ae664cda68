#!/usr/bin/env bash
# The current-profile libFuzzer target for 300 runs from the committed
# corpus (read only: new inputs go to a directory of the build tree). It
# must find nothing but the findings already saved under `current`
# (corpus/crashes/current-*.replay, explained in corpus/README.md).
#   smoke_current_test.sh TARGET SOURCE_DIR
set -u
target=$1 src=$2
rm -rf smoke-current && mkdir smoke-current
"$target" -runs=300 -seed=1 -artifact_prefix=smoke-current/ smoke-current \
  "$src/corpus/iocpsim_fuzz_current" > smoke-current.log 2>&1
rc=$?
[ $rc -eq 0 ] && exit 0
sig=$(grep -m1 -o 'iocpsim finding: [^ ]*' smoke-current.log | cut -d' ' -f3)
if [ -z "$sig" ]; then
  echo "libFuzzer failed without an iocpsim finding (exit $rc):"
  tail -20 smoke-current.log
  exit 1
fi
if grep -qx "signature $sig" "$src"/corpus/crashes/current-*.replay; then
  echo "found $sig, a finding already saved under current"
  exit 0
fi
echo "a new finding under current: $sig"
exit 1
