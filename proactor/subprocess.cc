#include "proactor/subprocess.h"

#include <stdexcept>

#include "proactor/iocp_proactor.h"

namespace iocpsim::proactor {

// ------------------------------------------------------------------ Popen

namespace {

// subprocess.list2cmdline, reduced: arguments with spaces are quoted.
std::basic_string<WCHAR> CommandLine(const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& a : args) {
    if (!line.empty()) line += ' ';
    line += a.find(' ') == std::string::npos && !a.empty() ? a : "\"" + a + "\"";
  }
  return Widen(line);
}

}  // namespace

Popen::Popen(EventLoop& loop, const std::vector<std::string>& args, Stdio stdio) {
  // windows_utils.Popen: the child's ends are synchronous, the parent's
  // overlapped; stdin is a duplex pipe (so that the parent's write end can
  // see the reader go), stdout and stderr inbound ones.
  HANDLE child[3] = {nullptr, nullptr, nullptr};
  HANDLE parent[3] = {nullptr, nullptr, nullptr};
  auto cleanup = [&] {
    for (HANDLE h : child) if (h != nullptr) CloseHandle(h);
    for (HANDLE h : parent) if (h != nullptr) CloseHandle(h);
  };
  try {
    if (stdio.in) std::tie(child[0], parent[0]) = Pipe(loop, false, true, /*duplex=*/true);
    if (stdio.out) std::tie(parent[1], child[1]) = Pipe(loop, true, false);
    if (stdio.err) std::tie(parent[2], child[2]) = Pipe(loop, true, false);
  } catch (...) {
    cleanup();
    throw;
  }
  // subprocess.Popen makes the child's handles inheritable.
  for (HANDLE h : child) {
    if (h != nullptr) SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  }
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = child[0];
  si.hStdOutput = child[1];
  si.hStdError = child[2];
  PROCESS_INFORMATION pi{};
  std::basic_string<WCHAR> line = CommandLine(args);
  BOOL ok = CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si,
                           &pi);
  DWORD err = ok ? 0 : GetLastError();
  for (HANDLE& h : child) {
    if (h != nullptr) CloseHandle(h);
    h = nullptr;
  }
  if (!ok) {
    cleanup();
    RaiseWindowsError(err, "CreateProcessW");
  }
  CloseHandle(pi.hThread);
  process_ = pi.hProcess;
  pid_ = pi.dwProcessId;
  if (parent[0] != nullptr) stdin_pipe = std::make_shared<PipeHandle>(loop, parent[0]);
  if (parent[1] != nullptr) stdout_pipe = std::make_shared<PipeHandle>(loop, parent[1]);
  if (parent[2] != nullptr) stderr_pipe = std::make_shared<PipeHandle>(loop, parent[2]);
}

Popen::~Popen() {
  if (process_ != nullptr) CloseHandle(process_);
  // The pipes are the transports' to close; whatever is left closes here.
  for (PipeHandlePtr* p : {&stdin_pipe, &stdout_pipe, &stderr_pipe}) {
    if (*p != nullptr && !(*p)->closed() && p->use_count() == 1) (*p)->Close();
  }
}

std::optional<int> Popen::Poll() {
  if (!returncode && WaitForSingleObject(process_, 0) == WAIT_OBJECT_0) {
    DWORD code = 0;
    GetExitCodeProcess(process_, &code);
    returncode = static_cast<int>(code);
  }
  return returncode;
}

void Popen::Kill() {
  // Popen.terminate(): a process known to be dead is left alone.
  if (returncode) return;
  if (!TerminateProcess(process_, 1)) {
    DWORD err = GetLastError();
    DWORD rc = 0;
    GetExitCodeProcess(process_, &rc);
    if (err != ERROR_ACCESS_DENIED || rc == STILL_ACTIVE) RaiseWindowsError(err, "TerminateProcess");
    returncode = static_cast<int>(rc);
  }
}

// ------------------------------------------- the pipes' protocols

