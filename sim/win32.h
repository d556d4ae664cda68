// The Win32 seam: the types, constants and functions the proactor uses,
// with their Windows names and signatures.
//
// On Windows the proactor includes <windows.h> instead; everywhere else it
// includes this header and every call lands in the virtual kernel (see
// sim/kernel.h), which must be running: call these only from code that
// iocpsim::RunSimulation() runs as a simulated thread.
//
//   HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
//   DWORD bytes; ULONG_PTR key; OVERLAPPED* ov;
//   if (!GetQueuedCompletionStatus(port, &bytes, &key, &ov, 0))
//     assert(GetLastError() == WAIT_TIMEOUT && ov == nullptr);
//
// Behaviour follows ../shared/WIN32-MODEL.md; each implementation cites the
// Microsoft page or Wine conformance test that shows it.
#ifndef IOCPSIM_SIM_WIN32_H_
#define IOCPSIM_SIM_WIN32_H_

#ifdef _WIN32
#include <winsock2.h>  // before windows.h, which would bring in Winsock 1
#include <windows.h>
#else

#include <cstddef>
#include <cstdint>

using BOOL = int;
using BYTE = uint8_t;
using WORD = uint16_t;
using DWORD = uint32_t;
using LONG = int32_t;
using ULONG = uint32_t;
using LONGLONG = int64_t;
using ULONGLONG = uint64_t;
using ULONG_PTR = uintptr_t;
using SIZE_T = size_t;
using HANDLE = void*;
using PVOID = void*;
using LPVOID = void*;
using LPCVOID = const void*;
using LPDWORD = DWORD*;
using WCHAR = char16_t;
using LPWSTR = WCHAR*;
using LPCWSTR = const WCHAR*;
using NTSTATUS = LONG;
using PHANDLE = HANDLE*;
using LPHANDLE = HANDLE*;

#define WINAPI
#define CALLBACK
#define TRUE 1
#define FALSE 0

#define INVALID_HANDLE_VALUE (reinterpret_cast<HANDLE>(~uintptr_t{0}))
constexpr DWORD INFINITE = 0xFFFFFFFF;

// Error values (WIN32-MODEL.md).
constexpr DWORD ERROR_SUCCESS = 0;
constexpr DWORD ERROR_FILE_NOT_FOUND = 2;
constexpr DWORD ERROR_ACCESS_DENIED = 5;
constexpr DWORD ERROR_INVALID_HANDLE = 6;
constexpr DWORD ERROR_NOT_ENOUGH_MEMORY = 8;
constexpr DWORD ERROR_NETNAME_DELETED = 64;
constexpr DWORD ERROR_INVALID_PARAMETER = 87;
constexpr DWORD ERROR_BROKEN_PIPE = 109;
constexpr DWORD ERROR_SEM_TIMEOUT = 121;
constexpr DWORD ERROR_ALREADY_EXISTS = 183;
constexpr DWORD ERROR_PIPE_BUSY = 231;
constexpr DWORD ERROR_NO_DATA = 232;
constexpr DWORD ERROR_PIPE_NOT_CONNECTED = 233;
constexpr DWORD ERROR_MORE_DATA = 234;
constexpr DWORD WAIT_TIMEOUT = 258;
constexpr DWORD STILL_ACTIVE = 259;
constexpr DWORD ERROR_PIPE_CONNECTED = 535;
constexpr DWORD ERROR_PIPE_LISTENING = 536;
constexpr DWORD ERROR_ABANDONED_WAIT_0 = 735;
constexpr DWORD ERROR_OPERATION_ABORTED = 995;
constexpr DWORD ERROR_IO_INCOMPLETE = 996;
constexpr DWORD ERROR_IO_PENDING = 997;
constexpr DWORD ERROR_NOT_FOUND = 1168;
constexpr DWORD ERROR_CONNECTION_REFUSED = 1225;
constexpr DWORD ERROR_PORT_UNREACHABLE = 1234;
constexpr DWORD ERROR_CONNECTION_ABORTED = 1236;
constexpr DWORD WSAECONNRESET = 10054;
constexpr DWORD WSAENOTCONN = 10057;

