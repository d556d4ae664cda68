// The virtual kernel's internals: objects, handle tables, operations
// (OVERLAPPED ownership), the scheduler of simulated threads and kernel
// events, timers and virtual time.
//
// Scheduling. At every Win32 call the running thread reaches Yield(): the
// options are "keep running" (0) followed by every ready item in FIFO
// order: threads that were woken and kernel events that became enabled
// (an I/O whose condition is met, a requested cancellation, a peer close,
// a process exit). When a thread blocks, Block() offers the ready items,
// plus "let time pass" to the next timer when that stays within
// io_latency_ms_max of the oldest ready item. Events run inline on the
// current stack; only threads switch fibers.
//
// One kernel object per file: port.cc, pipe.cc, sync.cc (events, waits,
// time), threadpool.cc, process.cc; io.cc is the shared operation
// lifecycle (issue, complete, cancel, packet, dequeue).
#ifndef IOCPSIM_SIM_KERNEL_H_
#define IOCPSIM_SIM_KERNEL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "sim/choice.h"
#include "sim/fiber.h"
#include "sim/sim.h"
#include "sim/trace.h"
#include "sim/win32.h"

// A kernel invariant. Always on; a failure is a bug of the harness, never
// a finding about the program under test.
#define SIM_CHECK(cond)                                                                 \
  do {                                                                                  \
    if (!(cond)) ::iocpsim::HarnessBug(__FILE__, __LINE__, #cond);                      \
  } while (0)

namespace iocpsim {

[[noreturn]] void HarnessBug(const char* file, int line, const char* what);

using Time = int64_t;  // virtual nanoseconds
inline constexpr Time kMs = 1'000'000;

struct Thread;
struct Process;
struct Op;
class Kernel;

// Thrown to unwind a simulated thread (ExitThread, a terminated process,
// the end of the run). Programs must not swallow it with catch (...).
struct ThreadExit {
  DWORD code;
};

enum class ObjType : uint8_t {
  kPort, kPipeEnd, kEvent, kProcess, kThread, kWait, kPipeName, kSocket
};

// A kernel object. Kept by the kernel until the run ends; `handles` counts
// the handles naming it in every process.
struct Object {
  explicit Object(ObjType t) : type(t) {}
  virtual ~Object() = default;
  virtual std::string Describe() const = 0;
  // Called when the last handle to the object is closed.
  virtual void LastHandleClosed(Kernel& k) {}
  // Waitable objects: is it signalled, and what does a satisfied wait do to
  // it (an auto-reset event resets).
  virtual bool Signaled() const { return false; }
  virtual void Acquire() {}

  ObjType type;
  uint32_t id = 0;
  uint32_t handles = 0;
  // Threads blocked on this object, in order. Inline: rarely more than
  // one or two, and a run makes dozens of objects (allocations per run:
  // reports/bench.md).
  absl::InlinedVector<Thread*, 2> waiters;
};

// A file's pending operations: a few at a time, inline. Loops that may
// complete some (which removes them) walk a copy: `OpList(f->ops)`.
using OpList = absl::InlinedVector<Op*, 4>;

struct Packet {
  DWORD bytes;
  ULONG_PTR key;
  OVERLAPPED* ov;
  NTSTATUS status;
  Op* op;  // nullptr for PostQueuedCompletionStatus
  uint32_t trace_id = 0;  // a posted packet's, with the trace kept (kTracePostIdBase + n)
};

struct Port : Object {
  Port() : Object(ObjType::kPort) {}
  std::string Describe() const override { return "port"; }
  void LastHandleClosed(Kernel& k) override;
  // FIFO; a few packets at a time, so inline (a std::deque allocates two
  // blocks when made).
  absl::InlinedVector<Packet, 4> queue;
  size_t reserved = 0;  // packets promised to released waiters
  bool closed = false;
};

// A file object that overlapped I/O can be issued on (a pipe end, a socket).
struct File : Object {
  using Object::Object;
  bool overlapped = false;  // opened with FILE_FLAG_OVERLAPPED
  Port* port = nullptr;     // associated completion port, for good
  ULONG_PTR key = 0;
  bool skip_port_on_success = false;
  bool skip_event_on_handle = false;
  bool io_signaled = false;  // the file object as a waitable (no hEvent)
  bool Signaled() const override { return io_signaled; }
  OpList ops;  // pending operations, in issue order

  // The driver: can `op` complete now, and how; and complete it.
  enum class Readiness { kNo, kSuccess, kError };
  virtual Readiness Ready(const Op* op) const = 0;
  virtual void Perform(Kernel& k, Op* op) = 0;
};

enum class OpType : uint8_t {
  kRead, kWrite, kConnect,                           // pipes (ConnectNamedPipe)
  kRecv, kSend, kRecvFrom, kSendTo, kAccept, kConnectEx  // sockets
};
const char* OpTypeName(OpType t);

// One overlapped (or synchronous) operation, owned by the kernel from issue
// until its packet is dequeued, or until it completes when no packet is due.
struct Op {
  uint32_t id = 0;  // ov#N in the trace
  OpType type;
  OVERLAPPED* ov = nullptr;  // nullptr for a synchronous handle
  File* file = nullptr;
  Process* process = nullptr;
  Thread* thread = nullptr;  // issuing thread (CancelIo)
  HANDLE handle = nullptr;   // the handle it was issued through, for the trace
  Object* event = nullptr;   // hEvent, as an object
  char* buffer = nullptr;
  DWORD size = 0;
  uint64_t write_end = 0;    // a write: channel offset just past its bytes
  // Sockets: AcceptEx's accept socket; WSARecvFrom's address out-parameters;
  // ConnectEx's and WSASendTo's destination port.
  File* accept_into = nullptr;
  void* from = nullptr;
  int* from_length = nullptr;
  uint16_t to_port = 0;
  std::vector<std::pair<char*, DWORD>> scatter;  // a receive into several WSABUFs
  bool pending = true;       // not completed yet
  bool queued = false;       // its packet is in a port queue
  bool cancel_requested = false;
  bool ready_enabled = false;  // its completion event is in the ready queue
  bool sync_issue = false;   // completing inside the issuing call
  bool no_packet = false;    // hEvent had its low bit set at issue
  bool status_written = false;  // Internal/InternalHigh hold the status
  NTSTATUS status = STATUS_PENDING;
  DWORD bytes = 0;
};

// A kernel event: a function the scheduler may run at a scheduling point.
struct KEvent {
  std::string (*describe)(const KEvent&);
  std::function<void()> fire;
  Op* op = nullptr;  // the operation it completes or cancels, if any
  uint32_t id = 0;
  uint32_t subject = 0;  // object or op id, for labels
};

enum class ThreadState : uint8_t { kReady, kRunning, kBlocked, kDone };

struct Thread : Object {
  Thread() : Object(ObjType::kThread) {}
  std::string Describe() const override;
  bool Signaled() const override { return state == ThreadState::kDone; }

  Process* process = nullptr;
  std::unique_ptr<Fiber> fiber;
  std::function<DWORD()> body;
  // Runs when the thread ends, whether its body returned, exited or was
  // killed (even before it started); not when the run itself is torn down.
  std::function<void()> on_end;
  bool started = false;
  ThreadState state = ThreadState::kReady;
  DWORD last_error = 0;
  DWORD exit_code = STILL_ACTIVE;
  bool kill = false;
  // Blocking: the objects waited on, and the function that decides (and
  // applies) the wake-up; returns true when the thread may resume.
  absl::InlinedVector<Object*, 2> waiting_on;
  std::function<bool()> try_wake;
  bool timed_out = false;
  uint64_t timer = 0;  // 0: none
  std::string pool_role;  // "worker", "wait callback", ... for pool threads
  uint32_t annotation_op = 0;  // the innermost AnnotationScope's
};

struct HandleEntry {
  Object* object = nullptr;
  bool inherit = false;
  bool protect = false;
  int64_t created_ns = 0;     // virtual time of the call that made it
  uint64_t created_step = 0;  // and the scheduling step
};

struct Process : Object {
  Process() : Object(ObjType::kProcess) {}
  std::string Describe() const override;
  bool Signaled() const override { return exit_signaled; }

  std::string command_line;
  std::vector<HandleEntry> handles;   // value = (index + 1) * 4
  std::vector<uint32_t> free_slots;   // LIFO: the last closed value comes back first
  absl::InlinedVector<Thread*, 2> threads;
  HANDLE std_handles[3] = {nullptr, nullptr, nullptr};
  DWORD exit_code = STILL_ACTIVE;
  bool exiting = false;
  bool exit_signaled = false;
  int wsa_started = 0;  // WSAStartup calls not matched by WSACleanup
};

class Kernel {
 public:
  Kernel(const KernelOptions& options, ChoiceSource& source);
  ~Kernel();

  RunResult Run(std::function<void()> main);

  // Marks the operation whose program memory (OVERLAPPED, buffer) the
  // kernel touches while it lives, so that a sanitizer report on that
  // access ends with a line naming the operation.
  class Touching {
   public:
    Touching(const Kernel& k, const Op* op, const char* what);
    ~Touching();
    Touching(const Touching&) = delete;
    Touching& operator=(const Touching&) = delete;

   private:
    const Kernel* prev_kernel_;
    const Op* prev_op_;
    const char* prev_what_;
  };

  // ---- scheduling (called by the Win32 entry points) ----
  // A scheduling point at the start of every Win32 call.
  void Yield();
  // Blocks the current thread on `objects` until `try_wake` returns true or
  // `timeout_ms` passes (INFINITE: never). Returns false on timeout.
  bool Block(absl::Span<Object* const> objects, std::function<bool()> try_wake,
             DWORD timeout_ms);
  // Something about `o` changed: wake the threads waiting on it that can
  // go (in order; LIFO for ports, MS:I/O Completion Ports).
  void Notify(Object* o);
  // Puts a kernel event in the ready queue.
  void Enable(std::unique_ptr<KEvent> e);
  // Takes the events of `op` out of the ready queue.
  void Disable(Op* op);
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label);
  [[noreturn]] void Stop(Outcome outcome, std::string message);
  [[noreturn]] void Fault(std::string message) { Stop(Outcome::kFault, std::move(message)); }

  // ---- threads and processes ----
  Thread* current() const { return current_; }
  Process* current_process() const { return current_->process; }
  Thread* NewThread(Process* p, std::function<DWORD()> body, std::string role);
  Process* NewProcess(std::string command_line);
  // Ends the current thread (ExitThread, a returning body).
  [[noreturn]] void ExitCurrentThread(DWORD code);
  // Starts the exit of `p` (TerminateProcess, ExitProcess, main returned).
  void BeginProcessExit(Process* p, DWORD code);
  void SetError(DWORD e) { current_->last_error = e; }

  // ---- handles ----
  HANDLE AddHandle(Process* p, Object* o, bool inherit);
  // The object named by `h` in the current process, or nullptr with
  // ERROR_INVALID_HANDLE set. `want` filters by type.
  Object* Lookup(HANDLE h);
  template <class T>
  T* LookupAs(HANDLE h, ObjType want) {
    Object* o = Lookup(h);
    if (o == nullptr) return nullptr;
    if (o->type != want) {
      SetError(ERROR_INVALID_HANDLE);
      return nullptr;
    }
    return static_cast<T*>(o);
  }
  Object* LookupIn(Process* p, HANDLE h);
  absl::Span<Process* const> processes() const { return processes_; }
  // Closes `h` in `p`; false if it names nothing.
  bool CloseIn(Process* p, HANDLE h);
  template <class T, class... A>
  T* New(A&&... a) {
    objects_.push_back(std::make_unique<T>(std::forward<A>(a)...));
    objects_.back()->id = next_object_id_++;
    return static_cast<T*>(objects_.back().get());
  }

  // ---- operations (io.cc) ----
  // Registers a new operation; faults if `ov` is already owned.
  Op* IssueOp(OpType type, File* f, HANDLE h, OVERLAPPED* ov, void* buffer, DWORD size);
  // Completes `op` with `status`/`bytes`: status block, event, packet.
  void CompleteOp(Op* op, NTSTATUS status, DWORD bytes);
  // A synchronous failure: no packet, Internal stays STATUS_PENDING.
  // The return of an issuing call for an operation: TRUE when it completed
  // synchronously with success, else FALSE with the error (ERROR_IO_PENDING
  // when still pending). Blocks for synchronous handles.
  BOOL FinishIssue(Op* op, LPDWORD transferred);
  // Issues `op` through its file's driver: completes it at once when it can
  // (synchronous success, or a synchronous failure with no packet), else
  // leaves it pending; then FinishIssue.
  BOOL StartOp(Op* op, LPDWORD transferred);
  // Enables the completion event of every pending op of `f` that can now
  // complete (drivers call it after any change of state).
  void Kick(File* f);
  // Requests cancellation (CancelIo/CancelIoEx).
  void RequestCancel(Op* op);
  // Faults (use-after-free) if the program freed or rewrote the OVERLAPPED
  // of `op` while the kernel owns it. Drivers call it before writing into
  // the operation's buffer: with the OVERLAPPED gone, the object holding
  // the buffer may be gone too, and the write must not land in memory the
  // harness has reused (the use-after-free is real either way).
  void CheckCanary(const Op* op);
  // CheckCanary, named as such in a sanitizer's report.
  void CheckBeforeBuffer(const Op* op) {
    Touching touch(*this, op, "checking the OVERLAPPED before writing into the buffer");
    CheckCanary(op);
  }
  // Aborts every pending operation on `f` now (last handle closed).
  void AbortAll(File* f, NTSTATUS status);
  void Dequeued(const Packet& p);
  void ReleaseOp(Op* op);
  Op* OwnerOf(const OVERLAPPED* ov) const {
    auto it = owned_.find(ov);
    return it == owned_.end() ? nullptr : it->second;
  }
  std::string DescribeOp(const Op* op) const;

  // ---- time ----
  Time now() const { return now_; }
  uint64_t AddTimer(Time at, std::function<void()> fire);
  void CancelTimer(uint64_t id);

  const KernelOptions& options() const { return options_; }
  Trace& trace() { return trace_; }
  void Emit(const TraceFormat& f, std::initializer_list<uint64_t> v, uint32_t trace_op = 0) {
    trace_.Emit(f, now_, current_ ? current_->id : 0, v, trace_op);
  }
  // Trace-only ids of posted packets (never in the digest), so that a
  // report can follow one from PostQueuedCompletionStatus to its dequeue.
  uint32_t NextPostId() { return kTracePostIdBase + ++posts_traced_; }
  uint32_t NextOpId() { return ++next_op_id_; }
  uint64_t HandleValue(HANDLE h) const { return reinterpret_cast<uintptr_t>(h); }

  // Per-object-kind state kept by the kernel files.
  struct PipeNamespace* pipes = nullptr;
  struct WaitTable* waits = nullptr;
  struct SocketNamespace* sockets = nullptr;

  static thread_local Kernel* current_kernel;  // one simulation per OS thread

 private:
  struct Ready {
    Thread* thread;  // exactly one of thread / event
    std::unique_ptr<KEvent> event;
    Time since;
  };
  struct Timer {
    Time at;
    uint64_t id;
    bool operator<(const Timer& o) const { return at != o.at ? at < o.at : id < o.id; }
  };

  void StepCheck();
  void Schedule();
  void WriteStatus(Op* op);
  std::string ScheduleLabel(bool running) const;
  void FireReady(size_t index);
  void SwitchTo(Thread* t);
  void ResumeCheck();
  void MakeReady(Thread* t);
  void UnblockFromObjects(Thread* t);
  bool CanAdvanceTime() const;
  void AdvanceTime();
  void ThreadMain(Thread* t);
  void Teardown();
  void CollectLeftovers(RunResult& r);
  void FinishProcessExit(Process* p);

  KernelOptions options_;
  ChoiceSource& source_;
  Trace trace_;
  Fiber host_;
  Thread* current_ = nullptr;
  Process* app_ = nullptr;
  std::function<void()> main_;  // the app's main thread's body (Run)
  std::vector<std::unique_ptr<Object>> objects_;
  absl::InlinedVector<Process*, 2> processes_;
  absl::InlinedVector<Thread*, 4> threads_;
  // What may run next, in the order it became ready; the scheduler picks
  // any of it (erase at that index). Inline: a few entries at a time.
  absl::InlinedVector<Ready, 8> ready_;
  // In the order they fire; a few at a time, so a sorted inline vector
  // (a std::map allocated a node per timer).
  absl::InlinedVector<std::pair<Timer, std::function<void()>>, 4> timers_;
  absl::flat_hash_map<const OVERLAPPED*, Op*> owned_;  // lookup only, never iterated
  // By id, for ordered reports: ids only grow, so an op joins at the end.
  // (A btree freed its root whenever the last op went and made it again
  // for the next.)
  absl::InlinedVector<Op*, 8> live_ops_;
 public:
  // With the trace kept: the last op issued at each OVERLAPPED address.
  absl::flat_hash_map<const OVERLAPPED*, uint32_t> last_op_at;  // lookup only
 private:
  Time now_ = 0;
  uint64_t steps_ = 0;
  uint64_t choices_ = 0;
  uint32_t next_object_id_ = 1;
  uint32_t next_op_id_ = 0;
  uint32_t posts_traced_ = 0;
  uint32_t next_event_id_ = 0;
  uint64_t next_timer_id_ = 0;
  bool stopping_ = false;
  bool leftovers_taken_ = false;
  RunResult result_;
};

// The running kernel (only one runs at a time on an OS thread).
inline Kernel& K() { return *Kernel::current_kernel; }

// Win32 error <-> NTSTATUS for the values the kernel uses
// (RtlNtStatusToDosError).
DWORD NtStatusToError(NTSTATUS s);
// NT_ERROR: the severity bits say error (not success, not warning).
bool IsError(NTSTATUS s);
void DeletePipeNamespace(struct PipeNamespace* ns);
void DeleteWaitTable(struct WaitTable* w);
void DeleteSocketNamespace(struct SocketNamespace* ns);
// Registered waits watching `o` (threadpool.cc).
void NotifyWaits(Kernel& k, Object* o);
// Signals an event object (SetEvent), waking its waiters (sync.cc).
void SignalEventObject(Kernel& k, Object* event);
void ResetEventObject(Object* event);

}  // namespace iocpsim

#endif  // IOCPSIM_SIM_KERNEL_H_
