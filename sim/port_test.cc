// WIN32-MODEL.md, "Ports and packets": one case per statement.
#include <doctest/doctest.h>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

using testing::Dequeue;
using testing::Dequeued;
using testing::NewPort;
using testing::RunClean;

TEST_CASE("An operation that succeeds synchronously still queues a packet") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CHECK(CreateIoCompletionPort(p.server, port, 77, 0) == port);
    OVERLAPPED w{};
    DWORD n = 0;
    CHECK(WriteFile(p.client, "abc", 3, &n, nullptr));
    char buf[8];
    CHECK(ReadFile(p.server, buf, sizeof buf, &n, &w));
    CHECK(n == 3);
    Dequeued d = Dequeue(port);
    CHECK(d.ok);
    CHECK(d.bytes == 3);
    CHECK(d.key == 77);
    CHECK(d.ov == &w);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("With FILE_SKIP_COMPLETION_PORT_ON_SUCCESS a synchronous success queues no packet") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    CHECK(SetFileCompletionNotificationModes(p.server, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
    // The mode cannot be cleared: setting 0 leaves it on.
    CHECK(SetFileCompletionNotificationModes(p.server, 0));
    DWORD n;
    WriteFile(p.client, "abc", 3, &n, nullptr);
    OVERLAPPED r{};
    char buf[8];
    CHECK(ReadFile(p.server, buf, sizeof buf, &n, &r));
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    // A pending operation still completes through the port.
    OVERLAPPED r2{};
    CHECK_FALSE(ReadFile(p.server, buf, sizeof buf, nullptr, &r2));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    WriteFile(p.client, "d", 1, &n, nullptr);
    Dequeued d = Dequeue(port, INFINITE);
    CHECK(d.ok);
    CHECK(d.ov == &r2);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("A synchronous failure queues no packet and leaves Internal at STATUS_PENDING") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    CloseHandle(p.client);
    OVERLAPPED ov{};
    char buf[4];
    CHECK_FALSE(ReadFile(p.server, buf, sizeof buf, nullptr, &ov));
    CHECK(GetLastError() == ERROR_BROKEN_PIPE);
    CHECK(static_cast<NTSTATUS>(ov.Internal) == STATUS_PENDING);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("With a port the status block is written when the packet is dequeued, not before") {
  auto body = [](bool immediate) {
    return [immediate] {
      testing::PipePair p = testing::MakePipe();
      HANDLE port = NewPort();
      CreateIoCompletionPort(p.server, port, 1, 0);
      OVERLAPPED ov{};
      char buf[4];
      CHECK_FALSE(ReadFile(p.server, buf, sizeof buf, nullptr, &ov));
      DWORD n;
      WriteFile(p.client, "x", 1, &n, nullptr);
      Sleep(1);  // let the completion event run
      CHECK(HasOverlappedIoCompleted(&ov) == immediate);
      Dequeued d = Dequeue(port);
      CHECK(d.ok);
      CHECK(HasOverlappedIoCompleted(&ov));
      CHECK(ov.InternalHigh == 1);
      CloseHandle(p.client);
      CloseHandle(p.server);
      CloseHandle(port);
    };
  };
  RunClean(body(false));
  KernelOptions o;
  o.immediate_status = true;
  RunClean(body(true), o);
}

TEST_CASE("GetQueuedCompletionStatus: FALSE with the overlapped filled for a failed operation") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 5, 0);
    OVERLAPPED ov{};
    char buf[4];
    ReadFile(p.server, buf, sizeof buf, nullptr, &ov);
    CloseHandle(p.client);
    Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.ov == &ov);
    CHECK(d.key == 5);
    CHECK(d.bytes == 0);
    CHECK(d.error == ERROR_BROKEN_PIPE);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("GetQueuedCompletionStatus: a timeout returns FALSE, NULL overlapped, bytes and key untouched") {
  RunClean([] {
    HANDLE port = NewPort();
    ULONGLONG t0 = GetTickCount64();
    Dequeued d = Dequeue(port, 0);
    CHECK_FALSE(d.ok);
    CHECK(d.error == WAIT_TIMEOUT);
    CHECK(d.ov == nullptr);
    CHECK(d.bytes == 0xDEADu);
    CHECK(d.key == 0xBEEFu);
    CHECK(GetTickCount64() == t0);  // timeout 0 returns at once
    d = Dequeue(port, 250);
    CHECK(d.error == WAIT_TIMEOUT);
    CHECK(GetTickCount64() - t0 == 250);
    CloseHandle(port);
  });
}

DWORD CloseAfterSleep(LPVOID port) {
  Sleep(10);
  CloseHandle(static_cast<HANDLE>(port));
  return 0;
}

TEST_CASE("GetQueuedCompletionStatus: the port closed under a waiting call gives ERROR_ABANDONED_WAIT_0") {
  RunClean([] {
    HANDLE port = NewPort();
    HANDLE t = CreateThread(nullptr, 0, CloseAfterSleep, port, 0, nullptr);
    Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.ov == nullptr);
    CHECK(d.error == ERROR_ABANDONED_WAIT_0);
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
  });
}

