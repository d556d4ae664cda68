// WIN32-MODEL.md, "processes": child programs, exit codes, early exit,
// standard handles passed through STARTUPINFO.
#include <doctest/doctest.h>

#include <string>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

using testing::Dequeue;
using testing::RunClean;

struct Child {
  HANDLE process;
  HANDLE thread;
  HANDLE stdout_read;  // overlapped server end, in the parent
};

// Starts `command` with stdout on a pipe: the parent keeps an overlapped
// server end; the child gets an inheritable synchronous client end.
Child Spawn(const char16_t* command, const char16_t* pipe = u"\\\\.\\pipe\\child-out") {
  Child c{};
  c.stdout_read = CreateNamedPipeW(pipe, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED,
                                   PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1, 4096, 4096, 0, nullptr);
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  HANDLE child_end = CreateFileW(pipe, GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, nullptr);
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdOutput = child_end;
  si.hStdError = child_end;
  PROCESS_INFORMATION pi{};
  std::u16string line(command);
  CHECK(CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi));
  CloseHandle(child_end);
  c.process = pi.hProcess;
  c.thread = pi.hThread;
  return c;
}

void Close(const Child& c) {
  CloseHandle(c.process);
  CloseHandle(c.thread);
  CloseHandle(c.stdout_read);
}

TEST_CASE("A process handle is signalled when the process ends; GetExitCodeProcess says STILL_ACTIVE before") {
  RunClean([] {
    Child c = Spawn(u"sleep-then-exit 30 7");
    DWORD code = 0;
    CHECK(GetExitCodeProcess(c.process, &code));
    CHECK(code == STILL_ACTIVE);
    CHECK(WaitForSingleObject(c.process, INFINITE) == WAIT_OBJECT_0);
    CHECK(GetTickCount64() == 30);
    CHECK(GetExitCodeProcess(c.process, &code));
    CHECK(code == 7);
    CHECK(WaitForSingleObject(c.process, 0) == WAIT_OBJECT_0);  // stays signalled
    Close(c);
  });
}

TEST_CASE("A child's output reaches the parent, then its pipe end closes with it (ERROR_BROKEN_PIPE)") {
  RunClean([] {
    Child c = Spawn(u"write-then-exit hello 3");
    HANDLE port = CreateIoCompletionPort(c.stdout_read, nullptr, 1, 0);
    std::string got;
    for (;;) {
      OVERLAPPED ov{};
      char buf[64];
      DWORD n = 0;
      if (!ReadFile(c.stdout_read, buf, sizeof buf, &n, &ov) && GetLastError() != ERROR_IO_PENDING) {
        CHECK(GetLastError() == ERROR_BROKEN_PIPE);
        break;
      }
      testing::Dequeued d = Dequeue(port, INFINITE);
      if (!d.ok) {
        CHECK(d.error == ERROR_BROKEN_PIPE);
        break;
      }
      got.append(buf, d.bytes);
    }
    CHECK(got == "hello");
    WaitForSingleObject(c.process, INFINITE);
    DWORD code;
    GetExitCodeProcess(c.process, &code);
    CHECK(code == 3);
    CloseHandle(port);
    Close(c);
  });
}

TEST_CASE("A child may exit before the parent set up its pipes; broken pipe and exit come in either order") {
  // The exit choice makes the child leave before writing; the schedule
  // decides whether the read completion or the process signal comes first.
  for (const char* first : {"complete ov#", "pid#"}) {
    CAPTURE(first);
    testing::PreferSource src(first, ChoiceKind::kExit, 1);
    bool read_first = std::string(first) == "complete ov#";
    RunResult r = testing::RunWith(src, [read_first] {
      Child c = Spawn(u"write-then-exit never 4");
      HANDLE port = CreateIoCompletionPort(c.stdout_read, nullptr, 1, 0);
      OVERLAPPED ov{};
      char buf[8];
      DWORD n;
      BOOL ok = ReadFile(c.stdout_read, buf, sizeof buf, &n, &ov);
      CHECK_FALSE(ok);
      CHECK(GetLastError() == ERROR_IO_PENDING);
      HANDLE objs[1] = {c.process};
      Sleep(1);  // both events fire while the parent sleeps, in the chosen order
      CHECK(WaitForMultipleObjects(1, objs, FALSE, 0) == WAIT_OBJECT_0);
      testing::Dequeued d = Dequeue(port, 0);
      CHECK(d.error == ERROR_BROKEN_PIPE);
      (void)read_first;
      CloseHandle(port);
      Close(c);
    });
    CHECK(src.seen_n == 2);
    CHECK_MESSAGE(r.outcome == Outcome::kFinished, r.message);
  }
}

