// Scenarios: programs on the proactor that aim at a race, with the checks
// they add. Each lives in a file of its own and is listed in one table
// (registry.cc). Parameters come from the choice stream (kind `param`), so
// one scenario covers a family.
//
//   const Scenario* s = FindScenario("recv-broken-pipe");
//   ScenarioResult r = RunScenario(*s, *Profile::Named("cpython-3.4.2"), source);
//   // r.verdict.verdict == Verdict::kHang
#ifndef IOCPSIM_SCENARIOS_SCENARIO_H_
#define IOCPSIM_SCENARIOS_SCENARIO_H_

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proactor/event_loop.h"
#include "proactor/profile.h"
#include "proactor/subprocess.h"
#include "proactor/transports.h"
#include "scenarios/oracles.h"
#include "sim/sim.h"

namespace iocpsim::scenarios {

class Context;

struct Scenario {
  const char* name;
  // Which race it targets, and how (a paragraph).
  const char* description;
  std::vector<const char*> bugs;  // BUGS.md ids it exposes (with their quirks)
  const char* profile;            // the profile it needs to show them
  int64_t deadline_ms;            // virtual
  const char* checks;             // the checks it adds to the standard oracles
  std::function<void(Context&)> run;
  // The loop has CPython's self-pipe (see proactor::EventLoop).
  bool self_pipe = false;
};

const std::vector<Scenario>& AllScenarios();
const Scenario* FindScenario(const std::string& name);

// What a scenario body gets: the loop, the oracles, and its parameters.
class Context {
 public:
  Context(proactor::EventLoop& loop, Oracles& oracles) : loop(loop), oracles(oracles) {}
  // A parameter in [0, n): option 0 is the canonical (smallest) value.
  uint32_t Param(const char* label, uint32_t n) { return Choose(ChoiceKind::kParam, n, label); }
  // A result the scenario observed (a subprocess's output and exit code),
  // in the timeline with the protocol callbacks: "process.exited(0)".
  void Observe(const std::string& object, const std::string& what) {
    if (Annotating()) Annotate("protocol", 0, object + "." + what);
  }
  // A name for the next checked object of a kind: "client1", "server2".
  std::string Name(const char* kind) { return kind + std::to_string(++names_); }

  proactor::EventLoop& loop;
  Oracles& oracles;

 private:
  int names_ = 0;
};

// A Protocol that checks its own grammar (`order`): connection_made first
// and once, data and EOF only while connected, connection_lost once and
// last. It counts what it received (for `data-loss`) and may echo.
class CheckedProtocol : public proactor::Protocol {
 public:
  CheckedProtocol(Context& ctx, std::string name, bool echo = false)
      : oracles_(ctx.oracles), name_(std::move(name)), echo_(echo) {}
  void ConnectionMade(const proactor::PipeTransportPtr& t) override;
  void DataReceived(const std::string& data) override;
  bool EofReceived() override;
  void ConnectionLost(std::exception_ptr exc) override;

  proactor::PipeTransportPtr transport;
  std::string received;
  bool made = false, eof = false, lost = false;
  std::exception_ptr lost_exc;

 private:
  void Violation(const std::string& what);
  Oracles& oracles_;
  std::string name_;
  bool echo_;
};

// A CheckedProtocol that pauses reading after each chunk and resumes
// `delay` seconds later (call_later), until `until` bytes are in (0: to the
// end).
class PausingProtocol : public CheckedProtocol {
 public:
  PausingProtocol(Context& ctx, std::string name, double delay, bool echo = false,
                  size_t until = 0)
      : CheckedProtocol(ctx, std::move(name), echo), loop_(ctx.loop), delay_(delay), until_(until) {}
  void DataReceived(const std::string& data) override;

 private:
  proactor::EventLoop& loop_;
  double delay_;
  size_t until_;
};

// The DatagramProtocol grammar: connection_made first and once; datagrams
// and errors only while connected; connection_lost once and last. Keeps
// the datagrams it received; may echo each to its sender.
class CheckedDatagramProtocol : public proactor::DatagramProtocol {
 public:
  CheckedDatagramProtocol(Context& ctx, std::string name, bool echo = false)
      : oracles_(ctx.oracles), name_(std::move(name)), echo_(echo) {}
  void ConnectionMade(const proactor::PipeTransportPtr& t) override;
  void DatagramReceived(const std::string& data, uint16_t from_port) override;
  void ErrorReceived(std::exception_ptr exc) override;
  void ConnectionLost(std::exception_ptr exc) override;

  proactor::PipeTransportPtr transport;
  std::vector<std::string> received;
  int errors = 0;
  bool made = false, lost = false;

 private:
  void Violation(const std::string& what);
  Oracles& oracles_;
  std::string name_;
  bool echo_;
};

// The SubprocessProtocol grammar: connection_made first and once; pipe
// events and process_exited (at most once) in between; connection_lost
// once and last. Closes its transport at the end, as a user must.
class CheckedSubprocessProtocol : public proactor::SubprocessProtocol {
 public:
  explicit CheckedSubprocessProtocol(Context& ctx) : oracles_(ctx.oracles) {}
  void ConnectionMade(const proactor::SubprocessTransportPtr& t) override;
  void PipeDataReceived(int fd, const std::string& data) override;
  void PipeConnectionLost(int fd, std::exception_ptr exc) override;
  void ProcessExited() override;
  void ConnectionLost(std::exception_ptr exc) override;

  proactor::SubprocessTransportPtr transport;
  std::string out[3];
  bool made = false, exited = false, lost = false;

 private:
  void Violation(const std::string& what);
  Oracles& oracles_;
};

// Sleeps (virtual time) until `done()` holds or `timeout` seconds pass.
proactor::Coro<proactor::Void> WaitUntil(proactor::EventLoop& loop, std::function<bool()> done,
                                         double timeout);

// `data-loss`: what one side wrote against what the other received, for a
// stream that ended gracefully (not aborted, no error).
void CheckDelivered(Oracles& oracles, const std::string& stream, const std::string& written,
                    const std::string& received);

// A scenario's body on a fresh loop with `profile`: the loop's error
// reports and an exception escaping the body go to `oracles`; the loop is
// closed at the end. RunScenario runs it under the virtual kernel, the
// Windows build (windows_main.cc) on the real API.
void RunBody(const Scenario& s, const proactor::Profile& profile, Oracles& oracles);

// Groups protocol callbacks ("client1.connection_made()") by object, each
// object's in the order it saw them: the interleaving of different objects
// is the scheduler's business, not the protocol's. What scripts/wine-check
// compares between the virtual kernel's canonical run and Windows.
void GroupByObject(std::vector<std::string>& events);

#ifndef _WIN32  // running under the virtual kernel
struct ScenarioResult {
  Finding verdict;
  std::vector<Finding> findings;
  RunResult run;
};

struct RunOptions {
  bool trace = false;
  // Kernel options a replay file may carry (see sim.h).
  bool pending_when_ready = false;
  bool immediate_status = false;
  bool abort_on_finding = false;  // libFuzzer: crash in the oracle
};

ScenarioResult RunScenario(const Scenario& s, const proactor::Profile& profile,
                           ChoiceSource& source, RunOptions options = {});

// The protocol callbacks of a kept trace, grouped by object.
std::vector<std::string> ProtocolEvents(const RunResult& run);
#endif

}  // namespace iocpsim::scenarios

#endif  // IOCPSIM_SCENARIOS_SCENARIO_H_
