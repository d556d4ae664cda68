#include "sim/determinism.h"

#include <doctest/doctest.h>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

TEST_CASE("Determinism: 1,000 seeds of a multi-process program, each twice, give the same digest") {
  int finished = 0;
  uint64_t distinct_check = 0;
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    PrngSource a(seed), b(seed);
    RunResult ra = testing::RunWith(a, DeterminismProgram);
    RunResult rb = testing::RunWith(b, DeterminismProgram);
    CHECK(ra.digest == rb.digest);
    CHECK(ra.outcome == rb.outcome);
    CHECK(ra.steps == rb.steps);
    if (ra.outcome == Outcome::kFinished) ++finished;
    distinct_check ^= ra.digest;
  }
  // The program is correct for every schedule: none may hang or fault.
  CHECK(finished == 1000);
  CHECK(distinct_check != 0);
}

TEST_CASE("Determinism: different seeds explore different interleavings") {
  PrngSource a(1), b(2);
  CHECK(testing::RunWith(a, DeterminismProgram).digest != testing::RunWith(b, DeterminismProgram).digest);
}

}  // namespace
}  // namespace iocpsim
