// Win32 stress programs: how users hunt these races today, with real
// threads on a real Win32 implementation (Wine here, or Windows). Each mode
// provokes one race window again and again and counts the attempts that hit
// it; scripts/bench-extra runs them under Wine and puts attempts and time to
// the first hit beside iocpsim's runs and time to the same bug
// (reports/bench.md). Built by the mingw preset only.
//
//   win32_stress.exe wait-unregister ATTEMPTS     bpo-23095: the wait callback
//       posts to the port after a non-blocking UnregisterWait returned
//   win32_stress.exe cancel-completed ATTEMPTS    bpo-33694: CancelIoEx meets a
//       read that already completed with data (the cancelled future's data
//       is in the port, and a proactor that drops it loses it)
//   win32_stress.exe exit-before-pipes ATTEMPTS   subprocess-finish-order: the
//       child has exited before the parent finished setting up its pipes
//
// Prints one line: "MODE attempts=N hits=H first_hit_attempt=K
// first_hit_ms=T total_ms=U" (K and T are 0 when nothing hit).
//
// A third argument WIDEN_MS holds the window open that long (a sleep inside
// it), to show that each mode's detector does see a hit when the window is
// wide: the calibration row of the benchmark.
#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr DWORD kWaitMs = 5000;
DWORD widen_ms = 0;  // see the header

// ---- bpo-23095 -------------------------------------------------------------

struct WaitAttempt {
  HANDLE port;
  HANDLE done;                      // set when the callback returns
  std::atomic<bool> unregistered{false};
  std::atomic<bool> posted_after{false};
};

void CALLBACK PostFromWait(PVOID context, BOOLEAN) {
  auto* a = static_cast<WaitAttempt*>(context);
  if (widen_ms != 0) Sleep(widen_ms);  // a slow callback
  bool late = a->unregistered.load();
  PostQueuedCompletionStatus(a->port, 0, 0, nullptr);
  a->posted_after.store(late);
  SetEvent(a->done);
}

struct Signaller {
  HANDLE go;
  HANDLE target;
};

DWORD WINAPI SetOnGo(LPVOID arg) {
  auto* s = static_cast<Signaller*>(arg);
  WaitForSingleObject(s->go, INFINITE);
  SetEvent(s->target);
  return 0;
}

bool WaitUnregister(HANDLE port) {
  WaitAttempt a;
  a.port = port;
  a.done = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  Signaller s{CreateEventW(nullptr, TRUE, FALSE, nullptr), ev};
  HANDLE t = CreateThread(nullptr, 0, SetOnGo, &s, 0, nullptr);
  HANDLE wait = nullptr;
  RegisterWaitForSingleObject(&wait, ev, PostFromWait, &a, INFINITE, WT_EXECUTEONLYONCE);
  SetEvent(s.go);  // the event is set by another thread while the loop cancels
  if (widen_ms != 0) Sleep(widen_ms);  // the cancel comes later
  BOOL ok = UnregisterWait(wait);
  a.unregistered.store(true);
  if (!ok && GetLastError() == ERROR_IO_PENDING) WaitForSingleObject(a.done, kWaitMs);
  WaitForSingleObject(t, INFINITE);
  DWORD bytes;
  ULONG_PTR key;
  OVERLAPPED* ov;
  while (GetQueuedCompletionStatus(port, &bytes, &key, &ov, 0)) {
  }
  for (HANDLE h : {t, s.go, ev, a.done}) CloseHandle(h);
  return a.posted_after.load();
}

// ---- bpo-33694 -------------------------------------------------------------

struct Writer {
  HANDLE go;
  HANDLE pipe;
};

DWORD WINAPI WriteOnGo(LPVOID arg) {
  auto* w = static_cast<Writer*>(arg);
  WaitForSingleObject(w->go, INFINITE);
  DWORD n;
  WriteFile(w->pipe, "x", 1, &n, nullptr);
  return 0;
}

bool CancelCompleted(HANDLE port, int attempt) {
  std::wstring name = L"\\\\.\\pipe\\iocpsim-stress-" + std::to_wstring(GetCurrentProcessId()) +
                      L"-" + std::to_wstring(attempt);
  HANDLE server = CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                   PIPE_TYPE_BYTE, 1, 4096, 4096, 0, nullptr);
  HANDLE client = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                              OPEN_EXISTING, 0, nullptr);
  CreateIoCompletionPort(server, port, 1, 0);
  Writer w{CreateEventW(nullptr, TRUE, FALSE, nullptr), client};
  HANDLE t = CreateThread(nullptr, 0, WriteOnGo, &w, 0, nullptr);
  OVERLAPPED ov{};
  char buf[16];
  ReadFile(server, buf, sizeof buf, nullptr, &ov);
  SetEvent(w.go);  // the data arrives while the loop pauses reading
  if (widen_ms != 0) Sleep(widen_ms);  // the pause comes later
  CancelIoEx(server, &ov);
  DWORD bytes = 0;
  ULONG_PTR key;
  OVERLAPPED* got = nullptr;
  BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &got, kWaitMs);
  WaitForSingleObject(t, INFINITE);
  for (HANDLE h : {t, w.go, client, server}) CloseHandle(h);
  return ok && got == &ov && bytes > 0;  // the cancelled read carried data
}

