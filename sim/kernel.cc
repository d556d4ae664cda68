#include "sim/kernel.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace iocpsim {

thread_local Kernel* Kernel::current_kernel = nullptr;

void HarnessBug(const char* file, int line, const char* what) {
  std::fprintf(stderr,
               "iocpsim: harness bug (a kernel invariant broke, not a finding about the "
               "program under test): %s:%d: %s\n",
               file, line, what);
  std::abort();
}

namespace {
constexpr TraceFormat kSwitchFmt{"switch", "-> %t"};
constexpr TraceFormat kWakeFmt{"wake", "%t timed_out=%b"};
constexpr TraceFormat kTimeFmt{"time", "advance to %u ns"};
constexpr TraceFormat kChoiceFmt{"choice", "%k %u of %u"};
constexpr TraceFormat kThreadStartFmt{"thread-start", "%t pid=%p"};
constexpr TraceFormat kThreadEndFmt{"thread-end", "%t code=%u"};
constexpr TraceFormat kExitSignalFmt{"process-signalled", "pid=%p code=%u"};
}  // namespace

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kFinished: return "finished";
    case Outcome::kDeadlock: return "deadlock";
    case Outcome::kDeadline: return "deadline";
    case Outcome::kStepsExceeded: return "steps-exceeded";
    case Outcome::kFault: return "fault";
    case Outcome::kReplayDivergence: return "replay-divergence";
    case Outcome::kProgramException: return "program-exception";
  }
  return "?";
}

std::string Thread::Describe() const {
  return absl::StrCat("thread#", id, pool_role.empty() ? "" : " (" + pool_role + ")");
}

std::string Process::Describe() const { return absl::StrCat("process pid#", id, " ", command_line); }

Kernel::Kernel(const KernelOptions& options, ChoiceSource& source)
    : options_(options), source_(source), trace_(options.keep_trace) {
  objects_.reserve(32);  // a run's objects at once, not a doubling at a time
}

Kernel::~Kernel() {
  DeletePipeNamespace(pipes);
  DeleteWaitTable(waits);
  DeleteSocketNamespace(sockets);
}

// ---------------------------------------------------------------- run

RunResult Kernel::Run(std::function<void()> main) {
  SIM_CHECK(current_kernel == nullptr);
  current_kernel = this;
  app_ = NewProcess("app");
  main_ = std::move(main);
  Thread* t = NewThread(app_, [this] {  // a closure of one pointer: no allocation
    main_();
    return DWORD{0};
  }, "");
  ready_.clear();
  current_ = t;
  t->state = ThreadState::kRunning;
  host_.SwitchTo(*t->fiber);
  // Back on the host: the run stopped.
  Teardown();
  result_.digest = trace_.digest();
  result_.steps = steps_;
  result_.choices = choices_;
  result_.end_time_ns = now_;
  if (trace_.keep()) {
    result_.trace = trace_.Render();
    result_.events = trace_.Events();
  }
  current_kernel = nullptr;
  return std::move(result_);
}

void Kernel::Teardown() {
  SIM_CHECK(stopping_);
  // Unwind every simulated thread that has not finished, so the program's
  // destructors run and nothing it allocated is left behind.
  for (Thread* t : threads_) {
    if (t->state == ThreadState::kDone) continue;
    if (!t->started) {
      t->state = ThreadState::kDone;
      continue;
    }
    t->kill = true;
    current_ = t;
    host_.SwitchTo(*t->fiber);
    if (t->state != ThreadState::kDone) {
      HarnessBug(__FILE__, __LINE__,
                 "a thread being unwound came back unfinished: the program caught the "
                 "simulator's ThreadExit (catch (...) without rethrow?) and kept running");
    }
  }
  current_ = nullptr;
  for (Op* op : live_ops_) delete op;
  live_ops_.clear();
  owned_.clear();
}

