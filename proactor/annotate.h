// Annotations for the harness's timeline: what the proactor did, in its own
// terms, linked to the kernel operation (ov#N) it concerns. Under the
// virtual kernel they become notes in the kept trace (sim/sim.h); in the
// Windows build they compile to nothing.
//
//   f->trace_op = AnnotationOp(reinterpret_cast<void*>(address));
//   if (Annotating()) Annotate("proactor", f->trace_op, "Poll: " + f->Describe());
#ifndef IOCPSIM_PROACTOR_ANNOTATE_H_
#define IOCPSIM_PROACTOR_ANNOTATE_H_

#include <cstdint>
#include <string>

#ifndef _WIN32
#include "sim/sim.h"
#endif

namespace iocpsim::proactor {

#ifdef _WIN32
inline bool Annotating() { return false; }
inline uint32_t AnnotationOp(const void*) { return 0; }
inline void Annotate(const char*, uint32_t, std::string) {}
class AnnotationScope {
 public:
  explicit AnnotationScope(uint32_t) {}
};
#else
using ::iocpsim::Annotate;
using ::iocpsim::Annotating;
using ::iocpsim::AnnotationOp;
using ::iocpsim::AnnotationScope;
#endif

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_ANNOTATE_H_
