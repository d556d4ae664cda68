// The kernel's event trace and its 64-bit digest.
//
// Each record is a format (a static TraceFormat: the call or event name and
// how to print its values) plus up to seven integers, the virtual time and
// the simulated thread. The digest folds in the integers only, so it costs
// a few multiplies per record and is identical across compilers and
// sanitizers; the text is rendered only when the trace is kept. Objects are
// named by stable ids (handle values as the kernel issued them, ov#12,
// thread#3), never by addresses.
//
//   static constexpr TraceFormat kRead{"ReadFile", "h=%h ov=%o n=%u -> %b err=%e"};
//   trace.Emit(kRead, now, thread_id, {h, ov_id, n, ok, err});
#ifndef IOCPSIM_SIM_TRACE_H_
#define IOCPSIM_SIM_TRACE_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace iocpsim {

// `format` codes: %h handle value (hex), %o ov#N (0: none), %t thread#N,
// %p pid, %u unsigned, %x hex, %b TRUE/FALSE, %e Win32 error name,
// %s NTSTATUS name, %k choice kind, %y operation type.
struct TraceFormat {
  constexpr TraceFormat(const char* n, const char* f) : name(n), format(f), name_hash(Hash(n)) {}
  const char* name;
  const char* format;
  uint64_t name_hash;  // what the digest folds in for the name: made once, not per record

 private:
  static constexpr uint64_t Hash(const char* c) {
    uint64_t h = 0;
    for (; *c; ++c) h = h * 131 + static_cast<uint8_t>(*c);
    return h;
  }
};

// Trace-only ids of posted packets start here (ov#N ids stay below it):
// post#1 is kTracePostIdBase + 1. Never part of the digest.
inline constexpr uint32_t kTracePostIdBase = 0x40000000;

// One kept record, for the reports: what `Render()` prints, plus the
// fields a timeline needs to place it (lanes, operation slices, flows).
struct TraceEvent {
  int64_t now_ns = 0;
  uint32_t thread = 0;
  // The call or event ("ReadFile", "complete", "choice"); for a note, its
  // category ("options", "proactor", "protocol").
  std::string name;
  std::string text;   // the rendered arguments
  std::string codes;  // the format's codes, one per value ("hoube")
  std::vector<uint64_t> values;
  uint32_t op = 0;    // the ov#N it concerns (first %o, a note's, or a posted packet's id)
  bool note = false;

  // The first value printed with `code`, or `otherwise`.
  uint64_t Value(char code, uint64_t otherwise = 0) const;
};

class Trace {
 public:
  explicit Trace(bool keep) : keep_(keep) {}

  // `op`: an operation the record concerns beyond its values (a posted
  // packet's trace id); kept with the trace, not part of the digest.
  void Emit(const TraceFormat& f, int64_t now_ns, uint32_t thread,
            std::initializer_list<uint64_t> values, uint32_t op = 0);
  // Free text under a category (a choice's options, a proactor action, a
  // protocol callback), about operation ov#`op` (0: none). Kept only with
  // the trace, never part of the digest.
  void Note(int64_t now_ns, uint32_t thread, const char* category, uint32_t op, std::string text);

  uint64_t digest() const { return digest_; }
  uint64_t count() const { return count_; }
  bool keep() const { return keep_; }
  std::vector<std::string> Render() const;
  std::vector<TraceEvent> Events() const;

 private:
  struct Record {
    const TraceFormat* format;  // nullptr: a note
    int64_t now_ns;
    uint32_t thread;
    uint8_t n;
    uint64_t values[7];
    std::string note;
    const char* category = nullptr;  // a note's
    uint32_t op = 0;                 // a note's, or the trace-only op of a record
  };
  void Fold(uint64_t v) {
    digest_ ^= v;
    digest_ *= 0x100000001B3ull;
    digest_ ^= digest_ >> 29;
  }

  bool keep_;
  uint64_t digest_ = 0xCBF29CE484222325ull;
  uint64_t count_ = 0;
  std::vector<Record> records_;
};

const char* Win32ErrorName(uint32_t error);
const char* NtStatusName(int32_t status);

}  // namespace iocpsim

#endif  // IOCPSIM_SIM_TRACE_H_