TEST_CASE("Inheritable handles appear in the child at the same values, and the echo child copies stdin to stdout") {
  RunClean([] {
    HANDLE in_srv = CreateNamedPipeW(u"\\\\.\\pipe\\child-in", PIPE_ACCESS_OUTBOUND | FILE_FLAG_OVERLAPPED,
                                     PIPE_TYPE_BYTE, 1, 4096, 4096, 0, nullptr);
    SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
    HANDLE in_child = CreateFileW(u"\\\\.\\pipe\\child-in", GENERIC_READ, 0, &sa, OPEN_EXISTING, 0, nullptr);
    HANDLE out_srv = CreateNamedPipeW(u"\\\\.\\pipe\\child-out", PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED,
                                      PIPE_TYPE_BYTE, 1, 4096, 4096, 0, nullptr);
    HANDLE out_child = CreateFileW(u"\\\\.\\pipe\\child-out", GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, nullptr);
    STARTUPINFOW si{};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in_child;
    si.hStdOutput = out_child;
    PROCESS_INFORMATION pi{};
    std::u16string line = u"echo";
    CHECK(CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi));
    CloseHandle(in_child);
    CloseHandle(out_child);
    DWORD n;
    OVERLAPPED w{};
    w.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    WriteFile(in_srv, "ping", 4, &n, &w);
    GetOverlappedResult(in_srv, &w, &n, TRUE);
    CloseHandle(in_srv);  // EOF for the child
    OVERLAPPED r{};
    r.hEvent = w.hEvent;
    char buf[8] = {};
    ReadFile(out_srv, buf, sizeof buf, &n, &r);
    CHECK(GetOverlappedResult(out_srv, &r, &n, TRUE));
    CHECK(std::string(buf, n) == "ping");
    CHECK(WaitForSingleObject(pi.hProcess, INFINITE) == WAIT_OBJECT_0);
    for (HANDLE h : {w.hEvent, out_srv, pi.hProcess, pi.hThread}) CloseHandle(h);
  });
}

TEST_CASE("TerminateProcess ends a child at once; an unknown program is ERROR_FILE_NOT_FOUND") {
  RunClean([] {
    Child c = Spawn(u"sleep-then-exit 100000");
    CHECK(TerminateProcess(c.process, 9));
    CHECK(WaitForSingleObject(c.process, INFINITE) == WAIT_OBJECT_0);
    DWORD code;
    GetExitCodeProcess(c.process, &code);
    CHECK(code == 9);
    CHECK(GetTickCount64() < 100000);
    Close(c);
    std::u16string bad = u"no-such-program";
    STARTUPINFOW si{};
    PROCESS_INFORMATION pi{};
    CHECK_FALSE(CreateProcessW(nullptr, bad.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi));
    CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
  });
}

TEST_CASE("Operations a terminated process issued are cancelled; the packet reaches the surviving handle's port") {
  RunClean([] {
    // The client end is associated with the parent's port and inherited by
    // a child that issues an overlapped read on it and then waits; the
    // parent's handle keeps the file object (and its port binding) alive.
    HANDLE srv = testing::MakeServer();
    SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
    HANDLE cli = CreateFileW(testing::kPipeName, GENERIC_READ | GENERIC_WRITE, 0, &sa,
                             OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
    HANDLE port = CreateIoCompletionPort(cli, nullptr, 7, 0);
    const char16_t* out_name = u"\\\\.\\pipe\\iocpsim-child-out";
    HANDLE out_srv = testing::MakeServer(PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 64, false, 1, out_name);
    HANDLE out_cli = CreateFileW(out_name, GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, nullptr);
    STARTUPINFOW si{};
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = cli;
    si.hStdOutput = out_cli;
    PROCESS_INFORMATION pi{};
    std::u16string line = u"read-then-wait";
    CHECK(CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi));
    char ready = 0;
    DWORD n = 0;
    CHECK(ReadFile(out_srv, &ready, 1, &n, nullptr));  // the child's read is pending now
    CHECK(ready == 'r');
    CHECK(TerminateProcess(pi.hProcess, 1));
    WaitForSingleObject(pi.hProcess, INFINITE);
    testing::Dequeued d = Dequeue(port, INFINITE);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_OPERATION_ABORTED);
    CHECK(d.key == 7);
    CHECK(d.bytes == 0);
    CHECK(d.ov != nullptr);  // the child's OVERLAPPED: its address, never written
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    // The pipe itself is intact: the server can still write to the client.
    OVERLAPPED w{};
    CHECK(WriteFile(srv, "z", 1, &n, &w));
    for (HANDLE h : {srv, cli, port, out_srv, out_cli, pi.hProcess, pi.hThread}) CloseHandle(h);
  });
}

}  // namespace
}  // namespace iocpsim
