// The iocpsim command line, first part: list the scenarios, run one.
//
//   iocpsim list
//   iocpsim run SCENARIO [--profile P] [--quirk Q ...] [--seed N | --input FILE]
//                        [--trace] [--json]
//   iocpsim sweep SCENARIO [--profile P] [--quirk Q ...] [--seeds N]
//       (seeds 1..N: each signature's count and first seed, and runs/s)
//
// Exit status: 0 when the verdict is ok, 1 for a finding, 2 for a usage or
// input error (a one-line message naming the flag, file or valid names).
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

namespace iocpsim {
namespace {

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

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// The JSON object of `run --json` (and of `replay --json`, with `extra`
// fields appended: ",\"matched\":true").
std::string RunJson(const std::string& scenario, const std::string& profile,
                    const std::string& source, const scenarios::ScenarioResult& r,
                    const std::string& extra = "") {
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

int List() {
  for (const Scenario& s : scenarios::AllScenarios()) {
    std::vector<std::string> bugs(s.bugs.begin(), s.bugs.end());
    std::string d = s.description;
    size_t dot = d.find(". ");
    std::printf("%-24s %-42s %s\n", s.name, bugs.empty() ? "-" : Join(bugs, ",").c_str(),
                d.substr(0, dot == std::string::npos ? d.size() : dot + 1).c_str());
  }
  return 0;
}

struct Args {
  const Scenario* scenario = nullptr;
  std::optional<Profile> profile;
  std::optional<uint64_t> seed;
  std::optional<std::string> input;
  uint64_t seeds = 1000;
  bool trace = false, json = false;
};

// Parses `SCENARIO [flags]`; returns an exit status (2) on bad input.
std::optional<int> Parse(const std::vector<std::string>& args, bool sweep, Args& out) {
  if (args.empty()) return Usage("which scenario? (" + ScenarioNames() + ")");
  out.scenario = scenarios::FindScenario(args[0]);
  if (out.scenario == nullptr) {
    return Usage("unknown scenario '" + args[0] + "' (scenarios: " + ScenarioNames() + ")");
  }
  std::string profile_name = "current";
  std::vector<Quirk> quirks;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto number = [&](std::optional<std::string> v) -> std::optional<uint64_t> {
      if (!v || v->empty() || v->find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
      }
      return std::strtoull(v->c_str(), nullptr, 10);
    };
    if (a == "--profile") {
      auto v = value();
      if (!v) return Usage("--profile needs a value (" + Join(Profile::Names(), ", ") + ")");
      profile_name = *v;
    } else if (a == "--quirk") {
      auto v = value();
      if (!v) return Usage("--quirk needs a value (" + QuirkNames() + ")");
      std::optional<Quirk> q = proactor::QuirkFromId(*v);
      if (!q) return Usage("unknown quirk '" + *v + "' (quirks: " + QuirkNames() + ")");
      quirks.push_back(*q);
    } else if (a == "--seed" && !sweep) {
      out.seed = number(value());
      if (!out.seed) return Usage("--seed needs a non-negative integer");
    } else if (a == "--seeds" && sweep) {
      auto n = number(value());
      if (!n || *n == 0) return Usage("--seeds needs a positive integer");
      out.seeds = *n;
    } else if (a == "--input" && !sweep) {
      out.input = value();
      if (!out.input) return Usage("--input needs a file");
    } else if (a == "--trace" && !sweep) {
      out.trace = true;
    } else if (a == "--json" && !sweep) {
      out.json = true;
    } else {
      return Usage("unknown flag '" + a + "' (flags: " +
                   (sweep ? "--profile --quirk --seeds" : "--profile --quirk --seed --input --trace --json") +
                   ")");
    }
  }
  if (out.seed && out.input) return Usage("--seed and --input exclude each other");
  out.profile = Profile::Named(profile_name);
  if (!out.profile) {
    return Usage("unknown profile '" + profile_name + "' (profiles: " +
                 Join(Profile::Names(), ", ") + ")");
  }
  for (Quirk q : quirks) out.profile->With(q);
  return std::nullopt;
}

// Seeds 1..N: how often each signature came, and its first seed.
int Sweep(const std::vector<std::string>& raw) {
  if (std::find(raw.begin(), raw.end(), "--help") != raw.end()) {
    std::printf("iocpsim sweep SCENARIO [--profile P] [--quirk Q ...] [--seeds N]\n"
                "Runs PRNG seeds 1..N (default 1000): each signature's count and first seed,\n"
                "and the runs per second.\n");
    return 0;
  }
  Args args;
  if (auto status = Parse(raw, true, args)) return *status;
  struct Row {
    std::string signature;
    uint64_t count = 0, first = 0;
  };
  std::vector<Row> rows;
  auto start = std::chrono::steady_clock::now();  // for the runs/s figure only
  for (uint64_t seed = 1; seed <= args.seeds; ++seed) {
    PrngSource source(seed);
    scenarios::ScenarioResult r = scenarios::RunScenario(*args.scenario, *args.profile, source);
    std::string sig = r.verdict.verdict == scenarios::Verdict::kOk ? "ok" : r.verdict.signature;
    auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& x) { return x.signature == sig; });
    if (it == rows.end()) {
      rows.push_back({sig, 1, seed});
    } else {
      ++it->count;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("scenario %s  profile %s  seeds 1..%llu  %.0f runs/s\n", args.scenario->name,
              args.profile->Describe().c_str(), static_cast<unsigned long long>(args.seeds),
              args.seeds / secs);
  bool found = false;
  for (const Row& r : rows) {
    std::printf("%8llu  first seed %-8llu %s\n", static_cast<unsigned long long>(r.count),
                static_cast<unsigned long long>(r.first), r.signature.c_str());
    found = found || r.signature != "ok";
  }
  return found ? 1 : 0;
}

int Run(const std::vector<std::string>& raw) {
  if (std::find(raw.begin(), raw.end(), "--help") != raw.end()) {
    std::printf("iocpsim run SCENARIO [--profile P] [--quirk Q ...] [--seed N | --input FILE]\n"
                "                     [--trace] [--json]\n"
                "One run: canonical, a PRNG seed, or raw choice bytes from FILE. Prints the\n"
                "verdict, signature and digest; exit 0 ok, 1 finding, 2 bad input.\n");
    return 0;
  }
  Args args;
  if (auto status = Parse(raw, false, args)) return *status;
  const Scenario* s = args.scenario;
  std::optional<Profile>& profile = args.profile;
  std::optional<uint64_t> seed = args.seed;
  std::optional<std::string> input = args.input;
  bool trace = args.trace, json = args.json;

  std::vector<uint8_t> bytes;
  std::unique_ptr<ChoiceSource> source;
  std::string source_name = "canonical";
  if (input) {
    std::ifstream f(*input, std::ios::binary);
    if (!f) return Usage("cannot read --input file '" + *input + "'");
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    source = std::make_unique<FuzzBytesSource>(absl::MakeConstSpan(bytes));
    source_name = "input " + *input;
  } else if (seed) {
    source = std::make_unique<PrngSource>(*seed);
    source_name = "seed " + std::to_string(*seed);
  } else {
    source = std::make_unique<CanonicalSource>();
  }

  scenarios::RunOptions options;
  options.trace = trace;
  scenarios::ScenarioResult r = scenarios::RunScenario(*s, *profile, *source, options);
  const char* verdict = scenarios::VerdictName(r.verdict.verdict);
  char digest[24];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(r.run.digest));
  if (json) {
    std::printf("%s\n", RunJson(s->name, profile->Describe(), source_name, r).c_str());
  } else {
    for (const std::string& line : r.run.trace) std::printf("%s\n", line.c_str());
    std::printf("scenario %s  profile %s  %s\n", s->name, profile->Describe().c_str(),
                source_name.c_str());
    std::printf("verdict %s%s%s\n", verdict, r.verdict.signature.empty() ? "" : "  signature ",
                r.verdict.signature.c_str());
    if (!r.verdict.detail.empty()) {
      std::string first = r.verdict.detail.substr(0, r.verdict.detail.find('\n'));
      std::printf("  %s\n", first.c_str());
    }
    // The others, in order of first appearance, repeats counted.
    std::vector<std::pair<std::string, int>> others;
    for (size_t i = 1; i < r.findings.size(); ++i) {
      auto it = std::find_if(others.begin(), others.end(),
                             [&](const auto& o) { return o.first == r.findings[i].signature; });
      if (it == others.end()) {
        others.push_back({r.findings[i].signature, 1});
      } else {
        ++it->second;
      }
    }
    for (const auto& [sig, n] : others) {
      std::printf("  also: %s%s\n", sig.c_str(), n > 1 ? (" (x" + std::to_string(n) + ")").c_str() : "");
    }
    std::printf("digest %s  choices %llu  steps %llu  virtual time %.3fs\n", digest,
                static_cast<unsigned long long>(r.run.choices),
                static_cast<unsigned long long>(r.run.steps), r.run.end_time_ns / 1e9);
  }
  return r.verdict.verdict == scenarios::Verdict::kOk ? 0 : 1;
}


// ---------------------------------------------------------------- explore

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

void PrintGroups(const ExploreResult& r, const std::vector<std::string>& paths) {
  for (size_t i = 0; i < r.groups.size(); ++i) {
    const Group& g = r.groups[i];
    std::printf("  %-16s %-52s x%-6llu first at run %-7llu (%.2fs)  %zu deviations%s%s\n",
                scenarios::VerdictName(g.verdict), g.signature.c_str(),
                static_cast<unsigned long long>(g.count),
                static_cast<unsigned long long>(g.first_run), g.first_seconds,
                Deviations(g.smallest.choices), paths.empty() ? "" : "  ",
                paths.empty() ? "" : paths[i].c_str());
  }
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out;
}

int ExploreCommand(const std::vector<std::string>& args) {
  if (args.empty() || Has(args, "--help")) {
    std::printf(
        "iocpsim explore SCENARIO [--strategy canonical|random|pct|pct1|pct2|bounded|swarm]\n"
        "                [--runs N] [--seconds T] [--profile P] [--quirk Q ...] [--seed N]\n"
        "                [--bound K] [--out DIR] [--json]\n"
        "Runs SCENARIO under a strategy until the budget (default 100000 runs, 10 s) is spent;\n"
        "groups findings by signature and keeps each group's smallest replay (in DIR).\n"
        "bounded: every choice list with at most K (default 3) non-canonical choices, fewest\n"
        "first. pct: depth 3 (pct1, pct2 for depths 1 and 2).\n");
    return args.empty() ? 2 : 0;
  }
  std::string strategy_name = "random", profile = "current", out_dir;
  std::vector<std::string> quirks;
  uint64_t seed = 1;
  int bound = 3;
  ExploreLimits limits;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--strategy" && has_value) {
      strategy_name = args[++i];
    } else if (a == "--runs" && has_value) {
      auto v = Number(args[++i]);
      if (!v) return Usage("--runs needs a positive integer");
      limits.max_runs = static_cast<uint64_t>(*v);
    } else if (a == "--seconds" && has_value) {
      auto v = Number(args[++i]);
      if (!v) return Usage("--seconds needs a positive number");
      limits.max_seconds = *v;
    } else if (a == "--profile" && has_value) {
      profile = args[++i];
    } else if (a == "--quirk" && has_value) {
      quirks.push_back(args[++i]);
    } else if (a == "--seed" && has_value) {
      auto v = Number(args[++i]);
      if (!v) return Usage("--seed needs a positive integer");
      seed = static_cast<uint64_t>(*v);
    } else if (a == "--out" && has_value) {
      out_dir = args[++i];
    } else if (a == "--bound" && has_value) {
      auto v = Number(args[++i]);
      if (!v || *v > 16) return Usage("--bound needs an integer from 1 to 16");
      bound = static_cast<int>(*v);
    } else if (a == "--json") {
      json = true;
    } else {
      return Usage("explore: unknown or incomplete flag '" + a + "' (see explore --help)");
    }
  }
  absl::StatusOr<Campaign> campaign = MakeCampaign(args[0], profile, quirks);
  if (!campaign.ok()) return Usage(std::string(campaign.status().message()));
  std::unique_ptr<Strategy> strategy = strategy_name == "bounded"
                                           ? MakeBoundedStrategy(bound)
                                           : MakeStrategy(strategy_name, seed);
  if (strategy == nullptr) {
    return Usage("unknown strategy '" + strategy_name + "' (strategies: " +
                 Join(StrategyNames(), ", ") + ")");
  }
  if (isatty(2)) {
    limits.progress = [](const ExploreResult& r) {
      std::fprintf(stderr, "\r%llu runs  %.0f runs/s  %zu findings  %.1fs ",
                   static_cast<unsigned long long>(r.runs), r.runs / std::max(r.seconds, 1e-9),
                   r.groups.size(), r.seconds);
    };
  }
  ExploreResult r = iocpsim::Explore(*campaign, *strategy, limits);
  if (isatty(2)) std::fprintf(stderr, "\r%60s\r", "");
  std::vector<std::string> paths;
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    for (const Group& g : r.groups) {
      std::string path = out_dir + "/" + SafeName(args[0]) + "." + SafeName(g.signature) + ".replay";
      absl::Status st = WriteReplay(g.smallest, path);
      if (!st.ok()) return Usage(std::string(st.message()));
      paths.push_back(path);
    }
  }
  if (json) {
    std::string groups;
    for (size_t i = 0; i < r.groups.size(); ++i) {
      const Group& g = r.groups[i];
      if (!groups.empty()) groups += ",";
      groups += "{\"verdict\":" + JsonString(scenarios::VerdictName(g.verdict)) +
                ",\"signature\":" + JsonString(g.signature) + ",\"count\":" +
                std::to_string(g.count) + ",\"first_run\":" + std::to_string(g.first_run) +
                ",\"deviations\":" + std::to_string(Deviations(g.smallest.choices)) +
                (paths.empty() ? "" : ",\"replay\":" + JsonString(paths[i])) + "}";
    }
    std::printf("{\"scenario\":%s,\"profile\":%s,\"strategy\":%s,\"runs\":%llu,\"seconds\":%.3f,"
                "\"summary\":%s,\"groups\":[%s]}\n",
                JsonString(args[0]).c_str(), JsonString(campaign->Profile().Describe()).c_str(),
                JsonString(strategy_name).c_str(), static_cast<unsigned long long>(r.runs),
                r.seconds, JsonString(r.summary).c_str(), groups.c_str());
  } else {
    std::printf("explore %s  profile %s  strategy %s: %llu runs in %.2fs (%.0f runs/s), %zu signatures\n",
                args[0].c_str(), campaign->Profile().Describe().c_str(), strategy_name.c_str(),
                static_cast<unsigned long long>(r.runs), r.seconds,
                r.runs / std::max(r.seconds, 1e-9), r.groups.size());
    PrintGroups(r, paths);
    if (!r.summary.empty()) std::printf("%s\n", r.summary.c_str());
  }
  return r.groups.empty() ? 0 : 1;
}

