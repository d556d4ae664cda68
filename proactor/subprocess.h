// Subprocesses, as in CPython's Lib/asyncio/base_subprocess.py,
// windows_events.py (_WindowsSubprocessTransport), windows_utils.py
// (Popen) and subprocess.py (Process): a child with pipes for its standard
// handles, a transport that gathers the pipes' and the process's events
// into one SubprocessProtocol, in order.
//
//   auto [t, p] = co_await SubprocessExec(loop, factory, {"write-then-exit", "hi", "3"});
//   int code = co_await t->Wait();
//
//   auto proc = co_await CreateSubprocessExec(loop, {"echo"});
//   auto [out, err] = co_await proc->Communicate("ping");
#ifndef IOCPSIM_PROACTOR_SUBPROCESS_H_
#define IOCPSIM_PROACTOR_SUBPROCESS_H_

#include <array>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proactor/event_loop.h"
#include "proactor/origin.h"
#include "proactor/transports.h"
#include "proactor/windows_utils.h"

namespace iocpsim::proactor {

class SubprocessTransport;
using SubprocessTransportPtr = std::shared_ptr<SubprocessTransport>;

// asyncio.SubprocessProtocol.
class SubprocessProtocol {
 public:
  virtual ~SubprocessProtocol() = default;
  virtual void ConnectionMade(const SubprocessTransportPtr& transport) {}
  virtual void PipeDataReceived(int fd, const std::string& data) {}
  virtual void PipeConnectionLost(int fd, std::exception_ptr exc) {}
  virtual void ProcessExited() {}
  virtual void ConnectionLost(std::exception_ptr exc) {}
  virtual void PauseWriting() {}
  virtual void ResumeWriting() {}
};
using SubprocessProtocolPtr = std::shared_ptr<SubprocessProtocol>;
using SubprocessProtocolFactory = std::function<SubprocessProtocolPtr()>;

// Which standard handles get a pipe (subprocess.PIPE); the others are
// left to the child as nothing.
struct Stdio {
  bool in = true, out = true, err = true;
};

// windows_utils.Popen: the child and the parent's ends of its pipes.
class Popen {
 public:
  // Throws OSError (CreateProcessW failing, e.g. an unknown program).
  Popen(EventLoop& loop, const std::vector<std::string>& args, Stdio stdio);
  ~Popen();
  Popen(const Popen&) = delete;
  Popen& operator=(const Popen&) = delete;

  HANDLE handle() const { return process_; }
  DWORD pid() const { return pid_; }
  // None (nullopt) while running.
  std::optional<int> Poll();
  // TerminateProcess(handle, 1); an already finished child is not an error.
  void Kill();
  std::optional<int> returncode;
  PipeHandlePtr stdin_pipe, stdout_pipe, stderr_pipe;

 private:
  HANDLE process_ = nullptr;
  DWORD pid_ = 0;
};

class SubprocessTransport : public std::enable_shared_from_this<SubprocessTransport>,
                            public Collectable {
 public:
  ~SubprocessTransport() override;  // ResourceWarning "unclosed transport"
  // __del__ (report, close: the child is killed) without scheduling
  // anything, then the cycles are broken (see Collectable).
  void Collect() override;
  SubprocessTransport(const SubprocessTransport&) = delete;
  SubprocessTransport& operator=(const SubprocessTransport&) = delete;

  // Creates the child (throws OSError), watches it with wait_for_handle,
  // and starts connecting the pipes; `waiter` resolves once done.
  static SubprocessTransportPtr Make(EventLoop& loop, SubprocessProtocolPtr protocol,
                                     const std::vector<std::string>& args, Stdio stdio,
                                     FuturePtr<Void> waiter);

  void Close();
  bool IsClosing() const { return closed_; }
  DWORD GetPid() const { return pid_; }
  std::optional<int> GetReturncode() const { return returncode_; }
  // get_pipe_transport(fd): nullptr if that handle has no pipe (yet).
  PipeTransportPtr GetPipeTransport(int fd) const;
  void Kill();
  void Terminate() { Kill(); }
  // _wait(): the return code once the child exited.
  Coro<int> Wait();
  std::string Describe() const;

 private:
  friend class SubprocessPipeProto;
  SubprocessTransport(EventLoop& loop, SubprocessProtocolPtr protocol);
  void Start(const std::vector<std::string>& args, Stdio stdio);
  static Coro<Void> ConnectPipes(SubprocessTransportPtr self, FuturePtr<Void> waiter);
  void Call(std::function<void()> cb);
  void PipeConnectionLost(int fd, std::exception_ptr exc);
  void PipeDataReceived(int fd, std::string data);
  void ProcessExited(int returncode);
  void TryFinish();
  void CallConnectionLost(std::exception_ptr exc);
  void CheckProc() const;
  const SubprocessProtocolPtr& Proto() const;

  struct PipeSlot {
    bool wanted = false;
    std::shared_ptr<class SubprocessPipeProto> proto;  // None until connected
  };

  EventLoop& loop_;
  SubprocessProtocolPtr protocol_;
  Origin origin_;
  std::unique_ptr<Popen> proc_;
  DWORD pid_ = 0;
  std::optional<int> returncode_;
  std::vector<FuturePtr<int>> exit_waiters_;
  std::optional<std::deque<std::function<void()>>> pending_calls_{std::in_place};
  std::array<PipeSlot, 3> pipes_;
  bool closed_ = false;
  bool finished_ = false;
};

// loop.subprocess_exec(): the transport once its pipes are connected. If
// that fails or is cancelled, the transport is closed (killing the child)
// and waited for before the error propagates (4bf22e03; quirk
// post-init-leak restores the leak).
Coro<std::pair<SubprocessTransportPtr, SubprocessProtocolPtr>> SubprocessExec(
    EventLoop& loop, SubprocessProtocolFactory factory, std::vector<std::string> args,
    Stdio stdio = {});

// asyncio.subprocess.Process over SubprocessStreamProtocol, reduced to what
// scenarios need: wait(), communicate(), kill().
class Process {
 public:
  SubprocessTransportPtr transport;
  std::shared_ptr<class StreamProtocol> protocol;
  DWORD pid() const { return transport->GetPid(); }
  std::optional<int> returncode() const { return transport->GetReturncode(); }
  Coro<int> Wait() { return transport->Wait(); }
  // Writes `input` to stdin and closes it, then gathers stdout and stderr
  // until both reach EOF and the child has exited.
  Coro<std::pair<std::string, std::string>> Communicate(std::string input = "");
  void Kill() { transport->Kill(); }
};

Coro<std::shared_ptr<Process>> CreateSubprocessExec(EventLoop& loop, std::vector<std::string> args,
                                                    Stdio stdio = {});

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_SUBPROCESS_H_
