// WIN32-MODEL.md, "Cancellation", and the choice coverage of the kinds
// `cancel-race` and `sync`: every option reachable, with its outcome.
#include <doctest/doctest.h>

#include <utility>

#include "sim/fiber.h"  // IOCPSIM_ASAN
#include "sim/test_util.h"

#include <string>

namespace iocpsim {
namespace {

using testing::Dequeue;
using testing::NewPort;
using testing::RunClean;

TEST_CASE("CancelIoEx on a pending operation: TRUE, then ERROR_OPERATION_ABORTED, 0 bytes, a packet") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 3, 0);
    OVERLAPPED ov{};
    char buf[4];
    CHECK_FALSE(ReadFile(p.server, buf, 4, nullptr, &ov));
    CHECK(CancelIoEx(p.server, &ov));
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_OPERATION_ABORTED);
    CHECK(d.bytes == 0);
    CHECK(d.ov == &ov);
    CHECK(static_cast<NTSTATUS>(ov.Internal) == STATUS_CANCELLED);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("The OVERLAPPED of a cancelled operation is owned until its completion is dequeued") {
  // The program reuses the memory of a pending OVERLAPPED (without
  // freeing it, so that this test also runs under AddressSanitizer, where
  // a real free is reported by ASan itself at the kernel's read).
  OVERLAPPED ov{};
  RunResult r = testing::Run([&ov] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 3, 0);
    char buf[4];
    ReadFile(p.server, buf, 4, nullptr, &ov);
    CancelIoEx(p.server, &ov);
    ov.Internal = 0xDEAD;  // reused for something else while still owned
    Dequeue(port, INFINITE);
  });
  CHECK(r.outcome == Outcome::kFault);
  CHECK(r.message.find("use-after-free") != std::string::npos);
  CHECK(r.message.find("ReadFile") != std::string::npos);
}

TEST_CASE("An OVERLAPPED reused after a synchronous success, before its packet is dequeued, is a use-after-free fault") {
  // asyncio#196: the call returned TRUE, but its packet is still queued.
  OVERLAPPED ov{};
  RunResult r = testing::Run([&ov] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 3, 0);
    DWORD n;
    WriteFile(p.client, "x", 1, &n, nullptr);
    char buf[4];
    CHECK(ReadFile(p.server, buf, 4, &n, &ov));
    ov.Internal = 0x103;  // reused: STATUS_PENDING, as another request sets it
    Dequeue(port, INFINITE);
  });
  CHECK(r.outcome == Outcome::kFault);
  CAPTURE(r.message);
  CHECK(r.message.find("ov#2 ReadFile") != std::string::npos);
}

#ifdef IOCPSIM_ASAN
TEST_CASE("Under AddressSanitizer, a freed OVERLAPPED is a heap-use-after-free whose report names the operation") {
  // The report ends the process: the run happens in a fork.
  std::string report = testing::StderrOfFork([] {
    testing::Run([] {
      testing::PipePair p = testing::MakePipe();
      HANDLE port = NewPort();
      CreateIoCompletionPort(p.server, port, 3, 0);
      static char buf[4];
      auto* ov = new OVERLAPPED{};
      ReadFile(p.server, buf, 4, nullptr, ov);
      delete ov;  // freed while the kernel still owns it
      DWORD n;
      WriteFile(p.client, "x", 1, &n, nullptr);
      Dequeue(port, INFINITE);
    });
  });
  CHECK(report.find("heap-use-after-free") != std::string::npos);
  // The first touch: the check before the read's bytes are copied.
  CHECK(report.find("iocpsim: the kernel was checking the OVERLAPPED before writing into the "
                    "buffer of ov#1 ReadFile") != std::string::npos);
}
#endif

