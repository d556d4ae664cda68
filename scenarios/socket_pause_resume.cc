// bpo-33694: a TCP server whose protocol pauses reading on every chunk and
// resumes a moment later, while the client keeps writing.
#include "proactor/socket_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  double delay = 0.001 * ctx.Param("resume after: 0 | 1 | 2 ms", 3);
  std::shared_ptr<PausingProtocol> served;
  SocketServerPtr server = CreateServer(loop, [&]() -> ProtocolPtr {
    served = std::make_shared<PausingProtocol>(ctx, ctx.Name("server"), delay);
    return served;
  });
  auto client = std::make_shared<CheckedProtocol>(ctx, "client");
  // (A named factory: g++ 12 mishandles lambda temporaries in co_await.)
  SocketProtocolFactory client_factory = [client] { return client; };
  co_await CreateConnection(loop, client_factory, server->port());
  uint32_t chunks = 2 + 2 * ctx.Param("chunks: 2 | 4 | 6", 3);
  std::string sent;
  for (uint32_t i = 0; i < chunks; ++i) {
    std::string chunk = "chunk " + std::to_string(i) + ";";
    client->transport->Write(chunk);
    sent += chunk;
    co_await Sleep(loop, 0.001);
  }
  client->transport->WriteEof();
  co_await WaitUntil(loop, [&] { return served != nullptr && (served->eof || served->lost); }, 1.0);
  if (served != nullptr && served->eof) CheckDelivered(ctx.oracles, "client->server", sent, served->received);
  if (served != nullptr && served->transport != nullptr) served->transport->Close();
  if (client->transport != nullptr) client->transport->Close();
  server->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kSocketPauseResume{
    "socket-pause-resume",
    "A client writes chunks over loopback TCP to a server whose protocol pauses reading on "
    "every chunk and resumes a moment later. Today pause_reading() leaves the in-flight "
    "WSARecv alone and keeps what arrives while paused. Before 79790bc3 it cancelled that "
    "receive: when the receive had already completed, CancelIoEx failed with "
    "ERROR_NOT_FOUND (ignored), the future was marked cancelled, and _poll dropped the "
    "packet's bytes. Parameters: the resume delay and the number of chunks.",
    {"bpo-33694"},
    "cpython-3.7.0b5",
    30000,
    "protocol grammar on both ends; the server receives every byte before EOF",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
