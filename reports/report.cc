#include "reports/report.h"

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "fuzz/strategy.h"

namespace iocpsim::reports {
namespace {

// Kernel records that are not calls: what the kernel did on its own.
bool IsKernelEvent(const std::string& name) {
  static const std::set<std::string> kNames = {
      "issue", "complete", "cancel-requested", "wait-fires", "thread-start", "thread-end",
      "process-signalled", "time"};
  return kNames.count(name) > 0;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// "ov#3", or "post#2" for a posted packet's trace id.
std::string OpName(uint32_t op) {
  return op >= kTracePostIdBase ? absl::StrCat("post#", op - kTracePostIdBase)
                                : absl::StrCat("ov#", op);
}


// "continue thread#2 | complete ov#1" and 1 -> "complete ov#1".
std::string ChosenOption(const std::string& label, uint32_t value, uint32_t n) {
  std::vector<std::string> options = absl::StrSplit(label, " | ");
  if (options.size() == n && value < n) return options[value];
  return absl::StrCat("option ", value);
}

std::string Ms(int64_t ns) { return absl::StrFormat("%.3fms", ns / 1e6); }

std::string Plural(size_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// Sentences a reader can take in before the timeline.
std::vector<std::string> Summarize(const Report& r, const std::vector<uint32_t>& threads,
                                   size_t processes) {
  std::vector<std::string> out;
  out.push_back(absl::StrFormat(
      "Scenario `%s` under profile `%s` ran for %s of virtual time and %d scheduling steps, on %s "
      "in %s, and ended %s.",
      r.scenario, r.profile, Ms(r.end_time_ns), r.steps, Plural(threads.size(), "thread", "threads"),
      Plural(processes, "process", "processes"),
      r.outcome == "finished" ? "with the app's main thread returning"
                              : absl::StrCat("with the kernel outcome `", r.outcome, "`")));
  size_t deviations = Deviations(r.choices);
  std::vector<std::string> devs;
  for (const TimelineEvent& e : r.timeline) {
    if (e.deviates) devs.push_back(absl::StrCat("at ", Ms(e.now_ns), " ", e.text));
  }
  if (r.choices.empty()) {
    out.push_back("It made no choice: the race needs no particular schedule.");
  } else if (deviations == 0) {
    out.push_back(absl::StrCat("Every one of its ", r.choices.size(),
                               " choices took the canonical option: this is the canonical run."));
  } else {
    out.push_back(absl::StrCat("Of its ", Plural(r.choices.size(), "choice", "choices"), ", ",
                               deviations, " deviated from the canonical schedule: ",
                               absl::StrJoin(devs, "; "), "."));
  }
  std::map<std::string, int> issued;
  int cancelled = 0, aborted = 0, packets = 0, unexpected = 0;
  for (const TimelineEvent& e : r.timeline) {
    if (e.kind == "kernel" && e.name == "issue") {
      std::vector<std::string> words = absl::StrSplit(e.text, ' ');
      if (words.size() > 1) ++issued[words[1]];
    }
    if (e.kind == "kernel" && e.name == "complete") {
      if (e.text.find("STATUS_CANCELLED") != std::string::npos) ++cancelled;
      if (e.text.find("STATUS_PIPE_BROKEN") != std::string::npos) ++aborted;
    }
    if (e.kind == "packet") ++packets;
    if (e.kind == "proactor" && e.text.find("unexpected event") != std::string::npos) ++unexpected;
  }
  std::vector<std::string> kinds;
  int total = 0;
  for (const auto& [name, n] : issued) {
    kinds.push_back(absl::StrCat(n, " ", name));
    total += n;
  }
  if (total > 0) {
    std::string s = absl::StrCat("The proactor issued ", Plural(total, "overlapped operation",
                                                                "overlapped operations"),
                                 " (", absl::StrJoin(kinds, ", "), "); ");
    absl::StrAppend(&s, Plural(cancelled, "completed as cancelled", "completed as cancelled"),
                    aborted > 0 ? absl::StrCat(", ", aborted, " with a broken pipe") : "", ", and ",
                    Plural(packets, "completion packet was", "completion packets were"),
                    " dequeued",
                    unexpected > 0 ? absl::StrCat(", ", unexpected, " of them unexpected") : "", ".");
    out.push_back(s);
  }
  if (r.verdict == "ok") {
    out.push_back("No oracle complained.");
  } else {
    // The last proactor or protocol action before the end says where the
    // program stood.
    std::string last;
    for (const TimelineEvent& e : r.timeline) {
      if (e.kind == "proactor" || e.kind == "protocol") last = e.text;
    }
    out.push_back(absl::StrCat("The `", r.verdict, "` oracle complained: ", r.complaint,
                               last.empty() ? "" : absl::StrCat(" (the last proactor or protocol "
                                                                "event was `", last, "`)"),
                               "."));
  }
  return out;
}

}  // namespace

std::optional<ReportFormat> ParseReportFormat(const std::string& name) {
  if (name == "text") return ReportFormat::kText;
  if (name == "md") return ReportFormat::kMarkdown;
  if (name == "json") return ReportFormat::kJson;
  if (name == "chrome") return ReportFormat::kChrome;
  if (name == "html") return ReportFormat::kHtml;
  return std::nullopt;
}

// Drops the lines "  #3 function()" of native stacks from a detail.
std::string WithoutNativeFrames(const std::string& detail) {
  std::vector<std::string> lines = absl::StrSplit(detail, '\n');
  std::vector<std::string> kept;
  for (const std::string& line : lines) {
    size_t i = line.find_first_not_of(' ');
    bool frame = i != std::string::npos && line[i] == '#' && i + 1 < line.size() &&
                 absl::ascii_isdigit(line[i + 1]);
    if (!frame) kept.push_back(line);
  }
  return absl::StrJoin(kept, "\n");
}

Report BuildReport(const Campaign& c, const ReplayFile& file, const std::string& source,
                   bool native_stacks) {
  scenarios::ScenarioResult result =
      RunChoices(c, file, /*soft=*/false, /*trace=*/true, nullptr, nullptr);
  Report r;
  r.source = source;
  r.scenario = file.scenario;
  r.profile = c.Profile().Describe();
  r.verdict = scenarios::VerdictName(result.verdict.verdict);
  r.signature = result.verdict.signature;
  r.complaint = FirstLine(result.verdict.detail);
  r.findings = result.findings;
  if (!native_stacks) {
    for (scenarios::Finding& f : r.findings) f.detail = WithoutNativeFrames(f.detail);
  }
  r.outcome = OutcomeName(result.run.outcome);
  r.digest = absl::StrFormat("%016x", result.run.digest);
  r.matched = file.verdict == r.verdict && file.signature == r.signature &&
              file.digest == result.run.digest;
  r.steps = result.run.steps;
  r.end_time_ns = result.run.end_time_ns;
  r.choices = file.choices;
  r.replay_command = "scripts/iocpsim replay " + source;

  std::map<uint32_t, uint32_t> pid_of;  // thread -> process
  std::set<uint32_t> processes;
  uint64_t seq = 0;
  uint32_t choice_index = 0;
  const auto& events = result.run.events;
  for (size_t i = 0; i < events.size(); ++i) {
    const TraceEvent& t = events[i];
    ++seq;
    if (!t.note && t.name == "thread-start") {
      pid_of[static_cast<uint32_t>(t.Value('t'))] = static_cast<uint32_t>(t.Value('p'));
      processes.insert(static_cast<uint32_t>(t.Value('p')));
    }
    // Scheduler bookkeeping: the thread column already says who runs.
    if (!t.note && (t.name == "switch" || t.name == "wake" || t.name == "program-choice")) continue;
    if (t.note && t.name == "options") continue;  // folded into its choice
    TimelineEvent e;
    e.now_ns = t.now_ns;
    e.seq = seq;
    e.thread = t.thread;
    e.pid = pid_of.count(t.thread) ? pid_of[t.thread] : 0;
    e.name = t.name;
    e.text = t.text;
    e.op = t.op;
    if (t.note) {
      e.kind = t.name;  // "proactor", "protocol"
      size_t colon = t.text.find(':');
      e.name = t.name == "proactor" && colon != std::string::npos ? t.text.substr(0, colon)
                                                                   : std::string(t.name);
    } else if (t.name == "choice") {
      e.kind = "choice";
      e.choice_index = ++choice_index;
      uint32_t value = static_cast<uint32_t>(t.values[1]), n = static_cast<uint32_t>(t.values[2]);
      std::string label =
          i + 1 < events.size() && events[i + 1].note && events[i + 1].name == "options"
              ? events[i + 1].text
              : "";
      e.deviates = value != 0;
      e.name = absl::StrCat("choice ", ChoiceKindName(static_cast<ChoiceKind>(t.values[0])));
      e.text = absl::StrCat(ChoiceKindName(static_cast<ChoiceKind>(t.values[0])), " ", value,
                            " of ", n, ": ", ChosenOption(label, value, n), "  [", label, "]");
    } else if (t.name == "dequeue") {
      e.kind = "packet";
    } else if (IsKernelEvent(t.name)) {
      e.kind = "kernel";
      if (t.name == "issue") {
        e.handle = t.Value('h');
        e.has_handle = true;
      }
    } else {
      e.kind = "call";
    }
    if (!t.note && e.op >= kTracePostIdBase) absl::StrAppend(&e.text, " (", OpName(e.op), ")");
    r.timeline.push_back(std::move(e));
  }
  std::vector<uint32_t> threads;
  for (const auto& [thread, pid] : pid_of) threads.push_back(thread);
  r.summary = Summarize(r, threads, processes.size());
  return r;
}

std::string RenderReport(const Report& r, ReportFormat format) {
  switch (format) {
    case ReportFormat::kText: return RenderText(r);
    case ReportFormat::kMarkdown: return RenderMarkdown(r);
    case ReportFormat::kJson: return RenderJson(r);
    case ReportFormat::kChrome: return RenderChrome(r);
    case ReportFormat::kHtml: return RenderHtml(r);
  }
  return "";
}

// ------------------------------------------------------------------ text

namespace {

std::string ThreadColumn(const TimelineEvent& e) {
  return e.thread == 0 ? "kernel" : absl::StrCat("thread#", e.thread);
}

std::string TimelineLines(const Report& r) {
  std::string out = absl::StrFormat("   %12s  %-10s %-8s %s\n", "virtual", "thread", "kind", "event");
  for (const TimelineEvent& e : r.timeline) {
    std::string what = e.kind == "call" || e.kind == "kernel" || e.kind == "packet"
                           ? absl::StrCat(e.name, " ", e.text)
                           : e.text;
    absl::StrAppendFormat(&out, "%s %12s  %-10s %-8s %s\n", e.deviates ? ">>" : "  ",
                          Ms(e.now_ns), ThreadColumn(e), e.kind, what);
  }
  if (r.verdict != "ok") {
    absl::StrAppendFormat(&out, "!! %12s  %-10s %-8s %s: %s\n", Ms(r.end_time_ns), "oracle",
                          "verdict", r.signature, r.complaint);
  }
  return out;
}

}  // namespace

std::string RenderText(const Report& r) {
  std::string out = absl::StrCat("verdict ", r.verdict,
                                 r.signature.empty() ? "" : "  signature " + r.signature, "\n");
  absl::StrAppend(&out, "scenario ", r.scenario, "  profile ", r.profile, "  digest ", r.digest,
                  r.matched ? " (as recorded)" : " (DIFFERS from the replay file)", "\n");
  absl::StrAppend(&out, Deviations(r.choices), " of ", r.choices.size(),
                  " choices deviate from canonical (marked >>)\n\n");
  absl::StrAppend(&out, TimelineLines(r));
  absl::StrAppend(&out, "\nreplay: ", r.replay_command, "\n");
  return out;
}

// -------------------------------------------------------------- markdown

std::string RenderMarkdown(const Report& r) {
  std::string out = absl::StrCat("# `", r.verdict, "`", r.signature.empty() ? "" : " — `",
                                 r.signature, r.signature.empty() ? "" : "`", "\n\n");
  absl::StrAppend(&out, "Replay it: `", r.replay_command, "`\n\n");
  absl::StrAppend(&out, "| | |\n|---|---|\n| scenario | `", r.scenario, "` |\n| profile | `",
                  r.profile, "` |\n| verdict | `", r.verdict, "` |\n| signature | `", r.signature,
                  "` |\n| kernel outcome | `", r.outcome, "` |\n| digest | `", r.digest, "`",
                  r.matched ? " (as recorded)" : " (differs from the replay file)", " |\n\n");
  absl::StrAppend(&out, "## What happened\n\n", absl::StrJoin(r.summary, " "), "\n\n");

  absl::StrAppend(&out, "## Deviations from the canonical schedule\n\n");
  bool any = false;
  for (const TimelineEvent& e : r.timeline) {
    if (!e.deviates) continue;
    if (!any) out += "| choice | virtual time | thread | taken |\n|---|---|---|---|\n";
    any = true;
    absl::StrAppend(&out, "| ", e.choice_index, " of ", r.choices.size(), " | ", Ms(e.now_ns),
                    " | ", ThreadColumn(e), " | ", absl::StrReplaceAll(e.text, {{"|", "\\|"}}),
                    " |\n");
  }
  if (!any) out += "None: this is the canonical run.\n";

  absl::StrAppend(&out, "\n## Findings\n\n");
  if (r.findings.empty()) out += "None.\n";
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const scenarios::Finding& f = r.findings[i];
    absl::StrAppend(&out, i + 1, ". `", f.signature, "`", i == 0 ? " (the verdict)" : "", "\n\n");
    // The detail: its first line says it; for leaks the next ones say where
    // each object was created.
    std::vector<std::string> lines = absl::StrSplit(f.detail, '\n');
    for (const std::string& line : lines) absl::StrAppend(&out, "    ", line, "\n");
    out += "\n";
  }
  absl::StrAppend(&out, "## Timeline\n\nOne line per event; `>>` marks a choice that took a "
                        "non-canonical option, `!!` the oracle's complaint.\n\n```text\n",
                  TimelineLines(r), "```\n\n");
  absl::StrAppend(&out, "Replay it: `", r.replay_command, "`\n");
  return out;
}

// ------------------------------------------------------------------ json

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

namespace {

// The lanes of the Chrome trace and of the HTML drawing: the kernel, each
// simulated thread, and each handle an overlapped operation was issued on
// (split into sub-lanes where its operations overlap).
struct Slice {
  uint32_t op;
  std::string name;     // "ReadFile ov#3"
  std::string result;   // "STATUS_SUCCESS bytes=1" or "never completed"
  size_t begin, end;    // timeline indexes (end: the completion, or the last event)
};
struct Lane {
  std::string name;
  uint32_t pid, tid;
  std::vector<size_t> events;  // timeline indexes
  std::vector<Slice> slices;   // handle lanes
};
struct Lanes {
  std::vector<Lane> lanes;
  std::vector<size_t> lane_of;  // per timeline event
};

constexpr uint32_t kKernelPid = 100000;
constexpr uint32_t kHandlesPid = 100001;
constexpr uint32_t kPortsPid = 100002;

// What the kernel did on its own; an operation's issue and cancellation
// request stay on the lane of the thread whose call made them.
bool OnKernelLane(const TimelineEvent& e) {
  return (e.kind == "kernel" && e.name != "issue" && e.name != "cancel-requested") ||
         e.thread == 0;
}

Lanes MakeLanes(const Report& r) {
  Lanes out;
  out.lanes.push_back({"kernel", kKernelPid, 1, {}, {}});
  std::map<uint32_t, size_t> thread_lane;
  std::map<uint32_t, uint32_t> pid_of;
  for (const TimelineEvent& e : r.timeline) {
    if (e.thread != 0 && e.pid != 0) pid_of[e.thread] = e.pid;
  }
  for (const auto& [thread, pid] : pid_of) {
    thread_lane[thread] = out.lanes.size();
    out.lanes.push_back({absl::StrCat("thread#", thread, " (pid#", pid, pid == 1 ? " app)" : ")"),
                         pid, thread, {}, {}});
  }
  out.lane_of.resize(r.timeline.size());
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const TimelineEvent& e = r.timeline[i];
    size_t lane = 0;
    if (!OnKernelLane(e) && thread_lane.count(e.thread)) lane = thread_lane[e.thread];
    out.lane_of[i] = lane;
    out.lanes[lane].events.push_back(i);
  }
  // Operation slices, by handle (and process), in issue order.
  std::map<uint32_t, Slice> open;
  std::vector<std::pair<std::string, Slice>> slices;  // (handle lane name, slice), by issue
  std::map<uint32_t, size_t> slice_of_op;
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const TimelineEvent& e = r.timeline[i];
    if (e.kind != "kernel" || e.op == 0) continue;
    if (e.name == "issue" && e.has_handle) {
      std::vector<std::string> words = absl::StrSplit(e.text, ' ');
      std::string type = words.size() > 1 ? words[1] : "op";
      uint32_t pid = pid_of.count(e.thread) ? pid_of[e.thread] : 0;
      slice_of_op[e.op] = slices.size();
      slices.push_back({absl::StrFormat("h=0x%x (pid#%d)", e.handle, pid),
                        {e.op, absl::StrCat(type, " ov#", e.op), "never completed", i,
                         r.timeline.size() - 1}});
    } else if (e.name == "complete" && slice_of_op.count(e.op)) {
      Slice& s = slices[slice_of_op[e.op]].second;
      s.end = i;
      std::string text = e.text.substr(e.text.find(' ') + 1);
      s.result = text;
    }
  }
  // Completion packets, by port: from queued (an operation's completion
  // with a packet, or PostQueuedCompletionStatus) to dequeued. The port is
  // the one the GetQueuedCompletionStatus that dequeued it was called on.
  std::map<uint32_t, size_t> queued;  // op -> timeline index
  std::map<uint32_t, uint64_t> post_port;
  std::vector<std::pair<std::string, Slice>> packets;
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const TimelineEvent& e = r.timeline[i];
    if (e.op == 0) continue;
    if (e.kind == "kernel" && e.name == "complete" &&
        e.text.find("packet=TRUE") != std::string::npos) {
      queued[e.op] = i;
    } else if (e.kind == "call" && e.name == "PostQueuedCompletionStatus") {
      queued[e.op] = i;
    } else if (e.kind == "packet" && queued.count(e.op)) {
      uint64_t port = 0;
      for (size_t j = i + 1; j < r.timeline.size() && port == 0; ++j) {
        const TimelineEvent& g = r.timeline[j];
        if (g.thread == e.thread && g.kind == "call" &&
            g.name.rfind("GetQueuedCompletionStatus", 0) == 0) {
          std::vector<std::string> words = absl::StrSplit(g.text, ' ');
          for (const std::string& w : words) {
            if (w.rfind("port=0x", 0) == 0) port = std::strtoull(w.c_str() + 7, nullptr, 16);
          }
          if (port == 0) break;
        }
      }
      uint32_t pid = pid_of.count(e.thread) ? pid_of[e.thread] : 0;
      packets.push_back({absl::StrFormat("port 0x%x (pid#%d)", port, pid),
                         {e.op, absl::StrCat("packet ", OpName(e.op)),
                          absl::StrCat("dequeued by thread#", e.thread), queued[e.op], i}});
      queued.erase(e.op);
    }
  }
  std::sort(packets.begin(), packets.end(),
            [](const auto& a, const auto& b) { return a.second.begin < b.second.begin; });
  // Sub-lanes: the first one of the handle (or port) whose last slice has
  // ended, so that slices on a lane never overlap.
  auto place = [&out](std::vector<std::pair<std::string, Slice>>& all, uint32_t pid) {
    std::map<std::string, std::vector<size_t>> by_name;  // name -> lane indexes
    for (auto& [name, slice] : all) {
      std::vector<size_t>& mine = by_name[name];
      size_t lane = SIZE_MAX;
      for (size_t l : mine) {
        if (out.lanes[l].slices.back().end < slice.begin) {
          lane = l;
          break;
        }
      }
      if (lane == SIZE_MAX) {
        lane = out.lanes.size();
        std::string lane_name = mine.empty() ? name : absl::StrCat(name, " #", mine.size() + 1);
        out.lanes.push_back({lane_name, pid, static_cast<uint32_t>(lane), {}, {}});
        mine.push_back(lane);
      }
      out.lanes[lane].slices.push_back(slice);
    }
  };
  place(slices, kHandlesPid);
  place(packets, kPortsPid);
  return out;
}