// ----------------------------------------------------------------- replay

// A replay file, or a raw libFuzzer artifact (see fuzz_input.h), which is
// run once and recorded. Artifacts of the `current` target need --current.
absl::StatusOr<std::pair<Campaign, ReplayFile>> Load(const std::string& path,
                                                     bool current_target = false) {
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

int ReplayCommand(const std::vector<std::string>& args) {
  if (args.empty() || Has(args, "--help")) {
    std::printf("iocpsim replay FILE [--soft] [--trace] [--json]\n"
                "Runs a replay file again and says whether its verdict, signature and digest\n"
                "matched (exit 0), or not (exit 1). Strict by default: a choice whose kind or\n"
                "option count differs stops the run; --soft reports it and goes on canonically.\n");
    return args.empty() ? 2 : 0;
  }
  bool soft = Has(args, "--soft"), trace = Has(args, "--trace"), json = Has(args, "--json");
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] != "--soft" && args[i] != "--trace" && args[i] != "--json") {
      return Usage("replay: unknown flag '" + args[i] + "' (flags: --soft --trace --json)");
    }
  }
  auto loaded = Load(args[0]);
  if (!loaded.ok()) return Usage(std::string(loaded.status().message()));
  auto& [campaign, file] = *loaded;
  std::string divergence;
  scenarios::ScenarioResult r = RunChoices(campaign, file, soft, trace, nullptr, &divergence);
  const char* verdict = scenarios::VerdictName(r.verdict.verdict);
  bool matched = file.verdict == verdict && file.signature == r.verdict.signature &&
                 file.digest == r.run.digest;
  char digest[24];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(r.run.digest));
  if (json) {
    // The fields of `run --json`, plus divergence and matched.
    std::printf("%s\n", RunJson(file.scenario, campaign.Profile().Describe(), "replay " + args[0], r,
                                ",\"divergence\":" + JsonString(divergence) +
                                    ",\"matched\":" + (matched ? "true" : "false"))
                             .c_str());
  } else {
    for (const std::string& line : r.run.trace) std::printf("%s\n", line.c_str());
    std::printf("replay %s  scenario %s  profile %s\n", args[0].c_str(), file.scenario.c_str(),
                campaign.Profile().Describe().c_str());
    if (!divergence.empty()) std::printf("  divergence: %s\n", divergence.c_str());
    std::printf("verdict %s%s%s  (recorded: %s%s%s)\n", verdict,
                r.verdict.signature.empty() ? "" : "  signature ", r.verdict.signature.c_str(),
                file.verdict.c_str(), file.signature.empty() ? "" : " ", file.signature.c_str());
    std::printf("digest %s  %s\n", digest, matched ? "matched" : "DID NOT MATCH");
  }
  return matched ? 0 : 1;
}