// NTSTATUS values the kernel writes into OVERLAPPED::Internal.
constexpr NTSTATUS STATUS_SUCCESS = 0;
constexpr NTSTATUS STATUS_PENDING = 0x103;
constexpr NTSTATUS STATUS_BUFFER_OVERFLOW = static_cast<NTSTATUS>(0x80000005);
constexpr NTSTATUS STATUS_CANCELLED = static_cast<NTSTATUS>(0xC0000120);
constexpr NTSTATUS STATUS_PIPE_BROKEN = static_cast<NTSTATUS>(0xC000014B);
constexpr NTSTATUS STATUS_PIPE_DISCONNECTED = static_cast<NTSTATUS>(0xC00000B0);
constexpr NTSTATUS STATUS_PIPE_CLOSING = static_cast<NTSTATUS>(0xC00000B1);
constexpr NTSTATUS STATUS_PIPE_CONNECTED = static_cast<NTSTATUS>(0xC00000B2);
constexpr NTSTATUS STATUS_PIPE_LISTENING = static_cast<NTSTATUS>(0xC00000B3);
constexpr NTSTATUS STATUS_PIPE_BUSY = static_cast<NTSTATUS>(0xC00000AE);
// Sockets (AFD), and the Win32 errors RtlNtStatusToDosError gives them:
// ERROR_NETNAME_DELETED, ERROR_CONNECTION_REFUSED, ERROR_CONNECTION_ABORTED,
// ERROR_PORT_UNREACHABLE.
constexpr NTSTATUS STATUS_CONNECTION_RESET = static_cast<NTSTATUS>(0xC000020D);
constexpr NTSTATUS STATUS_CONNECTION_REFUSED = static_cast<NTSTATUS>(0xC0000236);
constexpr NTSTATUS STATUS_CONNECTION_ABORTED = static_cast<NTSTATUS>(0xC0000241);
constexpr NTSTATUS STATUS_PORT_UNREACHABLE = static_cast<NTSTATUS>(0xC000023F);

// Waits.
constexpr DWORD WAIT_OBJECT_0 = 0;
constexpr DWORD WAIT_ABANDONED_0 = 0x80;
constexpr DWORD WAIT_FAILED = 0xFFFFFFFF;
constexpr DWORD MAXIMUM_WAIT_OBJECTS = 64;

// Access, sharing, creation, flags.
constexpr DWORD GENERIC_READ = 0x80000000;
constexpr DWORD GENERIC_WRITE = 0x40000000;
constexpr DWORD SYNCHRONIZE = 0x00100000;
constexpr DWORD FILE_READ_ATTRIBUTES = 0x80;
constexpr DWORD FILE_WRITE_ATTRIBUTES = 0x100;
constexpr DWORD OPEN_EXISTING = 3;
constexpr DWORD FILE_FLAG_OVERLAPPED = 0x40000000;
constexpr DWORD FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000;
constexpr DWORD FILE_ATTRIBUTE_NORMAL = 0x80;

// Named pipes.
constexpr DWORD PIPE_ACCESS_INBOUND = 0x1;
constexpr DWORD PIPE_ACCESS_OUTBOUND = 0x2;
constexpr DWORD PIPE_ACCESS_DUPLEX = 0x3;
constexpr DWORD PIPE_TYPE_BYTE = 0x0;
constexpr DWORD PIPE_TYPE_MESSAGE = 0x4;
constexpr DWORD PIPE_READMODE_BYTE = 0x0;
constexpr DWORD PIPE_READMODE_MESSAGE = 0x2;
constexpr DWORD PIPE_WAIT = 0x0;
constexpr DWORD PIPE_NOWAIT = 0x1;
constexpr DWORD PIPE_REJECT_REMOTE_CLIENTS = 0x8;
constexpr DWORD PIPE_UNLIMITED_INSTANCES = 255;
constexpr DWORD NMPWAIT_USE_DEFAULT_WAIT = 0;
constexpr DWORD NMPWAIT_WAIT_FOREVER = 0xFFFFFFFF;

// Completion ports.
constexpr BYTE FILE_SKIP_COMPLETION_PORT_ON_SUCCESS = 0x1;
constexpr BYTE FILE_SKIP_SET_EVENT_ON_HANDLE = 0x2;

// Handles.
constexpr DWORD HANDLE_FLAG_INHERIT = 0x1;
constexpr DWORD HANDLE_FLAG_PROTECT_FROM_CLOSE = 0x2;
constexpr DWORD DUPLICATE_CLOSE_SOURCE = 0x1;
constexpr DWORD DUPLICATE_SAME_ACCESS = 0x2;
constexpr DWORD STD_INPUT_HANDLE = static_cast<DWORD>(-10);
constexpr DWORD STD_OUTPUT_HANDLE = static_cast<DWORD>(-11);
constexpr DWORD STD_ERROR_HANDLE = static_cast<DWORD>(-12);

