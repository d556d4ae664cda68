// The helpers the iocpsim commands share (cli.h).
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "fuzz/explorer.h"
#include "fuzz/fuzz_input.h"
#include "fuzz/replay_file.h"
#include "fuzz/strategy.h"
#include "proactor/profile.h"
#include "scenarios/scenario.h"
#include "sim/choice.h"
#include "fuzz/cli.h"
#include "reports/report.h"

namespace iocpsim::cli {

using proactor::Profile;
using proactor::Quirk;
using scenarios::Scenario;

int Usage(const std::string& message) {
  std::fprintf(stderr, "iocpsim: %s\n", message.c_str());
  return 2;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string ScenarioNames() {
  std::vector<std::string> names;
  for (const Scenario& s : scenarios::AllScenarios()) names.push_back(s.name);
  return Join(names, ", ");
}

std::string QuirkNames() {
  std::vector<std::string> names;
  for (size_t i = 0; i < static_cast<size_t>(Quirk::kCount); ++i) {
    names.push_back(proactor::QuirkId(static_cast<Quirk>(i)));
  }
  return Join(names, ", ");
}

std::string JsonString(const std::string& s) { return reports::JsonQuote(s); }

// The JSON object of `run --json` (and of `replay --json`, with `extra`
// fields appended: ",\"matched\":true").
std::string RunJson(const std::string& scenario, const std::string& profile,
                    const std::string& source, const scenarios::ScenarioResult& r,
                    const std::string& extra) {
  std::string findings;
  for (const auto& f : r.findings) {
    if (!findings.empty()) findings += ",";
    findings += "{\"verdict\":" + JsonString(scenarios::VerdictName(f.verdict)) +
                ",\"signature\":" + JsonString(f.signature) + ",\"detail\":" + JsonString(f.detail) +
                "}";
  }
  char digest[24];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(r.run.digest));
  return "{\"scenario\":" + JsonString(scenario) + ",\"profile\":" + JsonString(profile) +
         ",\"source\":" + JsonString(source) +
         ",\"verdict\":" + JsonString(scenarios::VerdictName(r.verdict.verdict)) +
         ",\"signature\":" + JsonString(r.verdict.signature) + ",\"digest\":" + JsonString(digest) +
         ",\"choices\":" + std::to_string(r.run.choices) + ",\"steps\":" + std::to_string(r.run.steps) +
         ",\"virtual_ns\":" + std::to_string(r.run.end_time_ns) + ",\"findings\":[" + findings + "]" +
         extra + "}";
}

bool Has(const std::vector<std::string>& args, const char* flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

// Flags shared by explore and hunt, parsed from `args` (the others stay).
struct Budget {
  uint64_t runs = 0;
  double seconds = 0;
};

std::optional<double> Number(const std::string& v) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d > 0)) return std::nullopt;
  return d;
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out;
}

absl::StatusOr<std::pair<Campaign, ReplayFile>> Load(const std::string& path,
                                                     bool current_target) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot open");
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  absl::StatusOr<ReplayFile> file;
  if (!LooksLikeReplay(head)) {
    in.clear();
    in.seekg(0);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() > kReplayMaxBytes) return absl::InvalidArgumentError(path + ":1: file too large");
    file = ReplayFromArtifact(bytes, current_target);
  } else {
    file = ReadReplay(path);
  }
  if (!file.ok()) return file.status();
  absl::StatusOr<Campaign> c = MakeCampaign(file->scenario, file->profile, file->quirks);
  if (!c.ok()) return absl::InvalidArgumentError(path + ": " + std::string(c.status().message()));
  return std::pair{*c, *file};
}

}  // namespace iocpsim::cli
