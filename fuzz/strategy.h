// Exploration strategies: each hands out one choice source per run, sees
// what the run chose and whether it found something, and may run out (the
// bounded search). Small and swappable, one file each (as Shuttle's
// schedulers): canonical, random, pct, bounded, swarm.
//
//   std::unique_ptr<Strategy> s = MakeStrategy("pct", /*seed=*/1);
//   while (auto source = s->Next()) { ...run with *source...; s->Done(choices, found); }
#ifndef IOCPSIM_FUZZ_STRATEGY_H_
#define IOCPSIM_FUZZ_STRATEGY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/choice.h"

namespace iocpsim {

class Strategy {
 public:
  virtual ~Strategy() = default;
  // The source for the next run; nullptr when nothing is left to try.
  virtual std::unique_ptr<ChoiceSource> Next() = 0;
  // What the run chose (every choice with n > 1), and whether it failed.
  virtual void Done(const std::vector<ChoiceRecord>& choices, bool found) {}
  // A line for the end of a campaign (PCT's bound, an exhausted search).
  virtual std::string Summary() const { return ""; }
};

// "canonical", "random", "pct", "bounded", "swarm"; nullptr if unknown.
std::unique_ptr<Strategy> MakeStrategy(const std::string& name, uint64_t seed);
std::vector<std::string> StrategyNames();

std::unique_ptr<Strategy> MakeCanonicalStrategy();
std::unique_ptr<Strategy> MakeRandomStrategy(uint64_t seed);
std::unique_ptr<Strategy> MakePctStrategy(uint64_t seed, int depth);
std::unique_ptr<Strategy> MakeBoundedStrategy(int max_deviations);
std::unique_ptr<Strategy> MakeSwarmStrategy(uint64_t seed);

// Non-canonical choices in a list (the "deviations").
size_t Deviations(const std::vector<ChoiceRecord>& choices);

}  // namespace iocpsim

#endif  // IOCPSIM_FUZZ_STRATEGY_H_
