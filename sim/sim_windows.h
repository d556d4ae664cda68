// The part of the embedding API (sim.h) that programs written for the
// virtual kernel use, for their Windows build (the mingw preset): there is
// no kernel and no choice stream, so every choice takes its canonical
// option 0, protocol annotations are printed, and child programs are
// registered for the runner to dispatch by name (scenarios/windows_main.cc).
#ifndef IOCPSIM_SIM_SIM_WINDOWS_H_
#define IOCPSIM_SIM_SIM_WINDOWS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace iocpsim {

// As in choice.h.
enum class ChoiceKind : uint8_t { kSchedule, kSync, kCancelRace, kTime, kExit, kParam };

// Parameters given to the runner (scenario_runner SCENARIO V...), in the
// order the scenario asks for them.
inline std::vector<uint32_t>& ParamValues() {
  static auto* values = new std::vector<uint32_t>;
  return *values;
}

// The canonical option -- a child that does what it says -- except for the
// parameters given (out of range: 0).
inline uint32_t Choose(ChoiceKind kind, uint32_t n, std::string_view) {
  static size_t next = 0;
  if (kind != ChoiceKind::kParam || next >= ParamValues().size()) return 0;
  uint32_t v = ParamValues()[next++];
  return v < n ? v : 0;
}

// Protocol callbacks are the events compared with the virtual kernel's
// canonical run: kept in ProtocolLog(); the other annotations are dropped.
inline std::vector<std::string>& ProtocolLog() {
  static auto* log = new std::vector<std::string>;
  return *log;
}
inline bool Annotating() { return true; }
inline void Annotate(const char* category, uint32_t, const std::string& text) {
  if (std::string_view(category) == "protocol") ProtocolLog().push_back(text);
}

using ChildProgram = std::function<uint32_t(const std::vector<std::string>& argv)>;
inline std::map<std::string, ChildProgram>& ChildPrograms() {
  static auto* programs = new std::map<std::string, ChildProgram>;
  return *programs;
}
inline void RegisterChildProgram(const std::string& name, ChildProgram program) {
  ChildPrograms()[name] = std::move(program);
}

}  // namespace iocpsim

#endif  // IOCPSIM_SIM_SIM_WINDOWS_H_
