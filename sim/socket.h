// The kernel's socket driver (sim/socket.cc) and what the Winsock entry
// points (sim/winsock.cc) use of it. Internal to the kernel: programs see
// sim/winsock.h.
#ifndef IOCPSIM_SIM_SOCKET_H_
#define IOCPSIM_SIM_SOCKET_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sim/kernel.h"
#include "sim/winsock.h"

namespace iocpsim {


// The default receive buffer (SO_RCVBUF) of a loopback socket; the send
// window of a connection and the datagram queue of a UDP socket.
constexpr uint64_t kReceiveBuffer = 65536;
// The largest UDP payload over IPv4.
constexpr DWORD kMaxDatagram = 65507;
// Ephemeral ports: Windows' dynamic range starts at 49152 (MS KB 929851).
constexpr uint16_t kFirstEphemeral = 49152;

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
  // The queues here hold a few entries: vectors popped at the front, since
  // a std::deque allocates two blocks when made, for every socket of a run.
  std::vector<std::string> inbox;
  size_t inbox_off = 0;    // into inbox.front()
  std::vector<uint16_t> inbox_from;
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
  std::vector<Socket*> queue;  // connections made, not accepted yet
  // A server endpoint still in its listener's queue (no handle yet).
  Socket* listener = nullptr;
};

struct SocketNamespace {
  std::map<uint16_t, Socket*> tcp, udp;  // bound ports
  uint16_t next_ephemeral = kFirstEphemeral;
};

// The bound ports of the simulation (created on first use).
SocketNamespace& Names(Kernel& k);
// Binds `s` to `port` (0: the next free ephemeral port); 0 or a WSA error.
DWORD BindTo(Kernel& k, Socket* s, uint16_t port);
// An IPv4 loopback address's port; 0 or a WSA error. `any_ok`: INADDR_ANY
// is accepted (bind), else only 127.0.0.1.
DWORD ParseAddress(const sockaddr* name, int length, bool any_ok, uint16_t* port);
// 127.0.0.1:`port` as a sockaddr_in at `out`.
void WriteAddress(void* out, uint16_t port);
// A reset comes back to `s` (it sent to a peer that has closed).
void ResetComesBack(Kernel& k, Socket* s);
// An ICMP port unreachable comes back to `s` (a datagram to `port`).
void UnreachableComesBack(Kernel& k, Socket* s, uint16_t port);
// A connection from `client` to `listener`: the server's endpoint, queued
// until it is accepted.
void Establish(Kernel& k, Socket* client, Socket* listener);
// Whether `l` listens and has room in its backlog.
bool Accepting(const Socket* l);

}  // namespace iocpsim

#endif  // IOCPSIM_SIM_SOCKET_H_
