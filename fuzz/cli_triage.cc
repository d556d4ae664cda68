// iocpsim triage: what a CI fuzz job does with libFuzzer's artifacts.
// Each artifact is reproduced several times (is it a finding? is it
// deterministic?), grouped by signature, and compared with the signatures
// of corpus/crashes/; a new group is minimized and gets a replay file and
// reports. Writes a SARIF 2.1.0 file (one result per new signature) and a
// Markdown summary for the CI job's page.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "fuzz/cli.h"
#include "fuzz/strategy.h"
#include "reports/report.h"

namespace iocpsim::cli {
namespace {

namespace fs = std::filesystem;

struct Artifact {
  std::string path;
  bool current = false;  // an artifact of the iocpsim_fuzz_current target
};

struct TriageGroup {
  std::string signature;
  std::string verdict;
  std::vector<std::string> artifacts;
  bool deterministic = true;
  bool known = false;
  std::string known_as;  // the corpus/crashes file
  Campaign campaign;
  ReplayFile smallest;
  std::string replay, report_md, report_html;  // written for new groups
};

bool IsArtifactName(const std::string& name) {
  for (const char* prefix : {"crash-", "timeout-", "oom-", "leak-", "slow-unit-"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return name.size() > 7 && name.substr(name.size() - 7) == ".replay";
}

// Artifacts in `dir` (sorted: directory order is not deterministic); a
// converted artifact's .replay is left out when the artifact is there.
std::vector<std::string> ArtifactsIn(const std::string& dir, std::string* error) {
  std::vector<std::string> out;
  std::error_code ec;
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) names.insert(e.path().filename().string());
  }
  if (ec) {
    *error = dir + ": " + ec.message();
    return out;
  }
  for (const std::string& n : names) {
    if (!IsArtifactName(n)) continue;
    if (n.size() > 7 && n.substr(n.size() - 7) == ".replay" &&
        names.count(n.substr(0, n.size() - 7))) {
      continue;
    }
    out.push_back(dir + "/" + n);
  }
  return out;
}

std::string SarifResults(const std::vector<const TriageGroup*>& fresh) {
  std::set<std::string> rules;
  for (const TriageGroup* g : fresh) rules.insert(g->verdict);
  std::string rule_json;
  for (const std::string& r : rules) {
    if (!rule_json.empty()) rule_json += ",";
    rule_json += "{\"id\":" + JsonString("iocpsim/" + r) + ",\"name\":" + JsonString(r) +
                 ",\"shortDescription\":{\"text\":" +
                 JsonString("iocpsim oracle: " + r + " (see DESIGN.md, oracles and verdicts)") +
                 "},\"defaultConfiguration\":{\"level\":\"error\"}}";
  }
  std::string results;
  for (const TriageGroup* g : fresh) {
    if (!results.empty()) results += ",";
    // The location: the scenario's source file, which is in the repository
    // (the replay file is an artifact of the job).
    std::string scenario_file = "scenarios/" + g->smallest.scenario + ".cc";
    std::replace(scenario_file.begin() + 10, scenario_file.end(), '-', '_');
    results +=
        "{\"ruleId\":" + JsonString("iocpsim/" + g->verdict) + ",\"level\":\"error\"," +
        "\"message\":{\"text\":" +
        JsonString("New finding " + g->signature + " in scenario " + g->smallest.scenario +
                   " (" + std::to_string(g->artifacts.size()) + " artifact(s), " +
                   (g->deterministic ? "deterministic" : "NOT deterministic") +
                   "). Replay: scripts/iocpsim replay " + g->replay + "; report: " +
                   g->report_md) +
        "},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":" +
        JsonString(scenario_file) + ",\"uriBaseId\":\"%SRCROOT%\"},\"region\":{\"startLine\":1}}}]," +
        "\"partialFingerprints\":{\"iocpsimSignature/v1\":" + JsonString(g->signature) + "}," +
        "\"properties\":{\"replay\":" + JsonString(g->replay) + ",\"report\":" +
        JsonString(g->report_md) + ",\"deviations\":" +
        std::to_string(Deviations(g->smallest.choices)) + "}}";
  }
  return "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
         "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"iocpsim\",\"rules\":[" +
         rule_json + "]}},\"results\":[" + results + "]}]}\n";
}

}  // namespace

int TriageCommand(const std::vector<std::string>& args) {
  if (Has(args, "--help")) {
    std::printf(
        "iocpsim triage [--artifacts DIR] [--current-artifacts DIR] [--known DIR] [--out DIR]\n"
        "               [--reproduce N] [--sarif FILE] [--summary FILE] [--title TEXT]\n"
        "               [--not-reproduced FILE]\n"
        "Reproduces each libFuzzer artifact (crash-*, timeout-*, oom-*, leak-*, or a replay\n"
        "file) in DIR N times (default 3), groups them by signature and compares them\n"
        "with the replay files in --known (default corpus/crashes). New signatures are\n"
        "minimized; their replay file and Markdown and HTML reports go to --out (default\n"
        "reports/out/ci-fuzz/new). --current-artifacts: artifacts of iocpsim_fuzz_current.\n"
        "--not-reproduced: list there the artifacts that gave no finding here (the caller\n"
        "may try them with the sanitizer build). Exit 1 when there is a new signature.\n");
    return 0;
  }
  std::vector<Artifact> artifacts;
  std::string known_dir = "corpus/crashes", out_dir = "reports/out/ci-fuzz/new", sarif, summary;
  std::string title = "iocpsim fuzzing", not_reproduced_file;
  int reproduce = 3;
  for (size_t i = 0; i < args.size(); ++i) {
    bool has_value = i + 1 < args.size();
    if ((args[i] == "--artifacts" || args[i] == "--current-artifacts") && has_value) {
      std::string error;
      for (const std::string& p : ArtifactsIn(args[i + 1], &error)) {
        artifacts.push_back({p, args[i] == "--current-artifacts"});
      }
      if (!error.empty()) return Usage("triage: " + error);
      ++i;
    } else if (args[i] == "--known" && has_value) {
      known_dir = args[++i];
    } else if (args[i] == "--out" && has_value) {
      out_dir = args[++i];
    } else if (args[i] == "--sarif" && has_value) {
      sarif = args[++i];
    } else if (args[i] == "--summary" && has_value) {
      summary = args[++i];
    } else if (args[i] == "--title" && has_value) {
      title = args[++i];
    } else if (args[i] == "--not-reproduced" && has_value) {
      not_reproduced_file = args[++i];
    } else if (args[i] == "--reproduce" && has_value && Number(args[i + 1])) {
      reproduce = std::max(1, static_cast<int>(*Number(args[++i])));
    } else {
      return Usage("triage: unknown or incomplete flag '" + args[i] +
                   "' (flags: --artifacts DIR --current-artifacts DIR --known DIR --out DIR "
                   "--reproduce N --sarif FILE --summary FILE --title TEXT --not-reproduced FILE)");
    }
  }
  // The known signatures.
  std::map<std::string, std::string> known;  // signature -> file
  std::string error;
  std::vector<std::string> known_files = ArtifactsIn(known_dir, &error);
  if (!error.empty()) return Usage("triage: --known " + error);
  for (const std::string& f : known_files) {
    auto r = ReadReplay(f);
    if (!r.ok()) return Usage(std::string(r.status().message()));
    if (!r->signature.empty()) known.emplace(r->signature, f);
  }

  std::map<std::string, TriageGroup> groups;  // by signature
  std::vector<std::string> not_reproduced, undecodable;
  for (const Artifact& a : artifacts) {
    auto loaded = Load(a.path, a.current);
    if (!loaded.ok()) {
      undecodable.push_back(a.path + ": " + std::string(loaded.status().message()));
      continue;
    }
    auto& [campaign, file] = *loaded;
    // Reproduce: the same signature and digest every time.
    std::string signature, verdict;
    std::set<uint64_t> digests;
    bool same = true;
    for (int k = 0; k < reproduce; ++k) {
      scenarios::ScenarioResult r = RunChoices(campaign, file, false, false, nullptr, nullptr);
      if (k == 0) {
        signature = r.verdict.signature;
        verdict = scenarios::VerdictName(r.verdict.verdict);
      }
      same &= r.verdict.signature == signature;
      digests.insert(r.run.digest);
    }
    if (signature.empty()) {
      not_reproduced.push_back(a.path);
      continue;
    }
    TriageGroup& g = groups[signature];
    if (g.artifacts.empty()) {
      g.signature = signature;
      g.verdict = verdict;
      g.campaign = campaign;
      g.smallest = file;
      g.known = known.count(signature) > 0;
      if (g.known) g.known_as = known[signature];
    } else if (Deviations(file.choices) < Deviations(g.smallest.choices)) {
      g.campaign = campaign;
      g.smallest = file;
    }
    g.artifacts.push_back(a.path);
    g.deterministic &= same && digests.size() == 1;
  }

  // New groups: minimized, with a replay file and reports.
  std::vector<const TriageGroup*> fresh;
  for (auto& [signature, g] : groups) {
    if (g.known) continue;
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) return Usage("triage: " + out_dir + ": " + ec.message());
    uint64_t runs = 0;
    g.smallest = Minimize(g.campaign, g.smallest, 5000, &runs);
    std::string stem = out_dir + "/" + SafeName(signature);
    g.replay = stem + ".replay";
    g.report_md = stem + ".md";
    g.report_html = stem + ".html";
    absl::Status st = WriteReplay(g.smallest, g.replay);
    if (!st.ok()) return Usage("triage: " + std::string(st.message()));
    reports::Report report = reports::BuildReport(g.campaign, g.smallest, g.replay);
    std::ofstream(g.report_md) << reports::RenderMarkdown(report);
    std::ofstream(g.report_html) << reports::RenderHtml(report);
    fresh.push_back(&g);
  }

