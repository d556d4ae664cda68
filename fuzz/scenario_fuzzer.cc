// libFuzzer target over the scenarios (see fuzz_input.h for the input
// layout). Built twice: iocpsim_fuzz (any profile: finds the historical
// bugs) and iocpsim_fuzz_current (today's proactor only). A finding
// aborts inside its oracle's function.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_input.h"

#ifndef IOCPSIM_FUZZ_CURRENT_ONLY
#define IOCPSIM_FUZZ_CURRENT_ONLY false
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iocpsim::RunFuzzInput(data, size, IOCPSIM_FUZZ_CURRENT_ONLY, /*abort_on_finding=*/true);
  return 0;
}
