// A peer that resets the connection mid-stream (bpo-32710's synchronous
// failures): a plain blocking Winsock peer on another thread accepts, reads
// a little, and closes with SO_LINGER {1, 0} while the loop keeps writing.
#include <memory>

#include "proactor/socket_server.h"
#include "scenarios/scenario.h"
#include "sim/winsock.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

struct Peer {
  SOCKET listener;
  uint32_t read_before_reset;  // bytes the peer reads before it resets
};

DWORD WINAPI ResettingPeer(LPVOID param) {
  std::unique_ptr<Peer> peer(static_cast<Peer*>(param));
  SOCKET s = accept(peer->listener, nullptr, nullptr);
  closesocket(peer->listener);
  if (s == INVALID_SOCKET) return 1;
  char buf[64];
  uint32_t got = 0;
  while (got < peer->read_before_reset) {
    WSABUF b{sizeof buf, buf};
    DWORD n = 0, flags = 0;
    if (WSARecv(s, &b, 1, &n, &flags, nullptr, nullptr) != 0 || n == 0) break;
    got += n;
  }
  linger l{1, 0};
  setsockopt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l);
  closesocket(s);  // a reset: whatever the loop sends next is refused
  return 0;
}

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  loop.StartWinsock();
  SOCKET listener = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int len = sizeof a;
  bind(listener, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  listen(listener, 1);
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin_port);
  uint32_t before = 8 * (1 + ctx.Param("the peer reads: 8 | 16 | 24 bytes, then resets", 3));
  HANDLE thread = CreateThread(nullptr, 0, ResettingPeer, new Peer{listener, before}, 0, nullptr);
  auto client = std::make_shared<CheckedProtocol>(ctx, "client");
  SocketProtocolFactory factory = [client] { return client; };
  co_await CreateConnection(loop, factory, port);
  for (int i = 0; i < 8 && client->transport != nullptr && !client->transport->IsClosing(); ++i) {
    client->transport->Write("chunk-" + std::to_string(i) + ";");
    co_await Sleep(loop, 0.001);
  }
  co_await WaitUntil(loop, [&] { return client->lost; }, 0.1);
  if (client->transport != nullptr) client->transport->Close();
  co_await Sleep(loop, 0.01);
  WaitForSingleObject(thread, INFINITE);
  CloseHandle(thread);
}

}  // namespace

extern const Scenario kSocketPeerReset{
    "socket-peer-reset",
    "The loop writes chunks over loopback TCP to a plain blocking peer on another thread, "
    "which reads a little and then closes with SO_LINGER {1, 0}: a reset mid-stream. The "
    "loop's pending receive fails with ERROR_NETNAME_DELETED, or its next WSASend or "
    "WSARecv fails at once with WSAECONNRESET; the transport closes with "
    "ConnectionResetError. Before the bpo-32710 fixes (a234e148, 5485085b) such a "
    "synchronous failure never released the operation's buffer. Parameter: how much the "
    "peer reads before it resets.",
    {"bpo-32710"},
    "cpython-3.7.0b5",
    30000,
    "protocol grammar; no buffer kept by a failed operation",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
