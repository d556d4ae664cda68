#!/usr/bin/env bash
# Runs .clusterfuzzlite/build.sh as OSS-Fuzz would, with local values for
# its variables, and checks the $OUT layout: each target with a plain name,
# its .options, the parser's .dict, a non-empty <target>_seed_corpus.zip,
# and the built targets run over their seeds.
#   clusterfuzzlite_build_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work" && mkdir -p "$work/src" "$work/out" "$work/work"
export CC=clang-14 CXX=clang++-14
# OSS-Fuzz's address+undefined flags, roughly.
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address,undefined -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
export CXXFLAGS="$CFLAGS"
export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
export SRC="$work/src" OUT="$work/out" WORK="$work/work"
if ! "$src/.clusterfuzzlite/build.sh" > "$work/build.log" 2>&1; then
  tail -30 "$work/build.log"
  echo "FAIL: build.sh failed (log: $work/build.log)"
  exit 1
fi
cd "$OUT"
for t in iocpsim_fuzz iocpsim_fuzz_current replay_parser_fuzz; do
  [ -x "$t" ] || { echo "FAIL: no \$OUT/$t"; exit 1; }
  grep -q '^\[libfuzzer\]' "$t.options" || { echo "FAIL: no \$OUT/$t.options"; exit 1; }
  n=$(unzip -Z1 "${t}_seed_corpus.zip" | wc -l)
  [ "$n" -gt 0 ] || { echo "FAIL: empty \$OUT/${t}_seed_corpus.zip"; exit 1; }
  echo "$t: binary, options, seed corpus of $n inputs"
done
[ -f replay_parser_fuzz.dict ] || { echo "FAIL: no \$OUT/replay_parser_fuzz.dict"; exit 1; }
# The targets as ClusterFuzzLite runs them: from $OUT, over the unpacked seeds.
mkdir -p "$work/seeds" && unzip -q -o iocpsim_fuzz_current_seed_corpus.zip -d "$work/seeds"
./iocpsim_fuzz_current -runs=100 -seed=1 "$work/seeds" > "$work/run.log" 2>&1 ||
  { tail -20 "$work/run.log"; echo "FAIL: iocpsim_fuzz_current crashed on its seeds"; exit 1; }
./replay_parser_fuzz -dict=replay_parser_fuzz.dict -runs=500 -seed=1 >> "$work/run.log" 2>&1 ||
  { tail -20 "$work/run.log"; echo "FAIL: replay_parser_fuzz crashed"; exit 1; }
echo "ok: \$OUT layout as OSS-Fuzz expects, and the targets run"
