// Where an object was created, for "unclosed ..." reports (what
// `python -X tracemalloc` adds to a ResourceWarning): the virtual time of
// the event-loop step, the step, and the native stack when it can be captured
// (absl::GetStackTrace / absl::Symbolize; absent on the Windows build).
#ifndef IOCPSIM_PROACTOR_ORIGIN_H_
#define IOCPSIM_PROACTOR_ORIGIN_H_

#include <cstdint>
#include <string>
#include <vector>

namespace iocpsim::proactor {

class EventLoop;

struct Origin {
  double time = 0;
  uint64_t step = 0;
  std::vector<void*> stack;

  // `stack`: also capture the native stack (a few microseconds).
  static Origin Here(const EventLoop& loop, bool stack = true);
  // "created at t=0.012s, loop step 4" plus one "  #i symbol" line per
  // frame that symbolizes.
  std::string Format() const;
};

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_ORIGIN_H_
