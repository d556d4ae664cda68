#!/bin/bash -eu
# Builds the fuzz targets the OSS-Fuzz way: compilers and flags from $CC,
# $CXX, $CFLAGS, $CXXFLAGS; the engine from $LIB_FUZZING_ENGINE; into $OUT,
# with plain names, <target>.options, <target>.dict and
# <target>_seed_corpus.zip. $SRC/abseil-cpp and $SRC/doctest, when present
# (the Dockerfile clones them), are built first with the same flags; without
# them the system's packages are used (a local run: scripts/test does one).
#
#   CC=clang-14 CXX=clang++-14 CFLAGS=... CXXFLAGS=... \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer SRC=... OUT=... WORK=... .clusterfuzzlite/build.sh
project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$project/CMakeLists.txt" ] || project="$SRC/iocpsim"
targets=(iocpsim_fuzz iocpsim_fuzz_current replay_parser_fuzz)
# clang cannot emit UBSan's function-type check for split coroutines
# ("Cannot represent a difference across sections"); the project's own fuzz
# preset turns it off the same way.
export CXXFLAGS="$CXXFLAGS -fno-sanitize=function"

prefix="$WORK/deps"
for dep in abseil-cpp doctest; do
  if [ -d "$SRC/$dep" ]; then
    cmake -S "$SRC/$dep" -B "$WORK/build-$dep" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_STANDARD=20 \
      -DCMAKE_INSTALL_PREFIX="$prefix" -DABSL_PROPAGATE_CXX_STD=ON -DBUILD_TESTING=OFF \
      -DDOCTEST_WITH_TESTS=OFF
    cmake --build "$WORK/build-$dep" --target install
  fi
done

# CMAKE_BUILD_TYPE empty: only the environment's flags.
cmake -S "$project" -B "$WORK/build-iocpsim" -G Ninja -DCMAKE_BUILD_TYPE= \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" -DCMAKE_PREFIX_PATH="$prefix" \
  -DIOCPSIM_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"
cmake --build "$WORK/build-iocpsim" --target "${targets[@]}"

for t in "${targets[@]}"; do
  cp "$WORK/build-iocpsim/fuzz/$t" "$OUT/$t"
  cp "$project/fuzz/$t.options" "$OUT/"
  [ -f "$project/fuzz/$t.dict" ] && cp "$project/fuzz/$t.dict" "$OUT/"
  rm -f "$OUT/${t}_seed_corpus.zip"
  corpus="$project/corpus/$t"
  (cd "$corpus" && zip -q -j "$OUT/${t}_seed_corpus.zip" ./*)
done
