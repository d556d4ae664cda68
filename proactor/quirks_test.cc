// Every quirk: its old behaviour is really there under a schedule picked
// by hand, and absent without the quirk (../shared/BUGS.md).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proactor/pipe_server.h"
#include "proactor/socket_server.h"
#include "proactor/subprocess.h"
#include "proactor/test_util.h"
#include "sim/fiber.h"  // IOCPSIM_ASAN

#include "sim/test_util.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::MakePipePair;
using testing::Recorder;
using testing::RunLoop;
using testing::RunUntil;

Profile With(Quirk q) { return Profile().With(q); }

KernelOptions Deadline(int64_t ms) {
  KernelOptions o;
  o.deadline_ms = ms;
  return o;
}

TEST_CASE("Quirk recv-broken-pipe: a synchronous ERROR_BROKEN_PIPE is registered, and close() never ends") {
  auto body = [](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    client->Close();
    auto r = loop.proactor().Recv(server, 100);
    CHECK(r->done());
    CHECK(r->Result().empty());
    bool old = loop.profile().Has(Quirk::kRecvBrokenPipe);
    CHECK(loop.proactor().cache_size() == (old ? 1u : 0u));
    server->Close();
  };
  testing::LoopRun old = RunLoop(body, With(Quirk::kRecvBrokenPipe), Deadline(10000));
  CHECK(old.result.outcome == Outcome::kDeadline);
  CHECK(old.Reported("is running after closing for 1.0 seconds"));
  CheckClean(RunLoop(body, Profile(), Deadline(10000)));
}

TEST_CASE("Quirk accept-pipe-connected: ERROR_PIPE_CONNECTED is registered, and close() never ends") {
  auto body = [](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);  // the client connected first
    auto f = loop.proactor().AcceptPipe(server);
    CHECK(f->done());
    bool old = loop.profile().Has(Quirk::kAcceptPipeConnected);
    CHECK(loop.proactor().cache_size() == (old ? 1u : 0u));
    server->Close();
    client->Close();
  };
  testing::LoopRun old = RunLoop(body, With(Quirk::kAcceptPipeConnected), Deadline(10000));
  CHECK(old.result.outcome == Outcome::kDeadline);
  CHECK(old.Reported("is running after closing"));
  CheckClean(RunLoop(body, Profile(), Deadline(10000)));
}

// asyncio#196: a read that completes synchronously; the quirk frees its
// Overlapped while the packet is still queued.
void SyncRecv(EventLoop& loop) {
  auto [server, client] = MakePipePair(loop);
  DWORD n;
  OVERLAPPED w{};
  WriteFile(client->handle(), "now", 3, &n, &w);
  auto r = loop.proactor().Recv(server, 100);
  CHECK(r->done());
  CHECK(r->Result() == "now");
  loop.RunUntilComplete(Sleep(loop, 0.01));  // the packet is dequeued
  server->Close();
  client->Close();
}

TEST_CASE("Quirk asyncio-196: a synchronously completed overlapped is freed before its packet is dequeued") {
#ifdef IOCPSIM_ASAN
  // AddressSanitizer stops the process at the kernel's read: fork.
  std::string report = iocpsim::testing::StderrOfFork(
      [] { RunLoop(SyncRecv, With(Quirk::kAsyncio196)); });
  CHECK(report.find("use-after-poison") != std::string::npos);  // a freed Overlapped is poisoned in its pool
  CHECK(report.find("iocpsim: the kernel was checking the OVERLAPPED of a dequeued packet of ov#")
        != std::string::npos);
#else
  testing::LoopRun old = RunLoop(SyncRecv, With(Quirk::kAsyncio196));
  // The freed block is filled with 0xDD, or taken again by the next
  // Overlapped: the kernel sees its OVERLAPPED rewritten, or the packet
  // lands on the wrong entry of the cache.
  bool seen = (old.result.outcome == Outcome::kFault &&
               old.result.message.find("use-after-free") != std::string::npos) ||
              old.Reported("unexpected event");
  CHECK_MESSAGE(seen, old.result.message);
#endif
  CheckClean(RunLoop(SyncRecv, Profile()));
}

TEST_CASE("Quirk serving-pipe-close: a client accepted as the server closes gets a transport nobody closes") {
  for (bool quirk : {false, true}) {
    CAPTURE(quirk);
    int made = 0;
    const std::string address = "\\\\.\\pipe\\quirk-server";
    testing::LoopRun run = RunLoop([&](EventLoop& loop) {
      auto server = StartServingPipe(loop, [&] {
        ++made;
        return std::make_shared<Protocol>();
      }, address);
      RunUntil(loop, [] { return false; }, 0.001);
      std::basic_string<WCHAR> name = Widen(address);
      HANDLE c = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                             OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
      ::Sleep(1);  // the accept's packet is queued
      loop.CallSoon([&] { server->Close(); });  // runs before the accept's callback
      RunUntil(loop, [] { return false; }, 0.01);
      CloseHandle(c);
      RunUntil(loop, [] { return false; }, 0.01);
    }, quirk ? With(Quirk::kServingPipeClose) : Profile());
    if (quirk) {
      CHECK(made == 1);
      CHECK(run.Reported("unclosed transport <_ProactorDuplexPipeTransport"));
    } else {
      CHECK(made == 0);
      CheckClean(run);
    }
  }
}

