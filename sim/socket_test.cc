// WIN32-MODEL.md, "Sockets": one case per statement, and the loopback
// behaviour the proactor relies on (sim/socket.cc).
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "sim/test_util.h"
#include "sim/winsock.h"

namespace iocpsim {
namespace {

using testing::Dequeue;
using testing::NewPort;
using testing::RunClean;

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

const sockaddr* Sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

void Startup() {
  WSADATA data;
  REQUIRE(WSAStartup(0x0202, &data) == 0);
}

SOCKET Tcp() { return WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED); }
SOCKET Udp() { return WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_OVERLAPPED); }

uint16_t PortOf(SOCKET s) {
  sockaddr_in a{};
  int n = sizeof a;
  if (getsockname(s, reinterpret_cast<sockaddr*>(&a), &n) != 0) return 0;
  return ntohs(a.sin_port);
}

// A listener on an ephemeral loopback port.
SOCKET Listener() {
  SOCKET l = Tcp();
  sockaddr_in any = Loopback(0);
  CHECK(bind(l, Sa(any), sizeof any) == 0);
  CHECK(listen(l, SOMAXCONN) == 0);
  return l;
}

// A TCP socket connected (plain connect()) to the listener `l`.
SOCKET ConnectedTo(SOCKET l) {
  SOCKET c = Tcp();
  sockaddr_in to = Loopback(PortOf(l));
  CHECK(connect(c, Sa(to), sizeof to) == 0);
  return c;
}

struct TcpPair {
  SOCKET client;
  SOCKET server;
};

// Connected with connect() and accept(), as socket.socketpair() does on
// Windows (Lib/socket.py): listener on 127.0.0.1:0, connect, accept, close
// the listener.
TcpPair SocketPair() {
  SOCKET l = Listener();
  SOCKET c = ConnectedTo(l);
  SOCKET s = accept(l, nullptr, nullptr);
  CHECK(s != INVALID_SOCKET);
  closesocket(l);
  return {c, s};
}

void Associate(SOCKET s, HANDLE port, ULONG_PTR key) {
  CHECK(CreateIoCompletionPort(reinterpret_cast<HANDLE>(s), port, key, 0) == port);
}

int Recv(SOCKET s, char* buf, DWORD n, OVERLAPPED* ov, DWORD* got = nullptr) {
  WSABUF b{n, buf};
  DWORD flags = 0, bytes = 0;
  int r = WSARecv(s, &b, 1, got ? got : &bytes, &flags, ov, nullptr);
  return r;
}

int Send(SOCKET s, const std::string& data, OVERLAPPED* ov) {
  WSABUF b{static_cast<ULONG>(data.size()), const_cast<char*>(data.data())};
  DWORD sent = 0;
  return WSASend(s, &b, 1, &sent, 0, ov, nullptr);
}

TEST_CASE("Socket calls before WSAStartup fail with WSANOTINITIALISED") {
  RunClean([] {
    CHECK(Tcp() == INVALID_SOCKET);
    CHECK(WSAGetLastError() == static_cast<int>(WSANOTINITIALISED));
    Startup();
    SOCKET s = Tcp();
    CHECK(s != INVALID_SOCKET);
    CHECK(closesocket(s) == 0);
    CHECK(closesocket(s) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAENOTSOCK));
    CHECK(WSACleanup() == 0);
  });
}

TEST_CASE("bind: ephemeral ports from 49152, a port in use is WSAEADDRINUSE, unbound getsockname is WSAEINVAL") {
  RunClean([] {
    Startup();
    SOCKET a = Tcp(), b = Tcp(), u = Udp();
    sockaddr_in name{};
    int n = sizeof name;
    CHECK(getsockname(a, reinterpret_cast<sockaddr*>(&name), &n) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAEINVAL));
    sockaddr_in zero = Loopback(0);
    CHECK(bind(a, Sa(zero), sizeof zero) == 0);
    CHECK(PortOf(a) == 49152);
    sockaddr_in same = Loopback(49152);
    CHECK(bind(b, Sa(same), sizeof same) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAEADDRINUSE));
    CHECK(bind(u, Sa(same), sizeof same) == 0);  // UDP ports are another space
    sockaddr_in elsewhere = Loopback(80);
    elsewhere.sin_addr.s_addr = htonl(0x0a000001);
    CHECK(bind(b, Sa(elsewhere), sizeof elsewhere) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAEADDRNOTAVAIL));
    closesocket(a);
    closesocket(b);
    closesocket(u);
  });
}

