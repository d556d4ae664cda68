#include "proactor/origin.h"

#include <cstdio>

#include "proactor/event_loop.h"

#if __has_include("absl/debugging/stacktrace.h") && !defined(_WIN32)
#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#define IOCPSIM_HAVE_STACKTRACE 1
#endif

namespace iocpsim::proactor {

Origin Origin::Here(const EventLoop& loop, bool stack) {
  Origin o;
  o.time = loop.StepTime();  // no Win32 call: it would be a scheduling point
  o.step = loop.step();
  if (!stack) return o;
#ifdef IOCPSIM_HAVE_STACKTRACE
  void* frames[16];
  int n = absl::GetStackTrace(frames, 16, /*skip_count=*/1);
  o.stack.assign(frames, frames + n);
#endif
  return o;
}

std::string Origin::Format() const {
  char head[96];
  std::snprintf(head, sizeof head, "created at t=%.6fs, loop step %llu", time,
                static_cast<unsigned long long>(step));
  std::string s = head;
#ifdef IOCPSIM_HAVE_STACKTRACE
  for (size_t i = 0; i < stack.size(); ++i) {
    char symbol[512];
    if (!absl::Symbolize(stack[i], symbol, sizeof symbol)) continue;
    s += "\n  #" + std::to_string(i) + " " + symbol;
  }
#endif
  return s;
}

}  // namespace iocpsim::proactor
