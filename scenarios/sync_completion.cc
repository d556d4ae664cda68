// asyncio-196: reads and writes that complete synchronously.
#include "proactor/pipe_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  const std::string address = "\\\\.\\pipe\\sync-completion";
  std::vector<std::shared_ptr<CheckedProtocol>> served;
  ProtocolFactory server_factory = [&] {
    served.push_back(std::make_shared<CheckedProtocol>(ctx, ctx.Name("server"), true));
    return served.back();
  };
  PipeServerPtr server = StartServingPipe(loop, server_factory, address);
  auto client = std::make_shared<CheckedProtocol>(ctx, "client");
  ProtocolFactory client_factory = [client] { return client; };
  co_await CreatePipeConnection(loop, client_factory, address);
  uint32_t rounds = 1 + ctx.Param("round trips: 1 | 2 | 3", 3);
  std::string sent;
  for (uint32_t i = 0; i < rounds; ++i) {
    std::string m = "round " + std::to_string(i);
    sent += m;
    client->transport->Write(m);
    co_await WaitUntil(loop, [&] { return client->received.size() >= sent.size(); }, 1.0);
  }
  CheckDelivered(ctx.oracles, "echo", sent, client->received);
  client->transport->Close();
  co_await WaitUntil(loop, [&] { return !served.empty() && served[0]->lost; }, 1.0);
  server->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kSyncCompletion{
    "sync-completion",
    "A client and an echo server exchange a few messages; a read issued when its data is "
    "already in the pipe completes synchronously, and so do most writes. Windows still "
    "queues a packet for each. Before 42d3bdee the fast path in _register resolved the "
    "future and dropped the overlapped without keeping it in the cache, so its memory was "
    "freed while the packet was still queued: the kernel finds the OVERLAPPED it owns "
    "freed or rewritten (use-after-free; under AddressSanitizer a use-after-poison, as a freed "
    "Overlapped goes back to its pool poisoned). "
    "Parameter: the number of round trips.",
    {"asyncio-196"},
    "cpython-3.4.1",
    30000,
    "protocol grammar on both ends; the echo returns every byte",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
