// The event loop, as asyncio's BaseEventLoop and ProactorEventLoop
// (Lib/asyncio/base_events.py, proactor_events.py, windows_events.py):
// call_soon / call_later / call_at on virtual time, run_forever / stop /
// run_until_complete / close, an exception handler, and debug mode. The
// I/O comes from an IocpProactor owned by the loop.
//
//   EventLoop loop;                          // Profile::Current()
//   loop.SetExceptionHandler([](EventLoop&, const ErrorContext& c) { ... });
//   loop.CallLater(0.1, [] { ... });
//   std::string data = loop.RunUntilComplete(SomeCoro(loop));
//   loop.Close();
//
// Everything the loop or the proactor would log as an error reaches the
// exception handler (the default one prints to stderr).
#ifndef IOCPSIM_PROACTOR_EVENT_LOOP_H_
#define IOCPSIM_PROACTOR_EVENT_LOOP_H_

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "proactor/futures.h"
#include "proactor/origin.h"
#include "proactor/profile.h"
#include "proactor/tasks.h"

namespace iocpsim::proactor {

class IocpProactor;
class Socket;

// An object that Python's garbage collector would find in a reference
// cycle when the program drops it (transports, subprocess transports):
// the loop collects the ones still alive when it is destroyed, which
// reports them if unclosed (their __del__) and breaks their cycles.
class Collectable {
 public:
  virtual ~Collectable() = default;
  virtual void Collect() = 0;
};

// A callback scheduled on the loop (asyncio.Handle / TimerHandle).
class Handle {
 public:
  void Cancel() {
    cancelled_ = true;
    fn_ = nullptr;
    done_fn_ = nullptr;
    future_ = nullptr;
  }
  bool cancelled() const { return cancelled_; }
  double when() const { return when_; }

 private:
  friend class EventLoop;
  std::function<void()> fn_;
  // Or a callback with its future, as futures.py schedules a done callback
  // (call_soon(callback, self)): kept apart rather than bound in one
  // closure, which would cost an allocation per callback.
  FutureBase::Callback done_fn_;
  std::shared_ptr<FutureBase> future_;
  bool cancelled_ = false;
  double when_ = 0;
  uint64_t seq_ = 0;
};
using HandlePtr = std::shared_ptr<Handle>;

// The context dict of loop.call_exception_handler(): a message, an
// optional exception, and named details (future, transport, status, ...).
struct ErrorContext {
  std::string message;
  std::exception_ptr exception;
  std::vector<std::pair<std::string, std::string>> details;
  // "message: exception; key=value; ..." on one line.
  std::string Format() const;
};

class EventLoop {
 public:
  using ExceptionHandler = std::function<void(EventLoop&, const ErrorContext&)>;

  // With `self_pipe`, the loop has CPython's self-pipe (a socketpair whose
  // reading end the loop keeps a WSARecv on while it runs), which
  // CallSoonThreadsafe writes to. Departure: CPython's loop always has it;
  // the scenarios written before sockets run without it (their saved
  // findings' traces stay as they were).
  explicit EventLoop(Profile profile = Profile::Current(), bool self_pipe = false);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // loop.time(): virtual seconds (QueryPerformanceCounter).
  double Time() const;
  // The time read at the start of this loop step: for bookkeeping (creation
  // sites) that must not make Win32 calls, which are scheduling points.
  double StepTime() const { return step_time_; }
  HandlePtr CallSoon(std::function<void()> fn);
  // call_soon(fn, future): how a future schedules its done callbacks
  // (`future` null for a bound callback, below).
  void CallSoon(FutureBase::DoneCallback cb, std::shared_ptr<FutureBase> future);
  // call_soon(self.method): `fn(*self)`, `fn` a closure without captures;
  // bound as FutureBase::Bind does, without an allocation. No Handle: the
  // caller cannot cancel it.
  template <class S, class F>
  void CallSoon(std::shared_ptr<S> self, F fn) {
    static_assert(std::is_empty_v<F>, "a bound callback's closure captures nothing");
    CallSoon(FutureBase::Bind(std::move(self), [](S& s, const std::shared_ptr<FutureBase>&) {
      F{}(s);
    }), nullptr);
  }
  // call_soon_threadsafe(): from another (simulated) thread; wakes the
  // loop through the self-pipe (a loop without one is woken by nothing).
  HandlePtr CallSoonThreadsafe(std::function<void()> fn);
  HandlePtr CallLater(double delay, std::function<void()> fn);
  HandlePtr CallAt(double when, std::function<void()> fn);
  // call_later(delay, fn, future)
  HandlePtr CallLater(double delay, FutureBase::Callback fn, std::shared_ptr<FutureBase> future);

