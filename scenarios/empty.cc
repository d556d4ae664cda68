// empty: the floor of every benchmark (issue 8): a loop created and closed.
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {

extern const Scenario kEmpty{
    "empty",
    "No race: the event loop and its proactor are created, run once and closed. Its cost "
    "is the floor that scripts/bench measures every other scenario against.",
    {},
    "current",
    1000,
    "none beyond the standard oracles",
    [](Context& ctx) { ctx.loop.RunUntilComplete(proactor::Sleep(ctx.loop, 0)); }};

}  // namespace iocpsim::scenarios
