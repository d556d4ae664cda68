// The event loop, futures and tasks (base_events.py, futures.py, tasks.py).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "proactor/event_loop.h"
#include "proactor/test_util.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::RunLoop;

TEST_CASE("call_soon runs callbacks in order; call_later on virtual time, earliest first") {
  std::vector<std::string> order;
  double at_b = 0, at_c = 0, start = 0;
  CheckClean(RunLoop([&](EventLoop& loop) {
    start = loop.Time();
    loop.CallLater(0.2, [&] { order.push_back("c"); at_c = loop.Time(); loop.Stop(); });
    loop.CallLater(0.1, [&] { order.push_back("b"); at_b = loop.Time(); });
    loop.CallSoon([&] { order.push_back("a1"); });
    loop.CallSoon([&] { order.push_back("a2"); });
    HandlePtr gone = loop.CallSoon([&] { order.push_back("cancelled"); });
    gone->Cancel();
    loop.RunForever();
  }));
  CHECK(order == std::vector<std::string>{"a1", "a2", "b", "c"});
  CHECK(at_b - start >= 0.1);
  CHECK(at_b - start < 0.11);
  CHECK(at_c - start >= 0.2);
}

TEST_CASE("A callback scheduled by a callback runs at the next iteration, after stop() took effect") {
  std::vector<int> order;
  CheckClean(RunLoop([&](EventLoop& loop) {
    loop.CallSoon([&] {
      order.push_back(1);
      loop.CallSoon([&] { order.push_back(3); });
      loop.Stop();
    });
    loop.CallSoon([&] { order.push_back(2); });
    loop.RunForever();
    CHECK(order == std::vector<int>{1, 2});
    loop.CallSoon([&] { loop.Stop(); });
    loop.RunForever();
  }));
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("Futures: one result, InvalidStateError on a second, callbacks get the future") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto f = loop.CreateFuture<int>();
    int seen = 0;
    f->AddDoneCallback([&](FuturePtr<int> g) { seen = g->Result(); });
    CHECK_THROWS_AS(f->Result(), InvalidStateError);
    f->SetResult(7);
    CHECK_THROWS_AS(f->SetResult(8), InvalidStateError);
    CHECK_FALSE(f->Cancel());
    CHECK(seen == 0);  // scheduled, not called
    CHECK(loop.RunUntilComplete(f) == 7);
    CHECK(seen == 7);
    auto c = loop.CreateFuture<int>();
    CHECK(c->Cancel());
    CHECK(c->cancelled());
    CHECK_THROWS_AS(c->Result(), CancelledError);
  }));
}

// Bound callbacks (CallSoon(self, fn), AddDoneCallback(self, fn)) hold
// their object the way a Python bound method holds self: alive until the
// callback has run, then let go.
TEST_CASE("A bound callback keeps its object until it has run, then lets it go") {
  struct Counter {
    explicit Counter(std::vector<std::string>* l) : log(l) {}
    ~Counter() { log->push_back("gone"); }
    std::vector<std::string>* log;
  };
  std::vector<std::string> log;
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto f = loop.CreateFuture<int>();
    {
      auto a = std::make_shared<Counter>(&log);
      auto b = std::make_shared<Counter>(&log);
      loop.CallSoon(a, [](Counter& c) { c.log->push_back("soon"); });
      f->AddDoneCallback(b, [](Counter& c, FuturePtr<int> g) {
        c.log->push_back("done " + std::to_string(g->Result()));
      });
    }
    CHECK(log.empty());  // only the callbacks hold them now
    loop.CallSoon([&] { f->SetResult(3); });
    loop.RunUntilComplete(f);
  }));
  // Each object goes right after its callback ran.
  CHECK(log == std::vector<std::string>{"soon", "gone", "done 3", "gone"});
}

TEST_CASE("An exception nobody retrieved is reported when its future goes") {
  testing::LoopRun run = RunLoop([](EventLoop& loop) {
    auto f = loop.CreateFuture<int>();
    f->SetException(std::make_exception_ptr(OSError(5, "OSError: [WinError 5]")));
  });
  CHECK(run.Reported("Future exception was never retrieved: OSError: [WinError 5]"));
}

Coro<int> AddLater(EventLoop& loop, int a, int b) {
  co_await Sleep(loop, 0.05);
  co_return a + b;
}

Coro<int> Outer(EventLoop& loop) {
  int x = co_await AddLater(loop, 1, 2);
  auto f = loop.CreateFuture<int>();
  loop.CallLater(0.01, [f] { f->SetResult(10); });
  int y = co_await f;
  co_return x + y;
}

TEST_CASE("Tasks: a coroutine awaits coroutines, futures and sleeps on virtual time") {
  CheckClean(RunLoop([](EventLoop& loop) {
    double start = loop.Time();
    CHECK(loop.RunUntilComplete(Outer(loop)) == 13);
    CHECK(loop.Time() - start >= 0.06);
  }));
}

