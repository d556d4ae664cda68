// Replay files: a versioned, human-readable record of one run -- the
// scenario, profile and quirks, kernel options, every choice (kind, option
// count, value, label), and the verdict, signature and trace digest it
// gave.
//
//   # iocpsim replay
//   version 1
//   scenario wait-cancel
//   profile current
//   quirk bpo-23095
//   kernel pending_when_ready=0 immediate_status=0
//   verdict unexpected-event
//   signature unexpected-event:GQCS:key-zero
//   digest 5c0ffee0d15ea5e5
//   choice param 3 0 cancel: at once | after 1 ms | after 2 ms
//   choice schedule 2 1 running | thread#2
//   end
//
// Lines starting with '#' are comments; the label is optional and ends
// the line. Parse errors name the file and line.
#ifndef IOCPSIM_FUZZ_REPLAY_FILE_H_
#define IOCPSIM_FUZZ_REPLAY_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/choice.h"

namespace iocpsim {

inline constexpr int kReplayVersion = 1;
inline constexpr size_t kReplayMaxBytes = 64 << 20;
inline constexpr size_t kReplayMaxChoices = 4'000'000;

struct ReplayFile {
  std::string scenario;
  std::string profile = "current";
  std::vector<std::string> quirks;
  bool pending_when_ready = false;
  bool immediate_status = false;
  std::string verdict;
  std::string signature;
  uint64_t digest = 0;
  std::vector<ChoiceRecord> choices;
};

std::string FormatReplay(const ReplayFile& r);
// `name` is used in error messages: "FILE:LINE: what".
absl::StatusOr<ReplayFile> ParseReplay(const std::string& text, const std::string& name);
absl::StatusOr<ReplayFile> ReadReplay(const std::string& path);
absl::Status WriteReplay(const ReplayFile& r, const std::string& path);

}  // namespace iocpsim

#endif  // IOCPSIM_FUZZ_REPLAY_FILE_H_
