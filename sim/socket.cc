// Loopback sockets (see sim/winsock.h): WSASocketW and socket, bind,
// listen, accept, connect, AcceptEx, ConnectEx, WSARecv, WSASend,
// WSARecvFrom, WSASendTo, shutdown, closesocket, the socket options the
// proactor sets, getsockname/getpeername and WSAIoctl.
//
// A TCP connection is two endpoints, each with an inbox of the bytes the
// other sent. As with pipes, a send's bytes enter the peer's inbox at issue
// and the send completes when the unread bytes up to its end fit the
// receive window. A connection request (connect, ConnectEx) makes the
// server's endpoint at once and queues it on the listener until accept or
// AcceptEx takes it (AcceptEx moves it into the socket the caller made), so
// a client may send, or leave, before it is accepted.
//
// How a connection ends: closesocket is graceful (the peer's receives
// return 0 once its inbox is drained) unless it resets: SO_LINGER {1, 0},
// or unread data left in the closing socket's inbox (RFC 1122 4.2.2.13);
// a reset fails the peer's operations with ERROR_NETNAME_DELETED (pending)
// or WSAECONNRESET (new), and discards what it had not read. Data sent to
// a peer that has closed is dropped and a reset comes back (RFC 9293
// 3.10.7.1). shutdown(SD_SEND) is a graceful half close.
//
// UDP: a datagram to a bound port is queued there (dropped when its
// receive buffer is full); to a port nobody has bound, an ICMP port
// unreachable comes back to the sender: its pending receive fails with
// ERROR_PORT_UNREACHABLE, or its next one with WSAECONNRESET.
//
// Sources: ../shared/WIN32-MODEL.md "Sockets" (Wine sock
// test_completion_port, test_connect_completion_port) and the MS pages
// named where they decide.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "sim/kernel.h"
#include "sim/winsock.h"

namespace iocpsim {

namespace {
constexpr TraceFormat kSocketFmt{"WSASocketW", "type=%u -> %h err=%e"};
constexpr TraceFormat kBindFmt{"bind", "s=%h port=%u -> %b err=%e"};
constexpr TraceFormat kListenFmt{"listen", "s=%h -> %b err=%e"};
constexpr TraceFormat kAcceptFmt{"accept", "s=%h -> %h err=%e"};
constexpr TraceFormat kConnectFmt{"connect", "s=%h port=%u -> %b err=%e"};
constexpr TraceFormat kCloseFmt{"closesocket", "s=%h -> %b err=%e"};
constexpr TraceFormat kShutdownFmt{"shutdown", "s=%h how=%u -> %b err=%e"};
constexpr TraceFormat kSetOptFmt{"setsockopt", "s=%h level=%x name=%x -> %b err=%e"};
constexpr TraceFormat kGetOptFmt{"getsockopt", "s=%h level=%x name=%x -> %b err=%e"};
constexpr TraceFormat kNameFmt{"getsockname", "s=%h -> %b port=%u err=%e"};
constexpr TraceFormat kPeerFmt{"getpeername", "s=%h -> %b port=%u err=%e"};
constexpr TraceFormat kIoctlFmt{"WSAIoctl", "s=%h code=%x -> %b err=%e"};
constexpr TraceFormat kRecvFmt{"WSARecv", "s=%h ov=%o n=%u -> %b bytes=%u err=%e"};
constexpr TraceFormat kSendFmt{"WSASend", "s=%h ov=%o n=%u -> %b bytes=%u err=%e"};
constexpr TraceFormat kRecvFromFmt{"WSARecvFrom", "s=%h ov=%o n=%u -> %b bytes=%u err=%e"};
constexpr TraceFormat kSendToFmt{"WSASendTo", "s=%h ov=%o n=%u port=%u -> %b bytes=%u err=%e"};
constexpr TraceFormat kAcceptExFmt{"AcceptEx", "s=%h accept=%h ov=%o -> %b err=%e"};
constexpr TraceFormat kConnectExFmt{"ConnectEx", "s=%h port=%u ov=%o -> %b err=%e"};
constexpr TraceFormat kResetFmt{"tcp-reset-arrives", "socket#%u"};
constexpr TraceFormat kIcmpFmt{"icmp-port-unreachable-arrives", "socket#%u port=%u"};

// The default receive buffer (SO_RCVBUF) of a loopback socket; the send
// window of a connection and the datagram queue of a UDP socket.
constexpr uint64_t kReceiveBuffer = 65536;
// The largest UDP payload over IPv4.
constexpr DWORD kMaxDatagram = 65507;
// Ephemeral ports: Windows' dynamic range starts at 49152 (MS KB 929851).
constexpr uint16_t kFirstEphemeral = 49152;
}  // namespace

enum class SockState : uint8_t { kOpen, kListening, kConnected, kClosed };

struct Socket : File {
  Socket() : File(ObjType::kSocket) {}
  std::string Describe() const override {
    const char* kind = !stream ? "socket-udp" : state == SockState::kListening ? "socket-listener"
                                                                             : "socket-tcp";
    std::string s = absl::StrCat(kind, " 127.0.0.1:", port);
    if (peer_port != 0) absl::StrAppend(&s, " -> 127.0.0.1:", peer_port);
    return s;
  }
  Readiness Ready(const Op* op) const override;
  void Perform(Kernel& k, Op* op) override;
  void LastHandleClosed(Kernel& k) override;

  bool FirstPending(const Op* op) const {
    for (const Op* o : ops) {
      if (o->type == op->type) return o == op;
    }
    return false;
  }
  uint64_t Unread() const { return received - consumed; }

