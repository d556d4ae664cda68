#include "proactor/overlapped.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proactor/errors.h"
#include "proactor/event_loop.h"
#include "proactor/windows_utils.h"

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

namespace iocpsim::proactor {
namespace {

// Free blocks of sizeof(Overlapped), the last freed on top; given back to
// the system only when the thread ends.
struct OverlappedPool {
  std::vector<void*> free;
  ~OverlappedPool() {
    for (void* p : free) {
      ASAN_UNPOISON_MEMORY_REGION(p, sizeof(Overlapped));
      ::operator delete(p);
    }
  }
};
thread_local OverlappedPool pool;

}  // namespace

void* Overlapped::operator new(size_t size) {
  if (size != sizeof(Overlapped) || pool.free.empty()) return ::operator new(size);
  void* p = pool.free.back();
  pool.free.pop_back();
  ASAN_UNPOISON_MEMORY_REGION(p, size);
  return p;
}

void Overlapped::operator delete(void* p, size_t size) {
  if (size != sizeof(Overlapped)) return ::operator delete(p);
  ASAN_POISON_MEMORY_REGION(p, size);
  pool.free.push_back(p);
}

Overlapped::Overlapped(EventLoop& loop, HANDLE event) : loop_(loop) {
  overlapped_.hEvent = event;
}

Overlapped::~Overlapped() {
  DeallocCheck();
  // Freed memory is filled, as Python's debug allocator does (0xDD,
  // PYTHONMALLOC=debug): a packet dequeued later for this OVERLAPPED is
  // then seen to touch freed memory in every build, not only under
  // AddressSanitizer. Volatile, so that the store is not dropped as dead.
  *reinterpret_cast<volatile ULONG_PTR*>(&overlapped_.Internal) =
      static_cast<ULONG_PTR>(0xDDDDDDDDDDDDDDDDull);
}

void Overlapped::DeallocCheck() {
  // Overlapped_dealloc: cancel what may still be running and look at its
  // status; anything but done, not found or aborted means the kernel may
  // still write into this memory.
  if (type_ == Type::kNone || type_ == Type::kNotStarted || type_ == Type::kWait ||
      type_ == Type::kWaitNamedPipeAndConnect) {
    return;
  }
  if (HasOverlappedIoCompleted(&overlapped_)) return;
  BOOL wait = CancelIoEx(handle_, &overlapped_) ? TRUE : FALSE;
  DWORD bytes = 0;
  BOOL ok = GetOverlappedResult(handle_, &overlapped_, &bytes, wait);
  DWORD err = ok ? ERROR_SUCCESS : GetLastError();
  switch (err) {
    case ERROR_SUCCESS:
    case ERROR_NOT_FOUND:
    case ERROR_OPERATION_ABORTED:
      return;
    default:
      loop_.CallExceptionHandler(
          {"<_overlapped.Overlapped> still has pending operation at deallocation, the process "
           "may crash",
           std::make_exception_ptr(OSError(err, "OSError: [WinError " + std::to_string(err) + "]")),
           {{"operation", TypeName()}}});  // CPython prints the object; addresses are not stable
  }
}

const char* Overlapped::TypeName() const {
  switch (type_) {
    case Type::kNone: return "none";
    case Type::kNotStarted: return "not-started";
    case Type::kRead: return "ReadFile";
    case Type::kReadInto: return "ReadFileInto";
    case Type::kWrite: return "WriteFile";
    case Type::kConnectNamedPipe: return "ConnectNamedPipe";
    case Type::kWait: return "wait";
    case Type::kWaitNamedPipeAndConnect: return "WaitNamedPipeAndConnect";
    case Type::kWSARecv: return "WSARecv";
    case Type::kWSARecvInto: return "WSARecvInto";
    case Type::kWSASend: return "WSASend";
    case Type::kAcceptEx: return "AcceptEx";
    case Type::kConnectEx: return "ConnectEx";
    case Type::kWSARecvFrom: return "WSARecvFrom";
    case Type::kWSASendTo: return "WSASendTo";
  }
  return "?";
}

bool Overlapped::IsRead() const {
  return type_ == Type::kRead || type_ == Type::kReadInto || type_ == Type::kWSARecv ||
         type_ == Type::kWSARecvInto;
}

bool Overlapped::pending() const {
  return !HasOverlappedIoCompleted(&overlapped_) && type_ != Type::kNotStarted;
}

void Overlapped::Started(HANDLE handle, Type type) {
  handle_ = handle;
  type_ = type;
}

void Overlapped::MarkAsCompleted() {
  // overlapped.c mark_as_completed(): no packet will come, so the program
  // writes the status block itself.
  overlapped_.Internal = 0;
  if (overlapped_.hEvent != nullptr) SetEvent(overlapped_.hEvent);
}

void Overlapped::Cancel() {
  // A wait, or the old connect_pipe's work item, cannot be cancelled.
  if (type_ == Type::kNotStarted || type_ == Type::kWait ||
      type_ == Type::kWaitNamedPipeAndConnect) {
    return;
  }
  BOOL ok = TRUE;
  if (!HasOverlappedIoCompleted(&overlapped_)) ok = CancelIoEx(handle_, &overlapped_);
  // CancelIoEx fails with ERROR_NOT_FOUND if the I/O completed in between.
  if (!ok && GetLastError() != ERROR_NOT_FOUND) RaiseWindowsError(GetLastError(), "CancelIoEx");
}

DWORD Overlapped::GetResult(bool wait) {
  if (type_ == Type::kNone) throw std::runtime_error("operation not yet attempted");
  if (type_ == Type::kNotStarted) throw std::runtime_error("operation failed to start");
  DWORD transferred = 0;
  BOOL ok = GetOverlappedResult(handle_, &overlapped_, &transferred, wait ? TRUE : FALSE);
  error_ = ok ? ERROR_SUCCESS : GetLastError();
  switch (error_) {
    case ERROR_SUCCESS:
    case ERROR_MORE_DATA:
      break;
    case ERROR_BROKEN_PIPE:
      // A read whose writer closed: end of file.
      if (IsRead()) break;
      RaiseWindowsError(error_);
    default:
      RaiseWindowsError(error_);
  }
  return transferred;
}

std::string Overlapped::ReadResult(bool wait) {
  DWORD n = GetResult(wait);
  return read_ ? std::string(read_.get(), n) : std::string();
}

void Overlapped::ReadFile(HANDLE handle, DWORD size) {
  read_.reset(new char[size == 0 ? 1 : size]);
  read_size_ = size;
  Started(handle, Type::kRead);
  DWORD nread = 0;
  FinishRead(::ReadFile(handle, read_.get(), size, &nread, &overlapped_), "ReadFile");
}

void Overlapped::ReadFileInto(HANDLE handle, std::shared_ptr<ReadBuffer> buffer) {
  into_ = std::move(buffer);
  Started(handle, Type::kReadInto);
  DWORD nread = 0;
  FinishRead(::ReadFile(handle, into_->data.get(), static_cast<DWORD>(into_->size), &nread,
                        &overlapped_), "ReadFile");
}

void Overlapped::FinishRead(BOOL ok, const char* call) {
  error_ = ok ? ERROR_SUCCESS : GetLastError();
  switch (error_) {
    case ERROR_BROKEN_PIPE:
      MarkAsCompleted();
      // Quirk recv-broken-pipe: before 41063d2a the error was swallowed
      // and IocpProactor.recv registered an operation no packet completes.
      if (loop_.profile().Has(Quirk::kRecvBrokenPipe)) return;
      RaiseWindowsError(error_, call);
    case ERROR_SUCCESS:
    case ERROR_MORE_DATA:
    case ERROR_IO_PENDING:
      return;
    default:
      type_ = Type::kNotStarted;
      LeakBufferIfQuirk(call);
      RaiseWindowsError(error_, call);
  }
}

void Overlapped::FinishStart(BOOL ok, const char* call) {
  error_ = ok ? ERROR_SUCCESS : GetLastError();
  if (error_ == ERROR_SUCCESS || error_ == ERROR_IO_PENDING) return;
  type_ = Type::kNotStarted;
  LeakBufferIfQuirk(call);
  RaiseWindowsError(error_, call);
}

void Overlapped::LeakBufferIfQuirk(const char* call) {
  // Quirk bpo-32710: Overlapped_dealloc released the buffer by type, and a
  // synchronous failure had set the type to TYPE_NOT_STARTED, so the buffer
  // (the bytes object's reference) was never released (fixed by a234e148
  // for WSASend, 5485085b for the reads).
  if (!loop_.profile().Has(Quirk::kBpo32710)) return;
  // WSARecvFrom and WSASendTo came with UDP support (bpo-29883, 3.8), after
  // both fixes: they never had the leak.
  if (std::string_view(call) == "WSARecvFrom" || std::string_view(call) == "WSASendTo") return;
  if (!buffer_.empty()) {
    size_t n = buffer_.size();
    loop_.KeepLeakedBuffer(
        {call, n, std::make_shared<std::string>(std::move(buffer_)), Origin::Here(loop_).Format()});
    buffer_.clear();
  } else if (read_ != nullptr) {
    loop_.KeepLeakedBuffer({call, read_size_, std::shared_ptr<char[]>(std::move(read_)),
                            Origin::Here(loop_).Format()});
  } else if (into_ != nullptr) {
    size_t n = into_->size;
    loop_.KeepLeakedBuffer({call, n, std::move(into_), Origin::Here(loop_).Format()});
  }
}

// ------------------------------------------------------------- sockets

void Overlapped::WSARecv(SOCKET s, DWORD size) {
  read_.reset(new char[size == 0 ? 1 : size]);
  read_size_ = size;
  Started(reinterpret_cast<HANDLE>(s), Type::kWSARecv);
  WSABUF buf{size, read_.get()};
  DWORD nread = 0, flags = 0;
  FinishRead(::WSARecv(s, &buf, 1, &nread, &flags, &overlapped_, nullptr) == 0, "WSARecv");
}

void Overlapped::WSARecvInto(SOCKET s, std::shared_ptr<ReadBuffer> buffer) {
  into_ = std::move(buffer);
  Started(reinterpret_cast<HANDLE>(s), Type::kWSARecvInto);
  WSABUF buf{static_cast<ULONG>(into_->size), into_->data.get()};
  DWORD nread = 0, flags = 0;
  FinishRead(::WSARecv(s, &buf, 1, &nread, &flags, &overlapped_, nullptr) == 0, "WSARecv");
}

void Overlapped::WSASend(SOCKET s, std::string data) {
  buffer_ = std::move(data);
  Started(reinterpret_cast<HANDLE>(s), Type::kWSASend);
  WSABUF buf{static_cast<ULONG>(buffer_.size()), buffer_.data()};
  DWORD sent = 0;
  FinishStart(::WSASend(s, &buf, 1, &sent, 0, &overlapped_, nullptr) == 0, "WSASend");
}

namespace {

// The extension functions. overlapped.c looks them up once, at import;
// here each call asks WSAIoctl on its own socket (the same pointer comes
// back), so that no run's calls depend on what an earlier run did.
template <class Fn>
Fn Extension(SOCKET s, GUID guid) {
  Fn fn = nullptr;
  DWORD n = 0;
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &fn, sizeof fn, &n,
               nullptr, nullptr) != 0) {
    RaiseWindowsError(GetLastError(), "WSAIoctl");
  }
  return fn;
}

