// PipeServer, start_serving_pipe and create_pipe_connection.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proactor/pipe_server.h"
#include "proactor/test_util.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::Recorder;
using testing::RunLoop;
using testing::RunUntil;
using V = std::vector<std::string>;

const std::string kAddress = "\\\\.\\pipe\\echo-server";

Coro<Void> Client(EventLoop& loop, std::string message, std::shared_ptr<Recorder> r) {
  // A named factory: g++ 12 destroys a lambda temporary in a co_await
  // expression twice (see tasks.h).
  ProtocolFactory factory = [r] { return r; };
  co_await CreatePipeConnection(loop, factory, kAddress);
  r->transport->Write(message);
  while (r->data.size() < message.size()) co_await Sleep(loop, 0.001);
  r->transport->Close();
}

TEST_CASE("An echo server serves several clients; each gets its own transport and protocol") {
  std::vector<std::shared_ptr<Recorder>> served, clients;
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto server = StartServingPipe(loop, [&] {
      auto r = std::make_shared<Recorder>();
      r->echo = true;
      served.push_back(r);
      return r;
    }, kAddress);
    std::vector<FuturePtr<Void>> all;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_shared<Recorder>());
      all.push_back(loop.CreateTask(Client(loop, "msg" + std::to_string(i), clients.back())));
    }
    loop.RunUntilComplete(Gather<Void>(loop, all));
    RunUntil(loop, [&] {
      for (auto& s : served) {
        if (!s->Lost()) return false;
      }
      return served.size() == 3;
    });
    server->Close();
  }));
  REQUIRE(served.size() == 3);
  REQUIRE(clients.size() == 3);
  for (int i = 0; i < 3; ++i) {
    std::string m = "msg" + std::to_string(i);
    CHECK(clients[i]->events == V{"made", "data:" + m, "lost"});
    CHECK(clients[i]->data == m);
  }
  for (auto& s : served) {
    CHECK(s->events.front() == "made");
    CHECK(s->events.back() == "lost");
  }
}

TEST_CASE("A listening instance is always there: a second client connects without ERROR_PIPE_BUSY") {
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto server = StartServingPipe(loop, [] { return std::make_shared<Recorder>(); }, kAddress);
    RunUntil(loop, [] { return false; }, 0.001);
    std::basic_string<WCHAR> name = Widen(kAddress);
    HANDLE c1 = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                            FILE_FLAG_OVERLAPPED, nullptr);
    CHECK(c1 != INVALID_HANDLE_VALUE);
    RunUntil(loop, [] { return false; }, 0.001);
    HANDLE c2 = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                            FILE_FLAG_OVERLAPPED, nullptr);
    CHECK(c2 != INVALID_HANDLE_VALUE);
    CloseHandle(c1);
    CloseHandle(c2);
    RunUntil(loop, [] { return false; }, 0.01);
    server->Close();
  }));
}

TEST_CASE("Closing the server cancels the pending accept and closes the free instances; new clients find nothing") {
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto server = StartServingPipe(loop, [] { return std::make_shared<Recorder>(); }, kAddress);
    RunUntil(loop, [] { return false; }, 0.001);
    CHECK(loop.proactor().cache_size() == 1);  // the accept
    server->Close();
    CHECK(server->closed());
    RunUntil(loop, [] { return false; }, 0.001);
    CHECK(loop.proactor().cache_size() == 0);
    auto c = loop.proactor().ConnectPipe(kAddress);
    try {
      loop.RunUntilComplete(c);
      CHECK(false);
    } catch (const OSError& e) {
      CHECK(e.winerror == ERROR_FILE_NOT_FOUND);
    }
  }));
}

TEST_CASE("A client that connects just before the server closes is dropped, not served") {
  int made = 0;
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto server = StartServingPipe(loop, [&] {
      ++made;
      return std::make_shared<Recorder>();
    }, kAddress);
    RunUntil(loop, [] { return false; }, 0.001);
    std::basic_string<WCHAR> name = Widen(kAddress);
    HANDLE c = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED, nullptr);
    // The accept's packet is queued; close before its callback runs.
    ::Sleep(1);
    loop.CallSoon([&] { server->Close(); });
    RunUntil(loop, [] { return false; }, 0.01);
    CloseHandle(c);
  }));
  CHECK(made == 0);
}

}  // namespace
}  // namespace iocpsim::proactor