TEST_CASE("WSAIoctl returns AcceptEx and ConnectEx") {
  RunClean([] {
    Startup();
    SOCKET s = Tcp();
    LPFN_ACCEPTEX accept_ex = nullptr;
    LPFN_CONNECTEX connect_ex = nullptr;
    DWORD n = 0;
    GUID g = WSAID_ACCEPTEX;
    CHECK(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &g, sizeof g, &accept_ex,
                   sizeof accept_ex, &n, nullptr, nullptr) == 0);
    CHECK((accept_ex == &AcceptEx));
    g = WSAID_CONNECTEX;
    CHECK(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &g, sizeof g, &connect_ex,
                   sizeof connect_ex, &n, nullptr, nullptr) == 0);
    CHECK((connect_ex == &ConnectEx));
    closesocket(s);
  });
}

TEST_CASE("socketpair as CPython builds it: bytes both ways, a plain connect queues no packet") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    TcpPair p = SocketPair();
    Associate(p.client, port, 1);
    Associate(p.server, port, 2);
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);  // connect() and accept() queued nothing
    sockaddr_in peer{};
    int n = sizeof peer;
    CHECK(getpeername(p.server, reinterpret_cast<sockaddr*>(&peer), &n) == 0);
    CHECK(ntohs(peer.sin_port) == PortOf(p.client));
    OVERLAPPED send_ov{}, recv_ov{};
    CHECK(Send(p.client, "hello", &send_ov) == 0);  // completes at once, a packet all the same
    char buf[16];
    CHECK(Recv(p.server, buf, sizeof buf, &recv_ov) == 0);
    CHECK(std::string(buf, 5) == "hello");
    testing::Dequeued a = Dequeue(port), b = Dequeue(port);
    CHECK(a.ok);
    CHECK(a.key == 1);
    CHECK(a.bytes == 5);
    CHECK(b.key == 2);
    CHECK(b.bytes == 5);
    closesocket(p.client);
    closesocket(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("A graceful peer close completes a pending WSARecv with 0 bytes") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    TcpPair p = SocketPair();
    Associate(p.server, port, 7);
    OVERLAPPED ov{};
    char buf[16];
    CHECK(Recv(p.server, buf, sizeof buf, &ov) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSA_IO_PENDING));
    closesocket(p.client);
    testing::Dequeued d = Dequeue(port, 100);
    CHECK(d.ok);
    CHECK(d.bytes == 0);
    CHECK(d.key == 7);
    CHECK(d.ov == &ov);
    closesocket(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("A peer reset fails a pending WSARecv with ERROR_NETNAME_DELETED, the next with WSAECONNRESET") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    TcpPair p = SocketPair();
    Associate(p.server, port, 7);
    OVERLAPPED ov{};
    char buf[16];
    CHECK(Recv(p.server, buf, sizeof buf, &ov) == SOCKET_ERROR);
    linger l{1, 0};
    CHECK(setsockopt(p.client, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l) == 0);
    closesocket(p.client);
    testing::Dequeued d = Dequeue(port, 100);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_NETNAME_DELETED);
    CHECK(d.bytes == 0);
    CHECK(d.ov == &ov);
    OVERLAPPED ov2{};
    CHECK(Recv(p.server, buf, sizeof buf, &ov2) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAECONNRESET));
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);  // a synchronous failure queues nothing
    CHECK(Send(p.server, "x", &ov2) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAECONNRESET));
    closesocket(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("Closing a socket with unread data resets the peer and discards what the peer had not read") {
  RunClean([] {
    Startup();
    TcpPair p = SocketPair();
    OVERLAPPED ov{};
    CHECK(Send(p.client, "unread", &ov) == 0);
    CHECK(Send(p.server, "for the client", &ov) == 0);
    closesocket(p.server);  // "unread" was never read: a reset
    char buf[32];
    DWORD got = 0;
    CHECK(Recv(p.client, buf, sizeof buf, nullptr, &got) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAECONNRESET));
    closesocket(p.client);
  });
}

