#include "proactor/tasks.h"

#include <cassert>

#include "proactor/event_loop.h"

namespace iocpsim::proactor {

void TaskBase::Step(std::exception_ptr exc) {
  FutureBase& self = AsFuture();
  assert(!self.done());
  // Holds the task for the whole step, whatever the coroutine drops.
  std::shared_ptr<FutureBase> keep = self.shared_from_this();
  if (must_cancel_) {
    if (!exc) exc = std::make_exception_ptr(CancelledError());
    must_cancel_ = false;
  }
  fut_waiter_.reset();
  throw_in_ = exc;
  handle_.resume();
  if (!handle_.done()) return;
  if (std::exception_ptr e = std::exchange(coro_exception_, nullptr)) {
    // Only std::exceptions become the task's exception; anything else
    // (the simulator unwinding this thread, like Python's SystemExit and
    // KeyboardInterrupt) goes on up.
    try {
      std::rethrow_exception(e);
    } catch (const CancelledError&) {
      self.FutureBase::Cancel();  // super().cancel()
    } catch (const std::exception&) {
      self.SetException(e);
    }
    return;
  }
  if (must_cancel_) {
    self.FutureBase::Cancel();
    return;
  }
  FinishWithValue();
}

void TaskBase::Wakeup() { Step(nullptr); }

bool TaskBase::CancelTask() {
  FutureBase& self = AsFuture();
  if (self.done()) return false;
  // Leaves fut_waiter_: it may be a task that ignores the cancellation.
  if (fut_waiter_ != nullptr && fut_waiter_->Cancel()) return true;
  must_cancel_ = true;
  return true;
}

void TaskBase::WaitFor(const std::shared_ptr<FutureBase>& f) {
  FutureBase& self = AsFuture();
  fut_waiter_ = f;
  // Task.__wakeup, a bound method: holds the task.
  f->AddDoneCallbackBase(std::shared_ptr<TaskBase>(self.shared_from_this(), this),
                         [](TaskBase& task, const std::shared_ptr<FutureBase>&) {
                           if (!task.AsFuture().done()) task.Wakeup();
                         });
  if (must_cancel_ && f->Cancel()) must_cancel_ = false;
}

void TaskBase::DestroyFrame() {
  if (handle_) handle_.destroy();
  handle_ = nullptr;
}

void TaskBase::Collect() {
  FutureBase& self = AsFuture();
  if (!self.done() && !reported_) {
    reported_ = true;
    ReportPendingTaskDestroyed(self, origin);
  }
  fut_waiter_.reset();
  DestroyFrame();
}

void ReportPendingTaskDestroyed(FutureBase& task, const Origin& origin) {
  task.loop().CallExceptionHandler({"Task was destroyed but it is pending!", nullptr,
                                    {{"task", task.Describe()}, {"origin", origin.Format()}}});
}

void ScheduleFirstStep(EventLoop& loop, std::shared_ptr<TaskBase> task) {
  task->origin = Origin::Here(loop, loop.debug());
  loop.AddTask(task);
  loop.CallSoon(std::move(task), [](TaskBase& t) { t.Step(nullptr); });
}

Coro<Void> Sleep(EventLoop& loop, double seconds) {
  auto future = loop.CreateFuture<Void>();
  // _set_result_unless_cancelled(future, None)
  HandlePtr h = loop.CallLater(seconds, [](const std::shared_ptr<FutureBase>& f) {
    if (!f->done()) static_cast<Future<Void>&>(*f).SetResult(Void{});
  }, future);
  bool cancelled = false;
  try {
    co_await future;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  h->Cancel();
  if (cancelled) throw CancelledError();
}

Coro<Void> CancelAndWait(EventLoop& loop, std::shared_ptr<FutureBase> fut) {
  auto waiter = loop.CreateFuture<Void>();
  fut->AddDoneCallbackBase([waiter](const std::shared_ptr<FutureBase>&) {
    if (!waiter->done()) waiter->SetResult(Void{});
  });
  fut->Cancel();
  co_await waiter;
}

}  // namespace iocpsim::proactor
