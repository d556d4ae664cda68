#include "scenarios/oracles.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace iocpsim::scenarios {

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kUnexpectedEvent: return "unexpected-event";
    case Verdict::kHang: return "hang";
    case Verdict::kDeadlock: return "deadlock";
    case Verdict::kUseAfterFree: return "use-after-free";
    case Verdict::kLeak: return "leak";
    case Verdict::kOrder: return "order";
    case Verdict::kDataLoss: return "data-loss";
    case Verdict::kInvalidState: return "invalid-state";
    case Verdict::kErrorLog: return "error-log";
  }
  return "?";
}

std::string Stable(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '0' && i + 1 < s.size() && s[i + 1] == 'x') {
      out += 'N';
      i += 2;
      while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) ++i;
      --i;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      out += 'N';
      while (i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) ++i;
    } else if (c == ' ') {
      out += '-';
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

bool Has(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

// "<_ProactorDuplexPipeTransport ..." -> "DuplexPipeTransport"
std::string TransportKind(const std::string& message) {
  for (const char* k : {"ReadPipeTransport", "WritePipeTransport", "DuplexPipeTransport",
                        "SocketTransport", "DatagramTransport", "WindowsSubprocessTransport"}) {
    if (Has(message, k)) return k;
  }
  return "transport";
}

std::string Detail(const proactor::ErrorContext& c) { return c.Format(); }

// The first word of an exception's description: "BrokenPipeError", ...
std::string ExceptionKind(const proactor::ErrorContext& c) {
  if (!c.exception) return "none";
  std::string d = proactor::Describe(c.exception);
  size_t end = d.find_first_of(": ");
  return d.substr(0, end);
}

}  // namespace

proactor::EventLoop::ExceptionHandler Oracles::Handler() {
  return [this](proactor::EventLoop&, const proactor::ErrorContext& c) { OnReport(c); };
}

void Oracles::OnReport(const proactor::ErrorContext& c) {
  // A report made while the simulation unwinds the program (the run was
  // stopped by a fault, a deadline, ...) is a consequence: it is listed
  // after what stopped the run.
  if (std::uncaught_exceptions() > 0 && !in_teardown_) {
    in_teardown_ = true;
    std::vector<Finding> before = std::move(findings_);
    findings_.clear();
    OnReport(c);
    for (Finding& f : findings_) teardown_.push_back(std::move(f));
    findings_ = std::move(before);
    in_teardown_ = false;
    return;
  }
  const std::string& m = c.message;
  std::string detail = Detail(c);
  for (const auto& [key, value] : c.details) {
    if (key == "level" && value == "debug") return;  // CPython's logger.debug
  }
  if (Has(m, "returned an unexpected event")) {
    std::string key = "key-zero";
    for (const auto& [k, v] : c.details) {
      if (k == "status" && !Has(v, "key=0 ") && !Has(v, "key=0x0 ")) key = "key-nonzero";
    }
    return UnexpectedEvent("GQCS:" + key, detail);
  }
  if (Has(m, "is running after closing")) {
    std::string what = "close-waits";
    for (const auto& [k, v] : c.details) {
      if (k == "pending") {
        // "ReadFile OverlappedFuture#12 finished" -> "ReadFile:finished"
        size_t sp = v.find(' ');
        size_t last = v.rfind(' ');
        what += ":" + v.substr(0, sp) + ":" + v.substr(last + 1);
        break;
      }
    }
    last_hang_ = what;
    return Hang(what, detail);
  }
  if (Has(m, "still has pending operation at deallocation")) {
    return UseAfterFree("overlapped-freed-while-pending", detail);
  }
  if (Has(m, "unclosed transport")) return Leak("unclosed:" + TransportKind(m), detail);
  if (Has(m, "unclosed event loop")) return Leak("unclosed:event-loop", detail);
  if (Has(m, "unclosed <PipeHandle")) return Leak("unclosed:PipeHandle", detail);
  if (Has(m, "unclosed <socket.socket")) return Leak("unclosed:socket", detail);
  if (Has(m, "Task was destroyed but it is pending")) return Leak("pending-task-destroyed", detail);
  if (ExceptionKind(c) == "InvalidStateError" || Has(m, "invalid state")) {
    return InvalidState(Stable(m), detail);
  }
  ErrorLog(Stable(m) + ":" + ExceptionKind(c), detail);
}

#ifndef _WIN32
void Oracles::OnKernelResult(const RunResult& r) {
  switch (r.outcome) {
    case Outcome::kFinished:
      break;
    case Outcome::kDeadline:
    case Outcome::kStepsExceeded:
      Hang(last_hang_.empty() ? std::string(OutcomeName(r.outcome)) : last_hang_, r.message);
      break;
    case Outcome::kDeadlock:
      Deadlock("nothing-can-happen", r.message);
      break;
    case Outcome::kFault: {
      // "use-after-free: the OVERLAPPED of ov#3 ReadFile h=..." -> the call
      std::string what = "kernel";
      for (const char* call : {"ReadFile", "WriteFile", "ConnectNamedPipe"}) {
        if (Has(r.message, call)) what = std::string("kernel:") + call;
      }
      if (Has(r.message, "use-after-free")) {
        UseAfterFree(what, r.message);
      } else {
        ErrorLog("fault:" + Stable(r.message), r.message);
      }
      break;
    }
    case Outcome::kReplayDivergence:
      ErrorLog("replay-divergence", r.message);
      break;
    case Outcome::kProgramException:
      OnScenarioException(r.message);
      break;
  }
  for (Finding& f : teardown_) findings_.push_back(std::move(f));
  teardown_.clear();
  for (const LeftHandle& h : r.handles_left) {
    std::string kind = h.object.substr(0, h.object.find(' '));
    Leak("handle:" + kind,
         "pid#" + std::to_string(h.pid) + " left " + h.object + " open (" + h.created + ")");
  }
  for (const OwnedOverlapped& o : r.overlapped_owned) {
    // "ReadFile h=0x8 pid#1 pending" -> "ReadFile"
    std::string what = o.what.substr(o.what.rfind("ov#", 0) == 0 ? o.what.find(' ') + 1 : 0);
    Leak("overlapped:" + what.substr(0, what.find(' ')), "the kernel still owns " + o.what);
  }
}
#endif

void Oracles::OnScenarioException(const std::string& what) {
  // "thread#2 threw: AttributeError: ..." -> the exception's kind
  std::string kind = what;
  size_t t = kind.find("threw: ");
  if (t != std::string::npos) kind = kind.substr(t + 7);
  kind = kind.substr(0, kind.find_first_of(": "));
  if (kind == "InvalidStateError") return InvalidState("exception", what);
  ErrorLog("exception:" + kind, what);
}

void Oracles::Add(scenarios::Verdict v, std::string what, std::string detail) {
  findings_.push_back({v, std::string(VerdictName(v)) + ":" + what, std::move(detail)});
}

// Each verdict through its own function, never inlined (crash grouping
// works on top frames).
[[gnu::noinline]] void Oracles::UnexpectedEvent(std::string what, std::string detail) {
  Add(scenarios::Verdict::kUnexpectedEvent, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::Hang(std::string what, std::string detail) {
  Add(scenarios::Verdict::kHang, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::Deadlock(std::string what, std::string detail) {
  Add(scenarios::Verdict::kDeadlock, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::UseAfterFree(std::string what, std::string detail) {
  Add(scenarios::Verdict::kUseAfterFree, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::Leak(std::string what, std::string detail) {
  Add(scenarios::Verdict::kLeak, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::Order(std::string what, std::string detail) {
  Add(scenarios::Verdict::kOrder, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::DataLoss(std::string what, std::string detail) {
  Add(scenarios::Verdict::kDataLoss, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::InvalidState(std::string what, std::string detail) {
  Add(scenarios::Verdict::kInvalidState, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}
[[gnu::noinline]] void Oracles::ErrorLog(std::string what, std::string detail) {
  Add(scenarios::Verdict::kErrorLog, std::move(what), std::move(detail));
  if (abort_on_finding_) {
    std::fprintf(stderr, "iocpsim finding: %s\n  %s\n", findings_.back().signature.c_str(),
                 findings_.back().detail.c_str());
    std::abort();
  }
}

Finding Oracles::Verdict() const {
  if (findings_.empty()) return {};
  return findings_.front();
}

}  // namespace iocpsim::scenarios
