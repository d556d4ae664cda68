// post-init-leak: subprocess_exec cancelled while its pipes connect.
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  auto p = std::make_shared<CheckedSubprocessProtocol>(ctx);
  SubprocessProtocolFactory factory = [p] { return p; };
  std::vector<std::string> args = {"sleep-then-exit", "100000"};
  auto task = loop.CreateTask(SubprocessExec(loop, factory, args));
  uint32_t steps_left = ctx.Param("cancel after: 0 | 1 | 2 loop steps", 3);
  std::function<void()> cancel = [&] {
    if (steps_left-- == 0) {
      task->Cancel();
    } else {
      loop.CallSoon(cancel);
    }
  };
  loop.CallSoon(cancel);
  bool cancelled = false;
  try {
    auto [t, unused] = co_await task;
    // Too late to cancel: the transport is ours to close.
    t->Close();
    co_await t->Wait();
  } catch (const CancelledError&) {
    cancelled = true;
  }
  (void)cancelled;
  co_await Sleep(loop, 0.05);
}

}  // namespace

extern const Scenario kSubprocessCancelStart{
    "subprocess-cancel-start",
    "subprocess_exec is cancelled while it connects the child's pipes. Since 4bf22e03 the "
    "transport is closed (the child killed) and waited for before the cancellation "
    "propagates; before, the transport was left open: the child runs on, its pipes and "
    "process handle leak, and the transport is reported unclosed when it is collected. "
    "Parameter: how many loop steps pass before the cancel.",
    {"post-init-leak"},
    "cpython-3.4.2",
    30000,
    "the SubprocessProtocol grammar",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
