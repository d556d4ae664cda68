#include "proactor/windows_utils.h"

#include <stdexcept>

#include "proactor/errors.h"
#include "proactor/event_loop.h"

namespace iocpsim::proactor {

std::basic_string<WCHAR> Widen(const std::string& s) {
  return std::basic_string<WCHAR>(s.begin(), s.end());
}

PipeHandle::PipeHandle(EventLoop& loop, HANDLE handle)
    : loop_(loop), handle_(handle), origin_(Origin::Here(loop)) {}

PipeHandle::~PipeHandle() {
  if (handle_ == nullptr) return;
  loop_.CallExceptionHandler(
      {"unclosed " + Describe(), nullptr, {{"origin", origin_.Format()}}});
  Close();
}

HANDLE PipeHandle::fileno() const {
  if (handle_ == nullptr) throw ValueError("I/O operation on closed pipe");
  return handle_;
}

void PipeHandle::Close() {
  if (handle_ == nullptr) return;
  CloseHandle(handle_);
  handle_ = nullptr;
}

std::string PipeHandle::Describe() const {
  if (handle_ == nullptr) return "<PipeHandle closed>";
  return "<PipeHandle handle=" + std::to_string(reinterpret_cast<uintptr_t>(handle_)) + ">";
}

std::pair<HANDLE, HANDLE> Pipe(EventLoop& loop, bool overlapped_read, bool overlapped_write,
                               bool duplex) {
  // The name is unique per loop and counter (CPython uses the pid and a
  // random number; nothing random may reach a decision here).
  std::string name = "\\\\.\\pipe\\python-pipe-" + std::to_string(GetCurrentProcessId()) + "-" +
                     std::to_string(loop.NextId());
  std::basic_string<WCHAR> wname = Widen(name);
  DWORD openmode = duplex ? PIPE_ACCESS_DUPLEX : PIPE_ACCESS_INBOUND;
  DWORD access = duplex ? GENERIC_READ | GENERIC_WRITE : GENERIC_WRITE;
  if (overlapped_read) openmode |= FILE_FLAG_OVERLAPPED;
  DWORD flags = overlapped_write ? FILE_FLAG_OVERLAPPED : 0;
  HANDLE h1 = CreateNamedPipeW(wname.c_str(), openmode | FILE_FLAG_FIRST_PIPE_INSTANCE,
                               PIPE_WAIT, 1, 8192, 8192, NMPWAIT_WAIT_FOREVER, nullptr);
  if (h1 == INVALID_HANDLE_VALUE) RaiseWindowsError(GetLastError(), "CreateNamedPipeW");
  HANDLE h2 = CreateFileW(wname.c_str(), access, 0, nullptr, OPEN_EXISTING, flags, nullptr);
  if (h2 == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    CloseHandle(h1);
    RaiseWindowsError(err, "CreateFileW");
  }
  // The client is connected already: ConnectNamedPipe would say so.
  return {h1, h2};
}

}  // namespace iocpsim::proactor