// sizeof(struct sockaddr_in6) + 16, as overlapped.c sizes AcceptEx's buffer.
constexpr DWORD kAcceptAddressLength = 28 + 16;

}  // namespace

void Overlapped::AcceptEx(SOCKET listener, SOCKET conn) {
  auto accept_ex = Extension<LPFN_ACCEPTEX>(listener, WSAID_ACCEPTEX);
  addresses_.reset(new char[2 * kAcceptAddressLength]);
  Started(reinterpret_cast<HANDLE>(listener), Type::kAcceptEx);
  DWORD received = 0;
  FinishStart(accept_ex(listener, conn, addresses_.get(), 0, kAcceptAddressLength,
                        kAcceptAddressLength, &received, &overlapped_),
              "AcceptEx");
}

void Overlapped::ConnectEx(SOCKET s, uint16_t port) {
  auto connect_ex = Extension<LPFN_CONNECTEX>(s, WSAID_CONNECTEX);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Started(reinterpret_cast<HANDLE>(s), Type::kConnectEx);
  DWORD sent = 0;
  FinishStart(connect_ex(s, reinterpret_cast<const sockaddr*>(&to), sizeof to, nullptr, 0, &sent,
                         &overlapped_),
              "ConnectEx");
}

void Overlapped::WSARecvFrom(SOCKET s, DWORD size) {
  read_.reset(new char[size == 0 ? 1 : size]);
  read_size_ = size;
  Started(reinterpret_cast<HANDLE>(s), Type::kWSARecvFrom);
  WSABUF buf{size, read_.get()};
  DWORD nread = 0, flags = 0;
  from_length_ = sizeof from_;
  FinishRead(::WSARecvFrom(s, &buf, 1, &nread, &flags, reinterpret_cast<sockaddr*>(&from_),
                           &from_length_, &overlapped_, nullptr) == 0,
             "WSARecvFrom");
}

