// Named pipes: CreateNamedPipeW, ConnectNamedPipe, DisconnectNamedPipe,
// WaitNamedPipeW, CreateFileW (the client end), ReadFile and WriteFile on
// either end, and what closing an end does to the other.
//
// An instance has a server end and, once a client attached, a client end.
// Each direction is a Channel of chunks (a message each in message mode).
// A write's bytes enter the channel at issue, so readers see them at once;
// the write completes when the unread bytes up to its end fit the buffer
// (Wine kpipe test_blocking_rw: a write larger than the buffer stays
// pending until the reader drains it).
#include <algorithm>
#include <cstring>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sim/kernel.h"

namespace iocpsim {

namespace {
constexpr TraceFormat kCreatePipeFmt{"CreateNamedPipeW", "-> %h err=%e"};
constexpr TraceFormat kConnectFmt{"ConnectNamedPipe", "h=%h ov=%o -> %b err=%e"};
constexpr TraceFormat kDisconnectFmt{"DisconnectNamedPipe", "h=%h -> %b err=%e"};
constexpr TraceFormat kCreateFileFmt{"CreateFileW", "-> %h err=%e"};
constexpr TraceFormat kWaitPipeFmt{"WaitNamedPipeW", "timeout=%u -> %b err=%e"};
constexpr TraceFormat kReadFmt{"ReadFile", "h=%h ov=%o n=%u -> %b bytes=%u err=%e"};
constexpr TraceFormat kWriteFmt{"WriteFile", "h=%h ov=%o n=%u -> %b bytes=%u err=%e"};
}  // namespace

struct Chunk {
  std::string bytes;
  size_t off = 0;
};

struct Channel {
  // A few chunks at a time: a vector popped at the front (a std::deque
  // allocates two blocks when made, four per pipe instance).
  std::vector<Chunk> chunks;
  uint64_t written = 0;   // bytes ever queued
  uint64_t consumed = 0;  // bytes ever read
  DWORD capacity = 0;
  uint64_t unread() const { return written - consumed; }
};

enum class PipeState : uint8_t {
  kListening,     // waiting for a client (new, or ConnectNamedPipe after a disconnect)
  kConnected,
  kClientClosed,  // the client closed; DisconnectNamedPipe not called yet
  kDisconnected,  // DisconnectNamedPipe called; not listening until ConnectNamedPipe
};

struct PipeName;

struct PipeInstance {
  PipeName* name = nullptr;
  struct PipeEnd* server = nullptr;
  struct PipeEnd* client = nullptr;
  PipeState state = PipeState::kListening;
  uint64_t listen_seq = 0;
  bool message_type = false;
  Channel to_server, to_client;
};

struct PipeName : Object {
  PipeName() : Object(ObjType::kPipeName) {}
  std::string Describe() const override { return "pipe name " + display; }
  std::string key, display;
  DWORD max_instances = 1;
  DWORD default_timeout_ms = 50;
  absl::InlinedVector<PipeInstance*, 4> instances;  // a run's few, inline
  bool listening_changed = false;  // for WaitNamedPipe waiters
  bool Signaled() const override { return listening_changed; }
};

struct PipeNamespace {
  // By lower-cased name: views of each PipeName's own `key`.
  std::map<std::string_view, PipeName*> names;
  std::string key;  // PipeKey's result, reused from call to call
  std::vector<std::unique_ptr<PipeInstance>> instances;
  uint64_t next_listen_seq = 0;
};

struct PipeEnd : File {
  PipeEnd() : File(ObjType::kPipeEnd) {}
  std::string Describe() const override {
    return absl::StrCat(server ? "pipe-server " : "pipe-client ", inst->name->display);
  }
  Readiness Ready(const Op* op) const override;
  void Perform(Kernel& k, Op* op) override;
  void LastHandleClosed(Kernel& k) override;

  Channel& inbox() const { return server ? inst->to_server : inst->to_client; }
  Channel& outbox() const { return server ? inst->to_client : inst->to_server; }
  PipeEnd* peer() const { return server ? inst->client : inst->server; }
  // The other end has gone (closed), with no DisconnectNamedPipe in between.
  bool PeerGone() const { return server ? inst->state == PipeState::kClientClosed : server_closed; }
  bool NotConnected() const {
    return server ? inst->state == PipeState::kDisconnected : disconnected;
  }
  bool FirstPending(const Op* op) const {
    for (const Op* o : ops) {
      if (o->type == op->type) return o == op;
    }
    return false;
  }

