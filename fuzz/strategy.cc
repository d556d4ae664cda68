#include "fuzz/strategy.h"

namespace iocpsim {

std::unique_ptr<Strategy> MakeStrategy(const std::string& name, uint64_t seed) {
  if (name == "canonical") return MakeCanonicalStrategy();
  if (name == "random") return MakeRandomStrategy(seed);
  if (name == "pct") return MakePctStrategy(seed, 3);
  if (name == "pct1") return MakePctStrategy(seed, 1);
  if (name == "pct2") return MakePctStrategy(seed, 2);
  if (name == "bounded") return MakeBoundedStrategy(3);
  if (name == "swarm") return MakeSwarmStrategy(seed);
  return nullptr;
}

std::vector<std::string> StrategyNames() {
  return {"canonical", "random", "pct", "pct1", "pct2", "bounded", "swarm"};
}

size_t Deviations(const std::vector<ChoiceRecord>& choices) {
  size_t n = 0;
  for (const ChoiceRecord& c : choices) n += c.value != 0;
  return n;
}

namespace {

// canonical: one run, every choice 0.
class Canonical : public Strategy {
 public:
  std::unique_ptr<ChoiceSource> Next() override {
    if (done_) return nullptr;
    done_ = true;
    return std::make_unique<CanonicalSource>();
  }

 private:
  bool done_ = false;
};

}  // namespace

std::unique_ptr<Strategy> MakeCanonicalStrategy() { return std::make_unique<Canonical>(); }

}  // namespace iocpsim