TEST_CASE("Our cancel and our close complete a pending WSARecv with ERROR_OPERATION_ABORTED") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    TcpPair p = SocketPair();
    Associate(p.server, port, 7);
    OVERLAPPED ov1{}, ov2{};
    char buf[16];
    CHECK(Recv(p.server, buf, sizeof buf, &ov1) == SOCKET_ERROR);
    CHECK(CancelIoEx(reinterpret_cast<HANDLE>(p.server), &ov1));
    testing::Dequeued d = Dequeue(port, 100);
    CHECK(d.error == ERROR_OPERATION_ABORTED);
    CHECK(d.ov == &ov1);
    CHECK(Recv(p.server, buf, sizeof buf, &ov2) == SOCKET_ERROR);
    closesocket(p.server);
    d = Dequeue(port, 100);
    CHECK(d.error == ERROR_OPERATION_ABORTED);
    CHECK(d.ov == &ov2);
    closesocket(p.client);
    CloseHandle(port);
  });
}

TEST_CASE("AcceptEx completes with the listener's key; the socket needs SO_UPDATE_ACCEPT_CONTEXT") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    SOCKET l = Listener();
    Associate(l, port, 11);
    SOCKET a = Tcp();
    Associate(a, port, 12);
    char addresses[2 * (sizeof(sockaddr_in) + 16)];
    OVERLAPPED ov{};
    DWORD n = 0;
    CHECK_FALSE(AcceptEx(l, a, addresses, 0, sizeof(sockaddr_in) + 16, sizeof(sockaddr_in) + 16,
                         &n, &ov));
    CHECK(WSAGetLastError() == static_cast<int>(WSA_IO_PENDING));
    SOCKET c = ConnectedTo(l);
    testing::Dequeued d = Dequeue(port, 100);
    CHECK(d.ok);
    CHECK(d.key == 11);
    CHECK(d.ov == &ov);
    sockaddr_in remote;
    std::memcpy(&remote, addresses + sizeof(sockaddr_in) + 16, sizeof remote);
    CHECK(ntohs(remote.sin_port) == PortOf(c));
    sockaddr_in peer{};
    int len = sizeof peer;
    CHECK(getpeername(a, reinterpret_cast<sockaddr*>(&peer), &len) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAENOTCONN));
    CHECK(setsockopt(a, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, reinterpret_cast<const char*>(&l),
                     sizeof l) == 0);
    CHECK(getpeername(a, reinterpret_cast<sockaddr*>(&peer), &len) == 0);
    CHECK(ntohs(peer.sin_port) == PortOf(c));
    closesocket(a);
    closesocket(c);
    closesocket(l);
    CloseHandle(port);
  });
}

TEST_CASE("Data sent before AcceptEx completes is there for the accepted socket") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    SOCKET l = Listener();
    Associate(l, port, 11);
    SOCKET c = ConnectedTo(l);
    OVERLAPPED send_ov{};
    CHECK(Send(c, "early", &send_ov) == 0);
    closesocket(c);
    SOCKET a = Tcp();
    char addresses[64];
    OVERLAPPED ov{};
    DWORD n = 0;
    BOOL ok = AcceptEx(l, a, addresses, 0, 32, 32, &n, &ov);
    CHECK((ok || WSAGetLastError() == static_cast<int>(WSA_IO_PENDING)));
    CHECK(Dequeue(port, 100).ok);
    char buf[16];
    DWORD got = 0;
    CHECK(Recv(a, buf, sizeof buf, nullptr, &got) == 0);
    CHECK(std::string(buf, got) == "early");
    CHECK(Recv(a, buf, sizeof buf, nullptr, &got) == 0);
    CHECK(got == 0);
    closesocket(a);
    closesocket(l);
    CloseHandle(port);
  });
}