// Chrome's axis is microseconds: virtual time, stretched by 1 us per event
// so that events of the same instant stay apart and in order.
std::vector<double> Stretch(const Report& r) {
  std::vector<double> ts(r.timeline.size());
  double prev = -1;
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    ts[i] = std::max(r.timeline[i].now_ns / 1e3, prev + 1);
    prev = ts[i];
  }
  return ts;
}

std::string EventJson(const TimelineEvent& e) {
  return absl::StrCat("{\"seq\":", e.seq, ",\"t_ns\":", e.now_ns, ",\"thread\":", e.thread,
                      ",\"pid\":", e.pid, ",\"kind\":", JsonQuote(e.kind), ",\"name\":",
                      JsonQuote(e.name), ",\"text\":", JsonQuote(e.text), ",\"op\":", e.op,
                      e.kind == "choice" ? absl::StrCat(",\"choice\":", e.choice_index,
                                                        ",\"deviates\":",
                                                        e.deviates ? "true" : "false")
                                         : "",
                      "}");
}

}  // namespace

std::string RenderJson(const Report& r) {
  std::string out = absl::StrCat(
      "{\"source\":", JsonQuote(r.source), ",\"scenario\":", JsonQuote(r.scenario),
      ",\"profile\":", JsonQuote(r.profile), ",\"verdict\":", JsonQuote(r.verdict),
      ",\"signature\":", JsonQuote(r.signature), ",\"complaint\":", JsonQuote(r.complaint),
      ",\"outcome\":", JsonQuote(r.outcome), ",\"digest\":", JsonQuote(r.digest),
      ",\"matched\":", r.matched ? "true" : "false", ",\"steps\":", r.steps,
      ",\"end_time_ns\":", r.end_time_ns, ",\"deviations\":", Deviations(r.choices),
      ",\"replay_command\":", JsonQuote(r.replay_command), ",\"summary\":[");
  for (size_t i = 0; i < r.summary.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", JsonQuote(r.summary[i]));
  }
  out += "],\"findings\":[";
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const scenarios::Finding& f = r.findings[i];
    absl::StrAppend(&out, i ? "," : "", "{\"verdict\":",
                    JsonQuote(scenarios::VerdictName(f.verdict)), ",\"signature\":",
                    JsonQuote(f.signature), ",\"detail\":", JsonQuote(f.detail), "}");
  }
  out += "],\"choices\":[";
  for (size_t i = 0; i < r.choices.size(); ++i) {
    const ChoiceRecord& c = r.choices[i];
    absl::StrAppend(&out, i ? "," : "", "{\"kind\":", JsonQuote(ChoiceKindName(c.kind)),
                    ",\"n\":", c.n, ",\"value\":", c.value, ",\"label\":", JsonQuote(c.label), "}");
  }
  out += "],\"lanes\":[";
  Lanes lanes = MakeLanes(r);
  for (size_t i = 0; i < lanes.lanes.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", JsonQuote(lanes.lanes[i].name));
  }
  out += "],\"timeline\":[";
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    absl::StrAppend(&out, i ? ",\n" : "\n", EventJson(r.timeline[i]));
  }
  out += "\n]}\n";
  return out;
}

