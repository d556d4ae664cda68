#include "proactor/event_loop.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "proactor/iocp_proactor.h"
#include "proactor/sockets.h"
#include "sim/win32.h"

namespace iocpsim::proactor {

std::string ErrorContext::Format() const {
  std::string s = message;
  if (exception) s += ": " + Describe(exception);
  for (const auto& [key, value] : details) s += "; " + key + "=" + value;
  return s;
}

EventLoop::EventLoop(Profile profile, bool self_pipe)
    : profile_(profile), proactor_(std::make_unique<IocpProactor>(*this)) {
  origin_ = Origin::Here(*this);
  // A run's tasks and ready callbacks at once, not a doubling at a time.
  tasks_.reserve(16);
  ready_.reserve(16);
  batch_.reserve(16);
  std::vector<HandlePtr> timers;
  timers.reserve(8);
  scheduled_ = decltype(scheduled_)(Later{}, std::move(timers));
  if (self_pipe) MakeSelfPipe();
}

// ---------------------------------------------------------- self-pipe

void EventLoop::MakeSelfPipe() {
  std::tie(csock_, ssock_) = SocketPair(*this);
}

void EventLoop::CloseSelfPipe() {
  if (ssock_ == nullptr) return;
  if (self_reading_future_ != nullptr) {
    self_reading_future_->Cancel();
    self_reading_future_ = nullptr;
  }
  ssock_->Close();
  ssock_ = nullptr;
  csock_->Close();
  csock_ = nullptr;
}

void EventLoop::LoopSelfReading(std::shared_ptr<FutureBase> f) {
  FuturePtr<std::string> next;
  // f.result() raising CancelledError: _close_self_pipe() was called, stop
  // waiting for data. Asked, not caught: this is every run's last self-pipe
  // read, and a C++ throw costs more than the rest of the callback.
  if (f != nullptr && f->cancelled()) return;
  try {
    if (f != nullptr) {  // f.result(): may raise
      if (std::exception_ptr e = f->exception()) std::rethrow_exception(e);
    }
    // Not the future scheduled last: run_forever stopped reading meanwhile.
    if (self_reading_future_ != f) return;
    next = proactor_->Recv(ssock_, 4096);
  } catch (const std::exception&) {
    CallExceptionHandler({"Error on reading from the event loop self pipe",
                          std::current_exception(), {}});
    return;
  }
  self_reading_future_ = next;
  next->AddDoneCallbackBase(
      [this](const std::shared_ptr<FutureBase>& done) { LoopSelfReading(done); });
}

void EventLoop::WriteToSelf() {
  if (csock_ == nullptr) return;
  // csock.send(b'\0') on a non-blocking socket; a failure is only logged
  // in debug mode.
  char zero = 0;
  WSABUF b{1, &zero};
  DWORD sent = 0;
  if (WSASend(csock_->sock(), &b, 1, &sent, 0, nullptr, nullptr) != 0 && debug_) {
    CallExceptionHandler({"Fail to write a null byte into the self-pipe socket", nullptr,
                          {{"level", "debug"}}});
  }
}

void EventLoop::StopSelfReading() {
  if (self_reading_future_ == nullptr) return;
  auto of = std::dynamic_pointer_cast<OverlappedFuture<std::string>>(self_reading_future_);
  std::shared_ptr<Overlapped> ov = of != nullptr ? of->ov() : nullptr;
  self_reading_future_->Cancel();
  // The cancelled WSARecv's packet still comes: the kernel holds the
  // OVERLAPPED until it is dequeued. Unregister only an operation that is
  // complete in every respect; otherwise a later poll collects it
  // (GH-116774). Quirk gh-116773: before that fix it was unregistered at
  // once, and the next poll could free it under the kernel.
  if (ov != nullptr && (profile_.Has(Quirk::kGh116773) || !ov->pending())) {
    proactor_->Unregister(ov);
  }
  self_reading_future_ = nullptr;
}

EventLoop::~EventLoop() {
  // BaseEventLoop.__del__: ResourceWarning "unclosed event loop".
  if (!closed_) {
    CallExceptionHandler({"unclosed event loop", nullptr, {{"origin", origin_.Format()}}});
  }
  // Drop what is scheduled while the loop is still whole: the callbacks
  // hold futures and tasks whose destructors may report through it.
  // A step cut short (a simulated thread unwinding) left the rest of its
  // batch, which was ahead of ready_.
  std::vector<Ready> batch = std::move(batch_);
  batch.clear();
  std::vector<Ready> ready = std::move(ready_);
  ready.clear();
  while (!scheduled_.empty()) scheduled_.pop();
  proactor_.reset();
  // Tasks still pending now are kept alive only by reference cycles
  // (task -> frame -> future -> callback -> task), which Python's garbage
  // collector would find: report and break them.
  std::vector<std::shared_ptr<TaskBase>> pending;
  for (auto& w : tasks_) {
    if (auto t = w.lock()) pending.push_back(std::move(t));
  }
  for (auto& t : pending) t->Collect();
  std::vector<std::shared_ptr<Collectable>> alive;
  for (auto& w : resources_) {
    if (auto r = w.lock()) alive.push_back(std::move(r));
  }
  for (auto& r : alive) r->Collect();
}

void EventLoop::AddResource(const std::shared_ptr<Collectable>& resource) {
  if (resources_.size() >= 64 && (resources_.size() & (resources_.size() - 1)) == 0) {
    std::erase_if(resources_, [](const std::weak_ptr<Collectable>& w) { return w.expired(); });
  }
  resources_.push_back(resource);
}

void EventLoop::AddTask(const std::shared_ptr<TaskBase>& task) {
  if (tasks_.size() >= 64 && (tasks_.size() & (tasks_.size() - 1)) == 0) {
    std::erase_if(tasks_, [](const std::weak_ptr<TaskBase>& w) { return w.expired(); });
  }
  tasks_.push_back(task);
}

double EventLoop::Time() const {
  LARGE_INTEGER count, frequency;
  QueryPerformanceCounter(&count);
  QueryPerformanceFrequency(&frequency);
  return static_cast<double>(count.QuadPart) / static_cast<double>(frequency.QuadPart);
}

void EventLoop::CheckClosed() const {
  if (closed_) throw std::runtime_error("Event loop is closed");
}

HandlePtr EventLoop::CallSoon(std::function<void()> fn) {
  CheckClosed();
  auto h = std::make_shared<Handle>();
  h->fn_ = std::move(fn);
  ready_.push_back({h, {}, nullptr});
  return h;
}

void EventLoop::CallSoon(FutureBase::DoneCallback cb, std::shared_ptr<FutureBase> future) {
  CheckClosed();
  ready_.push_back({nullptr, std::move(cb), std::move(future)});
}

HandlePtr EventLoop::CallSoonThreadsafe(std::function<void()> fn) {
  HandlePtr h = CallSoon(std::move(fn));
  WriteToSelf();
  return h;
}

HandlePtr EventLoop::CallLater(double delay, std::function<void()> fn) {
  return CallAt(Time() + delay, std::move(fn));
}

HandlePtr EventLoop::CallAt(double when, std::function<void()> fn) {
  CheckClosed();
  auto h = std::make_shared<Handle>();
  h->fn_ = std::move(fn);
  h->when_ = when;
  h->seq_ = ++seq_;  // equal deadlines run in the order they were scheduled
  scheduled_.push(h);
  return h;
}

HandlePtr EventLoop::CallLater(double delay, FutureBase::Callback fn,
                               std::shared_ptr<FutureBase> future) {
  HandlePtr h = CallAt(Time() + delay, nullptr);
  h->done_fn_ = std::move(fn);
  h->future_ = std::move(future);
  return h;
}

void EventLoop::RunForever() {
  CheckClosed();
  if (running_) throw std::runtime_error("This event loop is already running");
  running_ = true;
  stopping_ = false;
  // ProactorEventLoop.run_forever: read the self-pipe while running.
  if (ssock_ != nullptr) {
    if (self_reading_future_ != nullptr) throw std::logic_error("self-reading future left over");
    CallSoon([this] { LoopSelfReading(nullptr); });
  }
  struct Reset {
    EventLoop* loop;
    ~Reset() {
      loop->running_ = false;
      loop->stopping_ = false;
      // Not while unwinding a simulated thread: the run is over.
      if (std::uncaught_exceptions() == 0) loop->StopSelfReading();
    }
  } reset{this};
  for (;;) {
    RunOnce();
    if (stopping_) break;
  }
}

void EventLoop::RunOnce() {
  // BaseEventLoop._run_once.
  ++step_;
  while (!scheduled_.empty() && scheduled_.top()->cancelled()) scheduled_.pop();
  double timeout = -1;  // forever
  if (!ready_.empty() || stopping_) {
    timeout = 0;
  } else if (!scheduled_.empty()) {
    timeout = std::max(0.0, scheduled_.top()->when_ - Time());
  }
  proactor_->Select(timeout);
  // Timers due now (Python adds the clock resolution; QueryPerformanceCounter
  // counts in ticks of 1/frequency, far below a millisecond).
  double end_time = Time();
  step_time_ = end_time;
  while (!scheduled_.empty()) {
    HandlePtr h = scheduled_.top();
    if (h->cancelled()) {
      scheduled_.pop();
      continue;
    }
    if (h->when_ > end_time) break;
    scheduled_.pop();
    ready_.push_back({h, {}, nullptr});
  }
  // Only what is ready now; callbacks scheduled meanwhile wait a step.
  batch_.swap(ready_);
  for (Ready& r : batch_) {
    Ready entry = std::move(r);
    std::function<void()> fn;
    FutureBase::DoneCallback& done = entry.done;
    std::shared_ptr<FutureBase>& future = entry.future;
    if (HandlePtr& h = entry.handle) {
      if (h->cancelled()) continue;
      fn = std::move(h->fn_);
      done.fn = std::move(h->done_fn_);
      future = std::move(h->future_);
    }
    try {
      if (future != nullptr) {
        FutureBase::RunCallback(done, future);
      } else if (done.fn != nullptr) {
        done.fn(nullptr);
      } else {
        fn();
      }
    } catch (const std::exception&) {
      // Handle._run: an exception escaping a callback is reported.
      CallExceptionHandler({"Exception in callback", std::current_exception(), {}});
    }
  }
  batch_.clear();
}

void EventLoop::Close() {
  if (running_) throw std::runtime_error("Cannot close a running event loop");
  if (closed_) return;
  // BaseProactorEventLoop.close: the self-pipe and the proactor first,
  // because closing them may schedule callbacks, which a closed loop
  // forbids.
  CloseSelfPipe();
  proactor_->Close();
  closed_ = true;
  batch_.clear();
  ready_.clear();
  while (!scheduled_.empty()) scheduled_.pop();
}

void EventLoop::CallExceptionHandler(const ErrorContext& context) {
  if (!handler_) {
    DefaultExceptionHandler(*this, context);
    return;
  }
  try {
    handler_(*this, context);
  } catch (const std::exception&) {
    // BaseEventLoop.call_exception_handler: a failing handler is reported
    // by the default one, with the original context.
    DefaultExceptionHandler(*this, {"Unhandled error in exception handler",
                                    std::current_exception(), {{"context", context.Format()}}});
  }
}

void EventLoop::DefaultExceptionHandler(EventLoop&, const ErrorContext& context) {
  std::fprintf(stderr, "asyncio: %s\n", context.Format().c_str());
}

}  // namespace iocpsim::proactor
