// A small program on the proactor: a pipe echo server, a client that
// talks to it, and a subprocess whose output is collected. The same code
// runs on Windows (the mingw preset) and in the simulator:
//
//   build/mingw/proactor/proactor_example.exe     (under Windows or Wine)
//   build/dev/proactor/proactor_example           (a simulated process)
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "proactor/event_loop.h"
#include "proactor/pipe_server.h"
#include "proactor/subprocess.h"
#include "proactor/transports.h"

#ifndef _WIN32
#include "sim/choice.h"
#include "sim/sim.h"
#endif

namespace iocpsim::proactor {
namespace {

const char* kAddress = "\\\\.\\pipe\\iocpsim-example";

class Echo : public Protocol {
 public:
  void ConnectionMade(const PipeTransportPtr& t) override { transport_ = t; }
  void DataReceived(const std::string& data) override { transport_->Write(data); }
  void ConnectionLost(std::exception_ptr) override { transport_.reset(); }

 private:
  PipeTransportPtr transport_;
};

class Collect : public Protocol {
 public:
  explicit Collect(EventLoop& loop) : done(loop.CreateFuture<std::string>()) {}
  void ConnectionMade(const PipeTransportPtr& t) override { transport = t; }
  void DataReceived(const std::string& data) override {
    received += data;
    if (received.size() >= 5 && !done->done()) done->SetResult(received);
  }
  void ConnectionLost(std::exception_ptr) override { transport.reset(); }
  PipeTransportPtr transport;
  std::string received;
  FuturePtr<std::string> done;
};

Coro<int> Main(EventLoop& loop, std::vector<std::string> child) {
  ProtocolFactory echo = [] { return std::make_shared<Echo>(); };
  PipeServerPtr server = StartServingPipe(loop, echo, kAddress);
  auto collect = std::make_shared<Collect>(loop);
  ProtocolFactory factory = [collect] { return collect; };
  co_await CreatePipeConnection(loop, factory, kAddress);
  collect->transport->Write("hello");
  std::string reply = co_await collect->done;
  std::printf("pipe echo: %s\n", reply.c_str());
  collect->transport->Close();

  std::shared_ptr<Process> proc = co_await CreateSubprocessExec(loop, child);
  auto [out, err] = co_await proc->Communicate("from the parent");
  std::printf("child said: %s (exit %d)\n", out.c_str(), *proc->returncode());
  server->Close();
  co_await Sleep(loop, 0.05);
  co_return 0;
}

int Run(std::vector<std::string> child) {
  EventLoop loop;
  int code = loop.RunUntilComplete(Main(loop, std::move(child)));
  loop.Close();
  return code;
}

}  // namespace
}  // namespace iocpsim::proactor

#ifdef _WIN32
#include <windows.h>

// "proactor_example echo": the child, copying stdin to stdout.
static int EchoChild() {
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  char buf[4096];
  DWORD n = 0, written = 0;
  while (ReadFile(in, buf, sizeof buf, &n, nullptr) && n > 0) WriteFile(out, buf, n, &written, nullptr);
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "echo") return EchoChild();
  return iocpsim::proactor::Run({argv[0], "echo"});
}
#else
int main() {
  iocpsim::CanonicalSource source;
  int code = 1;
  iocpsim::RunResult r = iocpsim::RunSimulation({}, source, [&] {
    code = iocpsim::proactor::Run({"echo"});
  });
  std::printf("simulation: %s, digest %016llx\n",
              r.outcome == iocpsim::Outcome::kFinished ? "finished" : r.message.c_str(),
              static_cast<unsigned long long>(r.digest));
  return r.outcome == iocpsim::Outcome::kFinished ? code : 1;
}
#endif
