// socket.socket as the proactor uses it (IPv4 loopback, TCP or UDP): an
// owned overlapped SOCKET that reports itself unclosed, and socketpair()
// as Lib/socket.py builds it on Windows.
//
//   auto listener = Socket::Make(loop, Socket::Type::kStream);
//   listener->Bind(0);
//   listener->Listen(100);
//   FuturePtr<Accepted> a = loop.proactor().Accept(listener);
//
// Winsock is started for the process by the first socket a loop makes
// (Python's socket module calls WSAStartup when it is imported).
#ifndef IOCPSIM_PROACTOR_SOCKETS_H_
#define IOCPSIM_PROACTOR_SOCKETS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "proactor/windows_utils.h"
#include "sim/winsock.h"

namespace iocpsim::proactor {

class Socket;
using SocketPtr = std::shared_ptr<Socket>;

class Socket final : public PipeHandle {
 public:
  enum class Type { kStream, kDatagram };
  // socket.socket(AF_INET, type); raises OSError.
  static SocketPtr Make(EventLoop& loop, Type type);
  // Adopts `s` (accept()).
  Socket(EventLoop& loop, Type type, SOCKET s);
  ~Socket() override;  // ResourceWarning "unclosed <socket.socket ...>"

  SOCKET sock() const { return reinterpret_cast<SOCKET>(fileno()); }
  Type type() const { return type_; }
  bool is_socket() const override { return true; }
  // bind(('127.0.0.1', port)); 0 picks an ephemeral port.
  void Bind(uint16_t port);
  void Listen(int backlog);
  // connect(('127.0.0.1', port)), blocking (the socketpair fallback, UDP).
  void Connect(uint16_t port);
  // getsockname()[1], getpeername()[1]: Win32 calls, raise OSError.
  uint16_t LocalPort();
  uint16_t PeerPort();
  void Shutdown(int how);
  // SO_LINGER {1, 0}: close() resets the connection.
  void SetAbortiveClose();
  void Close() override;
  std::string Describe() const override;

 private:
  friend std::pair<SocketPtr, SocketPtr> SocketPair(EventLoop& loop);
  Type type_;
  uint16_t laddr_ = 0;  // as last learned, for Describe (no Win32 call there)
  uint16_t raddr_ = 0;
};

// socket.socketpair(): a listener on 127.0.0.1:0, a client connected to
// it, the accepted end; the listener closed. (client, server).
std::pair<SocketPtr, SocketPtr> SocketPair(EventLoop& loop);

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_SOCKETS_H_