  void RunForever();
  void Stop() { stopping_ = true; }
  template <class T>
  T RunUntilComplete(std::shared_ptr<Future<T>> future);
  template <class T>
  T RunUntilComplete(Coro<T> coro) {
    return RunUntilComplete(std::static_pointer_cast<Future<T>>(CreateTask(std::move(coro))));
  }
  // ProactorEventLoop.close(): closes the proactor (cancelling and
  // draining its operations), then drops every scheduled callback.
  void Close();
  bool IsClosed() const { return closed_; }
  bool IsRunning() const { return running_; }

  template <class T>
  std::shared_ptr<Future<T>> CreateFuture() {
    return std::make_shared<Future<T>>(*this);
  }
  template <class T>
  std::shared_ptr<Task<T>> CreateTask(Coro<T> coro) {
    return StartTask(*this, std::move(coro));
  }

  void SetExceptionHandler(ExceptionHandler h) { handler_ = std::move(h); }
  void CallExceptionHandler(const ErrorContext& context);
  static void DefaultExceptionHandler(EventLoop& loop, const ErrorContext& context);

  // Debug mode: what CPython logs with logger.debug (an OSError closing a
  // transport, ...) also reaches the exception handler, with level=debug.
  bool debug() const { return debug_; }
  void set_debug(bool on) { debug_ = on; }
  const Profile& profile() const { return profile_; }
  IocpProactor& proactor() { return *proactor_; }
  // Iterations of the loop so far (reported in creation sites).
  uint64_t step() const { return step_; }
  uint64_t NextId() { return ++next_id_; }
  // Quirk bpo-32710: a buffer an Overlapped never releases (its reference
  // is lost, so the memory stays held until the process ends).
  struct LeakedBuffer {
    std::string what;  // "WSASend", ...
    size_t bytes;
    std::shared_ptr<void> memory;  // held until the loop goes, as the process would
    std::string origin;            // "created at t=..., loop step N"
  };
  void KeepLeakedBuffer(LeakedBuffer b) { leaked_buffers_.push_back(std::move(b)); }
  const std::vector<LeakedBuffer>& leaked_buffers() const { return leaked_buffers_; }
  // WSAStartup for the process, before the loop's first socket (Python's
  // socket module calls it when imported). Raises OSError.
  void StartWinsock();
  // asyncio's _all_tasks (weak).
  void AddTask(const std::shared_ptr<TaskBase>& task);
  void AddResource(const std::shared_ptr<Collectable>& resource);

 private:
  void RunOnce();
  void CheckClosed() const;
  // BaseProactorEventLoop's self-pipe.
  void MakeSelfPipe();
  void CloseSelfPipe();
  void LoopSelfReading(std::shared_ptr<FutureBase> f);
  void WriteToSelf();
  // ProactorEventLoop.run_forever's finally: stop reading the self-pipe.
  void StopSelfReading();
  struct Later {
    bool operator()(const HandlePtr& a, const HandlePtr& b) const {
      return a->when_ != b->when_ ? a->when_ > b->when_ : a->seq_ > b->seq_;
    }
  };

