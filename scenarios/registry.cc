// The one table of scenarios.
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {

extern const Scenario kCanary;
extern const Scenario kEchoServer;
extern const Scenario kRecvBrokenPipe;
extern const Scenario kAcceptPipeConnected;
extern const Scenario kServingPipeClose;
extern const Scenario kSyncCompletion;
extern const Scenario kConnectPipeBusy;
extern const Scenario kWaitCancel;
extern const Scenario kSubprocessEarlyExit;
extern const Scenario kSubprocessCancelStart;
extern const Scenario kSubprocessOutput;
extern const Scenario kCloseAllPending;
extern const Scenario kWaitStorm;
extern const Scenario kEmpty;
extern const Scenario kLoopRestart;
extern const Scenario kSocketPauseResume;
extern const Scenario kSocketPeerReset;
extern const Scenario kDatagramEcho;
extern const Scenario kSocketEchoStorm;

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario> all = {
      kCanary,          kEchoServer,          kRecvBrokenPipe,         kAcceptPipeConnected,
      kServingPipeClose, kSyncCompletion,     kConnectPipeBusy,        kWaitCancel,
      kSubprocessEarlyExit, kSubprocessCancelStart, kSubprocessOutput, kCloseAllPending,
      kWaitStorm,       kEmpty,               kLoopRestart,
      kSocketPauseResume, kSocketPeerReset, kDatagramEcho, kSocketEchoStorm,
  };
  return all;
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& s : AllScenarios()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

}  // namespace iocpsim::scenarios
