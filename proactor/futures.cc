#include "proactor/futures.h"

#include "proactor/annotate.h"

#include "proactor/event_loop.h"

namespace iocpsim::proactor {

FutureBase::FutureBase(EventLoop& loop) : loop_(loop), id_(loop.NextId()) {}

FutureBase::~FutureBase() {
  // Future.__del__: an exception nobody looked at is reported.
  if (state_ == State::kFinished && exception_ && !exception_retrieved_) {
    loop_.CallExceptionHandler({std::string(kind()) + " exception was never retrieved", exception_,
                                {{"future", Describe()}}});
  }
}

bool FutureBase::Cancel() {
  if (done()) return false;
  state_ = State::kCancelled;
  ScheduleCallbacks();
  return true;
}

void FutureBase::SetException(std::exception_ptr e) {
  if (done()) throw InvalidStateError("invalid state: " + Describe());
  exception_ = std::move(e);
  MarkFinished();
}

std::exception_ptr FutureBase::exception() {
  if (state_ == State::kCancelled) throw CancelledError();
  if (state_ == State::kPending) throw InvalidStateError("Exception is not set.");
  exception_retrieved_ = true;
  return exception_;
}

void FutureBase::AddDoneCallbackBase(Callback fn) { Add({std::move(fn), nullptr}); }

void FutureBase::Add(DoneCallback cb) {
  if (done()) {
    loop_.CallSoon(std::move(cb), shared_from_this());
    return;
  }
  if (first_callback_.fn == nullptr) {
    first_callback_ = std::move(cb);
  } else {
    callbacks_.push_back(std::move(cb));
  }
}

void FutureBase::RaiseUnlessResult() {
  if (state_ == State::kCancelled) throw CancelledError();
  if (state_ == State::kPending) throw InvalidStateError("Result is not set.");
  exception_retrieved_ = true;
  if (exception_) std::rethrow_exception(exception_);
}

void FutureBase::MarkFinished() {
  state_ = State::kFinished;
  ScheduleCallbacks();
}

void FutureBase::ScheduleCallbacks() {
  if (first_callback_.fn == nullptr) return;
  DoneCallback first = std::exchange(first_callback_, {});
  std::vector<DoneCallback> callbacks = std::move(callbacks_);
  callbacks_.clear();
  std::shared_ptr<FutureBase> self = shared_from_this();
  loop_.CallSoon(std::move(first), self);
  for (DoneCallback& cb : callbacks) {
    loop_.CallSoon(std::move(cb), self);
  }
}

void FutureBase::RunCallback(const DoneCallback& cb, const std::shared_ptr<FutureBase>& self) {
  std::optional<AnnotationScope> scope;
  if (self->trace_op != 0) {
    scope.emplace(self->trace_op);
    Annotate("proactor", 0, "done-callback of " + self->Describe());
  }
  cb.fn(self);
}

std::string FutureBase::Describe() const {
  std::string s = std::string(kind()) + "#" + std::to_string(id_);
  switch (state_) {
    case State::kPending: return s + " pending";
    case State::kCancelled: return s + " cancelled";
    case State::kFinished:
      return exception_ ? s + " finished exception=" + proactor::Describe(exception_)
                        : s + " finished";
  }
  return s;
}

}  // namespace iocpsim::proactor
