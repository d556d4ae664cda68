// IocpProactor, as in CPython's Lib/asyncio/windows_events.py: every verb
// has one shape -- associate the handle with the port, issue the
// overlapped call, Register(ov, obj, callback) -- and Poll() turns
// dequeued packets into resolved futures. The five fields keep their
// CPython names: cache_, registered_, unregistered_, stopped_serving_,
// results_.
//
//   IocpProactor& p = loop.proactor();
//   FuturePtr<std::string> f = p.Recv(pipe, 4096);   // b'' at end of file
//   FuturePtr<bool> w = p.WaitForHandle(process);    // true when signalled
//
// Deliberate departures from CPython are commented where they are.
#ifndef IOCPSIM_PROACTOR_IOCP_PROACTOR_H_
#define IOCPSIM_PROACTOR_IOCP_PROACTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proactor/event_loop.h"
#include "proactor/futures.h"
#include "proactor/overlapped.h"
#include "proactor/sockets.h"
#include "proactor/windows_utils.h"
#include "sim/win32.h"

namespace iocpsim::proactor {

// connect_pipe: the first retry delay and its cap (CONNECT_PIPE_INIT_DELAY,
// CONNECT_PIPE_MAX_DELAY).
inline constexpr double kConnectPipeInitDelay = 0.001;
inline constexpr double kConnectPipeMaxDelay = 0.100;

// _OverlappedFuture: cancelling it cancels the overlapped operation.
template <class T>
class OverlappedFuture : public Future<T> {
 public:
  OverlappedFuture(EventLoop& loop, std::shared_ptr<Overlapped> ov)
      : Future<T>(loop), ov_(std::move(ov)) {}
  const char* kind() const override { return "OverlappedFuture"; }
  bool Cancel() override {
    CancelOverlapped();
    return Future<T>::Cancel();
  }
  void SetException(std::exception_ptr e) override {
    Future<T>::SetException(e);
    CancelOverlapped();
  }
  void SetResult(T value) override {
    Future<T>::SetResult(std::move(value));
    ov_ = nullptr;
  }
  const std::shared_ptr<Overlapped>& ov() const { return ov_; }

 private:
  void CancelOverlapped();
  std::shared_ptr<Overlapped> ov_;
};

// Reports "Cancelling an overlapped future failed" (shared by all T).
void ReportCancelFailed(FutureBase& f, std::exception_ptr e);

template <class T>
void OverlappedFuture<T>::CancelOverlapped() {
  if (ov_ == nullptr) return;
  try {
    ov_->Cancel();
  } catch (const OSError&) {
    ReportCancelFailed(*this, std::current_exception());
  }
  ov_ = nullptr;
}

class IocpProactor;

// accept()'s result: (conn, conn.getpeername()).
struct Accepted {
  SocketPtr conn;
  uint16_t peer_port = 0;
};

// recvfrom()'s result: (data, address).
struct Datagram {
  std::string data;
  uint16_t from_port = 0;
};

// _BaseWaitHandleFuture: a registered wait; its result says whether the
// handle was signalled (false on timeout).
class BaseWaitHandleFuture : public Future<bool> {
 public:
  BaseWaitHandleFuture(EventLoop& loop, std::shared_ptr<Overlapped> ov, HANDLE handle,
                       HANDLE wait_handle);
  // WaitForSingleObject(handle, 0) == WAIT_OBJECT_0
  bool Poll() const;
  bool Cancel() override;
  void SetException(std::exception_ptr e) override;
  void SetResult(bool value) override;
  const std::shared_ptr<Overlapped>& ov() const { return ov_; }

 protected:
  virtual void UnregisterWaitCallback();
  virtual void UnregisterWait();
  std::shared_ptr<Overlapped> ov_;
  HANDLE handle_;
  HANDLE wait_handle_;
  bool registered_ = true;
};

// _WaitCancelFuture: waits (through the port) for the event that
// UnregisterWaitEx signals once the wait's callback can no longer run.
class WaitCancelFuture : public BaseWaitHandleFuture {
 public:
  using BaseWaitHandleFuture::BaseWaitHandleFuture;
  const char* kind() const override { return "WaitCancelFuture"; }
  bool Cancel() override;  // raises: "_WaitCancelFuture must not be cancelled"
  void SetResult(bool value) override;
  void SetException(std::exception_ptr e) override;
  std::function<void()> done_callback;
};

class WaitHandleFuture : public BaseWaitHandleFuture {
 public:
  WaitHandleFuture(EventLoop& loop, std::shared_ptr<Overlapped> ov, HANDLE handle,
                   HANDLE wait_handle, IocpProactor* proactor);
  const char* kind() const override { return "WaitHandleFuture"; }
  bool Cancel() override;

 protected:
  void UnregisterWaitCallback() override;
  void UnregisterWait() override;

 private:
  IocpProactor* proactor_;
  HANDLE event_;
  std::shared_ptr<WaitCancelFuture> event_fut_;
};

class IocpProactor {
 public:
  explicit IocpProactor(EventLoop& loop);
  ~IocpProactor();
  IocpProactor(const IocpProactor&) = delete;
  IocpProactor& operator=(const IocpProactor&) = delete;

