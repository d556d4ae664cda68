// Extra coverage for libFuzzer from the simulation itself: each choice
// made -- its kind, its number of options, the option taken, and for a
// scheduling choice what kind of thing ran (a thread, a completion, a
// cancellation, a wait firing, a process exit) -- bumps one of libFuzzer's
// extra counters, so that inputs reaching new interleavings count as new
// coverage even when they run no new C++ line. Enabled in the fuzz
// targets by IOCPSIM_EXTRA_COVERAGE=1.
#ifndef IOCPSIM_FUZZ_COVERAGE_SOURCE_H_
#define IOCPSIM_FUZZ_COVERAGE_SOURCE_H_

#include <cstdint>

#include "sim/choice.h"

namespace iocpsim {

class CoverageSource : public ChoiceSource {
 public:
  CoverageSource(ChoiceSource& inner, uint8_t* counters, size_t size)
      : inner_(inner), counters_(counters), size_(size) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override;
  const std::string& error() const override { return inner_.error(); }

 private:
  ChoiceSource& inner_;
  uint8_t* counters_;
  size_t size_;
  uint64_t previous_ = 0;  // the previous choice's key: pairs, not singles
};

}  // namespace iocpsim

#endif  // IOCPSIM_FUZZ_COVERAGE_SOURCE_H_
