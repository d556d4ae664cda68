// Futures as in asyncio (Lib/asyncio/futures.py): a result or an exception
// set once, done-callbacks scheduled on the loop with call_soon, cancel(),
// and InvalidStateError for a second set_result.
//
//   FuturePtr<int> f = loop.CreateFuture<int>();
//   f->AddDoneCallback([](FuturePtr<int> f) { use(f->Result()); });
//   f->SetResult(42);          // the callback runs at the next loop step
//
// Futures are shared (std::shared_ptr) as Python objects are. A callback
// receives the future; callbacks never keep their own future alive.
#ifndef IOCPSIM_PROACTOR_FUTURES_H_
#define IOCPSIM_PROACTOR_FUTURES_H_

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "proactor/errors.h"

namespace iocpsim::proactor {

class EventLoop;
class TaskBase;

// The result type of a future that carries no value (Python's None).
using Void = std::monostate;

class FutureBase : public std::enable_shared_from_this<FutureBase> {
 public:
  using Callback = std::function<void(const std::shared_ptr<FutureBase>&)>;

  explicit FutureBase(EventLoop& loop);
  virtual ~FutureBase();
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;

  EventLoop& loop() const { return loop_; }
  uint64_t id() const { return id_; }
  bool done() const { return state_ != State::kPending; }
  bool cancelled() const { return state_ == State::kCancelled; }

  // Future.cancel(): false if already done; otherwise the future is
  // cancelled and its callbacks are scheduled.
  virtual bool Cancel();
  // Future.set_exception(): InvalidStateError if already done.
  virtual void SetException(std::exception_ptr e);
  // Future.exception(): CancelledError if cancelled, InvalidStateError if
  // not done; nullptr when there is a result.
  std::exception_ptr exception();
  // Future.add_done_callback(): scheduled at once if already done.
  void AddDoneCallbackBase(Callback fn);
  // The done callback a task adds to the future it awaits (Task.__wakeup,
  // a bound method): wakes `task` unless it is done by then. Kept as the
  // task, not as a closure holding it, which would cost an allocation per
  // co_await.
  void AddWakeup(std::shared_ptr<TaskBase> task);

  // One done callback: `fn`, or the wakeup of `task`.
  struct DoneCallback {
    Callback fn;
    std::shared_ptr<TaskBase> task;
    bool empty() const { return fn == nullptr && task == nullptr; }
  };

  // "Future#12 pending", "Task#3 finished exception=BrokenPipeError: ..."
  std::string Describe() const;
  virtual const char* kind() const { return "Future"; }

  // For the timeline: the kernel operation (ov#N) whose completion resolved
  // this future; its done-callbacks run in that operation's annotation
  // scope, so what they call (protocol callbacks) is linked to it.
  uint32_t trace_op = 0;

 protected:
  enum class State { kPending, kCancelled, kFinished };
  // Throws what Result() must throw instead of returning a value.
  void RaiseUnlessResult();
  void MarkFinished();
  State state_ = State::kPending;
  std::exception_ptr exception_;

 private:
  friend class EventLoop;  // runs the callbacks it was given (RunCallback)
  void Add(DoneCallback cb);
  void ScheduleCallbacks();
  static void RunCallback(const DoneCallback& cb, const std::shared_ptr<FutureBase>& self);
  EventLoop& loop_;
  uint64_t id_;
  bool exception_retrieved_ = false;
  // The done callbacks, in order: the first (most futures get only one)
  // without an allocation, then the rest.
  DoneCallback first_callback_;
  std::vector<DoneCallback> callbacks_;
};

template <class T>
class Future : public FutureBase {
 public:
  using FutureBase::FutureBase;

  // Future.set_result(): InvalidStateError if already done.
  virtual void SetResult(T value) {
    if (done()) throw InvalidStateError("invalid state: " + Describe());
    value_ = std::move(value);
    MarkFinished();
  }
  // Future.result(): the value, or throws the exception, CancelledError,
  // or InvalidStateError ("Result is not set.").
  T& Result() {
    RaiseUnlessResult();
    return *value_;
  }
  // `fn` takes the future as a FuturePtr<T>. Any callable: wrapped as it
  // is, not first as a std::function (which would allocate a second time).
  template <class F>
  void AddDoneCallback(F fn) {
    AddDoneCallbackBase([fn = std::move(fn)](const std::shared_ptr<FutureBase>& f) {
      fn(std::static_pointer_cast<Future<T>>(f));
    });
  }

 private:
  std::optional<T> value_;
};

template <class T>
using FuturePtr = std::shared_ptr<Future<T>>;

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_FUTURES_H_