  bool stream = true;
  SockState state = SockState::kOpen;
  uint16_t port = 0;       // local port, host order; 0: not bound
  uint16_t peer_port = 0;  // connected (TCP) or default destination (UDP)
  Socket* peer = nullptr;  // TCP: the other endpoint, while it is open
  // Receiving. TCP: a byte stream; UDP: datagrams with their source port.
  std::deque<std::string> inbox;
  size_t inbox_off = 0;    // into inbox.front()
  std::deque<uint16_t> inbox_from;
  uint64_t received = 0;   // bytes ever queued
  uint64_t consumed = 0;   // bytes ever read
  bool eof = false;        // the peer will send no more (FIN)
  bool reset = false;      // the connection was reset
  bool reset_coming = false;
  bool unreachable = false;  // UDP: an ICMP port unreachable not reported yet
  bool shut_send = false;
  bool shut_recv = false;
  bool abortive_close = false;  // SO_LINGER {1, 0}
  // After AcceptEx or ConnectEx the socket is connected but not set up:
  // getpeername and shutdown fail with WSAENOTCONN until
  // SO_UPDATE_ACCEPT_CONTEXT / SO_UPDATE_CONNECT_CONTEXT (MS:AcceptEx and
  // MS:ConnectEx remarks).
  bool needs_context = false;
  // Listening.
  size_t backlog = 0;
  std::deque<Socket*> queue;  // connections made, not accepted yet
  // A server endpoint still in its listener's queue (no handle yet).
  Socket* listener = nullptr;
};

struct SocketNamespace {
  std::map<uint16_t, Socket*> tcp, udp;  // bound ports
  uint16_t next_ephemeral = kFirstEphemeral;
};

void DeleteSocketNamespace(SocketNamespace* ns) { delete ns; }

namespace {

SocketNamespace& Names(Kernel& k) {
  if (k.sockets == nullptr) k.sockets = new SocketNamespace;  // freed by ~Kernel
  return *k.sockets;
}

std::map<uint16_t, Socket*>& Ports(Kernel& k, const Socket* s) {
  return s->stream ? Names(k).tcp : Names(k).udp;
}

// Binds `s` to `port` (0: the next free ephemeral port); 0 or a WSA error.
DWORD BindTo(Kernel& k, Socket* s, uint16_t port) {
  auto& ports = Ports(k, s);
  if (port == 0) {
    SocketNamespace& ns = Names(k);
    for (uint32_t tries = 0; tries < 65536u - kFirstEphemeral; ++tries) {
      uint16_t p = ns.next_ephemeral;
      ns.next_ephemeral = p == 65535 ? kFirstEphemeral : static_cast<uint16_t>(p + 1);
      if (ports.count(p) == 0) {
        port = p;
        break;
      }
    }
    if (port == 0) return WSAEADDRINUSE;
  } else if (ports.count(port) != 0) {
    return WSAEADDRINUSE;
  }
  ports[port] = s;
  s->port = port;
  return 0;
}

void Unbind(Kernel& k, Socket* s) {
  auto& ports = Ports(k, s);
  auto it = ports.find(s->port);
  if (it != ports.end() && it->second == s) ports.erase(it);
}

// An IPv4 loopback address's port; 0 or a WSA error. `any_ok`: INADDR_ANY
// is accepted (bind), else only 127.0.0.1.
DWORD ParseAddress(const sockaddr* name, int length, bool any_ok, uint16_t* port) {
  if (name == nullptr || length < static_cast<int>(sizeof(sockaddr_in))) return WSAEFAULT;
  const auto* in = reinterpret_cast<const sockaddr_in*>(name);
  if (in->sin_family != AF_INET) return WSAEAFNOSUPPORT;
  uint32_t a = ntohl(in->sin_addr.s_addr);
  if (a != INADDR_LOOPBACK && !(any_ok && a == INADDR_ANY)) return WSAEADDRNOTAVAIL;
  *port = ntohs(in->sin_port);
  return 0;
}

void WriteAddress(void* out, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::memcpy(out, &a, sizeof a);
}

// Copies up to the op's buffer space out of `s`'s byte stream.
DWORD CopyStream(Socket* s, Op* op) {
  std::vector<std::pair<char*, DWORD>> single;
  const auto& bufs = op->scatter.empty() ? (single = {{op->buffer, op->size}}) : op->scatter;
  DWORD got = 0;
  for (auto [dst, room] : bufs) {
    DWORD filled = 0;
    while (filled < room && !s->inbox.empty()) {
      std::string& front = s->inbox.front();
      size_t take = std::min<size_t>(room - filled, front.size() - s->inbox_off);
      std::memcpy(dst + filled, front.data() + s->inbox_off, take);
      filled += static_cast<DWORD>(take);
      s->inbox_off += take;
      if (s->inbox_off == front.size()) {
        s->inbox.pop_front();
        s->inbox_off = 0;
      }
    }
    got += filled;
  }
  s->consumed += got;
  return got;
}

// The peer of `s` learns that `s` has gone: a reset or an end of stream.
void Disconnect(Kernel& k, Socket* s, bool reset) {
  Socket* p = s->peer;
  s->peer = nullptr;
  if (p == nullptr) return;
  p->peer = nullptr;
  if (reset) {
    p->reset = true;
    p->inbox.clear();
    p->inbox_off = 0;
    p->consumed = p->received;
  } else {
    p->eof = true;
  }
  k.Kick(p);
}

// A reset comes back to `s` (it sent to a peer that has closed).
void ResetComesBack(Kernel& k, Socket* s) {
  if (s->reset_coming || s->reset) return;
  s->reset_coming = true;
  auto e = std::make_unique<KEvent>();
  e->subject = s->id;
  e->describe = [](const KEvent& ev) { return absl::StrCat("reset arrives at socket#", ev.subject); };
  e->fire = [&k, s] {
    k.Emit(kResetFmt, {s->id});
    s->reset = true;
    s->inbox.clear();
    s->inbox_off = 0;
    s->consumed = s->received;
    k.Kick(s);
  };
  k.Enable(std::move(e));
}

// An ICMP port unreachable comes back to `s` (a datagram to `port`).
void UnreachableComesBack(Kernel& k, Socket* s, uint16_t port) {
  auto e = std::make_unique<KEvent>();
  e->subject = s->id;
  e->describe = [](const KEvent& ev) {
    return absl::StrCat("ICMP port unreachable arrives at socket#", ev.subject);
  };
  e->fire = [&k, s, port] {
    k.Emit(kIcmpFmt, {s->id, port});
    if (s->state == SockState::kClosed) return;
    s->unreachable = true;
    k.Kick(s);
  };
  k.Enable(std::move(e));
}

// A connection from `client` to `listener`: the server's endpoint, queued
// until it is accepted.
void Establish(Kernel& k, Socket* client, Socket* listener) {
  auto* e = k.New<Socket>();
  e->state = SockState::kConnected;
  e->port = listener->port;
  e->peer_port = client->port;
  e->peer = client;
  e->listener = listener;
  client->peer = e;
  client->state = SockState::kConnected;
  client->peer_port = listener->port;
  listener->queue.push_back(e);
  k.Kick(listener);    // a pending AcceptEx
  k.Notify(listener);  // a blocked accept()
}

bool Accepting(const Socket* l) {
  return l != nullptr && l->state == SockState::kListening && l->queue.size() < l->backlog;
}

// AcceptEx: the queued endpoint `e` becomes the caller's socket `a`.
void MoveInto(Kernel& k, Socket* e, Socket* a) {
  a->state = SockState::kConnected;
  a->port = e->port;
  a->peer_port = e->peer_port;
  a->peer = e->peer;
  if (a->peer != nullptr) a->peer->peer = a;
  a->inbox = std::move(e->inbox);
  a->inbox_off = e->inbox_off;
  a->received = e->received;
  a->consumed = e->consumed;
  a->eof = e->eof;
  a->reset = e->reset;
  a->needs_context = true;
  e->state = SockState::kClosed;
  e->peer = nullptr;
  e->listener = nullptr;
  // The accept socket was closed while its AcceptEx was pending: the
  // connection has no owner and is reset.
  if (a->handles == 0) {
    Disconnect(k, a, true);
    a->state = SockState::kClosed;
  }
}

}  // namespace

File::Readiness Socket::Ready(const Op* op) const {
  switch (op->type) {
    case OpType::kRecv:
    case OpType::kRecvFrom:
      if (!FirstPending(op)) return Readiness::kNo;
      if (!stream) {
        if (unreachable) return Readiness::kError;
        return inbox.empty() ? Readiness::kNo : Readiness::kSuccess;
      }
      if (reset) return Readiness::kError;
      // Buffered data first, then the end of the stream (a 0-byte
      // completion: Wine sock test_completion_port, graceful close).
      return !inbox.empty() || eof ? Readiness::kSuccess : Readiness::kNo;
    case OpType::kSend:
      if (!stream) return Readiness::kSuccess;
      if (reset) return Readiness::kError;
      if (peer == nullptr) return Readiness::kSuccess;  // dropped; a reset comes back
      return op->write_end - peer->consumed <= kReceiveBuffer ? Readiness::kSuccess
                                                              : Readiness::kNo;
    case OpType::kSendTo:
      return Readiness::kSuccess;
    case OpType::kAccept:
      if (!FirstPending(op)) return Readiness::kNo;
      return queue.empty() ? Readiness::kNo : Readiness::kSuccess;
    case OpType::kConnectEx:
      // The handshake is answered either way, but never inside the call:
      // ConnectEx sends the SYN and returns ERROR_IO_PENDING.
      return op->sync_issue ? Readiness::kNo : Readiness::kSuccess;
    default:
      return Readiness::kNo;
  }
}

void Socket::Perform(Kernel& k, Op* op) {
  switch (op->type) {
    case OpType::kRecv:
    case OpType::kRecvFrom: {
      if (!stream) {
        if (unreachable) {
          unreachable = false;
          return k.CompleteOp(op, STATUS_PORT_UNREACHABLE, 0);
        }
        std::string d = std::move(inbox.front());
        uint16_t from = inbox_from.front();
        inbox.pop_front();
        inbox_from.pop_front();
        consumed += d.size();
        k.CheckBeforeBuffer(op);
        Kernel::Touching touch(k, op, "copying a received datagram into the buffer");
        DWORD got = static_cast<DWORD>(std::min<size_t>(d.size(), op->size));
        if (got > 0) std::memcpy(op->buffer, d.data(), got);
        if (op->from != nullptr && op->from_length != nullptr &&
            *op->from_length >= static_cast<int>(sizeof(sockaddr_in))) {
          WriteAddress(op->from, from);
          *op->from_length = sizeof(sockaddr_in);
        }
        // A datagram larger than the buffer is truncated and the rest lost:
        // WSAEMSGSIZE, ERROR_MORE_DATA in a packet (MS:WSARecvFrom).
        return k.CompleteOp(op, got < d.size() ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS, got);
      }
      if (reset) return k.CompleteOp(op, STATUS_CONNECTION_RESET, 0);
      DWORD got;
      {
        k.CheckBeforeBuffer(op);
        Kernel::Touching touch(k, op, "copying received bytes into the buffer");
        got = CopyStream(this, op);
        if (op->from != nullptr && op->from_length != nullptr &&
            *op->from_length >= static_cast<int>(sizeof(sockaddr_in))) {
          WriteAddress(op->from, peer_port);
          *op->from_length = sizeof(sockaddr_in);
        }
      }
      k.CompleteOp(op, STATUS_SUCCESS, got);
      if (got > 0 && peer != nullptr) k.Kick(peer);  // sends waiting for the window
      return;
    }
    case OpType::kSend:
      if (stream && reset) return k.CompleteOp(op, STATUS_CONNECTION_RESET, 0);
      return k.CompleteOp(op, STATUS_SUCCESS, op->size);
    case OpType::kSendTo:
      return k.CompleteOp(op, STATUS_SUCCESS, op->size);
    case OpType::kAccept: {
      Socket* e = queue.front();
      queue.pop_front();
      auto* into = static_cast<Socket*>(op->accept_into);
      MoveInto(k, e, into);
      // The addresses, local then remote, each in its part of the buffer
      // (GetAcceptExSockaddrs reads them back).
      if (op->buffer != nullptr) {
        k.CheckBeforeBuffer(op);
        Kernel::Touching touch(k, op, "writing the addresses into the AcceptEx buffer");
        WriteAddress(op->buffer, into->port);
        WriteAddress(op->buffer + op->size, into->peer_port);
      }
      return k.CompleteOp(op, STATUS_SUCCESS, 0);
    }
    case OpType::kConnectEx: {
      auto& ports = Names(k).tcp;
      auto it = ports.find(op->to_port);
      Socket* l = it == ports.end() ? nullptr : it->second;
      // Nobody listening (or a full backlog): the SYN is answered with a
      // reset, ERROR_CONNECTION_REFUSED (WIN32-MODEL.md "Sockets").
      if (!Accepting(l)) return k.CompleteOp(op, STATUS_CONNECTION_REFUSED, 0);
      Establish(k, this, l);
      needs_context = true;
      return k.CompleteOp(op, STATUS_SUCCESS, 0);
    }
    default:
      HarnessBug(__FILE__, __LINE__, "a socket asked to perform a pipe operation");
  }
}

void Socket::LastHandleClosed(Kernel& k) {
  // Closing a socket completes its pending operations as aborted
  // (WIN32-MODEL.md "Sockets"). A pending AcceptEx on a closed listener
  // ends with ERROR_OPERATION_ABORTED or ERROR_CONNECTION_ABORTED: Windows
  // versions differ, and Wine's sock test_completion_port accepts both.
  for (Op* op : std::vector<Op*>(ops)) {
    if (!op->pending) continue;
    NTSTATUS status = STATUS_CANCELLED;
    if (op->type == OpType::kAccept &&
        k.Choose(ChoiceKind::kNet, 2, [&] {
          return absl::StrCat("ov#", op->id, " AcceptEx on a closed listener: "
                              "ERROR_OPERATION_ABORTED | ERROR_CONNECTION_ABORTED");
        }) == 1) {
      status = STATUS_CONNECTION_ABORTED;
    }
    k.CompleteOp(op, status, 0);
  }
  if (port != 0 && listener == nullptr) Unbind(k, this);
  if (state == SockState::kListening) {
    // Connections nobody accepted are reset.
    for (Socket* e : queue) {
      Disconnect(k, e, true);
      e->state = SockState::kClosed;
      e->listener = nullptr;
    }
    queue.clear();
  } else if (state == SockState::kConnected && stream) {
    Disconnect(k, this, abortive_close || Unread() > 0);
  }
  state = SockState::kClosed;
  k.Notify(this);  // a blocked accept()
}

}  // namespace iocpsim

