// The pipe transports (proactor_events.py) over connected pipe pairs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proactor/test_util.h"
#include "proactor/transports.h"

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::MakePipePair;
using testing::Recorder;
using testing::RunLoop;
using testing::RunUntil;
using V = std::vector<std::string>;

TEST_CASE("Duplex transports: connection_made first, data both ways, EOF on peer close, one connection_lost last") {
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  b->echo = true;
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    PipeTransport::Make(loop, client, a, PipeTransport::Kind::kDuplex);
    PipeTransport::Make(loop, server, b, PipeTransport::Kind::kDuplex);
    RunUntil(loop, [&] { return a->transport != nullptr && b->transport != nullptr; });
    a->transport->Write("hello");
    RunUntil(loop, [&] { return a->data == "hello"; });
    a->transport->Close();
    RunUntil(loop, [&] { return a->Lost() && b->Lost(); });
  }));
  CHECK(a->events == V{"made", "data:hello", "lost"});
  CHECK(b->events == V{"made", "data:hello", "eof", "lost"});
}

TEST_CASE("Writes queue behind the one in flight; pause_writing above the high mark, resume_writing at the low") {
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  CheckClean(RunLoop([&](EventLoop& loop) {
    // Byte mode, a 64-byte pipe buffer: a 100-byte write waits for the reader.
    auto [server, client] = MakePipePair(loop, /*byte_mode=*/true, /*buffer=*/64);
    PipeTransport::Make(loop, client, a, PipeTransport::Kind::kDuplex);
    RunUntil(loop, [&] { return a->transport != nullptr; });
    a->transport->SetWriteBufferLimits(32, 8);
    a->transport->Write(std::string(100, 'x'));  // in flight, pending
    CHECK(a->transport->GetWriteBufferSize() == 100);
    a->transport->Write("tail");                 // buffered
    CHECK(a->transport->GetWriteBufferSize() == 104);
    CHECK(a->events == V{"made", "pause"});
    PipeTransport::Make(loop, server, b, PipeTransport::Kind::kDuplex);  // the reader drains
    RunUntil(loop, [&] { return b->data.size() == 104; });
    CHECK(b->data == std::string(100, 'x') + "tail");
    CHECK(a->transport->GetWriteBufferSize() == 0);
    CHECK(a->events == V{"made", "pause", "resume"});
    a->transport->Close();
    RunUntil(loop, [&] { return a->Lost() && b->Lost(); });
  }));
}

TEST_CASE("pause_reading does not cancel the read; data that arrives while paused comes on resume") {
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    PipeTransport::Make(loop, client, a, PipeTransport::Kind::kDuplex);
    PipeTransport::Make(loop, server, b, PipeTransport::Kind::kDuplex);
    RunUntil(loop, [&] { return a->transport != nullptr && b->transport != nullptr; });
    b->transport->PauseReading();
    CHECK_FALSE(b->transport->IsReading());
    a->transport->Write("while paused");
    RunUntil(loop, [] { return false; }, 0.05);
    CHECK(b->data.empty());
    b->transport->ResumeReading();
    RunUntil(loop, [&] { return b->data == "while paused"; });
    a->transport->Close();
    RunUntil(loop, [&] { return a->Lost() && b->Lost(); });
  }));
  CHECK(b->events == V{"made", "data:while paused", "eof", "lost"});
}

TEST_CASE("abort() drops the write buffer and reports connection_lost(None) at once") {
  auto a = std::make_shared<Recorder>();
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop, true, 64);
    PipeTransport::Make(loop, client, a, PipeTransport::Kind::kDuplex);
    RunUntil(loop, [&] { return a->transport != nullptr; });
    a->transport->Write(std::string(100, 'x'));
    a->transport->Write("more");
    a->transport->Abort();
    CHECK(a->transport->GetWriteBufferSize() == 0);
    RunUntil(loop, [&] { return a->Lost(); });
    server->Close();
  }));
  CHECK(a->events == V{"made", "lost"});
}

TEST_CASE("close() flushes the buffer before connection_lost") {
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  CheckClean(RunLoop([&](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop, true, 64);
    PipeTransport::Make(loop, client, a, PipeTransport::Kind::kDuplex);
    RunUntil(loop, [&] { return a->transport != nullptr; });
    a->transport->Write(std::string(100, 'x'));
    a->transport->Write("end");
    a->transport->Close();
    CHECK(a->transport->IsClosing());
    PipeTransport::Make(loop, server, b, PipeTransport::Kind::kDuplex);
    RunUntil(loop, [&] { return a->Lost() && b->Lost(); });
  }));
  CHECK(a->events == V{"made", "lost"});
  CHECK(b->data == std::string(100, 'x') + "end");
}

TEST_CASE("A write pipe transport closes when its reader goes; with a write in flight it is a BrokenPipeError") {
  for (bool writing : {false, true}) {
    CAPTURE(writing);
    auto w = std::make_shared<Recorder>();
    CheckClean(RunLoop([&](EventLoop& loop) {
      auto [server, client] = MakePipePair(loop, true, 64);
      PipeTransport::Make(loop, client, w, PipeTransport::Kind::kWrite);
      RunUntil(loop, [&] { return w->transport != nullptr; });
      if (writing) w->transport->Write(std::string(100, 'x'));  // stays pending
      server->Close();
      RunUntil(loop, [&] { return w->Lost(); });
    }));
    if (writing) {
      REQUIRE(w->events.size() == 2);
      CHECK(w->events[0] == "made");
      CHECK(w->events[1].rfind("lost:BrokenPipeError", 0) == 0);
    } else {
      CHECK(w->events == V{"made", "lost"});
    }
  }
}

