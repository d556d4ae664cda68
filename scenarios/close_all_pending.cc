// close-all-pending: the loop closed with everything in flight.
#include "proactor/iocp_proactor.h"
#include "proactor/pipe_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx, std::vector<std::shared_ptr<void>>& keep) {
  EventLoop& loop = ctx.loop;
  const std::string address = "\\\\.\\pipe\\close-all";
  auto server_proto = std::make_shared<CheckedProtocol>(ctx, "server", true);
  ProtocolFactory server_factory = [server_proto] { return server_proto; };
  PipeServerPtr server = StartServingPipe(loop, server_factory, address);
  keep.push_back(server);
  auto client = std::make_shared<CheckedProtocol>(ctx, "client");
  ProtocolFactory client_factory = [client] { return client; };
  co_await CreatePipeConnection(loop, client_factory, address);
  keep.push_back(client);
  HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  keep.push_back(std::shared_ptr<void>(ev, [](void* h) { CloseHandle(h); }));
  FuturePtr<bool> w = loop.proactor().WaitForHandle(ev);
  keep.push_back(w);
  auto p = std::make_shared<CheckedSubprocessProtocol>(ctx);
  SubprocessProtocolFactory factory = [p] { return p; };
  std::vector<std::string> args = {"sleep-then-exit", "100000"};
  auto [t, unused] = co_await SubprocessExec(loop, factory, args);
  keep.push_back(t);
  if (ctx.Param("before close: nothing | write | cancel the wait", 3) == 1) {
    client->transport->Write("in flight");
  }
  co_await Sleep(loop, 0.001);
  // Now close what a careful program closes, and leave the rest pending.
  client->transport->Close();
  co_await WaitUntil(loop, [&] { return server_proto->lost; }, 1.0);
  t->Close();
  server->Close();
}

}  // namespace

extern const Scenario kCloseAllPending{
    "close-all-pending",
    "The loop is closed while a pipe server's accept, a wait_for_handle, a killed "
    "subprocess's wait and its pipes' reads are all pending (the transports a careful "
    "program closes are closed). IocpProactor.close() must "
    "cancel what it may and poll until every cancelled operation's packet has come back, "
    "without reporting anything and without leaving the kernel an OVERLAPPED. Parameter: "
    "what happens just before the close.",
    {},
    "current",
    30000,
    "protocol grammar; nothing left in the cache, no handle left open",
    [](Context& ctx) {
      std::vector<std::shared_ptr<void>> keep;
      ctx.loop.RunUntilComplete(Main(ctx, keep));
      ctx.loop.Close();
      keep.clear();
    }};

}  // namespace iocpsim::scenarios
