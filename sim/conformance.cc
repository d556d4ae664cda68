// The conformance program: the statements of ../shared/WIN32-MODEL.md as
// checks written against the Win32 API only, printing one line per check
// with what was observed (return values, GetLastError, the packets
// GetQueuedCompletionStatus returns with their bytes, key and status; never
// an address or a time).
//
// It is built twice from this one file: against the virtual kernel (the
// host build runs it on the canonical schedule) and, with the `mingw`
// preset, as a Windows executable. Under Wine its output is the reference,
// committed as sim/conformance/wine-8.0.txt; sim/conformance/differences.txt
// lists, with a reason and a source, every check where the virtual kernel
// prints something else. sim/conformance_test.sh compares them.
//
// No check depends on timing: handshakes are events, every wait is bounded
// (kWaitMs; a bound reached is printed, not waited out), and a check that
// needs "thread X is blocked inside call Y" waits a grace period and says
// so in its comment.
//
//   build/dev/sim/win32_conformance                      (virtual kernel)
//   wine build/mingw/win32_conformance.exe               (Wine, or Windows)
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sim/win32.h"

#ifndef _WIN32
#include "sim/sim.h"
#endif

namespace {

#ifdef _WIN32
#define W(s) L##s
#else
#define W(s) u##s
#endif
using WString = std::basic_string<WCHAR>;

constexpr DWORD kWaitMs = 5000;   // a bound on every wait for something that must happen
constexpr DWORD kGraceMs = 200;   // time for another thread to block in a call
constexpr DWORD kSentinel = 0xDEAD;
constexpr ULONG_PTR kSentinelKey = 0xBEEF;

// ---- Printing ---------------------------------------------------------------

std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

void Check(const char* name, const std::string& observed) {
  std::printf("%s: %s\n", name, observed.c_str());
  std::fflush(stdout);
}

std::string Err(DWORD e) {
  switch (e) {
    case ERROR_SUCCESS: return "0";
    case ERROR_FILE_NOT_FOUND: return "ERROR_FILE_NOT_FOUND";
    case ERROR_INVALID_HANDLE: return "ERROR_INVALID_HANDLE";
    case ERROR_INVALID_PARAMETER: return "ERROR_INVALID_PARAMETER";
    case ERROR_BROKEN_PIPE: return "ERROR_BROKEN_PIPE";
    case ERROR_SEM_TIMEOUT: return "ERROR_SEM_TIMEOUT";
    case ERROR_PIPE_BUSY: return "ERROR_PIPE_BUSY";
    case ERROR_NO_DATA: return "ERROR_NO_DATA";
    case ERROR_PIPE_NOT_CONNECTED: return "ERROR_PIPE_NOT_CONNECTED";
    case ERROR_MORE_DATA: return "ERROR_MORE_DATA";
    case WAIT_TIMEOUT: return "WAIT_TIMEOUT";
    case ERROR_PIPE_CONNECTED: return "ERROR_PIPE_CONNECTED";
    case ERROR_PIPE_LISTENING: return "ERROR_PIPE_LISTENING";
    case ERROR_ABANDONED_WAIT_0: return "ERROR_ABANDONED_WAIT_0";
    case ERROR_OPERATION_ABORTED: return "ERROR_OPERATION_ABORTED";
    case ERROR_IO_INCOMPLETE: return "ERROR_IO_INCOMPLETE";
    case ERROR_IO_PENDING: return "ERROR_IO_PENDING";
    case ERROR_NOT_FOUND: return "ERROR_NOT_FOUND";
    case 676: return "ERROR_HANDLES_CLOSED";
    default: return Fmt("%lu", static_cast<unsigned long>(e));
  }
}

// A BOOL call's result: "TRUE", or "FALSE/<error>". Reads GetLastError
// right after the call (the argument is evaluated first).
std::string R(BOOL ok) { return ok ? "TRUE" : "FALSE/" + Err(GetLastError()); }

std::string WaitResult(DWORD r) {
  if (r == WAIT_OBJECT_0) return "WAIT_OBJECT_0";
  if (r == WAIT_TIMEOUT) return "WAIT_TIMEOUT";
  return "WAIT_FAILED/" + Err(GetLastError());
}

// "ok", "pending" (still STATUS_PENDING) or the NTSTATUS in hex.
std::string Internal(const OVERLAPPED& ov) {
  if (static_cast<NTSTATUS>(ov.Internal) == STATUS_PENDING) return "STATUS_PENDING";
  if (ov.Internal == 0) return "STATUS_SUCCESS";
  return Fmt("0x%08lx", static_cast<unsigned long>(ov.Internal & 0xFFFFFFFFu));
}

struct Named {
  const OVERLAPPED* ov;
  const char* name;
};

// Dequeues one packet: "pkt(TRUE bytes=5 key=7 ov=a)", "pkt(FALSE/<error>
// ...)", or "none/<error>" when nothing was dequeued (with " touched" if
// bytes or key were written anyway).
std::string Packet(HANDLE port, DWORD timeout_ms, std::vector<Named> names = {}) {
  DWORD bytes = kSentinel;
  ULONG_PTR key = kSentinelKey;
  OVERLAPPED* ov = reinterpret_cast<OVERLAPPED*>(uintptr_t{0x1});
  BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &ov, timeout_ms);
  DWORD e = ok ? 0 : GetLastError();
  if (!ok && ov == nullptr) {
    bool touched = bytes != kSentinel || key != kSentinelKey;
    return "none/" + Err(e) + (touched ? " touched" : "");
  }
  // A posted packet may carry a null OVERLAPPED: TRUE with *lpOverlapped
  // NULL is a packet, not "nothing dequeued".
  std::string which = ov == nullptr ? "null" : "other";
  for (const Named& n : names) {
    if (n.ov == ov) which = n.name;
  }
  return Fmt("pkt(%s bytes=%lu key=%lu ov=%s)", ok ? "TRUE" : ("FALSE/" + Err(e)).c_str(),
             static_cast<unsigned long>(bytes), static_cast<unsigned long>(key), which.c_str());
}

