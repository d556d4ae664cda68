// PipeServer, start_serving_pipe and create_pipe_connection, as in
// CPython's Lib/asyncio/windows_events.py: a server keeps one listening
// message-mode instance available at all times; each accepted client gets
// a duplex pipe transport and a protocol from the factory.
//
//   auto server = StartServingPipe(loop, [] { return std::make_shared<Echo>(); },
//                                  "\\\\.\\pipe\\echo");
//   auto [t, p] = loop.RunUntilComplete(CreatePipeConnection(loop, factory, address));
//   server->Close();
#ifndef IOCPSIM_PROACTOR_PIPE_SERVER_H_
#define IOCPSIM_PROACTOR_PIPE_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proactor/event_loop.h"
#include "proactor/transports.h"
#include "proactor/windows_utils.h"

namespace iocpsim::proactor {

using ProtocolFactory = std::function<ProtocolPtr()>;

// windows_utils.BUFSIZE
inline constexpr DWORD kPipeBufSize = 8192;

class PipeServer {
 public:
  PipeServer(EventLoop& loop, std::string address);
  ~PipeServer() { Close(); }  // __del__ = close
  PipeServer(const PipeServer&) = delete;
  PipeServer& operator=(const PipeServer&) = delete;

  bool closed() const { return address_.empty(); }
  void Close();
  const std::string& address() const { return address_; }

 private:
  friend class PipeAcceptLoop;
  // Creates a new instance and returns the previous one, so that until the
  // server is closed a listening instance always exists.
  PipeHandlePtr GetUnconnectedPipe();
  PipeHandlePtr ServerPipeHandle(bool first);
  void Discard(const PipeHandlePtr& pipe);

  EventLoop& loop_;
  std::string address_;
  std::basic_string<WCHAR> wide_address_;  // for CreateNamedPipeW, made once
  // Departure: strong references (Python's is a WeakSet, but every free
  // instance is also held by _pipe or by an accept future).
  std::vector<PipeHandlePtr> free_instances_;
  PipeHandlePtr pipe_;
  std::shared_ptr<FutureBase> accept_pipe_future_;
};
using PipeServerPtr = std::shared_ptr<PipeServer>;

// ProactorEventLoop.start_serving_pipe(): throws OSError if the first
// instance cannot be created.
PipeServerPtr StartServingPipe(EventLoop& loop, ProtocolFactory factory, std::string address);

// ProactorEventLoop.create_pipe_connection().
Coro<std::pair<PipeTransportPtr, ProtocolPtr>> CreatePipeConnection(EventLoop& loop,
                                                                    ProtocolFactory factory,
                                                                    std::string address);

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_PIPE_SERVER_H_
