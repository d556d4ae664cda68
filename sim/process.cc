// Processes: CreateProcessW (a registered child program runs as the main
// thread of a new simulated process), GetExitCodeProcess,
// TerminateProcess, ExitProcess, GetCurrentProcess(Id), GetProcessId; the
// embedding API (RunSimulation, Choose, NowNs) and the child registry.
#include <map>

#include "absl/strings/str_cat.h"
#include "sim/kernel.h"

namespace iocpsim {

namespace {
constexpr TraceFormat kCreateProcessFmt{"CreateProcessW", "-> %b pid=%p err=%e"};
constexpr TraceFormat kTerminateFmt{"TerminateProcess", "pid=%p code=%u"};
constexpr TraceFormat kProgramChoiceFmt{"program-choice", "%k -> %u of %u"};

std::map<std::string, ChildProgram>& Registry() {
  static auto* registry = new std::map<std::string, ChildProgram>;
  return *registry;
}

// Splits a command line the way CommandLineToArgvW does for the simple
// cases: whitespace separates, double quotes group.
std::vector<std::string> SplitCommandLine(LPCWSTR w) {
  std::vector<std::string> argv;
  std::string cur;
  bool quoted = false, any = false;
  for (; w != nullptr && *w; ++w) {
    char c = *w < 128 ? static_cast<char>(*w) : '?';
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if ((c == ' ' || c == '\t') && !quoted) {
      if (any) argv.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any) argv.push_back(cur);
  return argv;
}

}  // namespace

void RegisterChildProgram(const std::string& name, ChildProgram program) {
  Registry()[name] = std::move(program);
}

void RegisterBuiltinChildren();  // child.cc

RunResult RunSimulation(const KernelOptions& options, ChoiceSource& source,
                        std::function<void()> main) {
  RegisterBuiltinChildren();
  Kernel k(options, source);
  return k.Run(std::move(main));
}

uint32_t Choose(ChoiceKind kind, uint32_t n, absl::string_view label) {
  Kernel& k = K();
  uint32_t v = k.Choose(kind, n, [&] { return std::string(label); });
  if (n > 1) k.Emit(kProgramChoiceFmt, {static_cast<uint64_t>(kind), v, n});
  return v;
}

int64_t NowNs() { return K().now(); }

bool Annotating() {
  return Kernel::current_kernel != nullptr && Kernel::current_kernel->trace().keep();
}

uint32_t AnnotationOp(const void* overlapped) {
  if (!Annotating()) return 0;
  const auto& at = Kernel::current_kernel->last_op_at;
  auto it = at.find(static_cast<const OVERLAPPED*>(overlapped));
  return it == at.end() ? 0 : it->second;
}

void Annotate(const char* category, uint32_t op, std::string text) {
  if (!Annotating()) return;
  Kernel& k = *Kernel::current_kernel;
  Thread* t = k.current();
  if (op == 0 && t != nullptr) op = t->annotation_op;
  k.trace().Note(k.now(), t != nullptr ? t->id : 0, category, op, std::move(text));
}

AnnotationScope::AnnotationScope(uint32_t op) {
  if (!Annotating() || Kernel::current_kernel->current() == nullptr) return;
  Thread* t = Kernel::current_kernel->current();
  thread_ = t;
  saved_ = t->annotation_op;
  if (op != 0) t->annotation_op = op;
}

AnnotationScope::~AnnotationScope() {
  if (thread_ != nullptr) static_cast<Thread*>(thread_)->annotation_op = saved_;
}

}  // namespace iocpsim

using iocpsim::K;
using iocpsim::Kernel;
using iocpsim::Process;

BOOL WINAPI CreateProcessW(LPCWSTR application, LPWSTR command_line,
                           LPSECURITY_ATTRIBUTES process_security,
                           LPSECURITY_ATTRIBUTES thread_security, BOOL inherit_handles, DWORD flags,
                           LPVOID environment, LPCWSTR current_directory,
                           LPSTARTUPINFOW startup_info, LPPROCESS_INFORMATION info) {
  Kernel& k = K();
  k.Yield();
  std::vector<std::string> argv =
      iocpsim::SplitCommandLine(command_line != nullptr ? command_line : application);
  auto& registry = iocpsim::Registry();
  auto it = argv.empty() ? registry.end() : registry.find(argv[0]);
  if (it == registry.end()) {
    k.SetError(ERROR_FILE_NOT_FOUND);
    k.Emit(iocpsim::kCreateProcessFmt, {0, 0, ERROR_FILE_NOT_FOUND});
    return FALSE;
  }
  Process* parent = k.current_process();
  std::string line;
  for (const std::string& a : argv) absl::StrAppend(&line, line.empty() ? "" : " ", a);
  Process* p = k.NewProcess(line);
  // Inheritable handles appear in the child at the same values
  // (MS:Inheritance); the standard handles come from STARTUPINFO with
  // STARTF_USESTDHANDLES.
  if (inherit_handles) {
    p->handles.resize(parent->handles.size());
    for (size_t i = 0; i < parent->handles.size(); ++i) {
      const iocpsim::HandleEntry& e = parent->handles[i];
      if (e.object != nullptr && e.inherit) {
        p->handles[i] = e;
        ++e.object->handles;
      }
    }
    for (size_t i = p->handles.size(); i-- > 0;) {
      if (p->handles[i].object == nullptr) p->free_slots.push_back(static_cast<uint32_t>(i));
    }
  }
  if (startup_info != nullptr && (startup_info->dwFlags & STARTF_USESTDHANDLES)) {
    p->std_handles[0] = startup_info->hStdInput;
    p->std_handles[1] = startup_info->hStdOutput;
    p->std_handles[2] = startup_info->hStdError;
  }
  iocpsim::ChildProgram program = it->second;
  iocpsim::Thread* t = k.NewThread(p, [program, argv] { return program(argv); }, "");
  if (info != nullptr) {
    info->hProcess = k.AddHandle(parent, p, false);
    info->hThread = k.AddHandle(parent, t, false);
    info->dwProcessId = p->id;
    info->dwThreadId = t->id;
  }
  k.Emit(iocpsim::kCreateProcessFmt, {1, p->id, 0});
  return TRUE;
}

BOOL WINAPI GetExitCodeProcess(HANDLE process, LPDWORD exit_code) {
  Kernel& k = K();
  k.Yield();
  auto* p = k.LookupAs<Process>(process, iocpsim::ObjType::kProcess);
  if (p == nullptr) return FALSE;
  // STILL_ACTIVE until the process has ended (MS:GetExitCodeProcess).
  *exit_code = p->exit_signaled ? p->exit_code : STILL_ACTIVE;
  return TRUE;
}

BOOL WINAPI TerminateProcess(HANDLE process, DWORD exit_code) {
  Kernel& k = K();
  k.Yield();
  auto* p = k.LookupAs<Process>(process, iocpsim::ObjType::kProcess);
  if (p == nullptr) return FALSE;
  k.Emit(iocpsim::kTerminateFmt, {p->id, exit_code});
  if (p->exit_signaled) {
    k.SetError(ERROR_ACCESS_DENIED);
    return FALSE;
  }
  k.BeginProcessExit(p, exit_code);
  if (p == k.current_process()) k.ExitCurrentThread(exit_code);
  return TRUE;
}

void WINAPI ExitProcess(DWORD exit_code) {
  Kernel& k = K();
  k.BeginProcessExit(k.current_process(), exit_code);
  k.ExitCurrentThread(exit_code);
}

DWORD WINAPI GetCurrentProcessId() { return K().current_process()->id; }

HANDLE WINAPI GetCurrentProcess() { return INVALID_HANDLE_VALUE; }

DWORD WINAPI GetProcessId(HANDLE process) {
  Kernel& k = K();
  auto* p = k.LookupAs<Process>(process, iocpsim::ObjType::kProcess);
  return p != nullptr ? p->id : 0;
}
