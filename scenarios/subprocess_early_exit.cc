// subprocess-finish-order: a child that exits while its pipes connect.
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  auto p = std::make_shared<CheckedSubprocessProtocol>(ctx);
  SubprocessProtocolFactory factory = [p] { return p; };
  uint32_t which = ctx.Param("child: exit-now | write-then-exit", 2);
  std::vector<std::string> args = which == 0 ? std::vector<std::string>{"exit-now", "3"}
                                             : std::vector<std::string>{"write-then-exit", "bye", "3"};
  auto [t, unused] = co_await SubprocessExec(ctx.loop, factory, args);
  int code = co_await t->Wait();
  co_await WaitUntil(ctx.loop, [&] { return p->lost; }, 1.0);
  if (code != 3) ctx.oracles.ErrorLog("wrong-exit-code", "exit code " + std::to_string(code));
  t->Close();
}

}  // namespace

extern const Scenario kSubprocessEarlyExit{
    "subprocess-early-exit",
    "A child exits at once (or right after one write) while subprocess_exec is still "
    "connecting its three pipes. Since 1b9763d0 _try_finish queues connection_lost behind "
    "connection_made with _call(); before, the transport knew only the pipes connected so "
    "far, thought itself finished, and scheduled connection_lost with call_soon -- ahead of "
    "connection_made (Tulip issue 103). Parameter: which child.",
    {"subprocess-finish-order"},
    "cpython-3.4.2",
    30000,
    "the SubprocessProtocol grammar; the exit code",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
