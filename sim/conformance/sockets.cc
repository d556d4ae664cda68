// The conformance checks of WIN32-MODEL.md: sockets (loopback TCP and UDP).
// See main.cc.
#include <cstring>
#include <string>
#include <vector>

#include "sim/conformance/conformance.h"
#include "sim/winsock.h"

namespace iocpsim::conformance {
namespace {

sockaddr_in Loopback(unsigned short port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

const sockaddr* Sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

SOCKET Tcp() { return WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED); }
SOCKET Udp() { return WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_OVERLAPPED); }

unsigned short PortOf(SOCKET s) {
  sockaddr_in a{};
  int n = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  return ntohs(a.sin_port);
}

void Associate(SOCKET s, HANDLE port, ULONG_PTR key) {
  CreateIoCompletionPort(reinterpret_cast<HANDLE>(s), port, key, 0);
}

// An int-returning Winsock call's result: "0", or "SOCKET_ERROR/<error>".
std::string W(int r) { return r == 0 ? "0" : "SOCKET_ERROR/" + Err(static_cast<DWORD>(WSAGetLastError())); }

SOCKET Listener() {
  SOCKET l = Tcp();
  sockaddr_in a = Loopback(0);
  bind(l, Sa(a), sizeof a);
  listen(l, 16);
  return l;
}

// A connected TCP pair as socket.socketpair() builds it: connect, accept.
struct TcpPair {
  SOCKET client;
  SOCKET server;
  void Close() {
    if (client != INVALID_SOCKET) closesocket(client);
    if (server != INVALID_SOCKET) closesocket(server);
  }
};

TcpPair MakeTcpPair() {
  SOCKET l = Listener();
  SOCKET c = Tcp();
  sockaddr_in to = Loopback(PortOf(l));
  connect(c, Sa(to), sizeof to);
  SOCKET s = accept(l, nullptr, nullptr);
  closesocket(l);
  return {c, s};
}

// A WSARecv that must go pending; its OVERLAPPED has an event (for
// AwaitCompletion).
bool PendingRecv(SOCKET s, char* buf, ULONG size, OVERLAPPED* ov) {
  WSABUF b{size, buf};
  DWORD flags = 0;
  return WSARecv(s, &b, 1, nullptr, &flags, ov, nullptr) == SOCKET_ERROR &&
         WSAGetLastError() == static_cast<int>(WSA_IO_PENDING);
}

std::string Recv(SOCKET s, char* buf, ULONG size, OVERLAPPED* ov) {
  WSABUF b{size, buf};
  DWORD flags = 0, n = 0;
  int r = WSARecv(s, &b, 1, &n, &flags, ov, nullptr);
  return r == 0 ? Fmt("0 bytes=%lu", static_cast<unsigned long>(n)) : W(r);
}

std::string Send(SOCKET s, const char* data, OVERLAPPED* ov) {
  WSABUF b{static_cast<ULONG>(std::strlen(data)), const_cast<char*>(data)};
  DWORD n = 0;
  return W(WSASend(s, &b, 1, &n, 0, ov, nullptr));
}

template <class Fn>
Fn Extension(SOCKET s, GUID guid) {
  Fn fn = nullptr;
  DWORD n = 0;
  WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &fn, sizeof fn, &n, nullptr,
           nullptr);
  return fn;
}

// ---- Checks --------------------------------------------------------------------

void GracefulClose() {
  TcpPair p = MakeTcpPair();
  HANDLE port = NewPort();
  Associate(p.server, port, 5);
  OVERLAPPED r{};
  char buf[8];
  bool pending = PendingRecv(p.server, buf, sizeof buf, &r);
  closesocket(p.client);
  p.client = INVALID_SOCKET;
  Check("sock.graceful-close-zero-bytes",
        Fmt("pending=%d ", pending) + Packet(port, kWaitMs, {{&r, "r"}}));
  p.Close();
  CloseHandle(port);
}

void PeerReset() {
  TcpPair p = MakeTcpPair();
  HANDLE port = NewPort();
  Associate(p.server, port, 5);
  OVERLAPPED r{}, r2{};
  char buf[8];
  bool pending = PendingRecv(p.server, buf, sizeof buf, &r);
  linger l{1, 0};
  setsockopt(p.client, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l);
  closesocket(p.client);
  p.client = INVALID_SOCKET;
  std::string pkt = Packet(port, kWaitMs, {{&r, "r"}});
  std::string again = Recv(p.server, buf, sizeof buf, &r2);
  Check("sock.peer-reset", Fmt("pending=%d ", pending) + pkt + " WSARecv-after=" + again +
                               " then " + Packet(port, 0));
  p.Close();
  CloseHandle(port);
}

