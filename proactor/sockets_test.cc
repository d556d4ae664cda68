// The proactor's socket verbs (accept, connect, recv, send, recvfrom,
// sendto) and socket.socketpair(), under the canonical schedule and under
// random ones.
#include <doctest/doctest.h>

#include <string>

#include "proactor/errors.h"
#include "proactor/iocp_proactor.h"
#include "proactor/sockets.h"
#include "proactor/test_util.h"
#include "sim/fiber.h"  // IOCPSIM_ASAN
#include "sim/test_util.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::RunLoop;

SocketPtr Listening(EventLoop& loop) {
  SocketPtr l = Socket::Make(loop, Socket::Type::kStream);
  l->Bind(0);
  l->Listen(100);
  return l;
}

TEST_CASE("accept and connect: a connection, then bytes both ways and a graceful close") {
  CheckClean(RunLoop([](EventLoop& loop) {
    IocpProactor& p = loop.proactor();
    SocketPtr l = Listening(loop);
    uint16_t port = l->LocalPort();
    auto accepted = p.Accept(l);
    SocketPtr c = Socket::Make(loop, Socket::Type::kStream);
    SocketPtr connected = loop.RunUntilComplete(p.Connect(c, port));
    CHECK(connected == c);
    Accepted a = loop.RunUntilComplete(accepted);
    CHECK(a.peer_port == c->LocalPort());
    CHECK(a.conn->PeerPort() == c->LocalPort());
    CHECK(c->PeerPort() == port);
    CHECK(loop.RunUntilComplete(p.Send(c, "ping")) == 4);
    CHECK(loop.RunUntilComplete(p.Recv(a.conn, 100)) == "ping");
    auto eof = p.Recv(c, 100);
    a.conn->Close();
    CHECK(loop.RunUntilComplete(eof) == "");
    c->Close();
    l->Close();
    loop.RunUntilComplete(Sleep(loop, 0.01));
    CHECK(p.cache_size() == 0);
  }));
}

TEST_CASE("A peer reset is ConnectionResetError; a refused connect is ConnectionRefusedError") {
  CheckClean(RunLoop([](EventLoop& loop) {
    IocpProactor& p = loop.proactor();
    auto [c, s] = SocketPair(loop);
    auto r = p.Recv(s, 100);
    c->SetAbortiveClose();
    c->Close();
    CHECK_THROWS_AS(loop.RunUntilComplete(r), ConnectionResetError);
    s->Close();
    SocketPtr l = Listening(loop);
    uint16_t port = l->LocalPort();
    l->Close();  // nobody listens there any more
    SocketPtr refused = Socket::Make(loop, Socket::Type::kStream);
    CHECK_THROWS_AS(loop.RunUntilComplete(p.Connect(refused, port)), ConnectionRefusedError);
    refused->Close();
  }));
}

TEST_CASE("A cancelled accept closes its accept socket") {
  CheckClean(RunLoop([](EventLoop& loop) {
    IocpProactor& p = loop.proactor();
    SocketPtr l = Listening(loop);
    auto accepted = p.Accept(l);
    loop.RunUntilComplete(Sleep(loop, 0.01));
    accepted->Cancel();
    loop.RunUntilComplete(Sleep(loop, 0.01));
    CHECK(accepted->cancelled());
    l->Close();
    loop.RunUntilComplete(Sleep(loop, 0.01));
    CHECK(p.cache_size() == 0);
  }));
}

TEST_CASE("Datagrams: sendto and recvfrom; an ICMP port unreachable is an empty datagram, then ConnectionResetError") {
  CheckClean(RunLoop([](EventLoop& loop) {
    IocpProactor& p = loop.proactor();
    SocketPtr a = Socket::Make(loop, Socket::Type::kDatagram);
    SocketPtr b = Socket::Make(loop, Socket::Type::kDatagram);
    b->Bind(0);
    uint16_t to = b->LocalPort();
    auto got = p.RecvFrom(b, 100);
    CHECK(loop.RunUntilComplete(p.SendTo(a, "datagram", to)) == 8);
    Datagram d = loop.RunUntilComplete(got);
    CHECK(d.data == "datagram");
    CHECK(d.from_port == a->LocalPort());
    b->Close();  // nobody at `to` now
    // The pending receive completes with ERROR_PORT_UNREACHABLE:
    // finish_socket_func's (b'', None) since gh-91227.
    auto pending = p.RecvFrom(a, 100);
    loop.RunUntilComplete(p.SendTo(a, "lost", to));
    d = loop.RunUntilComplete(pending);
    CHECK(d.data.empty());
    CHECK(d.from_port == 0);
    // With no receive pending, the next WSARecvFrom fails at once with
    // WSAECONNRESET (MS:WSARecvFrom), raised by the call itself.
    loop.RunUntilComplete(p.SendTo(a, "lost", to));
    loop.RunUntilComplete(Sleep(loop, 0.01));
    try {
      p.RecvFrom(a, 100);
      CHECK_MESSAGE(false, "the receive should fail");
    } catch (const ConnectionResetError& e) {
      CHECK(e.winerror == WSAECONNRESET);
    }
    a->Close();
  }));
}

