// swarm: per run, a random subset of choice kinds may deviate; the others
// stay canonical (Groce et al., "Swarm Testing").
#include "fuzz/strategy.h"

namespace iocpsim {
namespace {

class SwarmSource : public ChoiceSource {
 public:
  SwarmSource(uint64_t seed) : prng_(seed) { mask_ = static_cast<uint32_t>(prng_.Next() & 0x3f); }
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn) override {
    if (!(mask_ & (1u << static_cast<uint32_t>(kind)))) return 0;
    return prng_.Below(n);
  }

 private:
  Prng prng_;
  uint32_t mask_;
};

class Swarm : public Strategy {
 public:
  explicit Swarm(uint64_t seed) : next_(seed) {}
  std::unique_ptr<ChoiceSource> Next() override {
    return std::make_unique<SwarmSource>(next_++ * 0x9e3779b97f4a7c15ull + 1);
  }

 private:
  uint64_t next_;
};

}  // namespace

std::unique_ptr<Strategy> MakeSwarmStrategy(uint64_t seed) { return std::make_unique<Swarm>(seed); }

}  // namespace iocpsim