void Overlapped::WSASendTo(SOCKET s, std::string data, uint16_t port) {
  buffer_ = std::move(data);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Started(reinterpret_cast<HANDLE>(s), Type::kWSASendTo);
  WSABUF buf{static_cast<ULONG>(buffer_.size()), buffer_.data()};
  DWORD sent = 0;
  FinishStart(::WSASendTo(s, &buf, 1, &sent, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to,
                          &overlapped_, nullptr) == 0,
              "WSASendTo");
}

void Overlapped::WriteFile(HANDLE handle, std::string data) {
  buffer_ = std::move(data);
  Started(handle, Type::kWrite);
  DWORD written = 0;
  FinishStart(::WriteFile(handle, buffer_.data(), static_cast<DWORD>(buffer_.size()), &written,
                          &overlapped_),
              "WriteFile");
}

bool Overlapped::ConnectNamedPipe(HANDLE pipe) {
  Started(pipe, Type::kConnectNamedPipe);
  BOOL ok = ::ConnectNamedPipe(pipe, &overlapped_);
  error_ = ok ? ERROR_SUCCESS : GetLastError();
  switch (error_) {
    case ERROR_PIPE_CONNECTED:
      MarkAsCompleted();
      // Quirk accept-pipe-connected: before 2b77c546 this returned None,
      // and accept_pipe registered an operation no packet completes.
      return !loop_.profile().Has(Quirk::kAcceptPipeConnected);
    case ERROR_SUCCESS:
    case ERROR_IO_PENDING:
      return false;
    default:
      type_ = Type::kNotStarted;
      RaiseWindowsError(error_, "ConnectNamedPipe");
  }
}

