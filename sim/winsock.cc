// The Winsock entry points (sim/winsock.h) over the kernel's socket
// driver (sim/socket.h): argument checks, WSA errors, the trace, and the
// operations handed to the kernel.
#include <string>

#include "sim/socket.h"

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
}  // namespace
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

// A call's return for WSA error `e`: 0, or SOCKET_ERROR with
// WSAGetLastError() == e.
int Result(Kernel& k, DWORD e) {
  if (e == 0) return 0;
  k.SetError(e);
  return SOCKET_ERROR;
}

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
  int r = Result(k, e);
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
  }
  int r = Result(k, e);
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
    l->queue.erase(l->queue.begin());
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
  int r = Result(k, e);
  k.Emit(iocpsim::kConnectFmt, {static_cast<uint64_t>(s), port, r == 0, e});
  return r;
}

int WINAPI closesocket(SOCKET s) {
  Kernel& k = K();
  k.Yield();
  Socket* so = LookupSocket(k, s);
  DWORD e = so == nullptr ? k.current()->last_error : 0;
  if (e == 0) k.CloseIn(k.current_process(), AsHandle(s));
  int r = Result(k, e);
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
  }
  int r = Result(k, e);
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
  int r = Result(k, e);
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
  int r = Result(k, e);
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
  }
  int r = Result(k, e);
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
  int r = Result(k, e);
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

namespace {

// WSARecv and WSARecvFrom (`from` null for WSARecv): the checks, the
// operation, the trace.
int Receive(const iocpsim::TraceFormat& fmt, iocpsim::OpType type, SOCKET s, LPWSABUF buffers,
            DWORD count, LPDWORD received, LPDWORD flags, sockaddr* from, LPINT from_length,
            LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
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
    k.Emit(fmt, {static_cast<uint64_t>(s), 0, 0, 0, 0, e});
    return SOCKET_ERROR;
  }
  iocpsim::Op* op = IssueReceive(k, type, so, s, buffers, count, overlapped);
  op->from = from;
  op->from_length = from_length;
  uint64_t id = op->id;
  DWORD size = op->size;
  int r = Finish(k, k.StartOp(op, received));
  if (r == 0) *flags = 0;
  k.Emit(fmt, {static_cast<uint64_t>(s), id, size, r == 0, r == 0 && received ? *received : 0,
               LastError(k, r)});
  return r;
}

}  // namespace

int WINAPI WSARecv(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags,
                   LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  return Receive(iocpsim::kRecvFmt, iocpsim::OpType::kRecv, s, buffers, count, received, flags,
                 nullptr, nullptr, overlapped, routine);
}

int WINAPI WSARecvFrom(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags,
                       sockaddr* from, LPINT from_length, LPWSAOVERLAPPED overlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  return Receive(iocpsim::kRecvFromFmt, iocpsim::OpType::kRecvFrom, s, buffers, count, received,
                 flags, from, from_length, overlapped, routine);
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