  Profile profile_;
  std::unique_ptr<IocpProactor> proactor_;
  // A callback ready to run: a Handle, which its caller may cancel, or a
  // future's done callback (with `future`) or a bound callback (without),
  // which nobody can, held here without a Handle of its own (no allocation
  // per callback).
  struct Ready {
    HandlePtr handle;
    FutureBase::DoneCallback done;
    std::shared_ptr<FutureBase> future;
  };
  // call_soon's queue, and the batch a loop step runs (what ready_ held
  // as the step began). Two vectors swapped each step, not a deque, which
  // allocates blocks as it moves along.
  std::vector<Ready> ready_;
  std::vector<Ready> batch_;
  std::priority_queue<HandlePtr, std::vector<HandlePtr>, Later> scheduled_;
  ExceptionHandler handler_;
  std::vector<std::weak_ptr<TaskBase>> tasks_;
  std::vector<std::weak_ptr<Collectable>> resources_;
  Origin origin_;
  uint64_t seq_ = 0;
  uint64_t step_ = 0;
  double step_time_ = 0;
  uint64_t next_id_ = 0;
  bool stopping_ = false;
  bool running_ = false;
  bool closed_ = false;
  bool debug_ = false;
  bool winsock_started_ = false;
  std::vector<LeakedBuffer> leaked_buffers_;
  std::shared_ptr<Socket> ssock_, csock_;
  std::shared_ptr<Future<std::string>> self_reading_future_;
};

template <class T>
T EventLoop::RunUntilComplete(std::shared_ptr<Future<T>> future) {
  CheckClosed();
  future->AddDoneCallbackBase([this](const std::shared_ptr<FutureBase>&) { Stop(); });
  RunForever();
  if (!future->done()) throw std::runtime_error("Event loop stopped before Future completed.");
  return future->Result();
}

// ----------------------------------------------------------- wait_for

// Cancels `fut` and waits until it is done (tasks._cancel_and_wait).
Coro<Void> CancelAndWait(EventLoop& loop, std::shared_ptr<FutureBase> fut);

template <class T>
Coro<T> WaitFor(EventLoop& loop, std::shared_ptr<Future<T>> fut, double timeout) {
  auto waiter = loop.CreateFuture<Void>();
  auto release = [waiter] {
    if (!waiter->done()) waiter->SetResult(Void{});
  };
  HandlePtr timeout_handle = loop.CallLater(timeout, release);
  fut->AddDoneCallbackBase([release](const std::shared_ptr<FutureBase>&) { release(); });
  bool cancelled = false;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  timeout_handle->Cancel();
  if (cancelled) {
    // The caller was cancelled: cancel the inner future too, and wait.
    if (!fut->done()) co_await CancelAndWait(loop, fut);
    throw CancelledError();
  }
  if (fut->done()) co_return fut->Result();
  co_await CancelAndWait(loop, fut);
  if (fut->cancelled()) throw TimeoutError();
  co_return fut->Result();
}

// ------------------------------------------------------------- gather

template <class T>
class GatheringFuture : public Future<std::vector<T>> {
 public:
  GatheringFuture(EventLoop& loop, std::vector<std::shared_ptr<Future<T>>> children)
      : Future<std::vector<T>>(loop), children_(std::move(children)) {}
  bool Cancel() override {
    if (this->done()) return false;
    bool any = false;
    for (auto& c : children_) any = c->Cancel() || any;
    if (any) cancel_requested_ = true;
    return any;
  }
  void ChildDone(const std::shared_ptr<FutureBase>& child) {
    ++finished_;
    if (this->done()) {
      if (!child->cancelled()) child->exception();  // mark it retrieved
      return;
    }
    if (child->cancelled()) {
      this->SetException(std::make_exception_ptr(CancelledError()));
      return;
    }
    if (std::exception_ptr e = child->exception()) {
      this->SetException(e);
      return;
    }
    if (finished_ < children_.size()) return;
    if (cancel_requested_) {
      this->SetException(std::make_exception_ptr(CancelledError()));
      return;
    }
    std::vector<T> results;
    for (auto& c : children_) results.push_back(c->Result());
    this->SetResult(std::move(results));
  }

 private:
  std::vector<std::shared_ptr<Future<T>>> children_;
  size_t finished_ = 0;
  bool cancel_requested_ = false;
};

template <class T>
std::shared_ptr<Future<std::vector<T>>> Gather(EventLoop& loop,
                                               std::vector<std::shared_ptr<Future<T>>> children) {
  auto outer = std::make_shared<GatheringFuture<T>>(loop, children);
  if (children.empty()) outer->SetResult({});
  std::weak_ptr<GatheringFuture<T>> weak = outer;
  for (auto& c : children) {
    c->AddDoneCallbackBase([weak](const std::shared_ptr<FutureBase>& f) {
      if (auto o = weak.lock()) o->ChildDone(f);
    });
  }
  return outer;
}

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_EVENT_LOOP_H_