void CloseWithUnreadData() {
  TcpPair p = MakeTcpPair();
  OVERLAPPED w{}, r{};
  w.hEvent = NewEvent();
  r.hEvent = NewEvent();
  Send(p.client, "unread", &w);
  AwaitCompletion(w);
  ::Sleep(50);  // the bytes reach the server's buffer
  closesocket(p.server);  // never read: a reset
  p.server = INVALID_SOCKET;
  ::Sleep(50);
  char buf[8];
  Check("sock.close-with-unread-data-resets-peer", "WSARecv=" + Recv(p.client, buf, sizeof buf, &r));
  CloseHandle(w.hEvent);
  CloseHandle(r.hEvent);
  p.Close();
}

void OwnCloseAndCancel() {
  TcpPair p = MakeTcpPair();
  HANDLE port = NewPort();
  Associate(p.server, port, 5);
  OVERLAPPED a{}, b{};
  char buf1[8], buf2[8];
  bool pa = PendingRecv(p.server, buf1, sizeof buf1, &a);
  std::string cancel = R(CancelIoEx(reinterpret_cast<HANDLE>(p.server), &a));
  std::string pkt_a = Packet(port, kWaitMs, {{&a, "a"}});
  bool pb = PendingRecv(p.server, buf2, sizeof buf2, &b);
  closesocket(p.server);
  p.server = INVALID_SOCKET;
  std::string pkt_b = Packet(port, kWaitMs, {{&b, "b"}});
  Check("sock.cancel-and-close-abort-pending-recv",
        Fmt("pending=%d,%d CancelIoEx=", pa, pb) + cancel + " " + pkt_a + " close: " + pkt_b);
  p.Close();
  CloseHandle(port);
}

void AcceptExListenerKey() {
  SOCKET l = Listener();
  HANDLE port = NewPort();
  Associate(l, port, 11);
  SOCKET a = Tcp();
  Associate(a, port, 12);
  auto accept_ex = Extension<LPFN_ACCEPTEX>(l, WSAID_ACCEPTEX);
  char addresses[2 * (sizeof(sockaddr_in) + 16)];
  OVERLAPPED ov{};
  DWORD n = 0;
  std::string issued = R(accept_ex(l, a, addresses, 0, sizeof(sockaddr_in) + 16,
                                   sizeof(sockaddr_in) + 16, &n, &ov));
  SOCKET c = Tcp();
  sockaddr_in to = Loopback(PortOf(l));
  std::string conn = W(connect(c, Sa(to), sizeof to));
  std::string pkt = Packet(port, kWaitMs, {{&ov, "ov"}});
  sockaddr_in peer{};
  int len = sizeof peer;
  std::string before = W(getpeername(a, reinterpret_cast<sockaddr*>(&peer), &len));
  std::string update = W(setsockopt(a, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                                    reinterpret_cast<const char*>(&l), sizeof l));
  len = sizeof peer;
  std::string after = W(getpeername(a, reinterpret_cast<sockaddr*>(&peer), &len));
  Check("sock.acceptex-completes-with-listener-key",
        "AcceptEx=" + issued + " connect=" + conn + " " + pkt + " getpeername=" + before +
            " update=" + update + " getpeername=" + after +
            Fmt(" peer-is-client=%d", ntohs(peer.sin_port) == PortOf(c)));
  closesocket(c);
  closesocket(a);
  closesocket(l);
  CloseHandle(port);
}

void ConnectExPacket() {
  SOCKET l = Listener();
  HANDLE port = NewPort();
  SOCKET plain = Tcp();
  Associate(plain, port, 21);
  sockaddr_in to = Loopback(PortOf(l));
  std::string plain_connect = W(connect(plain, Sa(to), sizeof to));
  std::string after_plain = Packet(port, 0);
  SOCKET c = Tcp();
  Associate(c, port, 22);
  auto connect_ex = Extension<LPFN_CONNECTEX>(c, WSAID_CONNECTEX);
  OVERLAPPED ov{};
  DWORD sent = 0;
  std::string unbound = R(connect_ex(c, Sa(to), sizeof to, nullptr, 0, &sent, &ov));
  sockaddr_in zero = Loopback(0);
  bind(c, Sa(zero), sizeof zero);
  BOOL ok = connect_ex(c, Sa(to), sizeof to, nullptr, 0, &sent, &ov);
  std::string issued = ok ? "TRUE" : "FALSE/" + Err(GetLastError());
  std::string pkt = Packet(port, kWaitMs, {{&ov, "ov"}});
  Check("sock.connectex-queues-a-packet-connect-does-not",
        "connect=" + plain_connect + " then " + after_plain + " ConnectEx-unbound=" + unbound +
            " ConnectEx=" + (issued == "FALSE/ERROR_IO_PENDING" || issued == "TRUE" ? "ok" : issued) +
            " " + pkt);
  closesocket(c);
  closesocket(plain);
  closesocket(l);
  CloseHandle(port);
}

