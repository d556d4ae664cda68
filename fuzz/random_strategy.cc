// random: a seeded random walk; run i uses PRNG seed (seed + i).
#include "fuzz/strategy.h"

namespace iocpsim {
namespace {

class Random : public Strategy {
 public:
  explicit Random(uint64_t seed) : next_(seed) {}
  std::unique_ptr<ChoiceSource> Next() override { return std::make_unique<PrngSource>(next_++); }

 private:
  uint64_t next_;
};

}  // namespace

std::unique_ptr<Strategy> MakeRandomStrategy(uint64_t seed) { return std::make_unique<Random>(seed); }

}  // namespace iocpsim
