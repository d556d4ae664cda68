// A multi-process program for determinism checks: a pipe server with
// several clients (threads of the app) and a child process, all through
// one completion port. Used by determinism_test and sim_digests.
#ifndef IOCPSIM_SIM_DETERMINISM_H_
#define IOCPSIM_SIM_DETERMINISM_H_

namespace iocpsim {
void DeterminismProgram();
}  // namespace iocpsim

#endif  // IOCPSIM_SIM_DETERMINISM_H_
