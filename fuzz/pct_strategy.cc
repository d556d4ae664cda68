// pct: probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010)
// over the kernel's scheduling choices. Every schedulable entity -- a
// simulated thread or a pending kernel event, named by its label -- gets a
// random priority when first seen; the highest-priority option is taken;
// at d-1 change points, drawn uniformly over the k steps of the previous
// run, the entity just chosen drops below every other. Other choices
// (parameters, sync, cancel races, time, exits) are drawn at random.
// A bug of depth d is found with probability at least 1/(n * k^(d-1)).
#include <map>
#include <set>

#include "absl/strings/str_split.h"
#include "fuzz/strategy.h"

namespace iocpsim {
namespace {

// "continue thread#3" and "thread#3 (worker)" name the same thread.
std::string Entity(absl::string_view option) {
  std::string s(option);
  if (s.rfind("continue ", 0) == 0) s = s.substr(9);
  if (s.rfind("thread#", 0) == 0) s = s.substr(0, s.find(' '));
  return s;
}

class PctSource : public ChoiceSource {
 public:
  PctSource(uint64_t seed, int depth, uint32_t steps) : prng_(seed) {
    for (int i = 1; i < depth; ++i) change_points_.insert(1 + prng_.Below(steps == 0 ? 1 : steps));
  }
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override {
    if (kind != ChoiceKind::kSchedule) return prng_.Below(n);
    ++step_;
    std::vector<std::string> options = absl::StrSplit(label(), " | ");
    if (options.size() != n) return prng_.Below(n);  // a label that does not list options
    uint32_t best = 0;
    int64_t best_priority = -1;
    for (uint32_t i = 0; i < n; ++i) {
      int64_t p = Priority(Entity(options[i]));
      if (p > best_priority) {
        best_priority = p;
        best = i;
      }
    }
    if (change_points_.count(step_) != 0) {
      // Below every initial priority (those are >= 1000).
      priorities_[Entity(options[best])] = static_cast<int64_t>(change_points_.size()) - lowered_++;
    }
    return best;
  }
  size_t entities() const { return priorities_.size(); }
  uint32_t steps() const { return step_; }

 private:
  int64_t Priority(const std::string& entity) {
    auto it = priorities_.find(entity);
    if (it != priorities_.end()) return it->second;
    int64_t p = 1000 + prng_.Below(1u << 30);
    priorities_[entity] = p;
    return p;
  }
  Prng prng_;
  std::set<uint32_t> change_points_;
  std::map<std::string, int64_t> priorities_;
  uint32_t step_ = 0;
  int lowered_ = 0;
};

class Pct : public Strategy {
 public:
  Pct(uint64_t seed, int depth) : seed_(seed), depth_(depth) {}
  std::unique_ptr<ChoiceSource> Next() override {
    auto s = std::make_unique<PctSource>(seed_++, depth_, steps_);
    last_ = s.get();
    return s;
  }
  void Done(const std::vector<ChoiceRecord>& choices, bool) override {
    uint32_t k = 0;
    for (const ChoiceRecord& c : choices) k += c.kind == ChoiceKind::kSchedule;
    steps_ = seen_ ? std::max(steps_, k) : k;
    seen_ = true;
    entities_ = std::max(entities_, last_ != nullptr ? last_->entities() : 0);
    last_ = nullptr;
  }
  std::string Summary() const override {
    double bound = 1.0 / std::max<double>(1, entities_);
    for (int i = 1; i < depth_; ++i) bound /= std::max<double>(1, steps_);
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "pct depth %d: n=%zu entities, k=%u scheduling steps: a depth-%d bug is found "
                  "in each run with probability >= %.3g",
                  depth_, entities_, steps_, depth_, bound);
    return buf;
  }

 private:
  uint64_t seed_;
  int depth_;
  uint32_t steps_ = 50;  // a first estimate of k until a run has been seen
  bool seen_ = false;
  size_t entities_ = 0;
  PctSource* last_ = nullptr;
};

}  // namespace

std::unique_ptr<Strategy> MakePctStrategy(uint64_t seed, int depth) {
  return std::make_unique<Pct>(seed, depth);
}

}  // namespace iocpsim