// ---------------------------------------------------------------- chrome

std::string RenderChrome(const Report& r) {
  Lanes lanes = MakeLanes(r);
  std::vector<double> ts = Stretch(r);
  std::vector<std::string> ev;
  // Names: processes and lanes.
  std::set<uint32_t> pids;
  for (const Lane& l : lanes.lanes) {
    if (pids.insert(l.pid).second) {
      std::string name = l.pid == kKernelPid    ? "kernel"
                         : l.pid == kHandlesPid ? "handles (overlapped operations)"
                         : l.pid == kPortsPid   ? "ports (queued completion packets)"
                         : l.pid == 1           ? "pid#1 app"
                                                : absl::StrCat("pid#", l.pid, " child");
      ev.push_back(absl::StrCat("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":", l.pid,
                                ",\"tid\":0,\"args\":{\"name\":", JsonQuote(name), "}}"));
      ev.push_back(absl::StrCat("{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":", l.pid,
                                ",\"tid\":0,\"args\":{\"sort_index\":",
                                l.pid >= kKernelPid ? l.pid - kKernelPid + 1000 : l.pid, "}}"));
    }
    ev.push_back(absl::StrCat("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":", l.pid,
                              ",\"tid\":", l.tid, ",\"args\":{\"name\":", JsonQuote(l.name), "}}"));
  }
  // One slice per event on its lane; a choice is also an instant with its
  // options.
  for (const Lane& l : lanes.lanes) {
    for (size_t i : l.events) {
      const TimelineEvent& e = r.timeline[i];
      std::string name = e.kind == "choice" && e.deviates ? "DEVIATION " + e.name : e.name;
      ev.push_back(absl::StrFormat(
          "{\"ph\":\"X\",\"name\":%s,\"cat\":%s,\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":0.8,"
          "\"args\":{\"virtual_ms\":%.6f,\"thread\":%d,\"what\":%s%s}}",
          JsonQuote(name), JsonQuote(e.kind), l.pid, l.tid, ts[i], e.now_ns / 1e6, e.thread,
          JsonQuote(e.text), e.op ? absl::StrCat(",\"op\":\"", OpName(e.op), "\"") : ""));
      if (e.kind == "choice") {
        ev.push_back(absl::StrFormat(
            "{\"ph\":\"i\",\"s\":\"t\",\"name\":%s,\"cat\":\"choice\",\"pid\":%d,\"tid\":%d,"
            "\"ts\":%.3f,\"args\":{\"choice\":%d,\"deviates\":%s,\"options\":%s}}",
            JsonQuote(name), l.pid, l.tid, ts[i] + 0.4, e.choice_index,
            e.deviates ? "true" : "false", JsonQuote(e.text)));
      }
    }
    for (const Slice& s : l.slices) {
      double begin = ts[s.begin], end = std::max(ts[s.end] + 0.8, begin + 0.8);
      ev.push_back(absl::StrFormat(
          "{\"ph\":\"X\",\"name\":%s,\"cat\":\"op\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,"
          "\"dur\":%.3f,\"args\":{\"result\":%s}}",
          JsonQuote(s.name), l.pid, l.tid, begin, end - begin, JsonQuote(s.result)));
    }
  }
  // Flows: an operation's life from its issue through completion and
  // dequeue to the callbacks that ran in its scope.
  std::map<uint32_t, std::vector<size_t>> points;
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const TimelineEvent& e = r.timeline[i];
    // An operation's flow starts at its issue; a posted packet's at the call.
    bool call_starts = e.kind == "call" && e.name == "PostQueuedCompletionStatus";
    if (e.op != 0 && (call_starts || (e.kind != "call" && e.kind != "choice"))) {
      points[e.op].push_back(i);
    }
  }
  for (const auto& [op, idx] : points) {
    if (idx.size() < 2) continue;
    for (size_t k = 0; k < idx.size(); ++k) {
      const Lane& l = lanes.lanes[lanes.lane_of[idx[k]]];
      const char* ph = k == 0 ? "s" : k + 1 == idx.size() ? "f" : "t";
      ev.push_back(absl::StrFormat(
          "{\"ph\":\"%s\",\"id\":%d,\"name\":\"%s\",\"cat\":\"flow\",\"pid\":%d,\"tid\":%d,"
          "\"ts\":%.3f,\"bp\":\"e\"}",
          ph, op, OpName(op), l.pid, l.tid, ts[idx[k]] + 0.4));
    }
  }
  std::string out = "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"verdict\":" +
                    JsonQuote(r.verdict) + ",\"signature\":" + JsonQuote(r.signature) +
                    ",\"replay\":" + JsonQuote(r.replay_command) + "},\"traceEvents\":[\n";
  out += absl::StrJoin(ev, ",\n");
  out += "\n]}\n";
  return out;
}

