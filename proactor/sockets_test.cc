// The proactor's socket verbs (accept, connect, recv, send, recvfrom,
// sendto) and socket.socketpair(), under the canonical schedule and under
// random ones.
#include <doctest/doctest.h>

#include <string>

#include "proactor/errors.h"
#include "proactor/iocp_proactor.h"
#include "proactor/sockets.h"
#include "proactor/test_util.h"

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

TEST_CASE("Datagrams: sendto and recvfrom, and an ICMP port unreachable as OSError 1234") {
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
    auto pending = p.RecvFrom(a, 100);
    loop.RunUntilComplete(p.SendTo(a, "lost", to));
    try {
      loop.RunUntilComplete(pending);
      CHECK_MESSAGE(false, "the receive should fail");
    } catch (const OSError& e) {
      CHECK(e.winerror == ERROR_PORT_UNREACHABLE);
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
