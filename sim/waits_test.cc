// WIN32-MODEL.md, "Waits, the thread pool": events, waits, registered
// waits, UnregisterWait(Ex), QueueUserWorkItem.
#include <doctest/doctest.h>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

using testing::RunClean;

struct Counter {
  int calls = 0;
  BOOL last_timer = -1;
  HANDLE block_on = nullptr;  // the callback waits for this event first
};

void CALLBACK Count(PVOID p, BOOLEAN timer) {
  auto* c = static_cast<Counter*>(p);
  if (c->block_on != nullptr) WaitForSingleObject(c->block_on, INFINITE);
  ++c->calls;
  c->last_timer = timer;
}

TEST_CASE("Events: auto-reset releases one wait, manual-reset stays signalled; waits time out") {
  RunClean([] {
    HANDLE a = CreateEventW(nullptr, FALSE, TRUE, nullptr);
    CHECK(WaitForSingleObject(a, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(a, 0) == WAIT_TIMEOUT);
    HANDLE m = CreateEventW(nullptr, TRUE, TRUE, nullptr);
    CHECK(WaitForSingleObject(m, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(m, 0) == WAIT_OBJECT_0);
    ResetEvent(m);
    HANDLE both[2] = {a, m};
    CHECK(WaitForMultipleObjects(2, both, FALSE, 30) == WAIT_TIMEOUT);
    SetEvent(m);
    CHECK(WaitForMultipleObjects(2, both, FALSE, 0) == WAIT_OBJECT_0 + 1);
    CHECK(WaitForMultipleObjects(2, both, TRUE, 0) == WAIT_TIMEOUT);
    SetEvent(a);
    CHECK(WaitForMultipleObjects(2, both, TRUE, 0) == WAIT_OBJECT_0);
    CloseHandle(a);
    CloseHandle(m);
  });
}

TEST_CASE("RegisterWaitForSingleObject queues its callback when signalled; WT_EXECUTEONLYONCE fires once") {
  RunClean([] {
    HANDLE e = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    Counter c;
    HANDLE w;
    CHECK(RegisterWaitForSingleObject(&w, e, Count, &c, INFINITE, WT_EXECUTEONLYONCE));
    Sleep(10);
    CHECK(c.calls == 0);
    SetEvent(e);
    Sleep(10);
    CHECK(c.calls == 1);
    CHECK(c.last_timer == FALSE);
    Sleep(10);
    CHECK(c.calls == 1);  // manual-reset event still signalled: once only
    CHECK(UnregisterWaitEx(w, INVALID_HANDLE_VALUE));
    CloseHandle(e);
  });
}

TEST_CASE("RegisterWaitForSingleObject queues its callback when the timeout expires") {
  RunClean([] {
    HANDLE e = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    Counter c;
    HANDLE w;
    RegisterWaitForSingleObject(&w, e, Count, &c, 100, WT_EXECUTEONLYONCE);
    Sleep(99);
    CHECK(c.calls == 0);
    Sleep(2);
    CHECK(c.calls == 1);
    CHECK(c.last_timer == TRUE);
    CHECK(UnregisterWait(w));
    CloseHandle(e);
  });
}

TEST_CASE("UnregisterWaitEx with a callback running: FALSE, ERROR_IO_PENDING, event signalled when it finishes") {
  RunClean([] {
    HANDLE e = CreateEventW(nullptr, TRUE, TRUE, nullptr);
    HANDLE gate = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    HANDLE done = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    Counter c;
    c.block_on = gate;
    HANDLE w;
    RegisterWaitForSingleObject(&w, e, Count, &c, INFINITE, WT_EXECUTEONLYONCE);
    Sleep(1);  // the callback is queued and now blocked on the gate
    CHECK_FALSE(UnregisterWaitEx(w, done));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK(WaitForSingleObject(done, 10) == WAIT_TIMEOUT);
    SetEvent(gate);
    CHECK(WaitForSingleObject(done, INFINITE) == WAIT_OBJECT_0);
    CHECK(c.calls == 1);
    for (HANDLE h : {e, gate, done}) CloseHandle(h);
  });
}

TEST_CASE("UnregisterWait with a callback queued returns ERROR_IO_PENDING and the callback still runs after") {
  // The wait fires (its callback is queued on a pool thread that has not
  // run yet) right before UnregisterWait.
  testing::PreferSource src("wait#1 fires", ChoiceKind::kParam, 0);
  Counter c;
  RunResult r = testing::RunWith(src, [&c] {
    HANDLE e = CreateEventW(nullptr, TRUE, TRUE, nullptr);
    HANDLE w;
    RegisterWaitForSingleObject(&w, e, Count, &c, INFINITE, WT_EXECUTEONLYONCE);
    CHECK_FALSE(UnregisterWait(w));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK(c.calls == 0);
    Sleep(1);
    CHECK(c.calls == 1);  // it ran after UnregisterWait returned
    CloseHandle(e);
  });
  CHECK_MESSAGE(r.outcome == Outcome::kFinished, r.message);
  CHECK(r.handles_left.empty());
}

TEST_CASE("UnregisterWaitEx with INVALID_HANDLE_VALUE blocks until the callback has finished") {
  RunClean([] {
    HANDLE e = CreateEventW(nullptr, TRUE, TRUE, nullptr);
    HANDLE gate = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    Counter c;
    c.block_on = gate;
    HANDLE w;
    RegisterWaitForSingleObject(&w, e, Count, &c, INFINITE, WT_EXECUTEONLYONCE);
    Sleep(1);
    struct Opener {
      static DWORD Run(LPVOID g) {
        Sleep(50);
        SetEvent(static_cast<HANDLE>(g));
        return 0;
      }
    };
    HANDLE t = CreateThread(nullptr, 0, Opener::Run, gate, 0, nullptr);
    ULONGLONG t0 = GetTickCount64();
    CHECK(UnregisterWaitEx(w, INVALID_HANDLE_VALUE));
    CHECK(c.calls == 1);
    CHECK(GetTickCount64() - t0 == 50);
    WaitForSingleObject(t, INFINITE);
    for (HANDLE h : {e, gate, t}) CloseHandle(h);
  });
}

DWORD Bump(LPVOID p) {
  ++*static_cast<int*>(p);
  return 0;
}

TEST_CASE("Work queued with QueueUserWorkItem runs on a pool thread and cannot be cancelled") {
  RunClean([] {
    int n = 0;
    CHECK(QueueUserWorkItem(Bump, &n, 0));
    CHECK(n == 0);
    Sleep(1);
    CHECK(n == 1);
  });
}

}  // namespace
}  // namespace iocpsim