void Kernel::ThreadMain(Thread* t) {
  t->started = true;
  DWORD code = 0;
  std::string error;
  if (!t->kill) {
    try {
      code = t->body();
    } catch (const ThreadExit& e) {
      code = e.code;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "an exception that is not a std::exception";
    }
  }
  t->state = ThreadState::kDone;
  t->exit_code = code;
  if (stopping_) {
    // This stack is abandoned, never unwound: free what it holds first.
    std::string().swap(error);
    t->fiber->FinalSwitchTo(host_);
  }
  if (t->on_end) t->on_end();
  Emit(kThreadEndFmt, {t->id, code});
  if (!error.empty()) {
    // Moved, not copied: this frame never returns, so nothing may stay on it.
    error = absl::StrCat(t->Describe(), " threw: ", error);
    Stop(Outcome::kProgramException, std::move(error));
  }
  Notify(t);
  Process* p = t->process;
  if (t == p->threads.front() && !p->exiting) {
    // The main thread returned: the process exits (ExitProcess).
    if (p == app_) {
      CollectLeftovers(result_);
      Stop(Outcome::kFinished, "");
    }
    BeginProcessExit(p, code);
  }
  if (p->exiting && std::all_of(p->threads.begin(), p->threads.end(), [](Thread* u) {
        return u->state == ThreadState::kDone;
      })) {
    FinishProcessExit(p);
  }
  Schedule();
  HarnessBug(__FILE__, __LINE__, "a finished thread was scheduled");
}

// ---------------------------------------------------------- scheduling

void Kernel::StepCheck() {
  if (++steps_ > options_.steps_max) {
    Stop(Outcome::kStepsExceeded,
         absl::StrCat("steps_max (", options_.steps_max, ") scheduling points reached at ",
                      now_ / kMs, " ms: a livelock, or raise steps_max"));
  }
}

std::string Kernel::ScheduleLabel(bool running) const {
  std::vector<std::string> parts;
  if (running) parts.push_back(absl::StrCat("continue thread#", current_->id));
  for (const Ready& r : ready_) {
    parts.push_back(r.thread != nullptr ? r.thread->Describe() : r.event->describe(*r.event));
  }
  return absl::StrJoin(parts, " | ");
}

void Kernel::Yield() {
  Thread* self = current_;
  SIM_CHECK(self != nullptr);
  if (stopping_ || self->kill) return;  // an unwinding thread never switches
  StepCheck();
  while (!ready_.empty()) {
    uint32_t c = Choose(ChoiceKind::kSchedule, 1 + ready_.size(),
                        [&] { return ScheduleLabel(true); });
    if (c == 0) return;
    if (ready_[c - 1].thread != nullptr) {
      Thread* t = ready_[c - 1].thread;
      ready_.erase(ready_.begin() + (c - 1));
      self->state = ThreadState::kReady;
      ready_.push_back({self, nullptr, now_});
      SwitchTo(t);
      ResumeCheck();
      return;
    }
    FireReady(c - 1);
    StepCheck();
  }
}

void Kernel::FireReady(size_t index) {
  std::unique_ptr<KEvent> e = std::move(ready_[index].event);
  ready_.erase(ready_.begin() + index);
  if (e->op != nullptr) e->op->ready_enabled = false;
  e->fire();
}

void Kernel::Schedule() {
  Thread* self = current_;
  for (;;) {
    StepCheck();
    bool time_ok = CanAdvanceTime();
    if (ready_.empty()) {
      if (!time_ok) {
        Stop(Outcome::kDeadlock,
             absl::StrCat("deadlock at ", now_ / kMs,
                          " ms: no runnable thread, no enabled kernel event, no timer"));
      }
      AdvanceTime();
      continue;
    }
    if (time_ok && Choose(ChoiceKind::kTime, 2, [&] {
          return absl::StrCat("run ready items | let time pass to ",
                              timers_.begin()->first.at / kMs, " ms");
        }) == 1) {
      AdvanceTime();
      continue;
    }
    uint32_t c = Choose(ChoiceKind::kSchedule, ready_.size(), [&] { return ScheduleLabel(false); });
    if (ready_[c].thread == nullptr) {
      FireReady(c);
      continue;
    }
    Thread* t = ready_[c].thread;
    ready_.erase(ready_.begin() + c);
    if (t == self) {
      self->state = ThreadState::kRunning;
      return;
    }
    SwitchTo(t);
    return;
  }
}

