// bpo-23293: connect_pipe to a busy server, cancelled.
#include "proactor/iocp_proactor.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  const std::string address = "\\\\.\\pipe\\connect-busy";
  std::basic_string<WCHAR> name = Widen(address);
  // One instance, taken by a first client: every other client is busy.
  auto server = std::make_shared<PipeHandle>(
      loop, CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                             PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1, 4096, 4096,
                             0, nullptr));
  HANDLE first = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                             OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  FuturePtr<PipeHandlePtr> c = loop.proactor().ConnectPipe(address);
  co_await Sleep(loop, 0.001 * (1 + ctx.Param("cancel after: 1 | 5 | 20 ms", 3) * 5));
  c->Cancel();
  // The instance frees up and listens again.
  CloseHandle(first);
  DisconnectNamedPipe(server->handle());
  FuturePtr<PipeHandlePtr> accept = loop.proactor().AcceptPipe(server);
  co_await Sleep(loop, 0.05);
  if (!accept->done()) {
    accept->Cancel();
    co_await Sleep(loop, 0.01);
  }
  server->Close();
}

}  // namespace

extern const Scenario kConnectPipeBusy{
    "connect-pipe-busy",
    "A client calls connect_pipe while the server's only instance is busy, and cancels it; "
    "then the instance frees up. Today connect_pipe is a coroutine retrying CreateFile on "
    "ERROR_PIPE_BUSY, and cancelling it cancels the retry. Before 7ffa2c5f it was a "
    "thread-pool work item (WaitNamedPipe + CreateFile) that nothing can cancel and that "
    "posts the new pipe handle as the completion key: the cancelled future ignores it and "
    "the handle leaks (or, once the entry is gone, the packet is unexpected and _poll "
    "closes whatever the key names). Parameter: when the client cancels.",
    {"bpo-23293"},
    "cpython-3.4.2",
    60000,
    "none beyond the standard oracles",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
