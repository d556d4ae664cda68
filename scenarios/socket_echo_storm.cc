// An echo server with several TCP clients at once, whose protocol pauses
// and resumes reading on every chunk (a pause/resume storm across the
// connections), each client writing its message in chunks and then EOF.
#include <memory>
#include <string>
#include <vector>

#include "proactor/socket_server.h"
#include "scenarios/scenario.h"

namespace iocpsim::scenarios {
namespace {

using namespace proactor;

constexpr size_t kChunk = 8;

std::string Message(uint32_t client, uint32_t chunks) {
  std::string m;
  for (uint32_t i = 0; i < chunks; ++i) {
    std::string c = "c" + std::to_string(client) + "k" + std::to_string(i) + "........";
    m += c.substr(0, kChunk);
  }
  return m;
}

// One client: connects, writes its message a chunk per loop step, then EOF;
// waits for the whole echo and the server's EOF.
Coro<Void> Client(Context& ctx, std::shared_ptr<CheckedProtocol> client, uint16_t port,
                  std::string message) {
  EventLoop& loop = ctx.loop;
  SocketProtocolFactory factory = [client] { return client; };
  co_await CreateConnection(loop, factory, port);
  for (size_t at = 0; at < message.size() && client->transport != nullptr; at += kChunk) {
    client->transport->Write(message.substr(at, kChunk));
    co_await Sleep(loop, 0);
  }
  if (client->transport != nullptr) client->transport->WriteEof();
  co_await WaitUntil(loop, [&] { return client->lost; }, 1.0);
}

Coro<Void> Main(Context& ctx) {
  EventLoop& loop = ctx.loop;
  uint32_t clients = 2 + ctx.Param("clients: 2 | 3 | 4", 3);
  uint32_t chunks = 3 + 2 * ctx.Param("chunks per client: 3 | 5", 2);
  uint32_t pause = ctx.Param("the server pauses reading per chunk, resuming: at once | after 1 ms | "
                             "never pauses",
                             3);
  // The server ends stop pausing once the whole message is in: pausing
  // across the end of file is what current-eof-received-twice is about (a
  // separate finding, saved with socket-pause-resume), and a protocol that
  // knows its message length has no reason to.
  std::vector<std::shared_ptr<CheckedProtocol>> served;
  SocketServerPtr server = CreateServer(loop, [&]() -> ProtocolPtr {
    std::string name = ctx.Name("server");
    if (pause == 2) {
      served.push_back(std::make_shared<CheckedProtocol>(ctx, name, /*echo=*/true));
    } else {
      served.push_back(std::make_shared<PausingProtocol>(ctx, name, 0.001 * pause, /*echo=*/true,
                                                         chunks * kChunk));
    }
    return served.back();
  });
  std::vector<std::shared_ptr<CheckedProtocol>> ends;
  std::vector<std::string> messages;
  std::vector<std::shared_ptr<Future<Void>>> tasks;
  for (uint32_t i = 0; i < clients; ++i) {
    ends.push_back(std::make_shared<CheckedProtocol>(ctx, ctx.Name("client")));
    messages.push_back(Message(i, chunks));
    tasks.push_back(loop.CreateTask(Client(ctx, ends.back(), server->port(), messages.back())));
  }
  co_await Gather(loop, tasks);
  // Which server end served which client: the first bytes name it.
  for (uint32_t i = 0; i < clients; ++i) {
    if (ends[i]->eof) CheckDelivered(ctx.oracles, "server->client", messages[i], ends[i]->received);
    for (const auto& s : served) {
      if (s->received.substr(0, 3) == messages[i].substr(0, 3) && s->eof) {
        CheckDelivered(ctx.oracles, "client->server", messages[i], s->received);
      }
    }
  }
  for (const auto& c : ends) {
    if (c->transport != nullptr) c->transport->Close();
  }
  for (const auto& s : served) {
    if (s->transport != nullptr) s->transport->Close();
  }
  server->Close();
  co_await Sleep(loop, 0.01);
}

}  // namespace

extern const Scenario kSocketEchoStorm{
    "socket-echo-storm",
    "An echo server over loopback TCP with several clients at once. Each client writes its "
    "message a chunk per loop step, then write_eof(); the server's protocol echoes every chunk "
    "and pauses reading after each one, resuming a moment later, until the whole message is "
    "in; it closes on EOF once the echo is out. Pending reads, data kept while paused, write "
    "buffering and graceful shutdowns interleave across the connections. Parameters: the "
    "number of clients, of chunks, and the resume delay (or no pausing).",
    {},
    "current",
    30000,
    "protocol grammar on every end; each client's bytes reach its server end and come back "
    "whole",
    [](Context& ctx) { ctx.loop.RunUntilComplete(Main(ctx)); }};

}  // namespace iocpsim::scenarios