Coro<Void> Catches(EventLoop& loop, std::vector<std::string>& log) {
  try {
    co_await Sleep(loop, 10);
    log.push_back("woke");
  } catch (const CancelledError&) {
    log.push_back("cancelled inside");
    throw;
  }
}

TEST_CASE("Task.cancel() raises CancelledError at the coroutine's await; the task ends cancelled") {
  std::vector<std::string> log;
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto task = loop.CreateTask(Catches(loop, log));
    loop.CallLater(0.5, [task] { CHECK(task->Cancel()); });
    CHECK_THROWS_AS(loop.RunUntilComplete(std::static_pointer_cast<Future<Void>>(task)),
                    CancelledError);
    CHECK(task->cancelled());
    CHECK(loop.Time() < 1);
  }));
  CHECK(log == std::vector<std::string>{"cancelled inside"});
}

TEST_CASE("A task cancelled before its first step never runs its body") {
  std::vector<std::string> log;
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto task = loop.CreateTask(Catches(loop, log));
    task->Cancel();
    CHECK_THROWS_AS(loop.RunUntilComplete(std::static_pointer_cast<Future<Void>>(task)),
                    CancelledError);
  }));
  CHECK(log.empty());
}

Coro<int> Throws(EventLoop& loop) {
  co_await Sleep(loop, 0);
  throw OSError(ERROR_ACCESS_DENIED, "OSError: [WinError 5]");
}

TEST_CASE("An exception escaping the coroutine becomes the task's exception") {
  CheckClean(RunLoop([](EventLoop& loop) {
    CHECK_THROWS_AS(loop.RunUntilComplete(Throws(loop)), OSError);
  }));
}

TEST_CASE("wait_for: the result in time; TimeoutError after cancelling the inner future") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto fast = loop.CreateTask(AddLater(loop, 2, 3));
    CHECK(loop.RunUntilComplete(WaitFor<int>(loop, fast, 1.0)) == 5);
    auto slow = loop.CreateFuture<int>();
    double start = loop.Time();
    CHECK_THROWS_AS(loop.RunUntilComplete(WaitFor<int>(loop, slow, 0.25)), TimeoutError);
    CHECK(slow->cancelled());
    CHECK(loop.Time() - start >= 0.25);
  }));
}

TEST_CASE("gather: results in order; the first exception wins; cancelling it cancels the children") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto a = std::static_pointer_cast<Future<int>>(loop.CreateTask(AddLater(loop, 1, 1)));
    auto b = loop.CreateFuture<int>();
    loop.CallSoon([b] { b->SetResult(9); });
    auto all = Gather<int>(loop, {a, b});
    CHECK(loop.RunUntilComplete(all) == std::vector<int>{2, 9});

    auto c = loop.CreateFuture<int>();
    auto d = loop.CreateFuture<int>();
    auto g = Gather<int>(loop, {c, d});
    CHECK(g->Cancel());
    CHECK(c->cancelled());
    CHECK(d->cancelled());
    CHECK_THROWS_AS(loop.RunUntilComplete(g), CancelledError);
  }));
}

TEST_CASE("A task destroyed while pending is reported") {
  testing::LoopRun run = RunLoop([](EventLoop& loop) {
    auto never = loop.CreateFuture<int>();
    {
      auto task = loop.CreateTask(WaitFor<int>(loop, never, 100));
      loop.CallSoon([&loop] { loop.Stop(); });
      loop.RunForever();
    }
    never.reset();
    loop.Close();  // drops the timer: nothing holds the task any more
  });
  CHECK(run.Reported("Task was destroyed but it is pending!"));
}

TEST_CASE("An exception in a callback is reported and the loop goes on") {
  int after = 0;
  testing::LoopRun run = RunLoop([&](EventLoop& loop) {
    loop.CallSoon([] { throw std::runtime_error("boom"); });
    loop.CallSoon([&] { after = 1; loop.Stop(); });
    loop.RunForever();
  });
  CHECK(after == 1);
  CHECK(run.Reported("Exception in callback: boom"));
}

TEST_CASE("A loop destroyed unclosed is reported with where it was created") {
  testing::LoopRun run;
  CanonicalSource s;
  run.result = RunSimulation({}, s, [&] {
    std::vector<std::string>* reports = &run.reports;
    EventLoop loop;
    loop.SetExceptionHandler([reports](EventLoop&, const ErrorContext& c) { reports->push_back(c.Format()); });
  });
  CHECK(run.Reported("unclosed event loop"));
  CHECK(run.Reported("created at t="));
}

}  // namespace
}  // namespace iocpsim::proactor
