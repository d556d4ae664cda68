// The conformance checks of WIN32-MODEL.md: closing handles, named pipes. See main.cc.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/conformance/conformance.h"

namespace iocpsim::conformance {
namespace {

// ---- Closing handles -------------------------------------------------------------

void ClosePeerPendingRead() {
  Pair p = MakePair("close-peer");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 3, 0);
  OVERLAPPED r{};
  char buf[8];
  bool pending = PendingRead(p.server, buf, sizeof buf, &r);
  CloseHandle(p.client);
  p.client = nullptr;
  std::string pkt = Packet(port, kWaitMs, {{&r, "r"}});
  DWORD n = 0;
  OVERLAPPED w{};
  Check("close.peer-fails-pending-read",
        Fmt("pending=%d ", pending) + pkt + " WriteFile-after=" + R(WriteFile(p.server, "x", 1, &n, &w)));
  p.Close();
  CloseHandle(port);
}

void ClosePeerBufferedData() {
  Pair p = MakePair("close-buffered");
  DWORD n = 0;
  OVERLAPPED w{};
  WriteFile(p.client, "left", 4, &n, &w);
  CloseHandle(p.client);
  p.client = nullptr;
  char buf[8];
  OVERLAPPED a{}, b{};
  std::string first = R(ReadFile(p.server, buf, sizeof buf, &n, &a));
  DWORD got = n;
  std::string second = R(ReadFile(p.server, buf, sizeof buf, &n, &b));
  Check("close.peer-buffered-data-still-read",
        "ReadFile=" + first + Fmt(" bytes=%lu ", static_cast<unsigned long>(got)) + "ReadFile=" + second);
  p.Close();
}

void CloseLastHandleCancels() {
  Pair p = MakePair("close-last");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 4, 0);
  HANDLE dup = nullptr;
  DuplicateHandle(GetCurrentProcess(), p.server, GetCurrentProcess(), &dup, 0, FALSE,
                  DUPLICATE_SAME_ACCESS);
  OVERLAPPED r{};
  char buf[8];
  bool pending = PendingRead(p.server, buf, sizeof buf, &r);
  std::string close_dup = R(CloseHandle(dup));
  std::string after_dup = Packet(port, 0);
  std::string close = R(CloseHandle(p.server));
  p.server = nullptr;
  Check("close.last-handle-cancels-pending",
        Fmt("pending=%d CloseHandle(duplicate)=", pending) + close_dup + " " + after_dup +
            " CloseHandle(last)=" + close + " " + Packet(port, kWaitMs, {{&r, "r"}}));
  p.Close();
  CloseHandle(port);
}

void CloseListeningWithPendingConnect() {
  WString name = PipeName("close-listening");
  HANDLE port = NewPort();
  HANDLE s = Server(name);
  CreateIoCompletionPort(s, port, 4, 0);
  OVERLAPPED c{};
  std::string connect = R(ConnectNamedPipe(s, &c));
  std::string close = R(CloseHandle(s));
  Check("close.listening-instance-fails-pending-connect",
        "ConnectNamedPipe=" + connect + " CloseHandle=" + close + " " +
            Packet(port, kWaitMs, {{&c, "connect"}}));
  CloseHandle(port);
}

void CloseDisconnect() {
  Pair p = MakePair("disconnect");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 1, 0);
  CreateIoCompletionPort(p.client, port, 2, 0);
  OVERLAPPED rs{}, rc{};
  char bs[8], bc[8];
  bool ps = PendingRead(p.server, bs, sizeof bs, &rs);
  bool pc = PendingRead(p.client, bc, sizeof bc, &rc);
  std::string disc = R(DisconnectNamedPipe(p.server));
  std::vector<Named> names = {{&rs, "server-read"}, {&rc, "client-read"}};
  std::string first = Packet(port, kWaitMs, names);
  std::string second = Packet(port, kWaitMs, names);
  DWORD n = 0;
  OVERLAPPED r{}, w{};
  std::string read = R(ReadFile(p.client, bc, sizeof bc, &n, &r));
  std::string write = R(WriteFile(p.client, "x", 1, &n, &w));
  Check("close.disconnect-fails-both-ends",
        Fmt("pending=%d,%d Disconnect=", ps, pc) + disc + " " + first + " " + second +
            " client-ReadFile=" + read + " client-WriteFile=" + write + " " + Packet(port, 0));
  p.Close();
  CloseHandle(port);
}

