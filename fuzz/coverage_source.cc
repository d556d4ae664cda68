#include "fuzz/coverage_source.h"

#include <string>

namespace iocpsim {

namespace {

// What kind of thing option `v` of a schedule label is: the first word of
// that option ("continue", "thread#3", "complete", "cancel", "wait#2", ...),
// with digits dropped.
uint64_t OptionKind(const std::string& label, uint32_t v) {
  size_t pos = 0;
  for (uint32_t i = 0; i < v && pos != std::string::npos; ++i) {
    pos = label.find(" | ", pos);
    if (pos != std::string::npos) pos += 3;
  }
  if (pos == std::string::npos) return 0;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = pos; i < label.size() && label[i] != ' '; ++i) {
    char c = label[i];
    if (c >= '0' && c <= '9') continue;
    h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  }
  return h;
}

}  // namespace

uint32_t CoverageSource::Choose(ChoiceKind kind, uint32_t n, LabelFn label) {
  uint32_t v = inner_.Choose(kind, n, label);
  uint64_t key = (static_cast<uint64_t>(kind) << 56) ^ (static_cast<uint64_t>(n) << 40) ^ v;
  if (kind == ChoiceKind::kSchedule) key ^= OptionKind(label(), v) * 31;
  uint64_t pair = key * 0x9e3779b97f4a7c15ull ^ previous_;
  previous_ = key;
  uint8_t& c = counters_[(pair >> 17) % size_];
  if (c < 255) ++c;
  return v;
}

}  // namespace iocpsim
