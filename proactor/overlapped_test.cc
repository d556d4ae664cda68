// Overlapped, as overlapped.c behaves on the Win32 calls it makes.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "proactor/overlapped.h"
#include "proactor/test_util.h"
#include "sim/fiber.h"  // IOCPSIM_ASAN

namespace iocpsim::proactor {
namespace {

using testing::CheckClean;
using testing::MakePipePair;
using testing::RunLoop;

TEST_CASE("Overlapped.ReadFile: pending until data arrives; getresult() gives the bytes once dequeued") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    HANDLE port = CreateIoCompletionPort(server->handle(), nullptr, 0, 0);
    Overlapped ov(loop);
    ov.ReadFile(server->handle(), 16);
    CHECK(ov.pending());
    CHECK_THROWS_AS(ov.GetResult(), OSError);  // ERROR_IO_INCOMPLETE
    DWORD n;
    OVERLAPPED w{};
    WriteFile(client->handle(), "abc", 3, &n, &w);
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED* got;
    CHECK(GetQueuedCompletionStatus(port, &bytes, &key, &got, INFINITE));
    CHECK(got == ov.raw());
    CHECK_FALSE(ov.pending());
    CHECK(ov.ReadResult() == "abc");
    CloseHandle(port);
    server->Close();
    client->Close();
  }));
}

TEST_CASE("Overlapped.ReadFile on a pipe whose writer closed: BrokenPipeError at once, marked completed") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    client->Close();
    Overlapped ov(loop);
    CHECK_THROWS_AS(ov.ReadFile(server->handle(), 16), BrokenPipeError);
    CHECK_FALSE(ov.pending());
    server->Close();
  }));
}

TEST_CASE("Overlapped.ConnectNamedPipe: true when the client came first (no packet), false when pending") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    Overlapped ov(loop);
    CHECK(ov.ConnectNamedPipe(server->handle()));
    CHECK_FALSE(ov.pending());
    server->Close();
    client->Close();
  }));
}

TEST_CASE("Overlapped.cancel(): ERROR_NOT_FOUND (completed meanwhile) is ignored; the read ends aborted") {
  CheckClean(RunLoop([](EventLoop& loop) {
    auto [server, client] = MakePipePair(loop);
    HANDLE port = CreateIoCompletionPort(server->handle(), nullptr, 0, 0);
    Overlapped ov(loop);
    ov.ReadFile(server->handle(), 16);
    ov.Cancel();
    ov.Cancel();  // already cancelled: ERROR_NOT_FOUND, ignored
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED* got;
    CHECK_FALSE(GetQueuedCompletionStatus(port, &bytes, &key, &got, INFINITE));
    CHECK(GetLastError() == ERROR_OPERATION_ABORTED);
    CHECK_THROWS_AS(ov.GetResult(), OSError);
    CloseHandle(port);
    server->Close();
    client->Close();
  }));
}

TEST_CASE("An Overlapped freed while its packet is still queued reports 'still has pending operation at deallocation'") {
  // The storage outlives the object, so the kernel's later look at it is
  // not a use-after-free of the test's own making.
  std::optional<Overlapped>* keep = nullptr;
  testing::LoopRun run = RunLoop([&](EventLoop& loop) {
    static std::optional<Overlapped> ov;
    keep = &ov;
    auto [server, client] = MakePipePair(loop);
    HANDLE port = CreateIoCompletionPort(server->handle(), nullptr, 0, 0);
    ov.emplace(loop);
    ov->ReadFile(server->handle(), 16);
    DWORD n;
    OVERLAPPED w{};
    WriteFile(client->handle(), "abc", 3, &n, &w);
    ::Sleep(1);  // the read completes; its packet waits in the port
    ov.reset();  // HasOverlappedIoCompleted is still FALSE (deferred status)
    CloseHandle(port);
    server->Close();
    client->Close();
  });
  CHECK(run.Reported("still has pending operation at deallocation"));
  CHECK(run.Reported("[WinError 996]"));  // ERROR_IO_INCOMPLETE, as on Windows
  (void)keep;
}

}  // namespace
}  // namespace iocpsim::proactor

namespace iocpsim::proactor {
namespace {

TEST_CASE("A freed Overlapped's block is untouched until the next Overlapped takes it, last freed first") {
  testing::RunLoop([](EventLoop& loop) {
    std::shared_ptr<Overlapped> a = Overlapped::New(loop), b = Overlapped::New(loop);
    uintptr_t address_a = a->address(), address_b = b->address();
    b.reset();
    a.reset();
    // Other allocations in between take nothing from the pool...
    std::vector<std::unique_ptr<char[]>> noise;
    for (int i = 0; i < 64; ++i) noise.push_back(std::make_unique<char[]>(sizeof(Overlapped)));
    noise.clear();
#ifndef IOCPSIM_ASAN
    // ...nor write into it: the kernel reading a freed OVERLAPPED sees the
    // fill, whatever the heap did in between (glibc would have put its own
    // free-list words there, one of them random per process).
    auto internal = [](uintptr_t address) {
      return *reinterpret_cast<volatile ULONG_PTR*>(address);
    };
    CHECK(internal(address_a) == static_cast<ULONG_PTR>(0xDDDDDDDDDDDDDDDDull));
    CHECK(internal(address_b) == static_cast<ULONG_PTR>(0xDDDDDDDDDDDDDDDDull));
#endif
    // The last freed comes back first.
    std::shared_ptr<Overlapped> c = Overlapped::New(loop), d = Overlapped::New(loop);
    CHECK(c->address() == address_a);
    CHECK(d->address() == address_b);
  });
}

}  // namespace
}  // namespace iocpsim::proactor