// --------------------------------------------------------------- minimize

int MinimizeCommand(const std::vector<std::string>& args) {
  if (args.empty() || Has(args, "--help")) {
    std::printf("iocpsim minimize FILE [-o OUT]\n"
                "Shrinks a failing replay while its signature stays the same (zeroing choices,\n"
                "then lowering values) and writes it to OUT (default FILE.min).\n");
    return args.empty() ? 2 : 0;
  }
  std::string out = args[0] + ".min";
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "-o" && i + 1 < args.size()) {
      out = args[++i];
    } else {
      return Usage("minimize: unknown flag '" + args[i] + "' (flags: -o OUT)");
    }
  }
  auto loaded = Load(args[0]);
  if (!loaded.ok()) return Usage(std::string(loaded.status().message()));
  auto& [campaign, file] = *loaded;
  if (file.signature.empty()) return Usage(args[0] + ": nothing to minimize (verdict ok)");
  uint64_t runs = 0;
  ReplayFile small = Minimize(campaign, file, 5000, &runs);
  absl::Status st = WriteReplay(small, out);
  if (!st.ok()) return Usage(std::string(st.message()));
  std::printf("minimize %s: %zu -> %zu non-canonical choices (%zu -> %zu choices) in %llu runs; "
              "signature %s\nwrote %s\n",
              args[0].c_str(), Deviations(file.choices), Deviations(small.choices),
              file.choices.size(), small.choices.size(), static_cast<unsigned long long>(runs),
              small.signature.c_str(), out.c_str());
  return 0;
}

