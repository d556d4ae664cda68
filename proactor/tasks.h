// Tasks as C++20 coroutines, as in asyncio (Lib/asyncio/tasks.py): a
// coroutine returning Coro<T> runs as a Task<T>, which is a Future<T>. It
// may co_await a future, a task or another coroutine; cancelling the task
// cancels the future it waits for, and CancelledError is raised at that
// co_await (Task.cancel() / Task.__step).
//
//   Coro<int> Answer(EventLoop& loop) {
//     co_await Sleep(loop, 0.5);
//     co_return 42;
//   }
//   int v = loop.RunUntilComplete(Answer(loop));
//
// Beware: g++ 12 destroys a lambda temporary that appears in a co_await
// expression twice when the await suspends (a compiler bug; clang is
// fine). Bind such a lambda to a named variable before the co_await; the
// same for a braced initializer list ("array used as initializer").
//
// Departure: `co_await SomeCoro()` runs the coroutine as a task of its own
// (Python runs an awaited coroutine inline, in the same task); cancelling
// the outer task cancels the inner one, as it would in Python.
#ifndef IOCPSIM_PROACTOR_TASKS_H_
#define IOCPSIM_PROACTOR_TASKS_H_

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "proactor/futures.h"
#include "proactor/origin.h"

namespace iocpsim::proactor {

template <class T>
class Coro;
template <class T>
class Task;

// What a task does, independent of its result type.
class TaskBase {
 public:
  virtual ~TaskBase() = default;
  virtual FutureBase& AsFuture() = 0;

  // Task.__step: resumes the coroutine, throwing `exc` at its co_await.
  void Step(std::exception_ptr exc);
  // Task.__wakeup, the done-callback on the awaited future.
  void Wakeup();
  // Task.cancel()
  bool CancelTask();

  // For the awaiters.
  void WaitFor(const std::shared_ptr<FutureBase>& f);
  std::exception_ptr TakeThrowIn() { return std::exchange(throw_in_, nullptr); }
  void SetCoroutineException(std::exception_ptr e) { coro_exception_ = e; }

  // What the garbage collector does to a pending task nobody can reach:
  // reports it and destroys its coroutine frame (whose locals may hold the
  // only references to the futures that hold the task). The loop does this
  // to the tasks still pending when it is destroyed.
  void Collect();
  // Where the task was created: virtual time and loop step, and the native
  // stack in debug mode (asyncio keeps a source traceback in debug mode).
  Origin origin;

 protected:
  void DestroyFrame();
  virtual void FinishWithValue() = 0;  // the coroutine returned
  std::coroutine_handle<> handle_;

 private:
  std::shared_ptr<FutureBase> fut_waiter_;
  bool must_cancel_ = false;
  std::exception_ptr throw_in_;
  std::exception_ptr coro_exception_;
  bool reported_ = false;
};

template <class T>
struct FutureAwaiter {
  std::shared_ptr<Future<T>> future;
  TaskBase* task;
  bool await_ready() const { return future->done(); }
  void await_suspend(std::coroutine_handle<>) { task->WaitFor(future); }
  T await_resume() {
    if (std::exception_ptr e = task->TakeThrowIn()) std::rethrow_exception(e);
    return future->Result();
  }
};

template <class T>
std::shared_ptr<Task<T>> StartTask(EventLoop& loop, Coro<T> coro);

struct PromiseCommon {
  TaskBase* task = nullptr;
  EventLoop* loop = nullptr;
  // A task cancelled before its first step gets CancelledError at the top
  // of its body (coro.throw() on a coroutine not started yet).
  struct InitialAwaiter {
    PromiseCommon* promise;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const {
      if (std::exception_ptr e = promise->task->TakeThrowIn()) std::rethrow_exception(e);
    }
  };
  InitialAwaiter initial_suspend() noexcept { return {this}; }
  std::suspend_always final_suspend() noexcept { return {}; }
  void unhandled_exception() { task->SetCoroutineException(std::current_exception()); }

  template <class U>
  FutureAwaiter<U> await_transform(std::shared_ptr<Future<U>> f) {
    return {std::move(f), task};
  }
  template <class U>
  FutureAwaiter<U> await_transform(std::shared_ptr<Task<U>> t) {
    return {std::static_pointer_cast<Future<U>>(std::move(t)), task};
  }
  template <class U>
  FutureAwaiter<U> await_transform(Coro<U>&& c) {
    return {std::static_pointer_cast<Future<U>>(StartTask(*loop, std::move(c))), task};
  }
};

template <class T>
struct PromiseReturn : PromiseCommon {
  std::optional<T> value;
  void return_value(T v) { value = std::move(v); }
};
template <>
struct PromiseReturn<Void> : PromiseCommon {
  std::optional<Void> value;
  void return_void() { value = Void{}; }
};

// The return type of a coroutine that runs as a task. Not started until
// it becomes a task (EventLoop::CreateTask, RunUntilComplete, co_await).
template <class T>
class [[nodiscard]] Coro {
 public:
  struct promise_type : PromiseReturn<T> {
    Coro get_return_object() { return Coro(std::coroutine_handle<promise_type>::from_promise(*this)); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Coro(Coro&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Coro& operator=(Coro&&) = delete;
  ~Coro() {
    if (h_) h_.destroy();
  }
  Handle Release() { return std::exchange(h_, {}); }

 private:
  explicit Coro(Handle h) : h_(h) {}
  Handle h_;
};

template <class T>
class Task : public Future<T>, public TaskBase {
 public:
  Task(EventLoop& loop, Coro<T> coro) : Future<T>(loop) {
    typed_ = coro.Release();
    handle_ = typed_;
    typed_.promise().task = this;
    typed_.promise().loop = &loop;
  }
  ~Task() override;
  FutureBase& AsFuture() override { return *this; }
  const char* kind() const override { return "Task"; }
  bool Cancel() override { return CancelTask(); }

 private:
  void FinishWithValue() override {
    Future<T>::SetResult(std::move(*typed_.promise().value));
  }
  typename Coro<T>::Handle typed_;
};

// Reports a task destroyed while still pending ("Task was destroyed but it
// is pending!") through the loop's exception handler.
void ReportPendingTaskDestroyed(FutureBase& task, const Origin& origin);

template <class T>
Task<T>::~Task() {
  Collect();
}

// Schedules the task's first step (Task.__init__: loop.call_soon(__step))
// and lists the task with the loop (asyncio's _all_tasks).
void ScheduleFirstStep(EventLoop& loop, std::shared_ptr<TaskBase> task);

template <class T>
std::shared_ptr<Task<T>> StartTask(EventLoop& loop, Coro<T> coro) {
  auto task = std::make_shared<Task<T>>(loop, std::move(coro));
  ScheduleFirstStep(loop, task);
  return task;
}

// asyncio.sleep(): a future resolved by a timer, the timer cancelled if
// the sleep is.
Coro<Void> Sleep(EventLoop& loop, double seconds);

// asyncio.wait_for(): the awaited future's result, or TimeoutError after
// cancelling it (and waiting for the cancellation) when `timeout` passes.
template <class T>
Coro<T> WaitFor(EventLoop& loop, std::shared_ptr<Future<T>> fut, double timeout);

// asyncio.gather(): the results in order; the first exception (or
// cancellation) of a child becomes the outer future's; cancelling the
// outer future cancels every child.
template <class T>
std::shared_ptr<Future<std::vector<T>>> Gather(EventLoop& loop,
                                               std::vector<std::shared_ptr<Future<T>>> children);

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_TASKS_H_
