#include "sim/kernel.h"

#include <doctest/doctest.h>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

using testing::Run;
using testing::RunClean;

TEST_CASE("RunSimulation: an empty program finishes with nothing left and a digest") {
  RunResult r = Run([] {});
  CHECK(r.outcome == Outcome::kFinished);
  CHECK(r.handles_left.empty());
  CHECK(r.digest != 0);
}

TEST_CASE("A handle left open is reported with its process and object") {
  RunResult r = Run([] { testing::NewPort(); });
  REQUIRE(r.handles_left.size() == 1);
  CHECK(r.handles_left[0].pid == 1);
  CHECK(r.handles_left[0].object == "port");
}

TEST_CASE("A closed handle value is handed out again by the next create") {
  RunClean([] {
    HANDLE a = testing::NewPort();
    HANDLE b = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    CHECK(CloseHandle(a));
    HANDLE c = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    CHECK(c == a);  // the stale value now names an event
    CHECK(CloseHandle(b));
    CHECK(CloseHandle(c));
  });
}

TEST_CASE("CloseHandle twice: FALSE, ERROR_INVALID_HANDLE, no crash") {
  RunClean([] {
    HANDLE e = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    CHECK(CloseHandle(e));
    CHECK_FALSE(CloseHandle(e));
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    CHECK_FALSE(SetEvent(reinterpret_cast<HANDLE>(0x1234)));
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
  });
}

TEST_CASE("A stale value used as the wrong type: ERROR_INVALID_HANDLE") {
  RunClean([] {
    HANDLE e = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED* ov;
    CHECK_FALSE(GetQueuedCompletionStatus(e, &bytes, &key, &ov, 0));
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    CloseHandle(e);
  });
}

TEST_CASE("A main thread blocked forever is a deadlock, and its handles are reported") {
  RunResult r = Run([] {
    HANDLE e = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    WaitForSingleObject(e, INFINITE);
  });
  CHECK(r.outcome == Outcome::kDeadlock);
  CHECK(r.handles_left.size() == 1);
}

TEST_CASE("Virtual time: Sleep advances it, and the deadline stops a hang") {
  RunClean([] {
    ULONGLONG t0 = GetTickCount64();
    Sleep(1500);
    CHECK(GetTickCount64() - t0 == 1500);
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    CHECK(c.QuadPart == 1500 * f.QuadPart / 1000);
  });
  KernelOptions o;
  o.deadline_ms = 1000;
  RunResult r = Run([] {
    HANDLE port = testing::NewPort();
    for (;;) testing::Dequeue(port, 100);
  }, o);
  CHECK(r.outcome == Outcome::kDeadline);
}

TEST_CASE("steps_max stops a livelock") {
  KernelOptions o;
  o.steps_max = 1000;
  RunResult r = Run([] {
    HANDLE port = testing::NewPort();
    for (;;) testing::Dequeue(port, 0);
  }, o);
  CHECK(r.outcome == Outcome::kStepsExceeded);
}

TEST_CASE("An exception escaping a simulated thread is reported, not a crash") {
  RunResult r = Run([] { throw std::runtime_error("boom"); });
  CHECK(r.outcome == Outcome::kProgramException);
  CHECK(r.message.find("boom") != std::string::npos);
}

DWORD CountUp(LPVOID p) {
  for (int i = 0; i < 3; ++i) {
    ++*static_cast<int*>(p);
    Sleep(0);
    SetLastError(100 + i);
  }
  return 7;
}

TEST_CASE("CreateThread: the thread runs, its handle is signalled at exit, last error is per thread") {
  RunClean([] {
    int n = 0;
    SetLastError(42);
    DWORD id = 0;
    HANDLE t = CreateThread(nullptr, 0, CountUp, &n, 0, &id);
    CHECK(id != GetCurrentThreadId());
    CHECK(WaitForSingleObject(t, INFINITE) == WAIT_OBJECT_0);
    CHECK(n == 3);
    CHECK(GetLastError() == 42);
    CloseHandle(t);
  });
}

TEST_CASE("Threads interleave at Win32 calls when the source says so") {
  // Under the canonical source the main thread keeps running; a source
  // that always picks the last option switches at every call.
  struct Last : ChoiceSource {
    uint32_t Choose(ChoiceKind, uint32_t n, LabelFn) override { return n - 1; }
  } last;
  int order[4] = {0, 0, 0, 0};
  int next = 0;
  RunResult r = testing::RunWith(last, [&] {
    struct Arg {
      int* order;
      int* next;
    } arg{order, &next};
    HANDLE t = CreateThread(nullptr, 0, [](LPVOID p) -> DWORD {
      auto* a = static_cast<Arg*>(p);
      a->order[(*a->next)++] = 2;
      Sleep(0);
      return 0;
    }, &arg, 0, nullptr);
    Sleep(0);
    order[next++] = 1;
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
  });
  CHECK(r.outcome == Outcome::kFinished);
  CHECK(order[0] == 2);
  CHECK(order[1] == 1);
}

TEST_CASE("The trace names objects by stable ids and ends in the same digest twice") {
  KernelOptions o;
  o.keep_trace = true;
  auto body = [] {
    testing::PipePair p = testing::MakePipe();
    OVERLAPPED ov{};
    char buf[8];
    ReadFile(p.server, buf, sizeof buf, nullptr, &ov);
    DWORD n;
    WriteFile(p.client, "hi", 2, &n, nullptr);
    CancelIoEx(p.server, &ov);
    GetOverlappedResult(p.server, &ov, &n, TRUE);
    CloseHandle(p.client);
    CloseHandle(p.server);
  };
  RunResult a = Run(body, o);
  RunResult b = Run(body, o);
  CHECK(a.digest == b.digest);
  CHECK(a.trace == b.trace);
  bool has_ov = false;
  for (const std::string& line : a.trace) {
    if (line.find("ov#1") != std::string::npos) has_ov = true;
    CHECK(line.find("0x7f") == std::string::npos);  // no raw addresses
  }
  CHECK(has_ov);
}

}  // namespace
}  // namespace iocpsim