// ---- Objects ----------------------------------------------------------------

WString PipeName(const char* tag) {
  std::string s = Fmt("\\\\.\\pipe\\iocpsim-conformance-%lu-%s",
                      static_cast<unsigned long>(GetCurrentProcessId()), tag);
  return WString(s.begin(), s.end());
}

HANDLE NewPort() { return CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1); }

HANDLE NewEvent(bool manual = true) { return CreateEventW(nullptr, manual, FALSE, nullptr); }

HANDLE Server(const WString& name, DWORD mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE,
              DWORD buffer = 4096, DWORD instances = PIPE_UNLIMITED_INSTANCES) {
  return CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, mode, instances,
                          buffer, buffer, 0, nullptr);
}

HANDLE Client(const WString& name, DWORD flags = FILE_FLAG_OVERLAPPED, bool inherit = false) {
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, inherit ? TRUE : FALSE};
  return CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, flags,
                     nullptr);
}

// A connected pair of overlapped ends: the server instance and a client.
struct Pair {
  HANDLE server;
  HANDLE client;
  void Close() {
    if (server != nullptr) CloseHandle(server);
    if (client != nullptr) CloseHandle(client);
  }
};

Pair MakePair(const char* tag, DWORD mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE,
              DWORD buffer = 4096) {
  WString name = PipeName(tag);
  HANDLE s = Server(name, mode, buffer);
  HANDLE c = Client(name);
  if (s == INVALID_HANDLE_VALUE || c == INVALID_HANDLE_VALUE) {
    std::printf("harness: cannot make the pipe %s (error %lu)\n", tag,
                static_cast<unsigned long>(GetLastError()));
    std::exit(1);
  }
  if (mode & PIPE_READMODE_MESSAGE) {
    // A client opens in byte read mode; asyncio's pipes are byte pipes.
  }
  return {s, c};
}

// Issues an overlapped read that must go pending; prints nothing.
bool PendingRead(HANDLE h, void* buf, DWORD size, OVERLAPPED* ov) {
  return !ReadFile(h, buf, size, nullptr, ov) && GetLastError() == ERROR_IO_PENDING;
}

// Waits (bounded) for an OVERLAPPED's event: the operation has completed
// in the kernel, whatever the port has seen of it.
std::string AwaitCompletion(const OVERLAPPED& ov) {
  return WaitResult(WaitForSingleObject(ov.hEvent, kWaitMs));
}

// ---- Ports and packets --------------------------------------------------------

void PortsSyncSuccessQueuesPacket() {
  Pair p = MakePair("sync-success");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.client, port, 7, 0);
  CreateIoCompletionPort(p.server, port, 8, 0);
  OVERLAPPED w{}, r{};
  DWORD n = 0;
  std::string write = R(WriteFile(p.client, "hello", 5, &n, &w));
  std::string wpkt = Packet(port, 0, {{&w, "w"}});
  char buf[16];
  std::string read = R(ReadFile(p.server, buf, sizeof buf, &n, &r));
  std::string rpkt = Packet(port, 0, {{&r, "r"}});
  std::string then = Packet(port, 0);
  Check("ports.sync-success-queues-packet",
        "WriteFile=" + write + " " + wpkt + " ReadFile=" + read + " " + rpkt + " then " + then);
  p.Close();
  CloseHandle(port);
}

