#include "proactor/iocp_proactor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "proactor/annotate.h"
#include "proactor/errors.h"

namespace iocpsim::proactor {

namespace {

bool Contains(std::vector<std::weak_ptr<PipeHandle>>& set, const PipeHandlePtr& obj) {
  // A WeakSet: dead entries drop out.
  set.erase(std::remove_if(set.begin(), set.end(), [](auto& w) { return w.expired(); }), set.end());
  return std::any_of(set.begin(), set.end(), [&](auto& w) { return w.lock() == obj; });
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

// RegisterWaitWithQueue's context (overlapped.c PostCallbackData).
struct PostCallbackData {
  HANDLE iocp;
  OVERLAPPED* overlapped;
};

namespace {

// overlapped.c PostToQueueCallback: the wait fired or timed out; post it.
void CALLBACK PostToQueueCallback(PVOID param, BOOLEAN timer_or_wait_fired) {
  auto* data = static_cast<PostCallbackData*>(param);
  PostQueuedCompletionStatus(data->iocp, timer_or_wait_fired ? 1 : 0, 0, data->overlapped);
  // Errors are ignored, as overlapped.c does.
}

}  // namespace

void ReportCancelFailed(FutureBase& f, std::exception_ptr e) {
  f.loop().CallExceptionHandler(
      {"Cancelling an overlapped future failed", e, {{"future", f.Describe()}}});
}

// --------------------------------------------------------------- waits

namespace {

void ReportUnregisterFailed(FutureBase& f, DWORD err) {
  f.loop().CallExceptionHandler(
      {"Failed to unregister the wait handle",
       std::make_exception_ptr(OSError(err, "OSError: [WinError " + std::to_string(err) + "]")),
       {{"future", f.Describe()}}});
}

}  // namespace

BaseWaitHandleFuture::BaseWaitHandleFuture(EventLoop& loop, std::shared_ptr<Overlapped> ov,
                                           HANDLE handle, HANDLE wait_handle)
    : Future<bool>(loop), ov_(std::move(ov)), handle_(handle), wait_handle_(wait_handle) {}

bool BaseWaitHandleFuture::Poll() const { return WaitForSingleObject(handle_, 0) == WAIT_OBJECT_0; }

void BaseWaitHandleFuture::UnregisterWaitCallback() {
  // The wait is unregistered: the Overlapped may go.
  ov_ = nullptr;
}

void BaseWaitHandleFuture::UnregisterWait() {
  if (!registered_) return;
  registered_ = false;
  HANDLE wait_handle = wait_handle_;
  wait_handle_ = nullptr;
  if (!::UnregisterWait(wait_handle)) {
    DWORD err = GetLastError();
    if (err != ERROR_IO_PENDING) {
      ReportUnregisterFailed(*this, err);
      return;
    }
    // ERROR_IO_PENDING: the callback is running; the unregister is pending.
  }
  UnregisterWaitCallback();
}

bool BaseWaitHandleFuture::Cancel() {
  UnregisterWait();
  return Future<bool>::Cancel();
}

void BaseWaitHandleFuture::SetException(std::exception_ptr e) {
  UnregisterWait();
  Future<bool>::SetException(e);
}

void BaseWaitHandleFuture::SetResult(bool value) {
  UnregisterWait();
  Future<bool>::SetResult(value);
}

bool WaitCancelFuture::Cancel() {
  throw std::runtime_error("_WaitCancelFuture must not be cancelled");
}

void WaitCancelFuture::SetResult(bool value) {
  BaseWaitHandleFuture::SetResult(value);
  if (done_callback) done_callback();
}

void WaitCancelFuture::SetException(std::exception_ptr e) {
  BaseWaitHandleFuture::SetException(e);
  if (done_callback) done_callback();
}

WaitHandleFuture::WaitHandleFuture(EventLoop& loop, std::shared_ptr<Overlapped> ov, HANDLE handle,
                                   HANDLE wait_handle, IocpProactor* proactor)
    : BaseWaitHandleFuture(loop, std::move(ov), handle, wait_handle),
      proactor_(proactor),
      event_(CreateEventW(nullptr, TRUE, FALSE, nullptr)) {}

bool WaitHandleFuture::Cancel() {
  const Profile& profile = loop().profile();
  if (profile.Has(Quirk::kWaitCancelFakePacket) || profile.Has(Quirk::kBpo23095)) {
    // The cancel before the bpo-23095 fix (d0a28dee, 1ca9392c, 752aba7f,
    // 24dfa3c1): the non-blocking UnregisterWait, which returns while the
    // wait's callback may still be queued or running; the cache entry is
    // dropped at once and the Overlapped with it. With 313a9809 it also
    // posted a fake packet "to signal the cancellation to the overlapped",
    // which the real callback's packet may follow. (A future that is
    // already done had unregistered itself in set_result then.)
    if (done()) return false;
    bool result = Future<bool>::Cancel();
    if (ov_ != nullptr && profile.Has(Quirk::kWaitCancelFakePacket)) {
      PostQueuedCompletionStatus(proactor_->iocp(), 1, 0, ov_->raw());
    }
    if (registered_) {
      registered_ = false;
      if (!::UnregisterWait(wait_handle_) && GetLastError() != ERROR_IO_PENDING) {
        RaiseWindowsError(GetLastError(), "UnregisterWait");
      }
      wait_handle_ = nullptr;
    }
    if (event_ != nullptr) {
      CloseHandle(event_);
      event_ = nullptr;
    }
    if (ov_ != nullptr && !profile.Has(Quirk::kWaitCancelFakePacket)) proactor_->Forget(ov_);
    ov_ = nullptr;
    return result;
  }
  return BaseWaitHandleFuture::Cancel();
}

void WaitHandleFuture::UnregisterWaitCallback() {
  if (event_ != nullptr) {
    CloseHandle(event_);
    event_ = nullptr;
    event_fut_ = nullptr;
  }
  // If the wait was cancelled it may never be signalled, so it must be
  // unregistered, or close() would wait forever; if the packet came
  // already, the entry is gone and this is harmless (the Overlapped was
  // kept alive as the cache key).
  proactor_->Unregister(ov_);
  proactor_ = nullptr;
  BaseWaitHandleFuture::UnregisterWaitCallback();
}

void WaitHandleFuture::UnregisterWait() {
  if (!registered_) return;
  registered_ = false;
  HANDLE wait_handle = wait_handle_;
  wait_handle_ = nullptr;
  if (!UnregisterWaitEx(wait_handle, event_)) {
    DWORD err = GetLastError();
    if (err != ERROR_IO_PENDING) {
      ReportUnregisterFailed(*this, err);
      return;
    }
    // ERROR_IO_PENDING is not an error: the wait is unregistered.
  }
  // A bound method in Python: it holds this future until the event fires
  // (the cycle ends in UnregisterWaitCallback, which drops event_fut_).
  auto self = std::static_pointer_cast<WaitHandleFuture>(shared_from_this());
  event_fut_ = proactor_->WaitCancel(event_, [self] { self->UnregisterWaitCallback(); });
}

// ------------------------------------------------------------ proactor

IocpProactor::IocpProactor(EventLoop& loop)
    : loop_(loop), iocp_(CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, INFINITE)) {
  if (iocp_ == nullptr) RaiseWindowsError(GetLastError(), "CreateIoCompletionPort");
  cache_.reserve(8);  // a run's operations in flight at once, not a doubling at a time
}

IocpProactor::~IocpProactor() {
  if (iocp_ == nullptr) return;
  // IocpProactor.__del__ closes it -- but a destructor run by an exception
  // (the simulation stopping this thread) must not wait for packets that
  // will never come: the run is over, and the kernel reports what it still
  // owns.
  if (std::uncaught_exceptions() > 0) return;
  Close();
}

void IocpProactor::CheckClosed() const {
  if (iocp_ == nullptr) throw std::runtime_error("IocpProactor is closed");
}

void IocpProactor::Select(double timeout) {
  if (results_.empty()) Poll(timeout);
  results_.clear();
}

template <class T>
FuturePtr<T> IocpProactor::Result(T value) {
  auto f = loop_.CreateFuture<T>();
  f->SetResult(std::move(value));
  return f;
}

void IocpProactor::RegisterWithIocp(const PipeHandlePtr& obj) {
  // To get notifications of finished ops on this object the handle must
  // be associated with the port (once).
  if (Contains(registered_, obj)) return;
  registered_.push_back(obj);
  CreateIoCompletionPort(obj->fileno(), iocp_, 0, 0);
}

template <class T>
FuturePtr<T> IocpProactor::Register(std::shared_ptr<Overlapped> ov, PipeHandlePtr obj,
                                    std::function<T(std::shared_ptr<Overlapped>)> callback) {
  CheckClosed();
  auto f = std::make_shared<OverlappedFuture<T>>(loop_, ov);
  bool wait_for_post = ov->type() == Overlapped::Type::kWaitNamedPipeAndConnect;
  if (!ov->pending() && !wait_for_post) {
    // The operation completed synchronously: no need to wait for its
    // packet to resolve the future...
    try {
      f->SetResult(callback(ov));
    } catch (const OSError&) {
      f->SetException(std::current_exception());
    }
    if (Annotating()) {
      f->trace_op = AnnotationOp(reinterpret_cast<const void*>(ov->address()));
      Annotate("proactor", f->trace_op,
               std::string("register: ") + ov->TypeName() + " completed at once, " + f->Describe());
    }
    // ...but the packet still comes: keep the Overlapped in the cache
    // until it is dequeued, or the kernel would write into freed memory.
    // Quirk asyncio-196: before 42d3bdee the entry was not kept.
    if (loop_.profile().Has(Quirk::kAsyncio196)) return f;
  }
  Entry e;
  e.f = f;
  e.ov = ov;
  e.obj = std::move(obj);
  e.finish = [f = f.get(), callback](DWORD, ULONG_PTR, const std::shared_ptr<Overlapped>& ov) {
    try {
      f->SetResult(callback(ov));
    } catch (const OSError&) {
      f->SetException(std::current_exception());
    }
  };
  Remember(std::move(e));
  return f;
}

// ---------------------------------------------------------------- verbs

namespace {

SOCKET SocketOf(const PipeHandlePtr& conn) { return reinterpret_cast<SOCKET>(conn->fileno()); }

// finish_recv / finish_send on a socket: a reset or an aborted operation
// is ConnectionResetError.
template <class T, class F>
T ResetAsConnectionReset(F&& get) {
  try {
    return get();
  } catch (const OSError& e) {
    if (e.winerror == ERROR_NETNAME_DELETED || e.winerror == ERROR_OPERATION_ABORTED) {
      throw ConnectionResetError(e.winerror, std::string("ConnectionResetError: ") + e.what());
    }
    throw;
  }
}

// finish_socket_func since gh-91227 (f11d0d8b, in 3.12.3): a receive that
// completes with ERROR_PORT_UNREACHABLE (an ICMP port unreachable came
// back for an earlier datagram) is (b'', None), not an error.
template <class T, class F>
T UnreachableAsEmpty(F&& get) {
  try {
    return ResetAsConnectionReset<T>(get);
  } catch (const OSError& e) {
    if (e.winerror == ERROR_PORT_UNREACHABLE) return T{};
    throw;
  }
}

}  // namespace

FuturePtr<std::string> IocpProactor::Recv(const PipeHandlePtr& conn, DWORD nbytes) {
  RegisterWithIocp(conn);
  auto ov = Overlapped::New(loop_);
  bool sock = conn->is_socket();
  try {
    if (sock) {
      ov->WSARecv(SocketOf(conn), nbytes);
    } else {
      ov->ReadFile(conn->fileno(), nbytes);
    }
  } catch (const BrokenPipeError&) {
    return Result<std::string>("");
  }
  return Register<std::string>(ov, conn, [sock](std::shared_ptr<Overlapped> ov) {
    if (!sock) return ov->ReadResult();
    // Departure: CPython's result here is the tuple (b'', None), which a
    // connected datagram transport passes on to datagram_received() as the
    // data; here it is b'' (nothing is delivered).
    return UnreachableAsEmpty<std::string>([&] { return ov->ReadResult(); });
  });
}

FuturePtr<DWORD> IocpProactor::RecvInto(const PipeHandlePtr& conn,
                                        std::shared_ptr<ReadBuffer> buf) {
  RegisterWithIocp(conn);
  auto ov = Overlapped::New(loop_);
  bool sock = conn->is_socket();
  try {
    if (sock) {
      ov->WSARecvInto(SocketOf(conn), std::move(buf));
    } else {
      ov->ReadFileInto(conn->fileno(), std::move(buf));
    }
  } catch (const BrokenPipeError&) {
    return Result<DWORD>(0);
  }
  return Register<DWORD>(ov, conn, [sock](std::shared_ptr<Overlapped> ov) {
    if (!sock) return ov->GetResult();
    return ResetAsConnectionReset<DWORD>([&] { return ov->GetResult(); });
  });
}

FuturePtr<DWORD> IocpProactor::Send(const PipeHandlePtr& conn, std::string data) {
  RegisterWithIocp(conn);
  auto ov = Overlapped::New(loop_);
  bool sock = conn->is_socket();
  if (sock) {
    ov->WSASend(SocketOf(conn), std::move(data));
  } else {
    ov->WriteFile(conn->fileno(), std::move(data));
  }
  return Register<DWORD>(ov, conn, [sock](std::shared_ptr<Overlapped> ov) {
    if (!sock) return ov->GetResult();
    return ResetAsConnectionReset<DWORD>([&] { return ov->GetResult(); });
  });
}

FuturePtr<Datagram> IocpProactor::RecvFrom(const SocketPtr& conn, DWORD nbytes) {
  RegisterWithIocp(conn);
  auto ov = Overlapped::New(loop_);
  try {
    ov->WSARecvFrom(conn->sock(), nbytes);
  } catch (const BrokenPipeError&) {
    return Result<Datagram>({});
  }
  return Register<Datagram>(ov, conn, [](std::shared_ptr<Overlapped> ov) {
    return UnreachableAsEmpty<Datagram>([&] {
      std::string data = ov->ReadResult();
      return Datagram{std::move(data), ov->from_port()};
    });
  });
}

FuturePtr<DWORD> IocpProactor::SendTo(const SocketPtr& conn, std::string data, uint16_t port) {
  RegisterWithIocp(conn);
  auto ov = Overlapped::New(loop_);
  ov->WSASendTo(conn->sock(), std::move(data), port);
  return Register<DWORD>(ov, conn, [](std::shared_ptr<Overlapped> ov) {
    return ResetAsConnectionReset<DWORD>([&] { return ov->GetResult(); });
  });
}

namespace {

// accept_coro: closes the accept socket if the accept is cancelled (any
// other exception ends the task with it, as in CPython).
Coro<Void> CloseIfCancelled(FuturePtr<Accepted> future, SocketPtr conn) {
  try {
    co_await future;
  } catch (const CancelledError&) {
    conn->Close();
    throw;
  }
  co_return;
}

}  // namespace

FuturePtr<Accepted> IocpProactor::Accept(const SocketPtr& listener) {
  RegisterWithIocp(listener);
  SocketPtr conn = Socket::Make(loop_, Socket::Type::kStream);  // _get_accept_socket
  auto ov = Overlapped::New(loop_);
  ov->AcceptEx(listener->sock(), conn->sock());
  auto future = Register<Accepted>(ov, listener, [listener, conn](std::shared_ptr<Overlapped> ov) {
    ov->GetResult();
    // SO_UPDATE_ACCEPT_CONTEXT, so that getpeername() and the rest work.
    SOCKET l = listener->sock();
    if (setsockopt(conn->sock(), SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                   reinterpret_cast<const char*>(&l), sizeof l) != 0) {
      RaiseWindowsError(static_cast<DWORD>(WSAGetLastError()), "setsockopt");
    }
    uint16_t peer = conn->PeerPort();
    conn->LocalPort();
    return Accepted{conn, peer};
  });
  loop_.CreateTask(CloseIfCancelled(future, conn));
  return future;
}

FuturePtr<SocketPtr> IocpProactor::Connect(const SocketPtr& conn, uint16_t port) {
  if (conn->type() == Socket::Type::kDatagram) {
    // A UDP connect completes at once: nothing to register.
    conn->Connect(port);
    return Result<SocketPtr>(conn);
  }
  RegisterWithIocp(conn);
  // ConnectEx needs a bound socket (BindLocal; WSAEINVAL: bound already).
  sockaddr_in any{};
  any.sin_family = AF_INET;
  if (bind(conn->sock(), reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) {
    DWORD err = static_cast<DWORD>(WSAGetLastError());
    if (err != WSAEINVAL || conn->LocalPort() == 0) RaiseWindowsError(err, "bind");
  }
  conn->LocalPort();
  auto ov = Overlapped::New(loop_);
  ov->ConnectEx(conn->sock(), port);
  return Register<SocketPtr>(ov, conn, [conn](std::shared_ptr<Overlapped> ov) {
    ov->GetResult();
    // SO_UPDATE_CONNECT_CONTEXT, so that getsockname() and the rest work.
    int zero = 0;
    if (setsockopt(conn->sock(), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT,
                   reinterpret_cast<const char*>(&zero), sizeof zero) != 0) {
      RaiseWindowsError(static_cast<DWORD>(WSAGetLastError()), "setsockopt");
    }
    conn->PeerPort();
    return conn;
  });
}

FuturePtr<PipeHandlePtr> IocpProactor::AcceptPipe(const PipeHandlePtr& pipe) {
  RegisterWithIocp(pipe);
  auto ov = Overlapped::New(loop_);
  bool connected = ov->ConnectNamedPipe(pipe->fileno());
  if (connected) {
    // ERROR_PIPE_CONNECTED: the client connected first; no packet will
    // come, so nothing is registered (2b77c546).
    return Result<PipeHandlePtr>(pipe);
  }
  return Register<PipeHandlePtr>(ov, pipe, [pipe](std::shared_ptr<Overlapped> ov) {
    ov->GetResult();
    return pipe;
  });
}

FuturePtr<PipeHandlePtr> IocpProactor::ConnectPipe(const std::string& address) {
  if (loop_.profile().Has(Quirk::kBpo23293)) return ConnectPipeOnThread(address);
  return loop_.CreateTask(ConnectPipeCoro(address));
}

Coro<PipeHandlePtr> IocpProactor::ConnectPipeCoro(std::string address) {
  double delay = kConnectPipeInitDelay;
  std::basic_string<WCHAR> wide = Widen(address);
  for (;;) {
    // There is no overlapped connect to a pipe: CreateFile until it stops
    // failing with ERROR_PIPE_BUSY (overlapped.c ConnectPipe).
    HANDLE h = CreateFileW(wide.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED, nullptr);
    if (h != INVALID_HANDLE_VALUE) co_return std::make_shared<PipeHandle>(loop_, h);
    DWORD err = GetLastError();
    if (err != ERROR_PIPE_BUSY) RaiseWindowsError(err, "CreateFileW");
    delay = std::min(delay * 2, kConnectPipeMaxDelay);
    co_await Sleep(loop_, delay);
  }
}

FuturePtr<PipeHandlePtr> IocpProactor::ConnectPipeOnThread(const std::string& address) {
  // Quirk bpo-23293: connect_pipe before 7ffa2c5f. A thread-pool work
  // item does the waiting and posts the new handle as the completion key;
  // the future cannot cancel it, and close() forgets its entry (before
  // 3d2256f6).
  CheckClosed();
  auto ov = Overlapped::New(loop_);
  ov->WaitNamedPipeAndConnect(address, iocp_);
  auto f = std::make_shared<OverlappedFuture<PipeHandlePtr>>(loop_, ov);
  Entry e;
  e.f = f;
  e.ov = ov;
  e.forget_on_close = true;
  e.finish = [loop = &loop_, f = f.get()](DWORD err, ULONG_PTR key, const std::shared_ptr<Overlapped>&) {
    // finish_connect_pipe(err, handle, ov): the work item's arguments.
    if (err != 0) {
      f->SetException(std::make_exception_ptr(
          OSError(err, "OSError: [WinError " + std::to_string(err) + "] connect_pipe")));
      return;
    }
    f->SetResult(std::make_shared<PipeHandle>(*loop, reinterpret_cast<HANDLE>(key)));
  };
  Remember(std::move(e));
  return f;
}

// ---------------------------------------------------------------- waits

FuturePtr<bool> IocpProactor::WaitForHandle(HANDLE handle, double timeout) {
  return WaitForHandleImpl(handle, timeout, false, nullptr);
}

std::shared_ptr<WaitCancelFuture> IocpProactor::WaitCancel(HANDLE event,
                                                           std::function<void()> done_callback) {
  // add_done_callback() cannot be used: the wait may complete only in
  // close(), while the loop is not running.
  return std::static_pointer_cast<WaitCancelFuture>(
      WaitForHandleImpl(event, -1, true, std::move(done_callback)));
}

FuturePtr<bool> IocpProactor::WaitForHandleImpl(HANDLE handle, double timeout, bool is_cancel,
                                                std::function<void()> done_callback) {
  CheckClosed();
  // RegisterWaitForSingleObject has a 1 ms resolution: round away from 0.
  DWORD ms = timeout < 0 ? INFINITE : static_cast<DWORD>(std::ceil(timeout * 1e3));
  // The Overlapped is only a unique key for the cache.
  auto ov = Overlapped::New(loop_);
  ov->MarkWait();
  // overlapped.c RegisterWaitWithQueue: the callback posts the address.
  post_data_.push_back(std::make_unique<PostCallbackData>(PostCallbackData{iocp_, ov->raw()}));
  HANDLE wait_handle = nullptr;
  if (!RegisterWaitForSingleObject(&wait_handle, handle, PostToQueueCallback,
                                   post_data_.back().get(), ms,
                                   WT_EXECUTEINWAITTHREAD | WT_EXECUTEONLYONCE)) {
    RaiseWindowsError(GetLastError(), "RegisterWaitForSingleObject");
  }
  std::shared_ptr<BaseWaitHandleFuture> f;
  if (is_cancel) {
    auto c = std::make_shared<WaitCancelFuture>(loop_, ov, handle, wait_handle);
    c->done_callback = std::move(done_callback);
    f = c;
  } else {
    f = std::make_shared<WaitHandleFuture>(loop_, ov, handle, wait_handle, this);
  }
  Entry e;
  e.f = f;
  e.ov = ov;
  e.wait_cancel = is_cancel;
  e.finish = [f = f.get()](DWORD, ULONG_PTR, const std::shared_ptr<Overlapped>&) {
    // finish_wait_for_handle: a second wait, so only for handles whose
    // successful wait has no side effect (events, processes).
    f->SetResult(f->Poll());
  };
  Remember(std::move(e));
  return f;
}

// ------------------------------------------------------------ the core

void IocpProactor::Unregister(const std::shared_ptr<Overlapped>& ov) {
  CheckClosed();
  unregistered_.push_back(ov);
}

void IocpProactor::Forget(const std::shared_ptr<Overlapped>& ov) {
  auto it = Find(ov->address());
  if (it != cache_.end()) cache_.erase(it);
}

void IocpProactor::Remember(Entry e) {
  Forget(e.ov);
  cache_.push_back(std::move(e));
}

std::vector<IocpProactor::Entry>::iterator IocpProactor::Find(uintptr_t address) {
  return std::find_if(cache_.begin(), cache_.end(),
                      [address](const Entry& e) { return e.ov->address() == address; });
}

void IocpProactor::StopServing(const PipeHandlePtr& obj) {
  // The handle is closed by the loop right after, which makes its pending
  // operations fail quickly.
  stopped_serving_.push_back(obj);
}

void IocpProactor::Poll(double timeout) {
  DWORD ms = INFINITE;
  if (timeout >= 0) {
    // GetQueuedCompletionStatus has a 1 ms resolution: round away from 0.
    double m = std::ceil(timeout * 1e3);
    if (m >= INFINITE) throw std::invalid_argument("timeout too big");
    ms = static_cast<DWORD>(m);
  }
  for (;;) {
    DWORD transferred = 0;
    ULONG_PTR key = 0;
    OVERLAPPED* address = nullptr;
    BOOL ok = GetQueuedCompletionStatus(iocp_, &transferred, &key, &address, ms);
    if (!ok && address == nullptr) {
      DWORD err = GetLastError();
      if (err == WAIT_TIMEOUT) break;
      RaiseWindowsError(err, "GetQueuedCompletionStatus");
    }
    ms = 0;
    auto it = Find(reinterpret_cast<uintptr_t>(address));
    uint32_t op = Annotating() ? AnnotationOp(address) : 0;
    if (it == cache_.end()) {
      if (Annotating()) Annotate("proactor", op, "poll: no future for this packet: unexpected event");
      // Departure: CPython reports this only in debug mode; here always.
      loop_.CallExceptionHandler(
          {"GetQueuedCompletionStatus() returned an unexpected event", nullptr,
           {{"status", "err=" + std::to_string(ok ? 0 : GetLastError()) +
                           " transferred=" + std::to_string(transferred) + " key=" + Hex(key) +
                           " address=" + (address != nullptr ? "ov" : "NULL")}}});
      // The key is either zero, or a pipe handle (the old connect_pipe)
      // which should be closed to avoid a leak -- whatever it names now.
      if (key != 0 && key != reinterpret_cast<ULONG_PTR>(INVALID_HANDLE_VALUE)) {
        CloseHandle(reinterpret_cast<HANDLE>(key));
      }
      continue;
    }
    Entry e = std::move(*it);
    cache_.erase(it);
    if (e.obj != nullptr && Contains(stopped_serving_, e.obj)) {
      e.f->trace_op = op;
      e.f->Cancel();
      if (Annotating()) Annotate("proactor", op, "poll: stopped serving, " + e.f->Describe());
    } else if (!e.f->done()) {
      // Not when _register() already read the result, nor when cancelled.
      e.f->trace_op = op;
      e.finish(transferred, key, e.ov);
      results_.push_back(e.f);
      if (Annotating()) {
        Annotate("proactor", op, std::string("poll: ") + e.ov->TypeName() + " " + e.f->Describe());
      }
    } else if (Annotating()) {
      Annotate("proactor", op, std::string("poll: ") + e.ov->TypeName() + " packet for " +
                                   e.f->Describe() + ", dropped");
    }
  }
  // Remove the unregistered futures.
  for (const auto& ov : unregistered_) Forget(ov);
  unregistered_.clear();
}

std::vector<std::string> IocpProactor::DescribeCache() const {
  std::vector<std::string> out;
  for (const Entry& e : cache_) out.push_back(std::string(e.ov->TypeName()) + " " + e.f->Describe());
  return out;
}

void IocpProactor::Close() {
  if (iocp_ == nullptr) return;
  // Cancel the remaining registered operations, in registration order.
  std::vector<std::shared_ptr<Overlapped>> forget;
  std::vector<std::shared_ptr<FutureBase>> to_cancel;
  for (const Entry& e : cache_) {
    if (e.forget_on_close) {
      // Quirk bpo-23293 (before 3d2256f6): "this task cannot be cancelled,
      // so just forget it".
      forget.push_back(e.ov);
    } else if (e.f->cancelled() || e.wait_cancel) {
      // Nothing to do with cancelled futures; a _WaitCancelFuture must
      // not be cancelled.
    } else {
      to_cancel.push_back(e.f);
    }
  }
  for (const auto& ov : forget) Forget(ov);
  for (auto& f : to_cancel) {
    try {
      f->Cancel();
    } catch (const OSError&) {
      loop_.CallExceptionHandler(
          {"Cancelling a future failed", std::current_exception(), {{"future", f->Describe()}}});
    }
  }
  // Wait until every cancelled operation completes: never exit with the
  // kernel still owning an OVERLAPPED. Progress is reported each second.
  constexpr double kMsgUpdate = 1.0;
  double start = loop_.Time();
  double next_msg = start + kMsgUpdate;
  while (!cache_.empty()) {
    if (next_msg <= loop_.Time()) {
      char msg[160];
      std::snprintf(msg, sizeof msg,
                    "<IocpProactor overlapped#=%zu result#=%zu> is running after closing for "
                    "%.1f seconds",
                    cache_.size(), results_.size(), loop_.Time() - start);
      std::vector<std::pair<std::string, std::string>> details;
      for (const std::string& d : DescribeCache()) details.push_back({"pending", d});
      loop_.CallExceptionHandler({msg, nullptr, details});
      next_msg = loop_.Time() + kMsgUpdate;
    }
    Poll(kMsgUpdate);
  }
  results_.clear();
  CloseHandle(iocp_);
  iocp_ = nullptr;
}

}  // namespace iocpsim::proactor
