// create_server and create_connection on loopback TCP, as the proactor
// loop does them (base_events.py create_server / create_connection,
// proactor_events.py _start_serving, _stop_serving,
// _make_socket_transport): every accepted connection gets a socket
// transport and a protocol from the factory.
//
//   auto server = CreateServer(loop, [] { return std::make_shared<Echo>(); });
//   auto t = loop.RunUntilComplete(CreateConnection(loop, factory, server->port()));
//   server->Close();
#ifndef IOCPSIM_PROACTOR_SOCKET_SERVER_H_
#define IOCPSIM_PROACTOR_SOCKET_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "proactor/event_loop.h"
#include "proactor/iocp_proactor.h"
#include "proactor/sockets.h"
#include "proactor/transports.h"

namespace iocpsim::proactor {

using SocketProtocolFactory = std::function<ProtocolPtr()>;

// asyncio.Server with one listening socket.
class SocketServer : public std::enable_shared_from_this<SocketServer> {
 public:
  SocketServer(EventLoop& loop, SocketProtocolFactory factory, SocketPtr listener);
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  uint16_t port() const { return port_; }
  // Server.close(): stops accepting (cancels the pending accept, the
  // proactor stops serving the socket) and closes the listening socket;
  // connections already made stay open.
  void Close();
  bool closed() const { return listener_ == nullptr; }

 private:
  friend std::shared_ptr<SocketServer> CreateServer(EventLoop&, SocketProtocolFactory, uint16_t,
                                                    int);
  // _start_serving's loop(f).
  void AcceptLoop(FuturePtr<Accepted> f);

  EventLoop& loop_;
  SocketProtocolFactory factory_;
  SocketPtr listener_;
  uint16_t port_ = 0;
  FuturePtr<Accepted> accept_future_;  // loop._accept_futures[sock.fileno()]
};
using SocketServerPtr = std::shared_ptr<SocketServer>;

// loop.create_server(factory, '127.0.0.1', port, backlog=100): listening
// at once; port 0 picks one (SocketServer::port()). Raises OSError.
SocketServerPtr CreateServer(EventLoop& loop, SocketProtocolFactory factory, uint16_t port = 0,
                             int backlog = 100);

// loop.create_connection(factory, '127.0.0.1', port): the transport once
// connection_made() has been called.
Coro<PipeTransportPtr> CreateConnection(EventLoop& loop, SocketProtocolFactory factory,
                                        uint16_t port);

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_SOCKET_SERVER_H_
