#include "sim/trace.h"

#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sim/choice.h"
#include "sim/win32.h"
#include "sim/winsock.h"

#define SIM_TRACE_CHECK(c) \
  if (!(c)) std::abort()

namespace iocpsim {

void Trace::Emit(const TraceFormat& f, int64_t now_ns, uint32_t thread,
                 std::initializer_list<uint64_t> values, uint32_t op) {
  ++count_;
  Fold(f.name_hash);
  Fold(static_cast<uint64_t>(now_ns));
  Fold(thread);
  for (uint64_t v : values) Fold(v);
  if (!keep_) return;
  Record r{&f, now_ns, thread, static_cast<uint8_t>(values.size()), {}, {}, nullptr, op};
  int i = 0;
  for (uint64_t v : values) {
    SIM_TRACE_CHECK(i < 7);
    r.values[i++] = v;
  }
  records_.push_back(std::move(r));
}

void Trace::Note(int64_t now_ns, uint32_t thread, const char* category, uint32_t op,
                 std::string text) {
  if (!keep_) return;
  records_.push_back({nullptr, now_ns, thread, 0, {}, std::move(text), category, op});
}

uint64_t TraceEvent::Value(char code, uint64_t otherwise) const {
  for (size_t i = 0; i < codes.size() && i < values.size(); ++i) {
    if (codes[i] == code) return values[i];
  }
  return otherwise;
}

const char* Win32ErrorName(uint32_t error) {
  switch (error) {
    case ERROR_SUCCESS: return "ERROR_SUCCESS";
    case ERROR_FILE_NOT_FOUND: return "ERROR_FILE_NOT_FOUND";
    case ERROR_ACCESS_DENIED: return "ERROR_ACCESS_DENIED";
    case ERROR_INVALID_HANDLE: return "ERROR_INVALID_HANDLE";
    case ERROR_INVALID_PARAMETER: return "ERROR_INVALID_PARAMETER";
    case ERROR_BROKEN_PIPE: return "ERROR_BROKEN_PIPE";
    case ERROR_SEM_TIMEOUT: return "ERROR_SEM_TIMEOUT";
    case ERROR_PIPE_BUSY: return "ERROR_PIPE_BUSY";
    case ERROR_NO_DATA: return "ERROR_NO_DATA";
    case ERROR_PIPE_NOT_CONNECTED: return "ERROR_PIPE_NOT_CONNECTED";
    case ERROR_MORE_DATA: return "ERROR_MORE_DATA";
    case WAIT_TIMEOUT: return "WAIT_TIMEOUT";
    case ERROR_PIPE_CONNECTED: return "ERROR_PIPE_CONNECTED";
    case ERROR_PIPE_LISTENING: return "ERROR_PIPE_LISTENING";
    case ERROR_ABANDONED_WAIT_0: return "ERROR_ABANDONED_WAIT_0";
    case ERROR_OPERATION_ABORTED: return "ERROR_OPERATION_ABORTED";
    case ERROR_IO_INCOMPLETE: return "ERROR_IO_INCOMPLETE";
    case ERROR_IO_PENDING: return "ERROR_IO_PENDING";
    case ERROR_NOT_FOUND: return "ERROR_NOT_FOUND";
    case ERROR_NETNAME_DELETED: return "ERROR_NETNAME_DELETED";
    case ERROR_CONNECTION_REFUSED: return "ERROR_CONNECTION_REFUSED";
    case ERROR_PORT_UNREACHABLE: return "ERROR_PORT_UNREACHABLE";
    case ERROR_CONNECTION_ABORTED: return "ERROR_CONNECTION_ABORTED";
    case WSAECONNRESET: return "WSAECONNRESET";
    case WSAENOTCONN: return "WSAENOTCONN";
    case WSAEFAULT: return "WSAEFAULT";
    case WSAEINVAL: return "WSAEINVAL";
    case WSAENOTSOCK: return "WSAENOTSOCK";
    case WSAEMSGSIZE: return "WSAEMSGSIZE";
    case WSAEOPNOTSUPP: return "WSAEOPNOTSUPP";
    case WSAEADDRINUSE: return "WSAEADDRINUSE";
    case WSAEADDRNOTAVAIL: return "WSAEADDRNOTAVAIL";
    case WSAECONNABORTED: return "WSAECONNABORTED";
    case WSAEISCONN: return "WSAEISCONN";
    case WSAESHUTDOWN: return "WSAESHUTDOWN";
    case WSAECONNREFUSED: return "WSAECONNREFUSED";
    default: return nullptr;
  }
}

const char* NtStatusName(int32_t status) {
  switch (status) {
    case STATUS_SUCCESS: return "STATUS_SUCCESS";
    case STATUS_PENDING: return "STATUS_PENDING";
    case STATUS_BUFFER_OVERFLOW: return "STATUS_BUFFER_OVERFLOW";
    case STATUS_CANCELLED: return "STATUS_CANCELLED";
    case STATUS_PIPE_BROKEN: return "STATUS_PIPE_BROKEN";
    case STATUS_PIPE_DISCONNECTED: return "STATUS_PIPE_DISCONNECTED";
    case STATUS_PIPE_CLOSING: return "STATUS_PIPE_CLOSING";
    case STATUS_PIPE_CONNECTED: return "STATUS_PIPE_CONNECTED";
    case STATUS_PIPE_LISTENING: return "STATUS_PIPE_LISTENING";
    case STATUS_CONNECTION_RESET: return "STATUS_CONNECTION_RESET";
    case STATUS_CONNECTION_REFUSED: return "STATUS_CONNECTION_REFUSED";
    case STATUS_CONNECTION_ABORTED: return "STATUS_CONNECTION_ABORTED";
    case STATUS_PORT_UNREACHABLE: return "STATUS_PORT_UNREACHABLE";
    default: return nullptr;
  }
}

namespace {

std::string RenderValue(char code, uint64_t v) {
  switch (code) {
    case 'h': return v == ~uint64_t{0} ? "INVALID_HANDLE_VALUE" : absl::StrFormat("0x%x", v);
    case 'o': return v == 0 ? "NULL" : absl::StrCat("ov#", v);
    case 't': return absl::StrCat("thread#", v);
    case 'p': return absl::StrCat("pid#", v);
    case 'b': return v ? "TRUE" : "FALSE";
    case 'x': return absl::StrFormat("0x%x", v);
    case 'e': {
      const char* name = Win32ErrorName(static_cast<uint32_t>(v));
      return name ? name : absl::StrCat(v);
    }
    case 's': {
      const char* name = NtStatusName(static_cast<int32_t>(v));
      return name ? name : absl::StrFormat("0x%08x", v);
    }
    case 'k': return ChoiceKindName(static_cast<ChoiceKind>(v));
    case 'y': {
      // OpType's order (sim/kernel.h).
      static constexpr const char* kOps[] = {"ReadFile",    "WriteFile", "ConnectNamedPipe",
                                             "WSARecv",     "WSASend",   "WSARecvFrom",
                                             "WSASendTo",   "AcceptEx",  "ConnectEx"};
      return v < std::size(kOps) ? kOps[v] : absl::StrCat(v);
    }
    default: return absl::StrCat(v);
  }
}

}  // namespace

std::vector<TraceEvent> Trace::Events() const {
  std::vector<TraceEvent> events;
  events.reserve(records_.size());
  for (const Record& r : records_) {
    TraceEvent e;
    e.now_ns = r.now_ns;
    e.thread = r.thread;
    if (r.format == nullptr) {
      e.name = r.category;
      e.text = r.note;
      e.op = r.op;
      e.note = true;
      events.push_back(std::move(e));
      continue;
    }
    e.name = r.format->name;
    int i = 0;
    for (const char* p = r.format->format; *p; ++p) {
      if (*p == '%' && p[1] && i < r.n) {
        char code = *++p;
        e.codes += code;
        e.values.push_back(r.values[i]);
        e.text += RenderValue(code, r.values[i++]);
      } else {
        e.text += *p;
      }
    }
    e.op = r.op != 0 ? r.op : static_cast<uint32_t>(e.Value('o'));
    events.push_back(std::move(e));
  }
  return events;
}

std::vector<std::string> Trace::Render() const {
  std::vector<std::string> lines;
  bool deviated = false;  // the last choice took a non-canonical option
  for (const TraceEvent& e : Events()) {
    std::string line = absl::StrFormat("%10.3fms thread#%-3u ", e.now_ns / 1e6, e.thread);
    if (!e.note && e.name == "choice") deviated = e.values[1] != 0;
    if (e.note && e.name == "options") {
      // Under its choice line.
      absl::StrAppend(&line, "  options: ", e.text, deviated ? "   <- deviates from canonical" : "");
    } else {
      absl::StrAppend(&line, e.note ? "[" : "", e.name, e.note ? "]" : "", " ", e.text);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace iocpsim
