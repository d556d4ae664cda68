// bounded: exhaustive search over choice lists with at most k choices off
// canonical, by iterative deepening: every list with 1 deviation before
// any with 2, so the first finding has the fewest deviations. A node is a
// set of (step, value) deviations; its children deviate once more at a
// later step of the run it produced, to each other option offered there.
#include <deque>

#include "fuzz/strategy.h"

namespace iocpsim {
namespace {

struct Deviation {
  uint32_t step;
  uint32_t value;
};

class DeviateSource : public ChoiceSource {
 public:
  explicit DeviateSource(std::vector<Deviation> d) : deviations_(std::move(d)) {}
  uint32_t Choose(ChoiceKind, uint32_t n, LabelFn) override {
    uint32_t step = step_++;
    for (const Deviation& d : deviations_) {
      if (d.step == step) return d.value < n ? d.value : 0;
    }
    return 0;
  }

 private:
  std::vector<Deviation> deviations_;
  uint32_t step_ = 0;
};

class Bounded : public Strategy {
 public:
  explicit Bounded(int k) : k_(k) { queue_.push_back({}); }
  std::unique_ptr<ChoiceSource> Next() override {
    if (queue_.empty()) {
      exhausted_ = true;
      return nullptr;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    ++runs_;
    return std::make_unique<DeviateSource>(current_);
  }
  void Done(const std::vector<ChoiceRecord>& choices, bool found) override {
    deepest_ = std::max(deepest_, static_cast<int>(current_.size()));
    if (found && found_at_ < 0) found_at_ = static_cast<int>(current_.size());
    if (found || static_cast<int>(current_.size()) >= k_) return;
    // Breadth first: children have one deviation more than every node
    // still queued at this depth, so they go to the back.
    uint32_t from = current_.empty() ? 0 : current_.back().step + 1;
    for (uint32_t step = from; step < choices.size(); ++step) {
      for (uint32_t v = 1; v < choices[step].n; ++v) {
        if (v == choices[step].value) continue;
        std::vector<Deviation> child = current_;
        child.push_back({step, v});
        queue_.push_back(std::move(child));
      }
    }
  }
  std::string Summary() const override {
    if (found_at_ >= 0) {
      return "bounded: the first finding needs " + std::to_string(found_at_) +
             " deviations (no list with fewer fails; " + std::to_string(runs_) + " runs)";
    }
    if (exhausted_) {
      return "bounded: every choice list with at most " + std::to_string(k_) +
             " deviations explored (" + std::to_string(runs_) + " runs)";
    }
    return "bounded: explored up to " + std::to_string(deepest_) + " deviations in " +
           std::to_string(runs_) + " runs (bound " + std::to_string(k_) + " not exhausted)";
  }

 private:
  int k_;
  std::deque<std::vector<Deviation>> queue_;
  std::vector<Deviation> current_;
  uint64_t runs_ = 0;
  int deepest_ = 0;
  int found_at_ = -1;
  bool exhausted_ = false;
};

}  // namespace

std::unique_ptr<Strategy> MakeBoundedStrategy(int max_deviations) {
  return std::make_unique<Bounded>(max_deviations);
}

}  // namespace iocpsim