void PortsSkipOnSuccess() {
  Pair p = MakePair("skip");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.client, port, 7, 0);
  std::string set = R(SetFileCompletionNotificationModes(p.client, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
  OVERLAPPED w{};
  DWORD n = 0;
  std::string write = R(WriteFile(p.client, "a", 1, &n, &w));
  std::string first = Packet(port, 0);
  // The mode cannot be cleared (MS:SetFileCompletionNotificationModes).
  std::string clear = R(SetFileCompletionNotificationModes(p.client, 0));
  OVERLAPPED w2{};
  std::string write2 = R(WriteFile(p.client, "b", 1, &n, &w2));
  Check("ports.skip-completion-port-on-success",
        "Set=" + set + " WriteFile=" + write + " " + first + " Set(0)=" + clear +
            " WriteFile=" + write2 + " " + Packet(port, 0));
  p.Close();
  CloseHandle(port);
}

void PortsSyncFailureNoPacket() {
  Pair p = MakePair("sync-failure");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 7, 0);
  CloseHandle(p.client);
  p.client = nullptr;
  OVERLAPPED r{};
  r.Internal = 0x12345;
  char buf[8];
  std::string read = R(ReadFile(p.server, buf, sizeof buf, nullptr, &r));
  Check("ports.sync-failure-queues-no-packet",
        "ReadFile=" + read + " Internal=" + Internal(r) + " " + Packet(port, 0));
  p.Close();
  CloseHandle(port);
}

void PortsStatusDeferredUntilDequeued() {
  Pair p = MakePair("deferred");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 7, 0);
  OVERLAPPED r{};
  r.hEvent = NewEvent();
  char buf[8];
  bool pending = PendingRead(p.server, buf, sizeof buf, &r);
  DWORD n = 0;
  WriteFile(p.client, "abc", 3, &n, nullptr);
  std::string done = AwaitCompletion(r);
  // MS:I/O Completion Ports: the status block "will not be updated until
  // the packet is removed from the completion port".
  std::string before = HasOverlappedIoCompleted(&r) ? "completed" : "not-completed";
  std::string pkt = Packet(port, kWaitMs, {{&r, "r"}});
  std::string after = HasOverlappedIoCompleted(&r) ? "completed" : "not-completed";
  Check("ports.status-block-deferred-until-dequeued",
        Fmt("pending=%d event=%s before-dequeue=%s ", pending, done.c_str(), before.c_str()) + pkt +
            " after-dequeue=" + after + Fmt(" InternalHigh=%lu", static_cast<unsigned long>(r.InternalHigh)));
  CloseHandle(r.hEvent);
  p.Close();
  CloseHandle(port);
}

void PortsFailedPacket() {
  Pair p = MakePair("failed-packet");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 9, 0);
  OVERLAPPED r{};
  char buf[8];
  bool pending = PendingRead(p.server, buf, sizeof buf, &r);
  CloseHandle(p.client);
  p.client = nullptr;
  Check("ports.failed-operation-packet",
        Fmt("pending=%d ", pending) + Packet(port, kWaitMs, {{&r, "r"}}));
  p.Close();
  CloseHandle(port);
}

void PortsTimeout() {
  HANDLE port = NewPort();
  std::string zero = Packet(port, 0);
  std::string bounded = Packet(port, 20);
  Check("ports.gqcs-timeout", "timeout0=" + zero + " timeout20=" + bounded);
  CloseHandle(port);
}

void PortsPostedVerbatimFifo() {
  HANDLE port = NewPort();
  auto* fake = reinterpret_cast<OVERLAPPED*>(uintptr_t{0x5678});
  std::string post = R(PostQueuedCompletionStatus(port, 1234, 0xABCD, fake));
  PostQueuedCompletionStatus(port, 1, 1, nullptr);
  PostQueuedCompletionStatus(port, 2, 2, nullptr);
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  OVERLAPPED* ov = nullptr;
  BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &ov, 0);
  std::string first = Fmt("%s bytes=%lu key=0x%lx ov-verbatim=%d", ok ? "TRUE" : "FALSE",
                          static_cast<unsigned long>(bytes), static_cast<unsigned long>(key),
                          ov == fake);
  // A posted packet with a null OVERLAPPED is dequeued as such: GQCS
  // returns TRUE with *lpOverlapped == NULL.
  std::string order;
  for (int i = 0; i < 2; ++i) {
    ok = GetQueuedCompletionStatus(port, &bytes, &key, &ov, 0);
    order += Fmt("%s%s:key=%lu:ov-null=%d", i ? "," : "", ok ? "TRUE" : "FALSE",
                 static_cast<unsigned long>(key), ov == nullptr);
  }
  Check("ports.posted-packet-verbatim-fifo",
        "Post=" + post + " first=(" + first + ") then=" + order + " " + Packet(port, 0));
  CloseHandle(port);
}

void PortsGqcsExPartial() {
  HANDLE port = NewPort();
  for (ULONG_PTR k = 1; k <= 3; ++k) PostQueuedCompletionStatus(port, static_cast<DWORD>(k * 10), k, nullptr);
  OVERLAPPED_ENTRY entries[2]{};
  ULONG removed = 0;
  std::string ex = R(GetQueuedCompletionStatusEx(port, entries, 2, &removed, 0, FALSE));
  std::string got;
  for (ULONG i = 0; i < removed && i < 2; ++i) {
    got += Fmt("%s(key=%lu bytes=%lu)", i ? "," : "", static_cast<unsigned long>(entries[i].lpCompletionKey),
               static_cast<unsigned long>(entries[i].dwNumberOfBytesTransferred));
  }
  std::string rest = Packet(port, 0);
  std::string then = Packet(port, 0);
  Check("ports.gqcsex-returns-up-to-count",
        "GQCSEx=" + ex + Fmt(" removed=%lu ", static_cast<unsigned long>(removed)) + got +
            " rest=" + rest + " then " + then);
  CloseHandle(port);
}