TEST_CASE("A write error closes the transport; reported only in debug mode, as CPython logs it") {
  for (bool debug : {false, true}) {
    CAPTURE(debug);
    auto w = std::make_shared<Recorder>();
    testing::LoopRun run = RunLoop([&](EventLoop& loop) {
      loop.set_debug(debug);
      auto [server, client] = MakePipePair(loop, true, 64);
      PipeTransport::Make(loop, client, w, PipeTransport::Kind::kDuplex);
      RunUntil(loop, [&] { return w->transport != nullptr; });
      w->transport->Write(std::string(100, 'x'));  // pending: the reader never reads
      server->Close();                             // ERROR_BROKEN_PIPE for the write
      RunUntil(loop, [&] { return w->Lost(); });
    });
    CHECK(w->events.back().rfind("lost:BrokenPipeError", 0) == 0);
    CHECK(run.Reported("Fatal write error on pipe transport") == debug);
  }
}

TEST_CASE("A read pipe transport: data, then EOF when the writer closes; eof_received may keep it open") {
  for (bool keep : {false, true}) {
    CAPTURE(keep);
    auto r = std::make_shared<Recorder>();
    r->keep_open_on_eof = keep;
    CheckClean(RunLoop([&](EventLoop& loop) {
      auto [server, client] = MakePipePair(loop, true);
      PipeTransport::Make(loop, server, r, PipeTransport::Kind::kRead);
      DWORD n;
      OVERLAPPED ov{};
      WriteFile(client->handle(), "abc", 3, &n, &ov);
      client->Close();
      RunUntil(loop, [&] { return r->Lost() || (keep && r->events.size() == 3); });
      if (keep) {
        CHECK(r->events == V{"made", "data:abc", "eof"});
        r->transport->Close();
        RunUntil(loop, [&] { return r->Lost(); });
      }
    }));
    CHECK(r->events == V{"made", "data:abc", "eof", "lost"});
  }
}

TEST_CASE("A transport destroyed unclosed is reported with where it was created") {
  testing::LoopRun run = RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    auto p = std::make_shared<Protocol>();
    {
      auto t = PipeTransport::Make(loop, client, p, PipeTransport::Kind::kRead);
      RunUntil(loop, [] { return false; }, 0.01);
      t->PauseReading();
    }
    server->Close();
    loop.Close();
  });
  CHECK(run.Reported("unclosed transport <_ProactorReadPipeTransport"));
  CHECK(run.Reported("created at t="));
}

TEST_CASE("Closing a peer under a pending read gives EOF on both sides under every early schedule") {
  // The read completion (ERROR_BROKEN_PIPE), the close and the loop's
  // steps interleave differently per seed; the protocol grammar holds.
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    auto a = std::make_shared<Recorder>();
    auto b = std::make_shared<Recorder>();
    PrngSource prng(seed);
    testing::LoopRun run = testing::RunLoopWith(prng, Profile::Current(), [&](EventLoop& loop) {
      auto [server, client] = MakePipePair(loop);
      PipeTransport::Make(loop, client, a, PipeTransport::Kind::kDuplex);
      PipeTransport::Make(loop, server, b, PipeTransport::Kind::kDuplex);
      RunUntil(loop, [&] { return a->transport != nullptr && b->transport != nullptr; });
      a->transport->Write("x");
      a->transport->Close();
      RunUntil(loop, [&] { return a->Lost() && b->Lost(); });
    });
    CheckClean(run);
    CHECK(a->events == V{"made", "lost"});
    CHECK(b->events == V{"made", "data:x", "eof", "lost"});
  }
}

TEST_CASE("Echo over duplex transports when ready operations may also go pending (choice sync), many seeds") {
  // pending_when_ready: every read or write that could finish at once may
  // instead return ERROR_IO_PENDING; the transports take both paths.
  KernelOptions options;
  options.pending_when_ready = true;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    auto a = std::make_shared<Recorder>();
    auto b = std::make_shared<Recorder>();
    b->echo = true;
    PrngSource prng(seed);
    testing::LoopRun run = testing::RunLoopWith(prng, Profile::Current(), [&](EventLoop& loop) {
      auto [server, client] = MakePipePair(loop, true, 64);
      PipeTransport::Make(loop, client, a, PipeTransport::Kind::kDuplex);
      PipeTransport::Make(loop, server, b, PipeTransport::Kind::kDuplex);
      RunUntil(loop, [&] { return a->transport != nullptr && b->transport != nullptr; });
      for (int i = 0; i < 5; ++i) a->transport->Write(std::string(50, static_cast<char>('a' + i)));
      RunUntil(loop, [&] { return a->data.size() == 250; });
      a->transport->Close();
      RunUntil(loop, [&] { return a->Lost() && b->Lost(); });
    }, options);
    CheckClean(run);
    std::string expect;
    for (int i = 0; i < 5; ++i) expect += std::string(50, static_cast<char>('a' + i));
    CHECK(a->data == expect);
    CHECK(b->data == expect);
    CHECK(b->events.back() == "lost");
  }
}

}  // namespace
}  // namespace iocpsim::proactor