// WriteSubprocessPipeProto / ReadSubprocessPipeProto.
class SubprocessPipeProto : public Protocol {
 public:
  SubprocessPipeProto(SubprocessTransportPtr proc, int fd) : proc_(std::move(proc)), fd_(fd) {}
  void ConnectionMade(const PipeTransportPtr& t) override { pipe = t; }
  void ConnectionLost(std::exception_ptr exc) override {
    disconnected = true;
    SubprocessTransportPtr proc = std::move(proc_);
    proc->PipeConnectionLost(fd_, exc);
  }
  void PauseWriting() override { proc_->Proto()->PauseWriting(); }
  void ResumeWriting() override { proc_->Proto()->ResumeWriting(); }
  void DataReceived(const std::string& data) override { proc_->PipeDataReceived(fd_, data); }

  std::weak_ptr<PipeTransport> pipe;  // weak: the transport holds this protocol
  bool disconnected = false;

 private:
  SubprocessTransportPtr proc_;
  int fd_;
};

// ---------------------------------------------------- the transport

SubprocessTransport::SubprocessTransport(EventLoop& loop, SubprocessProtocolPtr protocol)
    : loop_(loop), protocol_(std::move(protocol)), origin_(Origin::Here(loop)) {}

SubprocessTransport::~SubprocessTransport() { Collect(); }

void SubprocessTransport::Collect() {
  if (!closed_) {
    loop_.CallExceptionHandler(
        {"unclosed transport " + Describe(), nullptr, {{"origin", origin_.Format()}}});
    closed_ = true;
    if (proc_ != nullptr && !returncode_ && !proc_->Poll()) {
      try {
        proc_->Kill();
      } catch (const OSError&) {
      }
    }
  }
  protocol_.reset();
  pipes_ = {};
  exit_waiters_.clear();
  pending_calls_.reset();
  proc_.reset();
}

std::string SubprocessTransport::Describe() const {
  std::string s = "<_WindowsSubprocessTransport";
  if (closed_) s += " closed";
  s += " pid=" + std::to_string(pid_);
  if (returncode_) s += " returncode=" + std::to_string(*returncode_);
  else if (proc_ != nullptr) s += " running";
  return s + ">";
}

SubprocessTransportPtr SubprocessTransport::Make(EventLoop& loop, SubprocessProtocolPtr protocol,
                                                 const std::vector<std::string>& args, Stdio stdio,
                                                 FuturePtr<Void> waiter) {
  SubprocessTransportPtr t(new SubprocessTransport(loop, std::move(protocol)));
  loop.AddResource(t);
  t->pipes_[0].wanted = stdio.in;
  t->pipes_[1].wanted = stdio.out;
  t->pipes_[2].wanted = stdio.err;
  try {
    t->Start(args, stdio);
  } catch (...) {
    t->Close();
    throw;
  }
  t->pid_ = t->proc_->pid();
  loop.CreateTask(ConnectPipes(t, std::move(waiter)));
  return t;
}

void SubprocessTransport::Start(const std::vector<std::string>& args, Stdio stdio) {
  // _WindowsSubprocessTransport._start
  proc_ = std::make_unique<Popen>(loop_, args, stdio);
  SubprocessTransportPtr self = shared_from_this();
  FuturePtr<bool> f = loop_.proactor().WaitForHandle(proc_->handle());
  f->AddDoneCallback([self](FuturePtr<bool>) {
    std::optional<int> returncode = self->proc_ != nullptr ? self->proc_->Poll() : std::nullopt;
    if (!returncode) throw std::logic_error("AssertionError: returncode is None");
    self->ProcessExited(*returncode);
  });
}

void SubprocessTransport::Close() {
  if (closed_) return;
  closed_ = true;
  for (PipeSlot& slot : pipes_) {
    if (slot.proto == nullptr) continue;
    if (PipeTransportPtr p = slot.proto->pipe.lock()) p->Close();
  }
  // A child still running (or finished, unknown to us yet) is killed.
  if (proc_ != nullptr && !returncode_ && !proc_->Poll()) {
    try {
      proc_->Kill();
    } catch (const OSError&) {
    }
    // proc_ stays: _connect_pipes may still run.
  }
}

PipeTransportPtr SubprocessTransport::GetPipeTransport(int fd) const {
  if (fd < 0 || fd > 2 || pipes_[fd].proto == nullptr) return nullptr;
  return pipes_[fd].proto->pipe.lock();
}

void SubprocessTransport::CheckProc() const {
  if (proc_ == nullptr) throw OSError(ERROR_INVALID_HANDLE, "ProcessLookupError");
}