using iocpsim::K;
using iocpsim::Kernel;
using iocpsim::Socket;
using iocpsim::SockState;

namespace {

SOCKET AsSocket(HANDLE h) { return reinterpret_cast<SOCKET>(h); }
HANDLE AsHandle(SOCKET s) { return reinterpret_cast<HANDLE>(s); }

// The socket `s` names in the calling process, or nullptr with
// WSAENOTSOCK (or WSANOTINITIALISED before WSAStartup).
Socket* LookupSocket(Kernel& k, SOCKET s) {
  if (k.current_process()->wsa_started == 0) {
    k.SetError(WSANOTINITIALISED);
    return nullptr;
  }
  iocpsim::Object* o = k.LookupIn(k.current_process(), AsHandle(s));
  if (o == nullptr || o->type != iocpsim::ObjType::kSocket) {
    k.SetError(WSAENOTSOCK);
    return nullptr;
  }
  return static_cast<Socket*>(o);
}

// The Winsock error of a socket call that failed with `error` (what
// ws2_32 reports for the status AFD completed the request with; GQCS and
// GetOverlappedResult report the Win32 error instead).
DWORD WsaError(DWORD error) {
  switch (error) {
    case ERROR_NETNAME_DELETED: return WSAECONNRESET;
    case ERROR_PORT_UNREACHABLE: return WSAECONNRESET;
    case ERROR_CONNECTION_REFUSED: return WSAECONNREFUSED;
    case ERROR_CONNECTION_ABORTED: return WSAECONNABORTED;
    case ERROR_MORE_DATA: return WSAEMSGSIZE;
    default: return error;
  }
}

// The int return of WSARecv and friends from StartOp's BOOL.
int Finish(Kernel& k, BOOL ok) {
  if (ok) return 0;
  k.SetError(WsaError(k.current()->last_error));
  return SOCKET_ERROR;
}

DWORD LastError(Kernel& k, int r) { return r == 0 ? 0 : k.current()->last_error; }

void NotModelled(const char* what) {
  iocpsim::HarnessBug(__FILE__, __LINE__, what);
}

}  // namespace