  PipeInstance* inst = nullptr;
  bool server = false;
  bool read_message_mode = false;
  bool server_closed = false;  // client end: the server end was closed
  bool disconnected = false;   // client end: DisconnectNamedPipe was called
};

namespace {

PipeNamespace& Names(Kernel& k) {
  if (k.pipes == nullptr) {
    k.pipes = new PipeNamespace;  // freed by ~Kernel
    k.pipes->instances.reserve(8);  // a run's instances at once
  }
  return *k.pipes;
}

// ASCII of a wide name, '?' for the rest, into `s`.
void NarrowInto(LPCWSTR w, std::string& s) {
  size_t n = 0;
  while (w != nullptr && w[n]) ++n;
  s.assign(n, '?');
  for (size_t i = 0; i < n; ++i) {
    if (w[i] < 128) s[i] = static_cast<char>(w[i]);
  }
}

std::string Narrow(LPCWSTR w) {
  std::string s;
  NarrowInto(w, s);
  return s;
}

// "\\.\pipe\NAME", case-insensitive; empty when not a pipe name. A view of
// ns.key, valid until the next call (one buffer, reused).
std::string_view PipeKey(PipeNamespace& ns, LPCWSTR name) {
  NarrowInto(name, ns.key);
  absl::AsciiStrToLower(&ns.key);
  constexpr std::string_view prefix = "\\\\.\\pipe\\";
  if (ns.key.size() <= prefix.size() || ns.key.compare(0, prefix.size(), prefix) != 0) return {};
  return ns.key;
}

void StartListening(PipeNamespace& ns, Kernel& k, PipeInstance* inst) {
  inst->state = PipeState::kListening;
  inst->listen_seq = ++ns.next_listen_seq;
  inst->name->listening_changed = true;
  k.Notify(inst->name);
  inst->name->listening_changed = false;
}

size_t CopyOut(Channel& c, char* dst, size_t n, bool one_message) {
  size_t got = 0;
  while (got < n && !c.chunks.empty()) {
    Chunk& ch = c.chunks.front();
    size_t take = std::min(n - got, ch.bytes.size() - ch.off);
    std::memcpy(dst + got, ch.bytes.data() + ch.off, take);
    got += take;
    ch.off += take;
    if (ch.off == ch.bytes.size()) c.chunks.erase(c.chunks.begin());
    if (one_message) break;
  }
  c.consumed += got;
  return got;
}

}  // namespace

void DeletePipeNamespace(PipeNamespace* ns) { delete ns; }

// A write still waiting for room when the reader closes fails with
// ERROR_BROKEN_PIPE; only a write issued afterwards gets ERROR_NO_DATA
// (Wine server/named_pipe.c: pipe_end_destroy fails the queued messages of
// the closing end with STATUS_PIPE_BROKEN; ReactOS npfs
// NpSetClosingPipeState completes the queued write IRPs the same way).
void FailPendingWrites(Kernel& k, PipeEnd* writer) {
  for (Op* op : OpList(writer->ops)) {
    if (op->pending && op->type == OpType::kWrite) k.CompleteOp(op, STATUS_PIPE_BROKEN, 0);
  }
}

File::Readiness PipeEnd::Ready(const Op* op) const {
  if (!FirstPending(op)) return Readiness::kNo;
  switch (op->type) {
    case OpType::kConnect:
      return inst->client != nullptr && inst->state != PipeState::kListening ? Readiness::kSuccess
                                                                             : Readiness::kNo;
    case OpType::kRead: {
      if (NotConnected()) return Readiness::kError;
      if (server && inst->state == PipeState::kListening) return Readiness::kError;
      const Channel& in = inbox();
      // A zero-length read on an empty byte pipe waits for data and does
      // not consume it (Wine kpipe test_readfileex_pending); an empty
      // message is a real message (Wine kpipe test_blocking_rw).
      if (!in.chunks.empty()) return Readiness::kSuccess;
      // Buffered data first; then ERROR_BROKEN_PIPE (Wine kpipe test_CloseHandle).
      return PeerGone() ? Readiness::kError : Readiness::kNo;
    }
    case OpType::kWrite: {
      if (NotConnected() || PeerGone()) return Readiness::kError;
      if (server && inst->state == PipeState::kListening) return Readiness::kError;
      return op->write_end - outbox().consumed <= outbox().capacity ? Readiness::kSuccess
                                                                    : Readiness::kNo;
    }
    default:  // socket operations are never issued on a pipe
      break;
  }
  return Readiness::kNo;
}

void PipeEnd::Perform(Kernel& k, Op* op) {
  switch (op->type) {
    case OpType::kConnect:
      // The client's arrival completes every queued listen request at once
      // (ReactOS npfs NpSetConnectedPipeState empties the IRP list; Wine
      // wakes the whole listen_q): a second ConnectNamedPipe's packet is
      // queued with the first's.
      for (Op* each : OpList(ops)) {  // in the order they were issued
        if (each->pending && each->type == OpType::kConnect) k.CompleteOp(each, STATUS_SUCCESS, 0);
      }
      return;
    case OpType::kRead: {
      if (NotConnected()) return k.CompleteOp(op, STATUS_PIPE_DISCONNECTED, 0);
      if (server && inst->state == PipeState::kListening) {
        return k.CompleteOp(op, STATUS_PIPE_LISTENING, 0);
      }
      Channel& in = inbox();
      if (in.chunks.empty()) return k.CompleteOp(op, STATUS_PIPE_BROKEN, 0);
      bool message = inst->message_type && read_message_mode;
      size_t got;
      NTSTATUS status = STATUS_SUCCESS;
      k.CheckBeforeBuffer(op);
      Kernel::Touching touch(k, op, "copying received bytes into the buffer");
      if (message) {
        // A read shorter than the message fails with ERROR_MORE_DATA; the
        // rest stays for the next read (Wine kpipe test_ReadFile).
        size_t rest = in.chunks.front().bytes.size() - in.chunks.front().off;
        got = CopyOut(in, op->buffer, std::min<size_t>(op->size, rest), true);
        if (rest == 0) {
          in.chunks.erase(in.chunks.begin());
        } else if (got < rest) {
          status = STATUS_BUFFER_OVERFLOW;
        }
      } else {
        got = CopyOut(in, op->buffer, op->size, false);
      }
      k.CompleteOp(op, status, static_cast<DWORD>(got));
      if (got > 0 && peer() != nullptr) k.Kick(peer());  // writers waiting for room
      return;
    }
    case OpType::kWrite:
      if (NotConnected()) return k.CompleteOp(op, STATUS_PIPE_DISCONNECTED, 0);
      if (server && inst->state == PipeState::kListening) {
        return k.CompleteOp(op, STATUS_PIPE_LISTENING, 0);
      }
      // Writing to a pipe whose reader closed: ERROR_NO_DATA (Wine kpipe
      // test_CloseHandle).
      if (PeerGone()) return k.CompleteOp(op, STATUS_PIPE_CLOSING, 0);
      k.CompleteOp(op, STATUS_SUCCESS, op->size);
      return;
    default:
      HarnessBug(__FILE__, __LINE__, "a pipe asked to perform a socket operation");
  }
}

void PipeEnd::LastHandleClosed(Kernel& k) {
  // Closing the last handle of an end fails what is pending on it with
  // ERROR_BROKEN_PIPE: NPFS's cleanup completes the end's queued reads and
  // writes, and a listening instance's ConnectNamedPipe requests, with
  // STATUS_PIPE_BROKEN (ReactOS npfs NpSetClosingPipeState; Wine
  // server/named_pipe.c pipe_end_destroy; the conformance check
  // close.last-handle-cancels-pending under Wine). Closing a duplicate
  // while another handle stays open fails nothing (Wine npipe "Close
  // queued handle").
  k.AbortAll(this, STATUS_PIPE_BROKEN);
  PipeNamespace& ns = Names(k);
  if (server) {
    if (inst->client != nullptr) {
      inst->client->server_closed = true;
      FailPendingWrites(k, inst->client);
      k.Kick(inst->client);  // pending reads: ERROR_BROKEN_PIPE once drained
    }
    auto& v = inst->name->instances;
    v.erase(std::find(v.begin(), v.end(), inst));
    if (v.empty()) ns.names.erase(inst->name->key);
    inst->server = nullptr;
  } else if (!disconnected) {
    if (inst->state == PipeState::kConnected) inst->state = PipeState::kClientClosed;
    inst->client = nullptr;
    if (inst->server != nullptr) {
      FailPendingWrites(k, inst->server);
      k.Kick(inst->server);
    }
  }
}

}  // namespace iocpsim

