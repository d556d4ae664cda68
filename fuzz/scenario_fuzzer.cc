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

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// libFuzzer's extra counters (-fsanitize=fuzzer collects this section as
// coverage), fed from the simulation when IOCPSIM_EXTRA_COVERAGE=1.
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t extra_counters[4096];
static bool use_extra_counters = false;

// AddressSanitizer's defaults for the fuzz targets (ASAN_OPTIONS still
// overrides them). Freed blocks wait in a quarantine so that a use after
// free touches poison. Every run builds a fresh kernel and allocates tens
// of kilobytes (half a megabyte for the largest scenario), so 32 MB holds
// the frees of dozens to thousands of runs; the 256 MB default only made
// libFuzzer's purge, once a second, hand pages back to the system and
// fault fresh ones in (system time 0.80 s -> 0.18 s over 20,000 runs of
// serving-pipe-close; reports/bench.md).
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=32"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("IOCPSIM_EXTRA_COVERAGE");
  use_extra_counters = env != nullptr && std::strcmp(env, "1") == 0;
  // A pinned scenario and quirks (see fuzz_input.h); bad names stop here.
  std::string error = iocpsim::PinFromEnvironment();
  if (!error.empty()) {
    std::fprintf(stderr, "iocpsim: %s\n", error.c_str());
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iocpsim::RunFuzzInput(data, size, IOCPSIM_FUZZ_CURRENT_ONLY, /*abort_on_finding=*/true,
                        use_extra_counters ? extra_counters : nullptr, sizeof extra_counters);
  return 0;
}