// ---------------------------------------------------------------- convert

int ConvertCommand(const std::vector<std::string>& args) {
  if (args.empty() || Has(args, "--help")) {
    std::printf("iocpsim convert ARTIFACT [-o OUT] [--current]\n"
                "Turns a raw libFuzzer artifact into a replay file (default ARTIFACT.replay);\n"
                "--current for artifacts of the iocpsim_fuzz_current target.\n");
    return args.empty() ? 2 : 0;
  }
  std::string out = args[0] + ".replay";
  bool current = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "-o" && i + 1 < args.size()) {
      out = args[++i];
    } else if (args[i] == "--current") {
      current = true;
    } else {
      return Usage("convert: unknown flag '" + args[i] + "' (flags: -o OUT --current)");
    }
  }
  auto loaded = Load(args[0], current);
  if (!loaded.ok()) return Usage(std::string(loaded.status().message()));
  absl::Status st = WriteReplay(loaded->second, out);
  if (!st.ok()) return Usage(std::string(st.message()));
  std::printf("%s -> %s: %s %s\n", args[0].c_str(), out.c_str(), loaded->second.verdict.c_str(),
              loaded->second.signature.c_str());
  return 0;
}

// ------------------------------------------------------------------- fuzz

int FuzzCommand(const std::vector<std::string>& args, const char* argv0) {
  if (Has(args, "--help")) {
    std::printf("iocpsim fuzz [--current] [--scenario S [--quirk Q ...]] [--seconds T] [--jobs N]\n"
                "Runs the libFuzzer target (build/fuzz, built by scripts/test) from its seed\n"
                "corpus for T seconds (default 60), then converts any crash artifact into a\n"
                "replay file under reports/out/fuzz/. --scenario pins one scenario (and\n"
                "quirks): every input byte is then a choice.\n");
    return 0;
  }
  bool current = Has(args, "--current");
  std::string seconds = "60", jobs = "1", scenario;
  std::vector<std::string> quirks;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--current") continue;
    if (args[i] == "--scenario" && i + 1 < args.size()) {
      scenario = args[++i];
      if (scenarios::FindScenario(scenario) == nullptr) {
        return Usage("unknown scenario '" + scenario + "' (scenarios: " + ScenarioNames() + ")");
      }
      continue;
    }
    if (args[i] == "--quirk" && i + 1 < args.size()) {
      quirks.push_back(args[++i]);
      if (!proactor::QuirkFromId(quirks.back())) {
        return Usage("unknown quirk '" + quirks.back() + "' (quirks: " + QuirkNames() + ")");
      }
      continue;
    }
    if (args[i] == "--seconds" && i + 1 < args.size() && Number(args[i + 1])) {
      seconds = args[++i];
    } else if (args[i] == "--jobs" && i + 1 < args.size() && Number(args[i + 1])) {
      jobs = args[++i];
    } else {
      return Usage("fuzz: unknown or incomplete flag '" + args[i] + "' (flags: --current --seconds T --jobs N)");
    }
  }
  // This binary is <root>/build/<preset>/fuzz/iocpsim; the target is built by
  // the fuzz preset.
  std::filesystem::path root = std::filesystem::weakly_canonical(
      std::filesystem::absolute(std::filesystem::path(argv0)).parent_path() / "../../..");
  std::string target_name = current ? "iocpsim_fuzz_current" : "iocpsim_fuzz";
  std::filesystem::path target = root / "build/fuzz/fuzz" / target_name;
  if (!std::filesystem::exists(target)) {
    return Usage("no libFuzzer target at " + target.string() + " (run scripts/test to build it)");
  }
  std::filesystem::path out = root / "reports/out/fuzz";
  std::filesystem::path corpus = out / ("corpus-" + target_name);
  std::error_code ec;
  std::filesystem::create_directories(corpus, ec);
  if (scenario.empty()) {
    std::filesystem::copy(root / "corpus" / target_name, corpus,
                          std::filesystem::copy_options::skip_existing, ec);
  }
  std::string env;
  if (!scenario.empty()) {
    env = "IOCPSIM_FUZZ_SCENARIO=" + scenario + " IOCPSIM_FUZZ_QUIRKS=" + Join(quirks, ",") + " ";
    setenv("IOCPSIM_FUZZ_SCENARIO", scenario.c_str(), 1);
    setenv("IOCPSIM_FUZZ_QUIRKS", Join(quirks, ",").c_str(), 1);
    PinFromEnvironment();  // to convert this run's artifacts
    corpus = out / ("corpus-" + scenario);
    std::filesystem::create_directories(corpus, ec);
  }
  // On a terminal libFuzzer's own status lines show the progress.
  std::string log = isatty(2) ? "" : " 2>" + (out / "fuzz.log").string();
  // From the output folder: libFuzzer's -jobs write fuzz-N.log to the
  // current directory.
  std::string cmd = "cd '" + out.string() + "' && " + env + target.string() + " -max_total_time=" + seconds + " -jobs=" + jobs +
                    " -workers=" + jobs + " -print_final_stats=1 -artifact_prefix=" +
                    (out / "").string() + " " + corpus.string() + log;
  std::printf("running: %s\n", cmd.c_str());
  int status = std::system(cmd.c_str());
  (void)status;
  int found = 0;
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    std::string name = e.path().filename().string();
    if (name.rfind("crash-", 0) != 0 && name.rfind("timeout-", 0) != 0) continue;
    if (e.path().extension() == ".replay") continue;
    auto loaded = Load(e.path().string(), current);
    if (!loaded.ok()) continue;
    std::string replay = e.path().string() + ".replay";
    if (WriteReplay(loaded->second, replay).ok()) {
      std::printf("  %s %s -> %s\n", loaded->second.verdict.c_str(), loaded->second.signature.c_str(),
                  replay.c_str());
      ++found;
    }
  }
  std::printf("%d finding(s); libFuzzer's log: %s\n", found, (out / "fuzz.log").string().c_str());
  return found == 0 ? 0 : 1;
}

