// The scenarios as a Windows executable (the mingw preset): one scenario's
// canonical program -- its parameters at option 0 unless given, under
// today's proactor (profile `current`) unless another is named -- on the
// real Win32 API, under Wine
// here or on Windows. It prints the protocol callbacks grouped by object, the lines
// `iocpsim protocol SCENARIO` prints for the virtual kernel's canonical run;
// scripts/wine-check compares the two for every scenario whose protocol
// events do not depend on the schedule.
//
// Copies of this executable named after the child programs (echo.exe,
// exit-now.exe, ...) sit beside it: CreateProcess looks for a program in
// the directory of the parent's executable first, so a scenario's
// subprocess {"echo"} starts this file again, which runs sim/child.cc's
// program of that name.
//
//   build/mingw/scenarios/scenario_runner.exe subprocess-output
//   build/mingw/scenarios/scenario_runner.exe socket-pause-resume 2   # first parameter: option 2
//   build/mingw/scenarios/scenario_runner.exe --profile cpython-3.12.3 datagram-echo
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/oracles.h"
#include "scenarios/scenario.h"

namespace iocpsim {
void RegisterBuiltinChildren();  // sim/child.cc
}

namespace {

// "C:\dir\echo.exe" -> "echo"
std::string ProgramName(const char* argv0) {
  std::string name = argv0;
  size_t slash = name.find_last_of("\\/");
  if (slash != std::string::npos) name = name.substr(slash + 1);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".exe") == 0) name.resize(name.size() - 4);
  return name;
}

int RunOne(const iocpsim::scenarios::Scenario& s, const iocpsim::proactor::Profile& profile) {
  using namespace iocpsim;
  scenarios::Oracles oracles;
  scenarios::RunBody(s, profile, oracles);
  std::vector<std::string>& events = ProtocolLog();
  scenarios::GroupByObject(events);
  for (const std::string& e : events) std::printf("protocol %s\n", e.c_str());
  // The findings of the oracles that need no kernel (order, data loss, the
  // loop's error reports); the kernel's own (handles left, OVERLAPPEDs
  // owned) exist only in the simulation, whose canonical runs have none.
  std::string findings;
  for (const scenarios::Finding& f : oracles.findings()) {
    findings += (findings.empty() ? "" : " ") + f.signature;
  }
  std::printf("findings: %s\n", findings.empty() ? "none" : findings.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  iocpsim::RegisterBuiltinChildren();
  auto& children = iocpsim::ChildPrograms();
  auto child = children.find(ProgramName(argc > 0 ? argv[0] : ""));
  if (child != children.end()) {
    return static_cast<int>(child->second(std::vector<std::string>(argv, argv + argc)));
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  iocpsim::proactor::Profile profile = iocpsim::proactor::Profile::Current();
  if (args.size() >= 2 && args[0] == "--profile") {
    std::optional<iocpsim::proactor::Profile> p = iocpsim::proactor::Profile::Named(args[1]);
    if (!p) {
      std::fprintf(stderr, "scenario_runner: --profile: unknown profile '%s'\n", args[1].c_str());
      return 2;
    }
    profile = *p;
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty()) {
    std::fprintf(stderr,
                 "scenario_runner: usage: scenario_runner [--profile P] SCENARIO [PARAMETER...]\n");
    return 2;
  }
  for (size_t i = 1; i < args.size(); ++i) {
    char* end = nullptr;
    unsigned long v = std::strtoul(args[i].c_str(), &end, 10);
    if (end == args[i].c_str() || *end != '\0' || v > 255) {
      std::fprintf(stderr, "scenario_runner: parameter %zu: '%s' is not an option number\n", i,
                   args[i].c_str());
      return 2;
    }
    iocpsim::ParamValues().push_back(static_cast<uint32_t>(v));
  }
  const iocpsim::scenarios::Scenario* s = iocpsim::scenarios::FindScenario(args[0]);
  if (s == nullptr) {
    std::fprintf(stderr, "scenario_runner: unknown scenario '%s'\n", args[0].c_str());
    return 2;
  }
  return RunOne(*s, profile);
}
