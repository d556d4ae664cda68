// create_server / create_connection, the loop's sock_* methods, and
// create_datagram_endpoint with the datagram transport, under the
// canonical schedule and random ones.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proactor/errors.h"
#include "proactor/socket_server.h"
#include "proactor/test_util.h"
#include "sim/test_util.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::RunLoop;
using testing::RunUntil;

using Recorder = testing::Recorder;
using Datagrams = testing::DatagramRecorder;

std::shared_ptr<Datagrams> Echoing() {
  auto p = std::make_shared<Datagrams>();
  p->echo = true;
  return p;
}

TEST_CASE("create_server and create_connection: an echo, then both ends close") {
  CheckClean(RunLoop([](EventLoop& loop) {
    std::vector<std::shared_ptr<Recorder>> served;
    SocketServerPtr server = CreateServer(loop, [&]() -> ProtocolPtr {
      served.push_back(std::make_shared<Recorder>());
      served.back()->echo = true;
      return served.back();
    });
    auto client = std::make_shared<Recorder>();
    SocketProtocolFactory factory = [client]() -> ProtocolPtr { return client; };
    PipeTransportPtr t = loop.RunUntilComplete(CreateConnection(loop, factory, server->port()));
    CHECK(t->GetExtraInfo("peername") == "127.0.0.1:" + std::to_string(server->port()));
    t->Write("hello");
    RunUntil(loop, [&] { return client->data == "hello"; });
    REQUIRE(served.size() == 1);
    CHECK(served[0]->data == "hello");
    CHECK(client->data == "hello");
    t->Close();
    RunUntil(loop, [&] { return client->Lost() && served[0]->Lost(); });
    CHECK(client->events == std::vector<std::string>{"made", "data:hello", "lost"});
    // EOF, and eof_received() said close.
    CHECK(served[0]->events == std::vector<std::string>{"made", "data:hello", "eof", "lost"});
    server->Close();
    loop.RunUntilComplete(Sleep(loop, 0.01));
  }));
}

TEST_CASE("set_protocol: a socket transport's data and connection_lost go to the new protocol") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto first = std::make_shared<Recorder>();
    auto second = std::make_shared<Recorder>();
    SocketServerPtr server = CreateServer(loop, [first]() -> ProtocolPtr { return first; });
    auto client = std::make_shared<Recorder>();
    SocketProtocolFactory factory = [client]() -> ProtocolPtr { return client; };
    PipeTransportPtr t = loop.RunUntilComplete(CreateConnection(loop, factory, server->port()));
    t->Write("one");
    RunUntil(loop, [&] { return first->data == "one"; });
    first->transport->SetProtocol(second);
    second->transport = first->transport;
    t->Write("two");
    t->Close();
    RunUntil(loop, [&] { return second->Lost() && client->Lost(); });
    CHECK(first->events == std::vector<std::string>{"made", "data:one"});
    CHECK(second->events == std::vector<std::string>{"data:two", "eof", "lost"});
    first->transport = nullptr;
    server->Close();
    loop.RunUntilComplete(Sleep(loop, 0.01));
  }));
}

Coro<std::string> SockRoundTrip(EventLoop& loop) {
  SocketPtr l = Socket::Make(loop, Socket::Type::kStream);
  l->Bind(0);
  l->Listen(1);
  FuturePtr<Accepted> accepting = loop.CreateTask(SockAccept(loop, l));
  SocketPtr c = Socket::Make(loop, Socket::Type::kStream);
  co_await SockConnect(loop, c, l->LocalPort());
  Accepted a = co_await accepting;
  DWORD sent = co_await SockSendAll(loop, c, "ping");
  std::string got = co_await SockRecv(loop, a.conn, 100);
  co_await SockSendAll(loop, a.conn, "pong");
  auto buf = std::make_shared<ReadBuffer>(16);
  DWORD n = co_await SockRecvInto(loop, c, buf);
  got += std::to_string(sent) + std::string(buf->data.get(), n);
  SocketPtr u = Socket::Make(loop, Socket::Type::kDatagram);
  SocketPtr v = Socket::Make(loop, Socket::Type::kDatagram);
  v->Bind(0);
  co_await SockSendTo(loop, u, "datagram", v->LocalPort());
  Datagram d = co_await SockRecvFrom(loop, v, 100);
  CHECK(d.from_port == u->LocalPort());
  got += d.data;
  for (const SocketPtr& s : {l, c, a.conn, u, v}) s->Close();
  co_return got;
}

TEST_CASE("sock_accept, sock_connect, sock_sendall, sock_recv, sock_recv_into, sock_sendto, sock_recvfrom") {
  CheckClean(RunLoop([](EventLoop& loop) {
    CHECK(loop.RunUntilComplete(SockRoundTrip(loop)) == "ping4pongdatagram");
  }));
}

TEST_CASE("sock_connect to a port nobody listens on raises ConnectionRefusedError") {
  CheckClean(RunLoop([](EventLoop& loop) {
    SocketPtr l = Socket::Make(loop, Socket::Type::kStream);
    l->Bind(0);
    uint16_t port = l->LocalPort();
    l->Close();
    SocketPtr c = Socket::Make(loop, Socket::Type::kStream);
    CHECK_THROWS_AS(loop.RunUntilComplete(SockConnect(loop, c, port)), ConnectionRefusedError);
    c->Close();
  }));
}

