// Reports of one run: a replay file (or a finding) run again with the trace
// kept, and rendered for people and for tools.
//
//   text      the timeline, one line per event in fixed columns (virtual
//             time, thread, kind, what happened), non-canonical choices
//             marked ">>", the oracle's complaint last
//   md        verdict and signature first, what happened in a few
//             generated sentences, the deviations, the findings (for leaks
//             where the object was created), the timeline, and the replay
//             command first and last
//   json      the same for tools
//   chrome    Chrome Trace Event Format for Perfetto UI / chrome://tracing:
//             a lane per simulated thread, per handle (overlapped
//             operations as slices from issue to completion) and for the
//             kernel; flows from issue to completion to dequeue to the
//             proactor's and the protocol's callbacks; choices as instants
//   html      one self-contained file drawing the lanes as SVG, with the
//             deviating choices highlighted
//
//   auto loaded = cli::Load(path);
//   Report r = BuildReport(loaded->first, loaded->second, path);
//   std::string md = RenderReport(r, ReportFormat::kMarkdown);
//
// Everything in a report comes from the run, so a report is as
// deterministic as the run: the gallery (reports/gallery/) is regenerated
// and compared in a test.
#ifndef IOCPSIM_REPORTS_REPORT_H_
#define IOCPSIM_REPORTS_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/explorer.h"
#include "fuzz/replay_file.h"
#include "scenarios/oracles.h"

namespace iocpsim::reports {

enum class ReportFormat { kText, kMarkdown, kJson, kChrome, kHtml };
std::optional<ReportFormat> ParseReportFormat(const std::string& name);

// One line of the timeline.
struct TimelineEvent {
  int64_t now_ns = 0;
  uint64_t seq = 0;       // position in the trace
  uint32_t thread = 0;    // 0: the kernel itself (between steps)
  uint32_t pid = 0;       // the thread's process (0: the kernel)
  // "call" (a Win32 call and its result), "kernel" (an operation issued,
  // completed, cancelled; a wait fired; a thread started), "packet" (a
  // completion dequeued), "choice", "proactor", "protocol".
  std::string kind;
  std::string name;       // "ReadFile", "complete", "poll", ...
  std::string text;       // what happened
  uint32_t op = 0;        // the ov#N it concerns
  uint64_t handle = 0;    // "kernel" issue events: the handle
  bool has_handle = false;
  bool deviates = false;  // a choice that took a non-canonical option
  uint32_t choice_index = 0;  // a choice: its position in the replay's list (1-based)
};

struct Report {
  std::string source;     // the replay file's path, as given
  std::string scenario;
  std::string profile;    // "cpython-3.4.2", "current+recv-broken-pipe"
  std::string verdict;    // "hang"
  std::string signature;
  std::string complaint;  // the first line of the verdict's detail
  std::vector<scenarios::Finding> findings;
  std::string outcome;    // the kernel's: "finished", "deadline", ...
  std::string digest;     // 16 hex digits
  bool matched = false;   // verdict, signature and digest as recorded
  uint64_t steps = 0;
  int64_t end_time_ns = 0;
  std::vector<ChoiceRecord> choices;
  std::vector<TimelineEvent> timeline;
  std::vector<std::string> summary;  // sentences generated from the trace
  std::string replay_command;
};

// `native_stacks` false: leave out the native frames of where leaked
// objects were created (they differ between compilers and optimisation
// levels; the gallery leaves them out, so that it is the same everywhere).
Report BuildReport(const Campaign& c, const ReplayFile& file, const std::string& source,
                   bool native_stacks = true);
std::string RenderReport(const Report& r, ReportFormat format);

// A JSON string literal, quoted and escaped.
std::string JsonQuote(const std::string& s);

std::string RenderText(const Report& r);
std::string RenderMarkdown(const Report& r);
std::string RenderJson(const Report& r);
std::string RenderChrome(const Report& r);
std::string RenderHtml(const Report& r);

}  // namespace iocpsim::reports

#endif  // IOCPSIM_REPORTS_REPORT_H_
