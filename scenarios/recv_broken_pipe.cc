// recv-broken-pipe: a reader that issues its ReadFile after the writer left.
#include "proactor/pipe_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  const std::string address = "\\\\.\\pipe\\recv-broken-pipe";
  std::vector<std::shared_ptr<CheckedProtocol>> served;
  ProtocolFactory server_factory = [&] {
    served.push_back(std::make_shared<CheckedProtocol>(ctx, ctx.Name("server")));
    return served.back();
  };
  PipeServerPtr server = StartServingPipe(loop, server_factory, address);
  auto client = std::make_shared<CheckedProtocol>(ctx, "client");
  ProtocolFactory client_factory = [client] { return client; };
  co_await CreatePipeConnection(loop, client_factory, address);
  std::string message(1 + 100 * ctx.Param("message size: 1 | 101 | 201 bytes", 3), 'm');
  client->transport->Write(message);
  client->transport->Close();  // the writer leaves at once
  co_await WaitUntil(loop, [&] { return !served.empty() && served[0]->lost; }, 1.0);
  if (!served.empty() && served[0]->lost && !served[0]->lost_exc) {
    CheckDelivered(ctx.oracles, "client->server", message, served[0]->received);
  }
  server->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kRecvBrokenPipe{
    "recv-broken-pipe",
    "A client connects to a pipe server, writes one message and closes at once. The "
    "server's read loop issues its next ReadFile after the writer has gone, which fails "
    "synchronously with ERROR_BROKEN_PIPE and queues no packet. Before 41063d2a the "
    "overlapped was marked completed and registered anyway: the read resolves to b'' but "
    "its cache entry never leaves, and close() polls forever. Parameter: the message size.",
    {"recv-broken-pipe"},
    "cpython-3.4.2",
    30000,
    "protocol grammar on both ends; the server receives every byte the client wrote",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