// An echo server endpoint and a client endpoint (connected or not); the
// client sends `n` datagrams and waits for the echoes.
void DatagramEcho(EventLoop& loop, bool connected, int n) {
  auto server = Echoing();
  DatagramProtocolFactory sf = [server] { return server; };
  PipeTransportPtr st = loop.RunUntilComplete(CreateDatagramEndpoint(loop, sf, 0));
  uint16_t port = static_cast<Socket*>(st->pipe())->LocalPort();
  auto client = std::make_shared<Datagrams>();
  DatagramProtocolFactory cf = [client] { return client; };
  PipeTransportPtr ct = loop.RunUntilComplete(
      connected ? CreateDatagramEndpoint(loop, cf, std::nullopt, port)
                : CreateDatagramEndpoint(loop, cf, 0));
  std::vector<std::string> sent;
  for (int i = 0; i < n; ++i) {
    sent.push_back("datagram " + std::to_string(i));
    ct->SendTo(sent.back(), connected ? 0 : port);
  }
  RunUntil(loop, [&] { return client->received.size() == sent.size(); });
  CHECK(server->received == sent);
  CHECK(client->received == sent);
  CHECK(client->errors == 0);
  ct->Close();
  st->Close();
  RunUntil(loop, [&] { return client->transport == nullptr && server->transport == nullptr; });
  CHECK(client->events.front() == "made");
  CHECK(client->events.back() == "lost");
  CHECK(server->events.back() == "lost");
}

TEST_CASE("create_datagram_endpoint: an echo, unconnected and connected, and close") {
  CheckClean(RunLoop([](EventLoop& loop) { DatagramEcho(loop, false, 3); }));
  CheckClean(RunLoop([](EventLoop& loop) { DatagramEcho(loop, true, 3); }));
}

TEST_CASE("Datagram echo under 300 random schedules: every datagram back, nothing left behind") {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    PrngSource source(seed);
    CheckClean(testing::RunLoopWith(source, Profile::Current(), [seed](EventLoop& loop) {
      DatagramEcho(loop, seed % 2 == 0, 4);
    }));
  }
}

TEST_CASE("A datagram transport rejects another address when connected, and needs one when not") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto p = std::make_shared<Datagrams>();
    DatagramProtocolFactory f = [p] { return p; };
    PipeTransportPtr t = loop.RunUntilComplete(CreateDatagramEndpoint(loop, f, std::nullopt, 9));
    CHECK_THROWS_AS(t->SendTo("x", 10), std::invalid_argument);
    CHECK_THROWS_AS(t->Write("x"), std::logic_error);
    CHECK_THROWS_AS(t->SetProtocol(std::make_shared<Recorder>()), std::invalid_argument);
    t->Close();
    PipeTransportPtr u = loop.RunUntilComplete(CreateDatagramEndpoint(loop, f, 0));
    CHECK_THROWS_AS(u->SendTo("x"), std::invalid_argument);
    u->Close();
    loop.RunUntilComplete(Sleep(loop, 0.01));
  }));
}

TEST_CASE("Closing a datagram transport with sends in flight flushes them, then connection_lost (GH-156921)") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto server = std::make_shared<Datagrams>();
    DatagramProtocolFactory sf = [server] { return server; };
    PipeTransportPtr st = loop.RunUntilComplete(CreateDatagramEndpoint(loop, sf, 0));
    uint16_t port = static_cast<Socket*>(st->pipe())->LocalPort();
    auto client = std::make_shared<Datagrams>();
    DatagramProtocolFactory cf = [client] { return client; };
    PipeTransportPtr ct = loop.RunUntilComplete(CreateDatagramEndpoint(loop, cf, 0));
    ct->SendTo("one", port);
    ct->SendTo("two", port);
    CHECK(ct->GetWriteBufferSize() == 3);  // "two" waits behind "one"
    ct->Close();
    RunUntil(loop, [&] { return client->transport == nullptr && server->received.size() == 2; });
    CHECK(server->received == std::vector<std::string>{"one", "two"});
    CHECK(client->events == std::vector<std::string>{"made", "lost"});
    st->Close();
    loop.RunUntilComplete(Sleep(loop, 0.01));
  }));
}

TEST_CASE("An ICMP port unreachable: nothing for the pending receive; an error for the next one, then reading goes on") {
  CheckClean(RunLoop([](EventLoop& loop) {
    SocketPtr gone = Socket::Make(loop, Socket::Type::kDatagram);
    gone->Bind(0);
    uint16_t dead = gone->LocalPort();
    gone->Close();
    auto client = std::make_shared<Datagrams>();
    DatagramProtocolFactory cf = [client] { return client; };
    PipeTransportPtr ct = loop.RunUntilComplete(CreateDatagramEndpoint(loop, cf, 0));
    uint16_t port = static_cast<Socket*>(ct->pipe())->LocalPort();
    // A receive is pending: it completes with ERROR_PORT_UNREACHABLE,
    // which finish_socket_func makes an empty datagram (gh-91227).
    ct->SendTo("lost", dead);
    loop.RunUntilComplete(Sleep(loop, 0.01));
    CHECK(client->errors == 0);
    CHECK(client->received.empty());
    // A plain socket sends to us: reading still works.
    SocketPtr peer = Socket::Make(loop, Socket::Type::kDatagram);
    loop.RunUntilComplete(loop.proactor().SendTo(peer, "hello", port));
    RunUntil(loop, [&] { return !client->received.empty(); });
    CHECK(client->received == std::vector<std::string>{"hello"});
    peer->Close();
    ct->Close();
    loop.RunUntilComplete(Sleep(loop, 0.01));
  }));
}

}  // namespace
}  // namespace iocpsim::proactor