using iocpsim::K;
using iocpsim::Kernel;
using iocpsim::PipeEnd;
using iocpsim::PipeInstance;
using iocpsim::PipeState;

namespace {

PipeEnd* LookupPipe(Kernel& k, HANDLE h) {
  return k.LookupAs<PipeEnd>(h, iocpsim::ObjType::kPipeEnd);
}

bool Inherit(LPSECURITY_ATTRIBUTES sa) { return sa != nullptr && sa->bInheritHandle; }

}  // namespace

HANDLE WINAPI CreateNamedPipeW(LPCWSTR name, DWORD open_mode, DWORD pipe_mode, DWORD max_instances,
                               DWORD out_buffer_size, DWORD in_buffer_size,
                               DWORD default_timeout_ms, LPSECURITY_ATTRIBUTES security) {
  Kernel& k = K();
  k.Yield();
  auto& ns = iocpsim::Names(k);
  auto fail = [&](DWORD e) {
    k.SetError(e);
    k.Emit(iocpsim::kCreatePipeFmt, {~uint64_t{0}, e});
    return INVALID_HANDLE_VALUE;
  };
  std::string_view key = iocpsim::PipeKey(ns, name);
  if (key.empty() || max_instances == 0 || max_instances > PIPE_UNLIMITED_INSTANCES) {
    return fail(ERROR_INVALID_PARAMETER);
  }
  iocpsim::PipeName* pn;
  auto it = ns.names.find(key);
  if (it == ns.names.end()) {
    pn = k.New<iocpsim::PipeName>();
    pn->key = key;
    pn->display = iocpsim::Narrow(name);
    pn->max_instances = max_instances;
    pn->default_timeout_ms = default_timeout_ms ? default_timeout_ms : 50;
    ns.names[pn->key] = pn;
  } else {
    pn = it->second;
    if (open_mode & FILE_FLAG_FIRST_PIPE_INSTANCE) return fail(ERROR_ACCESS_DENIED);
    if (pn->max_instances != PIPE_UNLIMITED_INSTANCES &&
        pn->instances.size() >= pn->max_instances) {
      return fail(ERROR_PIPE_BUSY);
    }
  }
  ns.instances.push_back(std::make_unique<PipeInstance>());
  PipeInstance* inst = ns.instances.back().get();
  inst->name = pn;
  inst->message_type = (pipe_mode & PIPE_TYPE_MESSAGE) != 0;
  inst->to_client.capacity = out_buffer_size;
  inst->to_server.capacity = in_buffer_size;
  auto* end = k.New<PipeEnd>();
  end->inst = inst;
  end->server = true;
  end->overlapped = (open_mode & FILE_FLAG_OVERLAPPED) != 0;
  end->read_message_mode = (pipe_mode & PIPE_READMODE_MESSAGE) != 0;
  inst->server = end;
  pn->instances.push_back(inst);
  // A new instance is listening at once: a client may connect before
  // ConnectNamedPipe (MS:ConnectNamedPipe).
  iocpsim::StartListening(ns, k, inst);
  HANDLE h = k.AddHandle(k.current_process(), end, Inherit(security));
  k.Emit(iocpsim::kCreatePipeFmt, {k.HandleValue(h), 0});
  return h;
}

