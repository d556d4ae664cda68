// The conformance program: the statements of ../shared/WIN32-MODEL.md as
// checks written against the Win32 API only, printing one line per check
// with what was observed (return values, GetLastError, the packets
// GetQueuedCompletionStatus returns with their bytes, key and status; never
// an address or a time). The checks are in ports.cc, pipes.cc and waits.cc;
// this file has main and the helpers they share (conformance.h).
//
// It is built twice: against the virtual kernel (the host build runs it on
// the canonical schedule) and, with the `mingw` preset, as a Windows
// executable. Under Wine its output is the reference, committed as
// wine-8.0.txt beside this file; differences.txt lists, with a reason and a
// source, every check where the virtual kernel prints something else.
// sim/conformance_compare.py compares them (ctest; scripts/wine-check).
//
// No check depends on timing: handshakes are events, every wait is bounded
// (kWaitMs; a bound reached is printed, not waited out), and a check that
// needs "thread X is blocked inside call Y" waits a grace period (kGraceMs)
// and says so in its comment.
//
//   build/dev/sim/win32_conformance                      (virtual kernel)
//   wine build/mingw/win32_conformance.exe               (Wine, or Windows)
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sim/conformance/conformance.h"

#ifndef _WIN32
#include "sim/sim.h"
#endif

namespace iocpsim::conformance {

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
    case ERROR_NETNAME_DELETED: return "ERROR_NETNAME_DELETED";
    case ERROR_CONNECTION_REFUSED: return "ERROR_CONNECTION_REFUSED";
    case ERROR_CONNECTION_ABORTED: return "ERROR_CONNECTION_ABORTED";
    case ERROR_PORT_UNREACHABLE: return "ERROR_PORT_UNREACHABLE";
    case 10022: return "WSAEINVAL";
    case 10053: return "WSAECONNABORTED";
    case 10054: return "WSAECONNRESET";
    case 10057: return "WSAENOTCONN";
    case 10061: return "WSAECONNREFUSED";
    default: return Fmt("%lu", static_cast<unsigned long>(e));
  }
}

std::string R(BOOL ok) { return ok ? "TRUE" : "FALSE/" + Err(GetLastError()); }

std::string WaitResult(DWORD r) {
  if (r == WAIT_OBJECT_0) return "WAIT_OBJECT_0";
  if (r == WAIT_TIMEOUT) return "WAIT_TIMEOUT";
  return "WAIT_FAILED/" + Err(GetLastError());
}

std::string Internal(const OVERLAPPED& ov) {
  if (static_cast<NTSTATUS>(ov.Internal) == STATUS_PENDING) return "STATUS_PENDING";
  if (ov.Internal == 0) return "STATUS_SUCCESS";
  return Fmt("0x%08lx", static_cast<unsigned long>(ov.Internal & 0xFFFFFFFFu));
}

std::string Packet(HANDLE port, DWORD timeout_ms, std::vector<Named> names) {
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

HANDLE NewEvent(bool manual) { return CreateEventW(nullptr, manual, FALSE, nullptr); }

HANDLE Server(const WString& name, DWORD mode, DWORD buffer, DWORD instances) {
  return CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, mode, instances,
                          buffer, buffer, 0, nullptr);
}

HANDLE Client(const WString& name, DWORD flags, bool inherit) {
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, inherit ? TRUE : FALSE};
  return CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, flags,
                     nullptr);
}

Pair MakePair(const char* tag, DWORD mode, DWORD buffer) {
  WString name = PipeName(tag);
  HANDLE s = Server(name, mode, buffer);
  HANDLE c = Client(name);
  if (s == INVALID_HANDLE_VALUE || c == INVALID_HANDLE_VALUE) {
    std::printf("harness: cannot make the pipe %s (error %lu)\n", tag,
                static_cast<unsigned long>(GetLastError()));
    std::exit(1);
  }
  return {s, c};
}

bool PendingRead(HANDLE h, void* buf, DWORD size, OVERLAPPED* ov) {
  return !ReadFile(h, buf, size, nullptr, ov) && GetLastError() == ERROR_IO_PENDING;
}

std::string AwaitCompletion(const OVERLAPPED& ov) {
  return WaitResult(WaitForSingleObject(ov.hEvent, kWaitMs));
}

void RunAll() {
  RunPortChecks();
  RunPipeChecks();
  RunWaitChecks();
  RunSocketChecks();
}

}  // namespace iocpsim::conformance

#ifdef _WIN32
int main(int argc, char** argv) {
  if (argc > 0 && std::strcmp(argv[0], "conf-child") == 0) {
    return iocpsim::conformance::ChildMain(std::vector<std::string>(argv, argv + argc));
  }
  iocpsim::conformance::RunAll();
  return 0;
}
#else
int main() {
  iocpsim::RegisterChildProgram("conf-child", [](const std::vector<std::string>& argv) {
    return static_cast<uint32_t>(iocpsim::conformance::ChildMain(argv));
  });
  iocpsim::CanonicalSource source;
  iocpsim::RunResult r = iocpsim::RunSimulation({}, source, iocpsim::conformance::RunAll);
  if (r.outcome != iocpsim::Outcome::kFinished) {
    std::printf("harness: the simulation stopped: %s\n", r.message.c_str());
    return 1;
  }
  return 0;
}
#endif
