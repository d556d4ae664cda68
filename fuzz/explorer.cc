#include "fuzz/explorer.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace iocpsim {

using proactor::Profile;
using scenarios::ScenarioResult;
using scenarios::Verdict;

Profile Campaign::Profile() const {
  proactor::Profile p = *proactor::Profile::Named(profile_name);
  for (const std::string& q : quirks) p.With(*proactor::QuirkFromId(q));
  return p;
}

absl::StatusOr<Campaign> MakeCampaign(const std::string& scenario, const std::string& profile,
                                      const std::vector<std::string>& quirks) {
  Campaign c;
  c.scenario = scenarios::FindScenario(scenario);
  if (c.scenario == nullptr) {
    std::vector<std::string> names;
    for (const auto& s : scenarios::AllScenarios()) names.push_back(s.name);
    return absl::InvalidArgumentError(absl::StrCat("unknown scenario '", scenario,
                                                   "' (scenarios: ", absl::StrJoin(names, ", "), ")"));
  }
  if (!proactor::Profile::Named(profile)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown profile '", profile, "' (profiles: ",
                                                   absl::StrJoin(proactor::Profile::Names(), ", "), ")"));
  }
  c.profile_name = profile;
  for (const std::string& q : quirks) {
    if (!proactor::QuirkFromId(q)) {
      std::vector<std::string> names;
      for (size_t i = 0; i < static_cast<size_t>(proactor::Quirk::kCount); ++i) {
        names.push_back(proactor::QuirkId(static_cast<proactor::Quirk>(i)));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("unknown quirk '", q, "' (quirks: ", absl::StrJoin(names, ", "), ")"));
    }
    c.quirks.push_back(q);
  }
  return c;
}

ReplayFile MakeReplay(const Campaign& c, const ScenarioResult& result,
                      std::vector<ChoiceRecord> choices) {
  ReplayFile r;
  r.scenario = c.scenario->name;
  r.profile = c.profile_name;
  r.quirks = c.quirks;
  r.verdict = scenarios::VerdictName(result.verdict.verdict);
  r.signature = result.verdict.signature;
  r.digest = result.run.digest;
  r.choices = std::move(choices);
  return r;
}

namespace {

bool Smaller(const ReplayFile& a, const ReplayFile& b) {
  size_t da = Deviations(a.choices), db = Deviations(b.choices);
  return da != db ? da < db : a.choices.size() < b.choices.size();
}

}  // namespace

ExploreResult Explore(const Campaign& c, Strategy& strategy, const ExploreLimits& limits) {
  ExploreResult out;
  Profile profile = c.Profile();
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  while (out.runs < limits.max_runs && elapsed() < limits.max_seconds) {
    std::unique_ptr<ChoiceSource> source = strategy.Next();
    if (source == nullptr) break;
    Recorder recorder(*source);
    ScenarioResult r = scenarios::RunScenario(*c.scenario, profile, recorder);
    ++out.runs;
    bool found = r.verdict.verdict != Verdict::kOk;
    strategy.Done(recorder.choices(), found);
    if (limits.determinism_every != 0 && out.runs % limits.determinism_every == 0) {
      // The determinism check, as a wrapper: the same choices again must
      // give the same digest.
      ReplaySource again(recorder.choices());
      ScenarioResult r2 = scenarios::RunScenario(*c.scenario, profile, again);
      ++out.determinism_checked;
      if (r2.run.digest != r.run.digest) {
        out.determinism_failures.push_back(absl::StrCat("run ", out.runs, ": digest ", r.run.digest,
                                                        " then ", r2.run.digest));
      }
    }
    if (found) {
      ReplayFile replay = MakeReplay(c, r, recorder.choices());
      auto it = std::find_if(out.groups.begin(), out.groups.end(),
                             [&](const Group& g) { return g.signature == r.verdict.signature; });
      if (it == out.groups.end()) {
        out.groups.push_back({r.verdict.verdict, r.verdict.signature, 1, out.runs, elapsed(), replay});
      } else {
        ++it->count;
        if (Smaller(replay, it->smallest)) it->smallest = std::move(replay);
      }
      if (limits.stop_at_first || r.verdict.signature == limits.stop_at_signature) break;
    }
    if (limits.progress && (out.runs & 1023) == 0) {
      out.seconds = elapsed();
      limits.progress(out);
    }
  }
  out.seconds = elapsed();
  out.summary = strategy.Summary();
  return out;
}