TEST_CASE("GetQueuedCompletionStatusEx returns up to the requested count; the rest stays queued") {
  RunClean([] {
    HANDLE port = NewPort();
    for (int i = 1; i <= 3; ++i) PostQueuedCompletionStatus(port, i, 10 + i, nullptr);
    OVERLAPPED_ENTRY e[2];
    ULONG removed = 0;
    CHECK(GetQueuedCompletionStatusEx(port, e, 2, &removed, 0, FALSE));
    CHECK(removed == 2);
    CHECK(e[0].dwNumberOfBytesTransferred == 1);
    CHECK(e[1].lpCompletionKey == 12);
    Dequeued d = Dequeue(port);
    CHECK(d.ok);
    CHECK(d.bytes == 3);
    CHECK_FALSE(GetQueuedCompletionStatusEx(port, e, 2, &removed, 0, FALSE));
    CHECK(GetLastError() == WAIT_TIMEOUT);
    CHECK(removed == 0);
    CloseHandle(port);
  });
}

TEST_CASE("Packets are dequeued in FIFO order of queuing") {
  RunClean([] {
    HANDLE port = NewPort();
    for (DWORD i = 0; i < 5; ++i) PostQueuedCompletionStatus(port, i, 0, nullptr);
    for (DWORD i = 0; i < 5; ++i) CHECK(Dequeue(port).bytes == i);
    CloseHandle(port);
  });
}

struct LifoArg {
  HANDLE port;
  DWORD got = 0;
};

DWORD WaitOne(LPVOID p) {
  auto* a = static_cast<LifoArg*>(p);
  a->got = Dequeue(a->port, INFINITE).bytes;
  return 0;
}

TEST_CASE("Waiting threads are released LIFO") {
  RunClean([] {
    HANDLE port = NewPort();
    LifoArg first{port}, second{port};
    HANDLE t1 = CreateThread(nullptr, 0, WaitOne, &first, 0, nullptr);
    Sleep(1);  // t1 blocks first
    HANDLE t2 = CreateThread(nullptr, 0, WaitOne, &second, 0, nullptr);
    Sleep(1);  // then t2
    PostQueuedCompletionStatus(port, 1, 0, nullptr);
    PostQueuedCompletionStatus(port, 2, 0, nullptr);
    HANDLE both[2] = {t1, t2};
    CHECK(WaitForMultipleObjects(2, both, TRUE, INFINITE) == WAIT_OBJECT_0);
    CHECK(second.got == 1);  // the last thread to wait gets the first packet
    CHECK(first.got == 2);
    CloseHandle(t1);
    CloseHandle(t2);
    CloseHandle(port);
  });
}

TEST_CASE("PostQueuedCompletionStatus delivers bytes, key and lpOverlapped verbatim") {
  RunClean([] {
    HANDLE port = NewPort();
    auto* fake = reinterpret_cast<OVERLAPPED*>(uintptr_t{0x1234});
    CHECK(PostQueuedCompletionStatus(port, 99, 0xABCD, fake));
    Dequeued d = Dequeue(port);
    CHECK(d.ok);
    CHECK(d.bytes == 99);
    CHECK(d.key == 0xABCD);
    CHECK(d.ov == fake);
    CloseHandle(port);
  });
}

TEST_CASE("The completion key is fixed at association and carried by every packet of that handle") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.client, port, 0xC1, 0);
    CreateIoCompletionPort(p.server, port, 0x5E, 0);
    OVERLAPPED a{}, b{};
    DWORD n;
    WriteFile(p.client, "1", 1, &n, &a);
    char buf[4];
    ReadFile(p.server, buf, 4, &n, &b);
    CHECK(Dequeue(port).key == 0xC1);
    CHECK(Dequeue(port).key == 0x5E);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("A handle can be associated with one port only") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port1 = NewPort();
    HANDLE port2 = NewPort();
    CHECK(CreateIoCompletionPort(p.server, port1, 1, 0) == port1);
    CHECK(CreateIoCompletionPort(p.server, port2, 2, 0) == nullptr);
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    CHECK(CreateIoCompletionPort(p.server, port1, 3, 0) == nullptr);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port1);
    CloseHandle(port2);
  });
}

TEST_CASE("A handle value freed by CloseHandle can name a different object later") {
  RunClean([] {
    HANDLE port = NewPort();
    CloseHandle(port);
    HANDLE pipe = testing::MakeServer();
    CHECK(pipe == port);
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED* ov;
    CHECK_FALSE(GetQueuedCompletionStatus(port, &bytes, &key, &ov, 0));
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    CloseHandle(pipe);
  });
}

TEST_CASE("An OVERLAPPED whose packet is stranded in a closed port may be used again") {
  RunResult r = testing::Run([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    DWORD n = 0;
    OVERLAPPED w{}, ov{};
    WriteFile(p.client, "ab", 2, &n, &w);
    char buf[4];
    CHECK(ReadFile(p.server, buf, sizeof buf, &n, &ov));  // its packet is queued
    CloseHandle(port);  // nobody can dequeue it now; its status block is never written
    // The memory is the program's again: no use-after-free fault.
    ov = {};
    WriteFile(p.client, "cd", 2, &n, &w);
    CHECK(ReadFile(p.server, buf, sizeof buf, &n, &ov));
    CHECK(n == 2);
    CloseHandle(p.client);
    CloseHandle(p.server);
  });
  CHECK_MESSAGE(r.outcome == Outcome::kFinished, r.message);
  // Only the second read's packet is left, stranded like the first was.
  CHECK(r.overlapped_owned.size() == 1);
}

}  // namespace
}  // namespace iocpsim
