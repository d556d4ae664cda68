// How a libFuzzer input drives a run: byte 0 picks the scenario (its index
// in the table, modulo the count; the `current` target skips the canary,
// index 0), byte 1 the profile (modulo, in Profile::Names() order: current,
// cpython-3.4.2, cpython-3.4.1, cpython-3.12.2, cpython-3.7.0b5,
// cpython-3.12.3; the `current` target ignores it and uses current), and
// the rest is the choice stream (FuzzBytesSource: one byte
// per choice of up to 256 options, two above; an exhausted input answers
// 0, the canonical option). The empty input is the canonical run of the
// first scenario.
#ifndef IOCPSIM_FUZZ_FUZZ_INPUT_H_
#define IOCPSIM_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/replay_file.h"
#include "scenarios/scenario.h"

namespace iocpsim {

struct FuzzInput {
  const scenarios::Scenario* scenario;
  std::string profile;
  std::vector<std::string> quirks;
  const uint8_t* choices;
  size_t choices_size;
};

// A fixed scenario (and quirks): then every input byte is a choice. The
// fuzz targets read it from IOCPSIM_FUZZ_SCENARIO and IOCPSIM_FUZZ_QUIRKS
// (comma-separated), which `iocpsim fuzz --scenario S --quirk Q` sets.
struct FuzzPin {
  const scenarios::Scenario* scenario = nullptr;
  std::vector<std::string> quirks;
};
void SetFuzzPin(FuzzPin pin);
// Reads the pin from the environment; returns an error message, or "".
std::string PinFromEnvironment();

FuzzInput DecodeFuzzInput(const uint8_t* data, size_t size, bool current_only);

// Runs an input once; with abort_on_finding, the first finding aborts in
// its oracle (what libFuzzer needs). With `counters`, each choice also
// bumps one of them (CoverageSource: libFuzzer's extra counters).
scenarios::ScenarioResult RunFuzzInput(const uint8_t* data, size_t size, bool current_only,
                                       bool abort_on_finding, uint8_t* counters = nullptr,
                                       size_t counters_size = 0);

// A raw libFuzzer artifact as a replay file: the run it makes, recorded.
ReplayFile ReplayFromArtifact(const std::string& bytes, bool current_only);

// Files that are not replay files are libFuzzer artifacts.
bool LooksLikeReplay(const std::string& text);

}  // namespace iocpsim

#endif  // IOCPSIM_FUZZ_FUZZ_INPUT_H_