void CloseReaderUnderPendingWrite() {
  Pair p = MakePair("close-reader", PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1024);
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.client, port, 2, 0);
  std::string big(256 * 1024, 'w');
  OVERLAPPED w{};
  DWORD n = 0;
  std::string write = R(WriteFile(p.client, big.data(), static_cast<DWORD>(big.size()), &n, &w));
  CloseHandle(p.server);
  p.server = nullptr;
  Check("close.reader-closed-under-pending-write",
        "WriteFile=" + write + " " + Packet(port, kWaitMs, {{&w, "w"}}));
  p.Close();
  CloseHandle(port);
}

// ---- Named pipes ---------------------------------------------------------------

void PipesOpenErrors() {
  WString name = PipeName("busy");
  HANDLE none = Client(PipeName("no-such-pipe"));
  std::string no_instance = none == INVALID_HANDLE_VALUE ? Err(GetLastError()) : "opened";
  HANDLE s = Server(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 4096, 1);
  HANDLE c = Client(name);
  HANDLE c2 = Client(name);
  std::string connected = c2 == INVALID_HANDLE_VALUE ? Err(GetLastError()) : "opened";
  std::string wait = R(WaitNamedPipeW(name.c_str(), 20));
  CloseHandle(c);
  HANDLE c3 = Client(name);
  std::string client_closed = c3 == INVALID_HANDLE_VALUE ? Err(GetLastError()) : "opened";
  std::string disc = R(DisconnectNamedPipe(s));
  HANDLE c4 = Client(name);
  std::string disconnected = c4 == INVALID_HANDLE_VALUE ? Err(GetLastError()) : "opened";
  Check("pipes.open-errors",
        "no-instance=" + no_instance + " instance-connected=" + connected + " WaitNamedPipe(20ms)=" +
            wait + " client-closed-not-disconnected=" + client_closed + " Disconnect=" + disc +
            " disconnected-not-listening=" + disconnected);
  for (HANDLE h : {c2, c3, c4}) {
    if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  }
  CloseHandle(s);
}

void PipesWaitNamedPipeAvailable() {
  WString name = PipeName("wait-ok");
  HANDLE s = Server(name);
  std::string wait = R(WaitNamedPipeW(name.c_str(), 20));
  Check("pipes.waitnamedpipe-listening-instance", "WaitNamedPipe=" + wait);
  CloseHandle(s);
}

// WaitNamedPipe waits for an instance to listen: a thread waits on a busy
// pipe while the main thread frees the instance. Whether the thread is
// already inside WaitNamedPipe when the instance frees up or calls it
// after, it returns TRUE.
struct PipeWaiter {
  const WString* name;
  HANDLE ready;
  std::string result;
};

DWORD WINAPI WaitForPipe(LPVOID arg) {
  auto* w = static_cast<PipeWaiter*>(arg);
  SetEvent(w->ready);
  w->result = R(WaitNamedPipeW(w->name->c_str(), kWaitMs));
  return 0;
}

void PipesWaitNamedPipeWaits() {
  WString name = PipeName("wait-busy");
  HANDLE s = Server(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 4096, 1);
  HANDLE c = Client(name);
  PipeWaiter w{&name, NewEvent(), ""};
  HANDLE t = CreateThread(nullptr, 0, WaitForPipe, &w, 0, nullptr);
  WaitForSingleObject(w.ready, kWaitMs);
  CloseHandle(c);
  DisconnectNamedPipe(s);
  OVERLAPPED listen{};
  listen.hEvent = NewEvent();
  std::string connect = R(ConnectNamedPipe(s, &listen));  // listening again
  std::string joined = WaitResult(WaitForSingleObject(t, 2 * kWaitMs));
  Check("pipes.waitnamedpipe-waits-for-an-instance",
        "ConnectNamedPipe=" + connect + " waiter=" + w.result + " thread=" + joined);
  CloseHandle(t);
  CloseHandle(w.ready);
  CloseHandle(s);
  // The pending ConnectNamedPipe ends with the close; `listen` must outlive it.
  WaitForSingleObject(listen.hEvent, kWaitMs);
  CloseHandle(listen.hEvent);
}

