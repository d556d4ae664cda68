#include "sim/determinism.h"

#include <string>

#include "sim/win32.h"

namespace iocpsim {

namespace {

// Dequeues what is still queued, so that every OVERLAPPED is given back.
void DrainPort(HANDLE port) {
  for (;;) {
    DWORD n;
    ULONG_PTR key;
    OVERLAPPED* ov;
    GetQueuedCompletionStatus(port, &n, &key, &ov, 0);
    if (ov == nullptr) break;
  }
}

}  // namespace

namespace {

constexpr const char16_t* kName = u"\\\\.\\pipe\\determinism";

DWORD Client(LPVOID) {
  HANDLE c = INVALID_HANDLE_VALUE;
  for (int i = 0; i < 50 && c == INVALID_HANDLE_VALUE; ++i) {
    c = CreateFileW(kName, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr);
    if (c == INVALID_HANDLE_VALUE) Sleep(1);
  }
  if (c == INVALID_HANDLE_VALUE) return 1;
  DWORD n;
  WriteFile(c, "ping", 4, &n, nullptr);
  char buf[8];
  ReadFile(c, buf, sizeof buf, &n, nullptr);
  CloseHandle(c);
  return 0;
}

}  // namespace

void DeterminismProgram() {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  constexpr int kClients = 3;
  HANDLE servers[kClients];
  OVERLAPPED connect[kClients] = {}, read[kClients] = {};
  char bufs[kClients][8];
  for (int i = 0; i < kClients; ++i) {
    servers[i] = CreateNamedPipeW(kName, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE,
                                  kClients, 64, 64, 0, nullptr);
    CreateIoCompletionPort(servers[i], port, i, 0);
    if (!ConnectNamedPipe(servers[i], &connect[i]) && GetLastError() == ERROR_PIPE_CONNECTED) {
      PostQueuedCompletionStatus(port, 0, i, &connect[i]);
    }
  }
  HANDLE threads[kClients];
  for (auto& t : threads) t = CreateThread(nullptr, 0, Client, nullptr, 0, nullptr);
  STARTUPINFOW si{};
  PROCESS_INFORMATION pi{};
  std::u16string line = u"sleep-then-exit 3 5";
  CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi);
  HANDLE exited = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  int done = 0;
  while (done < kClients) {
    DWORD n;
    ULONG_PTR key;
    OVERLAPPED* ov;
    BOOL ok = GetQueuedCompletionStatus(port, &n, &key, &ov, 1000);
    if (ov == nullptr) break;
    if (ov == &connect[key]) {
      if (!ReadFile(servers[key], bufs[key], sizeof bufs[key], &n, &read[key]) &&
          GetLastError() != ERROR_IO_PENDING) {
        ++done;
      }
    } else if (ov == &read[key]) {
      if (ok) WriteFile(servers[key], bufs[key], n, &n, nullptr);
      ++done;
    }
  }
  WaitForMultipleObjects(kClients, threads, TRUE, INFINITE);
  WaitForSingleObject(pi.hProcess, INFINITE);
  DrainPort(port);
  for (HANDLE h : servers) CloseHandle(h);
  for (HANDLE h : threads) CloseHandle(h);
  DrainPort(port);
  CloseHandle(pi.hProcess);
  CloseHandle(pi.hThread);
  CloseHandle(exited);
  CloseHandle(port);
}

}  // namespace iocpsim
