// The oracles' classification and signatures.
#include "scenarios/oracles.h"

#include <doctest/doctest.h>

namespace iocpsim::scenarios {
namespace {

using proactor::ErrorContext;

TEST_CASE("Stable() removes ids, addresses and numbers from a signature") {
  CHECK(Stable("OverlappedFuture#12 finished at 0x7ffe10") == "OverlappedFuture#N-finished-at-N");
  CHECK(Stable("no digits") == "no-digits");
}

TEST_CASE("Reports become verdicts with stable signatures") {
  Oracles o;
  o.OnReport({"GetQueuedCompletionStatus() returned an unexpected event", nullptr,
              {{"status", "err=0 transferred=0 key=0 address=ov"}}});
  o.OnReport({"GetQueuedCompletionStatus() returned an unexpected event", nullptr,
              {{"status", "err=0 transferred=0 key=0x1c address=ov"}}});
  o.OnReport({"<IocpProactor overlapped#=1 result#=0> is running after closing for 1.0 seconds",
              nullptr, {{"pending", "ReadFileInto OverlappedFuture#12 finished"}}});
  o.OnReport({"unclosed transport <_ProactorDuplexPipeTransport closing>", nullptr, {}});
  o.OnReport({"Task was destroyed but it is pending!", nullptr, {{"task", "Task#3 pending"}}});
  o.OnReport({"<_overlapped.Overlapped> still has pending operation at deallocation, the process may crash",
              nullptr, {}});
  o.OnReport({"Exception in callback",
              std::make_exception_ptr(proactor::InvalidStateError("invalid state: Future#2 finished")),
              {}});
  o.OnReport({"Fatal write error on pipe transport", nullptr, {{"level", "debug"}}});  // ignored
  o.OnReport({"Exception in callback", std::make_exception_ptr(proactor::ValueError("I/O operation on closed pipe")), {}});
  std::vector<std::string> got;
  for (const Finding& f : o.findings()) got.push_back(f.signature);
  CHECK(got == std::vector<std::string>{
                   "unexpected-event:GQCS:key-zero",
                   "unexpected-event:GQCS:key-nonzero",
                   "hang:close-waits:ReadFileInto:finished",
                   "leak:unclosed:DuplexPipeTransport",
                   "leak:pending-task-destroyed",
                   "use-after-free:overlapped-freed-while-pending",
                   "invalid-state:Exception-in-callback",
                   "error-log:Exception-in-callback:ValueError",
               });
  CHECK(o.Verdict().verdict == Verdict::kUnexpectedEvent);
}

TEST_CASE("The kernel's result: a deadline is a hang named after the last close report; leftovers are leaks") {
  Oracles o;
  o.OnReport({"<IocpProactor> is running after closing for 1.0 seconds", nullptr,
              {{"pending", "ConnectNamedPipe OverlappedFuture#4 finished"}}});
  RunResult r;
  r.outcome = Outcome::kDeadline;
  r.handles_left.push_back({1, 8, "pipe-server \\\\.\\pipe\\x", ""});
  r.overlapped_owned.push_back({3, "ov#3 ReadFile h=0x8 pid#1 pending"});
  o.OnKernelResult(r);
  std::vector<std::string> got;
  for (const Finding& f : o.findings()) got.push_back(f.signature);
  CHECK(got == std::vector<std::string>{"hang:close-waits:ConnectNamedPipe:finished",
                                        "hang:close-waits:ConnectNamedPipe:finished",
                                        "leak:handle:pipe-server", "leak:overlapped:ReadFile"});
}

TEST_CASE("A kernel fault on an OVERLAPPED is a use-after-free named after the call") {
  Oracles o;
  RunResult r;
  r.outcome = Outcome::kFault;
  r.message = "use-after-free: the OVERLAPPED of ov#3 WriteFile h=0x10 pid#1 ... was overwritten";
  o.OnKernelResult(r);
  CHECK(o.Verdict().signature == "use-after-free:kernel:WriteFile");
  CHECK(o.Verdict().verdict == Verdict::kUseAfterFree);
}

TEST_CASE("No findings: ok") {
  Oracles o;
  o.OnKernelResult(RunResult{});
  CHECK(o.Verdict().verdict == Verdict::kOk);
  CHECK(o.Verdict().signature.empty());
}

}  // namespace
}  // namespace iocpsim::scenarios