void PortsOneAssociation() {
  Pair p = MakePair("one-port");
  HANDLE a = NewPort(), b = NewPort();
  HANDLE first = CreateIoCompletionPort(p.server, a, 1, 0);
  std::string r1 = first == a ? "port-a" : "FAILED/" + Err(GetLastError());
  HANDLE second = CreateIoCompletionPort(p.server, b, 2, 0);
  std::string r2 = second == b ? "port-b" : second == nullptr ? "NULL/" + Err(GetLastError()) : "other";
  HANDLE again = CreateIoCompletionPort(p.server, a, 3, 0);
  std::string r3 = again == a ? "port-a" : again == nullptr ? "NULL/" + Err(GetLastError()) : "other";
  // Which key does a packet carry now? The first association's.
  DWORD n = 0;
  OVERLAPPED r{};
  char buf[4];
  PendingRead(p.server, buf, sizeof buf, &r);
  WriteFile(p.client, "k", 1, &n, nullptr);
  std::string on_a = Packet(a, kWaitMs, {{&r, "r"}});
  std::string on_b = Packet(b, 0);
  Check("ports.one-port-per-handle", "first=" + r1 + " other-port=" + r2 + " same-port-again=" + r3 +
                                         " packet-on-a=" + on_a + " on-b=" + on_b);
  p.Close();
  CloseHandle(a);
  CloseHandle(b);
}

// A thread blocked in GetQueuedCompletionStatus while another closes the
// port. Needs the waiter inside the call: it signals, then the closer
// waits kGraceMs before closing.
struct CloseUnderWait {
  HANDLE port;
  HANDLE ready;
  std::string result;
};

DWORD WINAPI WaitOnPort(LPVOID arg) {
  auto* c = static_cast<CloseUnderWait*>(arg);
  SetEvent(c->ready);
  c->result = Packet(c->port, kWaitMs);
  return 0;
}

void PortsClosedUnderWait() {
  CloseUnderWait c{NewPort(), NewEvent(), ""};
  HANDLE t = CreateThread(nullptr, 0, WaitOnPort, &c, 0, nullptr);
  WaitForSingleObject(c.ready, kWaitMs);
  Sleep(kGraceMs);
  std::string close = R(CloseHandle(c.port));
  std::string joined = WaitResult(WaitForSingleObject(t, 2 * kWaitMs));
  Check("ports.closed-under-waiting-gqcs", "CloseHandle=" + close + " waiter=" + c.result +
                                               " thread=" + joined);
  CloseHandle(t);
  CloseHandle(c.ready);
}

void HandlesValueReuse() {
  HANDLE a = NewEvent();
  CloseHandle(a);
  std::string twice = R(CloseHandle(a));
  HANDLE b = NewEvent();
  Check("handles.closed-value-reused", "second-CloseHandle=" + twice + Fmt(" reused=%d", a == b));
  CloseHandle(b);
}

// ---- Cancellation -------------------------------------------------------------

void CancelPending() {
  Pair p = MakePair("cancel");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 5, 0);
  OVERLAPPED r{}, never{};
  char buf[8];
  bool pending = PendingRead(p.server, buf, sizeof buf, &r);
  std::string not_issued = R(CancelIoEx(p.server, &never));
  std::string cancel = R(CancelIoEx(p.server, &r));
  std::string again = R(CancelIoEx(p.server, &r));
  std::string pkt = Packet(port, kWaitMs, {{&r, "r"}});
  Check("cancel.pending-operation",
        Fmt("pending=%d never-issued=", pending) + not_issued + " CancelIoEx=" + cancel +
            " again-before-dequeue=" + again + " " + pkt + " after=" + R(CancelIoEx(p.server, &r)));
  p.Close();
  CloseHandle(port);
}

void CancelCompletedPacketQueued() {
  Pair p = MakePair("cancel-done");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 5, 0);
  OVERLAPPED r{};
  r.hEvent = NewEvent();
  char buf[8];
  bool pending = PendingRead(p.server, buf, sizeof buf, &r);
  DWORD n = 0;
  WriteFile(p.client, "data", 4, &n, nullptr);
  std::string done = AwaitCompletion(r);
  std::string cancel = R(CancelIoEx(p.server, &r));
  Check("cancel.completed-with-packet-queued",
        Fmt("pending=%d event=%s CancelIoEx=", pending, done.c_str()) + cancel + " " +
            Packet(port, kWaitMs, {{&r, "r"}}));
  CloseHandle(r.hEvent);
  p.Close();
  CloseHandle(port);
}

