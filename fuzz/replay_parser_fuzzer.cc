// libFuzzer target: the replay-file parser takes any bytes without
// crashing (a malformed file is an error naming its line, never a crash).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/replay_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<iocpsim::ReplayFile> r = iocpsim::ParseReplay(text, "fuzz");
  if (r.ok()) {
    // What parses, formats and parses back to the same.
    absl::StatusOr<iocpsim::ReplayFile> again = iocpsim::ParseReplay(iocpsim::FormatReplay(*r), "again");
    if (!again.ok() || again->choices.size() != r->choices.size()) __builtin_trap();
  }
  return 0;
}
