// Subprocess transports and Process (base_subprocess.py, subprocess.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proactor/subprocess.h"
#include "proactor/test_util.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::RunLoop;
using testing::RunUntil;

using Events = testing::SubprocessEvents;

Coro<int> ExecAndWait(EventLoop& loop, std::shared_ptr<Events> e, std::vector<std::string> args) {
  SubprocessProtocolFactory factory = [e] { return e; };
  auto [t, p] = co_await SubprocessExec(loop, factory, std::move(args));
  int code = co_await t->Wait();
  co_return code;
}

TEST_CASE("subprocess_exec: data, pipe and process events between connection_made and connection_lost") {
  auto e = std::make_shared<Events>();
  CheckClean(RunLoop([&](EventLoop& loop) {
    CHECK(loop.RunUntilComplete(ExecAndWait(loop, e, {"write-then-exit", "hello", "3"})) == 3);
    RunUntil(loop, [&] { return e->Count("lost") == 1; });
  }));
  e->CheckGrammar();
  CHECK(e->Count("data1:hello") == 1);
  CHECK(e->Count("pipe-lost0") == 1);
  CHECK(e->Count("pipe-lost1") == 1);
  CHECK(e->Count("pipe-lost2") == 1);
}

Coro<std::pair<std::string, std::string>> EchoThrough(EventLoop& loop, int& code) {
  std::vector<std::string> args = {"echo"};
  std::shared_ptr<Process> p = co_await CreateSubprocessExec(loop, args);
  auto result = co_await p->Communicate("ping");
  code = *p->returncode();
  co_return result;
}

TEST_CASE("Process.communicate(): stdin to an echo child comes back on stdout; exit code 0") {
  int code = -1;
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto [out, err] = loop.RunUntilComplete(EchoThrough(loop, code));
    CHECK(out == "ping");
    CHECK(err.empty());
    RunUntil(loop, [] { return false; }, 0.01);
  }));
  CHECK(code == 0);
}

Coro<Void> CloseKills(EventLoop& loop, std::shared_ptr<Events> e, int& code) {
  SubprocessProtocolFactory factory = [e] { return e; };
  std::vector<std::string> args = {"sleep-then-exit", "100000"};
  auto [t, p] = co_await SubprocessExec(loop, factory, args);
  co_await Sleep(loop, 0.01);
  CHECK_FALSE(t->GetReturncode().has_value());
  t->Close();
  code = co_await t->Wait();
}

TEST_CASE("close() kills a child that is still running; the protocol still ends with connection_lost") {
  auto e = std::make_shared<Events>();
  int code = -1;
  CheckClean(RunLoop([&](EventLoop& loop) {
    loop.RunUntilComplete(CloseKills(loop, e, code));
    RunUntil(loop, [&] { return e->Count("lost") == 1; });
  }));
  CHECK(code == 1);  // TerminateProcess(handle, 1)
  e->CheckGrammar();
}

TEST_CASE("An unknown program: subprocess_exec raises, nothing is left open") {
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto e = std::make_shared<Events>();
    try {
      loop.RunUntilComplete(ExecAndWait(loop, e, {"no-such-program"}));
      CHECK(false);
    } catch (const OSError& x) {
      CHECK(x.winerror == ERROR_FILE_NOT_FOUND);
    }
    CHECK(e->events.empty());
  }));
}

TEST_CASE("A child that exits at once, under many schedules: the protocol grammar holds") {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    auto e = std::make_shared<Events>();
    PrngSource prng(seed);
    int code = -1;
    testing::LoopRun run = testing::RunLoopWith(prng, Profile::Current(), [&](EventLoop& loop) {
      code = loop.RunUntilComplete(ExecAndWait(loop, e, {"write-then-exit", "x", "5"}));
      RunUntil(loop, [&] { return e->Count("lost") == 1; });
    });
    CheckClean(run);
    CHECK(code == 5);
    e->CheckGrammar();
  }
}

}  // namespace
}  // namespace iocpsim::proactor
