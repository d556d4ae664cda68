#include "scenarios/scenario.h"

#include <algorithm>
#include <functional>

#include "proactor/iocp_proactor.h"
#include "sim/sim.h"

namespace iocpsim::scenarios {
namespace {

// A protocol callback, for the timeline.
void Callback(const std::string& who, const std::string& what) {
  if (Annotating()) Annotate("protocol", 0, who + "." + what);
}

std::string Exc(const std::exception_ptr& e) {
  return e ? "(" + proactor::Describe(e) + ")" : "(None)";
}

}  // namespace

// ------------------------------------------------------------ Protocol

void CheckedProtocol::Violation(const std::string& what) {
  oracles_.Order(what, name_ + ": " + what);
}

void CheckedProtocol::ConnectionMade(const proactor::PipeTransportPtr& t) {
  Callback(name_, "connection_made()");
  if (lost) Violation("connection_made-after-connection_lost");
  if (made) Violation("connection_made-twice");
  made = true;
  transport = t;
}

void CheckedProtocol::DataReceived(const std::string& data) {
  Callback(name_, "data_received(" + std::to_string(data.size()) + " bytes)");
  if (!made) Violation("data_received-before-connection_made");
  if (eof) Violation("data_received-after-eof_received");
  if (lost) Violation("data_received-after-connection_lost");
  received += data;
  if (echo_ && transport != nullptr) transport->Write(data);
}

bool CheckedProtocol::EofReceived() {
  Callback(name_, "eof_received()");
  if (!made) Violation("eof_received-before-connection_made");
  if (eof) Violation("eof_received-twice");
  if (lost) Violation("eof_received-after-connection_lost");
  eof = true;
  return false;
}

void CheckedProtocol::ConnectionLost(std::exception_ptr exc) {
  Callback(name_, "connection_lost" + Exc(exc));
  if (!made) Violation("connection_lost-before-connection_made");
  if (lost) Violation("connection_lost-twice");
  lost = true;
  lost_exc = exc;
  transport.reset();
}

void PausingProtocol::DataReceived(const std::string& data) {
  CheckedProtocol::DataReceived(data);
  if (until_ > 0 && received.size() >= until_) return;
  if (transport == nullptr || transport->IsClosing()) return;
  transport->PauseReading();
  std::weak_ptr<proactor::PipeTransport> t = transport;
  loop_.CallLater(delay_, [t] {
    if (auto s = t.lock()) s->ResumeReading();
  });
}

// ---------------------------------------------------- DatagramProtocol

void CheckedDatagramProtocol::Violation(const std::string& what) {
  oracles_.Order(what, name_ + ": " + what);
}

void CheckedDatagramProtocol::ConnectionMade(const proactor::PipeTransportPtr& t) {
  Callback(name_, "connection_made()");
  if (lost) Violation("connection_made-after-connection_lost");
  if (made) Violation("connection_made-twice");
  made = true;
  transport = t;
}

void CheckedDatagramProtocol::DatagramReceived(const std::string& data, uint16_t from_port) {
  Callback(name_, "datagram_received(" + std::to_string(data.size()) + " bytes)");
  if (!made) Violation("datagram_received-before-connection_made");
  if (lost) Violation("datagram_received-after-connection_lost");
  received.push_back(data);
  if (echo_ && transport != nullptr && !transport->IsClosing()) transport->SendTo(data, from_port);
}

void CheckedDatagramProtocol::ErrorReceived(std::exception_ptr exc) {
  Callback(name_, "error_received" + Exc(exc));
  if (!made) Violation("error_received-before-connection_made");
  if (lost) Violation("error_received-after-connection_lost");
  ++errors;
}

void CheckedDatagramProtocol::ConnectionLost(std::exception_ptr exc) {
  Callback(name_, "connection_lost" + Exc(exc));
  if (!made) Violation("connection_lost-before-connection_made");
  if (lost) Violation("connection_lost-twice");
  lost = true;
  transport.reset();
}

// ------------------------------------------------- SubprocessProtocol

void CheckedSubprocessProtocol::Violation(const std::string& what) {
  oracles_.Order(what, "subprocess protocol: " + what);
}

void CheckedSubprocessProtocol::ConnectionMade(const proactor::SubprocessTransportPtr& t) {
  Callback("subprocess", "connection_made()");
  if (lost) Violation("connection_made-after-connection_lost");
  if (made) Violation("connection_made-twice");
  made = true;
  transport = t;
}

void CheckedSubprocessProtocol::PipeDataReceived(int fd, const std::string& data) {
  Callback("subprocess", "pipe_data_received(" + std::to_string(fd) + ", " +
                             std::to_string(data.size()) + " bytes)");
  if (!made) Violation("pipe_data_received-before-connection_made");
  if (lost) Violation("pipe_data_received-after-connection_lost");
  out[fd] += data;
}

void CheckedSubprocessProtocol::PipeConnectionLost(int fd, std::exception_ptr exc) {
  Callback("subprocess", "pipe_connection_lost(" + std::to_string(fd) + ", " + Exc(exc).substr(1));
  if (!made) Violation("pipe_connection_lost-before-connection_made");
  if (lost) Violation("pipe_connection_lost-after-connection_lost");
}

void CheckedSubprocessProtocol::ProcessExited() {
  Callback("subprocess", "process_exited()");
  if (!made) Violation("process_exited-before-connection_made");
  if (exited) Violation("process_exited-twice");
  if (lost) Violation("process_exited-after-connection_lost");
  exited = true;
}

void CheckedSubprocessProtocol::ConnectionLost(std::exception_ptr exc) {
  Callback("subprocess", "connection_lost" + Exc(exc));
  if (!made) Violation("connection_lost-before-connection_made");
  if (lost) Violation("connection_lost-twice");
  lost = true;
  if (transport != nullptr) transport->Close();
  transport.reset();
}

void CheckDelivered(Oracles& oracles, const std::string& stream, const std::string& written,
                    const std::string& received) {
  if (written == received) return;
  oracles.DataLoss(stream, stream + ": wrote " + std::to_string(written.size()) +
                               " bytes, the other side received " +
                               std::to_string(received.size()));
}

proactor::Coro<proactor::Void> WaitUntil(proactor::EventLoop& loop, std::function<bool()> done,
                                         double timeout) {
  double deadline = loop.Time() + timeout;
  while (!done() && loop.Time() < deadline) co_await proactor::Sleep(loop, 0.001);
}

// ------------------------------------------------------------- running

#ifndef _WIN32
ScenarioResult RunScenario(const Scenario& s, const proactor::Profile& profile,
                           ChoiceSource& source, RunOptions options) {
  KernelOptions k;
  k.deadline_ms = s.deadline_ms;
  k.keep_trace = options.trace;
  k.pending_when_ready = options.pending_when_ready;
  k.immediate_status = options.immediate_status;
  Oracles oracles;
  // Teardown findings (reported while the run unwinds) come after what
  // stopped it, so the abort waits for the kernel's result when it can.
  oracles.set_abort_on_finding(options.abort_on_finding);
  ScenarioResult result;
  auto body = [&] { RunBody(s, profile, oracles); };
  // By reference: a std::function holds a reference_wrapper in place,
  // where this closure (three references) would cost an allocation.
  result.run = RunSimulation(k, source, std::ref(body));
  oracles.OnKernelResult(result.run);
  result.verdict = oracles.Verdict();
  result.findings = oracles.findings();
  return result;
}

std::vector<std::string> ProtocolEvents(const RunResult& run) {
  std::vector<std::string> events;
  for (const TraceEvent& e : run.events) {
    if (e.note && e.name == "protocol") events.push_back(e.text);
  }
  GroupByObject(events);
  return events;
}
#endif

void RunBody(const Scenario& s, const proactor::Profile& profile, Oracles& oracles) {
  proactor::EventLoop loop(profile, s.self_pipe);
  loop.SetExceptionHandler(oracles.Handler());
  Context ctx(loop, oracles);
  try {
    s.run(ctx);
    if (!loop.IsClosed()) loop.Close();
  } catch (const std::exception& e) {
    oracles.OnScenarioException(e.what());
    if (!loop.IsClosed() && !loop.IsRunning()) loop.Close();
  }
  // Memory a finished operation still holds (bpo-32710).
  for (const auto& b : loop.leaked_buffers()) {
    oracles.Leak("buffer:" + b.what, "the buffer of a " + b.what + " that failed synchronously (" +
                                         std::to_string(b.bytes) + " bytes) is never released; " +
                                         b.origin);
  }
}

void GroupByObject(std::vector<std::string>& events) {
  std::stable_sort(events.begin(), events.end(), [](const std::string& a, const std::string& b) {
    return a.substr(0, a.find('.')) < b.substr(0, b.find('.'));
  });
}

}  // namespace iocpsim::scenarios