void Kernel::SwitchTo(Thread* t) {
  Thread* self = current_;
  SIM_CHECK(t != self);
  SIM_CHECK(t->state == ThreadState::kReady || t->state == ThreadState::kBlocked);
  Emit(kSwitchFmt, {t->id});
  t->state = ThreadState::kRunning;
  current_ = t;
  if (self->state == ThreadState::kDone) self->fiber->FinalSwitchTo(*t->fiber);
  self->fiber->SwitchTo(*t->fiber);
  SIM_CHECK(current_ == self);
}

void Kernel::ResumeCheck() {
  if (current_->kill && !stopping_) throw ThreadExit{current_->process->exit_code};
  if (stopping_) throw ThreadExit{0};
}

bool Kernel::Block(absl::Span<Object* const> objects, std::function<bool()> try_wake,
                   DWORD timeout_ms) {
  Thread* self = current_;
  if (stopping_ || self->kill || timeout_ms == 0) return false;
  self->state = ThreadState::kBlocked;
  // Copied into the thread's own list, which keeps its capacity from one
  // wait to the next (no allocation per wait).
  self->waiting_on.assign(objects.begin(), objects.end());
  self->try_wake = std::move(try_wake);
  self->timed_out = false;
  for (Object* o : self->waiting_on) o->waiters.push_back(self);
  if (timeout_ms != INFINITE) {
    self->timer = AddTimer(now_ + Time{timeout_ms} * kMs, [this, self] {
      if (self->state != ThreadState::kBlocked) return;
      self->timed_out = true;
      UnblockFromObjects(self);
      MakeReady(self);
    });
  }
  Schedule();
  if (self->timer != 0) {
    CancelTimer(self->timer);
    self->timer = 0;
  }
  ResumeCheck();
  return !self->timed_out;
}

void Kernel::UnblockFromObjects(Thread* t) {
  for (Object* o : t->waiting_on) {
    auto it = std::find(o->waiters.begin(), o->waiters.end(), t);
    SIM_CHECK(it != o->waiters.end());
    o->waiters.erase(it);
  }
  t->waiting_on.clear();
  t->try_wake = nullptr;
}

void Kernel::MakeReady(Thread* t) {
  SIM_CHECK(t->state == ThreadState::kBlocked);
  t->state = ThreadState::kReady;
  Emit(kWakeFmt, {t->id, t->timed_out});
  ready_.push_back({t, nullptr, now_});
}

void Kernel::Notify(Object* o) {
  if (waits != nullptr) NotifyWaits(*this, o);
  if (o->waiters.empty()) return;
  absl::InlinedVector<Thread*, 4> ws(o->waiters.begin(), o->waiters.end());
  // Threads waiting on a port are released LIFO (MS:I/O Completion Ports);
  // other objects release their waiters in the order they came.
  if (o->type == ObjType::kPort) std::reverse(ws.begin(), ws.end());
  for (Thread* t : ws) {
    if (t->state != ThreadState::kBlocked || !t->try_wake) continue;
    if (t->try_wake()) {
      UnblockFromObjects(t);
      MakeReady(t);
    }
  }
}

void Kernel::Enable(std::unique_ptr<KEvent> e) {
  e->id = ++next_event_id_;
  if (e->op != nullptr) e->op->ready_enabled = true;
  ready_.push_back({nullptr, std::move(e), now_});
}

void Kernel::Disable(Op* op) {
  for (size_t i = 0; i < ready_.size();) {
    if (ready_[i].event && ready_[i].event->op == op) {
      ready_.erase(ready_.begin() + i);
    } else {
      ++i;
    }
  }
  op->ready_enabled = false;
}

uint32_t Kernel::Choose(ChoiceKind kind, uint32_t n, LabelFn label) {
  if (n <= 1) return 0;
  uint32_t v = source_.Choose(kind, n, label);
  ++choices_;
  if (!source_.error().empty()) Stop(Outcome::kReplayDivergence, source_.error());
  SIM_CHECK(v < n);
  Emit(kChoiceFmt, {static_cast<uint64_t>(kind), v, n});
  if (trace_.keep()) {
    trace_.Note(now_, current_ ? current_->id : 0, "options", 0, label());
  }
  return v;
}

