// Helpers for the proactor's tests: run a body with an event loop inside
// a simulated process, collecting what reaches the exception handler.
#ifndef IOCPSIM_PROACTOR_TEST_UTIL_H_
#define IOCPSIM_PROACTOR_TEST_UTIL_H_

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "proactor/event_loop.h"
#include "proactor/iocp_proactor.h"
#include "proactor/subprocess.h"
#include "proactor/transports.h"
#include "sim/choice.h"
#include "sim/sim.h"

namespace iocpsim::proactor::testing {

struct LoopRun {
  RunResult result;
  std::vector<std::string> reports;  // ErrorContext::Format() of each report
  bool Reported(const std::string& needle) const {
    for (const std::string& r : reports) {
      if (r.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

// Runs `body(loop)` with a fresh loop as the main thread of a simulated
// process; closes the loop afterwards unless the body did.
inline LoopRun RunLoopWith(ChoiceSource& source, Profile profile,
                           std::function<void(EventLoop&)> body, KernelOptions options = {},
                           bool self_pipe = false) {
  LoopRun run;
  run.result = RunSimulation(options, source, [&] {
    EventLoop loop(profile, self_pipe);
    loop.SetExceptionHandler(
        [&](EventLoop&, const ErrorContext& c) { run.reports.push_back(c.Format()); });
    body(loop);
    if (!loop.IsClosed()) loop.Close();
  });
  return run;
}

inline LoopRun RunLoop(std::function<void(EventLoop&)> body, Profile profile = Profile::Current(),
                       KernelOptions options = {}) {
  CanonicalSource canonical;
  return RunLoopWith(canonical, profile, std::move(body), options);
}

// A loop with the self-pipe (call_soon_threadsafe, run_forever restarts).
inline LoopRun RunPipedLoop(std::function<void(EventLoop&)> body,
                            Profile profile = Profile::Current(), KernelOptions options = {}) {
  CanonicalSource canonical;
  return RunLoopWith(canonical, profile, std::move(body), options, true);
}

inline const std::string kPipeAddress = "\\\\.\\pipe\\proactor-test";

// A connected overlapped pipe pair (server end, client end), message mode
// as PipeServer makes them unless `byte_mode`.
inline std::pair<PipeHandlePtr, PipeHandlePtr> MakePipePair(EventLoop& loop,
                                                            bool byte_mode = false,
                                                            DWORD buffer = 4096) {
  std::basic_string<WCHAR> name = Widen(kPipeAddress);
  DWORD mode = byte_mode ? PIPE_TYPE_BYTE | PIPE_READMODE_BYTE
                         : PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE;
  HANDLE s = CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                              mode | PIPE_WAIT, PIPE_UNLIMITED_INSTANCES, buffer, buffer, 0,
                              nullptr);
  HANDLE c = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                         FILE_FLAG_OVERLAPPED, nullptr);
  return {std::make_shared<PipeHandle>(loop, s), std::make_shared<PipeHandle>(loop, c)};
}

// A one-instance pipe server whose instance a first client has taken:
// every other CreateFile on `address` gets ERROR_PIPE_BUSY until `first`
// is closed and the server disconnected.
struct BusyPipe {
  PipeHandlePtr server;
  HANDLE first;
};
inline BusyPipe MakeBusyPipe(EventLoop& loop, const std::string& address) {
  std::basic_string<WCHAR> name = Widen(address);
  auto server = std::make_shared<PipeHandle>(
      loop, CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                             PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1, 4096, 4096,
                             0, nullptr));
  HANDLE first = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                             OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  return {server, first};
}

// Records every protocol callback, in order: "made", "data:<bytes>",
// "eof", "lost" or "lost:<exception>", "pause", "resume".
struct Recorder : Protocol {
  std::vector<std::string> events;
  std::string data;
  PipeTransportPtr transport;
  bool keep_open_on_eof = false;
  bool echo = false;
  void ConnectionMade(const PipeTransportPtr& t) override {
    events.push_back("made");
    transport = t;
  }
  void DataReceived(const std::string& d) override {
    events.push_back("data:" + d);
    data += d;
    if (echo) transport->Write(d);
  }
  bool EofReceived() override {
    events.push_back("eof");
    return keep_open_on_eof;
  }
  void ConnectionLost(std::exception_ptr exc) override {
    events.push_back(exc ? "lost:" + Describe(exc) : "lost");
    transport.reset();
  }
  void PauseWriting() override { events.push_back("pause"); }
  void ResumeWriting() override { events.push_back("resume"); }
  bool Lost() const { return !events.empty() && events.back().rfind("lost", 0) == 0; }
};

// Records the DatagramProtocol callbacks: "made", "datagram:<bytes>",
// "error:<exception>", "lost"; echoes each datagram to its sender when
// asked.
struct DatagramRecorder : DatagramProtocol {
  std::vector<std::string> events;
  std::vector<std::string> received;
  int errors = 0;
  PipeTransportPtr transport;
  bool echo = false;
  void ConnectionMade(const PipeTransportPtr& t) override {
    events.push_back("made");
    transport = t;
  }
  void DatagramReceived(const std::string& d, uint16_t from) override {
    events.push_back("datagram:" + d);
    received.push_back(d);
    if (echo) transport->SendTo(d, from);
  }
  void ErrorReceived(std::exception_ptr exc) override {
    events.push_back("error:" + Describe(exc));
    ++errors;
  }
  void ConnectionLost(std::exception_ptr exc) override {
    events.push_back(exc ? "lost:" + Describe(exc) : "lost");
    transport.reset();
  }
};

// Records the SubprocessProtocol callbacks: "made", "data1:<bytes>",
// "pipe-lost0", "exited", "lost"; closes the transport at the end, as a
// user must.
struct SubprocessEvents : SubprocessProtocol {
  std::vector<std::string> events;
  SubprocessTransportPtr transport;
  void ConnectionMade(const SubprocessTransportPtr& t) override {
    events.push_back("made");
    transport = t;
  }
  void PipeDataReceived(int fd, const std::string& d) override {
    events.push_back("data" + std::to_string(fd) + ":" + d);
  }
  void PipeConnectionLost(int fd, std::exception_ptr) override {
    events.push_back("pipe-lost" + std::to_string(fd));
  }
  void ProcessExited() override { events.push_back("exited"); }
  void ConnectionLost(std::exception_ptr) override {
    events.push_back("lost");
    if (transport != nullptr) transport->Close();
    transport.reset();
  }
  size_t Count(const std::string& e) const { return std::count(events.begin(), events.end(), e); }
  // The SubprocessProtocol grammar: connection_made first, connection_lost
  // last and once, process_exited once.
  void CheckGrammar() const {
    REQUIRE_FALSE(events.empty());
    CHECK(events.front() == "made");
    CHECK(events.back() == "lost");
    CHECK(Count("made") == 1);
    CHECK(Count("lost") == 1);
    CHECK(Count("exited") == 1);
  }
};

// Runs the loop until `done()` or `seconds` of virtual time pass.
inline void RunUntil(EventLoop& loop, std::function<bool()> done, double seconds = 5) {
  double deadline = loop.Time() + seconds;
  while (!done() && loop.Time() < deadline) {
    loop.CallLater(0.001, [&loop] { loop.Stop(); });
    loop.RunForever();
  }
}

// A run that must end cleanly: finished, nothing reported, nothing left.
inline void CheckClean(const LoopRun& run) {
  CHECK_MESSAGE(run.result.outcome == Outcome::kFinished, run.result.message);
  for (const std::string& r : run.reports) CHECK_MESSAGE(false, "reported: " << r);
  for (const LeftHandle& h : run.result.handles_left) CHECK_MESSAGE(false, "left open: " << h.object);
  for (const OwnedOverlapped& o : run.result.overlapped_owned) {
    CHECK_MESSAGE(false, "still owned: " << o.what);
  }
}

}  // namespace iocpsim::proactor::testing

#endif  // IOCPSIM_PROACTOR_TEST_UTIL_H_