void PipesIoOnListeningInstance() {
  WString name = PipeName("listening-io");
  HANDLE s = Server(name);
  char buf[4];
  DWORD n = 0;
  OVERLAPPED r{}, w{};
  std::string read = R(ReadFile(s, buf, sizeof buf, &n, &r));
  std::string write = R(WriteFile(s, "x", 1, &n, &w));
  std::string disc = R(DisconnectNamedPipe(s));
  Check("pipes.io-on-listening-instance",
        "ReadFile=" + read + " WriteFile=" + write + " DisconnectNamedPipe=" + disc);
  CloseHandle(s);
}

void PipesConnect() {
  WString name = PipeName("connect");
  HANDLE port = NewPort();
  HANDLE s = Server(name);
  CreateIoCompletionPort(s, port, 1, 0);
  OVERLAPPED c{};
  std::string pending = R(ConnectNamedPipe(s, &c));
  OVERLAPPED c2{};
  std::string twice = R(ConnectNamedPipe(s, &c2));
  HANDLE client = Client(name);
  std::string pkt = Packet(port, kWaitMs, {{&c, "connect"}, {&c2, "connect2"}});
  std::string more = Packet(port, 0, {{&c, "connect"}, {&c2, "connect2"}});
  OVERLAPPED c3{};
  c3.Internal = 0x12345;
  std::string connected = R(ConnectNamedPipe(s, &c3));
  Check("pipes.connect-named-pipe",
        "no-client=" + pending + " second-while-pending=" + twice + " on-client=" + pkt + " " + more +
            " again-connected=" + connected + " Internal=" + Internal(c3) + " " + Packet(port, 0));
  CloseHandle(client);
  CloseHandle(s);
  CloseHandle(port);
}

void PipesClientBeforeConnect() {
  WString name = PipeName("early");
  HANDLE port = NewPort();
  HANDLE s = Server(name);
  CreateIoCompletionPort(s, port, 1, 0);
  HANDLE client = Client(name);
  OVERLAPPED c{};
  std::string connect = R(ConnectNamedPipe(s, &c));
  std::string first = Packet(port, 0);
  CloseHandle(client);
  OVERLAPPED c2{};
  std::string closed = R(ConnectNamedPipe(s, &c2));
  Check("pipes.client-before-connect", "ConnectNamedPipe=" + connect + " " + first +
                                           " after-client-closed=" + closed + " " + Packet(port, 0));
  CloseHandle(s);
  CloseHandle(port);
}

void PipesInstanceOrder() {
  WString name = PipeName("order");
  HANDLE a = Server(name), b = Server(name);
  HANDLE c1 = Client(name);
  DWORD n = 0;
  WriteFile(c1, "1", 1, &n, nullptr);
  char buf[4] = {};
  OVERLAPPED ra{};
  ra.hEvent = NewEvent();
  std::string read_a = R(ReadFile(a, buf, sizeof buf, &n, &ra));
  if (read_a == "FALSE/ERROR_IO_PENDING") {
    AwaitCompletion(ra);
    read_a = R(GetOverlappedResult(a, &ra, &n, FALSE));
  }
  Check("pipes.instances-in-listening-order",
        "first-created-reads=" + read_a + (read_a == "TRUE" ? " data=" + std::string(buf, n) : ""));
  CloseHandle(ra.hEvent);
  for (HANDLE h : {c1, a, b}) CloseHandle(h);
}

void PipesByteMode() {
  Pair p = MakePair("bytes");
  DWORD n = 0;
  WriteFile(p.client, "ab", 2, &n, nullptr);
  WriteFile(p.client, "cd", 2, &n, nullptr);
  char buf[8] = {};
  OVERLAPPED a{}, b{};
  std::string first = R(ReadFile(p.server, buf, 3, &n, &a));
  std::string got = std::string(buf, first == "TRUE" ? n : 0);
  std::string second = R(ReadFile(p.server, buf, sizeof buf, &n, &b));
  got += "|" + std::string(buf, second == "TRUE" ? n : 0);
  Check("pipes.byte-mode-coalesces", "ReadFile(3)=" + first + " ReadFile(8)=" + second + " data=" + got);
  p.Close();
}