void Kernel::Stop(Outcome outcome, std::string message) {
  Thread* self = current_;
  if (!stopping_) {
    stopping_ = true;
    result_.outcome = outcome;
    result_.message = std::move(message);
    if (!leftovers_taken_) CollectLeftovers(result_);
  }
  std::string().swap(message);  // a finished thread's frame is abandoned
  if (self->state == ThreadState::kDone) self->fiber->FinalSwitchTo(host_);
  self->fiber->SwitchTo(host_);
  throw ThreadExit{0};  // resumed by Teardown: unwind this thread
}

// ---------------------------------------------------------------- time

uint64_t Kernel::AddTimer(Time at, std::function<void()> fire) {
  uint64_t id = ++next_timer_id_;
  Timer timer{at, id};
  auto it = std::upper_bound(timers_.begin(), timers_.end(), timer,
                             [](const Timer& t, const auto& entry) { return t < entry.first; });
  timers_.emplace(it, timer, std::move(fire));
  return id;
}

void Kernel::CancelTimer(uint64_t id) {
  auto it = std::find_if(timers_.begin(), timers_.end(),
                         [id](const auto& entry) { return entry.first.id == id; });
  if (it != timers_.end()) timers_.erase(it);
}

bool Kernel::CanAdvanceTime() const {
  if (timers_.empty()) return false;
  if (ready_.empty()) return true;
  // Nothing ready may be starved past the I/O latency bound.
  return timers_.begin()->first.at <= ready_.front().since + options_.io_latency_ms_max * kMs;
}

void Kernel::AdvanceTime() {
  Timer first = timers_.begin()->first;
  if (first.at > options_.deadline_ms * kMs) {
    Stop(Outcome::kDeadline, absl::StrCat("virtual deadline of ", options_.deadline_ms,
                                          " ms passed with the program still waiting"));
  }
  auto fn = std::move(timers_.begin()->second);
  timers_.erase(timers_.begin());
  if (first.at > now_) {
    now_ = first.at;
    Emit(kTimeFmt, {static_cast<uint64_t>(now_)});
  }
  fn();
}

// ------------------------------------------------------ threads, processes

Process* Kernel::NewProcess(std::string command_line) {
  Process* p = New<Process>();
  p->command_line = std::move(command_line);
  // Room for a run's handles at once rather than growth one doubling at a
  // time (allocations per run: reports/bench.md).
  p->handles.reserve(16);
  p->free_slots.reserve(16);
  processes_.push_back(p);
  return p;
}

Thread* Kernel::NewThread(Process* p, std::function<DWORD()> body, std::string role) {
  Thread* t = New<Thread>();
  t->process = p;
  t->body = std::move(body);
  t->pool_role = std::move(role);
  t->fiber = std::make_unique<Fiber>([this, t] { ThreadMain(t); }, options_.stack_kib * 1024);
  p->threads.push_back(t);
  threads_.push_back(t);
  ready_.push_back({t, nullptr, now_});
  Emit(kThreadStartFmt, {t->id, p->id});
  return t;
}

void Kernel::ExitCurrentThread(DWORD code) { throw ThreadExit{code}; }

void Kernel::BeginProcessExit(Process* p, DWORD code) {
  if (p->exiting) return;
  p->exiting = true;
  p->exit_code = code;
  for (Thread* t : p->threads) {
    if (t->state == ThreadState::kDone || t == current_) continue;
    t->kill = true;
    if (t->state == ThreadState::kBlocked) {
      if (t->timer != 0) {
        CancelTimer(t->timer);
        t->timer = 0;
      }
      UnblockFromObjects(t);
      MakeReady(t);
    }
  }
}