// Thread pool.
constexpr ULONG WT_EXECUTEDEFAULT = 0x0;
constexpr ULONG WT_EXECUTEINIOTHREAD = 0x1;
constexpr ULONG WT_EXECUTEINWAITTHREAD = 0x4;
constexpr ULONG WT_EXECUTEONLYONCE = 0x8;
constexpr ULONG WT_EXECUTELONGFUNCTION = 0x10;

// Processes.
constexpr DWORD STARTF_USESTDHANDLES = 0x100;
constexpr DWORD CREATE_NEW_CONSOLE = 0x10;
constexpr DWORD CREATE_NO_WINDOW = 0x08000000;

struct OVERLAPPED {
  ULONG_PTR Internal;
  ULONG_PTR InternalHigh;
  union {
    struct {
      DWORD Offset;
      DWORD OffsetHigh;
    };
    PVOID Pointer;
  };
  HANDLE hEvent;
};
using LPOVERLAPPED = OVERLAPPED*;

struct OVERLAPPED_ENTRY {
  ULONG_PTR lpCompletionKey;
  LPOVERLAPPED lpOverlapped;
  ULONG_PTR Internal;
  DWORD dwNumberOfBytesTransferred;
};
using LPOVERLAPPED_ENTRY = OVERLAPPED_ENTRY*;

struct SECURITY_ATTRIBUTES {
  DWORD nLength;
  LPVOID lpSecurityDescriptor;
  BOOL bInheritHandle;
};
using LPSECURITY_ATTRIBUTES = SECURITY_ATTRIBUTES*;

struct STARTUPINFOW {
  DWORD cb;
  LPWSTR lpReserved;
  LPWSTR lpDesktop;
  LPWSTR lpTitle;
  DWORD dwX, dwY, dwXSize, dwYSize, dwXCountChars, dwYCountChars;
  DWORD dwFillAttribute;
  DWORD dwFlags;
  WORD wShowWindow;
  WORD cbReserved2;
  BYTE* lpReserved2;
  HANDLE hStdInput;
  HANDLE hStdOutput;
  HANDLE hStdError;
};
using LPSTARTUPINFOW = STARTUPINFOW*;

struct PROCESS_INFORMATION {
  HANDLE hProcess;
  HANDLE hThread;
  DWORD dwProcessId;
  DWORD dwThreadId;
};
using LPPROCESS_INFORMATION = PROCESS_INFORMATION*;

union LARGE_INTEGER {
  struct {
    DWORD LowPart;
    LONG HighPart;
  };
  LONGLONG QuadPart;
};

using BOOLEAN = BYTE;
using WAITORTIMERCALLBACK = void (*)(PVOID context, BOOLEAN timer_or_wait_fired);
using LPTHREAD_START_ROUTINE = DWORD (*)(LPVOID parameter);

#define HasOverlappedIoCompleted(lpOverlapped) \
  (static_cast<NTSTATUS>((lpOverlapped)->Internal) != STATUS_PENDING)

// Errors.
DWORD WINAPI GetLastError();
void WINAPI SetLastError(DWORD error);

// Handles.
BOOL WINAPI CloseHandle(HANDLE h);
BOOL WINAPI DuplicateHandle(HANDLE source_process, HANDLE source, HANDLE target_process,
                            LPHANDLE target, DWORD access, BOOL inherit, DWORD options);
BOOL WINAPI SetHandleInformation(HANDLE h, DWORD mask, DWORD flags);
HANDLE WINAPI GetStdHandle(DWORD which);

// Completion ports.
HANDLE WINAPI CreateIoCompletionPort(HANDLE file, HANDLE existing_port, ULONG_PTR key,
                                     DWORD concurrent_threads);
BOOL WINAPI GetQueuedCompletionStatus(HANDLE port, LPDWORD bytes, ULONG_PTR* key,
                                      LPOVERLAPPED* overlapped, DWORD timeout_ms);
BOOL WINAPI GetQueuedCompletionStatusEx(HANDLE port, LPOVERLAPPED_ENTRY entries, ULONG count,
                                        ULONG* removed, DWORD timeout_ms, BOOL alertable);
