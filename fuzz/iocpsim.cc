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
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
    std::string findings;
    for (const auto& f : r.findings) {
      if (!findings.empty()) findings += ",";
      findings += "{\"verdict\":" + JsonString(scenarios::VerdictName(f.verdict)) +
                  ",\"signature\":" + JsonString(f.signature) +
                  ",\"detail\":" + JsonString(f.detail) + "}";
    }
    std::printf(
        "{\"scenario\":%s,\"profile\":%s,\"source\":%s,\"verdict\":%s,\"signature\":%s,"
        "\"digest\":%s,\"choices\":%llu,\"steps\":%llu,\"virtual_ns\":%lld,\"findings\":[%s]}\n",
        JsonString(s->name).c_str(), JsonString(profile->Describe()).c_str(),
        JsonString(source_name).c_str(), JsonString(verdict).c_str(),
        JsonString(r.verdict.signature).c_str(), JsonString(digest).c_str(),
        static_cast<unsigned long long>(r.run.choices),
        static_cast<unsigned long long>(r.run.steps), static_cast<long long>(r.run.end_time_ns),
        findings.c_str());
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

}  // namespace
}  // namespace iocpsim

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    return iocpsim::Usage("usage: iocpsim list | run SCENARIO [flags] | sweep SCENARIO [flags]");
  }
  if (args[0] == "list") {
    if (args.size() > 1) return iocpsim::Usage("list takes no arguments");
    return iocpsim::List();
  }
  if (args[0] == "run") return iocpsim::Run({args.begin() + 1, args.end()});
  if (args[0] == "sweep") return iocpsim::Sweep({args.begin() + 1, args.end()});
  return iocpsim::Usage("unknown command '" + args[0] + "' (commands: list, run, sweep)");
}