BOOL WINAPI ConnectNamedPipe(HANDLE pipe, LPOVERLAPPED overlapped) {
  Kernel& k = K();
  k.Yield();
  PipeEnd* end = LookupPipe(k, pipe);
  auto result = [&](BOOL ok, uint64_t ov_id) {
    k.Emit(iocpsim::kConnectFmt, {k.HandleValue(pipe), ov_id, static_cast<uint64_t>(ok),
                                  ok ? 0 : k.current()->last_error});
    return ok;
  };
  if (end == nullptr) return result(FALSE, 0);
  if (!end->server) {
    k.SetError(ERROR_INVALID_PARAMETER);
    return result(FALSE, 0);
  }
  PipeInstance* inst = end->inst;
  // Already connected: FALSE, ERROR_PIPE_CONNECTED, no packet; the client
  // closed without a DisconnectNamedPipe: ERROR_NO_DATA (MS:ConnectNamedPipe;
  // Wine kpipe test_overlapped_error). Both are synchronous failures.
  NTSTATUS early = STATUS_SUCCESS;
  if (inst->state == PipeState::kConnected) early = STATUS_PIPE_CONNECTED;
  if (inst->state == PipeState::kClientClosed) early = STATUS_PIPE_CLOSING;
  // A second ConnectNamedPipe while one is pending pends too, and both
  // complete when a client connects: a listen request on a listening
  // blocking-mode instance is queued (Wine server/named_pipe.c
  // FSCTL_PIPE_LISTEN queues it on listen_q and wakes the whole queue;
  // ReactOS npfs NpSetListeningPipeState inserts it into the IRP list).
  if (early != STATUS_SUCCESS) {
    if (overlapped != nullptr) {
      iocpsim::Op* op = k.IssueOp(iocpsim::OpType::kConnect, end, pipe, overlapped, nullptr, 0);
      op->sync_issue = true;
      uint64_t id = op->id;
      k.CompleteOp(op, early, 0);
      k.FinishIssue(op, nullptr);
      return result(FALSE, id);
    }
    k.SetError(iocpsim::NtStatusToError(early));
    return result(FALSE, 0);
  }
  if (inst->state == PipeState::kDisconnected) iocpsim::StartListening(iocpsim::Names(k), k, inst);
  iocpsim::Op* op = k.IssueOp(iocpsim::OpType::kConnect, end, pipe, overlapped, nullptr, 0);
  uint64_t id = op->id;
  return result(k.StartOp(op, nullptr), id);
}

