// The choice stream: every nondeterministic decision of the virtual kernel
// is one call to ChoiceSource::Choose(kind, n, label), answered in [0, n).
//
// Option 0 is always the canonical outcome (FIFO order, the running thread
// keeps running, synchronous completion where Windows completes
// synchronously, no early exit), so an empty input is the natural schedule
// and a minimizer can push choices toward 0. A choice with one option is
// never asked.
//
//   iocpsim::PrngSource prng(42);
//   iocpsim::Recorder rec(prng);           // remembers what prng chose
//   RunSimulation(options, rec, program);
//   iocpsim::ReplaySource replay(rec.choices());   // the same run again
#ifndef IOCPSIM_SIM_CHOICE_H_
#define IOCPSIM_SIM_CHOICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"

namespace iocpsim {

enum class ChoiceKind : uint8_t {
  kSchedule,    // which runnable thread or enabled kernel event goes next
  kSync,        // an operation that could finish at once: synchronous or pending
  kCancelRace,  // a cancelled operation whose data is there: aborted or completed
  kTime,        // let virtual time pass while I/O is in flight
  kExit,        // a child program that may exit early
  kParam,       // a scenario parameter
  kNet,         // a network outcome Windows leaves open (sockets)
};
inline constexpr int kChoiceKindCount = 7;

// "schedule", "sync", "cancel-race", "time", "exit", "param", "net".
const char* ChoiceKindName(ChoiceKind kind);
// Inverse of ChoiceKindName; false when `name` is not a kind.
bool ParseChoiceKind(const std::string& name, ChoiceKind* kind);

using LabelFn = absl::FunctionRef<std::string()>;

class ChoiceSource {
 public:
  virtual ~ChoiceSource() = default;
  // Returns a value in [0, n); n >= 2. `label` describes the options; call
  // it only when needed, it formats a string.
  virtual uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) = 0;
  // Non-empty once the source cannot go on (a strict replay that diverged);
  // the kernel then stops the run with this message.
  virtual const std::string& error() const;
};

// Always 0: the canonical run.
class CanonicalSource : public ChoiceSource {
 public:
  uint32_t Choose(ChoiceKind, uint32_t, LabelFn) override { return 0; }
};

// libFuzzer bytes, read front to back: one byte for n <= 256, two for
// larger n, reduced modulo n. An exhausted input answers 0, as
// FuzzedDataProvider does.
class FuzzBytesSource : public ChoiceSource {
 public:
  explicit FuzzBytesSource(absl::Span<const uint8_t> bytes) : bytes_(bytes) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override;
  size_t consumed() const { return pos_; }

 private:
  absl::Span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// The project's own PRNG: SplitMix64 seeding xoshiro256**, with Lemire's
// multiply-shift range reduction. Identical across compilers and builds
// (absl::BitGen and std distributions are not).
class Prng {
 public:
  explicit Prng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, n), n >= 1.
  uint32_t Below(uint32_t n);

 private:
  uint64_t s_[4];
};

class PrngSource : public ChoiceSource {
 public:
  explicit PrngSource(uint64_t seed) : prng_(seed) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override;

 private:
  Prng prng_;
};

struct ChoiceRecord {
  ChoiceKind kind;
  uint32_t n;
  uint32_t value;
  std::string label;
  bool operator==(const ChoiceRecord& o) const {
    return kind == o.kind && n == o.n && value == o.value;
  }
};

// Wraps any source and remembers every choice it made.
class Recorder : public ChoiceSource {
 public:
  explicit Recorder(ChoiceSource& inner, bool keep_labels = true)
      : inner_(inner), keep_labels_(keep_labels) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override;
  const std::string& error() const override { return inner_.error(); }
  const std::vector<ChoiceRecord>& choices() const { return choices_; }

 private:
  ChoiceSource& inner_;
  bool keep_labels_;
  std::vector<ChoiceRecord> choices_;
};

// Replays recorded choices. Strict (the default): the first step whose kind
// or option count differs from the record stops the run with a message
// naming the step, the expected and the actual options. Soft: that first
// divergence is remembered (divergence()) and the run goes on canonically.
// Past the end of the record, both answer 0.
class ReplaySource : public ChoiceSource {
 public:
  explicit ReplaySource(std::vector<ChoiceRecord> choices, bool soft = false)
      : choices_(std::move(choices)), soft_(soft) {}
  uint32_t Choose(ChoiceKind kind, uint32_t n, LabelFn label) override;
  const std::string& error() const override { return error_; }
  const std::string& divergence() const { return divergence_; }
  size_t position() const { return pos_; }

 private:
  std::vector<ChoiceRecord> choices_;
  bool soft_;
  size_t pos_ = 0;
  bool diverged_ = false;
  std::string error_;
  std::string divergence_;
};

}  // namespace iocpsim

#endif  // IOCPSIM_SIM_CHOICE_H_