BOOL WINAPI PostQueuedCompletionStatus(HANDLE port, DWORD bytes, ULONG_PTR key,
                                       LPOVERLAPPED overlapped);
BOOL WINAPI SetFileCompletionNotificationModes(HANDLE file, BYTE flags);

// Files and named pipes.
HANDLE WINAPI CreateNamedPipeW(LPCWSTR name, DWORD open_mode, DWORD pipe_mode,
                               DWORD max_instances, DWORD out_buffer_size, DWORD in_buffer_size,
                               DWORD default_timeout_ms, LPSECURITY_ATTRIBUTES security);
BOOL WINAPI ConnectNamedPipe(HANDLE pipe, LPOVERLAPPED overlapped);
BOOL WINAPI DisconnectNamedPipe(HANDLE pipe);
BOOL WINAPI WaitNamedPipeW(LPCWSTR name, DWORD timeout_ms);
HANDLE WINAPI CreateFileW(LPCWSTR name, DWORD access, DWORD share, LPSECURITY_ATTRIBUTES security,
                          DWORD disposition, DWORD flags, HANDLE template_file);
BOOL WINAPI ReadFile(HANDLE file, LPVOID buffer, DWORD size, LPDWORD read,
                     LPOVERLAPPED overlapped);
BOOL WINAPI WriteFile(HANDLE file, LPCVOID buffer, DWORD size, LPDWORD written,
                      LPOVERLAPPED overlapped);
BOOL WINAPI CancelIo(HANDLE file);
BOOL WINAPI CancelIoEx(HANDLE file, LPOVERLAPPED overlapped);
BOOL WINAPI GetOverlappedResult(HANDLE file, LPOVERLAPPED overlapped, LPDWORD bytes, BOOL wait);

// Events and waits.
HANDLE WINAPI CreateEventW(LPSECURITY_ATTRIBUTES security, BOOL manual_reset, BOOL initial_state,
                           LPCWSTR name);
BOOL WINAPI SetEvent(HANDLE event);
BOOL WINAPI ResetEvent(HANDLE event);
DWORD WINAPI WaitForSingleObject(HANDLE h, DWORD timeout_ms);
DWORD WINAPI WaitForMultipleObjects(DWORD count, const HANDLE* handles, BOOL wait_all,
                                    DWORD timeout_ms);

// Thread pool and threads.
BOOL WINAPI RegisterWaitForSingleObject(PHANDLE new_wait, HANDLE object,
                                        WAITORTIMERCALLBACK callback, PVOID context,
                                        ULONG timeout_ms, ULONG flags);
BOOL WINAPI UnregisterWait(HANDLE wait);
BOOL WINAPI UnregisterWaitEx(HANDLE wait, HANDLE completion_event);
BOOL WINAPI QueueUserWorkItem(LPTHREAD_START_ROUTINE function, PVOID context, ULONG flags);
HANDLE WINAPI CreateThread(LPSECURITY_ATTRIBUTES security, SIZE_T stack_size,
                           LPTHREAD_START_ROUTINE start, LPVOID parameter, DWORD flags,
                           LPDWORD thread_id);
[[noreturn]] void WINAPI ExitThread(DWORD exit_code);
DWORD WINAPI GetCurrentThreadId();
HANDLE WINAPI GetCurrentThread();

// Processes.
BOOL WINAPI CreateProcessW(LPCWSTR application, LPWSTR command_line,
                           LPSECURITY_ATTRIBUTES process_security,
                           LPSECURITY_ATTRIBUTES thread_security, BOOL inherit_handles,
                           DWORD flags, LPVOID environment, LPCWSTR current_directory,
                           LPSTARTUPINFOW startup_info,
                           LPPROCESS_INFORMATION process_information);
BOOL WINAPI GetExitCodeProcess(HANDLE process, LPDWORD exit_code);
BOOL WINAPI TerminateProcess(HANDLE process, DWORD exit_code);
DWORD WINAPI GetCurrentProcessId();
HANDLE WINAPI GetCurrentProcess();
DWORD WINAPI GetProcessId(HANDLE process);
[[noreturn]] void WINAPI ExitProcess(DWORD exit_code);

// Time.
void WINAPI Sleep(DWORD ms);
ULONGLONG WINAPI GetTickCount64();
BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER* count);
BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER* frequency);

#endif  // _WIN32
#endif  // IOCPSIM_SIM_WIN32_H_
