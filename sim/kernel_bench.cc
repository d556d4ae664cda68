// Speed of the virtual kernel (Google Benchmark). Run: scripts/bench.
#include <benchmark/benchmark.h>

#include "sim/fiber.h"
#include "sim/sim.h"
#include "sim/win32.h"

namespace iocpsim {
namespace {

// A Win32 call with its scheduling point: SetEvent on an event nobody
// waits for, N times in one run.
void BM_Win32Call(benchmark::State& state) {
  constexpr int64_t kCalls = 100000;
  for (auto _ : state) {
    CanonicalSource s;
    RunSimulation({}, s, [] {
      HANDLE e = CreateEventW(nullptr, FALSE, FALSE, nullptr);
      for (int64_t i = 0; i < kCalls; ++i) SetEvent(e);
      CloseHandle(e);
    });
  }
  state.SetItemsProcessed(state.iterations() * kCalls);
}
BENCHMARK(BM_Win32Call)->Unit(benchmark::kMillisecond);

// A raw fiber switch, there and back counted as two.
void BM_FiberSwitch(benchmark::State& state) {
  Fiber host;
  Fiber* other_ptr = nullptr;
  Fiber other([&] {
    for (;;) other_ptr->SwitchTo(host);
  }, 64 * 1024);
  other_ptr = &other;
  for (auto _ : state) host.SwitchTo(other);
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_FiberSwitch);

// 1-byte ping-pong over an overlapped pipe pair through one port each,
// between two simulated processes (the app and an echo child).
void BM_PipePingPong(benchmark::State& state) {
  constexpr int kRounds = 10000;
  for (auto _ : state) {
    CanonicalSource s;
    RunSimulation({}, s, [] {
      HANDLE in = CreateNamedPipeW(u"\\\\.\\pipe\\bench-in", PIPE_ACCESS_OUTBOUND | FILE_FLAG_OVERLAPPED,
                                   PIPE_TYPE_BYTE, 1, 64, 64, 0, nullptr);
      HANDLE out = CreateNamedPipeW(u"\\\\.\\pipe\\bench-out", PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED,
                                    PIPE_TYPE_BYTE, 1, 64, 64, 0, nullptr);
      SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
      HANDLE cin = CreateFileW(u"\\\\.\\pipe\\bench-in", GENERIC_READ, 0, &sa, OPEN_EXISTING, 0, nullptr);
      HANDLE cout = CreateFileW(u"\\\\.\\pipe\\bench-out", GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, nullptr);
      HANDLE port = CreateIoCompletionPort(in, nullptr, 1, 0);
      CreateIoCompletionPort(out, port, 2, 0);
      STARTUPINFOW si{};
      si.dwFlags = STARTF_USESTDHANDLES;
      si.hStdInput = cin;
      si.hStdOutput = cout;
      PROCESS_INFORMATION pi{};
      std::u16string line = u"echo";
      CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi);
      CloseHandle(cin);
      CloseHandle(cout);
      for (int i = 0; i < kRounds; ++i) {
        OVERLAPPED w{}, r{};
        char b = 'x';
        DWORD n;
        ULONG_PTR key;
        OVERLAPPED* ov;
        WriteFile(in, &b, 1, &n, &w);
        ReadFile(out, &b, 1, &n, &r);
        int got = 0;
        while (got < 2) {
          GetQueuedCompletionStatus(port, &n, &key, &ov, INFINITE);
          ++got;
        }
      }
      CloseHandle(in);
      WaitForSingleObject(pi.hProcess, INFINITE);
      for (HANDLE h : {out, port, pi.hProcess, pi.hThread}) CloseHandle(h);
    });
  }
  state.SetItemsProcessed(state.iterations() * kRounds);
}
BENCHMARK(BM_PipePingPong)->Unit(benchmark::kMillisecond);

// A whole small run (loop-sized): create and close a port.
void BM_EmptyRun(benchmark::State& state) {
  for (auto _ : state) {
    CanonicalSource s;
    RunSimulation({}, s, [] { CloseHandle(CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1)); });
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EmptyRun);

}  // namespace
}  // namespace iocpsim

BENCHMARK_MAIN();