using Events = testing::SubprocessEvents;

Coro<Void> ExecAndWait(EventLoop& loop, std::shared_ptr<Events> e, std::vector<std::string> args) {
  SubprocessProtocolFactory factory = [e] { return e; };
  auto [t, p] = co_await SubprocessExec(loop, factory, std::move(args));
  co_await t->Wait();
  co_await Sleep(loop, 0.05);
  t->Close();
}

TEST_CASE("Quirk subprocess-finish-order: a child that exits while its pipes connect gets connection_lost first") {
  int violations[2] = {0, 0};
  for (bool quirk : {false, true}) {
    for (uint64_t seed = 1; seed <= 40; ++seed) {
      auto e = std::make_shared<Events>();
      PrngSource prng(seed);
      testing::LoopRun run = testing::RunLoopWith(
          prng, quirk ? With(Quirk::kSubprocessFinishOrder) : Profile(), [&](EventLoop& loop) {
            loop.RunUntilComplete(ExecAndWait(loop, e, {"exit-now", "0"}));
          });
      if (e->events.empty() || e->events.front() != "made") ++violations[quirk];
      if (!quirk) {
        CAPTURE(seed);
        CheckClean(run);
      }
    }
  }
  CHECK(violations[0] == 0);
  CHECK(violations[1] > 0);
  MESSAGE("connection_lost before connection_made in " << violations[1] << " of 40 seeds");
}