  // The console, and the Markdown summary.
  std::string md = "## " + title + "\n\n";
  md += std::to_string(artifacts.size()) + " artifact(s): " + std::to_string(groups.size()) +
        " signature(s), " + std::to_string(fresh.size()) + " new.\n\n";
  if (!groups.empty()) {
    md += "| | signature | artifacts | deterministic | replay |\n|---|---|---|---|---|\n";
  }
  for (const auto& [signature, g] : groups) {
    std::string where = g.known ? g.known_as : g.replay;
    md += std::string("| ") + (g.known ? "known" : "**NEW**") + " | `" + signature + "` | " +
          std::to_string(g.artifacts.size()) + " | " + (g.deterministic ? "yes" : "**no**") +
          " | `scripts/iocpsim replay " + where + "`" +
          (g.known ? "" : " ([report](" + g.report_md + "))") + " |\n";
    std::printf("%-5s %s  (%zu artifact(s)%s)\n", g.known ? "known" : "NEW", signature.c_str(),
                g.artifacts.size(), g.deterministic ? "" : ", NOT deterministic");
    if (!g.known) {
      std::printf("      report: %s\n      replay: scripts/iocpsim replay %s\n",
                  g.report_md.c_str(), g.replay.c_str());
    }
  }
  if (!not_reproduced.empty()) {
    md += "\nDid not reproduce in the simulation (a libFuzzer timeout or out-of-memory on a "
          "slow machine, or a crash outside the oracles): " +
          std::to_string(not_reproduced.size()) + "\n\n";
    for (const std::string& p : not_reproduced) {
      md += "- `" + p + "`\n";
      std::printf("not reproduced: %s\n", p.c_str());
    }
  }
  for (const std::string& u : undecodable) {
    md += "- undecodable: `" + u + "`\n";
    std::printf("undecodable: %s\n", u.c_str());
  }
  md += fresh.empty() ? "\nNo new finding.\n"
                      : "\nNew findings fail the job: replay each with the command above.\n";
  if (!summary.empty()) std::ofstream(summary) << md;
  if (!not_reproduced_file.empty()) {
    std::ofstream out(not_reproduced_file);
    for (const std::string& p : not_reproduced) out << p << "\n";
  }
  if (!sarif.empty()) std::ofstream(sarif) << SarifResults(fresh);
  return fresh.empty() ? 0 : 1;
}

}  // namespace iocpsim::cli
