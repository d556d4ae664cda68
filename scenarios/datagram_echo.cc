// gh-127057 and gh-156920: a UDP client on a datagram transport that pings
// an echo server, with stray datagrams to a closed port (ICMP port
// unreachable comes back), and closes right after its last send.
#include <memory>
#include <string>
#include <vector>

#include "proactor/socket_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

// A port nobody is bound to: bound, then closed (as CPython's own test of
// gh-127057 gets one).
uint16_t ClosedPort(EventLoop& loop) {
  SocketPtr s = Socket::Make(loop, Socket::Type::kDatagram);
  s->Bind(0);
  uint16_t port = s->LocalPort();
  s->Close();
  return port;
}

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  uint32_t pings = 2 + 2 * ctx.Param("pings: 2 | 4 | 6", 3);
  uint32_t strays = 2 - ctx.Param("stray datagrams to a closed port before each ping: 2 | 1", 2);
  uint16_t dead = ClosedPort(loop);
  auto server = std::make_shared<CheckedDatagramProtocol>(ctx, "server", /*echo=*/true);
  DatagramProtocolFactory server_factory = [server] { return server; };
  PipeTransportPtr st = co_await CreateDatagramEndpoint(loop, server_factory, 0);
  uint16_t port = static_cast<Socket*>(st->pipe())->LocalPort();
  auto client = std::make_shared<CheckedDatagramProtocol>(ctx, "client");
  DatagramProtocolFactory client_factory = [client] { return client; };
  PipeTransportPtr ct = co_await CreateDatagramEndpoint(loop, client_factory, 0);
  std::vector<std::string> sent;
  for (uint32_t i = 0; i < pings; ++i) {
    // Each stray datagram's ICMP answer fails the pending receive (an
    // empty datagram since gh-91227); one that arrives between a receive's
    // completion and the next WSARecvFrom fails that call at once with
    // WSAECONNRESET.
    for (uint32_t j = 0; j < strays; ++j) ct->SendTo("stray", dead);
    sent.push_back("ping " + std::to_string(i));
    ct->SendTo(sent.back(), port);
    co_await WaitUntil(loop, [&] { return client->received.size() > i; }, 0.05);
  }
  // UDP promises no delivery, and the kernel may deliver late: no count of
  // datagrams is a verdict. What is one: an open transport with no receive
  // in flight, and none coming (sampled over 20 ms: after error_received()
  // today's transport issues its next receive on the next loop step, and
  // the stray datagrams' ICMP answers can fail a few of those at once).
  bool reading = false;
  for (int i = 0; i < 20 && !reading; ++i) {
    reading = ct->read_pending() || ct->IsClosing();
    if (!reading) co_await Sleep(loop, 0.001);
  }
  if (!reading) {
    ctx.oracles.Hang("datagram-transport-not-reading",
                     "client: the datagram transport is open with no receive in flight for 20 ms: "
                     "it will never deliver another datagram (" +
                         std::to_string(client->received.size()) + " of " +
                         std::to_string(sent.size()) + " echoes received)");
  }
  // The last datagram, and close() while it is in flight: connection_lost()
  // must follow once it is out.
  ct->SendTo("bye", port);
  ct->Close();
  co_await WaitUntil(loop, [&] { return client->lost; }, 0.05);
  st->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kDatagramEcho{
    "datagram-echo",
    "A UDP client on a datagram transport pings an echo server over loopback, sending stray "
    "datagrams to a closed port before each ping, then sends a last datagram and closes at "
    "once. Each stray's ICMP port unreachable fails the client's pending WSARecvFrom (an "
    "empty datagram since gh-91227); a second one arriving between that completion and the "
    "next WSARecvFrom fails the call at once with WSAECONNRESET: error_received(), and before "
    "GH-156726 (gh-127057) the transport never read again (no receive in flight: a hang). Before GH-156921 (gh-156920) "
    "close() with a send in flight never called connection_lost() and left the socket open. "
    "Parameters: the number of pings, how many stray datagrams go before each.",
    {"gh-127057", "gh-156920"},
    "cpython-3.12.3",
    30000,
    "datagram protocol grammar on both ends; the client's transport keeps a receive in flight",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
