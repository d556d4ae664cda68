// gh-116773: stop() and run_forever() again while another thread makes
// call_soon_threadsafe() calls through the self-pipe.
#include <memory>
#include <stdexcept>

#include "proactor/event_loop.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

// Shared by the main thread and the caller thread; the main thread marks
// it abandoned when it leaves (normally or not), and the caller stops.
struct Caller {
  EventLoop* loop;
  uint32_t calls;
  uint32_t ran = 0;
  bool abandoned = false;
};

DWORD WINAPI CallThreadsafe(LPVOID param) {
  std::unique_ptr<std::shared_ptr<Caller>> owner(static_cast<std::shared_ptr<Caller>*>(param));
  Caller& c = **owner;
  for (uint32_t i = 0; i < c.calls; ++i) {
    ::Sleep(1);
    if (c.abandoned) break;
    try {
      c.loop->CallSoonThreadsafe([&c] { ++c.ran; });
    } catch (const std::runtime_error&) {
      break;  // RuntimeError: Event loop is closed
    }
  }
  return 0;
}

void Run(Context& ctx) {
  EventLoop& loop = ctx.loop;
  auto caller = std::make_shared<Caller>(Caller{&loop, 1 + ctx.Param("threadsafe calls: 1 | 2 | 3", 3)});
  struct Abandon {
    Caller* c;
    ~Abandon() { c->abandoned = true; }
  } abandon{caller.get()};
  HANDLE thread =
      CreateThread(nullptr, 0, CallThreadsafe, new std::shared_ptr<Caller>(caller), 0, nullptr);
  uint32_t restarts = 2 + ctx.Param("restarts: 2 | 3 | 4", 3);
  for (uint32_t i = 0; i < restarts; ++i) loop.RunUntilComplete(Sleep(loop, 0.001));
  WaitForSingleObject(thread, INFINITE);
  CloseHandle(thread);
  loop.RunUntilComplete(Sleep(loop, 0.001));  // whatever the thread added last
  // Every call_soon_threadsafe() callback runs once the loop runs again.
  if (caller->ran != caller->calls) {
    ctx.oracles.DataLoss("threadsafe-callbacks", std::to_string(caller->calls) +
                                                     " call_soon_threadsafe callbacks, " +
                                                     std::to_string(caller->ran) + " ran");
  }
}

}  // namespace

extern const Scenario kLoopRestart{
    "loop-restart",
    "A loop with CPython's self-pipe is stopped and run again a few times while another "
    "thread calls call_soon_threadsafe(). Each run_forever() keeps a WSARecv on the "
    "self-pipe and cancels it when it stops; the cancelled receive's packet comes later. "
    "Before GH-116774, run_forever() unregistered that overlapped at once, so the next "
    "poll dropped it from the cache and freed it while the kernel still owned it: the "
    "packet's status block is written into freed memory. Parameters: the number of "
    "threadsafe calls and of restarts.",
    {"gh-116773"},
    "cpython-3.12.2",
    30000,
    "every call_soon_threadsafe callback runs",
    Run,
    /*self_pipe=*/true};

}  // namespace iocpsim::scenarios
