// The iocpsim command line: main, and the commands on single runs (list,
// run, sweep, replay, minimize, convert). explore and hunt are in
// cli_explore.cc, fuzz in cli_fuzz.cc, the shared helpers in cli_util.cc.
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
#include "fuzz/cli.h"

namespace iocpsim::cli {

using proactor::Profile;
using proactor::Quirk;
using scenarios::Scenario;
namespace {

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

// A PRNG schedule with the program's own choices (parameters, a child
// exiting early) held at their canonical option, as the Windows build
// takes them.
class ScheduleOnlySource : public ChoiceSource {
 public:
  explicit ScheduleOnlySource(uint64_t seed) : prng_(seed) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override {
    if (kind == ChoiceKind::kParam || kind == ChoiceKind::kExit) return 0;
    return prng_.Choose(kind, n, label);
  }

 private:
  PrngSource prng_;
};

// The canonical run's protocol callbacks, grouped by object (what the
// Windows build of the scenario prints, scenarios/windows_main.cc), and
// whether they depend on the schedule.
int Protocol(const std::vector<std::string>& raw) {
  if (std::find(raw.begin(), raw.end(), "--help") != raw.end()) {
    std::printf("iocpsim protocol SCENARIO [--profile P] [--quirk Q ...] [--seeds N]\n"
                "The canonical run's protocol callbacks, grouped by object, one per line\n"
                "(\"protocol client1.connection_made()\"), after a first line saying whether\n"
                "they are the same under N random schedules (default 200; parameters and\n"
                "child programs held canonical), then the canonical run's findings.\n"
                "scripts/wine-check compares them with the scenario's Windows build under Wine.\n");
    return 0;
  }
  Args args;
  args.seeds = 200;
  if (auto status = Parse(raw, true, args)) return *status;
  scenarios::RunOptions traced;
  traced.trace = true;
  auto run = [&](ChoiceSource& source) {
    return scenarios::RunScenario(*args.scenario, *args.profile, source, traced);
  };
  CanonicalSource canonical;
  scenarios::ScenarioResult r = run(canonical);
  std::vector<std::string> reference = scenarios::ProtocolEvents(r.run);
  uint64_t differing = 0, first = 0;
  for (uint64_t seed = 1; seed <= args.seeds; ++seed) {
    ScheduleOnlySource source(seed);
    if (scenarios::ProtocolEvents(run(source).run) != reference) {
      ++differing;
      if (first == 0) first = seed;
    }
  }
  if (differing == 0) {
    std::printf("# schedule-independent: yes (%llu random schedules)\n",
                static_cast<unsigned long long>(args.seeds));
  } else {
    std::printf("# schedule-independent: no (%llu of %llu random schedules differ, first seed %llu)\n",
                static_cast<unsigned long long>(differing), static_cast<unsigned long long>(args.seeds),
                static_cast<unsigned long long>(first));
  }
  for (const std::string& e : reference) std::printf("protocol %s\n", e.c_str());
  std::vector<std::string> findings;
  for (const scenarios::Finding& f : r.findings) findings.push_back(f.signature);
  std::printf("findings: %s\n", findings.empty() ? "none" : Join(findings, " ").c_str());
  return 0;
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

}  // namespace
}  // namespace iocpsim::cli

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Raw artifacts of a pinned fuzz run decode with the same pin.
  std::string pin_error = iocpsim::PinFromEnvironment();
  if (!pin_error.empty()) return iocpsim::cli::Usage(pin_error);
  if (args.empty()) {
    return iocpsim::cli::Usage("usage: iocpsim list | run SCENARIO [flags] | sweep SCENARIO [flags]");
  }
  if (args[0] == "--help" || args[0] == "help") {
    std::printf("iocpsim list | run | sweep | protocol | explore | replay | minimize | convert |\n"
                "        fuzz | hunt | report | gallery | triage | bench\n"
                "Each command takes --help.\n");
    return 0;
  }
  if (args[0] == "list") {
    if (args.size() == 2 && args[1] == "--help") {
      std::printf("iocpsim list: one scenario per line: name, bug ids, what it does.\n");
      return 0;
    }
    if (args.size() > 1) return iocpsim::cli::Usage("list takes no arguments");
    return iocpsim::cli::List();
  }
  if (args[0] == "run") return iocpsim::cli::Run({args.begin() + 1, args.end()});
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "sweep") return iocpsim::cli::Sweep(rest);
  if (args[0] == "protocol") return iocpsim::cli::Protocol(rest);
  if (args[0] == "explore") return iocpsim::cli::ExploreCommand(rest);
  if (args[0] == "replay") return iocpsim::cli::ReplayCommand(rest);
  if (args[0] == "minimize") return iocpsim::cli::MinimizeCommand(rest);
  if (args[0] == "hunt") return iocpsim::cli::HuntCommand(rest);
  if (args[0] == "convert") return iocpsim::cli::ConvertCommand(rest);
  if (args[0] == "fuzz") return iocpsim::cli::FuzzCommand(rest, argv[0]);
  if (args[0] == "report") return iocpsim::cli::ReportCommand(rest);
  if (args[0] == "gallery") return iocpsim::cli::GalleryCommand(rest);
  if (args[0] == "triage") return iocpsim::cli::TriageCommand(rest);
  if (args[0] == "bench") return iocpsim::cli::BenchCommand(rest);
  return iocpsim::cli::Usage("unknown command '" + args[0] +
                        "' (commands: list, run, sweep, protocol, explore, replay, minimize, convert, fuzz, hunt, report, gallery, triage, bench)");
}
