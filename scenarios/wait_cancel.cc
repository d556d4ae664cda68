// bpo-23095 and the fake packet: cancelling a wait_for_handle around its signal.
#include "proactor/iocp_proactor.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

DWORD WINAPI SetLater(LPVOID param) {
  HANDLE ev = static_cast<HANDLE>(param);
  SetEvent(ev);
  return 0;
}

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  FuturePtr<bool> w = loop.proactor().WaitForHandle(ev);
  // Another thread signals the event; the loop cancels the wait. Which
  // comes first, and whether the wait's callback has run, is the race.
  HANDLE thread = CreateThread(nullptr, 0, SetLater, ev, 0, nullptr);
  uint32_t when = ctx.Param("cancel: at once | after 1 ms | after 2 ms", 3);
  if (when > 0) co_await Sleep(loop, 0.001 * when);
  w->Cancel();
  co_await Sleep(loop, 0.01);
  WaitForSingleObject(thread, INFINITE);
  CloseHandle(thread);
  CloseHandle(ev);
}

}  // namespace

extern const Scenario kWaitCancel{
    "wait-cancel",
    "wait_for_handle() on an event that another thread sets while the loop cancels the "
    "wait. Today the cancel calls UnregisterWaitEx with an event and keeps the overlapped "
    "in the cache until a _WaitCancelFuture sees that event, so a packet the wait's "
    "callback already posted is still recognised. Before the bpo-23095 fix the cancel "
    "used the non-blocking UnregisterWait and dropped the entry, so the callback's packet "
    "arrives unexpected; with 313a9809 a fake packet was posted as well, and the real one "
    "(or the fake) is unexpected. Parameter: when the loop cancels.",
    {"bpo-23095", "wait-cancel-fake-packet"},
    "cpython-3.4.2",
    30000,
    "none beyond the standard oracles",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
