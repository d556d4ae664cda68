#include "reports/report.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "absl/strings/str_split.h"
#include "fuzz/strategy.h"
#include "sim/fiber.h"  // IOCPSIM_ASAN

namespace iocpsim::reports {
namespace {

using nlohmann::json;

// The saved findings; under AddressSanitizer not the use-after-free ones,
// which it stops at the kernel's first touch of the freed OVERLAPPED
// (fuzz/explore_test.cc checks that report).
std::vector<std::string> CrashFiles() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(IOCPSIM_SOURCE_DIR "/corpus/crashes")) {
    if (e.path().extension() != ".replay") continue;
#ifdef IOCPSIM_ASAN
    auto file = ReadReplay(e.path().string());
    if (file.ok() && file->verdict == "use-after-free") continue;
#endif
    files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Report ReportOf(const std::string& path) {
  auto file = ReadReplay(path);
  REQUIRE(file.ok());
  auto c = MakeCampaign(file->scenario, file->profile, file->quirks);
  REQUIRE(c.ok());
  return BuildReport(*c, *file, path);
}

// The canonical run of a scenario, as a report.
Report CanonicalReport(const std::string& scenario) {
  auto c = MakeCampaign(scenario, "current", {});
  REQUIRE(c.ok());
  ReplayFile file;
  file.scenario = scenario;
  scenarios::ScenarioResult r = RunChoices(*c, file, /*soft=*/true, false, &file.choices, nullptr);
  file.verdict = scenarios::VerdictName(r.verdict.verdict);
  file.digest = r.run.digest;
  return BuildReport(*c, file, scenario + ".replay");
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> lines = absl::StrSplit(s, '\n');
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

using LaneKey = std::pair<int64_t, int64_t>;

// Checks what Perfetto and chrome://tracing need, and what the issue asks:
// a lane per simulated thread and per handle, slices in time order per
// lane, and every flow with both ends, each end inside a slice of its lane.
// Returns the number of flows.
int CheckChromeTrace(const Report& r, const std::string& text) {
  json doc = json::parse(text);  // strict: throws on anything but JSON
  REQUIRE(doc.is_object());
  REQUIRE(doc["traceEvents"].is_array());
  std::map<LaneKey, std::string> lane_names;
  std::map<LaneKey, double> last_ts;
  std::map<LaneKey, std::vector<std::pair<double, double>>> slices;
  std::map<int64_t, std::vector<json>> flows;
  int instants = 0, deviating_instants = 0;
  for (const json& e : doc["traceEvents"]) {
    REQUIRE(e.is_object());
    std::string ph = e.at("ph");
    LaneKey lane{e.at("pid").get<int64_t>(), e.at("tid").get<int64_t>()};
    if (ph == "M") {
      if (e.at("name") == "thread_name") lane_names[lane] = e.at("args").at("name");
      continue;
    }
    double ts = e.at("ts").get<double>();
    CHECK(ts >= 0);
    if (ph == "X") {
      double dur = e.at("dur").get<double>();
      CHECK(dur > 0);
      if (last_ts.count(lane)) CHECK_MESSAGE(ts >= last_ts[lane], "lane " << lane_names[lane]);
      last_ts[lane] = ts;
      slices[lane].push_back({ts, ts + dur});
    } else if (ph == "i") {
      ++instants;
      if (e.at("args").at("deviates").get<bool>()) ++deviating_instants;
    } else if (ph == "s" || ph == "t" || ph == "f") {
      flows[e.at("id").get<int64_t>()].push_back(e);
    } else {
      FAIL("unexpected phase " << ph);
    }
  }
  // Every lane used is named.
  // (No structured bindings under doctest's macros: clang 14 cannot capture them.)
  for (const auto& entry : last_ts) CHECK_MESSAGE(lane_names.count(entry.first), entry.first.first);
  // A lane per simulated thread and per handle an operation was issued on.
  std::set<std::string> names;
  for (const auto& [lane, name] : lane_names) names.insert(name);
  for (const TimelineEvent& e : r.timeline) {
    if (e.thread != 0 && e.pid != 0) {
      std::string prefix = "thread#" + std::to_string(e.thread) + " ";
      bool found = false;
      for (const std::string& n : names) found |= n.rfind(prefix, 0) == 0;
      CHECK_MESSAGE(found, prefix);
    }
    if (e.kind == "kernel" && e.name == "issue") {
      char h[32];
      std::snprintf(h, sizeof h, "h=0x%llx (pid#%u)", static_cast<unsigned long long>(e.handle),
                    e.pid);
      CHECK_MESSAGE(names.count(h), h);
    }
  }
  // A lane per port a packet was dequeued from.
  bool dequeued = false, port_lane = false;
  for (const TimelineEvent& e : r.timeline) dequeued |= e.kind == "packet" && e.op != 0;
  for (const std::string& n : names) port_lane |= n.rfind("port 0x", 0) == 0;
  CHECK(dequeued == port_lane);
  // Choices: one instant each, the deviating ones marked.
  int choices = 0, deviating = 0;
  for (const TimelineEvent& e : r.timeline) {
    choices += e.kind == "choice";
    deviating += e.deviates;
  }
  CHECK(instants == choices);
  CHECK(deviating_instants == deviating);
  CHECK(static_cast<size_t>(deviating) == Deviations(r.choices));
  // Flows: one start, one finish, steps between, in time order; each end
  // inside a slice of its lane.
  for (const auto& flow : flows) {
    int64_t id = flow.first;
    const std::vector<json>& points = flow.second;
    REQUIRE(points.size() >= 2);
    CHECK(points.front().at("ph") == "s");
    CHECK(points.back().at("ph") == "f");
    for (size_t k = 1; k + 1 < points.size(); ++k) CHECK(points[k].at("ph") == "t");
    double prev = -1;
    for (const json& p : points) {
      double ts = p.at("ts").get<double>();
      CHECK(ts >= prev);
      prev = ts;
      LaneKey lane{p.at("pid").get<int64_t>(), p.at("tid").get<int64_t>()};
      bool inside = false;
      for (const auto& [b, e] : slices[lane]) inside |= b <= ts && ts <= e;
      CHECK_MESSAGE(inside, "flow " << id << " at " << ts << " on " << lane_names[lane]);
    }
  }
  return static_cast<int>(flows.size());
}

TEST_CASE("Chrome trace of every saved finding: strict JSON, lanes, monotone slices, whole flows") {
  for (const std::string& path : CrashFiles()) {
    CAPTURE(path);
    Report r = ReportOf(path);
    CHECK(r.matched);
    int flows = CheckChromeTrace(r, RenderChrome(r));
    // Every overlapped operation that was issued and dequeued has a flow.
    std::set<uint32_t> issued, dequeued;
    for (const TimelineEvent& e : r.timeline) {
      if (e.name == "issue") issued.insert(e.op);
      if (e.kind == "packet" && issued.count(e.op)) dequeued.insert(e.op);
    }
    CHECK(flows >= static_cast<int>(dequeued.size()));
  }
}

TEST_CASE("Chrome trace of canonical runs, subprocesses and waits included") {
  for (const char* s : {"echo-server", "subprocess-output", "wait-storm", "close-all-pending"}) {
    CAPTURE(s);
    Report r = CanonicalReport(s);
    CHECK(r.verdict == "ok");
    CheckChromeTrace(r, RenderChrome(r));
  }
}

TEST_CASE("A flow follows one operation: issue, completion, dequeue, the proactor's poll") {
  Report r = ReportOf(IOCPSIM_SOURCE_DIR "/corpus/crashes/recv-broken-pipe.replay");
  json doc = json::parse(RenderChrome(r));
  std::vector<std::string> where;  // the lanes flow ov#1 visits
  std::map<LaneKey, std::string> names;
  for (const json& e : doc["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") names[{e["pid"], e["tid"]}] = e["args"]["name"];
  }
  for (const json& e : doc["traceEvents"]) {
    if ((e["ph"] == "s" || e["ph"] == "t" || e["ph"] == "f") && e["id"] == 1) {
      where.push_back(names[{e["pid"], e["tid"]}]);
    }
  }
  // ov#1 is the server's ConnectNamedPipe: issued by the app's thread, completed
  // by the kernel, dequeued and polled by the app's thread.
  REQUIRE(where.size() >= 4);
  CHECK(where[0].rfind("thread#", 0) == 0);
  CHECK(where[1] == "kernel");
  CHECK(where[2] == where[0]);
}

TEST_CASE("Text report: verdict first, replay command last, fixed columns, deviations marked") {
  for (const std::string& path : CrashFiles()) {
    CAPTURE(path);
    Report r = ReportOf(path);
    std::vector<std::string> lines = Lines(RenderText(r));
    REQUIRE(lines.size() > 5);
    CHECK(lines.front() == "verdict " + r.verdict + "  signature " + r.signature);
    CHECK(lines.back() == "replay: scripts/iocpsim replay " + path);
    size_t marked = 0, complaints = 0, rows = 0;
    for (const std::string& line : lines) {
      if (line.size() < 38 || line.substr(13, 2) != "ms") continue;
      ++rows;
      // Columns: mark (2), time (12, right-aligned, "ms" last), thread (10), kind (8).
      std::string mark = line.substr(0, 2);
      CHECK((mark == "  " || mark == ">>" || mark == "!!"));
      marked += mark == ">>";
      complaints += mark == "!!";
      CHECK(line.substr(15, 2) == "  ");
      CHECK(line[27] == ' ');
      CHECK(line[36] == ' ');
      CHECK(line[37] != ' ');
    }
    CHECK(rows == r.timeline.size() + 1);
    CHECK(marked == Deviations(r.choices));
    CHECK(complaints == 1);
  }
}

TEST_CASE("Markdown report: verdict first, replay command first and last, leaks say where") {
  for (const std::string& path : CrashFiles()) {
    CAPTURE(path);
    Report r = ReportOf(path);
    std::string md = RenderMarkdown(r);
    std::vector<std::string> lines = Lines(md);
    CHECK(lines[0] == "# `" + r.verdict + "` — `" + r.signature + "`");
    CHECK(lines[2] == "Replay it: `scripts/iocpsim replay " + path + "`");
    CHECK(lines.back() == lines[2]);
    CHECK(md.find("## What happened") != std::string::npos);
    CHECK(md.find("## Deviations from the canonical schedule") != std::string::npos);
    if (r.verdict == "leak") CHECK(md.find("created at") != std::string::npos);
  }
}

TEST_CASE("JSON report: strict JSON with the verdict, the choices and the timeline") {
  Report r = ReportOf(IOCPSIM_SOURCE_DIR "/corpus/crashes/bpo-23293.replay");
  json doc = json::parse(RenderJson(r));
  CHECK(doc["verdict"] == "leak");
  CHECK(doc["signature"] == "leak:handle:pipe-client");
  CHECK(doc["matched"] == true);
  CHECK(doc["choices"].size() == r.choices.size());
  CHECK(doc["timeline"].size() == r.timeline.size());
  CHECK(doc["deviations"] == Deviations(r.choices));
  CHECK(doc["lanes"][0] == "kernel");
  int deviating = 0;
  for (const json& e : doc["timeline"]) deviating += e.value("deviates", false);
  CHECK(deviating == doc["deviations"]);
}

TEST_CASE("Reports are deterministic: the same file gives the same bytes") {
  std::string path = IOCPSIM_SOURCE_DIR "/corpus/crashes/subprocess-finish-order.replay";
  for (ReportFormat f : {ReportFormat::kText, ReportFormat::kMarkdown, ReportFormat::kJson,
                         ReportFormat::kChrome, ReportFormat::kHtml}) {
    CHECK(RenderReport(ReportOf(path), f) == RenderReport(ReportOf(path), f));
  }
}

TEST_CASE("A report of a replay that no longer matches says so") {
  auto file = ReadReplay(IOCPSIM_SOURCE_DIR "/corpus/crashes/bpo-23095.replay");
  REQUIRE(file.ok());
  file->digest ^= 1;
  auto c = MakeCampaign(file->scenario, file->profile, file->quirks);
  REQUIRE(c.ok());
  Report r = BuildReport(*c, *file, "x.replay");
  CHECK_FALSE(r.matched);
  CHECK(RenderText(r).find("DIFFERS from the replay file") != std::string::npos);
}

}  // namespace
}  // namespace iocpsim::reports

namespace iocpsim::reports {
namespace {

TEST_CASE("A posted packet has a flow too: from PostQueuedCompletionStatus to its dequeue and poll") {
  // bpo-23095: the wait callback posts; the loop dequeues and polls it.
  Report r = ReportOf(IOCPSIM_SOURCE_DIR "/corpus/crashes/bpo-23095.replay");
  nlohmann::json doc = nlohmann::json::parse(RenderChrome(r));
  std::map<std::string, std::vector<std::string>> phases;  // flow name -> phases
  for (const nlohmann::json& e : doc["traceEvents"]) {
    if (e["ph"] == "s" || e["ph"] == "t" || e["ph"] == "f") phases[e["name"]].push_back(e["ph"]);
  }
  REQUIRE(phases.count("post#1"));
  CHECK(phases["post#1"].front() == "s");
  CHECK(phases["post#1"].back() == "f");
  CHECK(phases["post#1"].size() >= 3);  // posted, dequeued, polled
}

}  // namespace
}  // namespace iocpsim::reports
