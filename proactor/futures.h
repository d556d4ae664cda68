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
#include <type_traits>
#include <variant>
#include <vector>

#include "proactor/errors.h"

namespace iocpsim::proactor {

class EventLoop;

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

  // A callback bound to the object it runs on, as a Python bound method
  // (self.method) holds its object: `keep` owns the object until the
  // callback has run or is dropped, and `fn` holds only a plain pointer to
  // it. A closure that held the shared_ptr itself would cost an allocation
  // (std::function keeps only small trivially copyable closures in place).
  struct DoneCallback {
    Callback fn;
    std::shared_ptr<void> keep;
  };
  // `fn(*self, future)`; `fn` a closure without captures.
  template <class S, class F>
  static DoneCallback Bind(std::shared_ptr<S> self, F fn) {
    static_assert(std::is_empty_v<F>, "a bound callback's closure captures nothing");
    S* p = self.get();
    return {[p, fn](const std::shared_ptr<FutureBase>& f) { fn(*p, f); }, std::move(self)};
  }
  // add_done_callback(self.method): `fn(*self, this future)`.
  template <class S, class F>
  void AddDoneCallbackBase(std::shared_ptr<S> self, F fn) {
    Add(Bind(std::move(self), fn));
  }

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
  // add_done_callback(self.method): `fn(*self, FuturePtr<T>)`, `fn` a
  // closure without captures (see DoneCallback).
  template <class S, class F>
  void AddDoneCallback(std::shared_ptr<S> self, F fn) {
    static_assert(std::is_empty_v<F>, "a bound callback's closure captures nothing");
    AddDoneCallbackBase(std::move(self), [](S& s, const std::shared_ptr<FutureBase>& f) {
      F{}(s, std::static_pointer_cast<Future<T>>(f));
    });
  }

 private:
  std::optional<T> value_;
};

template <class T>
using FuturePtr = std::shared_ptr<Future<T>>;

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_FUTURES_H_
