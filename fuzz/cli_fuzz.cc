// iocpsim fuzz: runs a libFuzzer target and turns its artifacts into replays.
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

// ------------------------------------------------------------------- fuzz

int FuzzCommand(const std::vector<std::string>& args, const char* argv0) {
  if (Has(args, "--help")) {
    std::printf("iocpsim fuzz [--current] [--scenario S [--quirk Q ...]] [--seconds T] [--jobs N]\n"
                "Runs the libFuzzer target (build/fuzz, built by scripts/test) from its seed\n"
                "corpus for T seconds (default 60), then converts any crash artifact into a\n"
                "replay file and a Markdown report under reports/out/fuzz/. --scenario pins one\n"
                "scenario (and quirks): every input byte is then a choice.\n");
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
    if (e.path().extension() == ".replay" || e.path().extension() == ".md") continue;
    auto loaded = Load(e.path().string(), current);
    if (!loaded.ok()) continue;
    std::string replay = e.path().string() + ".replay";
    if (WriteReplay(loaded->second, replay).ok()) {
      reports::Report report = reports::BuildReport(loaded->first, loaded->second, replay);
      std::ofstream(e.path().string() + ".md") << reports::RenderMarkdown(report);
      std::printf("  %s %s -> %s (report: %s.md)\n", loaded->second.verdict.c_str(),
                  loaded->second.signature.c_str(), replay.c_str(), e.path().string().c_str());
      ++found;
    }
  }
  std::printf("%d finding(s); libFuzzer's log: %s\n", found, (out / "fuzz.log").string().c_str());
  return found == 0 ? 0 : 1;
}

}  // namespace iocpsim::cli