void GetOverlappedResultPendingThenDone() {
  Pair p = MakePair("overlapped-result");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 5, 0);
  OVERLAPPED r{};
  char buf[8];
  bool pending = PendingRead(p.server, buf, sizeof buf, &r);
  DWORD n = kSentinel;
  std::string incomplete = R(GetOverlappedResult(p.server, &r, &n, FALSE));
  WriteFile(p.client, "abc", 3, &n, nullptr);
  std::string pkt = Packet(port, kWaitMs, {{&r, "r"}});
  n = kSentinel;
  std::string done = R(GetOverlappedResult(p.server, &r, &n, FALSE));
  Check("cancel.getoverlappedresult-pending-then-done",
        Fmt("pending=%d GetOverlappedResult=", pending) + incomplete + " " + pkt +
            " GetOverlappedResult=" + done + Fmt(" bytes=%lu", static_cast<unsigned long>(n)));
  p.Close();
  CloseHandle(port);
}

void CancelNullNothingPending() {
  Pair p = MakePair("cancel-null");
  Check("cancel.null-with-nothing-pending", "CancelIoEx(h,NULL)=" + R(CancelIoEx(p.server, nullptr)));
  p.Close();
}

// CancelIoEx cancels from any thread; CancelIo only the calling thread's
// operations. The reader thread issues a read and waits for `go`.
struct ThreadRead {
  HANDLE h;
  HANDLE issued;
  HANDLE go;
  OVERLAPPED ov;
  char buf[8];
  std::string own_cancel;
};

DWORD WINAPI IssueReadAndWait(LPVOID arg) {
  auto* t = static_cast<ThreadRead*>(arg);
  PendingRead(t->h, t->buf, sizeof t->buf, &t->ov);
  SetEvent(t->issued);
  WaitForSingleObject(t->go, kWaitMs);
  t->own_cancel = R(CancelIo(t->h));
  return 0;
}

void CancelFromOtherThreads() {
  Pair p = MakePair("cancel-thread");
  HANDLE port = NewPort();
  CreateIoCompletionPort(p.server, port, 5, 0);
  ThreadRead tr{p.server, NewEvent(), NewEvent(), {}, {}, ""};
  HANDLE t = CreateThread(nullptr, 0, IssueReadAndWait, &tr, 0, nullptr);
  WaitForSingleObject(tr.issued, kWaitMs);
  std::string other = R(CancelIo(p.server));
  std::string after_other = Packet(port, 0);
  SetEvent(tr.go);
  WaitForSingleObject(t, kWaitMs);
  std::string own = Packet(port, kWaitMs, {{&tr.ov, "r"}});
  // Again, cancelled this time with CancelIoEx from the main thread.
  ThreadRead tr2{p.server, NewEvent(), NewEvent(), {}, {}, ""};
  HANDLE t2 = CreateThread(nullptr, 0, IssueReadAndWait, &tr2, 0, nullptr);
  WaitForSingleObject(tr2.issued, kWaitMs);
  std::string ex = R(CancelIoEx(p.server, &tr2.ov));
  std::string ex_pkt = Packet(port, kWaitMs, {{&tr2.ov, "r2"}});
  SetEvent(tr2.go);
  WaitForSingleObject(t2, kWaitMs);
  Check("cancel.cancelio-calling-thread-only",
        "CancelIo(other-thread's)=" + other + " " + after_other + " CancelIo(own)=" + tr.own_cancel +
            " " + own + " CancelIoEx(other-thread's)=" + ex + " " + ex_pkt);
  for (HANDLE h : {t, t2, tr.issued, tr.go, tr2.issued, tr2.go}) CloseHandle(h);
  p.Close();
  CloseHandle(port);
}

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

// ---- Waits and the thread pool ------------------------------------------------------

struct WaitState {
  HANDLE wait = nullptr;
  HANDLE started = nullptr;
  HANDLE release = nullptr;  // the callback waits for it, if set
  DWORD sleep_ms = 0;
  int calls = 0;
  int finished = 0;
  int timer_fired = -1;
  std::string unregister_inside;
  bool unregister_self = false;
  HANDLE done = nullptr;  // set when the callback returns, if given
};

void CALLBACK OnWait(PVOID context, BOOLEAN timer_fired) {
  auto* s = static_cast<WaitState*>(context);
  ++s->calls;
  s->timer_fired = timer_fired ? 1 : 0;
  if (s->unregister_self) s->unregister_inside = R(UnregisterWaitEx(s->wait, nullptr));
  SetEvent(s->started);
  if (s->release != nullptr) WaitForSingleObject(s->release, kWaitMs);
  if (s->sleep_ms != 0) Sleep(s->sleep_ms);
  ++s->finished;
  if (s->done != nullptr) SetEvent(s->done);  // last: `s` may be gone after it
}