TEST_CASE("ConnectEx queues a packet; to a closed port it fails with ERROR_CONNECTION_REFUSED") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    SOCKET l = Listener();
    SOCKET c = Tcp();
    Associate(c, port, 21);
    sockaddr_in to = Loopback(PortOf(l));
    OVERLAPPED ov{};
    DWORD sent = 0;
    CHECK_FALSE(ConnectEx(c, Sa(to), sizeof to, nullptr, 0, &sent, &ov));
    CHECK(WSAGetLastError() == static_cast<int>(WSAEINVAL));  // not bound
    sockaddr_in zero = Loopback(0);
    CHECK(bind(c, Sa(zero), sizeof zero) == 0);
    BOOL ok = ConnectEx(c, Sa(to), sizeof to, nullptr, 0, &sent, &ov);
    CHECK((ok || WSAGetLastError() == static_cast<int>(WSA_IO_PENDING)));
    testing::Dequeued d = Dequeue(port, 100);
    CHECK(d.ok);
    CHECK(d.key == 21);
    CHECK(d.ov == &ov);
    CHECK(shutdown(c, SD_SEND) == SOCKET_ERROR);  // not set up yet
    CHECK(WSAGetLastError() == static_cast<int>(WSAENOTCONN));
    CHECK(setsockopt(c, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) == SOCKET_ERROR);
    char unused = 0;
    CHECK(setsockopt(c, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, &unused, 0) == 0);
    CHECK(shutdown(c, SD_SEND) == 0);
    SOCKET refused = Tcp();
    Associate(refused, port, 22);
    CHECK(bind(refused, Sa(zero), sizeof zero) == 0);
    sockaddr_in nobody = Loopback(9);
    OVERLAPPED ov2{};
    ok = ConnectEx(refused, Sa(nobody), sizeof nobody, nullptr, 0, &sent, &ov2);
    CHECK_FALSE(ok);
    if (WSAGetLastError() == static_cast<int>(WSA_IO_PENDING)) {
      d = Dequeue(port, 100);
      CHECK_FALSE(d.ok);
      CHECK(d.error == ERROR_CONNECTION_REFUSED);
      CHECK(d.key == 22);
    } else {
      CHECK(WSAGetLastError() == static_cast<int>(WSAECONNREFUSED));
    }
    closesocket(refused);
    closesocket(c);
    closesocket(l);  // the unaccepted connection is reset
    CloseHandle(port);
  });
}

TEST_CASE("A pending AcceptEx on a closed listener: ERROR_OPERATION_ABORTED or ERROR_CONNECTION_ABORTED") {
  for (uint32_t pick : {0u, 1u}) {
    testing::PickSource source(ChoiceKind::kNet, pick);
    RunResult r = testing::RunWith(source, [pick] {
      Startup();
      HANDLE port = NewPort();
      SOCKET l = Listener();
      Associate(l, port, 11);
      SOCKET a = Tcp();
      char addresses[64];
      OVERLAPPED ov{};
      DWORD n = 0;
      CHECK_FALSE(AcceptEx(l, a, addresses, 0, 32, 32, &n, &ov));
      closesocket(l);
      testing::Dequeued d = Dequeue(port, 100);
      CHECK_FALSE(d.ok);
      CHECK(d.key == 11);
      CHECK(d.error == (pick == 0 ? ERROR_OPERATION_ABORTED : ERROR_CONNECTION_ABORTED));
      closesocket(a);
      CloseHandle(port);
    });
    CHECK(r.outcome == Outcome::kFinished);
    CHECK(source.seen_n == 2);
  }
}