int WINAPI WSAStartup(WORD version, WSADATA* data) {
  Kernel& k = K();
  k.Yield();
  ++k.current_process()->wsa_started;
  if (data != nullptr) {
    *data = {};
    data->wVersion = version;
    data->wHighVersion = 0x0202;
  }
  return 0;
}

int WINAPI WSACleanup() {
  Kernel& k = K();
  k.Yield();
  if (k.current_process()->wsa_started == 0) {
    k.SetError(WSANOTINITIALISED);
    return SOCKET_ERROR;
  }
  --k.current_process()->wsa_started;
  return 0;
}

int WINAPI WSAGetLastError() { return static_cast<int>(GetLastError()); }
void WINAPI WSASetLastError(int error) { SetLastError(static_cast<DWORD>(error)); }

SOCKET WINAPI WSASocketW(int af, int type, int protocol, void* protocol_info, unsigned group,
                         DWORD flags) {
  Kernel& k = K();
  k.Yield();
  auto fail = [&](DWORD e) {
    k.SetError(e);
    k.Emit(iocpsim::kSocketFmt, {static_cast<uint64_t>(type), ~uint64_t{0}, e});
    return INVALID_SOCKET;
  };
  if (k.current_process()->wsa_started == 0) return fail(WSANOTINITIALISED);
  if (af != AF_INET) return fail(WSAEAFNOSUPPORT);
  if (type != SOCK_STREAM && type != SOCK_DGRAM) return fail(WSAEINVAL);
  if (protocol != 0 && protocol != (type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP)) {
    return fail(WSAEPROTOTYPE);
  }
  auto* s = k.New<Socket>();
  s->stream = type == SOCK_STREAM;
  s->overlapped = (flags & WSA_FLAG_OVERLAPPED) != 0;
  HANDLE h = k.AddHandle(k.current_process(), s, false);
  k.Emit(iocpsim::kSocketFmt, {static_cast<uint64_t>(type), k.HandleValue(h), 0});
  return AsSocket(h);
}