  // select(timeout): polls if no results are waiting, then drops them.
  // Python returns the list, but the proactor loop's _process_events
  // ignores it, so the futures were only kept alive until here; clearing
  // in place keeps the vector's room for the next poll. timeout < 0 waits
  // forever.
  void Select(double timeout);

  // A socket gets WSARecv/WSASend, anything else ReadFile/WriteFile; for a
  // socket, ERROR_NETNAME_DELETED and ERROR_OPERATION_ABORTED become
  // ConnectionResetError (finish_recv, finish_send).
  FuturePtr<std::string> Recv(const PipeHandlePtr& conn, DWORD nbytes);
  FuturePtr<DWORD> RecvInto(const PipeHandlePtr& conn, std::shared_ptr<ReadBuffer> buf);
  FuturePtr<DWORD> Send(const PipeHandlePtr& conn, std::string data);
  // Datagrams (recvfrom, sendto).
  FuturePtr<Datagram> RecvFrom(const SocketPtr& conn, DWORD nbytes);
  FuturePtr<DWORD> SendTo(const SocketPtr& conn, std::string data, uint16_t port);
  // accept(listener): AcceptEx into a new socket, which is closed if the
  // future is cancelled (accept_coro).
  FuturePtr<Accepted> Accept(const SocketPtr& listener);
  // connect(conn, ('127.0.0.1', port)): ConnectEx after binding locally;
  // a UDP socket connects at once.
  FuturePtr<SocketPtr> Connect(const SocketPtr& conn, uint16_t port);
  FuturePtr<PipeHandlePtr> AcceptPipe(const PipeHandlePtr& pipe);
  // connect_pipe: CreateFile, retried on ERROR_PIPE_BUSY with a delay from
  // 1 ms doubling to 100 ms; cancelling it cancels the retry.
  FuturePtr<PipeHandlePtr> ConnectPipe(const std::string& address);
  // wait_for_handle: timeout < 0 waits forever.
  FuturePtr<bool> WaitForHandle(HANDLE handle, double timeout = -1);
  std::shared_ptr<WaitCancelFuture> WaitCancel(HANDLE event, std::function<void()> done_callback);

  // _unregister(ov): the cache entry leaves at the end of the next Poll.
  void Unregister(const std::shared_ptr<Overlapped>& ov);
  // Quirk bpo-23095: the old cancel dropped the entry at once.
  void Forget(const std::shared_ptr<Overlapped>& ov);
  // _stop_serving(obj): its pending operations' futures get cancelled.
  void StopServing(const PipeHandlePtr& obj);
  // close(): cancels what may be cancelled, then polls with 1 s timeouts
  // while the cache is not empty, reporting "... is running after closing
  // for N seconds" each second.
  void Close();
  bool closed() const { return iocp_ == nullptr; }

  // For oracles and tests: the operations still in the cache, in
  // registration order ("ReadFile OverlappedFuture#12 finished").
  size_t cache_size() const { return cache_.size(); }
  std::vector<std::string> DescribeCache() const;
  HANDLE iocp() const { return iocp_; }

 private:
  struct Entry {
    std::shared_ptr<FutureBase> f;
    std::shared_ptr<Overlapped> ov;
    PipeHandlePtr obj;
    // Runs the verb's callback and sets the future (Poll's `try: value =
    // callback(transferred, key, ov) except OSError: f.set_exception()`).
    std::function<void(DWORD transferred, ULONG_PTR key, const std::shared_ptr<Overlapped>& ov)>
        finish;
    bool wait_cancel = false;
    bool forget_on_close = false;  // quirk bpo-23293
  };

  void CheckClosed() const;
  void RegisterWithIocp(const PipeHandlePtr& obj);
  template <class T>
  FuturePtr<T> Register(std::shared_ptr<Overlapped> ov, PipeHandlePtr obj,
                        std::function<T(std::shared_ptr<Overlapped>)> callback);
  template <class T>
  FuturePtr<T> Result(T value);
  void Poll(double timeout);
  // _cache[ov.address] = entry; an entry at the same address goes.
  void Remember(Entry e);
  std::vector<Entry>::iterator Find(uintptr_t address);
  FuturePtr<bool> WaitForHandleImpl(HANDLE handle, double timeout, bool is_cancel,
                                    std::function<void()> done_callback);
  Coro<PipeHandlePtr> ConnectPipeCoro(std::string address);
  FuturePtr<PipeHandlePtr> ConnectPipeOnThread(const std::string& address);

  EventLoop& loop_;
  HANDLE iocp_;
  // By OVERLAPPED address, in registration order (Python dicts iterate in
  // insertion order). A vector searched from the front: a few entries at
  // a time, where a map node was an allocation per operation.
  std::vector<Entry> cache_;
  std::vector<std::weak_ptr<PipeHandle>> registered_;
  std::vector<std::shared_ptr<Overlapped>> unregistered_;
  std::vector<std::weak_ptr<PipeHandle>> stopped_serving_;
  std::vector<std::shared_ptr<FutureBase>> results_;
  std::vector<std::unique_ptr<struct PostCallbackData>> post_data_;
};

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_IOCP_PROACTOR_H_