BOOL WINAPI DisconnectNamedPipe(HANDLE pipe) {
  Kernel& k = K();
  k.Yield();
  PipeEnd* end = LookupPipe(k, pipe);
  BOOL ok = FALSE;
  if (end != nullptr && !end->server) k.SetError(ERROR_INVALID_PARAMETER);
  if (end != nullptr && end->server) {
    PipeInstance* inst = end->inst;
    if (inst->state == PipeState::kListening) {
      k.SetError(ERROR_PIPE_LISTENING);
    } else {
      // Pending operations on both ends fail with ERROR_PIPE_NOT_CONNECTED;
      // later reads and writes fail at once with it; buffered data is
      // discarded (Wine kpipe test_DisconnectNamedPipe).
      k.AbortAll(end, STATUS_PIPE_DISCONNECTED);
      if (inst->client != nullptr) {
        inst->client->disconnected = true;
        k.AbortAll(inst->client, STATUS_PIPE_DISCONNECTED);
        inst->client = nullptr;
      }
      inst->to_client = {{}, 0, 0, inst->to_client.capacity};
      inst->to_server = {{}, 0, 0, inst->to_server.capacity};
      inst->state = PipeState::kDisconnected;
      ok = TRUE;
    }
  }
  k.Emit(iocpsim::kDisconnectFmt, {k.HandleValue(pipe), static_cast<uint64_t>(ok),
                                   ok ? 0 : k.current()->last_error});
  return ok;
}

namespace {

PipeInstance* FirstListening(iocpsim::PipeName* pn) {
  // Clients attach to listening instances in the order they started
  // listening (Wine kpipe test_multiple_instances).
  PipeInstance* best = nullptr;
  for (PipeInstance* inst : pn->instances) {
    if (inst->state == PipeState::kListening && inst->client == nullptr &&
        (best == nullptr || inst->listen_seq < best->listen_seq)) {
      best = inst;
    }
  }
  return best;
}

}  // namespace

HANDLE WINAPI CreateFileW(LPCWSTR name, DWORD access, DWORD share, LPSECURITY_ATTRIBUTES security,
                          DWORD disposition, DWORD flags, HANDLE template_file) {
  Kernel& k = K();
  k.Yield();
  auto& ns = iocpsim::Names(k);
  auto fail = [&](DWORD e) {
    k.SetError(e);
    k.Emit(iocpsim::kCreateFileFmt, {~uint64_t{0}, e});
    return INVALID_HANDLE_VALUE;
  };
  std::string_view key = iocpsim::PipeKey(ns, name);
  auto it = ns.names.find(key);
  // No such pipe: ERROR_FILE_NOT_FOUND; every instance busy (connected,
  // its client closed without a disconnect, or disconnected and not
  // listening again): ERROR_PIPE_BUSY (Wine kpipe test_CreateNamedPipe).
  if (key.empty() || it == ns.names.end()) return fail(ERROR_FILE_NOT_FOUND);
  PipeInstance* inst = FirstListening(it->second);
  if (inst == nullptr) return fail(ERROR_PIPE_BUSY);
  auto* end = k.New<PipeEnd>();
  end->inst = inst;
  end->server = false;
  end->overlapped = (flags & FILE_FLAG_OVERLAPPED) != 0;
  inst->client = end;
  inst->state = PipeState::kConnected;
  HANDLE h = k.AddHandle(k.current_process(), end, Inherit(security));
  k.Kick(inst->server);  // a pending ConnectNamedPipe completes
  k.Emit(iocpsim::kCreateFileFmt, {k.HandleValue(h), 0});
  return h;
}

