// WIN32-MODEL.md, "Named pipes": one case per statement.
#include <doctest/doctest.h>

#include <cstring>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

using testing::Dequeue;
using testing::NewPort;
using testing::RunClean;

TEST_CASE("CreateFile: no instance is ERROR_FILE_NOT_FOUND, every instance busy is ERROR_PIPE_BUSY") {
  RunClean([] {
    CHECK(testing::MakeClient() == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
    HANDLE s = testing::MakeServer();
    HANDLE c = testing::MakeClient();
    CHECK(c != INVALID_HANDLE_VALUE);
    // Connected.
    CHECK(testing::MakeClient() == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == ERROR_PIPE_BUSY);
    // Its client closed, no DisconnectNamedPipe yet.
    CloseHandle(c);
    CHECK(testing::MakeClient() == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == ERROR_PIPE_BUSY);
    // Disconnected, not listening again yet.
    CHECK(DisconnectNamedPipe(s));
    CHECK(testing::MakeClient() == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == ERROR_PIPE_BUSY);
    CloseHandle(s);
    CHECK(testing::MakeClient() == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
  });
}

DWORD ListenLater(LPVOID server) {
  Sleep(20);
  OVERLAPPED ov{};
  ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  ConnectNamedPipe(static_cast<HANDLE>(server), &ov);
  WaitForSingleObject(ov.hEvent, INFINITE);  // ov must outlive the operation
  CloseHandle(ov.hEvent);
  return 0;
}

TEST_CASE("WaitNamedPipe waits for an instance to listen, or fails with ERROR_SEM_TIMEOUT") {
  RunClean([] {
    HANDLE s = testing::MakeServer();
    HANDLE c = testing::MakeClient();
    CloseHandle(c);
    DisconnectNamedPipe(s);
    ULONGLONG t0 = GetTickCount64();
    CHECK_FALSE(WaitNamedPipeW(testing::kPipeName, 5));
    CHECK(GetLastError() == ERROR_SEM_TIMEOUT);
    CHECK(GetTickCount64() - t0 == 5);
    HANDLE t = CreateThread(nullptr, 0, ListenLater, s, 0, nullptr);
    CHECK(WaitNamedPipeW(testing::kPipeName, 1000));
    CHECK(GetTickCount64() - t0 == 25);
    HANDLE c2 = testing::MakeClient();
    CHECK(c2 != INVALID_HANDLE_VALUE);
    WaitForSingleObject(t, INFINITE);
    CloseHandle(c2);
    CloseHandle(t);
    CloseHandle(s);
    CHECK_FALSE(WaitNamedPipeW(testing::kPipeName, 5));
    CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
  });
}

TEST_CASE("ConnectNamedPipe: a client that connected first gives ERROR_PIPE_CONNECTED and no packet") {
  RunClean([] {
    HANDLE s = testing::MakeServer();
    HANDLE port = NewPort();
    CreateIoCompletionPort(s, port, 1, 0);
    HANDLE c = testing::MakeClient();
    OVERLAPPED ov{};
    CHECK_FALSE(ConnectNamedPipe(s, &ov));
    CHECK(GetLastError() == ERROR_PIPE_CONNECTED);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    CloseHandle(c);
    CloseHandle(s);
    CloseHandle(port);
  });
}

TEST_CASE("ConnectNamedPipe without a client is pending and completes with 0 bytes when one connects") {
  RunClean([] {
    HANDLE s = testing::MakeServer();
    HANDLE port = NewPort();
    CreateIoCompletionPort(s, port, 9, 0);
    OVERLAPPED ov{};
    CHECK_FALSE(ConnectNamedPipe(s, &ov));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    HANDLE c = testing::MakeClient();
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK(d.ok);
    CHECK(d.ov == &ov);
    CHECK(d.bytes == 0);
    CHECK(d.key == 9);
    CloseHandle(c);
    CloseHandle(s);
    CloseHandle(port);
  });
}

TEST_CASE("A second ConnectNamedPipe while one is pending pends too; both complete when a client connects") {
  RunClean([] {
    HANDLE s = testing::MakeServer();
    HANDLE port = NewPort();
    CreateIoCompletionPort(s, port, 9, 0);
    OVERLAPPED first{}, second{};
    CHECK_FALSE(ConnectNamedPipe(s, &first));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK_FALSE(ConnectNamedPipe(s, &second));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    HANDLE c = testing::MakeClient();
    // Completed together, in the order issued (ReactOS npfs
    // NpSetConnectedPipeState; Wine wakes the whole listen queue;
    // conformance check pipes.connect-named-pipe).
    testing::Dequeued a = Dequeue(port, INFINITE);
    testing::Dequeued b = Dequeue(port, 0);
    CHECK(a.ok);
    CHECK(b.ok);
    CHECK(a.ov == &first);
    CHECK(b.ov == &second);
    CloseHandle(c);
    CloseHandle(s);
    CloseHandle(port);
  });
}

TEST_CASE("ConnectNamedPipe after the client closed without DisconnectNamedPipe: ERROR_NO_DATA") {
  RunClean([] {
    HANDLE s = testing::MakeServer();
    HANDLE c = testing::MakeClient();
    CloseHandle(c);
    OVERLAPPED ov{};
    CHECK_FALSE(ConnectNamedPipe(s, &ov));
    CHECK(GetLastError() == ERROR_NO_DATA);
    CloseHandle(s);
  });
}

TEST_CASE("Clients attach to listening instances in the order the instances started listening") {
  RunClean([] {
    HANDLE s1 = testing::MakeServer();
    HANDLE s2 = testing::MakeServer();
    HANDLE c1 = testing::MakeClient();
    HANDLE c2 = testing::MakeClient();
    DWORD n;
    WriteFile(c1, "1", 1, &n, nullptr);
    WriteFile(c2, "2", 1, &n, nullptr);
    char b1 = 0, b2 = 0;
    OVERLAPPED o1{}, o2{};
    CHECK(ReadFile(s1, &b1, 1, &n, &o1));
    CHECK(ReadFile(s2, &b2, 1, &n, &o2));
    CHECK(b1 == '1');
    CHECK(b2 == '2');
    for (HANDLE h : {c1, c2, s1, s2}) CloseHandle(h);
  });
}

TEST_CASE("Byte mode: a read returns what is buffered up to its size, and writes coalesce") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    DWORD n;
    WriteFile(p.client, "abc", 3, &n, nullptr);
    WriteFile(p.client, "defg", 4, &n, nullptr);
    char buf[16] = {};
    OVERLAPPED ov{};
    CHECK(ReadFile(p.server, buf, 5, &n, &ov));
    CHECK(n == 5);
    CHECK(std::memcmp(buf, "abcde", 5) == 0);
    OVERLAPPED ov2{};
    CHECK(ReadFile(p.server, buf, 16, &n, &ov2));
    CHECK(n == 2);
    CHECK(std::memcmp(buf, "fg", 2) == 0);
    CloseHandle(p.client);
    CloseHandle(p.server);
  });
}