Coro<Void> CancelledExec(EventLoop& loop) {
  SubprocessProtocolFactory factory = [] { return std::make_shared<SubprocessProtocol>(); };
  std::vector<std::string> args = {"sleep-then-exit", "100000"};
  auto task = loop.CreateTask(SubprocessExec(loop, factory, args));
  loop.CallSoon([task] { task->Cancel(); });  // while the pipes connect
  bool cancelled = false;
  try {
    co_await task;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  CHECK(cancelled);
  co_await Sleep(loop, 0.05);
}

TEST_CASE("Quirk post-init-leak: a cancelled subprocess_exec leaves its transport open and the child running") {
  testing::LoopRun old = RunLoop([](EventLoop& loop) { loop.RunUntilComplete(CancelledExec(loop)); },
                                 With(Quirk::kPostInitLeak));
  // Found only when the loop collects it (Python: when the GC does).
  CHECK(old.Reported("unclosed transport <_WindowsSubprocessTransport"));
  CheckClean(RunLoop([](EventLoop& loop) { loop.RunUntilComplete(CancelledExec(loop)); }));
}

TEST_CASE("Quirk bpo-23293: a cancelled connect_pipe still connects on its thread; the handle it posts leaks") {
  const std::string address = "\\\\.\\pipe\\quirk-busy";
  auto body = [&](EventLoop& loop) {
    // Plain variables, not a structured binding: clang 14 cannot capture those.
    testing::BusyPipe busy = testing::MakeBusyPipe(loop, address);
    PipeHandlePtr server = busy.server;
    HANDLE first = busy.first;
    auto c = loop.proactor().ConnectPipe(address);  // busy: waits
    loop.RunUntilComplete(Sleep(loop, 0.01));
    c->Cancel();
    // The instance frees up: the old work item connects and posts.
    CloseHandle(first);
    DisconnectNamedPipe(server->handle());
    auto accept = loop.proactor().AcceptPipe(server);
    loop.RunUntilComplete(Sleep(loop, 0.1));
    accept->Cancel();  // nobody came (without the quirk)
    loop.RunUntilComplete(Sleep(loop, 0.01));
    server->Close();
  };
  testing::LoopRun old = RunLoop(body, With(Quirk::kBpo23293));
  bool leaked = false;
  for (const LeftHandle& h : old.result.handles_left) {
    if (h.object.find("pipe-client") != std::string::npos) leaked = true;
  }
  CHECK(leaked);
  CheckClean(RunLoop(body, Profile()));
}

// A wait whose callback already posted its packet is cancelled before the
// loop polls it.
void CancelFiredWait(EventLoop& loop) {
  HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  auto w = loop.proactor().WaitForHandle(ev);
  SetEvent(ev);
  ::Sleep(1);  // the wait fires; its callback posts the packet
  w->Cancel();
  loop.RunUntilComplete(Sleep(loop, 0.01));
  CloseHandle(ev);
}

TEST_CASE("Quirk bpo-23095: the old cancel drops the entry; the callback's packet is an unexpected event") {
  testing::LoopRun old = RunLoop(CancelFiredWait, With(Quirk::kBpo23095));
  CHECK(old.Reported("GetQueuedCompletionStatus() returned an unexpected event"));
  CheckClean(RunLoop(CancelFiredWait, Profile()));
}

TEST_CASE("Quirk wait-cancel-fake-packet: the fake packet follows the real one and is unexpected") {
  testing::LoopRun old = RunLoop(CancelFiredWait, With(Quirk::kWaitCancelFakePacket));
  CHECK(old.Reported("GetQueuedCompletionStatus() returned an unexpected event"));
  CheckClean(RunLoop(CancelFiredWait, Profile()));
}

// A client endpoint whose first receive fails at once: an ICMP port
// unreachable came back before the transport issued it. Then a peer sends
// it a datagram. Returns the client's events.
std::vector<std::string> ReadAfterUnreachable(EventLoop& loop) {
  SocketPtr gone = Socket::Make(loop, Socket::Type::kDatagram);
  gone->Bind(0);
  uint16_t dead = gone->LocalPort();
  gone->Close();
  SocketPtr sock = Socket::Make(loop, Socket::Type::kDatagram);
  sock->Bind(0);
  uint16_t port = sock->LocalPort();
  loop.RunUntilComplete(loop.proactor().SendTo(sock, "lost", dead));
  loop.RunUntilComplete(Sleep(loop, 0.01));  // the ICMP arrives
  auto client = std::make_shared<testing::DatagramRecorder>();
  PipeTransportPtr t = PipeTransport::MakeDatagram(loop, sock, client);
  loop.RunUntilComplete(Sleep(loop, 0.01));
  SocketPtr peer = Socket::Make(loop, Socket::Type::kDatagram);
  loop.RunUntilComplete(loop.proactor().SendTo(peer, "hello", port));
  loop.RunUntilComplete(Sleep(loop, 0.01));
  peer->Close();
  t->Close();
  loop.RunUntilComplete(Sleep(loop, 0.01));
  return client->events;
}

TEST_CASE("Quirk gh-127057: after a synchronous WSAECONNRESET the datagram transport reads no more") {
  std::vector<std::string> events;
  testing::LoopRun old = RunLoop([&](EventLoop& loop) { events = ReadAfterUnreachable(loop); },
                                 With(Quirk::kGh127057));
  CHECK(events == std::vector<std::string>{
                      "made", "error:ConnectionResetError: [WinError 10054] WSARecvFrom", "lost"});
  CheckClean(old);  // nothing else shows it: the datagram is just never read
  CheckClean(RunLoop([&](EventLoop& loop) { events = ReadAfterUnreachable(loop); }, Profile()));
  CHECK(events == std::vector<std::string>{"made",
                                           "error:ConnectionResetError: [WinError 10054] WSARecvFrom",
                                           "datagram:hello", "lost"});
}

// A datagram sent and the transport closed at once; then the loop runs on.
std::vector<std::string> CloseWithSendInFlight(EventLoop& loop) {
  auto server = std::make_shared<testing::DatagramRecorder>();
  DatagramProtocolFactory sf = [server] { return server; };
  PipeTransportPtr st = loop.RunUntilComplete(CreateDatagramEndpoint(loop, sf, 0));
  uint16_t port = static_cast<Socket*>(st->pipe())->LocalPort();
  auto client = std::make_shared<testing::DatagramRecorder>();
  DatagramProtocolFactory cf = [client] { return client; };
  PipeTransportPtr ct = loop.RunUntilComplete(CreateDatagramEndpoint(loop, cf, 0));
  ct->SendTo("bye", port);
  ct->Close();
  loop.RunUntilComplete(Sleep(loop, 0.01));
  CHECK(server->received == std::vector<std::string>{"bye"});
  st->Close();
  loop.RunUntilComplete(Sleep(loop, 0.01));
  return client->events;
}

TEST_CASE("Quirk gh-156920: closing a datagram transport with a send in flight never calls connection_lost") {
  std::vector<std::string> events;
  testing::LoopRun old =
      RunLoop([&](EventLoop& loop) { events = CloseWithSendInFlight(loop); }, With(Quirk::kGh156920));
  CHECK(events == std::vector<std::string>{"made"});
  // The socket stays open until the transport is collected: a ResourceWarning.
  CHECK(old.Reported("unclosed transport <_ProactorDatagramTransport closing"));
  CheckClean(RunLoop([&](EventLoop& loop) { events = CloseWithSendInFlight(loop); }, Profile()));
  CHECK(events == std::vector<std::string>{"made", "lost"});
}

TEST_CASE("Profiles: named sets of quirks") {
  CHECK(Profile::Named("cpython-3.12.3")->Describe() == "gh-127057+gh-156920");
  CHECK(Profile::Named("current")->Describe() == "current");
  CHECK(Profile::Named("cpython-3.4.2")->Has(Quirk::kRecvBrokenPipe));
  CHECK(Profile::Named("cpython-3.4.2")->Has(Quirk::kWaitCancelFakePacket));
  CHECK_FALSE(Profile::Named("cpython-3.4.2")->Has(Quirk::kAsyncio196));
  CHECK(Profile::Named("cpython-3.4.1")->Has(Quirk::kAsyncio196));
  CHECK_FALSE(Profile::Named("cpython-9").has_value());
  CHECK(QuirkFromId("bpo-23293") == Quirk::kBpo23293);
  CHECK(QuirkId(Quirk::kPostInitLeak) == std::string("post-init-leak"));
}

}  // namespace
}  // namespace iocpsim::proactor
