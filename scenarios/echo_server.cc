// echo-server: the pipe echo server a user would run.
#include "proactor/pipe_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

const std::string kAddress = "\\\\.\\pipe\\echo-server";

Coro<Void> Client(Context& ctx, std::shared_ptr<CheckedProtocol> p, std::string message,
                  bool* connected) {
  ProtocolFactory factory = [p] { return p; };
  try {
    co_await CreatePipeConnection(ctx.loop, factory, kAddress);
  } catch (const OSError&) {
    co_return;  // the server closed before this client came: not a bug
  }
  *connected = true;
  p->transport->Write(message);
  co_await WaitUntil(ctx.loop, [&] { return p->received.size() >= message.size() || p->lost; },
                     2.0);
  if (!p->lost) CheckDelivered(ctx.oracles, "echo", message, p->received);
  if (p->transport != nullptr) p->transport->Close();
}

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  std::vector<std::shared_ptr<CheckedProtocol>> served;
  ProtocolFactory server_factory = [&] {
    served.push_back(std::make_shared<CheckedProtocol>(ctx, ctx.Name("server"), true));
    return served.back();
  };
  PipeServerPtr server = StartServingPipe(loop, server_factory, kAddress);
  uint32_t n = 1 + ctx.Param("clients: 1 | 2 | 3 | 4", 4);
  static const size_t kSizes[] = {1, 100, 5000};
  size_t size = kSizes[ctx.Param("message: 1 | 100 | 5000 bytes", 3)];
  bool close_early = ctx.Param("server: stays | closes while clients connect", 2) == 1;
  std::vector<FuturePtr<Void>> clients;
  bool connected[4] = {false, false, false, false};
  for (uint32_t i = 0; i < n; ++i) {
    auto p = std::make_shared<CheckedProtocol>(ctx, ctx.Name("client"));
    clients.push_back(
        loop.CreateTask(Client(ctx, p, std::string(size, static_cast<char>('a' + i)), &connected[i])));
  }
  if (close_early) {
    co_await Sleep(loop, 0.001);
    server->Close();
  }
  co_await Gather<Void>(loop, clients);
  co_await WaitUntil(loop, [&] {
    for (auto& s : served) if (!s->lost) return false;
    return true;
  }, 2.0);
  server->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kEchoServer{
    "echo-server",
    "The pipe echo server a user would write: start_serving_pipe with an echo protocol and "
    "a few clients that connect through create_pipe_connection, send one message, wait for "
    "it to come back and close; optionally the server closes while the clients are still "
    "connecting. Exercises accept_pipe, the always-listening instance, connect_pipe, the "
    "duplex transports' read and write loops and server close. Parameters: the number of "
    "clients, the message size, whether the server closes early.",
    {},
    "current",
    30000,
    "protocol grammar on every end; each client gets back exactly what it sent",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
