// subprocess-output: children that write, echo, or leave stdin first.
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  uint32_t kind = ctx.Param("child: write-then-exit | echo | exit-now with stdin data", 3);
  static const size_t kSizes[] = {5, 3000, 20000};
  std::string text(kSizes[ctx.Param("output: 5 | 3000 | 20000 bytes", 3)], 'o');
  std::vector<std::string> args;
  std::string input;
  std::string expect;
  if (kind == 0) {
    args = {"write-then-exit", text, "0"};
    expect = text;
  } else if (kind == 1) {
    args = {"echo"};
    input = text;
    expect = text;
  } else {
    args = {"exit-now", "0"};
    input = text;  // the child never reads it: the parent's stdin pipe breaks
  }
  std::shared_ptr<Process> proc = co_await CreateSubprocessExec(loop, args);
  auto [out, err] = co_await proc->Communicate(input);
  int code = *proc->returncode();
  ctx.Observe("process", "communicate() -> stdout " + std::to_string(out.size()) + " bytes, exit code " +
                             std::to_string(code));
  // write-then-exit may exit before writing (choice kind `exit`): then
  // nothing was written and nothing can be lost.
  if (code == 0 && !(kind == 0 && out.empty())) CheckDelivered(ctx.oracles, "child stdout", expect, out);
  if (code != 0) ctx.oracles.ErrorLog("exit-code", "exit code " + std::to_string(code));
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kSubprocessOutput{
    "subprocess-output",
    "A subprocess through the Process convenience (communicate()): a child that writes a "
    "text and exits, an echo child fed through stdin, or a child that exits without reading "
    "the data its parent sends, so the parent's stdin pipe breaks under the write. Large "
    "outputs cross the pipe buffer. Parameters: the child, the output size.",
    {},
    "current",
    30000,
    "the child's stdout is exactly what it wrote; the exit code",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
