// WIN32-MODEL.md, "Closing handles": one case per statement.
#include <doctest/doctest.h>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

using testing::Dequeue;
using testing::NewPort;
using testing::RunClean;

TEST_CASE("Closing a peer end: a pending read completes with ERROR_BROKEN_PIPE; buffered data is still read; writes get ERROR_NO_DATA") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    OVERLAPPED pending{};
    char buf[8];
    ReadFile(p.server, buf, 8, nullptr, &pending);
    CloseHandle(p.client);
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_BROKEN_PIPE);
    CHECK(d.bytes == 0);
    CHECK(d.ov == &pending);
    DWORD n;
    CHECK_FALSE(WriteFile(p.server, "x", 1, &n, nullptr));
    CHECK(GetLastError() == ERROR_NO_DATA);
    CloseHandle(p.server);
    CloseHandle(port);
  });
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    DWORD n;
    WriteFile(p.client, "left", 4, &n, nullptr);
    CloseHandle(p.client);
    char buf[8];
    OVERLAPPED a{};
    CHECK(ReadFile(p.server, buf, 8, &n, &a));
    CHECK(n == 4);
    OVERLAPPED b{};
    CHECK_FALSE(ReadFile(p.server, buf, 8, &n, &b));
    CHECK(GetLastError() == ERROR_BROKEN_PIPE);
    CloseHandle(p.server);
  });
}

TEST_CASE("Closing the reader under a write waiting for room: the write fails with ERROR_BROKEN_PIPE") {
  // The pending write fails with the closing status (Wine server
  // named_pipe.c pipe_end_destroy: STATUS_PIPE_BROKEN); only a write issued
  // after the close gets ERROR_NO_DATA.
  RunClean([] {
    testing::PipePair p = testing::MakePipe(PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 4);
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.client, port, 2, 0);
    OVERLAPPED w{};
    CHECK_FALSE(WriteFile(p.client, "0123456789", 10, nullptr, &w));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CloseHandle(p.server);
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_BROKEN_PIPE);
    CHECK(d.ov == &w);
    CHECK(d.bytes == 0);
    DWORD n;
    OVERLAPPED w2{};
    CHECK_FALSE(WriteFile(p.client, "x", 1, &n, &w2));
    CHECK(GetLastError() == ERROR_NO_DATA);
    CloseHandle(p.client);
    CloseHandle(port);
  });
}

// NPFS's cleanup fails the closing end's own pending operations with
// STATUS_PIPE_BROKEN (ReactOS npfs NpSetClosingPipeState; Wine
// server/named_pipe.c pipe_end_destroy; conformance check
// close.last-handle-cancels-pending, the same under Wine).
TEST_CASE("Closing the last handle of a pipe end fails its pending operations with ERROR_BROKEN_PIPE; closing a duplicate fails nothing") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    HANDLE dup = nullptr;
    CHECK(DuplicateHandle(GetCurrentProcess(), p.server, GetCurrentProcess(), &dup, 0, FALSE,
                          DUPLICATE_SAME_ACCESS));
    OVERLAPPED ov{};
    char buf[8];
    ReadFile(p.server, buf, 8, nullptr, &ov);
    CloseHandle(dup);
    Sleep(1);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    CloseHandle(p.server);
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_BROKEN_PIPE);
    CHECK(d.bytes == 0);
    CHECK(d.ov == &ov);
    CloseHandle(p.client);
    CloseHandle(port);
  });
}

TEST_CASE("Closing a listening instance fails its pending ConnectNamedPipe with ERROR_BROKEN_PIPE") {
  // ReactOS npfs NpSetClosingPipeState, FILE_PIPE_LISTENING_STATE (Wine
  // 8.0 says ERROR_HANDLES_CLOSED: sim/conformance/differences.txt).
  RunClean([] {
    HANDLE s = testing::MakeServer();
    HANDLE port = NewPort();
    CreateIoCompletionPort(s, port, 1, 0);
    OVERLAPPED ov{};
    CHECK_FALSE(ConnectNamedPipe(s, &ov));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CloseHandle(s);
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_BROKEN_PIPE);
    CHECK(d.ov == &ov);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    CloseHandle(port);
  });
}

TEST_CASE("DisconnectNamedPipe: pending operations on both ends fail with ERROR_PIPE_NOT_CONNECTED, and later ones at once") {
  RunClean([] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    CreateIoCompletionPort(p.client, port, 2, 0);
    OVERLAPPED s{}, c{};
    char b1[4], b2[4];
    ReadFile(p.server, b1, 4, nullptr, &s);
    ReadFile(p.client, b2, 4, nullptr, &c);
    CHECK(DisconnectNamedPipe(p.server));
    for (int i = 0; i < 2; ++i) {
      testing::Dequeued d = Dequeue(port, INFINITE);
      CHECK(d.error == ERROR_PIPE_NOT_CONNECTED);
    }
    DWORD n;
    CHECK_FALSE(WriteFile(p.client, "x", 1, &n, nullptr));
    CHECK(GetLastError() == ERROR_PIPE_NOT_CONNECTED);
    OVERLAPPED later{};
    CHECK_FALSE(ReadFile(p.client, b2, 4, &n, &later));
    CHECK(GetLastError() == ERROR_PIPE_NOT_CONNECTED);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  });
}

}  // namespace
}  // namespace iocpsim
