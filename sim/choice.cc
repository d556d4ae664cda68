#include "sim/choice.h"

#include "absl/strings/str_cat.h"

namespace iocpsim {

namespace {
constexpr const char* kKindNames[kChoiceKindCount] = {"schedule", "sync", "cancel-race",
                                                      "time",     "exit", "param",
                                                      "net"};
const std::string kNoError;
}  // namespace

const char* ChoiceKindName(ChoiceKind kind) { return kKindNames[static_cast<int>(kind)]; }

bool ParseChoiceKind(const std::string& name, ChoiceKind* kind) {
  for (int i = 0; i < kChoiceKindCount; ++i) {
    if (name == kKindNames[i]) {
      *kind = static_cast<ChoiceKind>(i);
      return true;
    }
  }
  return false;
}

const std::string& ChoiceSource::error() const { return kNoError; }

uint32_t FuzzBytesSource::Choose(ChoiceKind, uint32_t n, LabelFn) {
  uint32_t v = 0;
  int width = n <= 256 ? 1 : 2;
  for (int i = 0; i < width && pos_ < bytes_.size(); ++i) v = (v << 8) | bytes_[pos_++];
  return v % n;
}

namespace {
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Prng::Prng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix64(seed);
}

uint64_t Prng::Next() {
  // xoshiro256** (Blackman and Vigna).
  uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint32_t Prng::Below(uint32_t n) {
  // Lemire's multiply-shift, with rejection for exact uniformity.
  uint64_t m = (Next() >> 32) * n;
  uint32_t low = static_cast<uint32_t>(m);
  if (low < n) {
    uint32_t threshold = (0u - n) % n;
    while (low < threshold) {
      m = (Next() >> 32) * n;
      low = static_cast<uint32_t>(m);
    }
  }
  return static_cast<uint32_t>(m >> 32);
}

uint32_t PrngSource::Choose(ChoiceKind, uint32_t n, LabelFn) { return prng_.Below(n); }

uint32_t Recorder::Choose(ChoiceKind kind, uint32_t n, LabelFn label) {
  uint32_t v = inner_.Choose(kind, n, label);
  choices_.push_back({kind, n, v, keep_labels_ ? label() : std::string()});
  return v;
}

uint32_t ReplaySource::Choose(ChoiceKind kind, uint32_t n, LabelFn label) {
  size_t step = pos_++;
  if (diverged_ || step >= choices_.size()) return 0;
  const ChoiceRecord& want = choices_[step];
  if (want.kind == kind && want.n == n && want.value < n) return want.value;
  std::string message = absl::StrCat(
      "replay diverged at choice ", step + 1, ": the record has ", ChoiceKindName(want.kind),
      " of ", want.n, " options", want.label.empty() ? "" : " [" + want.label + "]",
      ", the run asked ", ChoiceKindName(kind), " of ", n, " options [", label(), "]");
  diverged_ = true;
  if (soft_) {
    divergence_ = std::move(message);
  } else {
    error_ = std::move(message);
  }
  return 0;
}

}  // namespace iocpsim
