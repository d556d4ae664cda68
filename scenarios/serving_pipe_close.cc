// serving-pipe-close: a client accepted just as the server closes.
#include "proactor/iocp_proactor.h"
#include "proactor/pipe_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  const std::string address = "\\\\.\\pipe\\serving-close";
  std::vector<std::shared_ptr<CheckedProtocol>> served;
  ProtocolFactory server_factory = [&] {
    served.push_back(std::make_shared<CheckedProtocol>(ctx, ctx.Name("server")));
    return served.back();
  };
  PipeServerPtr server = StartServingPipe(loop, server_factory, address);
  co_await Sleep(loop, 0.001 * ctx.Param("server up for: 1 | 2 ms", 2));
  PipeHandlePtr pipe = co_await loop.proactor().ConnectPipe(address);
  // The accept's packet is queued: close the server before its callback.
  server->Close();
  co_await Sleep(loop, 0.01);
  pipe->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kServingPipeClose{
    "serving-pipe-close",
    "A client connects to a pipe server, and the server is closed in the same loop step, "
    "after the accept completed but before its done-callback ran. Since a19b7b3f the "
    "callback sees the closed server and closes the pipe; before, it built a transport "
    "and protocol for the closed server that nobody ever closes (a leak). Parameter: how "
    "long the server runs before the client comes.",
    {"serving-pipe-close"},
    "cpython-3.4.2",
    30000,
    "protocol grammar on the server's protocols",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