BOOL WINAPI WaitNamedPipeW(LPCWSTR name, DWORD timeout_ms) {
  Kernel& k = K();
  k.Yield();
  auto& ns = iocpsim::Names(k);
  std::string_view key = iocpsim::PipeKey(ns, name);
  auto it = ns.names.find(key);
  BOOL ok = FALSE;
  if (key.empty() || it == ns.names.end()) {
    k.SetError(ERROR_FILE_NOT_FOUND);
  } else if (FirstListening(it->second) != nullptr) {
    ok = TRUE;
  } else {
    // Wait for an instance to listen, or fail with ERROR_SEM_TIMEOUT
    // (Wine kpipe test_wait_pipe).
    iocpsim::PipeName* pn = it->second;
    DWORD t = timeout_ms == NMPWAIT_USE_DEFAULT_WAIT ? pn->default_timeout_ms : timeout_ms;
    ok = k.Block({pn}, [pn] { return FirstListening(pn) != nullptr; }, t) ? TRUE : FALSE;
    if (!ok) k.SetError(ERROR_SEM_TIMEOUT);
  }
  k.Emit(iocpsim::kWaitPipeFmt, {timeout_ms, static_cast<uint64_t>(ok),
                                 ok ? 0 : k.current()->last_error});
  return ok;
}

BOOL WINAPI ReadFile(HANDLE file, LPVOID buffer, DWORD size, LPDWORD read,
                     LPOVERLAPPED overlapped) {
  Kernel& k = K();
  k.Yield();
  PipeEnd* end = LookupPipe(k, file);
  if (end == nullptr) {
    k.Emit(iocpsim::kReadFmt, {k.HandleValue(file), 0, size, 0, 0, ERROR_INVALID_HANDLE});
    return FALSE;
  }
  if (read != nullptr && overlapped == nullptr) *read = 0;
  iocpsim::Op* op = k.IssueOp(iocpsim::OpType::kRead, end, file, overlapped, buffer, size);
  uint64_t id = op->id;
  BOOL ok = k.StartOp(op, read);
  k.Emit(iocpsim::kReadFmt, {k.HandleValue(file), id, size, static_cast<uint64_t>(ok),
                             ok && read ? *read : 0, ok ? 0 : k.current()->last_error});
  return ok;
}

BOOL WINAPI WriteFile(HANDLE file, LPCVOID buffer, DWORD size, LPDWORD written,
                      LPOVERLAPPED overlapped) {
  Kernel& k = K();
  k.Yield();
  PipeEnd* end = LookupPipe(k, file);
  if (end == nullptr) {
    k.Emit(iocpsim::kWriteFmt, {k.HandleValue(file), 0, size, 0, 0, ERROR_INVALID_HANDLE});
    return FALSE;
  }
  if (written != nullptr && overlapped == nullptr) *written = 0;
  iocpsim::Op* op = k.IssueOp(iocpsim::OpType::kWrite, end, file, overlapped,
                              const_cast<void*>(buffer), size);
  uint64_t id = op->id;
  // The bytes enter the peer's channel at issue (if there is a reader to
  // take them); the write completes when they fit the buffer.
  bool can_queue = !end->NotConnected() && !end->PeerGone() &&
                   !(end->server && end->inst->state == PipeState::kListening);
  iocpsim::Channel& out = end->outbox();
  if (can_queue) {
    if (size > 0 || end->inst->message_type) {
      out.chunks.push_back({std::string(static_cast<const char*>(buffer), size), 0});
      if (size == 0) out.chunks.back().off = 0;
    }
    out.written += size;
  }
  op->write_end = out.written;
  if (can_queue && end->peer() != nullptr) k.Kick(end->peer());
  BOOL ok = k.StartOp(op, written);
  k.Emit(iocpsim::kWriteFmt, {k.HandleValue(file), id, size, static_cast<uint64_t>(ok),
                              ok && written ? *written : 0, ok ? 0 : k.current()->last_error});
  return ok;
}
