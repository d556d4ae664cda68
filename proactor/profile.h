// Profiles and quirks. Each race of ../shared/BUGS.md that lives in the
// proactor is a quirk, off by default, that restores the pre-fix code
// path; the quirks are the only places where old and new code differ. A
// profile is a named set of quirks.
//
//   Profile p = *Profile::Named("cpython-3.4.2");
//   if (loop.profile().Has(Quirk::kRecvBrokenPipe)) { ...old path... }
#ifndef IOCPSIM_PROACTOR_PROFILE_H_
#define IOCPSIM_PROACTOR_PROFILE_H_

#include <bitset>
#include <optional>
#include <string>
#include <vector>

namespace iocpsim::proactor {

enum class Quirk {
  kBpo23293,               // connect_pipe on a thread-pool work item (7ffa2c5f, e0fd157b, 3d2256f6)
  kAcceptPipeConnected,    // ERROR_PIPE_CONNECTED registered anyway (2b77c546)
  kServingPipeClose,       // accept completes on a closed server (a19b7b3f)
  kRecvBrokenPipe,         // synchronous ERROR_BROKEN_PIPE registered (41063d2a)
  kSubprocessFinishOrder,  // _try_finish uses call_soon (1b9763d0)
  kPostInitLeak,           // transport not closed when _post_init fails (4bf22e03)
  kAsyncio196,             // synchronously completed overlapped not kept (42d3bdee)
  kWaitCancelFakePacket,   // wait cancel posts a fake packet (313a9809)
  kBpo23095,               // wait cancel with non-blocking UnregisterWait (d0a28dee ...)
  kGh116773,               // run_forever unregisters a pending self-reading overlapped (GH-116774)
  kBpo33694,               // pause_reading cancels the in-flight receive (79790bc3)
  kBpo32710,               // a synchronous failure keeps the buffer forever (a234e148, 5485085b)
  kGh127057,               // a datagram read error ends the read loop (GH-156726)
  kGh156920,               // datagram close() with a write in flight never ends (GH-156921)
  kCount
};

// "bpo-23293", "accept-pipe-connected", ... as in BUGS.md.
const char* QuirkId(Quirk q);
std::optional<Quirk> QuirkFromId(const std::string& id);

class Profile {
 public:
  static Profile Current() { return Profile(); }
  // "current", "cpython-3.4.1", "cpython-3.4.2", "cpython-3.12.2", "cpython-3.7.0b5",
  // "cpython-3.12.3";
  // nullopt if unknown.
  static std::optional<Profile> Named(const std::string& name);
  static std::vector<std::string> Names();

  bool Has(Quirk q) const { return quirks_.test(static_cast<size_t>(q)); }
  Profile& With(Quirk q) {
    quirks_.set(static_cast<size_t>(q));
    return *this;
  }
  Profile& Without(Quirk q) {
    quirks_.reset(static_cast<size_t>(q));
    return *this;
  }
  // "current" or the quirk ids joined with '+'.
  std::string Describe() const;

 private:
  std::bitset<static_cast<size_t>(Quirk::kCount)> quirks_;
};

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_PROFILE_H_
