// Oracles and verdicts (../shared/DESIGN.md §5). A run collects findings
// from three places -- the loop's exception handler, the protocol
// checkers a scenario installs, and the kernel's result at the end -- and
// yields one verdict: the first finding, with the others listed.
//
//   Oracles o;
//   loop.SetExceptionHandler(o.Handler());
//   ... o.Check(...)
//   o.OnKernelResult(result);
//   Finding f = o.Verdict();   // {kOk, "", ""} when nothing was found
//
// A signature is the verdict kind plus what went wrong (the operation
// kind, the proactor state, the callback out of order), never addresses,
// handle values, ids or line numbers, so that findings group and a
// minimizer can keep "the same bug".
#ifndef IOCPSIM_SCENARIOS_ORACLES_H_
#define IOCPSIM_SCENARIOS_ORACLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proactor/event_loop.h"
#include "sim/sim.h"

namespace iocpsim::scenarios {

enum class Verdict {
  kOk,
  kUnexpectedEvent,
  kHang,
  kDeadlock,
  kUseAfterFree,
  kLeak,
  kOrder,
  kDataLoss,
  kInvalidState,
  kErrorLog,
};

// "ok", "unexpected-event", "hang", ... as in DESIGN.md.
const char* VerdictName(Verdict v);

struct Finding {
  Verdict verdict = Verdict::kOk;
  std::string signature;  // "hang:ReadFile:finished", "order:connection_lost-before-connection_made"
  std::string detail;     // for people: may name ids and times; its first line says it
                          // all, the next ones are where a leaked object was created
};

class Oracles {
 public:
  // The loop's exception handler: classifies each report.
  proactor::EventLoop::ExceptionHandler Handler();
  void OnReport(const proactor::ErrorContext& context);
#ifndef _WIN32
  // The kernel's view at the end: deadline, deadlock, faults, what was
  // left open or still owned.
  void OnKernelResult(const RunResult& result);
#endif
  // An exception that escaped the scenario's body.
  void OnScenarioException(const std::string& what);

  // The failing verdicts, each through a function of its own (not
  // inlined), so that a libFuzzer crash's top project frame names it.
  void UnexpectedEvent(std::string what, std::string detail);
  void Hang(std::string what, std::string detail);
  void Deadlock(std::string what, std::string detail);
  void UseAfterFree(std::string what, std::string detail);
  void Leak(std::string what, std::string detail);
  void Order(std::string what, std::string detail);
  void DataLoss(std::string what, std::string detail);
  void InvalidState(std::string what, std::string detail);
  void ErrorLog(std::string what, std::string detail);

  // The first finding, or ok.
  Finding Verdict() const;
  // For libFuzzer: print the finding and abort inside the verdict's own
  // function, so that the crash's top project frame names the oracle.
  void set_abort_on_finding(bool on) { abort_on_finding_ = on; }
  const std::vector<Finding>& findings() const { return findings_; }

 private:
  void Add(scenarios::Verdict v, std::string what, std::string detail);
  std::vector<Finding> findings_;
  std::vector<Finding> teardown_;  // reported while the run unwound
  bool in_teardown_ = false;
  bool abort_on_finding_ = false;
  std::string last_hang_;  // the newest "is running after closing" signature
};

// Removes what varies between runs of the same bug from a description:
// "#12", "0x1f", digits -> "N".
std::string Stable(const std::string& s);

}  // namespace iocpsim::scenarios

#endif  // IOCPSIM_SCENARIOS_ORACLES_H_
