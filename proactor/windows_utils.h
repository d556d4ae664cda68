// windows_utils as in CPython (Lib/asyncio/windows_utils.py): PipeHandle,
// an owned pipe handle that reports itself unclosed, and Pipe(), a
// one-instance byte pipe pair for subprocess standard handles.
//
//   auto [r, w] = Pipe(loop, /*overlapped_read=*/true, /*overlapped_write=*/false);
//   ... r->Close();
#ifndef IOCPSIM_PROACTOR_WINDOWS_UTILS_H_
#define IOCPSIM_PROACTOR_WINDOWS_UTILS_H_

#include <memory>
#include <string>
#include <utility>

#include "proactor/origin.h"
#include "sim/win32.h"

namespace iocpsim::proactor {

class EventLoop;

// Pipe names and other Win32 strings, built from ASCII.
std::basic_string<WCHAR> Widen(const std::string& s);

// The proactor's handle object: what IocpProactor registers and
// transports own. CPython duck-types it (anything with fileno()); here a
// Socket (proactor/sockets.h) is the other kind, and IocpProactor's verbs
// issue WSARecv/WSASend for it where they issue ReadFile/WriteFile for a
// pipe, as windows_events.py does with isinstance(conn, socket.socket).
class PipeHandle {
 public:
  PipeHandle(EventLoop& loop, HANDLE handle);
  virtual ~PipeHandle();  // ResourceWarning "unclosed <PipeHandle>"
  PipeHandle(const PipeHandle&) = delete;
  PipeHandle& operator=(const PipeHandle&) = delete;

  HANDLE handle() const { return handle_; }
  // fileno(): the handle; ValueError ("I/O operation on closed pipe") once closed.
  HANDLE fileno() const;
  bool closed() const { return handle_ == nullptr; }
  virtual void Close();
  virtual std::string Describe() const;
  virtual bool is_socket() const { return false; }

 protected:
  EventLoop& loop_;
  HANDLE handle_;
  Origin origin_;
};
using PipeHandlePtr = std::shared_ptr<PipeHandle>;

// windows_utils.pipe(): a uniquely named one-instance byte pipe, read end
// first. The ends not asked to be overlapped are synchronous, as a child's
// standard handles are. Throws OSError.
std::pair<HANDLE, HANDLE> Pipe(EventLoop& loop, bool overlapped_read, bool overlapped_write,
                               bool duplex = false);

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_WINDOWS_UTILS_H_
