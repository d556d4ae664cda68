#include "proactor/socket_server.h"

#include <stdexcept>
#include <string>

#include "proactor/errors.h"

namespace iocpsim::proactor {

SocketServer::SocketServer(EventLoop& loop, SocketProtocolFactory factory, SocketPtr listener)
    : loop_(loop), factory_(std::move(factory)), listener_(std::move(listener)) {}

SocketServerPtr CreateServer(EventLoop& loop, SocketProtocolFactory factory, uint16_t port,
                             int backlog) {
  SocketPtr listener = Socket::Make(loop, Socket::Type::kStream);
  try {
    listener->Bind(port);
    listener->Listen(backlog);
  } catch (...) {
    listener->Close();
    throw;
  }
  auto server = std::make_shared<SocketServer>(loop, std::move(factory), listener);
  server->port_ = listener->LocalPort();
  // _start_serving: call_soon(loop).
  loop.CallSoon(server, [](auto& s) { s.AcceptLoop(nullptr); });
  return server;
}

void SocketServer::AcceptLoop(FuturePtr<Accepted> f) {
  if (listener_ == nullptr) return;  // closed: the listening socket is gone
  try {
    if (f != nullptr) {
      Accepted a = f->Result();
      ProtocolPtr protocol = factory_();
      // _make_socket_transport(conn, protocol, extra={'peername': addr})
      PipeTransport::Make(loop_, a.conn, protocol, PipeTransport::Kind::kSocket, nullptr,
                          {{"peername", "127.0.0.1:" + std::to_string(a.peer_port)}});
    }
    if (loop_.IsClosed()) return;
    accept_future_ = loop_.proactor().Accept(listener_);
  } catch (const OSError&) {
    if (!listener_->closed()) {
      loop_.CallExceptionHandler({"Accept failed on a socket", std::current_exception(),
                                  {{"socket", listener_->Describe()}}});
      listener_->Close();
    }
    return;
  } catch (const CancelledError&) {
    listener_->Close();
    return;
  }
  auto self = shared_from_this();
  accept_future_->AddDoneCallback(
      self, [](auto& s, FuturePtr<Accepted> done) { s.AcceptLoop(done); });
}

void SocketServer::Close() {
  if (listener_ == nullptr) return;
  // loop._stop_serving(sock)
  if (accept_future_ != nullptr) {
    accept_future_->Cancel();
    accept_future_ = nullptr;
  }
  loop_.proactor().StopServing(listener_);
  listener_->Close();
  listener_ = nullptr;
}

Coro<PipeTransportPtr> CreateConnection(EventLoop& loop, SocketProtocolFactory factory,
                                        uint16_t port) {
  SocketPtr sock = Socket::Make(loop, Socket::Type::kStream);
  try {
    co_await loop.proactor().Connect(sock, port);
  } catch (...) {
    sock->Close();
    throw;
  }
  ProtocolPtr protocol = factory();
  auto waiter = loop.CreateFuture<Void>();
  PipeTransportPtr t = PipeTransport::Make(loop, sock, protocol, PipeTransport::Kind::kSocket,
                                           waiter, {{"peername", "127.0.0.1:" + std::to_string(port)}});
  co_await waiter;
  co_return t;
}

Coro<PipeTransportPtr> CreateDatagramEndpoint(EventLoop& loop, DatagramProtocolFactory factory,
                                              std::optional<uint16_t> local_port,
                                              std::optional<uint16_t> remote_port) {
  if (!local_port && !remote_port) throw std::invalid_argument("unexpected address family");
  SocketPtr sock = Socket::Make(loop, Socket::Type::kDatagram);
  try {
    if (local_port) sock->Bind(*local_port);
    if (remote_port) co_await SockConnect(loop, sock, *remote_port);
  } catch (...) {
    sock->Close();
    throw;
  }
  std::shared_ptr<DatagramProtocol> protocol = factory();
  auto waiter = loop.CreateFuture<Void>();
  PipeTransportPtr t = PipeTransport::MakeDatagram(loop, sock, protocol, remote_port.value_or(0),
                                                   waiter);
  try {
    co_await waiter;
  } catch (...) {
    t->Close();
    throw;
  }
  co_return t;
}

Coro<std::string> SockRecv(EventLoop& loop, SocketPtr sock, DWORD n) {
  co_return co_await loop.proactor().Recv(sock, n);
}

Coro<DWORD> SockRecvInto(EventLoop& loop, SocketPtr sock, std::shared_ptr<ReadBuffer> buf) {
  co_return co_await loop.proactor().RecvInto(sock, std::move(buf));
}

Coro<Datagram> SockRecvFrom(EventLoop& loop, SocketPtr sock, DWORD bufsize) {
  co_return co_await loop.proactor().RecvFrom(sock, bufsize);
}

Coro<DWORD> SockSendAll(EventLoop& loop, SocketPtr sock, std::string data) {
  co_return co_await loop.proactor().Send(sock, std::move(data));
}

Coro<DWORD> SockSendTo(EventLoop& loop, SocketPtr sock, std::string data, uint16_t port) {
  co_return co_await loop.proactor().SendTo(sock, std::move(data), port);
}

Coro<Void> SockConnect(EventLoop& loop, SocketPtr sock, uint16_t port) {
  co_await loop.proactor().Connect(sock, port);
}

Coro<Accepted> SockAccept(EventLoop& loop, SocketPtr listener) {
  co_return co_await loop.proactor().Accept(listener);
}

}  // namespace iocpsim::proactor