TEST_CASE("An unclosed socket is reported as a ResourceWarning") {
  testing::LoopRun run = RunLoop([](EventLoop& loop) {
    SocketPtr s = Socket::Make(loop, Socket::Type::kStream);
    s->Bind(0);
  });
  CHECK(run.Reported("unclosed <socket.socket family=AF_INET type=SOCK_STREAM laddr=127.0.0.1:49152>"));
  CHECK(run.result.handles_left.empty());  // the warning closes it
}

TEST_CASE("Echo over sockets under 300 random schedules: every byte arrives, nothing left behind") {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    PrngSource source(seed);
    testing::LoopRun run = testing::RunLoopWith(source, Profile::Current(), [](EventLoop& loop) {
      IocpProactor& p = loop.proactor();
      SocketPtr l = Listening(loop);
      uint16_t port = l->LocalPort();
      auto accepted = p.Accept(l);
      SocketPtr c = Socket::Make(loop, Socket::Type::kStream);
      loop.RunUntilComplete(p.Connect(c, port));
      Accepted a = loop.RunUntilComplete(accepted);
      std::string sent;
      for (int i = 0; i < 3; ++i) {
        std::string m = "message " + std::to_string(i) + ";";
        loop.RunUntilComplete(p.Send(c, m));
        sent += m;
      }
      c->Shutdown(SD_SEND);
      std::string got;
      for (;;) {
        std::string chunk = loop.RunUntilComplete(p.Recv(a.conn, 7));
        if (chunk.empty()) break;
        got += chunk;
      }
      CHECK(got == sent);
      a.conn->Close();
      c->Close();
      l->Close();
    });
    CheckClean(run);
  }
}

}  // namespace
}  // namespace iocpsim::proactor

namespace iocpsim::proactor {
namespace {

DWORD WINAPI CallFromThread(LPVOID param) {
  auto* loop = static_cast<EventLoop*>(param);
  ::Sleep(5);
  loop->CallSoonThreadsafe([loop] { loop->Stop(); });
  return 0;
}

TEST_CASE("call_soon_threadsafe from another thread wakes a loop blocked in select") {
  CheckClean(testing::RunPipedLoop([](EventLoop& loop) {
    HANDLE t = CreateThread(nullptr, 0, CallFromThread, &loop, 0, nullptr);
    double t0 = loop.Time();
    loop.RunForever();  // nothing else scheduled: only the self-pipe can wake it
    CHECK(loop.Time() - t0 < 0.1);
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
  }));
}

// stop() then run_forever() again, a few times (gh-116773's pattern).
void Restarts(EventLoop& loop) {
  for (int i = 0; i < 3; ++i) loop.RunUntilComplete(Sleep(loop, 0.001));
}

TEST_CASE("Restarting a loop with a self-pipe is clean under the canonical and 300 random schedules") {
  CheckClean(testing::RunPipedLoop(Restarts));
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    PrngSource source(seed);
    CheckClean(testing::RunLoopWith(source, Profile::Current(), Restarts, {}, true));
  }
}

TEST_CASE("Quirk gh-116773: a pending self-reading overlapped unregistered at stop is freed under the kernel") {
  // The freed Overlapped's block is taken again by the next self-pipe
  // WSARecv before the kernel touches it, so AddressSanitizer has nothing
  // to say: the kernel's own check finds it, in every build.
  testing::LoopRun run = testing::RunPipedLoop(Restarts, Profile().With(Quirk::kGh116773));
  CHECK(run.result.outcome == Outcome::kFault);
  CHECK_MESSAGE(run.result.message.find("use-after-free") != std::string::npos, run.result.message);
  CHECK(run.Reported("still has pending operation at deallocation"));
}

}  // namespace
}  // namespace iocpsim::proactor