TEST_CASE("UDP: a datagram to a closed port comes back as ERROR_PORT_UNREACHABLE or WSAECONNRESET") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    SOCKET u = Udp();
    Associate(u, port, 31);
    sockaddr_in nobody = Loopback(9);
    WSABUF b{4, const_cast<char*>("ping")};
    DWORD sent = 0;
    OVERLAPPED send_ov{};
    CHECK(WSASendTo(u, &b, 1, &sent, 0, Sa(nobody), sizeof nobody, &send_ov, nullptr) == 0);
    CHECK(Dequeue(port).ok);  // the send's own packet
    // A pending receive fails when the ICMP message comes back.
    char buf[16];
    WSABUF rb{sizeof buf, buf};
    DWORD flags = 0, got = 0;
    sockaddr_in from{};
    int from_len = sizeof from;
    OVERLAPPED ov{};
    CHECK(WSARecvFrom(u, &rb, 1, &got, &flags, reinterpret_cast<sockaddr*>(&from), &from_len, &ov,
                      nullptr) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSA_IO_PENDING));
    testing::Dequeued d = Dequeue(port, 100);
    CHECK_FALSE(d.ok);
    CHECK(d.error == ERROR_PORT_UNREACHABLE);
    CHECK(d.ov == &ov);
    // With no receive pending, the next receive fails at once.
    CHECK(WSASendTo(u, &b, 1, &sent, 0, Sa(nobody), sizeof nobody, &send_ov, nullptr) == 0);
    CHECK(Dequeue(port).ok);
    Sleep(1);  // the ICMP message arrives
    OVERLAPPED ov2{};
    CHECK(WSARecvFrom(u, &rb, 1, &got, &flags, reinterpret_cast<sockaddr*>(&from), &from_len, &ov2,
                      nullptr) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAECONNRESET));
    CHECK(Dequeue(port).error == WAIT_TIMEOUT);
    closesocket(u);
    CloseHandle(port);
  });
}

TEST_CASE("UDP: datagrams keep their bounds and source; a short buffer is WSAEMSGSIZE") {
  RunClean([] {
    Startup();
    SOCKET a = Udp(), b = Udp();
    sockaddr_in zero = Loopback(0);
    CHECK(bind(b, Sa(zero), sizeof zero) == 0);
    sockaddr_in to = Loopback(PortOf(b));
    for (const char* m : {"one", "three"}) {
      WSABUF w{static_cast<ULONG>(std::strlen(m)), const_cast<char*>(m)};
      DWORD sent = 0;
      CHECK(WSASendTo(a, &w, 1, &sent, 0, Sa(to), sizeof to, nullptr, nullptr) == 0);
      CHECK(sent == std::strlen(m));
    }
    char buf[8];
    WSABUF rb{sizeof buf, buf};
    DWORD flags = 0, got = 0;
    sockaddr_in from{};
    int from_len = sizeof from;
    CHECK(WSARecvFrom(b, &rb, 1, &got, &flags, reinterpret_cast<sockaddr*>(&from), &from_len,
                      nullptr, nullptr) == 0);
    CHECK(std::string(buf, got) == "one");
    CHECK(ntohs(from.sin_port) == PortOf(a));
    rb.len = 2;
    CHECK(WSARecvFrom(b, &rb, 1, &got, &flags, nullptr, nullptr, nullptr, nullptr) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAEMSGSIZE));
    closesocket(a);
    closesocket(b);
  });
}

TEST_CASE("A send larger than the receive window stays pending until the reader drains it") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    TcpPair p = SocketPair();
    Associate(p.client, port, 1);
    std::string big(65536 + 1000, 'b');
    OVERLAPPED ov{};
    CHECK(Send(p.client, big, &ov) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSA_IO_PENDING));
    CHECK(Dequeue(port, 50).error == WAIT_TIMEOUT);
    std::string got;
    std::string chunk(4096, '\0');
    while (got.size() < big.size()) {
      DWORD n = 0;
      CHECK(Recv(p.server, chunk.data(), 4096, nullptr, &n) == 0);
      got.append(chunk.data(), n);
    }
    CHECK(got == big);
    testing::Dequeued d = Dequeue(port, 100);
    CHECK(d.ok);
    CHECK(d.bytes == big.size());
    closesocket(p.client);
    closesocket(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("Sending to a peer that has closed succeeds, then the reset comes back") {
  RunClean([] {
    Startup();
    TcpPair p = SocketPair();
    closesocket(p.server);
    CHECK(Send(p.client, "into the void", nullptr) == 0);
    Sleep(1);  // the reset arrives
    CHECK(Send(p.client, "again", nullptr) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAECONNRESET));
    closesocket(p.client);
  });
}

