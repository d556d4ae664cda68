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
#include "sim/socket.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace iocpsim {

namespace {
constexpr TraceFormat kResetFmt{"tcp-reset-arrives", "socket#%u"};
constexpr TraceFormat kIcmpFmt{"icmp-port-unreachable-arrives", "socket#%u port=%u"};
}  // namespace

void DeleteSocketNamespace(SocketNamespace* ns) { delete ns; }

namespace {

std::map<uint16_t, Socket*>& Ports(Kernel& k, const Socket* s) {
  return s->stream ? Names(k).tcp : Names(k).udp;
}

void Unbind(Kernel& k, Socket* s) {
  auto& ports = Ports(k, s);
  auto it = ports.find(s->port);
  if (it != ports.end() && it->second == s) ports.erase(it);
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
        s->inbox.erase(s->inbox.begin());
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

SocketNamespace& Names(Kernel& k) {
  if (k.sockets == nullptr) k.sockets = new SocketNamespace;  // freed by ~Kernel
  return *k.sockets;
}

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
        inbox.erase(inbox.begin());
        inbox_from.erase(inbox_from.begin());
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
      queue.erase(queue.begin());
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
  for (Op* op : OpList(ops)) {
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
