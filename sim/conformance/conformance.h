// The conformance program's shared pieces: printing an observation, the
// objects the checks make, and the three groups of checks (ports.cc,
// pipes.cc, waits.cc, sockets.cc). Written against the Win32 API only (sim/win32.h is
// <windows.h> on Windows); see main.cc.
#ifndef IOCPSIM_SIM_CONFORMANCE_CONFORMANCE_H_
#define IOCPSIM_SIM_CONFORMANCE_CONFORMANCE_H_

#include <string>
#include <vector>

#include "sim/win32.h"

namespace iocpsim::conformance {

using WString = std::basic_string<WCHAR>;

inline constexpr DWORD kWaitMs = 5000;   // a bound on every wait for something that must happen
inline constexpr DWORD kGraceMs = 200;   // time for another thread to block in a call
inline constexpr DWORD kSentinel = 0xDEAD;
inline constexpr ULONG_PTR kSentinelKey = 0xBEEF;

// ---- Printing
std::string Fmt(const char* fmt, ...);
// Prints "NAME: OBSERVED", one line per check.
void Check(const char* name, const std::string& observed);
// "ERROR_BROKEN_PIPE", ... or the number.
std::string Err(DWORD e);
// A BOOL call's result: "TRUE", or "FALSE/<error>". Reads GetLastError
// right after the call (the argument is evaluated first).
std::string R(BOOL ok);
std::string WaitResult(DWORD r);
// "STATUS_PENDING", "STATUS_SUCCESS" or the NTSTATUS in hex.
std::string Internal(const OVERLAPPED& ov);

struct Named {
  const OVERLAPPED* ov;
  const char* name;
};
// Dequeues one packet: "pkt(TRUE bytes=5 key=7 ov=a)", "pkt(FALSE/<error>
// ...)", or "none/<error>" when nothing was dequeued (with " touched" if
// bytes or key were written anyway).
std::string Packet(HANDLE port, DWORD timeout_ms, std::vector<Named> names = {});

// ---- Objects
WString PipeName(const char* tag);  // unique per process and tag
HANDLE NewPort();
HANDLE NewEvent(bool manual = true);
HANDLE Server(const WString& name, DWORD mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE,
              DWORD buffer = 4096, DWORD instances = PIPE_UNLIMITED_INSTANCES);
HANDLE Client(const WString& name, DWORD flags = FILE_FLAG_OVERLAPPED, bool inherit = false);

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
              DWORD buffer = 4096);

// Issues an overlapped read that must go pending; prints nothing.
bool PendingRead(HANDLE h, void* buf, DWORD size, OVERLAPPED* ov);
// Waits (bounded) for an OVERLAPPED's event: the operation has completed
// in the kernel, whatever the port has seen of it.
std::string AwaitCompletion(const OVERLAPPED& ov);

// ---- The checks, in the order they print
void RunPortChecks();  // ports and packets, handles, cancellation
void RunPipeChecks();  // closing handles, named pipes
void RunWaitChecks();  // waits and the thread pool, processes
void RunSocketChecks();  // loopback TCP and UDP

// The child programs the process checks start (waits.cc): "conf-child
// stdin-exit CODE", "conf-child exit CODE", "conf-child read-then-wait".
int ChildMain(const std::vector<std::string>& argv);

}  // namespace iocpsim::conformance

#endif  // IOCPSIM_SIM_CONFORMANCE_CONFORMANCE_H_