TEST_CASE("A cancelled WSARecv whose data is there may complete with it (bpo-33694's window)") {
  for (uint32_t pick : {0u, 1u}) {
    testing::PreferSource source("cancel ov#", ChoiceKind::kCancelRace, pick);
    RunResult r = testing::RunWith(source, [pick] {
      Startup();
      HANDLE port = NewPort();
      TcpPair p = SocketPair();
      Associate(p.server, port, 7);
      OVERLAPPED ov{};
      char buf[16];
      CHECK(Recv(p.server, buf, sizeof buf, &ov) == SOCKET_ERROR);
      // The data arrives; the receive's completion is not carried out yet
      // when the cancellation is requested.
      CHECK(Send(p.client, "data", nullptr) == 0);
      CHECK(CancelIoEx(reinterpret_cast<HANDLE>(p.server), &ov));
      testing::Dequeued d = Dequeue(port, 100);
      if (pick == 0) {
        CHECK(d.error == ERROR_OPERATION_ABORTED);
      } else {
        CHECK(d.ok);
        CHECK(d.bytes == 4);
      }
      closesocket(p.client);
      closesocket(p.server);
      CloseHandle(port);
    });
    CHECK(r.outcome == Outcome::kFinished);
    CHECK(source.seen_n == 2);  // the race was offered
  }
}

TEST_CASE("A zero-byte WSARecv waits for data and leaves it to be read") {
  RunClean([] {
    Startup();
    HANDLE port = NewPort();
    TcpPair p = SocketPair();
    Associate(p.server, port, 7);
    OVERLAPPED ov{};
    char none[1];
    CHECK(Recv(p.server, none, 0, &ov) == SOCKET_ERROR);
    CHECK(Dequeue(port, 10).error == WAIT_TIMEOUT);
    CHECK(Send(p.client, "abc", nullptr) == 0);
    testing::Dequeued d = Dequeue(port, 100);
    CHECK(d.ok);
    CHECK(d.bytes == 0);
    char buf[8];
    DWORD got = 0;
    CHECK(Recv(p.server, buf, sizeof buf, nullptr, &got) == 0);
    CHECK(std::string(buf, got) == "abc");
    closesocket(p.client);
    closesocket(p.server);
    CloseHandle(port);
  });
}

TEST_CASE("shutdown(SD_SEND) is a graceful half close; later sends fail with WSAESHUTDOWN") {
  RunClean([] {
    Startup();
    TcpPair p = SocketPair();
    CHECK(Send(p.client, "last", nullptr) == 0);
    CHECK(shutdown(p.client, SD_SEND) == 0);
    CHECK(Send(p.client, "more", nullptr) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == static_cast<int>(WSAESHUTDOWN));
    char buf[8];
    DWORD got = 0;
    CHECK(Recv(p.server, buf, sizeof buf, nullptr, &got) == 0);
    CHECK(std::string(buf, got) == "last");
    CHECK(Recv(p.server, buf, sizeof buf, nullptr, &got) == 0);
    CHECK(got == 0);
    // The other direction still works.
    CHECK(Send(p.server, "reply", nullptr) == 0);
    CHECK(Recv(p.client, buf, sizeof buf, nullptr, &got) == 0);
    CHECK(std::string(buf, got) == "reply");
    closesocket(p.client);
    closesocket(p.server);
  });
}

TEST_CASE("An unclosed socket is a leaked handle") {
  RunResult r = testing::Run([] {
    Startup();
    Tcp();
  });
  REQUIRE(r.handles_left.size() == 1);
  CHECK(r.handles_left[0].object.rfind("socket-tcp", 0) == 0);
}

}  // namespace
}  // namespace iocpsim
