#include "proactor/pipe_server.h"

#include <algorithm>

#include "proactor/iocp_proactor.h"

namespace iocpsim::proactor {

PipeServer::PipeServer(EventLoop& loop, std::string address)
    : loop_(loop), address_(std::move(address)), wide_address_(Widen(address_)) {
  free_instances_.reserve(4);
  pipe_ = ServerPipeHandle(true);
}

PipeHandlePtr PipeServer::GetUnconnectedPipe() {
  PipeHandlePtr tmp = std::move(pipe_);
  pipe_ = ServerPipeHandle(false);
  return tmp;
}

PipeHandlePtr PipeServer::ServerPipeHandle(bool first) {
  if (closed()) return nullptr;
  DWORD flags = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
  if (first) flags |= FILE_FLAG_FIRST_PIPE_INSTANCE;
  HANDLE h = CreateNamedPipeW(wide_address_.c_str(), flags,
                              PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                              PIPE_UNLIMITED_INSTANCES, kPipeBufSize, kPipeBufSize,
                              NMPWAIT_WAIT_FOREVER, nullptr);
  if (h == INVALID_HANDLE_VALUE) RaiseWindowsError(GetLastError(), "CreateNamedPipeW");
  auto pipe = std::make_shared<PipeHandle>(loop_, h);
  free_instances_.push_back(pipe);
  return pipe;
}

void PipeServer::Discard(const PipeHandlePtr& pipe) {
  std::erase(free_instances_, pipe);
}

void PipeServer::Close() {
  if (accept_pipe_future_ != nullptr) {
    accept_pipe_future_->Cancel();
    accept_pipe_future_ = nullptr;
  }
  // Close every instance no client has connected to.
  if (!address_.empty()) {
    for (const PipeHandlePtr& pipe : free_instances_) pipe->Close();
    pipe_ = nullptr;
    address_.clear();
    free_instances_.clear();
  }
}

// loop_accept_pipe(f=None) of start_serving_pipe, as an object: the
// server is held weakly (the caller owns it), the loop strongly.
class PipeAcceptLoop : public std::enable_shared_from_this<PipeAcceptLoop> {
 public:
  PipeAcceptLoop(EventLoop& loop, ProtocolFactory factory, std::string address,
                 std::weak_ptr<PipeServer> server)
      : loop_(loop), factory_(std::move(factory)), address_(std::move(address)),
        server_(std::move(server)) {}

  void Run(FuturePtr<PipeHandlePtr> f) {
    PipeHandlePtr pipe;
    std::shared_ptr<PipeServer> server = server_.lock();
    try {
      if (server == nullptr) return;  // the server object is gone
      // f.result() raising CancelledError (the server was closed) ends the
      // loop: asked, not caught, since a C++ throw would cost more than the
      // rest of this step.
      if (f != nullptr && f->cancelled()) return;
      if (f != nullptr) {
        pipe = f->Result();
        server->Discard(pipe);
        // A client connected before the server was closed: drop it. Quirk
        // serving-pipe-close: before a19b7b3f the transport was made anyway.
        if (server->closed() && !loop_.profile().Has(Quirk::kServingPipeClose)) {
          pipe->Close();
          return;
        }
        PipeTransport::Make(loop_, pipe, factory_(), PipeTransport::Kind::kDuplex, nullptr,
                            {{"addr", address_}});
      }
      pipe = server->GetUnconnectedPipe();
      if (pipe == nullptr) return;
      f = loop_.proactor().AcceptPipe(pipe);
    } catch (const BrokenPipeError&) {
      if (pipe != nullptr && !pipe->closed()) pipe->Close();
      auto self = shared_from_this();
      loop_.CallSoon(self, [](auto& s) { s.Run(nullptr); });
      return;
    } catch (const OSError&) {
      if (pipe != nullptr && !pipe->closed()) {
        loop_.CallExceptionHandler(
            {"Pipe accept failed", std::current_exception(), {{"pipe", pipe->Describe()}}});
        pipe->Close();
      }
      auto self = shared_from_this();
      loop_.CallSoon(self, [](auto& s) { s.Run(nullptr); });
      return;
    } catch (const CancelledError&) {
      if (pipe != nullptr) pipe->Close();
      return;
    }
    server->accept_pipe_future_ = f;
    auto self = shared_from_this();
    f->AddDoneCallback(self, [](auto& s, FuturePtr<PipeHandlePtr> f) { s.Run(f); });
  }

 private:
  EventLoop& loop_;
  ProtocolFactory factory_;
  std::string address_;
  std::weak_ptr<PipeServer> server_;
};

PipeServerPtr StartServingPipe(EventLoop& loop, ProtocolFactory factory, std::string address) {
  auto server = std::make_shared<PipeServer>(loop, address);
  auto accept = std::make_shared<PipeAcceptLoop>(loop, std::move(factory), address, server);
  loop.CallSoon(accept, [](auto& s) { s.Run(nullptr); });
  return server;
}

Coro<std::pair<PipeTransportPtr, ProtocolPtr>> CreatePipeConnection(EventLoop& loop,
                                                                    ProtocolFactory factory,
                                                                    std::string address) {
  PipeHandlePtr pipe = co_await loop.proactor().ConnectPipe(address);
  ProtocolPtr protocol = factory();
  PipeTransportPtr t = PipeTransport::Make(loop, pipe, protocol, PipeTransport::Kind::kDuplex,
                                           nullptr, {{"addr", address}});
  co_return std::pair{t, protocol};
}

}  // namespace iocpsim::proactor
