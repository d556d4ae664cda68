// The embedding API of the virtual Win32 kernel.
//
// RunSimulation() runs a function as the main thread of a simulated
// process ("app", pid#1) under a fresh kernel. Every Win32 call the
// function (and every thread or child process it starts) makes is a
// scheduling point of that kernel; every nondeterministic decision is
// drawn from `source`. When the main thread returns, the process exits:
// what it left behind (handles, OVERLAPPEDs the kernel still owns, child
// processes still running) is in the result, with the trace digest.
//
//   iocpsim::KernelOptions options;
//   iocpsim::PrngSource source(7);
//   iocpsim::RunResult r = iocpsim::RunSimulation(options, source, [] {
//     HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
//     CloseHandle(port);
//   });
//   assert(r.outcome == iocpsim::Outcome::kFinished && r.handles_left.empty());
//
// Misuse by the program under test (an invalid handle, a double close, a
// second port association) gets the Win32 error Windows gives, plus a
// trace line. A broken kernel invariant aborts with "iocpsim: harness bug".
#ifndef IOCPSIM_SIM_SIM_H_
#define IOCPSIM_SIM_SIM_H_

#ifdef _WIN32
#include "sim/sim_windows.h"  // the Windows build: canonical choices, no kernel
#else

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "sim/choice.h"
#include "sim/trace.h"

namespace iocpsim {

struct KernelOptions {
  // OVERLAPPED::Internal/InternalHigh of a port-associated operation are
  // written when its packet is dequeued ("will not be updated until the
  // packet is removed", MS:I/O Completion Ports). true: at completion, as
  // Wine does.
  bool immediate_status = false;
  // May an operation that could finish at issue go pending instead? The
  // Win32 contract allows it (MS:Synchronous and Asynchronous I/O: callers
  // must handle ERROR_IO_PENDING whenever they pass an OVERLAPPED); NPFS
  // itself completes such reads at once. Off by default, so that a finding
  // never rests on a path NPFS does not take; turn it on to test a program
  // against the contract rather than against the pipe driver. (Whether data
  // arrives before or after a read is issued is a scheduling choice either
  // way, so both the synchronous and the pending path stay reachable.)
  bool pending_when_ready = false;
  // Virtual time may pass while a thread is runnable or a kernel event is
  // enabled, but never more than this past the moment it became ready.
  int64_t io_latency_ms_max = 50;
  // The run is a hang once virtual time would pass this.
  int64_t deadline_ms = 10 * 60 * 1000;
  // Scheduling points in one run; past it the run stops (a livelock).
  uint64_t steps_max = 2'000'000;
  // Keep the text of the trace (the digest is always computed).
  bool keep_trace = false;
  // Stack of each simulated thread.
  size_t stack_kib = 256;
};

enum class Outcome {
  kFinished,           // the main thread returned
  kDeadlock,           // nothing runnable, no enabled event, no timer
  kDeadline,           // virtual time would pass deadline_ms (a hang)
  kStepsExceeded,      // steps_max scheduling points
  kFault,              // the program broke an OVERLAPPED rule (use-after-free class)
  kReplayDivergence,   // a strict replay source stopped
  kProgramException,   // a simulated thread threw
};
const char* OutcomeName(Outcome outcome);

struct LeftHandle {
  uint32_t pid;
  uint64_t value;
  std::string object;  // "pipe-server \\.\pipe\x", "port", "event", ...
  std::string created;  // "created at t=1.250ms, step 42" (virtual time, scheduling step)
};

struct OwnedOverlapped {
  uint32_t op;         // the ov#N of the trace
  std::string what;    // "ReadFile h=0x8 pid#1 pending"
};

struct RunResult {
  Outcome outcome = Outcome::kFinished;
  std::string message;                     // what stopped the run, one line
  std::vector<LeftHandle> handles_left;    // per process, at exit of the app
  std::vector<OwnedOverlapped> overlapped_owned;
  std::vector<std::string> processes_alive;
  std::vector<std::string> trace;          // with keep_trace
  std::vector<TraceEvent> events;          // with keep_trace: the same, as records
  uint64_t digest = 0;
  uint64_t steps = 0;
  uint64_t choices = 0;
  int64_t end_time_ns = 0;
};

RunResult RunSimulation(const KernelOptions& options, ChoiceSource& source,
                        std::function<void()> main);

// A choice for the program under test itself (a scenario parameter, or a
// child program deciding whether to exit early). Must be called from a
// simulated thread. Returns 0 when n <= 1.
uint32_t Choose(ChoiceKind kind, uint32_t n, absl::string_view label);

// The virtual time, for programs and tests.
int64_t NowNs();

// Annotations: what the program under test did, in its own terms (a
// proactor action, a protocol callback), as notes in the kept trace beside
// the kernel's records; never part of the digest, and free when the trace
// is not kept. Callable from simulated threads; outside a run they do
// nothing.
//
//   uint32_t op = AnnotationOp(overlapped);   // right after GQCS returned it
//   if (Annotating()) Annotate("proactor", op, "Poll: set_result ReadFile");
//   { AnnotationScope scope(op); protocol.DataReceived(data); }  // inherits op
bool Annotating();
// The ov#N of the operation most recently issued with `overlapped` (0 when
// none, or when the trace is not kept).
uint32_t AnnotationOp(const void* overlapped);
// `op` 0: the innermost AnnotationScope's operation on this thread.
void Annotate(const char* category, uint32_t op, std::string text);
class AnnotationScope {
 public:
  explicit AnnotationScope(uint32_t op);
  ~AnnotationScope();
  AnnotationScope(const AnnotationScope&) = delete;
  AnnotationScope& operator=(const AnnotationScope&) = delete;

 private:
  void* thread_ = nullptr;  // the simulated thread it was opened on
  uint32_t saved_ = 0;
};

// A child program: CreateProcessW runs it as the main thread of a new
// simulated process, with argv split from the command line (argv[0] is the
// program name). Its return value is the exit code.
using ChildProgram = std::function<uint32_t(const std::vector<std::string>& argv)>;
// Registers `name`; the built-in ones (child.cc) are "echo",
// "exit-now CODE", "write-then-exit TEXT [CODE]", "sleep-then-exit MS [CODE]".
void RegisterChildProgram(const std::string& name, ChildProgram program);

}  // namespace iocpsim

#endif  // _WIN32
#endif  // IOCPSIM_SIM_SIM_H_
