// Campaigns: runs of one scenario under one profile, driven by a
// strategy, with findings grouped by signature (each group keeps its
// smallest replay); replay of a saved run; and minimization of a failing
// choice list while the signature stays the same.
#ifndef IOCPSIM_FUZZ_EXPLORER_H_
#define IOCPSIM_FUZZ_EXPLORER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fuzz/replay_file.h"
#include "fuzz/strategy.h"
#include "proactor/profile.h"
#include "scenarios/scenario.h"

namespace iocpsim {

struct Campaign {
  const scenarios::Scenario* scenario = nullptr;
  std::string profile_name = "current";
  std::vector<std::string> quirks;
  proactor::Profile Profile() const;  // the named profile plus the quirks
};

// Resolves names; InvalidArgument with the valid names listed.
absl::StatusOr<Campaign> MakeCampaign(const std::string& scenario, const std::string& profile,
                                      const std::vector<std::string>& quirks);

struct Group {
  scenarios::Verdict verdict;
  std::string signature;
  uint64_t count = 0;
  uint64_t first_run = 0;       // 1-based
  double first_seconds = 0;     // wall time to the first one
  ReplayFile smallest;          // fewest deviations, then fewest choices
};

struct ExploreResult {
  uint64_t runs = 0;
  double seconds = 0;
  std::vector<Group> groups;
  std::string summary;           // the strategy's
  uint64_t determinism_checked = 0;
  std::vector<std::string> determinism_failures;
};

struct ExploreLimits {
  uint64_t max_runs = 100000;
  double max_seconds = 10;        // wall time: decides how many runs, never what a run does
  bool stop_at_first = false;
  std::string stop_at_signature;  // stop once this signature is found
  uint64_t determinism_every = 0; // re-run every Nth run and compare digests (0: never)
  std::function<void(const ExploreResult&)> progress;  // called now and then
};

ExploreResult Explore(const Campaign& c, Strategy& strategy, const ExploreLimits& limits);

// One run from a list of choices; `soft` goes on canonically after the
// first divergence (reported in *divergence) instead of stopping.
scenarios::ScenarioResult RunChoices(const Campaign& c, const ReplayFile& r, bool soft, bool trace,
                                     std::vector<ChoiceRecord>* actual, std::string* divergence);

ReplayFile MakeReplay(const Campaign& c, const scenarios::ScenarioResult& result,
                      std::vector<ChoiceRecord> choices);

// Delta debugging: zero choices (halves, then one by one), then lower the
// ones left, keeping the signature. Returns the smaller replay and its run
// count in *runs.
ReplayFile Minimize(const Campaign& c, const ReplayFile& r, uint64_t max_runs, uint64_t* runs);

}  // namespace iocpsim

#endif  // IOCPSIM_FUZZ_EXPLORER_H_
