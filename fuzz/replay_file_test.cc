// Replay files: the format round-trips; bad files give one-line errors
// that name the file and line.
#include "fuzz/replay_file.h"

#include <doctest/doctest.h>

namespace iocpsim {
namespace {

ReplayFile Sample() {
  ReplayFile r;
  r.scenario = "wait-cancel";
  r.quirks = {"bpo-23095"};
  r.verdict = "unexpected-event";
  r.signature = "unexpected-event:GQCS:key-zero";
  r.digest = 0x0123456789abcdefull;
  r.choices = {{ChoiceKind::kParam, 3, 1, "cancel: at once | after 1 ms"},
               {ChoiceKind::kSchedule, 2, 0, ""}};
  return r;
}

TEST_CASE("A replay file round-trips") {
  ReplayFile r = Sample();
  absl::StatusOr<ReplayFile> back = ParseReplay(FormatReplay(r), "x.replay");
  REQUIRE(back.ok());
  CHECK(back->scenario == r.scenario);
  CHECK(back->quirks == r.quirks);
  CHECK(back->verdict == r.verdict);
  CHECK(back->signature == r.signature);
  CHECK(back->digest == r.digest);
  REQUIRE(back->choices.size() == 2);
  CHECK(back->choices[0] == r.choices[0]);
  CHECK(back->choices[0].label == r.choices[0].label);
}

TEST_CASE("Malformed, truncated and wrong-version files give an error naming the file and line") {
  std::string good = FormatReplay(Sample());
  struct Case {
    std::string text;
    std::string want;
  };
  std::vector<Case> cases = {
      {"", "x.replay:1: empty file"},
      {"hello\n", "x.replay:1: not an iocpsim replay file"},
      {"version 2\nscenario a\nend\n", "x.replay:1: replay version 2"},
      {"version 1\nscenario a\n", "truncated: no 'end' line"},
      {"version 1\nend\n", "no 'scenario' line"},
      {"version 1\nscenario a\nchoice schedule 2 5\nend\n", "x.replay:3: value 5 is not one of 2"},
      {"version 1\nscenario a\nchoice warp 2 1\nend\n", "x.replay:3: expected 'choice KIND N VALUE"},
      {"version 1\nscenario a\ndigest xyz\nend\n", "x.replay:3: digest needs 16 hex digits"},
      {"version 1\nscenario a\nkernel turbo=1\nend\n", "x.replay:3: unknown kernel option 'turbo'"},
      {"version 1\nscenario a\nbogus 1\nend\n", "x.replay:3: unknown line 'bogus'"},
      {"version 1\nscenario a\nend\nchoice schedule 2 1\n", "x.replay:4: text after 'end'"},
      {good.substr(0, good.size() / 2), "truncated"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    absl::StatusOr<ReplayFile> r = ParseReplay(c.text, "x.replay");
    REQUIRE_FALSE(r.ok());
    std::string message(r.status().message());
    CHECK(message.find(c.want) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("An oversized file is refused before it is parsed") {
  std::string big(kReplayMaxBytes + 1, '#');
  absl::StatusOr<ReplayFile> r = ParseReplay(big, "big.replay");
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("big.replay:1: file larger than") == 0);
}

}  // namespace
}  // namespace iocpsim