namespace {

struct ConnectData {
  std::basic_string<WCHAR> address;
  HANDLE iocp;
  OVERLAPPED* overlapped;
};

// WaitNamedPipeAndConnectInThread of the old overlapped.c: up to 20 s of
// WaitNamedPipe + CreateFile, then one post whatever happened. Nothing can
// interrupt it.
DWORD WINAPI WaitNamedPipeAndConnectInThread(LPVOID param) {
  std::unique_ptr<ConnectData> data(static_cast<ConnectData*>(param));
  HANDLE pipe = INVALID_HANDLE_VALUE;
  ULONGLONG deadline = GetTickCount64() + 20 * 1000;
  DWORD error = 0;
  for (;;) {
    ULONGLONG now = GetTickCount64();
    if (now > deadline) break;
    BOOL ok = WaitNamedPipeW(data->address.c_str(), static_cast<DWORD>(deadline - now));
    error = ok ? ERROR_SUCCESS : GetLastError();
    if (error == ERROR_SUCCESS) {
      pipe = CreateFileW(data->address.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                         OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
      if (pipe == INVALID_HANDLE_VALUE) continue;  // another client was faster
      break;
    }
    if (error == ERROR_SEM_TIMEOUT) continue;
    break;
  }
  if (!PostQueuedCompletionStatus(data->iocp, error, reinterpret_cast<ULONG_PTR>(pipe),
                                  data->overlapped)) {
    CloseHandle(pipe);
  }
  return 0;
}

}  // namespace

void Overlapped::WaitNamedPipeAndConnect(const std::string& address, HANDLE iocp) {
  type_ = Type::kWaitNamedPipeAndConnect;
  auto* data = new ConnectData{Widen(address), iocp, &overlapped_};
  if (!QueueUserWorkItem(WaitNamedPipeAndConnectInThread, data, WT_EXECUTEDEFAULT)) {
    DWORD err = GetLastError();
    delete data;
    type_ = Type::kNotStarted;
    RaiseWindowsError(err, "QueueUserWorkItem");
  }
}

}  // namespace iocpsim::proactor