void Kernel::FinishProcessExit(Process* p) {
  // Its handles close (the last handle of an object runs its close
  // semantics), and operations it issued that are still pending are
  // cancelled: their packets still reach a port that a surviving handle is
  // associated with (Wine kpipe test_exit_process_async).
  for (size_t i = 0; i < p->handles.size(); ++i) {
    if (p->handles[i].object != nullptr) CloseIn(p, reinterpret_cast<HANDLE>((i + 1) * 4));
  }
  std::vector<Op*> mine;
  for (Op* op : live_ops_) {
    if (op->process == p && op->pending) mine.push_back(op);
  }
  for (Op* op : mine) {
    if (op->pending) CompleteOp(op, STATUS_CANCELLED, 0);
  }
  // The process handle is signalled as a kernel event of its own, so the
  // order against the pipe completions above is a choice (WIN32-MODEL.md:
  // "in any order relative to the process handle being signalled").
  auto e = std::make_unique<KEvent>();
  e->subject = p->id;
  e->describe = [](const KEvent& ev) { return absl::StrCat("pid#", ev.subject, " exit signalled"); };
  e->fire = [this, p] {
    p->exit_signaled = true;
    Emit(kExitSignalFmt, {p->id, p->exit_code});
    Notify(p);
  };
  Enable(std::move(e));
}

// --------------------------------------------------------------- handles

HANDLE Kernel::AddHandle(Process* p, Object* o, bool inherit) {
  uint32_t slot;
  if (!p->free_slots.empty()) {
    slot = p->free_slots.back();
    p->free_slots.pop_back();
  } else {
    slot = static_cast<uint32_t>(p->handles.size());
    p->handles.emplace_back();
  }
  SIM_CHECK(p->handles[slot].object == nullptr);
  p->handles[slot] = {o, inherit, false, now_, steps_};
  ++o->handles;
  return reinterpret_cast<HANDLE>(uintptr_t{slot + 1} * 4);
}

Object* Kernel::LookupIn(Process* p, HANDLE h) {
  uintptr_t v = reinterpret_cast<uintptr_t>(h);
  if (v == 0 || v % 4 != 0 || v / 4 > p->handles.size()) return nullptr;
  return p->handles[v / 4 - 1].object;
}

Object* Kernel::Lookup(HANDLE h) {
  // GetCurrentProcess() and GetCurrentThread() are pseudo-handles -1, -2.
  if (h == INVALID_HANDLE_VALUE) return current_->process;
  if (h == reinterpret_cast<HANDLE>(~uintptr_t{1})) return current_;
  Object* o = LookupIn(current_->process, h);
  if (o == nullptr) SetError(ERROR_INVALID_HANDLE);
  return o;
}

bool Kernel::CloseIn(Process* p, HANDLE h) {
  uintptr_t v = reinterpret_cast<uintptr_t>(h);
  Object* o = LookupIn(p, h);
  if (o == nullptr) return false;
  p->handles[v / 4 - 1] = {};
  p->free_slots.push_back(static_cast<uint32_t>(v / 4 - 1));
  SIM_CHECK(o->handles > 0);
  if (--o->handles == 0) o->LastHandleClosed(*this);
  return true;
}

void Kernel::CollectLeftovers(RunResult& r) {
  leftovers_taken_ = true;
  for (Process* p : processes_) {
    if (p->exit_signaled) continue;
    if (p != app_) r.processes_alive.push_back(p->Describe());
    // A process being terminated (TerminateProcess is asynchronous) still
    // holds its handles for a moment; the kernel closes them as it exits:
    // they are not left open by anyone.
    if (p->exiting && p != app_) continue;
    for (size_t i = 0; i < p->handles.size(); ++i) {
      if (p->handles[i].object == nullptr) continue;
      const HandleEntry& h = p->handles[i];
      r.handles_left.push_back({p->id, (i + 1) * 4, h.object->Describe(),
                                absl::StrFormat("created at t=%.3fms, step %u",
                                                h.created_ns / 1e6, h.created_step)});
    }
  }
  for (Op* op : live_ops_) {
    if (op->ov != nullptr) r.overlapped_owned.push_back({op->id, DescribeOp(op)});
  }
}

}  // namespace iocpsim