void WaitsFireOnceAndRepeat() {
  WaitState once;
  once.started = NewEvent(false);
  HANDLE manual = NewEvent(true);
  RegisterWaitForSingleObject(&once.wait, manual, OnWait, &once, INFINITE, WT_EXECUTEONLYONCE);
  SetEvent(manual);
  std::string fired = WaitResult(WaitForSingleObject(once.started, kWaitMs));
  Sleep(kGraceMs);  // a second (wrong) firing would come now
  std::string unreg = R(UnregisterWaitEx(once.wait, INVALID_HANDLE_VALUE));
  WaitState repeat;
  repeat.started = NewEvent(false);
  HANDLE autoreset = NewEvent(false);
  RegisterWaitForSingleObject(&repeat.wait, autoreset, OnWait, &repeat, INFINITE, 0);
  SetEvent(autoreset);
  std::string f1 = WaitResult(WaitForSingleObject(repeat.started, kWaitMs));
  SetEvent(autoreset);
  std::string f2 = WaitResult(WaitForSingleObject(repeat.started, kWaitMs));
  std::string unreg2 = R(UnregisterWaitEx(repeat.wait, INVALID_HANDLE_VALUE));
  Check("waits.register-fires",
        "once: " + fired + Fmt(" calls=%d timer=%d ", once.calls, once.timer_fired) + "Unregister=" + unreg +
            " repeat: " + f1 + "," + f2 + Fmt(" calls=%d ", repeat.calls) + "Unregister=" + unreg2);
  for (HANDLE h : {once.started, manual, repeat.started, autoreset}) CloseHandle(h);
}

void WaitsTimeout() {
  WaitState s;
  s.started = NewEvent(false);
  HANDLE never = NewEvent(true);
  RegisterWaitForSingleObject(&s.wait, never, OnWait, &s, 20, WT_EXECUTEONLYONCE);
  std::string fired = WaitResult(WaitForSingleObject(s.started, kWaitMs));
  std::string unreg = R(UnregisterWaitEx(s.wait, INVALID_HANDLE_VALUE));
  Check("waits.timeout-fires-with-timer-flag",
        fired + Fmt(" calls=%d timer=%d ", s.calls, s.timer_fired) + "Unregister=" + unreg);
  CloseHandle(s.started);
  CloseHandle(never);
}

void WaitsUnregisterWhileRunning() {
  WaitState s;
  s.started = NewEvent(false);
  s.release = NewEvent(true);
  HANDLE ev = NewEvent(true);
  RegisterWaitForSingleObject(&s.wait, ev, OnWait, &s, INFINITE, WT_EXECUTEONLYONCE);
  SetEvent(ev);
  WaitForSingleObject(s.started, kWaitMs);
  HANDLE done = NewEvent(true);
  std::string unreg = R(UnregisterWaitEx(s.wait, done));
  std::string early = WaitResult(WaitForSingleObject(done, 0));
  SetEvent(s.release);
  std::string later = WaitResult(WaitForSingleObject(done, kWaitMs));
  Check("waits.unregister-while-callback-runs",
        "UnregisterWaitEx(event)=" + unreg + " event-before-finish=" + early + " after=" + later +
            Fmt(" finished=%d", s.finished));
  for (HANDLE h : {s.started, s.release, ev, done}) CloseHandle(h);
}

void WaitsUnregisterBlocking() {
  WaitState s;
  s.started = NewEvent(false);
  s.sleep_ms = 50;
  HANDLE ev = NewEvent(true);
  RegisterWaitForSingleObject(&s.wait, ev, OnWait, &s, INFINITE, WT_EXECUTEONLYONCE);
  SetEvent(ev);
  WaitForSingleObject(s.started, kWaitMs);
  std::string unreg = R(UnregisterWaitEx(s.wait, INVALID_HANDLE_VALUE));
  Check("waits.unregister-invalid-handle-blocks",
        "UnregisterWaitEx(INVALID_HANDLE_VALUE)=" + unreg + Fmt(" finished-on-return=%d", s.finished));
  CloseHandle(s.started);
  CloseHandle(ev);
}

void WaitsUnregisterIdleAndInside() {
  WaitState idle;
  HANDLE ev = NewEvent(true);
  RegisterWaitForSingleObject(&idle.wait, ev, OnWait, &idle, INFINITE, WT_EXECUTEONLYONCE);
  std::string unreg = R(UnregisterWait(idle.wait));
  WaitState self;
  self.started = NewEvent(false);
  self.done = NewEvent(true);
  self.unregister_self = true;
  HANDLE ev2 = NewEvent(true);
  RegisterWaitForSingleObject(&self.wait, ev2, OnWait, &self, INFINITE, WT_EXECUTEONLYONCE);
  SetEvent(ev2);
  std::string fired = WaitResult(WaitForSingleObject(self.started, kWaitMs));
  std::string returned = WaitResult(WaitForSingleObject(self.done, kWaitMs));
  Check("waits.unregister-idle-and-from-own-callback",
        "UnregisterWait(idle)=" + unreg + " callback: " + fired + "," + returned +
            " UnregisterWaitEx(NULL) inside=" + self.unregister_inside);
  for (HANDLE h : {ev, self.started, self.done, ev2}) CloseHandle(h);
}

DWORD WINAPI SetEventItem(LPVOID arg) {
  SetEvent(static_cast<HANDLE>(arg));
  return 0;
}

void WaitsWorkItem() {
  HANDLE done = NewEvent(true);
  std::string queued = R(QueueUserWorkItem(SetEventItem, done, WT_EXECUTEDEFAULT));
  Check("waits.queue-user-work-item-runs",
        "QueueUserWorkItem=" + queued + " ran=" + WaitResult(WaitForSingleObject(done, kWaitMs)));
  CloseHandle(done);
}

