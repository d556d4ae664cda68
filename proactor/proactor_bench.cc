// Benchmarks of the proactor on the virtual kernel (scripts/bench): a
// call_soon round trip, one timer, and a 1 KiB echo over a pipe between a
// client and a server in one loop. Compare with kernel_bench's bare
// ping-pong for the cost of the proactor layers.
#include <benchmark/benchmark.h>

#include <functional>
#include <memory>
#include <string>

#include "proactor/event_loop.h"
#include "proactor/iocp_proactor.h"
#include "proactor/transports.h"
#include "sim/choice.h"
#include "sim/sim.h"

namespace iocpsim::proactor {
namespace {

void InLoop(std::function<void(EventLoop&)> body) {
  CanonicalSource s;
  RunSimulation({}, s, [&] {
    EventLoop loop;
    body(loop);
    loop.Close();
  });
}

void BM_CallSoon(benchmark::State& state) {
  constexpr int kRounds = 100000;
  for (auto _ : state) {
    InLoop([](EventLoop& loop) {
      int left = kRounds;
      std::function<void()> again = [&] {
        if (--left == 0) {
          loop.Stop();
        } else {
          loop.CallSoon(again);
        }
      };
      loop.CallSoon(again);
      loop.RunForever();
    });
  }
  state.SetItemsProcessed(state.iterations() * kRounds);
}
BENCHMARK(BM_CallSoon)->Unit(benchmark::kMillisecond);

void BM_Timer(benchmark::State& state) {
  constexpr int kTimers = 10000;
  for (auto _ : state) {
    InLoop([](EventLoop& loop) {
      int left = kTimers;
      std::function<void()> again = [&] {
        if (--left == 0) {
          loop.Stop();
        } else {
          loop.CallLater(0.001, again);
        }
      };
      loop.CallLater(0.001, again);
      loop.RunForever();
    });
  }
  state.SetItemsProcessed(state.iterations() * kTimers);
}
BENCHMARK(BM_Timer)->Unit(benchmark::kMillisecond);

// The server echoes; the client sends the next 1 KiB message when the
// previous one is back.
struct Pinger : Protocol {
  PipeTransportPtr t;
  std::string message = std::string(1024, 'x');
  size_t got = 0;
  int left = 0;
  EventLoop* loop = nullptr;
  bool echo = false;
  void ConnectionMade(const PipeTransportPtr& transport) override {
    t = transport;
    if (!echo) t->Write(message);
  }
  void DataReceived(const std::string& d) override {
    if (echo) {
      t->Write(d);
      return;
    }
    got += d.size();
    if (got < message.size()) return;
    got = 0;
    if (--left == 0) {
      loop->Stop();
    } else {
      t->Write(message);
    }
  }
  void ConnectionLost(std::exception_ptr) override { t.reset(); }
};

void BM_PipeEcho1KiB(benchmark::State& state) {
  constexpr int kRounds = 5000;
  for (auto _ : state) {
    InLoop([](EventLoop& loop) {
      std::basic_string<WCHAR> name = Widen("\\\\.\\pipe\\bench-echo");
      HANDLE s = CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                  PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 8192, 8192,
                                  0, nullptr);
      HANDLE c = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                             OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
      auto server = std::make_shared<Pinger>();
      server->echo = true;
      auto client = std::make_shared<Pinger>();
      client->left = kRounds;
      client->loop = &loop;
      PipeTransport::Make(loop, std::make_shared<PipeHandle>(loop, s), server,
                          PipeTransport::Kind::kDuplex);
      PipeTransport::Make(loop, std::make_shared<PipeHandle>(loop, c), client,
                          PipeTransport::Kind::kDuplex);
      loop.RunForever();
      client->t->Close();
      server->t->Close();
      loop.CallLater(0.01, [&loop] { loop.Stop(); });
      loop.RunForever();
    });
  }
  state.SetItemsProcessed(state.iterations() * kRounds);
}
BENCHMARK(BM_PipeEcho1KiB)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace iocpsim::proactor

BENCHMARK_MAIN();
