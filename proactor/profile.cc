#include "proactor/profile.h"

namespace iocpsim::proactor {

namespace {

struct QuirkName {
  Quirk quirk;
  const char* id;
};

constexpr QuirkName kQuirks[] = {
    {Quirk::kBpo23293, "bpo-23293"},
    {Quirk::kAcceptPipeConnected, "accept-pipe-connected"},
    {Quirk::kServingPipeClose, "serving-pipe-close"},
    {Quirk::kRecvBrokenPipe, "recv-broken-pipe"},
    {Quirk::kSubprocessFinishOrder, "subprocess-finish-order"},
    {Quirk::kPostInitLeak, "post-init-leak"},
    {Quirk::kAsyncio196, "asyncio-196"},
    {Quirk::kWaitCancelFakePacket, "wait-cancel-fake-packet"},
    {Quirk::kBpo23095, "bpo-23095"},
    {Quirk::kGh116773, "gh-116773"},
    {Quirk::kBpo33694, "bpo-33694"},
    {Quirk::kBpo32710, "bpo-32710"},
    {Quirk::kGh127057, "gh-127057"},
    {Quirk::kGh156920, "gh-156920"},
};

// The Dec 2014 - Jan 2015 fixes, shipped in CPython 3.4.3 (Feb 2015).
Profile WithWinter2014(Profile p) {
  return p.With(Quirk::kBpo23293)
      .With(Quirk::kAcceptPipeConnected)
      .With(Quirk::kServingPipeClose)
      .With(Quirk::kRecvBrokenPipe)
      .With(Quirk::kSubprocessFinishOrder)
      .With(Quirk::kPostInitLeak);
}

}  // namespace

const char* QuirkId(Quirk q) {
  for (const QuirkName& n : kQuirks) {
    if (n.quirk == q) return n.id;
  }
  return "?";
}

std::optional<Quirk> QuirkFromId(const std::string& id) {
  for (const QuirkName& n : kQuirks) {
    if (id == n.id) return n.quirk;
  }
  return std::nullopt;
}

std::optional<Profile> Profile::Named(const std::string& name) {
  // Dating: the asyncio#196 fix (42d3bdee) and the fake wait-cancel packet
  // (313a9809) are from July 2014, between 3.4.1 (May 2014) and 3.4.2
  // (Oct 2014); the bpo-23095 rework and the other fixes of BUGS.md's
  // first part landed in Dec 2014 - Jan 2015 and shipped in 3.4.3.
  if (name == "current") return Profile::Current();
  if (name == "cpython-3.4.2") {
    return WithWinter2014(Profile()).With(Quirk::kWaitCancelFakePacket);
  }
  if (name == "cpython-3.4.1") {
    return WithWinter2014(Profile()).With(Quirk::kAsyncio196).With(Quirk::kBpo23095);
  }
  // GH-116774 (the gh-116773 fix) shipped in 3.12.3 (April 2024); the
  // socket fixes of 2018 were long in.
  if (name == "cpython-3.12.2") return Profile().With(Quirk::kGh116773);
  // 79790bc3 (bpo-33694) landed on 2018-06-08, after 3.7.0b5 (2018-05-30);
  // the bpo-32710 fixes in 2019. Only the quirks modelled here: the rest of
  // that release is today's.
  if (name == "cpython-3.7.0b5") return Profile().With(Quirk::kBpo33694).With(Quirk::kBpo32710);
  // 3.12.3 (April 2024) has the gh-91227 fix (f11d0d8b: a receive that
  // completes with ERROR_PORT_UNREACHABLE is an empty datagram); the
  // datagram fixes GH-156726 and GH-156921 were merged in September 2026
  // and never reached 3.12.
  if (name == "cpython-3.12.3") return Profile().With(Quirk::kGh127057).With(Quirk::kGh156920);
  return std::nullopt;
}

std::vector<std::string> Profile::Names() {
  return {"current",        "cpython-3.4.2",   "cpython-3.4.1",
          "cpython-3.12.2", "cpython-3.7.0b5", "cpython-3.12.3"};
}

std::string Profile::Describe() const {
  std::string s;
  for (const QuirkName& n : kQuirks) {
    if (!Has(n.quirk)) continue;
    if (!s.empty()) s += '+';
    s += n.id;
  }
  return s.empty() ? "current" : s;
}

}  // namespace iocpsim::proactor
