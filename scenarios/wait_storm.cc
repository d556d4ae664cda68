// wait-storm: many wait_for_handle futures, signalled and cancelled in a storm.
#include "proactor/iocp_proactor.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

struct Storm {
  HANDLE events[4];
  uint32_t order[4];
};

DWORD WINAPI Signaller(LPVOID param) {
  auto* storm = static_cast<Storm*>(param);
  for (uint32_t i : storm->order) SetEvent(storm->events[i]);
  return 0;
}

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  Storm storm;
  std::vector<FuturePtr<bool>> waits;
  for (int i = 0; i < 4; ++i) {
    storm.events[i] = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    storm.order[i] = static_cast<uint32_t>(i);
    waits.push_back(loop.proactor().WaitForHandle(storm.events[i], i == 3 ? 0.002 : -1));
  }
  // A thread sets the events in a chosen order while the loop cancels a
  // chosen subset of the waits at a chosen moment.
  std::swap(storm.order[0], storm.order[ctx.Param("first set: 0 | 1 | 2 | 3", 4)]);
  uint32_t cancel_mask = ctx.Param("cancel which: bitmask of 4", 16);
  HANDLE thread = CreateThread(nullptr, 0, Signaller, &storm, 0, nullptr);
  co_await Sleep(loop, 0.001 * ctx.Param("cancel after: 0 | 1 | 2 ms", 3));
  for (int i = 0; i < 4; ++i) {
    if (cancel_mask & (1u << i)) waits[i]->Cancel();
  }
  co_await Sleep(loop, 0.02);
  for (int i = 0; i < 4; ++i) {
    // A wait that completed says whether its event was set: the timed one
    // (i == 3) may time out, the others must be true.
    if (!waits[i]->done() || waits[i]->cancelled()) continue;
    bool signalled = waits[i]->Result();
    if (!signalled && i != 3) {
      ctx.oracles.InvalidState("wait-result-false", "wait " + std::to_string(i) +
                                                        " completed false without a timeout");
    }
  }
  WaitForSingleObject(thread, INFINITE);
  CloseHandle(thread);
  for (HANDLE ev : storm.events) CloseHandle(ev);
}

}  // namespace

extern const Scenario kWaitStorm{
    "wait-storm",
    "Four wait_for_handle futures (one with a 2 ms timeout) while another thread sets "
    "their events in a chosen order and the loop cancels a chosen subset at a chosen "
    "moment: registered waits firing, timing out and being unregistered with "
    "UnregisterWaitEx all at once, each cancellation followed by its _WaitCancelFuture. "
    "Parameters: the signal order, which waits are cancelled, and when.",
    {},
    "current",
    30000,
    "a wait that completes without a timeout says true",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
