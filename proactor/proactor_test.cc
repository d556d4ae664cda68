// IocpProactor's verbs under the canonical schedule and under chosen ones.
#include <doctest/doctest.h>

#include <string>

#include "proactor/iocp_proactor.h"
#include "proactor/test_util.h"
#include "sim/test_util.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::MakePipePair;
using testing::RunLoop;

TEST_CASE("Recv: data already there resolves at once but stays in the cache until its packet") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    DWORD n;
    OVERLAPPED w{};
    WriteFile(client->handle(), "hello", 5, &n, &w);
    IocpProactor& p = loop.proactor();
    auto f = p.Recv(server, 100);
    CHECK(f->done());  // the fast path: ReadFile succeeded synchronously
    CHECK(f->Result() == "hello");
    CHECK(p.cache_size() == 1);  // asyncio#196: kept until the packet
    loop.RunUntilComplete(Sleep(loop, 0.01));
    CHECK(p.cache_size() == 0);
    GetOverlappedResult(client->handle(), &w, &n, TRUE);
    server->Close();
    client->Close();
  }));
}

TEST_CASE("Recv: pending until the peer writes; Send reports the bytes written") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    IocpProactor& p = loop.proactor();
    auto r = p.Recv(server, 100);
    CHECK_FALSE(r->done());
    auto s = p.Send(client, "ping");
    CHECK(loop.RunUntilComplete(s) == 4);
    CHECK(loop.RunUntilComplete(r) == "ping");
    CHECK(p.cache_size() == 0);
    server->Close();
    client->Close();
  }));
}

TEST_CASE("Recv after the writer closed: b'' at once, nothing registered (41063d2a)") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    client->Close();
    IocpProactor& p = loop.proactor();
    auto r = p.Recv(server, 100);
    CHECK(r->done());
    CHECK(r->Result().empty());
    CHECK(p.cache_size() == 0);
    server->Close();
  }));
}

TEST_CASE("A pending Recv whose writer closes resolves to b'' (ERROR_BROKEN_PIPE is end of file)") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    auto r = loop.proactor().Recv(server, 100);
    loop.CallLater(0.01, [c = client] { c->Close(); });
    CHECK(loop.RunUntilComplete(r).empty());
    server->Close();
  }));
}

TEST_CASE("AcceptPipe: a client that connected first gives a resolved future and no cache entry") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    IocpProactor& p = loop.proactor();
    auto f = p.AcceptPipe(server);
    CHECK(f->done());
    CHECK(f->Result() == server);
    CHECK(p.cache_size() == 0);
    server->Close();
    client->Close();
  }));
}

TEST_CASE("AcceptPipe without a client is pending until one connects") {
  CheckClean(RunLoop([](EventLoop& loop) {
    std::basic_string<WCHAR> name = Widen(testing::kPipeAddress);
    auto server = std::make_shared<PipeHandle>(
        loop, CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                               PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 4, 4096,
                               4096, 0, nullptr));
    auto f = loop.proactor().AcceptPipe(server);
    CHECK_FALSE(f->done());
    auto c = loop.proactor().ConnectPipe(testing::kPipeAddress);
    PipeHandlePtr client = loop.RunUntilComplete(c);
    CHECK(loop.RunUntilComplete(f) == server);
    server->Close();
    client->Close();
  }));
}

TEST_CASE("ConnectPipe retries ERROR_PIPE_BUSY with a delay doubling from 1 ms, and can be cancelled") {
  CheckClean(RunLoop([](EventLoop& loop) {
    // One instance, taken: every CreateFile is ERROR_PIPE_BUSY.
    // Plain variables, not a structured binding: clang 14 cannot capture those.
    testing::BusyPipe busy = testing::MakeBusyPipe(loop, testing::kPipeAddress);
    PipeHandlePtr server = busy.server;
    HANDLE first = busy.first;
    double start = loop.Time();
    auto c = loop.proactor().ConnectPipe(testing::kPipeAddress);
    // Free the instance after 50 ms: the retries at +2, +4, +8, +16, +32 ms
    // fail, the one after +64 ms succeeds.
    FuturePtr<PipeHandlePtr> accept;
    loop.CallLater(0.05, [&] {
      CloseHandle(first);
      DisconnectNamedPipe(server->handle());
      accept = loop.proactor().AcceptPipe(server);
    });
    PipeHandlePtr client = loop.RunUntilComplete(c);
    double took = loop.Time() - start;
    CHECK(took >= 0.062);
    CHECK(took < 0.2);
    CHECK(loop.RunUntilComplete(accept) == server);
    // Busy again (the instance is connected): cancel the retrying connect.
    auto c2 = loop.proactor().ConnectPipe(testing::kPipeAddress);
    loop.CallLater(0.01, [c2] { c2->Cancel(); });
    CHECK_THROWS_AS(loop.RunUntilComplete(c2), CancelledError);
    client->Close();
    server->Close();
  }));
}

