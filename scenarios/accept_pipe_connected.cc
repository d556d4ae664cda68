// accept-pipe-connected: clients that connect before ConnectNamedPipe.
#include "proactor/pipe_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

const std::string kAddress = "\\\\.\\pipe\\accept-burst";

Coro<Void> Client(Context& ctx, std::shared_ptr<CheckedProtocol> p, std::string message) {
  ProtocolFactory factory = [p] { return p; };
  co_await CreatePipeConnection(ctx.loop, factory, kAddress);
  p->transport->Write(message);
  co_await WaitUntil(ctx.loop, [&] { return p->received.size() >= message.size(); }, 1.0);
  CheckDelivered(ctx.oracles, "client echo", message, p->received);
  p->transport->Close();
}

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  std::vector<std::shared_ptr<CheckedProtocol>> served;
  ProtocolFactory server_factory = [&] {
    served.push_back(std::make_shared<CheckedProtocol>(ctx, ctx.Name("server"), /*echo=*/true));
    return served.back();
  };
  PipeServerPtr server = StartServingPipe(loop, server_factory, kAddress);
  uint32_t n = 2 + ctx.Param("clients: 2 | 3 | 4", 3);
  std::vector<FuturePtr<Void>> clients;
  for (uint32_t i = 0; i < n; ++i) {
    auto p = std::make_shared<CheckedProtocol>(ctx, ctx.Name("client"));
    clients.push_back(loop.CreateTask(Client(ctx, p, "hello from " + std::to_string(i))));
  }
  co_await Gather<Void>(loop, clients);
  co_await WaitUntil(loop, [&] {
    for (auto& s : served) if (!s->lost) return false;
    return served.size() == n;
  }, 1.0);
  server->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kAcceptPipeConnected{
    "accept-pipe-connected",
    "Several clients connect to an echo pipe server at once. start_serving_pipe creates "
    "the next instance before it calls accept_pipe on it, so a client can connect first: "
    "ConnectNamedPipe then fails with ERROR_PIPE_CONNECTED and queues no packet. Before "
    "2b77c546 the operation was registered anyway, and close() polls forever for its "
    "packet. Parameter: the number of clients.",
    {"accept-pipe-connected"},
    "cpython-3.4.2",
    30000,
    "protocol grammar on every end; each client gets back what it sent",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