SOCKET WINAPI socket(int af, int type, int protocol) {
  // socket() makes overlapped sockets (MS:socket remarks).
  return WSASocketW(af, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED);
}

int WINAPI bind(SOCKET s, const sockaddr* name, int name_length) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  uint16_t port = 0;
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0) e = iocpsim::ParseAddress(name, name_length, true, &port);
  if (e == 0 && (so->port != 0 || so->state != SockState::kOpen)) e = WSAEINVAL;
  if (e == 0) e = iocpsim::BindTo(k, so, port);
  if (e != 0) k.SetError(e);
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kBindFmt, {static_cast<uint64_t>(s), port, r == 0, e});
  return r;
}

int WINAPI listen(SOCKET s, int backlog) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && !so->stream) e = WSAEOPNOTSUPP;
  if (e == 0 && (so->port == 0 || so->state == SockState::kConnected)) e = WSAEINVAL;
  if (e == 0) {
    // SOMAXCONN and other large values mean "a reasonable maximum"
    // (MS:listen); 200 is Windows' choice for SOMAXCONN.
    so->backlog = backlog <= 0 ? 1 : std::min(backlog, 200);
    so->state = SockState::kListening;
  } else {
    k.SetError(e);
  }
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kListenFmt, {static_cast<uint64_t>(s), r == 0, e});
  return r;
}

SOCKET WINAPI accept(SOCKET s, sockaddr* address, int* address_length) {
  Kernel& k = K();
  k.Yield();
  Socket* l = LookupSocket(k, s);
  DWORD e = l == nullptr ? k.current()->last_error : 0;
  if (e == 0 && l->state != SockState::kListening) e = WSAEINVAL;
  if (e == 0 && l->queue.empty()) {
    k.Block({l}, [l] { return l->state != SockState::kListening || !l->queue.empty(); },
            INFINITE);
    // Closed under a blocked accept: WSAEINTR (MS:Windows Sockets Error Codes).
    if (l->queue.empty()) e = WSAEINTR;
  }
  SOCKET result = INVALID_SOCKET;
  if (e == 0) {
    Socket* c = l->queue.front();
    l->queue.pop_front();
    c->listener = nullptr;
    c->overlapped = true;
    HANDLE h = k.AddHandle(k.current_process(), c, false);
    result = AsSocket(h);
    if (address != nullptr && address_length != nullptr &&
        *address_length >= static_cast<int>(sizeof(sockaddr_in))) {
      iocpsim::WriteAddress(address, c->peer_port);
      *address_length = sizeof(sockaddr_in);
    }
  } else {
    k.SetError(e);
  }
  k.Emit(iocpsim::kAcceptFmt, {static_cast<uint64_t>(s),
                               result == INVALID_SOCKET ? ~uint64_t{0} : result, e});
  return result;
}

int WINAPI connect(SOCKET s, const sockaddr* name, int name_length) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  uint16_t port = 0;
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0) e = iocpsim::ParseAddress(name, name_length, false, &port);
  if (e == 0 && so->state == SockState::kConnected && so->stream) e = WSAEISCONN;
  if (e == 0 && so->state == SockState::kListening) e = WSAEINVAL;
  if (e == 0 && so->port == 0) e = iocpsim::BindTo(k, so, 0);
  if (e == 0) {
    if (!so->stream) {
      // UDP: the default destination for send and the only source recv
      // takes datagrams from.
      so->peer_port = port;
      so->state = SockState::kConnected;
    } else {
      auto& ports = iocpsim::Names(k).tcp;
      auto it = ports.find(port);
      Socket* l = it == ports.end() ? nullptr : it->second;
      if (iocpsim::Accepting(l)) {
        iocpsim::Establish(k, so, l);
      } else {
        e = WSAECONNREFUSED;
      }
    }
  }
  if (e != 0) k.SetError(e);
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kConnectFmt, {static_cast<uint64_t>(s), port, r == 0, e});
  return r;
}

int WINAPI closesocket(SOCKET s) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0) k.CloseIn(k.current_process(), AsHandle(s));
  if (e != 0) k.SetError(e);
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kCloseFmt, {static_cast<uint64_t>(s), r == 0, e});
  return r;
}

int WINAPI shutdown(SOCKET s, int how) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && (how < SD_RECEIVE || how > SD_BOTH)) e = WSAEINVAL;
  if (e == 0 && so->stream && (so->state != SockState::kConnected || so->needs_context)) {
    e = WSAENOTCONN;
  }
  if (e == 0) {
    if (how != SD_RECEIVE && !so->shut_send) {
      so->shut_send = true;
      if (so->stream && so->peer != nullptr) {
        so->peer->eof = true;
        k.Kick(so->peer);
      }
    }
    if (how != SD_SEND) so->shut_recv = true;
  } else {
    k.SetError(e);
  }
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kShutdownFmt, {static_cast<uint64_t>(s), static_cast<uint64_t>(how), r == 0, e});
  return r;
}

