// The conformance checks of WIN32-MODEL.md: waits and the thread pool, processes. See main.cc.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/conformance/conformance.h"

namespace iocpsim::conformance {
namespace {

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

}  // namespace

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

namespace {

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
  BOOL ok = ReadFile(parent, buf, sizeof buf, nullptr, &r);
  if (!ok && GetLastError() == ERROR_IO_PENDING) {
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED* ov = nullptr;
    ok = GetQueuedCompletionStatus(port, &bytes, &key, &ov, kWaitMs);
  }
  std::string read = R(ok);
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

}  // namespace

void RunWaitChecks() {
  for (void (*check)() : {WaitsFireOnceAndRepeat,
       WaitsTimeout,
       WaitsUnregisterWhileRunning,
       WaitsUnregisterBlocking,
       WaitsUnregisterIdleAndInside,
       WaitsWorkItem,
       ProcessStillActiveThenSignalled,
       ProcessExitsBeforeParentReads,
       ProcessChildEndCompletesPendingRead,
       ProcessTerminatedOperationsCancelled}) {
    check();
  }
}

}  // namespace iocpsim::conformance
