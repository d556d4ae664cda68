// Helpers for the kernel's tests: run a body under the canonical schedule
// (or a given source) and build pipe pairs.
#ifndef IOCPSIM_SIM_TEST_UTIL_H_
#define IOCPSIM_SIM_TEST_UTIL_H_

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "sim/choice.h"
#include "sim/sim.h"
#include "sim/win32.h"

namespace iocpsim::testing {

// Runs `body` as the app's main thread; CHECKs inside it are doctest
// CHECKs (REQUIRE would throw through the simulated thread: avoid it).
inline RunResult RunWith(ChoiceSource& source, std::function<void()> body,
                         KernelOptions options = {}) {
  return RunSimulation(options, source, std::move(body));
}

inline RunResult Run(std::function<void()> body, KernelOptions options = {}) {
  CanonicalSource canonical;
  return RunSimulation(options, canonical, std::move(body));
}

// A run that must finish with nothing left behind.
inline void RunClean(std::function<void()> body, KernelOptions options = {}) {
  RunResult r = Run(std::move(body), options);
  CHECK_MESSAGE(r.outcome == Outcome::kFinished, r.message);
  CHECK(r.handles_left.empty());
  CHECK(r.overlapped_owned.empty());
}

// Runs `body` in a forked process and returns what it wrote to standard
// output and error: for AddressSanitizer reports, which end the process.
inline std::string StderrOfFork(const std::function<void()>& body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);  // doctest's crash handler writes there
    dup2(fds[1], 2);
    close(fds[0]);
    body();
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char chunk[4096];
  for (ssize_t n; (n = read(fds[0], chunk, sizeof chunk)) > 0;) report.append(chunk, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return report;
}

inline constexpr const char16_t* kPipeName = u"\\\\.\\pipe\\iocpsim-test";

struct PipePair {
  HANDLE server;
  HANDLE client;
};

inline HANDLE MakeServer(DWORD pipe_mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE,
                         DWORD buffer = 4096, bool overlapped = true, DWORD instances = 4,
                         const char16_t* name = kPipeName) {
  return CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | (overlapped ? FILE_FLAG_OVERLAPPED : 0),
                          pipe_mode, instances, buffer, buffer, 0, nullptr);
}

inline HANDLE MakeClient(bool overlapped = true, const char16_t* name = kPipeName) {
  return CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                     overlapped ? FILE_FLAG_OVERLAPPED : 0, nullptr);
}

inline PipePair MakePipe(DWORD pipe_mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE,
                         DWORD buffer = 4096) {
  HANDLE s = MakeServer(pipe_mode, buffer);
  HANDLE c = MakeClient();
  return {s, c};
}

inline HANDLE NewPort() { return CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1); }

struct Dequeued {
  BOOL ok;
  DWORD error;
  DWORD bytes;
  ULONG_PTR key;
  OVERLAPPED* ov;
};

inline Dequeued Dequeue(HANDLE port, DWORD timeout_ms = 0) {
  Dequeued d{FALSE, 0, 0xDEADu, 0xBEEFu, nullptr};
  d.ok = GetQueuedCompletionStatus(port, &d.bytes, &d.key, &d.ov, timeout_ms);
  d.error = d.ok ? 0 : GetLastError();
  return d;
}

// A choice source that answers `value` to the first choice of `kind` and
// 0 to everything else: drives one option of one choice.
class PickSource : public ChoiceSource {
 public:
  PickSource(ChoiceKind kind, uint32_t value, int nth = 1) : kind_(kind), value_(value), nth_(nth) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn) override {
    if (kind != kind_ || --nth_ != 0) return 0;
    seen_n = n;
    return value_ < n ? value_ : 0;
  }
  uint32_t seen_n = 0;

 private:
  ChoiceKind kind_;
  uint32_t value_;
  int nth_;
};

// Schedules the first ready item whose label starts with `prefer` (for
// example "cancel ov#") as soon as it is offered, answers `value` to
// choices of `kind`, and 0 to everything else.
class PreferSource : public ChoiceSource {
 public:
  PreferSource(std::string prefer, ChoiceKind kind, uint32_t value)
      : prefer_(std::move(prefer)), kind_(kind), value_(value) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override {
    if (kind == kind_) {
      seen_n = n;
      return value_ < n ? value_ : 0;
    }
    if (kind != ChoiceKind::kSchedule) return 0;
    std::string l = label();
    uint32_t i = 0;
    for (size_t pos = 0;; ++i) {
      if (l.compare(pos, prefer_.size(), prefer_) == 0) return i < n ? i : 0;
      pos = l.find(" | ", pos);
      if (pos == std::string::npos) return 0;
      pos += 3;
    }
  }
  uint32_t seen_n = 0;

 private:
  std::string prefer_;
  ChoiceKind kind_;
  uint32_t value_;
};

}  // namespace iocpsim::testing

#endif  // IOCPSIM_SIM_TEST_UTIL_H_
