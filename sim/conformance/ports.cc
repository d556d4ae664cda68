// The conformance checks of WIN32-MODEL.md: ports and packets, handles, cancellation. See main.cc.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/conformance/conformance.h"

namespace iocpsim::conformance {
namespace {

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

}  // namespace

void RunPortChecks() {
  for (void (*check)() : {PortsSyncSuccessQueuesPacket,
       PortsSkipOnSuccess,
       PortsSyncFailureNoPacket,
       PortsStatusDeferredUntilDequeued,
       PortsFailedPacket,
       PortsTimeout,
       PortsPostedVerbatimFifo,
       PortsGqcsExPartial,
       PortsOneAssociation,
       PortsClosedUnderWait,
       HandlesValueReuse,
       CancelPending,
       CancelCompletedPacketQueued,
       GetOverlappedResultPendingThenDone,
       CancelNullNothingPending,
       CancelFromOtherThreads}) {
    check();
  }
}

}  // namespace iocpsim::conformance