void PipesMessageMode() {
  Pair p = MakePair("messages", PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE);
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 6, 0);
  DWORD n = 0;
  WriteFile(p.client, "hello", 5, &n, nullptr);
  std::string empty = R(WriteFile(p.client, "", 0, &n, nullptr));
  WriteFile(p.client, "x", 1, &n, nullptr);
  char buf[8] = {};
  OVERLAPPED a{}, b{}, c{}, d{};
  std::string r1 = R(ReadFile(p.server, buf, 3, &n, &a));
  std::string out = Fmt("ReadFile(3)=%s InternalHigh=%lu ", r1.c_str(), static_cast<unsigned long>(a.InternalHigh));
  out += Packet(port, 0, {{&a, "a"}});
  std::string r2 = R(ReadFile(p.server, buf, sizeof buf, &n, &b));
  out += " ReadFile=" + r2 + " data=" + std::string(buf, r2 == "TRUE" ? n : 0) + " " + Packet(port, 0, {{&b, "b"}});
  std::string r3 = R(ReadFile(p.server, buf, sizeof buf, &n, &c));
  out += Fmt(" empty-write=%s ReadFile=%s bytes=%lu ", empty.c_str(), r3.c_str(), static_cast<unsigned long>(r3 == "TRUE" ? n : 99));
  out += Packet(port, 0, {{&c, "c"}});
  std::string r4 = R(ReadFile(p.server, buf, sizeof buf, &n, &d));
  out += " ReadFile=" + r4 + " data=" + std::string(buf, r4 == "TRUE" ? n : 0);
  Check("pipes.message-mode", out + " " + Packet(port, 0, {{&d, "d"}}));
  p.Close();
  CloseHandle(port);
}

void PipesZeroLengthRead() {
  Pair p = MakePair("zero-read");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 6, 0);
  OVERLAPPED z{};
  char buf[8] = {};
  std::string zero = R(ReadFile(p.server, buf, 0, nullptr, &z));
  std::string idle = Packet(port, 0);
  DWORD n = 0;
  WriteFile(p.client, "z", 1, &n, nullptr);
  std::string pkt = Packet(port, kWaitMs, {{&z, "zero-read"}});
  OVERLAPPED r{};
  std::string read = R(ReadFile(p.server, buf, sizeof buf, &n, &r));
  Check("pipes.zero-length-read-waits-for-data",
        "ReadFile(0)=" + zero + " " + idle + " after-write=" + pkt + " ReadFile=" + read +
            " data=" + std::string(buf, read == "TRUE" ? n : 0));
  p.Close();
  CloseHandle(port);
}

void PipesWriteLargerThanBuffer() {
  Pair p = MakePair("big-write", PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1024);
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.client, port, 2, 0);
  std::string big(256 * 1024, 'w');
  OVERLAPPED w{};
  DWORD n = 0;
  std::string write = R(WriteFile(p.client, big.data(), static_cast<DWORD>(big.size()), &n, &w));
  std::string idle = Packet(port, 0);
  std::vector<char> buf(big.size());
  size_t total = 0;
  std::string reads = "ok";
  while (total < big.size()) {
    OVERLAPPED r{};
    r.hEvent = NewEvent();
    BOOL ok = ReadFile(p.server, buf.data(), static_cast<DWORD>(buf.size() - total), nullptr, &r);
    if (!ok && GetLastError() == ERROR_IO_PENDING) {
      WaitForSingleObject(r.hEvent, kWaitMs);
      ok = TRUE;
    }
    DWORD got = 0;
    if (!ok || !GetOverlappedResult(p.server, &r, &got, FALSE) || got == 0) {
      reads = "failed/" + Err(GetLastError());
      CloseHandle(r.hEvent);
      break;
    }
    CloseHandle(r.hEvent);
    total += got;
  }
  Check("pipes.write-larger-than-buffer-pends",
        "WriteFile=" + write + " before-drain=" + idle + " reads=" + reads +
            Fmt(" drained=%lu ", static_cast<unsigned long>(total)) + Packet(port, kWaitMs, {{&w, "w"}}));
  p.Close();
  CloseHandle(port);
}

}  // namespace

void RunPipeChecks() {
  for (void (*check)() : {ClosePeerPendingRead,
       ClosePeerBufferedData,
       CloseLastHandleCancels,
       CloseListeningWithPendingConnect,
       CloseDisconnect,
       CloseReaderUnderPendingWrite,
       PipesOpenErrors,
       PipesWaitNamedPipeAvailable,
       PipesWaitNamedPipeWaits,
       PipesIoOnListeningInstance,
       PipesConnect,
       PipesClientBeforeConnect,
       PipesInstanceOrder,
       PipesByteMode,
       PipesMessageMode,
       PipesZeroLengthRead,
       PipesWriteLargerThanBuffer}) {
    check();
  }
}

}  // namespace iocpsim::conformance
