// The iocpsim command line: the helpers its commands share, and the
// commands, one group per file (iocpsim.cc: list, run, sweep, replay,
// minimize, convert; cli_explore.cc: explore, hunt; cli_fuzz.cc: fuzz;
// cli_report.cc: report, gallery; cli_triage.cc: triage; cli_bench.cc: bench).
#ifndef IOCPSIM_FUZZ_CLI_H_
#define IOCPSIM_FUZZ_CLI_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "fuzz/explorer.h"
#include "fuzz/replay_file.h"
#include "scenarios/scenario.h"

namespace iocpsim::cli {

// A one-line message on stderr; returns 2, the bad-input exit status.
int Usage(const std::string& message);
std::string Join(const std::vector<std::string>& v, const char* sep);
std::string ScenarioNames();
std::string QuirkNames();
std::string JsonString(const std::string& s);
// The JSON object of `run --json` (and of `replay --json`, with `extra`
// fields appended).
std::string RunJson(const std::string& scenario, const std::string& profile,
                    const std::string& source, const scenarios::ScenarioResult& r,
                    const std::string& extra = "");
bool Has(const std::vector<std::string>& args, const char* flag);
// A positive number, or nullopt.
std::optional<double> Number(const std::string& v);
// A file-name-safe form of a signature or name.
std::string SafeName(const std::string& s);
// A replay file, or a raw libFuzzer artifact (see fuzz_input.h), which is
// run once and recorded. Artifacts of the `current` target need --current.
absl::StatusOr<std::pair<Campaign, ReplayFile>> Load(const std::string& path,
                                                     bool current_target = false);

int ExploreCommand(const std::vector<std::string>& args);
int HuntCommand(const std::vector<std::string>& args);
int FuzzCommand(const std::vector<std::string>& args, const char* argv0);
int ReportCommand(const std::vector<std::string>& args);   // cli_report.cc
int GalleryCommand(const std::vector<std::string>& args);
int TriageCommand(const std::vector<std::string>& args);   // cli_triage.cc
int BenchCommand(const std::vector<std::string>& args);    // cli_bench.cc

}  // namespace iocpsim::cli

#endif  // IOCPSIM_FUZZ_CLI_H_
