// The built-in child programs, written against Win32 only so that the
// same bodies can run as real processes on Windows. Each reads and writes
// its standard handles synchronously, as a child of asyncio's subprocess
// transport does.
//
//   echo                        copy stdin to stdout until EOF, exit 0
//   exit-now CODE               exit at once
//   write-then-exit TEXT [CODE] write TEXT to stdout, exit CODE (default 0);
//                               may exit before writing (choice kind `exit`)
//   sleep-then-exit MS [CODE]   sleep MS of virtual time, exit CODE
//   read-then-wait              issue an overlapped read on stdin (an
//                               overlapped handle), write "r" to stdout,
//                               then wait until killed
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/sim.h"
#include "sim/win32.h"

namespace iocpsim {

namespace {

uint32_t Code(const std::vector<std::string>& argv, size_t i) {
  return argv.size() > i ? static_cast<uint32_t>(std::strtoul(argv[i].c_str(), nullptr, 10)) : 0;
}

uint32_t Echo(const std::vector<std::string>&) {
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  char buf[4096];
  for (;;) {
    DWORD n = 0;
    if (!ReadFile(in, buf, sizeof buf, &n, nullptr) || n == 0) return 0;
    DWORD written = 0;
    if (!WriteFile(out, buf, n, &written, nullptr)) return 1;
  }
}

uint32_t ExitNow(const std::vector<std::string>& argv) { return Code(argv, 1); }

uint32_t WriteThenExit(const std::vector<std::string>& argv) {
  // A child can end at any moment (a crash, a kill from outside); this one
  // may do so before it writes.
  if (Choose(ChoiceKind::kExit, 2, "write-then-exit: write | exit before writing") == 1) {
    return Code(argv, 2);
  }
  std::string text = argv.size() > 1 ? argv[1] : "";
  DWORD written = 0;
  WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), text.data(), static_cast<DWORD>(text.size()), &written,
            nullptr);
  return Code(argv, 2);
}

uint32_t SleepThenExit(const std::vector<std::string>& argv) {
  Sleep(Code(argv, 1));
  return Code(argv, 2);
}

uint32_t ReadThenWait(const std::vector<std::string>&) {
  OVERLAPPED ov{};
  char buf[16];
  if (ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf, sizeof buf, nullptr, &ov) ||
      GetLastError() != ERROR_IO_PENDING) {
    return 1;
  }
  DWORD written = 0;
  WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), "r", 1, &written, nullptr);
  Sleep(INFINITE);
  return 0;
}

}  // namespace

void RegisterBuiltinChildren() {
  // Once, even when simulations start on several OS threads at once.
  static const bool done = [] {
    RegisterChildProgram("echo", Echo);
    RegisterChildProgram("exit-now", ExitNow);
    RegisterChildProgram("write-then-exit", WriteThenExit);
    RegisterChildProgram("sleep-then-exit", SleepThenExit);
    RegisterChildProgram("read-then-wait", ReadThenWait);
    return true;
  }();
  (void)done;
}

}  // namespace iocpsim