// ---- subprocess-finish-order --------------------------------------------------

bool ExitBeforePipes(const wchar_t* self, HANDLE port, int attempt) {
  // The child's stdout as asyncio makes it: an overlapped server end for the
  // parent, an inheritable synchronous client end for the child.
  std::wstring name = L"\\\\.\\pipe\\iocpsim-stress-child-" +
                      std::to_wstring(GetCurrentProcessId()) + L"-" + std::to_wstring(attempt);
  HANDLE parent = CreateNamedPipeW(name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED,
                                   PIPE_TYPE_BYTE, 1, 4096, 4096, 0, nullptr);
  SECURITY_ATTRIBUTES inherit{sizeof inherit, nullptr, TRUE};
  HANDLE child_end = CreateFileW(name.c_str(), GENERIC_WRITE, 0, &inherit, OPEN_EXISTING, 0, nullptr);
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdOutput = child_end;
  si.hStdError = child_end;
  PROCESS_INFORMATION pi{};
  wchar_t line[] = L"stress-child";
  if (!CreateProcessW(self, line, nullptr, nullptr, TRUE, CREATE_NO_WINDOW, nullptr, nullptr, &si,
                      &pi)) {
    std::fprintf(stderr, "win32_stress: CreateProcess failed: %lu\n", GetLastError());
    std::exit(1);
  }
  // The parent's setup after CreateProcess returned, as asyncio's
  // _connect_pipes: close the child's end, then the pipe transport
  // associates its end with the port and issues its first read.
  CloseHandle(child_end);
  if (widen_ms != 0) Sleep(widen_ms);  // a slower setup
  CreateIoCompletionPort(parent, port, 2, 0);
  OVERLAPPED ov{};
  char buf[16];
  bool pending = !ReadFile(parent, buf, sizeof buf, nullptr, &ov) && GetLastError() == ERROR_IO_PENDING;
  bool exited = WaitForSingleObject(pi.hProcess, 0) == WAIT_OBJECT_0;
  DWORD bytes;
  ULONG_PTR key;
  OVERLAPPED* got;
  if (pending) GetQueuedCompletionStatus(port, &bytes, &key, &got, kWaitMs);  // ends with the child
  WaitForSingleObject(pi.hProcess, INFINITE);
  for (HANDLE h : {pi.hThread, pi.hProcess, parent}) CloseHandle(h);
  return exited;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 0 && std::strcmp(argv[0], "stress-child") == 0) return 0;  // exits at once
  if ((argc != 3 && argc != 4) || std::atoi(argv[2]) <= 0) {
    std::fprintf(stderr,
                 "win32_stress: usage: win32_stress wait-unregister|cancel-completed|exit-before-pipes "
                 "ATTEMPTS [WIDEN_MS]\n");
    return 2;
  }
  if (argc == 4) widen_ms = static_cast<DWORD>(std::atoi(argv[3]));
  std::string mode = argv[1];
  int attempts = std::atoi(argv[2]);
  if (mode != "wait-unregister" && mode != "cancel-completed" && mode != "exit-before-pipes") {
    std::fprintf(stderr, "win32_stress: unknown mode '%s'\n", mode.c_str());
    return 2;
  }
  wchar_t self[MAX_PATH];
  GetModuleFileNameW(nullptr, self, MAX_PATH);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  auto start = std::chrono::steady_clock::now();
  auto ms = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  int hits = 0, first = 0;
  double first_ms = 0;
  for (int i = 1; i <= attempts; ++i) {
    bool hit = mode == "wait-unregister"    ? WaitUnregister(port)
               : mode == "cancel-completed" ? CancelCompleted(port, i)
                                            : ExitBeforePipes(self, port, i);
    if (hit && hits++ == 0) {
      first = i;
      first_ms = ms();
    }
  }
  std::printf("%s attempts=%d hits=%d first_hit_attempt=%d first_hit_ms=%.1f total_ms=%.1f\n",
              mode.c_str(), attempts, hits, first, first_ms, ms());
  CloseHandle(port);
  return 0;
}