int WINAPI setsockopt(SOCKET s, int level, int name, const char* value, int length) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && value == nullptr) e = WSAEFAULT;
  if (e == 0 && level == SOL_SOCKET && name == SO_LINGER) {
    if (length < static_cast<int>(sizeof(linger))) {
      e = WSAEFAULT;
    } else {
      linger l;
      std::memcpy(&l, value, sizeof l);
      so->abortive_close = l.l_onoff != 0 && l.l_linger == 0;
    }
  } else if (e == 0 && level == SOL_SOCKET &&
             (name == SO_UPDATE_ACCEPT_CONTEXT || name == SO_UPDATE_CONNECT_CONTEXT)) {
    // The value is the listening socket (accept) or ignored (connect).
    if (name == SO_UPDATE_ACCEPT_CONTEXT) {
      SOCKET l;
      if (length < static_cast<int>(sizeof l)) {
        e = WSAEFAULT;
      } else {
        std::memcpy(&l, value, sizeof l);
        if (LookupSocket(k, l) == nullptr) e = WSAENOTSOCK;
      }
    }
    if (e == 0 && so->state != SockState::kConnected) e = WSAENOTCONN;
    if (e == 0) so->needs_context = false;
  }
  // Other options are accepted and have no effect here.
  if (e != 0) k.SetError(e);
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kSetOptFmt, {static_cast<uint64_t>(s), static_cast<uint64_t>(level),
                               static_cast<uint64_t>(name), r == 0, e});
  return r;
}

int WINAPI getsockopt(SOCKET s, int level, int name, char* value, int* length) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && (value == nullptr || length == nullptr || *length < 4)) e = WSAEFAULT;
  if (e == 0) {
    if (level == SOL_SOCKET && name == SO_ERROR) {
      int zero = 0;
      std::memcpy(value, &zero, sizeof zero);
      *length = sizeof zero;
    } else {
      e = WSAENOPROTOOPT;
    }
  }
  if (e != 0) k.SetError(e);
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kGetOptFmt, {static_cast<uint64_t>(s), static_cast<uint64_t>(level),
                               static_cast<uint64_t>(name), r == 0, e});
  return r;
}

namespace {

int NameOf(SOCKET s, sockaddr* name, int* length, bool peer) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  uint16_t port = 0;
  if (e == 0) {
    if (peer) {
      bool connected = so->state == SockState::kConnected && !so->needs_context;
      if (!connected || so->peer_port == 0) e = WSAENOTCONN;
      port = so->peer_port;
    } else {
      // Unbound: WSAEINVAL (MS:getsockname).
      if (so->port == 0) e = WSAEINVAL;
      port = so->port;
    }
  }
  if (e == 0 && (name == nullptr || length == nullptr ||
                 *length < static_cast<int>(sizeof(sockaddr_in)))) {
    e = WSAEFAULT;
  }
  if (e == 0) {
    iocpsim::WriteAddress(name, port);
    *length = sizeof(sockaddr_in);
  } else {
    k.SetError(e);
  }
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(peer ? iocpsim::kPeerFmt : iocpsim::kNameFmt,
         {static_cast<uint64_t>(s), r == 0, e == 0 ? port : 0u, e});
  return r;
}

}  // namespace

int WINAPI getsockname(SOCKET s, sockaddr* name, int* length) { return NameOf(s, name, length, false); }
int WINAPI getpeername(SOCKET s, sockaddr* name, int* length) { return NameOf(s, name, length, true); }

int WINAPI WSAIoctl(SOCKET s, DWORD code, LPVOID in, DWORD in_length, LPVOID out,
                    DWORD out_length, LPDWORD returned, LPWSAOVERLAPPED overlapped,
                    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && overlapped != nullptr) NotModelled("an overlapped WSAIoctl is not modelled");
  if (e == 0 && code != SIO_GET_EXTENSION_FUNCTION_POINTER) e = WSAEOPNOTSUPP;
  if (e == 0 && (in == nullptr || in_length < sizeof(GUID) || out == nullptr ||
                 out_length < sizeof(void*))) {
    e = WSAEFAULT;
  }
  if (e == 0) {
    void* fn = nullptr;
    if (std::memcmp(in, &WSAID_ACCEPTEX, sizeof(GUID)) == 0) {
      fn = reinterpret_cast<void*>(&AcceptEx);
    } else if (std::memcmp(in, &WSAID_CONNECTEX, sizeof(GUID)) == 0) {
      fn = reinterpret_cast<void*>(&ConnectEx);
    } else {
      e = WSAEINVAL;
    }
    if (fn != nullptr) {
      std::memcpy(out, &fn, sizeof fn);
      if (returned != nullptr) *returned = sizeof fn;
    }
  }
  if (e != 0) k.SetError(e);
  int r = e == 0 ? 0 : SOCKET_ERROR;
  k.Emit(iocpsim::kIoctlFmt, {static_cast<uint64_t>(s), code, r == 0, e});
  return r;
}

namespace {

// Checks shared by the receives: 0 or the WSA error of a call refused
// before any request is made.
DWORD CheckReceive(const Socket* so) {
  if (so->stream) {
    if (so->state != SockState::kConnected) return WSAENOTCONN;
  } else if (so->port == 0) {
    return WSAEINVAL;  // an unbound UDP socket cannot receive (MS:WSARecvFrom)
  }
  if (so->shut_recv) return WSAESHUTDOWN;
  return 0;
}

iocpsim::Op* IssueReceive(Kernel& k, iocpsim::OpType type, Socket* so, SOCKET s,
                          LPWSABUF buffers, DWORD count, LPWSAOVERLAPPED overlapped) {
  DWORD total = 0;
  for (DWORD i = 0; i < count; ++i) total += buffers[i].len;
  iocpsim::Op* op = k.IssueOp(type, so, AsHandle(s), overlapped, buffers[0].buf,
                              count == 1 ? buffers[0].len : total);
  // The WSABUF array is captured at issue (MS:WSARecv: it may be freed
  // once the call returns).
  if (count > 1) {
    for (DWORD i = 0; i < count; ++i) op->scatter.emplace_back(buffers[i].buf, buffers[i].len);
  }
  return op;
}

}  // namespace