TEST_CASE("Message mode: a short read fails with ERROR_MORE_DATA and the rest stays; an empty write is a message") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe(PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE);
    DWORD n;
    WriteFile(p.client, "hello", 5, &n, nullptr);
    CHECK(WriteFile(p.client, "", 0, &n, nullptr));
    WriteFile(p.client, "xy", 2, &n, nullptr);
    char buf[8] = {};
    OVERLAPPED ov{};
    CHECK_FALSE(ReadFile(p.server, buf, 3, &n, &ov));
    CHECK(GetLastError() == ERROR_MORE_DATA);
    CHECK(n == 3);
    CHECK(std::memcmp(buf, "hel", 3) == 0);
    OVERLAPPED ov2{};
    CHECK(ReadFile(p.server, buf, 8, &n, &ov2));
    CHECK(n == 2);
    CHECK(std::memcmp(buf, "lo", 2) == 0);
    OVERLAPPED ov3{};
    CHECK(ReadFile(p.server, buf, 8, &n, &ov3));
    CHECK(n == 0);  // the empty message
    OVERLAPPED ov4{};
    CHECK(ReadFile(p.server, buf, 8, &n, &ov4));
    CHECK(n == 2);
    CloseHandle(p.client);
    CloseHandle(p.server);
  });
}

TEST_CASE("Message mode: a pending read shorter than the message queues a packet with ERROR_MORE_DATA") {
  // STATUS_BUFFER_OVERFLOW is a warning, not an error (NT_ERROR is false),
  // so the I/O manager completes the request like a success and queues its
  // packet; GetQueuedCompletionStatus then returns FALSE with
  // ERROR_MORE_DATA and the bytes that were copied.
  RunClean([] {
    testing::PipePair p = testing::MakePipe(PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE);
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 4, 0);
    char buf[8] = {};
    OVERLAPPED ov{};
    CHECK_FALSE(ReadFile(p.server, buf, 3, nullptr, &ov));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    DWORD n;
    WriteFile(p.client, "hello", 5, &n, nullptr);
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_MORE_DATA);
    CHECK(d.ov == &ov);
    CHECK(d.bytes == 3);
    CHECK(d.key == 4);
    CHECK(std::memcmp(buf, "hel", 3) == 0);
    OVERLAPPED rest{};
    CHECK(ReadFile(p.server, buf, 8, &n, &rest));
    CHECK(n == 2);
    Dequeue(port);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("A zero-length read on an empty byte pipe stays pending, then completes with 0 bytes without consuming") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    OVERLAPPED z{};
    char buf[4];
    CHECK_FALSE(ReadFile(p.server, buf, 0, nullptr, &z));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    DWORD n;
    WriteFile(p.client, "q", 1, &n, nullptr);
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK(d.ok);
    CHECK(d.ov == &z);
    CHECK(d.bytes == 0);
    OVERLAPPED r{};
    CHECK(ReadFile(p.server, buf, 4, &n, &r));
    CHECK(n == 1);
    CHECK(buf[0] == 'q');
    Dequeue(port);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("A write larger than the pipe buffer stays pending until the reader drains it") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe(PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 4);
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.client, port, 1, 0);
    OVERLAPPED w{};
    CHECK_FALSE(WriteFile(p.client, "0123456789", 10, nullptr, &w));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    Sleep(1);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    char buf[16];
    DWORD n;
    OVERLAPPED r{};
    CHECK(ReadFile(p.server, buf, 3, &n, &r));  // 7 unread: still too many
    Sleep(1);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    OVERLAPPED r2{};
    CHECK(ReadFile(p.server, buf, 3, &n, &r2));  // 4 unread: fits
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK(d.ok);
    CHECK(d.ov == &w);
    CHECK(d.bytes == 10);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

}  // namespace
}  // namespace iocpsim
