// Prints "seed digest outcome" for seeds 0..N-1 of the determinism
// program; scripts/test compares the output of the g++ and clang builds.
#include <cstdio>
#include <cstdlib>

#include "sim/determinism.h"
#include "sim/sim.h"

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100;
  for (int seed = 0; seed < n; ++seed) {
    iocpsim::PrngSource source(seed);
    iocpsim::RunResult r = iocpsim::RunSimulation({}, source, iocpsim::DeterminismProgram);
    std::printf("%d %016llx %s\n", seed, static_cast<unsigned long long>(r.digest),
                iocpsim::OutcomeName(r.outcome));
  }
}
