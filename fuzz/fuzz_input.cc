#include "fuzz/fuzz_input.h"

#include <cstdlib>

#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "fuzz/coverage_source.h"
#include "fuzz/explorer.h"
#include "proactor/profile.h"

namespace iocpsim {

namespace {
FuzzPin pin;
}  // namespace

void SetFuzzPin(FuzzPin p) { pin = std::move(p); }

std::string PinFromEnvironment() {
  const char* name = std::getenv("IOCPSIM_FUZZ_SCENARIO");
  if (name == nullptr || *name == '\0') return "";
  FuzzPin p;
  p.scenario = scenarios::FindScenario(name);
  if (p.scenario == nullptr) return std::string("unknown IOCPSIM_FUZZ_SCENARIO '") + name + "'";
  if (const char* quirks = std::getenv("IOCPSIM_FUZZ_QUIRKS")) {
    for (absl::string_view q : absl::StrSplit(quirks, ',', absl::SkipEmpty())) {
      if (!proactor::QuirkFromId(std::string(q))) {
        return "unknown quirk '" + std::string(q) + "' in IOCPSIM_FUZZ_QUIRKS";
      }
      p.quirks.emplace_back(q);
    }
  }
  SetFuzzPin(std::move(p));
  return "";
}

FuzzInput DecodeFuzzInput(const uint8_t* data, size_t size, bool current_only) {
  if (pin.scenario != nullptr) {
    return {pin.scenario, "current", pin.quirks, data, size};
  }
  const auto& all = scenarios::AllScenarios();
  std::vector<std::string> profiles = proactor::Profile::Names();
  FuzzInput in;
  // The `current` target leaves out the canary (index 0): it fuzzes for
  // real findings only.
  size_t pick = size > 0 ? data[0] : 0;
  in.scenario = current_only ? &all[1 + pick % (all.size() - 1)] : &all[pick % all.size()];
  in.profile = current_only || size < 2 ? "current" : profiles[data[1] % profiles.size()];
  size_t skip = size < 2 ? size : 2;
  in.choices = data + skip;
  in.choices_size = size - skip;
  return in;
}

scenarios::ScenarioResult RunFuzzInput(const uint8_t* data, size_t size, bool current_only,
                                       bool abort_on_finding, uint8_t* counters,
                                       size_t counters_size) {
  FuzzInput in = DecodeFuzzInput(data, size, current_only);
  FuzzBytesSource bytes(absl::MakeConstSpan(in.choices, in.choices_size));
  CoverageSource covered(bytes, counters, counters_size);
  ChoiceSource& source = counters != nullptr ? static_cast<ChoiceSource&>(covered) : bytes;
  scenarios::RunOptions options;
  options.abort_on_finding = abort_on_finding;
  Campaign c = *MakeCampaign(in.scenario->name, in.profile, in.quirks);
  return scenarios::RunScenario(*in.scenario, c.Profile(), source, options);
}

ReplayFile ReplayFromArtifact(const std::string& bytes, bool current_only) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  FuzzInput in = DecodeFuzzInput(data, bytes.size(), current_only);
  FuzzBytesSource source(absl::MakeConstSpan(in.choices, in.choices_size));
  Recorder recorder(source);
  Campaign c = *MakeCampaign(in.scenario->name, in.profile, in.quirks);
  scenarios::ScenarioResult r = scenarios::RunScenario(*in.scenario, c.Profile(), recorder);
  return MakeReplay(c, r, recorder.choices());
}

bool LooksLikeReplay(const std::string& text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  return i != std::string::npos && (text.compare(i, 1, "#") == 0 || text.compare(i, 7, "version") == 0);
}

}  // namespace iocpsim
