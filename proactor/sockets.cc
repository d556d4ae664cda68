#include "proactor/sockets.h"

#include "proactor/errors.h"
#include "proactor/event_loop.h"

namespace iocpsim::proactor {

void EventLoop::StartWinsock() {
  if (winsock_started_) return;
  WSADATA data;
  int err = WSAStartup(0x0202, &data);
  if (err != 0) RaiseWindowsError(static_cast<DWORD>(err), "WSAStartup");
  winsock_started_ = true;
}

namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

[[noreturn]] void RaiseSocketError(const char* call) {
  RaiseWindowsError(static_cast<DWORD>(WSAGetLastError()), call);
}

}  // namespace

SocketPtr Socket::Make(EventLoop& loop, Type type) {
  loop.StartWinsock();
  SOCKET s = WSASocketW(AF_INET, type == Type::kStream ? SOCK_STREAM : SOCK_DGRAM,
                        type == Type::kStream ? IPPROTO_TCP : IPPROTO_UDP, nullptr, 0,
                        WSA_FLAG_OVERLAPPED);
  if (s == INVALID_SOCKET) RaiseSocketError("socket");
  return std::make_shared<Socket>(loop, type, s);
}

Socket::Socket(EventLoop& loop, Type type, SOCKET s)
    : PipeHandle(loop, reinterpret_cast<HANDLE>(s)), type_(type) {}

Socket::~Socket() {
  if (handle_ == nullptr) return;
  loop_.CallExceptionHandler({"unclosed " + Describe(), nullptr, {{"origin", origin_.Format()}}});
  Close();
}

void Socket::Bind(uint16_t port) {
  sockaddr_in a = Loopback(port);
  if (bind(sock(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) RaiseSocketError("bind");
  laddr_ = LocalPort();
}

void Socket::Listen(int backlog) {
  if (listen(sock(), backlog) != 0) RaiseSocketError("listen");
}

void Socket::Connect(uint16_t port) {
  sockaddr_in a = Loopback(port);
  if (connect(sock(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    RaiseSocketError("connect");
  }
  raddr_ = port;
  laddr_ = LocalPort();
}

uint16_t Socket::LocalPort() {
  sockaddr_in a{};
  int n = sizeof a;
  if (getsockname(sock(), reinterpret_cast<sockaddr*>(&a), &n) != 0) RaiseSocketError("getsockname");
  laddr_ = ntohs(a.sin_port);
  return laddr_;
}

uint16_t Socket::PeerPort() {
  sockaddr_in a{};
  int n = sizeof a;
  if (getpeername(sock(), reinterpret_cast<sockaddr*>(&a), &n) != 0) RaiseSocketError("getpeername");
  raddr_ = ntohs(a.sin_port);
  return raddr_;
}

void Socket::Shutdown(int how) {
  if (shutdown(sock(), how) != 0) RaiseSocketError("shutdown");
}

void Socket::SetAbortiveClose() {
  linger l{1, 0};
  if (setsockopt(sock(), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l) != 0) {
    RaiseSocketError("setsockopt");
  }
}

void Socket::Close() {
  if (handle_ == nullptr) return;
  closesocket(reinterpret_cast<SOCKET>(handle_));
  handle_ = nullptr;
}

std::string Socket::Describe() const {
  std::string s = "<socket.socket";
  if (handle_ == nullptr) return s + " [closed]>";
  s += std::string(" family=AF_INET type=") + (type_ == Type::kStream ? "SOCK_STREAM" : "SOCK_DGRAM");
  if (laddr_ != 0) s += " laddr=127.0.0.1:" + std::to_string(laddr_);
  if (raddr_ != 0) s += " raddr=127.0.0.1:" + std::to_string(raddr_);
  return s + ">";
}

std::pair<SocketPtr, SocketPtr> SocketPair(EventLoop& loop) {
  // Lib/socket.py's fallback socketpair (Windows): the listener is closed
  // whatever happens; a client end is closed if the accept fails.
  SocketPtr listener = Socket::Make(loop, Socket::Type::kStream);
  SocketPtr client;
  try {
    listener->Bind(0);
    listener->Listen(1);
    uint16_t port = listener->LocalPort();
    client = Socket::Make(loop, Socket::Type::kStream);
    client->Connect(port);
    SOCKET s = accept(listener->sock(), nullptr, nullptr);
    if (s == INVALID_SOCKET) RaiseSocketError("accept");
    auto server = std::make_shared<Socket>(loop, Socket::Type::kStream, s);
    server->laddr_ = port;
    server->raddr_ = client->laddr_;
    listener->Close();
    return {client, server};
  } catch (...) {
    if (client != nullptr) client->Close();
    listener->Close();
    throw;
  }
}

}  // namespace iocpsim::proactor