ScenarioResult RunChoices(const Campaign& c, const ReplayFile& r, bool soft, bool trace,
                          std::vector<ChoiceRecord>* actual, std::string* divergence) {
  ReplaySource replay(r.choices, soft);
  Recorder recorder(replay);
  scenarios::RunOptions options;
  options.trace = trace;
  options.pending_when_ready = r.pending_when_ready;
  options.immediate_status = r.immediate_status;
  ScenarioResult result = scenarios::RunScenario(*c.scenario, c.Profile(), recorder, options);
  if (actual != nullptr) *actual = recorder.choices();
  if (divergence != nullptr) *divergence = soft ? replay.divergence() : replay.error();
  return result;
}

ReplayFile Minimize(const Campaign& c, const ReplayFile& r, uint64_t max_runs, uint64_t* runs) {
  ReplayFile best = r;
  uint64_t n = 0;
  struct Count {
    uint64_t& n;
    uint64_t* out;
    ~Count() {
      if (out != nullptr) *out = n;
    }
  } count{n, runs};
  // A candidate is kept if the run (soft replay: positions may shift)
  // ends with the same signature; the choices it actually made become
  // the new list, trailing canonical ones trimmed.
  auto Try = [&](std::vector<ChoiceRecord> candidate) {
    if (n >= max_runs) return false;
    ++n;
    ReplayFile trial = best;
    trial.choices = std::move(candidate);
    std::vector<ChoiceRecord> actual;
    ScenarioResult result = RunChoices(c, trial, /*soft=*/true, false, &actual, nullptr);
    if (result.verdict.signature != r.signature) return false;
    while (!actual.empty() && actual.back().value == 0) actual.pop_back();
    ReplayFile next = MakeReplay(c, result, std::move(actual));
    if (!Smaller(next, best)) return false;
    best = std::move(next);
    return true;
  };
  // The canonical run itself first: a bug that needs no deviation at all.
  if (!best.choices.empty()) {
    ReplayFile trial = best;
    trial.choices.clear();
    std::vector<ChoiceRecord> actual;
    ++n;
    ScenarioResult result = RunChoices(c, trial, /*soft=*/true, false, &actual, nullptr);
    if (result.verdict.signature == r.signature) return MakeReplay(c, result, {});
  }
  bool progress = true;
  while (progress && n < max_runs) {
    progress = false;
    // Zero chunks of the non-canonical choices, halving the chunk size.
    std::vector<size_t> nonzero;
    for (size_t i = 0; i < best.choices.size(); ++i) {
      if (best.choices[i].value != 0) nonzero.push_back(i);
    }
    for (size_t chunk = std::max<size_t>(1, nonzero.size() / 2); chunk >= 1 && !progress; chunk /= 2) {
      for (size_t start = 0; start < nonzero.size() && !progress; start += chunk) {
        std::vector<ChoiceRecord> candidate = best.choices;
        for (size_t j = start; j < std::min(nonzero.size(), start + chunk); ++j) {
          candidate[nonzero[j]].value = 0;
        }
        progress = Try(std::move(candidate));
      }
      if (chunk == 1) break;
    }
    // Lower the values that remain.
    for (size_t i = 0; i < best.choices.size() && !progress; ++i) {
      for (uint32_t v = 1; v < best.choices[i].value && !progress; ++v) {
        std::vector<ChoiceRecord> candidate = best.choices;
        candidate[i].value = v;
        progress = Try(std::move(candidate));
      }
    }
  }
  return best;
}

}  // namespace iocpsim