void SubprocessTransport::Kill() {
  CheckProc();
  proc_->Kill();
}

Coro<Void> SubprocessTransport::ConnectPipes(SubprocessTransportPtr self, FuturePtr<Void> waiter) {
  EventLoop& loop = self->loop_;
  std::exception_ptr error;
  try {
    // connect_write_pipe / connect_read_pipe: a pipe transport, and its
    // waiter resolved after connection_made.
    PipeHandlePtr handles[3] = {self->proc_->stdin_pipe, self->proc_->stdout_pipe,
                                self->proc_->stderr_pipe};
    for (int fd = 0; fd < 3; ++fd) {
      if (handles[fd] == nullptr) continue;
      auto proto = std::make_shared<SubprocessPipeProto>(self, fd);
      auto pipe_waiter = loop.CreateFuture<Void>();
      PipeTransportPtr t = PipeTransport::Make(
          loop, handles[fd], proto, fd == 0 ? PipeTransport::Kind::kWrite : PipeTransport::Kind::kRead,
          pipe_waiter);
      bool failed = false;
      try {
        co_await pipe_waiter;
      } catch (const std::exception&) {
        failed = true;
      }
      if (failed) {
        t->Close();
        throw CancelledError();
      }
      self->pipes_[fd].proto = proto;
    }
    loop.CallSoon([self, p = self->Proto()] { p->ConnectionMade(self); });
    for (auto& cb : *self->pending_calls_) loop.CallSoon(std::move(cb));
    self->pending_calls_.reset();
  } catch (const std::exception&) {
    error = std::current_exception();
  }
  if (waiter != nullptr && !waiter->cancelled()) {
    if (error) {
      waiter->SetException(error);
    } else {
      waiter->SetResult(Void{});
    }
  }
}

void SubprocessTransport::Call(std::function<void()> cb) {
  if (pending_calls_) {
    pending_calls_->push_back(std::move(cb));
  } else {
    loop_.CallSoon(std::move(cb));
  }
}

const SubprocessProtocolPtr& SubprocessTransport::Proto() const {
  // After _call_connection_lost, self._protocol is None: Python raises
  // AttributeError at the first use.
  if (protocol_ == nullptr) {
    throw std::runtime_error("AttributeError: 'NoneType' object (the subprocess protocol)");
  }
  return protocol_;
}

void SubprocessTransport::PipeConnectionLost(int fd, std::exception_ptr exc) {
  Call([p = Proto(), fd, exc] { p->PipeConnectionLost(fd, exc); });
  TryFinish();
}

void SubprocessTransport::PipeDataReceived(int fd, std::string data) {
  Call([p = Proto(), fd, data = std::move(data)] { p->PipeDataReceived(fd, data); });
}

void SubprocessTransport::ProcessExited(int returncode) {
  if (returncode_) throw std::logic_error("AssertionError: exited twice");
  returncode_ = returncode;
  if (!proc_->returncode) proc_->returncode = returncode;
  Call([p = Proto()] { p->ProcessExited(); });
  TryFinish();
  for (auto& w : exit_waiters_) {
    if (!w->cancelled()) w->SetResult(returncode);
  }
  exit_waiters_.clear();
}

Coro<int> SubprocessTransport::Wait() {
  if (returncode_) co_return *returncode_;
  auto waiter = loop_.CreateFuture<int>();
  exit_waiters_.push_back(waiter);
  co_return co_await waiter;
}

void SubprocessTransport::TryFinish() {
  if (finished_) throw std::logic_error("AssertionError: _try_finish after finishing");
  if (!returncode_) return;
  // Quirk subprocess-finish-order (Tulip issue 103, fixed by 1b9763d0):
  // the old transport knew only the pipes connected so far, so a child
  // that exited while _post_init was still connecting them looked
  // finished, and connection_lost was scheduled with call_soon -- ahead of
  // connection_made and of the calls still buffered in _pending_calls.
  bool old = loop_.profile().Has(Quirk::kSubprocessFinishOrder);
  for (const PipeSlot& slot : pipes_) {
    if (!slot.wanted || (old && slot.proto == nullptr)) continue;
    if (slot.proto == nullptr || !slot.proto->disconnected) return;
  }
  finished_ = true;
  SubprocessTransportPtr self = shared_from_this();
  if (old) {
    loop_.CallSoon(self, [](auto& s) { s.CallConnectionLost(nullptr); });
    return;
  }
  Call([self] { self->CallConnectionLost(nullptr); });
}

