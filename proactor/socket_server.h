// create_server, create_connection and create_datagram_endpoint on
// loopback, and the loop's sock_* methods, as the proactor loop does them (base_events.py create_server / create_connection,
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
#include <optional>
#include <string>

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

using DatagramProtocolFactory = std::function<std::shared_ptr<DatagramProtocol>()>;

// loop.create_datagram_endpoint(factory, local_addr=('127.0.0.1',
// local_port) or None, remote_addr=('127.0.0.1', remote_port) or None): a
// UDP socket, bound and/or connected, with a datagram transport; the
// transport once connection_made() has been called. Raises OSError.
Coro<PipeTransportPtr> CreateDatagramEndpoint(EventLoop& loop, DatagramProtocolFactory factory,
                                              std::optional<uint16_t> local_port,
                                              std::optional<uint16_t> remote_port = std::nullopt);

// The loop's socket methods (BaseProactorEventLoop.sock_recv, ...): each
// awaits its proactor verb. Departure: free functions rather than methods
// of EventLoop, whose header comes before the proactor's result types.
Coro<std::string> SockRecv(EventLoop& loop, SocketPtr sock, DWORD n);
Coro<DWORD> SockRecvInto(EventLoop& loop, SocketPtr sock, std::shared_ptr<ReadBuffer> buf);
Coro<Datagram> SockRecvFrom(EventLoop& loop, SocketPtr sock, DWORD bufsize);
// Returns what the proactor's send returned (CPython's sock_sendall
// returns it too).
Coro<DWORD> SockSendAll(EventLoop& loop, SocketPtr sock, std::string data);
Coro<DWORD> SockSendTo(EventLoop& loop, SocketPtr sock, std::string data, uint16_t port);
Coro<Void> SockConnect(EventLoop& loop, SocketPtr sock, uint16_t port);
Coro<Accepted> SockAccept(EventLoop& loop, SocketPtr listener);

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_SOCKET_SERVER_H_