// ------------------------------------------------------------------- hunt

// A plain-text report beside a replay file: the verdict first, every
// finding with its detail, the trace, and the command that replays it last.
void WriteTextReport(const Campaign& c, const ReplayFile& r, const std::string& replay_path) {
  scenarios::ScenarioResult result = RunChoices(c, r, /*soft=*/false, /*trace=*/true, nullptr, nullptr);
  std::ofstream out(replay_path.substr(0, replay_path.size() - 7) + ".txt");
  out << "verdict " << scenarios::VerdictName(result.verdict.verdict) << "  signature "
      << result.verdict.signature << "\n";
  out << "scenario " << r.scenario << "  profile " << c.Profile().Describe() << "  "
      << Deviations(r.choices) << " deviations from the canonical schedule\n\n";
  for (const auto& f : result.findings) out << "finding " << f.signature << "\n  " << f.detail << "\n";
  out << "\ntrace (" << result.run.trace.size() << " lines):\n";
  for (const std::string& line : result.run.trace) out << "  " << line << "\n";
  out << "\nreplay: scripts/iocpsim replay " << replay_path << " --trace\n";
}

int HuntCommand(const std::vector<std::string>& args) {
  if (Has(args, "--help")) {
    std::printf("iocpsim hunt [--seconds T] [--out DIR]\n"
                "The main job: every scenario under `current` and under each historical profile,\n"
                "on all cores, within about T seconds (default 60); findings are minimized and\n"
                "written as replay files (with a text report beside each) to DIR (default\n"
                "reports/out/hunt). Exit 1 when\n"
                "today's proactor (`current`) shows a finding outside the canary.\n");
    return 0;
  }
  double total = 60;
  std::string out_dir = "reports/out/hunt";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--seconds" && i + 1 < args.size()) {
      auto v = Number(args[++i]);
      if (!v) return Usage("--seconds needs a positive number");
      total = *v;
    } else if (args[i] == "--out" && i + 1 < args.size()) {
      out_dir = args[++i];
    } else {
      return Usage("hunt: unknown flag '" + args[i] + "' (flags: --seconds T --out DIR)");
    }
  }
  struct Cell {
    std::string scenario, profile;
    ExploreResult result;
    std::vector<std::string> replays;  // per group
    std::vector<size_t> deviations;    // per group, after minimization
  };
  std::vector<Cell> cells;
  for (const Scenario& s : scenarios::AllScenarios()) {
    for (const std::string& p : Profile::Names()) cells.push_back({s.name, p, {}, {}, {}});
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Usage("cannot create --out directory '" + out_dir + "'");
  unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  double per_cell = total * workers / cells.size();
  std::mutex mu;
  size_t next = 0;
  std::atomic<uint64_t> total_runs{0};
  std::atomic<uint64_t> total_findings{0};
  std::atomic<size_t> finished_cells{0};
  auto work = [&] {
    for (;;) {
      size_t i;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next == cells.size()) return;
        i = next++;
      }
      Cell& cell = cells[i];
      Campaign c = *MakeCampaign(cell.scenario, cell.profile, {});
      std::unique_ptr<Strategy> strategy = MakeStrategy("random", 1);
      ExploreLimits limits;
      limits.max_runs = UINT64_MAX;
      limits.max_seconds = per_cell;
      // The whole cell budget, so that a cell shows every signature it
      // reaches, not just the first.
      uint64_t reported = 0;
      limits.progress = [&](const ExploreResult& r) {
        total_runs += r.runs - reported;
        reported = r.runs;
      };
      cell.result = iocpsim::Explore(c, *strategy, limits);
      total_runs += cell.result.runs - reported;
      if (!cell.result.groups.empty()) ++total_findings;
      ++finished_cells;
      for (const Group& g : cell.result.groups) {
        ReplayFile small = Minimize(c, g.smallest, 500, nullptr);
        cell.deviations.push_back(Deviations(small.choices));
        std::string path = out_dir + "/" + cell.scenario + "." + cell.profile + "." +
                           SafeName(g.signature) + ".replay";
        if (WriteReplay(small, path).ok()) {
          WriteTextReport(c, small, path);
        } else {
          path = "(not written)";
        }
        cell.replays.push_back(path);
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w) threads.emplace_back(work);
  if (isatty(2)) {
    // A live status line while the workers run (wall time: display only).
    auto start = std::chrono::steady_clock::now();
    for (;;) {
      size_t started;
      {
        std::lock_guard<std::mutex> lock(mu);
        started = next;
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      uint64_t runs = total_runs.load();
      std::fprintf(stderr, "\rhunting: %zu of %zu cells started, %llu runs, %.0f runs/s, %llu findings, %.0fs ",
                   started, cells.size(), static_cast<unsigned long long>(runs),
                   runs / std::max(secs, 1e-9),
                   static_cast<unsigned long long>(total_findings.load()), secs);
      if (finished_cells.load() == cells.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  for (auto& t : threads) t.join();
  if (isatty(2)) std::fprintf(stderr, "\r%60s\r", "");
  std::printf("%-24s %-14s %-16s %-52s %9s %8s %5s  %s\n", "scenario", "profile", "verdict",
              "signature", "runs", "first", "devs", "replay");
  std::printf("(one row per signature found; runs: the cell's runs on its first row, then the run\n"
              " that first found it; first: wall time to it; devs: deviations after minimization)\n");
  size_t found = 0;
  for (const Cell& cell : cells) {
    const ExploreResult& r = cell.result;
    if (r.groups.empty()) {
      std::printf("%-24s %-14s %-16s %-52s %9llu %8s %5s\n", cell.scenario.c_str(),
                  cell.profile.c_str(), "clean", "-", static_cast<unsigned long long>(r.runs), "-",
                  "-");
      continue;
    }
    ++found;
    for (size_t k = 0; k < r.groups.size(); ++k) {
      const Group& g = r.groups[k];
      char first[32];
      std::snprintf(first, sizeof first, "%.2fs", g.first_seconds);
      std::printf("%-24s %-14s %-16s %-52s %9llu %8s %5zu  %s\n", cell.scenario.c_str(),
                  cell.profile.c_str(), scenarios::VerdictName(g.verdict), g.signature.c_str(),
                  static_cast<unsigned long long>(k == 0 ? r.runs : g.first_run), first,
                  cell.deviations[k], cell.replays[k].c_str());
    }
  }
  // The historical profiles are expected to show their bugs, and the
  // canary to be found everywhere; a finding against today's proactor is
  // what makes the hunt fail.
  size_t current_findings = 0;
  for (const Cell& cell : cells) {
    if (cell.profile == "current" && cell.scenario != "canary" && !cell.result.groups.empty()) {
      ++current_findings;
    }
  }
  std::printf("%zu of %zu cells found something (%zu under `current` besides the canary); "
              "replay one with: scripts/iocpsim replay FILE\n",
              found, cells.size(), current_findings);
  return current_findings == 0 ? 0 : 1;
}
}  // namespace
}  // namespace iocpsim

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Raw artifacts of a pinned fuzz run decode with the same pin.
  std::string pin_error = iocpsim::PinFromEnvironment();
  if (!pin_error.empty()) return iocpsim::Usage(pin_error);
  if (args.empty()) {
    return iocpsim::Usage("usage: iocpsim list | run SCENARIO [flags] | sweep SCENARIO [flags]");
  }
  if (args[0] == "--help" || args[0] == "help") {
    std::printf("iocpsim list | run | sweep | explore | replay | minimize | convert | fuzz | hunt\n"
                "Each command takes --help.\n");
    return 0;
  }
  if (args[0] == "list") {
    if (args.size() == 2 && args[1] == "--help") {
      std::printf("iocpsim list: one scenario per line: name, bug ids, what it does.\n");
      return 0;
    }
    if (args.size() > 1) return iocpsim::Usage("list takes no arguments");
    return iocpsim::List();
  }
  if (args[0] == "run") return iocpsim::Run({args.begin() + 1, args.end()});
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "sweep") return iocpsim::Sweep(rest);
  if (args[0] == "explore") return iocpsim::ExploreCommand(rest);
  if (args[0] == "replay") return iocpsim::ReplayCommand(rest);
  if (args[0] == "minimize") return iocpsim::MinimizeCommand(rest);
  if (args[0] == "hunt") return iocpsim::HuntCommand(rest);
  if (args[0] == "convert") return iocpsim::ConvertCommand(rest);
  if (args[0] == "fuzz") return iocpsim::FuzzCommand(rest, argv[0]);
  return iocpsim::Usage("unknown command '" + args[0] +
                        "' (commands: list, run, sweep, explore, replay, minimize, convert, fuzz, hunt)");
}