int WINAPI WSARecv(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags,
                   LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  Kernel& k = K();
  k.Yield();
  if (routine != nullptr) NotModelled("completion routines are not modelled");
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && (buffers == nullptr || count == 0 || flags == nullptr)) e = WSAEFAULT;
  if (e == 0) e = CheckReceive(so);
  if (e != 0) {
    k.SetError(e);
    k.Emit(iocpsim::kRecvFmt, {static_cast<uint64_t>(s), 0, 0, 0, 0, e});
    return SOCKET_ERROR;
  }
  iocpsim::Op* op = IssueReceive(k, iocpsim::OpType::kRecv, so, s, buffers, count, overlapped);
  uint64_t id = op->id;
  DWORD size = op->size;
  int r = Finish(k, k.StartOp(op, received));
  if (r == 0) *flags = 0;
  k.Emit(iocpsim::kRecvFmt, {static_cast<uint64_t>(s), id, size, r == 0,
                             r == 0 && received ? *received : 0, LastError(k, r)});
  return r;
}

int WINAPI WSARecvFrom(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags,
                       sockaddr* from, LPINT from_length, LPWSAOVERLAPPED overlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  Kernel& k = K();
  k.Yield();
  if (routine != nullptr) NotModelled("completion routines are not modelled");
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && (buffers == nullptr || count == 0 || flags == nullptr)) e = WSAEFAULT;
  if (e == 0 && from != nullptr && (from_length == nullptr ||
                                    *from_length < static_cast<int>(sizeof(sockaddr_in)))) {
    e = WSAEFAULT;
  }
  if (e == 0) e = CheckReceive(so);
  if (e != 0) {
    k.SetError(e);
    k.Emit(iocpsim::kRecvFromFmt, {static_cast<uint64_t>(s), 0, 0, 0, 0, e});
    return SOCKET_ERROR;
  }
  iocpsim::Op* op = IssueReceive(k, iocpsim::OpType::kRecvFrom, so, s, buffers, count, overlapped);
  op->from = from;
  op->from_length = from_length;
  uint64_t id = op->id;
  DWORD size = op->size;
  int r = Finish(k, k.StartOp(op, received));
  if (r == 0) *flags = 0;
  k.Emit(iocpsim::kRecvFromFmt, {static_cast<uint64_t>(s), id, size, r == 0,
                                 r == 0 && received ? *received : 0, LastError(k, r)});
  return r;
}

namespace {

std::string Gather(LPWSABUF buffers, DWORD count) {
  std::string bytes;
  for (DWORD i = 0; i < count; ++i) bytes.append(buffers[i].buf, buffers[i].len);
  return bytes;
}

// A datagram from `so` to `port`: queued there, dropped when its buffer is
// full, or answered with an ICMP port unreachable when nobody is bound.
void SendDatagram(Kernel& k, Socket* so, uint16_t port, std::string bytes) {
  auto& ports = iocpsim::Names(k).udp;
  auto it = ports.find(port);
  if (it == ports.end()) return iocpsim::UnreachableComesBack(k, so, port);
  Socket* to = it->second;
  // A connected UDP socket takes datagrams from its peer only.
  if (to->state == SockState::kConnected && to->peer_port != so->port) return;
  if (to->Unread() + bytes.size() > iocpsim::kReceiveBuffer) return;
  to->received += bytes.size();
  to->inbox.push_back(std::move(bytes));
  to->inbox_from.push_back(so->port);
  k.Kick(to);
}

// Queues the bytes of a send at issue; returns the op.
iocpsim::Op* IssueSend(Kernel& k, iocpsim::OpType type, Socket* so, SOCKET s, LPWSABUF buffers,
                       DWORD count, LPWSAOVERLAPPED overlapped, uint16_t to_port) {
  std::string bytes = Gather(buffers, count);
  DWORD size = static_cast<DWORD>(bytes.size());
  iocpsim::Op* op = k.IssueOp(type, so, AsHandle(s), overlapped,
                              count > 0 ? buffers[0].buf : nullptr, size);
  op->to_port = to_port;
  if (!so->stream) {
    SendDatagram(k, so, to_port, std::move(bytes));
  } else if (!so->reset) {
    if (so->peer != nullptr) {
      Socket* p = so->peer;
      if (size > 0) p->inbox.push_back(std::move(bytes));
      p->received += size;
      op->write_end = p->received;
      k.Kick(p);
    } else if (size > 0) {
      iocpsim::ResetComesBack(k, so);
    }
  }
  return op;
}

}  // namespace

int WINAPI WSASend(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent, DWORD flags,
                   LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  Kernel& k = K();
  k.Yield();
  if (routine != nullptr) NotModelled("completion routines are not modelled");
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && buffers == nullptr && count > 0) e = WSAEFAULT;
  if (e == 0 && so->state != SockState::kConnected) e = WSAENOTCONN;
  if (e == 0 && so->shut_send) e = WSAESHUTDOWN;
  if (e != 0) {
    k.SetError(e);
    k.Emit(iocpsim::kSendFmt, {static_cast<uint64_t>(s), 0, 0, 0, 0, e});
    return SOCKET_ERROR;
  }
  iocpsim::Op* op =
      IssueSend(k, iocpsim::OpType::kSend, so, s, buffers, count, overlapped, so->peer_port);
  uint64_t id = op->id;
  DWORD size = op->size;
  int r = Finish(k, k.StartOp(op, sent));
  k.Emit(iocpsim::kSendFmt, {static_cast<uint64_t>(s), id, size, r == 0,
                             r == 0 && sent ? *sent : 0, LastError(k, r)});
  return r;
}