// ------------------------------------------------------------------ html

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* Color(const std::string& kind) {
  if (kind == "call") return "#7a8ca3";
  if (kind == "kernel") return "#b07cc6";
  if (kind == "packet") return "#2e86de";
  if (kind == "proactor") return "#27ae60";
  if (kind == "protocol") return "#e67e22";
  if (kind == "choice") return "#95a5a6";
  return "#555";
}

}  // namespace

std::string RenderHtml(const Report& r) {
  Lanes lanes = MakeLanes(r);
  constexpr int kLabel = 230, kCol = 7, kRow = 26, kTop = 50;
  int width = kLabel + static_cast<int>(r.timeline.size()) * kCol + 20;
  int height = kTop + static_cast<int>(lanes.lanes.size()) * kRow + 10;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"monospace\" font-size=\"11\">\n",
      width, height);
  for (size_t li = 0; li < lanes.lanes.size(); ++li) {
    const Lane& l = lanes.lanes[li];
    int y = kTop + static_cast<int>(li) * kRow;
    absl::StrAppendFormat(&svg, "<g class=\"lane\" data-lane=\"%s\">\n", Escape(l.name));
    absl::StrAppendFormat(&svg,
                          "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n"
                          "<text x=\"4\" y=\"%d\">%s</text>\n",
                          y, width, kRow, li % 2 ? "#f4f6f8" : "#ffffff", y + 16, Escape(l.name));
    for (const Slice& s : l.slices) {
      int x0 = kLabel + static_cast<int>(s.begin) * kCol;
      int x1 = kLabel + static_cast<int>(s.end) * kCol + kCol;
      absl::StrAppendFormat(&svg,
                            "<rect class=\"op\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                            "rx=\"3\" fill=\"#b07cc6\" opacity=\"0.6\"><title>%s: %s</title></rect>\n"
                            "<text x=\"%d\" y=\"%d\" font-size=\"9\">%s</text>\n",
                            x0, y + 4, std::max(x1 - x0, kCol), kRow - 8, Escape(s.name),
                            Escape(s.result), x0 + 2, y + 16, Escape(s.name));
    }
    for (size_t i : l.events) {
      const TimelineEvent& e = r.timeline[i];
      int x = kLabel + static_cast<int>(i) * kCol;
      std::string title = Escape(absl::StrCat(Ms(e.now_ns), " ", ThreadColumn(e), " ", e.kind,
                                              " ", e.name, " ", e.text));
      if (e.kind == "choice") {
        absl::StrAppendFormat(&svg,
                              "<path class=\"choice%s\" d=\"M%d %d l%d %d l%d %d l%d %d z\" "
                              "fill=\"%s\"><title>%s</title></path>\n",
                              e.deviates ? " deviating" : "", x + kCol / 2, y + 5, kCol / 2 + 1,
                              kRow / 2 - 5, -(kCol / 2 + 1), kRow / 2 - 5, -(kCol / 2 + 1),
                              -(kRow / 2 - 5), e.deviates ? "#e00" : Color(e.kind), title);
      } else {
        absl::StrAppendFormat(&svg,
                              "<rect class=\"event\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                              "fill=\"%s\"><title>%s</title></rect>\n",
                              x, y + 6, kCol - 1, kRow - 12, Color(e.kind), title);
      }
    }
    svg += "</g>\n";
  }
  // Deviating choices: a band across every lane, on top, labelled with
  // the choice's number.
  int shown = 0;  // labels stagger over three rows
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    if (!r.timeline[i].deviates) continue;
    int x = kLabel + static_cast<int>(i) * kCol;
    absl::StrAppendFormat(&svg,
                          "<rect class=\"deviation\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                          "fill=\"#ff000030\" stroke=\"#e00\"><title>%s</title></rect>\n"
                          "<text x=\"%d\" y=\"%d\" fill=\"#c00\">#%d</text>\n",
                          x - 2, kTop - 4, kCol + 4, height - kTop, Escape(r.timeline[i].text),
                          x - 4, kTop - 8 - 11 * (shown++ % 3), r.timeline[i].choice_index);
  }
  svg += "</svg>\n";

  std::string legend;
  for (const char* k : {"call", "kernel", "packet", "proactor", "protocol", "choice"}) {
    absl::StrAppendFormat(&legend, "<span style=\"color:%s\">&#9632;</span> %s &nbsp; ", Color(k),
                          k);
  }
  std::string timeline;
  std::vector<std::string> lines = absl::StrSplit(TimelineLines(r), '\n');
  for (const std::string& line : lines) {
    if (line.rfind(">>", 0) == 0 || line.rfind("!!", 0) == 0) {
      absl::StrAppend(&timeline, "<mark>", Escape(line), "</mark>\n");
    } else {
      absl::StrAppend(&timeline, Escape(line), "\n");
    }
  }
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>iocpsim: ",
      Escape(r.verdict), " ", Escape(r.signature),
      "</title>\n<style>body{font-family:sans-serif;margin:16px}"
      "pre{background:#f8f8f8;padding:8px;overflow-x:auto}"
      ".lanes{overflow-x:auto;border:1px solid #ccc}mark{background:#ffd6d6}"
      "code{background:#eef}</style></head>\n<body>\n<h1>",
      Escape(r.verdict), " <code>", Escape(r.signature), "</code></h1>\n<p>Replay it: <code>",
      Escape(r.replay_command), "</code></p>\n<p>", Escape(absl::StrJoin(r.summary, " ")),
      "</p>\n<p>", legend,
      "<span style=\"color:#e00\">&#9670;</span> deviating choice (#N: its number in the "
      "replay file; hover over any mark for the event)</p>\n<div class=\"lanes\">\n",
      svg, "</div>\n<h2>Timeline</h2>\n<pre>", timeline, "</pre>\n<p>Replay it: <code>",
      Escape(r.replay_command), "</code></p>\n</body></html>\n");
}

}  // namespace iocpsim::reports
