// canary: a planted bug that every strategy must find (STYLE.md item 9).
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {

extern const Scenario kCanary{
    "canary",
    "Proof that the pipeline works: a planted leak behind one parameter choice. On the "
    "canonical schedule the scenario is clean; any strategy that deviates once on the "
    "`param` choice finds the leaked event handle.",
    {},
    "current",
    1000,
    "none beyond the standard oracles",
    [](Context& ctx) {
      ctx.loop.RunUntilComplete(proactor::Sleep(ctx.loop, 0.001));
      HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
      if (ctx.Param("canary: close the event | leak it", 2) == 0) CloseHandle(ev);
    }};

}  // namespace iocpsim::scenarios