TEST_CASE("An OVERLAPPED passed again while the kernel owns it is a use-after-free fault") {
  RunResult r = testing::Run([] {
    testing::PipePair p = testing::MakePipe();
    OVERLAPPED ov{};
    char buf[4];
    ReadFile(p.server, buf, 4, nullptr, &ov);
    ReadFile(p.server, buf, 4, nullptr, &ov);
  });
  CHECK(r.outcome == Outcome::kFault);
  CHECK(r.message.find("ov#1 ReadFile") != std::string::npos);
}

TEST_CASE("CancelIoEx with nothing to cancel: FALSE, ERROR_NOT_FOUND") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 3, 0);
    OVERLAPPED never{};
    CHECK_FALSE(CancelIoEx(p.server, &never));  // never issued
    CHECK(GetLastError() == ERROR_NOT_FOUND);
    // Completed, its packet still queued and not dequeued: the status
    // block is not written yet (deferred status).
    DWORD n;
    OVERLAPPED done{};
    char buf[4];
    CHECK_FALSE(ReadFile(p.server, buf, 4, &n, &done));
    WriteFile(p.client, "x", 1, &n, nullptr);
    Sleep(1);  // the read completes
    CHECK_FALSE(HasOverlappedIoCompleted(&done));
    CHECK_FALSE(CancelIoEx(p.server, &done));
    CHECK(GetLastError() == ERROR_NOT_FOUND);
    CHECK(Dequeue(port).ok);
    CHECK(HasOverlappedIoCompleted(&done));
    // A synchronous success returns with its status block filled, its
    // packet still queued.
    WriteFile(p.client, "y", 1, &n, nullptr);
    OVERLAPPED sync{};
    CHECK(ReadFile(p.server, buf, 4, &n, &sync));
    CHECK(HasOverlappedIoCompleted(&sync));
    CHECK_FALSE(CancelIoEx(p.server, &sync));
    CHECK(GetLastError() == ERROR_NOT_FOUND);
    CHECK(Dequeue(port).ov == &sync);
    // Already cancelled, before its packet is dequeued (NPFS completes a
    // cancelled request in its cancel routine; the conformance check
    // cancel.pending-operation shows the same under Wine), and after.
    OVERLAPPED c{};
    ReadFile(p.server, buf, 4, nullptr, &c);
    CHECK(CancelIoEx(p.server, &c));
    CHECK_FALSE(CancelIoEx(p.server, &c));
    CHECK(GetLastError() == ERROR_NOT_FOUND);
    CHECK_FALSE(CancelIoEx(p.server, nullptr));
    CHECK(GetLastError() == ERROR_NOT_FOUND);
    CHECK(Dequeue(port, INFINITE).error == ERROR_OPERATION_ABORTED);
    CHECK_FALSE(CancelIoEx(p.server, &c));
    CHECK(GetLastError() == ERROR_NOT_FOUND);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("Cancel races completion: a cancelled read whose data is there may complete with it") {
  // Option 0 of cancel-race: aborted (the data stays in the pipe);
  // option 1: the read completes successfully with the data.
  for (uint32_t option : {0u, 1u}) {
    CAPTURE(option);
    testing::PreferSource pick("cancel ov#", ChoiceKind::kCancelRace, option);
    RunResult r = testing::RunWith(pick, [option] {
      testing::PipePair p = testing::MakePipe();
      HANDLE port = NewPort();
      CreateIoCompletionPort(p.server, port, 3, 0);
      OVERLAPPED ov{};
      char buf[4] = {};
      ReadFile(p.server, buf, 4, nullptr, &ov);
      DWORD n;
      WriteFile(p.client, "z", 1, &n, nullptr);
      CHECK(CancelIoEx(p.server, &ov));  // the caller cannot tell which will happen
      testing::Dequeued d = Dequeue(port, INFINITE);
      if (option == 0) {
        CHECK(d.error == ERROR_OPERATION_ABORTED);
        OVERLAPPED again{};
        CHECK(ReadFile(p.server, buf, 4, &n, &again));
        CHECK(buf[0] == 'z');
        Dequeue(port);
      } else {
        CHECK(d.ok);
        CHECK(d.bytes == 1);
        CHECK(buf[0] == 'z');
      }
      CloseHandle(p.client);
      CloseHandle(p.server);
      CloseHandle(port);
    });
    CHECK(pick.seen_n == 2);
    CHECK_MESSAGE(r.outcome == Outcome::kFinished, r.message);
  }
}

