// iocpsim explore and hunt: campaigns of runs under a strategy.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <utility>
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

namespace {

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

}  // namespace

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

// ------------------------------------------------------------------- hunt

// Reports beside a replay file (reports/report.h): the text timeline and
// the Markdown report.
void WriteReports(const Campaign& c, const ReplayFile& r, const std::string& replay_path) {
  reports::Report report = reports::BuildReport(c, r, replay_path);
  std::string stem = replay_path.substr(0, replay_path.size() - 7);
  std::ofstream(stem + ".txt") << reports::RenderText(report);
  std::ofstream(stem + ".md") << reports::RenderMarkdown(report);
}

int HuntCommand(const std::vector<std::string>& args) {
  if (Has(args, "--help")) {
    std::printf("iocpsim hunt [--seconds T] [--out DIR] [--known DIR]\n"
                "The main job: every scenario under `current` and under each historical profile,\n"
                "on all cores, within about T seconds (default 60); findings are minimized and\n"
                "written as replay files (with text and Markdown reports beside each) to DIR (default\n"
                "reports/out/hunt). Exit 1 when today's proactor (`current`) shows a finding outside\n"
                "the canary that is not known: a replay file under --known (default corpus/crashes,\n"
                "when it exists) with the same scenario and signature under `current`.\n");
    return 0;
  }
  double total = 60;
  std::string out_dir = "reports/out/hunt";
  std::string known_dir = "corpus/crashes";
  bool known_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--seconds" && i + 1 < args.size()) {
      auto v = Number(args[++i]);
      if (!v) return Usage("--seconds needs a positive number");
      total = *v;
    } else if (args[i] == "--out" && i + 1 < args.size()) {
      out_dir = args[++i];
    } else if (args[i] == "--known" && i + 1 < args.size()) {
      known_dir = args[++i];
      known_given = true;
    } else {
      return Usage("hunt: unknown flag '" + args[i] + "' (flags: --seconds T --out DIR --known DIR)");
    }
  }
  // Findings already saved under `current`: (scenario, signature) -> file.
  std::map<std::pair<std::string, std::string>, std::string> known;
  {
    std::error_code ec;
    if (!std::filesystem::is_directory(known_dir, ec)) {
      if (known_given) return Usage("--known: '" + known_dir + "' is not a directory");
    } else {
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(known_dir, ec)) {
        if (e.path().extension() == ".replay") files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) {
        absl::StatusOr<ReplayFile> r = ReadReplay(f);
        if (!r.ok()) return Usage(std::string(r.status().message()));
        if (r->profile == "current" && r->quirks.empty()) known[{r->scenario, r->signature}] = f;
      }
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
          WriteReports(c, small, path);
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
  std::printf("%-24s %-15s %-16s %-52s %9s %8s %5s  %s\n", "scenario", "profile", "verdict",
              "signature", "runs", "first", "devs", "replay");
  std::printf("(one row per signature found; runs: the cell's runs on its first row, then the run\n"
              " that first found it; first: wall time to it; devs: deviations after minimization)\n");
  size_t found = 0;
  for (const Cell& cell : cells) {
    const ExploreResult& r = cell.result;
    if (r.groups.empty()) {
      std::printf("%-24s %-15s %-16s %-52s %9llu %8s %5s\n", cell.scenario.c_str(),
                  cell.profile.c_str(), "clean", "-", static_cast<unsigned long long>(r.runs), "-",
                  "-");
      continue;
    }
    ++found;
    for (size_t k = 0; k < r.groups.size(); ++k) {
      const Group& g = r.groups[k];
      char first[32];
      std::snprintf(first, sizeof first, "%.2fs", g.first_seconds);
      std::printf("%-24s %-15s %-16s %-52s %9llu %8s %5zu  %s\n", cell.scenario.c_str(),
                  cell.profile.c_str(), scenarios::VerdictName(g.verdict), g.signature.c_str(),
                  static_cast<unsigned long long>(k == 0 ? r.runs : g.first_run), first,
                  cell.deviations[k], cell.replays[k].c_str());
    }
  }
  // The historical profiles are expected to show their bugs, and the
  // canary to be found everywhere; a finding against today's proactor is
  // what makes the hunt fail.
  size_t current_findings = 0, known_findings = 0;
  for (const Cell& cell : cells) {
    if (cell.profile != "current" || cell.scenario == "canary") continue;
    for (const auto& g : cell.result.groups) {
      auto it = known.find({cell.scenario, g.signature});
      if (it == known.end()) {
        ++current_findings;
      } else {
        ++known_findings;
        std::printf("known under `current`: %s %s (%s)\n", cell.scenario.c_str(),
                    g.signature.c_str(), it->second.c_str());
      }
    }
  }
  std::printf("%zu of %zu cells found something (%zu new under `current` besides the canary, "
              "%zu known); replay one with: scripts/iocpsim replay FILE (its .md report and .txt "
              "timeline are beside it; scripts/iocpsim report FILE --format html|chrome draws it)\n",
              found, cells.size(), current_findings, known_findings);
  return current_findings == 0 ? 0 : 1;
}
}  // namespace iocpsim::cli