TEST_CASE("WaitForHandle: true when signalled, false on timeout; the cache is empty afterwards") {
  CheckClean(RunLoop([](EventLoop& loop) {
    HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    auto w = loop.proactor().WaitForHandle(ev);
    loop.CallLater(0.02, [ev] { SetEvent(ev); });
    CHECK(loop.RunUntilComplete(w) == true);
    HANDLE never = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    double start = loop.Time();
    auto t = loop.proactor().WaitForHandle(never, 0.05);
    CHECK(loop.RunUntilComplete(t) == false);
    CHECK(loop.Time() - start >= 0.05);
    loop.RunUntilComplete(Sleep(loop, 0.01));  // the _WaitCancelFutures come back
    CHECK(loop.proactor().cache_size() == 0);
    CloseHandle(ev);
    CloseHandle(never);
  }));
}

TEST_CASE("Cancelling a WaitForHandle future unregisters with an event and leaves nothing behind") {
  CheckClean(RunLoop([](EventLoop& loop) {
    HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    auto w = loop.proactor().WaitForHandle(ev);
    loop.CallLater(0.01, [w] { w->Cancel(); });
    CHECK_THROWS_AS(loop.RunUntilComplete(w), CancelledError);
    SetEvent(ev);
    loop.RunUntilComplete(Sleep(loop, 0.01));
    CHECK(loop.proactor().cache_size() == 0);
    CloseHandle(ev);
  }));
}

TEST_CASE("Close cancels pending operations and waits for their packets") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    auto r = loop.proactor().Recv(server, 100);
    auto a = loop.proactor().Recv(client, 100);
    loop.Close();
    CHECK(r->cancelled());
    CHECK(a->cancelled());
    server->Close();
    client->Close();
  }));
}

TEST_CASE("A packet whose address is not in the cache is reported, and its key closed") {
  testing::LoopRun run = RunLoop([](EventLoop& loop) {
    HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    static OVERLAPPED stray{};
    PostQueuedCompletionStatus(loop.proactor().iocp(), 0, reinterpret_cast<ULONG_PTR>(ev), &stray);
    loop.RunUntilComplete(Sleep(loop, 0.001));
    CHECK_FALSE(CloseHandle(ev));  // _poll closed it already
  });
  CHECK(run.Reported("GetQueuedCompletionStatus() returned an unexpected event"));
  CHECK(run.result.handles_left.empty());
}

TEST_CASE("Close on a cancel that loses the race: the read completes with its data, the future stays cancelled") {
  // cancel-race option 1: the request is refused (the data was there).
  for (uint32_t option : {0u, 1u}) {
    CAPTURE(option);
    // The cancel request fires before the completion, and meets its data.
    iocpsim::testing::PreferSource pick("cancel ov#", ChoiceKind::kCancelRace, option);
    testing::LoopRun run = testing::RunLoopWith(pick, Profile::Current(), [](EventLoop& loop) {
      auto [server, client] = MakePipePair(loop);
      auto r = loop.proactor().Recv(server, 100);
      DWORD n;
      OVERLAPPED w{};
      WriteFile(client->handle(), "late", 4, &n, &w);
      r->Cancel();
      CHECK(r->cancelled());
      loop.RunUntilComplete(Sleep(loop, 0.01));
      CHECK(loop.proactor().cache_size() == 0);
      GetOverlappedResult(client->handle(), &w, &n, TRUE);
      server->Close();
      client->Close();
    });
    CHECK(pick.seen_n == 2);  // the cancel really met a completion
    CheckClean(run);
  }
}

}  // namespace
}  // namespace iocpsim::proactor
