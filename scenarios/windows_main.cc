// The scenarios as a Windows executable (the mingw preset): one scenario's
// canonical program -- its parameters at option 0, under today's proactor
// (profile `current`) -- on the real Win32 API, under Wine here or on
// Windows. It prints the protocol callbacks grouped by object, the lines
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
#include <cstdio>
#include <cstring>
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

int RunOne(const iocpsim::scenarios::Scenario& s) {
  using namespace iocpsim;
  scenarios::Oracles oracles;
  scenarios::RunBody(s, proactor::Profile::Current(), oracles);
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
  if (argc != 2) {
    std::fprintf(stderr, "scenario_runner: usage: scenario_runner SCENARIO\n");
    return 2;
  }
  const iocpsim::scenarios::Scenario* s = iocpsim::scenarios::FindScenario(argv[1]);
  if (s == nullptr) {
    std::fprintf(stderr, "scenario_runner: unknown scenario '%s'\n", argv[1]);
    return 2;
  }
  return RunOne(*s);
}