// ---- Processes ----------------------------------------------------------------------

// The child programs: "conf-child stdin-exit CODE" reads stdin until it
// fails or ends, then exits CODE; "conf-child exit CODE" exits at once;
// "conf-child read-then-wait" issues an overlapped read on its stdin,
// writes "r" to stdout and sleeps until killed.
int ChildMain(const std::vector<std::string>& argv) {
  std::string what = argv.size() > 1 ? argv[1] : "";
  int code = argv.size() > 2 ? std::atoi(argv[2].c_str()) : 0;
  if (what == "exit") return code;
  if (what == "stdin-exit") {
    char buf[64];
    DWORD n = 0;
    while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf, sizeof buf, &n, nullptr) && n > 0) {
    }
    return code;
  }
  if (what == "read-then-wait") {
    static OVERLAPPED ov{};
    static char buf[16];
    if (!PendingRead(GetStdHandle(STD_INPUT_HANDLE), buf, sizeof buf, &ov)) return 1;
    DWORD n = 0;
    WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), "r", 1, &n, nullptr);
    Sleep(INFINITE);
  }
  return 99;
}

struct Child {
  PROCESS_INFORMATION pi{};
  std::string created;
};

// Starts "conf-child ARGS" with the given standard handles (inheritable).
Child StartChild(const char* args, HANDLE in, HANDLE out) {
  std::string line = std::string("conf-child ") + args;
  WString wline(line.begin(), line.end());
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = in;
  si.hStdOutput = out;
  si.hStdError = out;
  Child c;
#ifdef _WIN32
  WCHAR self[MAX_PATH];
  GetModuleFileNameW(nullptr, self, MAX_PATH);
  const WCHAR* app = self;
#else
  const WCHAR* app = nullptr;
#endif
  c.created = R(CreateProcessW(app, wline.data(), nullptr, nullptr, TRUE, CREATE_NO_WINDOW, nullptr,
                               nullptr, &si, &c.pi));
  return c;
}

void EndChild(Child& c) {
  if (c.pi.hProcess == nullptr) return;
  CloseHandle(c.pi.hThread);
  CloseHandle(c.pi.hProcess);
}

void ProcessStillActiveThenSignalled() {
  WString name = PipeName("child-stdin");
  HANDLE parent = Server(name);
  HANDLE child_in = Client(name, 0, true);
  Child c = StartChild("stdin-exit 7", child_in, child_in);
  CloseHandle(child_in);
  DWORD code = 0;
  std::string running = R(GetExitCodeProcess(c.pi.hProcess, &code));
  DWORD running_code = code;
  std::string wait0 = WaitResult(WaitForSingleObject(c.pi.hProcess, 0));
  CloseHandle(parent);  // the child's ReadFile fails: it exits
  std::string ended = WaitResult(WaitForSingleObject(c.pi.hProcess, kWaitMs));
  std::string exit = R(GetExitCodeProcess(c.pi.hProcess, &code));
  std::string again = WaitResult(WaitForSingleObject(c.pi.hProcess, 0));
  Check("process.exit-code-and-signal",
        "CreateProcess=" + c.created + " GetExitCodeProcess=" + running +
            Fmt(" code=%lu ", static_cast<unsigned long>(running_code)) + "wait0=" + wait0 +
            " after-stdin-closed=" + ended + " GetExitCodeProcess=" + exit +
            Fmt(" code=%lu ", static_cast<unsigned long>(code)) + "wait-again=" + again);
  EndChild(c);
}

void ProcessExitsBeforeParentReads() {
  WString name = PipeName("child-early");
  HANDLE port = NewPort();
  HANDLE parent = Server(name);
  CreateIoCompletionPort(parent, port, 11, 0);
  HANDLE child_out = Client(name, 0, true);
  Child c = StartChild("exit 3", child_out, child_out);
  CloseHandle(child_out);
  std::string ended = WaitResult(WaitForSingleObject(c.pi.hProcess, kWaitMs));
  // The parent issues its first read only now. The child's end closes
  // with it, but not necessarily before its process handle is signalled
  // (WIN32-MODEL.md: in either order), so the read fails either at once or
  // through its packet; what is printed is the error.
  OVERLAPPED r{};
  char buf[8];
  std::string read = R(ReadFile(parent, buf, sizeof buf, nullptr, &r));
  if (read == "FALSE/ERROR_IO_PENDING") read = Packet(port, kWaitMs, {{&r, "r"}});
  if (read == "pkt(FALSE/ERROR_BROKEN_PIPE bytes=0 key=11 ov=r)") read = "FALSE/ERROR_BROKEN_PIPE";
  DWORD code = 0;
  GetExitCodeProcess(c.pi.hProcess, &code);
  Check("process.child-exits-before-parent-reads",
        "CreateProcess=" + c.created + " exited=" + ended + Fmt(" code=%lu ", static_cast<unsigned long>(code)) +
            "ReadFile(sync-or-packet)=" + read + " " + Packet(port, 0));
  EndChild(c);
  CloseHandle(parent);
  CloseHandle(port);
}