void SubprocessTransport::CallConnectionLost(std::exception_ptr exc) {
  SubprocessProtocolPtr p = std::move(protocol_);
  struct Finally {
    SubprocessTransport* t;
    ~Finally() { t->proc_.reset(); }
  } finally{this};
  p->ConnectionLost(exc);
}

Coro<std::pair<SubprocessTransportPtr, SubprocessProtocolPtr>> SubprocessExec(
    EventLoop& loop, SubprocessProtocolFactory factory, std::vector<std::string> args, Stdio stdio) {
  SubprocessProtocolPtr protocol = factory();
  auto waiter = loop.CreateFuture<Void>();
  SubprocessTransportPtr transp = SubprocessTransport::Make(loop, protocol, args, stdio, waiter);
  std::exception_ptr error;
  try {
    co_await waiter;
  } catch (const std::exception&) {
    error = std::current_exception();
  }
  if (error) {
    // Quirk post-init-leak: before 4bf22e03 the transport was left open.
    if (!loop.profile().Has(Quirk::kPostInitLeak)) {
      transp->Close();
      co_await transp->Wait();
    }
    std::rethrow_exception(error);
  }
  co_return std::pair{transp, protocol};
}

// ------------------------------------------------------------- Process

class StreamProtocol : public SubprocessProtocol {
 public:
  explicit StreamProtocol(EventLoop& loop)
      : eof_{loop.CreateFuture<Void>(), loop.CreateFuture<Void>(), loop.CreateFuture<Void>()} {}
  void ConnectionMade(const SubprocessTransportPtr& t) override { transport = t; }
  void PipeDataReceived(int fd, const std::string& data) override { out_[fd] += data; }
  void PipeConnectionLost(int fd, std::exception_ptr) override {
    if (!eof_[fd]->done()) eof_[fd]->SetResult(Void{});
    ++pipes_lost_;
    MaybeCloseTransport();
  }
  void ProcessExited() override {
    exited_ = true;
    MaybeCloseTransport();
  }
  // SubprocessStreamProtocol._maybe_close_transport: the protocol closes
  // the transport once every pipe is gone and the child has exited.
  void MaybeCloseTransport() {
    if (exited_ && transport != nullptr && pipes_lost_ == pipes_) {
      transport->Close();
      transport.reset();
    }
  }
  int pipes_ = 0;
  const std::string& output(int fd) const { return out_[fd]; }
  const FuturePtr<Void>& eof(int fd) const { return eof_[fd]; }
  SubprocessTransportPtr transport;

 private:
  std::string out_[3];
  FuturePtr<Void> eof_[3];
  int pipes_lost_ = 0;
  bool exited_ = false;
};

Coro<std::pair<std::string, std::string>> Process::Communicate(std::string input) {
  std::shared_ptr<StreamProtocol> p = protocol;
  SubprocessTransportPtr t = transport;
  if (PipeTransportPtr in = t->GetPipeTransport(0)) {
    in->Write(input);
    in->Close();
  }
  if (t->GetPipeTransport(1) != nullptr) co_await p->eof(1);
  if (t->GetPipeTransport(2) != nullptr) co_await p->eof(2);
  co_await t->Wait();
  co_return std::pair{p->output(1), p->output(2)};
}

Coro<std::shared_ptr<Process>> CreateSubprocessExec(EventLoop& loop, std::vector<std::string> args,
                                                    Stdio stdio) {
  auto protocol = std::make_shared<StreamProtocol>(loop);
  protocol->pipes_ = int{stdio.in} + int{stdio.out} + int{stdio.err};
  SubprocessProtocolFactory factory = [protocol] { return protocol; };
  auto [transport, unused] = co_await SubprocessExec(loop, factory, std::move(args), stdio);
  auto proc = std::make_shared<Process>();
  proc->transport = transport;
  proc->protocol = protocol;
  co_return proc;
}

}  // namespace iocpsim::proactor
