#include "fuzz/replay_file.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace iocpsim {

namespace {

absl::Status Error(const std::string& name, size_t line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ":", line, ": ", what));
}

}  // namespace

std::string FormatReplay(const ReplayFile& r) {
  std::string out = "# iocpsim replay: scripts/iocpsim replay THIS_FILE\n";
  absl::StrAppend(&out, "version ", kReplayVersion, "\n");
  absl::StrAppend(&out, "scenario ", r.scenario, "\n");
  absl::StrAppend(&out, "profile ", r.profile, "\n");
  for (const std::string& q : r.quirks) absl::StrAppend(&out, "quirk ", q, "\n");
  absl::StrAppend(&out, "kernel pending_when_ready=", r.pending_when_ready ? 1 : 0,
                  " immediate_status=", r.immediate_status ? 1 : 0, "\n");
  absl::StrAppend(&out, "verdict ", r.verdict, "\n");
  if (!r.signature.empty()) absl::StrAppend(&out, "signature ", r.signature, "\n");
  char digest[24];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(r.digest));
  absl::StrAppend(&out, "digest ", digest, "\n");
  for (const ChoiceRecord& c : r.choices) {
    std::string label = c.label;
    for (char& ch : label) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    absl::StrAppend(&out, "choice ", ChoiceKindName(c.kind), " ", c.n, " ", c.value,
                    label.empty() ? "" : " ", label, "\n");
  }
  out += "end\n";
  return out;
}

absl::StatusOr<ReplayFile> ParseReplay(const std::string& text, const std::string& name) {
  if (text.size() > kReplayMaxBytes) {
    return Error(name, 1, absl::StrCat("file larger than ", kReplayMaxBytes, " bytes"));
  }
  ReplayFile r;
  bool have_version = false, have_scenario = false, have_end = false;
  size_t line_no = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    std::string line(raw);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (have_end) return Error(name, line_no, "text after 'end'");
    size_t sp = line.find(' ');
    std::string key = line.substr(0, sp);
    std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (!have_version && key != "version") {
      return Error(name, line_no, "not an iocpsim replay file (expected 'version 1' first)");
    }
    if (key == "version") {
      int v = 0;
      if (have_version || !absl::SimpleAtoi(rest, &v)) return Error(name, line_no, "bad version line");
      if (v != kReplayVersion) {
        return Error(name, line_no, absl::StrCat("replay version ", v, " (this build reads ",
                                                 kReplayVersion, ")"));
      }
      have_version = true;
    } else if (key == "scenario") {
      if (rest.empty()) return Error(name, line_no, "scenario needs a name");
      r.scenario = rest;
      have_scenario = true;
    } else if (key == "profile") {
      if (rest.empty()) return Error(name, line_no, "profile needs a name");
      r.profile = rest;
    } else if (key == "quirk") {
      if (rest.empty()) return Error(name, line_no, "quirk needs a name");
      r.quirks.push_back(rest);
    } else if (key == "kernel") {
      for (absl::string_view kv : absl::StrSplit(rest, ' ', absl::SkipEmpty())) {
        std::vector<std::string> p = absl::StrSplit(kv, '=');
        int v = 0;
        if (p.size() != 2 || !absl::SimpleAtoi(p[1], &v) || (v != 0 && v != 1)) {
          return Error(name, line_no, absl::StrCat("bad kernel option '", kv, "'"));
        }
        if (p[0] == "pending_when_ready") {
          r.pending_when_ready = v;
        } else if (p[0] == "immediate_status") {
          r.immediate_status = v;
        } else {
          return Error(name, line_no, absl::StrCat("unknown kernel option '", p[0], "'"));
        }
      }
    } else if (key == "verdict") {
      r.verdict = rest;
    } else if (key == "signature") {
      r.signature = rest;
    } else if (key == "digest") {
      if (rest.size() != 16 || !absl::SimpleHexAtoi(rest, &r.digest)) {
        return Error(name, line_no, "digest needs 16 hex digits");
      }
    } else if (key == "choice") {
      if (r.choices.size() >= kReplayMaxChoices) {
        return Error(name, line_no, absl::StrCat("more than ", kReplayMaxChoices, " choices"));
      }
      std::vector<std::string> f = absl::StrSplit(rest, absl::MaxSplits(' ', 3));
      ChoiceRecord c;
      if (f.size() < 3 || !ParseChoiceKind(f[0], &c.kind) || !absl::SimpleAtoi(f[1], &c.n) ||
          !absl::SimpleAtoi(f[2], &c.value)) {
        return Error(name, line_no, "expected 'choice KIND N VALUE [label]'");
      }
      if (c.n < 2 || c.value >= c.n) {
        return Error(name, line_no, absl::StrCat("value ", c.value, " is not one of ", c.n, " options"));
      }
      if (f.size() == 4) c.label = f[3];
      r.choices.push_back(std::move(c));
    } else if (key == "end") {
      have_end = true;
    } else {
      return Error(name, line_no, absl::StrCat("unknown line '", key, "'"));
    }
  }
  if (!have_version) return Error(name, line_no, "empty file (expected 'version 1')");
  if (!have_scenario) return Error(name, line_no, "no 'scenario' line");
  if (!have_end) return Error(name, line_no, "truncated: no 'end' line");
  return r;
}

absl::StatusOr<ReplayFile> ReadReplay(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string text;
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<size_t>(f.gcount()));
    if (text.size() > kReplayMaxBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":1: file larger than ", kReplayMaxBytes, " bytes"));
    }
  }
  return ParseReplay(text, path);
}

absl::Status WriteReplay(const ReplayFile& r, const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  f << FormatReplay(r);
  f.close();
  if (!f) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace iocpsim