void ProcessChildEndCompletesPendingRead() {
  WString name = PipeName("child-pending");
  HANDLE port = NewPort();
  HANDLE parent = Server(name);
  CreateIoCompletionPort(parent, port, 12, 0);
  HANDLE child_out = Client(name, 0, true);
  OVERLAPPED r{};
  char buf[8];
  bool pending = PendingRead(parent, buf, sizeof buf, &r);
  Child c = StartChild("exit 4", child_out, child_out);
  CloseHandle(child_out);
  // The packet and the process handle's signal come in either order; both
  // are awaited.
  std::string pkt = Packet(port, kWaitMs, {{&r, "r"}});
  std::string ended = WaitResult(WaitForSingleObject(c.pi.hProcess, kWaitMs));
  Check("process.child-exit-completes-pending-read",
        Fmt("pending=%d CreateProcess=", pending) + c.created + " " + pkt + " exited=" + ended);
  EndChild(c);
  CloseHandle(parent);
  CloseHandle(port);
}

void ProcessTerminatedOperationsCancelled() {
  WString name = PipeName("child-async");
  HANDLE port = NewPort();
  HANDLE parent = Server(name);
  HANDLE child_in = Client(name, FILE_FLAG_OVERLAPPED, true);
  // The child's end is associated with the parent's port before the child
  // issues its read: the file object (shared by both processes) carries
  // the association.
  CreateIoCompletionPort(child_in, port, 13, 0);
  Child c = StartChild("read-then-wait", child_in, child_in);
  char buf[4];
  DWORD n = 0;
  OVERLAPPED r{};
  r.hEvent = NewEvent();
  if (!ReadFile(parent, buf, 1, &n, &r) && GetLastError() == ERROR_IO_PENDING) AwaitCompletion(r);
  GetOverlappedResult(parent, &r, &n, FALSE);
  std::string said = std::string(buf, n);
  std::string term = R(TerminateProcess(c.pi.hProcess, 9));
  std::string ended = WaitResult(WaitForSingleObject(c.pi.hProcess, kWaitMs));
  Check("process.terminated-process-operations-cancelled",
        "CreateProcess=" + c.created + " child-said=" + said + " TerminateProcess=" + term + " exited=" +
            ended + " " + Packet(port, kWaitMs));
  CloseHandle(r.hEvent);
  EndChild(c);
  CloseHandle(child_in);
  CloseHandle(parent);
  CloseHandle(port);
}

using CheckFn = void (*)();
const CheckFn kChecks[] = {
    PortsSyncSuccessQueuesPacket, PortsSkipOnSuccess, PortsSyncFailureNoPacket,
    PortsStatusDeferredUntilDequeued, PortsFailedPacket, PortsTimeout, PortsPostedVerbatimFifo,
    PortsGqcsExPartial, PortsOneAssociation, PortsClosedUnderWait, HandlesValueReuse,
    CancelPending, CancelCompletedPacketQueued, GetOverlappedResultPendingThenDone,
    CancelNullNothingPending, CancelFromOtherThreads,
    ClosePeerPendingRead, ClosePeerBufferedData, CloseLastHandleCancels,
    CloseListeningWithPendingConnect, CloseDisconnect,
    CloseReaderUnderPendingWrite, PipesOpenErrors, PipesWaitNamedPipeAvailable, PipesWaitNamedPipeWaits,
    PipesIoOnListeningInstance, PipesConnect,
    PipesClientBeforeConnect, PipesInstanceOrder, PipesByteMode, PipesMessageMode,
    PipesZeroLengthRead, PipesWriteLargerThanBuffer, WaitsFireOnceAndRepeat, WaitsTimeout,
    WaitsUnregisterWhileRunning, WaitsUnregisterBlocking, WaitsUnregisterIdleAndInside,
    WaitsWorkItem, ProcessStillActiveThenSignalled, ProcessExitsBeforeParentReads,
    ProcessChildEndCompletesPendingRead, ProcessTerminatedOperationsCancelled,
};

void RunAll() {
  for (CheckFn check : kChecks) check();
}

}  // namespace

#ifdef _WIN32
int main(int argc, char** argv) {
  if (argc > 0 && std::strcmp(argv[0], "conf-child") == 0) {
    return ChildMain(std::vector<std::string>(argv, argv + argc));
  }
  RunAll();
  return 0;
}
#else
int main() {
  iocpsim::RegisterChildProgram("conf-child", [](const std::vector<std::string>& argv) {
    return static_cast<uint32_t>(ChildMain(argv));
  });
  iocpsim::CanonicalSource source;
  iocpsim::RunResult r = iocpsim::RunSimulation({}, source, RunAll);
  if (r.outcome != iocpsim::Outcome::kFinished) {
    std::printf("harness: the simulation stopped: %s\n", r.message.c_str());
    return 1;
  }
  return 0;
}
#endif