void ConnectExRefused() {
  SOCKET l = Listener();
  unsigned short closed_port = PortOf(l);
  closesocket(l);  // nobody listens there now
  HANDLE port = NewPort();
  SOCKET c = Tcp();
  Associate(c, port, 23);
  sockaddr_in zero = Loopback(0);
  bind(c, Sa(zero), sizeof zero);
  auto connect_ex = Extension<LPFN_CONNECTEX>(c, WSAID_CONNECTEX);
  OVERLAPPED ov{};
  DWORD sent = 0;
  sockaddr_in to = Loopback(closed_port);
  BOOL ok = connect_ex(c, Sa(to), sizeof to, nullptr, 0, &sent, &ov);
  std::string issued = ok ? "TRUE" : "FALSE/" + Err(GetLastError());
  std::string result = issued == "FALSE/ERROR_IO_PENDING" ? Packet(port, kWaitMs, {{&ov, "ov"}})
                                                          : "ConnectEx=" + issued;
  Check("sock.connectex-refused", result);
  closesocket(c);
  CloseHandle(port);
}

void AcceptExClosedListener() {
  SOCKET l = Listener();
  HANDLE port = NewPort();
  Associate(l, port, 31);
  SOCKET a = Tcp();
  auto accept_ex = Extension<LPFN_ACCEPTEX>(l, WSAID_ACCEPTEX);
  char addresses[64];
  OVERLAPPED ov{};
  DWORD n = 0;
  std::string issued = R(accept_ex(l, a, addresses, 0, 32, 32, &n, &ov));
  closesocket(l);
  Check("sock.acceptex-on-closed-listener",
        "AcceptEx=" + issued + " " + Packet(port, kWaitMs, {{&ov, "ov"}}));
  closesocket(a);
  CloseHandle(port);
}

void UdpPortUnreachable() {
  SOCKET u = Udp();
  HANDLE port = NewPort();
  Associate(u, port, 41);
  SOCKET gone = Udp();
  sockaddr_in zero = Loopback(0);
  bind(gone, Sa(zero), sizeof zero);
  sockaddr_in nobody = Loopback(PortOf(gone));
  closesocket(gone);  // a port nobody has bound now
  WSABUF b{4, const_cast<char*>("ping")};
  DWORD sent = 0;
  OVERLAPPED s1{};
  std::string send1 = W(WSASendTo(u, &b, 1, &sent, 0, Sa(nobody), sizeof nobody, &s1, nullptr));
  std::string send1_pkt = Packet(port, kWaitMs, {{&s1, "send"}});
  char buf[16];
  WSABUF rb{sizeof buf, buf};
  DWORD flags = 0, got = 0;
  sockaddr_in from{};
  int from_len = sizeof from;
  OVERLAPPED r{};
  int rr = WSARecvFrom(u, &rb, 1, &got, &flags, reinterpret_cast<sockaddr*>(&from), &from_len, &r,
                       nullptr);
  std::string recv = rr == 0 ? "0" : W(rr);
  std::string recv_pkt = recv == "SOCKET_ERROR/ERROR_IO_PENDING" ? Packet(port, kWaitMs, {{&r, "r"}})
                                                                 : "-";
  Check("sock.udp-port-unreachable", "WSASendTo=" + send1 + " " + send1_pkt + " WSARecvFrom=" +
                                         recv + " " + recv_pkt);
  closesocket(u);
  CloseHandle(port);
}

}  // namespace

void RunSocketChecks() {
  WSADATA data;
  if (WSAStartup(0x0202, &data) != 0) {
    Check("sock.startup", "WSAStartup failed");
    return;
  }
  GracefulClose();
  PeerReset();
  CloseWithUnreadData();
  OwnCloseAndCancel();
  AcceptExListenerKey();
  ConnectExPacket();
  ConnectExRefused();
  AcceptExClosedListener();
  UdpPortUnreachable();
  WSACleanup();
}

}  // namespace iocpsim::conformance