int WINAPI WSASendTo(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent, DWORD flags,
                     const sockaddr* to, int to_length, LPWSAOVERLAPPED overlapped,
                     LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  Kernel& k = K();
  k.Yield();
  if (routine != nullptr) NotModelled("completion routines are not modelled");
  Socket* so = LookupSocket(k, s);
  uint16_t port = 0;
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0 && so->stream) NotModelled("WSASendTo on a TCP socket is not modelled");
  if (e == 0 && buffers == nullptr && count > 0) e = WSAEFAULT;
  if (e == 0) e = iocpsim::ParseAddress(to, to_length, false, &port);
  if (e == 0) {
    size_t n = 0;
    for (DWORD i = 0; i < count; ++i) n += buffers[i].len;
    if (n > iocpsim::kMaxDatagram) e = WSAEMSGSIZE;
  }
  if (e == 0 && so->shut_send) e = WSAESHUTDOWN;
  // An unbound socket is bound to an ephemeral port by its first send
  // (MS:sendto remarks).
  if (e == 0 && so->port == 0) e = iocpsim::BindTo(k, so, 0);
  if (e != 0) {
    k.SetError(e);
    k.Emit(iocpsim::kSendToFmt, {static_cast<uint64_t>(s), 0, 0, port, 0, 0, e});
    return SOCKET_ERROR;
  }
  iocpsim::Op* op = IssueSend(k, iocpsim::OpType::kSendTo, so, s, buffers, count, overlapped, port);
  uint64_t id = op->id;
  DWORD size = op->size;
  int r = Finish(k, k.StartOp(op, sent));
  k.Emit(iocpsim::kSendToFmt, {static_cast<uint64_t>(s), id, size, port, r == 0,
                               r == 0 && sent ? *sent : 0, LastError(k, r)});
  return r;
}

BOOL WINAPI AcceptEx(SOCKET listener, SOCKET accepted, PVOID buffer, DWORD receive_length,
                     DWORD local_address_length, DWORD remote_address_length, LPDWORD received,
                     LPOVERLAPPED overlapped) {
  Kernel& k = K();
  k.Yield();
  if (receive_length != 0) NotModelled("AcceptEx receiving data is not modelled");
  Socket* l = LookupSocket(k, listener);
  Socket* a = l == nullptr ? nullptr : LookupSocket(k, accepted);
  DWORD e = a == nullptr ? k.current()->last_error : 0;
  if (e == 0 && l->state != SockState::kListening) e = WSAEINVAL;
  // The accept socket must be a fresh, unbound, unconnected TCP socket
  // (MS:AcceptEx).
  if (e == 0 && (!a->stream || a->state != SockState::kOpen || a->port != 0)) e = WSAEINVAL;
  if (e == 0 && overlapped == nullptr) e = WSAEINVAL;
  if (e == 0 && local_address_length < sizeof(sockaddr_in) + 16) e = WSAEINVAL;
  if (e == 0 && remote_address_length < sizeof(sockaddr_in) + 16) e = WSAEINVAL;
  if (e != 0) {
    k.SetError(e);
    k.Emit(iocpsim::kAcceptExFmt, {static_cast<uint64_t>(listener),
                                   static_cast<uint64_t>(accepted), 0, 0, e});
    return FALSE;
  }
  // The request is the listener's: its packet carries the listener's key
  // (WIN32-MODEL.md "Sockets").
  iocpsim::Op* op = k.IssueOp(iocpsim::OpType::kAccept, l, AsHandle(listener), overlapped, buffer,
                              local_address_length);
  op->accept_into = a;
  uint64_t id = op->id;
  BOOL ok = k.StartOp(op, received);
  if (!ok) k.SetError(WsaError(k.current()->last_error));
  k.Emit(iocpsim::kAcceptExFmt, {static_cast<uint64_t>(listener), static_cast<uint64_t>(accepted),
                                 id, static_cast<uint64_t>(ok), ok ? 0 : k.current()->last_error});
  return ok;
}

BOOL WINAPI ConnectEx(SOCKET s, const sockaddr* name, int name_length, PVOID send_buffer,
                      DWORD send_length, LPDWORD sent, LPOVERLAPPED overlapped) {
  Kernel& k = K();
  k.Yield();
  if (send_length != 0) NotModelled("ConnectEx sending data is not modelled");
  Socket* so = LookupSocket(k, s);
  uint16_t port = 0;
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0) e = iocpsim::ParseAddress(name, name_length, false, &port);
  if (e == 0 && !so->stream) e = WSAEINVAL;
  if (e == 0 && so->state == SockState::kConnected) e = WSAEISCONN;
  // The socket must be bound first (MS:ConnectEx).
  if (e == 0 && (so->port == 0 || so->state != SockState::kOpen)) e = WSAEINVAL;
  if (e == 0 && overlapped == nullptr) e = WSAEINVAL;
  if (e != 0) {
    k.SetError(e);
    k.Emit(iocpsim::kConnectExFmt, {static_cast<uint64_t>(s), port, 0, 0, e});
    return FALSE;
  }
  iocpsim::Op* op = k.IssueOp(iocpsim::OpType::kConnectEx, so, AsHandle(s), overlapped, nullptr, 0);
  op->to_port = port;
  uint64_t id = op->id;
  BOOL ok = k.StartOp(op, sent);
  if (!ok) k.SetError(WsaError(k.current()->last_error));
  k.Emit(iocpsim::kConnectExFmt, {static_cast<uint64_t>(s), port, id, static_cast<uint64_t>(ok),
                                  ok ? 0 : k.current()->last_error});
  return ok;
}