TEST_CASE("A read with its data already there completes at once; with pending_when_ready (choice sync) it may go pending") {
  // {pending_when_ready, option}: the default offers no choice (NPFS
  // completes a ready read at once); the option offers both answers.
  for (std::pair<bool, uint32_t> c : {std::pair{false, 0u}, {true, 0u}, {true, 1u}}) {
    bool contract = c.first;
    uint32_t option = c.second;
    CAPTURE(contract);
    CAPTURE(option);
    testing::PickSource pick(ChoiceKind::kSync, option);
    KernelOptions options;
    options.pending_when_ready = contract;
    RunResult r = testing::RunWith(pick, [option] {
      testing::PipePair p = testing::MakePipe();
      HANDLE port = NewPort();
      CreateIoCompletionPort(p.server, port, 3, 0);
      DWORD n;
      WriteFile(p.client, "ab", 2, &n, nullptr);
      OVERLAPPED ov{};
      char buf[4];
      BOOL ok = ReadFile(p.server, buf, 4, &n, &ov);
      CHECK(ok == (option == 0 ? TRUE : FALSE));
      if (!ok) CHECK(GetLastError() == ERROR_IO_PENDING);
      testing::Dequeued d = Dequeue(port, INFINITE);
      CHECK(d.ok);
      CHECK(d.bytes == 2);
      CloseHandle(p.client);
      CloseHandle(p.server);
      CloseHandle(port);
    }, options);
    CHECK(pick.seen_n == (contract ? 2u : 0u));
    CHECK_MESSAGE(r.outcome == Outcome::kFinished, r.message);
  }
}

DWORD CancelFromOtherThread(LPVOID p) {
  auto* h = static_cast<HANDLE*>(p);
  CHECK(CancelIo(h[0]));          // not this thread's operation: nothing happens
  CHECK(CancelIoEx(h[0], nullptr));  // any thread of the process: cancels it
  return 0;
}

TEST_CASE("CancelIoEx cancels the process's operations from any thread; CancelIo only the caller's") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 3, 0);
    OVERLAPPED ov{};
    char buf[4];
    ReadFile(p.server, buf, 4, nullptr, &ov);
    HANDLE args[1] = {p.server};
    HANDLE t = CreateThread(nullptr, 0, CancelFromOtherThread, args, 0, nullptr);
    WaitForSingleObject(t, INFINITE);
    CHECK(Dequeue(port, INFINITE).error == ERROR_OPERATION_ABORTED);
    OVERLAPPED ov2{};
    ReadFile(p.server, buf, 4, nullptr, &ov2);
    CHECK(CancelIo(p.server));
    CHECK(Dequeue(port, INFINITE).error == ERROR_OPERATION_ABORTED);
    CloseHandle(t);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("GetOverlappedResult: ERROR_IO_INCOMPLETE while pending; with wait, the result") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    OVERLAPPED ov{};
    ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    char buf[4];
    ReadFile(p.server, buf, 4, nullptr, &ov);
    DWORD n = 123;
    CHECK_FALSE(GetOverlappedResult(p.server, &ov, &n, FALSE));
    CHECK(GetLastError() == ERROR_IO_INCOMPLETE);
    WriteFile(p.client, "hey", 3, &n, nullptr);
    CHECK(GetOverlappedResult(p.server, &ov, &n, TRUE));
    CHECK(n == 3);
    CloseHandle(ov.hEvent);
    CloseHandle(p.client);
    CloseHandle(p.server);
  });
}

}  // namespace
}  // namespace iocpsim
