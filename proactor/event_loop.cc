#include "proactor/event_loop.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "proactor/iocp_proactor.h"
#include "sim/win32.h"

namespace iocpsim::proactor {

std::string ErrorContext::Format() const {
  std::string s = message;
  if (exception) s += ": " + Describe(exception);
  for (const auto& [key, value] : details) s += "; " + key + "=" + value;
  return s;
}

EventLoop::EventLoop(Profile profile)
    : profile_(profile), proactor_(std::make_unique<IocpProactor>(*this)) {
  origin_ = Origin::Here(*this);
}

EventLoop::~EventLoop() {
  // BaseEventLoop.__del__: ResourceWarning "unclosed event loop".
  if (!closed_) {
    CallExceptionHandler({"unclosed event loop", nullptr, {{"origin", origin_.Format()}}});
  }
  // Drop what is scheduled while the loop is still whole: the callbacks
  // hold futures and tasks whose destructors may report through it.
  std::deque<HandlePtr> ready = std::move(ready_);
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
  ready_.push_back(h);
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

void EventLoop::RunForever() {
  CheckClosed();
  if (running_) throw std::runtime_error("This event loop is already running");
  running_ = true;
  stopping_ = false;
  struct Reset {
    EventLoop* loop;
    ~Reset() {
      loop->running_ = false;
      loop->stopping_ = false;
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
    ready_.push_back(h);
  }
  // Only what is ready now; callbacks scheduled meanwhile wait a step.
  for (size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
    HandlePtr h = ready_.front();
    ready_.pop_front();
    if (h->cancelled()) continue;
    std::function<void()> fn = std::move(h->fn_);
    try {
      fn();
    } catch (const std::exception&) {
      // Handle._run: an exception escaping a callback is reported.
      CallExceptionHandler({"Exception in callback", std::current_exception(), {}});
    }
  }
}

void EventLoop::Close() {
  if (running_) throw std::runtime_error("Cannot close a running event loop");
  if (closed_) return;
  // BaseProactorEventLoop.close: the proactor first, because closing it
  // may schedule callbacks, which a closed loop forbids.
  proactor_->Close();
  closed_ = true;
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
