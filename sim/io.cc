// The lifecycle of an operation, shared by every file type: issue (the
// kernel takes ownership of the OVERLAPPED), completion (status block,
// event, packet), cancellation, dequeue (ownership ends); plus the Win32
// calls that work on operations rather than on one file type: CancelIo,
// CancelIoEx, GetOverlappedResult.
#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sim/kernel.h"

#ifdef IOCPSIM_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace iocpsim {

namespace {
constexpr TraceFormat kIssueFmt{"issue", "%o %y on %h"};
constexpr TraceFormat kCompleteFmt{"complete", "%o %s bytes=%u packet=%b"};
constexpr TraceFormat kCancelReqFmt{"cancel-requested", "%o"};
constexpr TraceFormat kCancelIoExFmt{"CancelIoEx", "h=%h ov=%o -> %b err=%e"};
constexpr TraceFormat kCancelIoFmt{"CancelIo", "h=%h -> %b err=%e"};
constexpr TraceFormat kGorFmt{"GetOverlappedResult", "h=%h ov=%o wait=%b -> %b bytes=%u err=%e"};

}  // namespace

bool IsError(NTSTATUS s) { return (static_cast<uint32_t>(s) >> 30) == 3; }

DWORD NtStatusToError(NTSTATUS s) {
  switch (s) {
    case STATUS_SUCCESS: return ERROR_SUCCESS;
    case STATUS_PENDING: return ERROR_IO_PENDING;
    case STATUS_BUFFER_OVERFLOW: return ERROR_MORE_DATA;
    case STATUS_CANCELLED: return ERROR_OPERATION_ABORTED;
    case STATUS_PIPE_BROKEN: return ERROR_BROKEN_PIPE;
    case STATUS_PIPE_DISCONNECTED: return ERROR_PIPE_NOT_CONNECTED;
    case STATUS_PIPE_CLOSING: return ERROR_NO_DATA;
    case STATUS_PIPE_CONNECTED: return ERROR_PIPE_CONNECTED;
    case STATUS_PIPE_LISTENING: return ERROR_PIPE_LISTENING;
    case STATUS_PIPE_BUSY: return ERROR_PIPE_BUSY;
    case STATUS_CONNECTION_RESET: return ERROR_NETNAME_DELETED;
    case STATUS_CONNECTION_REFUSED: return ERROR_CONNECTION_REFUSED;
    case STATUS_CONNECTION_ABORTED: return ERROR_CONNECTION_ABORTED;
    case STATUS_PORT_UNREACHABLE: return ERROR_PORT_UNREACHABLE;
  }
  HarnessBug(__FILE__, __LINE__, "an NTSTATUS without a Win32 error mapping");
}

const char* OpTypeName(OpType t) {
  switch (t) {
    case OpType::kRead: return "ReadFile";
    case OpType::kWrite: return "WriteFile";
    case OpType::kConnect: return "ConnectNamedPipe";
    case OpType::kRecv: return "WSARecv";
    case OpType::kSend: return "WSASend";
    case OpType::kRecvFrom: return "WSARecvFrom";
    case OpType::kSendTo: return "WSASendTo";
    case OpType::kAccept: return "AcceptEx";
    case OpType::kConnectEx: return "ConnectEx";
  }
  return "?";
}

namespace {

struct TouchState {
  const Kernel* kernel = nullptr;
  const Op* op = nullptr;
  const char* what = nullptr;
};
thread_local TouchState touching;  // one simulation at a time per OS thread

// Called by AddressSanitizer with its report, before the process dies. (Not
// the death callback: libFuzzer owns that one, to write its crash file.)
// Unused in builds without ASan.
[[maybe_unused]] void NameTouchedOperation(const char*) {
  if (touching.op == nullptr) return;
  std::string op = touching.kernel->DescribeOp(touching.op);
  std::fprintf(stderr, "iocpsim: the kernel was %s of %s\n", touching.what, op.c_str());
}

}  // namespace

Kernel::Touching::Touching(const Kernel& k, const Op* op, const char* what) {
#ifdef IOCPSIM_ASAN
  static const bool installed = [] {
    __asan_set_error_report_callback(NameTouchedOperation);
    return true;
  }();
  (void)installed;
#endif
  prev_kernel_ = touching.kernel;
  prev_op_ = touching.op;
  prev_what_ = touching.what;
  touching = {&k, op, what};
}

Kernel::Touching::~Touching() { touching = {prev_kernel_, prev_op_, prev_what_}; }

std::string Kernel::DescribeOp(const Op* op) const {
  return absl::StrFormat("ov#%u %s h=0x%x pid#%u %s", op->id, OpTypeName(op->type),
                         reinterpret_cast<uintptr_t>(op->handle), op->process->id,
                         op->pending ? "pending" : "completed, packet not dequeued");
}

Op* Kernel::IssueOp(OpType type, File* f, HANDLE h, OVERLAPPED* ov, void* buffer, DWORD size) {
  if (ov != nullptr) {
    Op* prior = OwnerOf(ov);
    if (prior != nullptr && prior->queued && prior->file->port != nullptr &&
        prior->file->port->closed) {
      // Its packet is stranded in a port whose last handle is closed: no
      // one can dequeue it, and the status block, written at dequeue, never
      // will be. The memory is the program's again (reusing it is not a
      // use-after-free); the packet is dropped with the stale operation.
      auto& q = prior->file->port->queue;
      for (auto it = q.begin(); it != q.end(); ++it) {
        if (it->op == prior) {
          q.erase(it);
          break;
        }
      }
      prior->queued = false;
      ReleaseOp(prior);
      prior = nullptr;
    }
    if (prior != nullptr) {
      Fault(absl::StrCat("use-after-free: an OVERLAPPED the kernel still owns (", DescribeOp(prior),
                         ") was passed again to ", OpTypeName(type), ": freed or reused before "
                         "its completion was dequeued"));
    }
  }
  Op* op = new Op;
  op->id = NextOpId();
  op->type = type;
  op->ov = ov;
  op->file = f;
  op->process = current_->process;
  op->thread = current_;
  op->handle = h;
  op->buffer = static_cast<char*>(buffer);
  op->size = size;
  if (ov != nullptr) {
    // The low bit of hEvent asks for no packet (MS:GetQueuedCompletionStatus);
    // it is read at issue, as Windows captures the event in the request.
    op->no_packet = (reinterpret_cast<uintptr_t>(ov->hEvent) & 1) != 0;
    HANDLE ev = reinterpret_cast<HANDLE>(reinterpret_cast<uintptr_t>(ov->hEvent) & ~uintptr_t{1});
    if (ev != nullptr) {
      Object* o = LookupIn(current_->process, ev);
      if (o != nullptr && o->type == ObjType::kEvent) op->event = o;
    }
    // ReadFile and friends set Internal to STATUS_PENDING before issuing
    // and reset the event (MS:ReadFile, "the system sets hEvent to
    // nonsignaled").
    ov->Internal = static_cast<ULONG_PTR>(STATUS_PENDING);
    ov->InternalHigh = 0;
    owned_[ov] = op;
    if (trace_.keep()) last_op_at[ov] = op->id;
  }
  if (op->event != nullptr) ResetEventObject(op->event);
  live_ops_.push_back(op);
  f->ops.push_back(op);
  Emit(kIssueFmt, {op->id, static_cast<uint64_t>(type), HandleValue(h)});
  return op;
}

void Kernel::CheckCanary(const Op* op) {
  // While the kernel owns an OVERLAPPED its Internal holds what the kernel
  // last wrote there: STATUS_PENDING until the status is written, then the
  // status. Anything else means the program freed or rewrote it. Under
  // AddressSanitizer this read is itself the heap-use-after-free.
  if (op->ov == nullptr) return;
  NTSTATUS now = static_cast<NTSTATUS>(op->ov->Internal);
  if (now != (op->status_written ? op->status : STATUS_PENDING)) {
    Fault(absl::StrFormat("use-after-free: the OVERLAPPED of %s was overwritten while the kernel "
                          "owned it (Internal=0x%x): freed or reused before its packet was "
                          "dequeued", DescribeOp(op), static_cast<uint32_t>(now)));
  }
}

void Kernel::WriteStatus(Op* op) {
  // A process that has exited has no memory left to write into; its
  // packets still carry the OVERLAPPED's address to whoever dequeues them.
  if (op->ov == nullptr || op->process->exiting) return;
  Touching touch(*this, op, "writing the completion status into the OVERLAPPED");
  CheckCanary(op);
  op->ov->Internal = static_cast<ULONG_PTR>(static_cast<uint32_t>(op->status));
  op->ov->InternalHigh = op->bytes;
  op->status_written = true;
}

void Kernel::CompleteOp(Op* op, NTSTATUS status, DWORD bytes) {
  SIM_CHECK(op->pending);
  SIM_CHECK(status != STATUS_PENDING);
  File* f = op->file;
  op->pending = false;
  op->status = status;
  op->bytes = bytes;
  auto it = std::find(f->ops.begin(), f->ops.end(), op);
  SIM_CHECK(it != f->ops.end());
  f->ops.erase(it);
  Disable(op);
  // A call that fails synchronously queues no packet, signals nothing and
  // leaves Internal as set at issue (Wine kpipe test_overlapped_error;
  // MS:I/O Completion Ports, "the only exception is if the original
  // operation returns synchronously with an error").
  bool sync_error = op->sync_issue && IsError(status);
  bool low_bit = op->no_packet;
  bool skip = op->sync_issue && status == STATUS_SUCCESS && f->skip_port_on_success;
  bool packet = !sync_error && f->port != nullptr && op->ov != nullptr && !low_bit && !skip;
  Emit(kCompleteFmt, {op->id, static_cast<uint64_t>(static_cast<uint32_t>(status)), bytes, packet});
  if (!sync_error) {
    // With a port the status block is written at dequeue unless
    // immediate_status (MS:I/O Completion Ports) -- except for a call that
    // succeeded synchronously, which returns with its status block filled:
    // CPython's fast path (`if not ov.pending` in IocpProactor._register,
    // kept by the asyncio#196 fix 42d3bdee) sees such an operation as
    // completed on Windows while its packet is still queued.
    if (!packet || options_.immediate_status || op->sync_issue) WriteStatus(op);
    if (op->event != nullptr) {
      SignalEventObject(*this, op->event);
    } else if (!f->skip_event_on_handle || op->ov == nullptr) {
      f->io_signaled = true;
    }
  }
  Notify(f);  // synchronous-handle waiters and WaitForSingleObject(file)
  if (packet) {
    op->queued = true;
    f->port->queue.push_back({bytes, f->key, op->ov, status, op, 0});
    Notify(f->port);
  }
  // The issuing call releases what it is still holding: a synchronous
  // issue, or a synchronous handle whose caller waits in FinishIssue.
  if (!op->queued && !op->sync_issue && op->ov != nullptr) ReleaseOp(op);
}

BOOL Kernel::StartOp(Op* op, LPDWORD transferred) {
  File* f = op->file;
  op->sync_issue = true;
  File::Readiness r = f->Ready(op);
  if (r == File::Readiness::kError) {
    f->Perform(*this, op);
  } else if (r == File::Readiness::kSuccess) {
    // An overlapped operation that could finish at once may still be left
    // pending: callers must handle ERROR_IO_PENDING whenever they pass an
    // OVERLAPPED (MS:Synchronous and Asynchronous I/O).
    bool pend = f->overlapped && op->ov != nullptr && options_.pending_when_ready &&
                Choose(ChoiceKind::kSync, 2, [&] {
                  return absl::StrCat("ov#", op->id, " ", OpTypeName(op->type),
                                      " can finish at once: synchronously | pending");
                }) == 1;
    if (!pend) f->Perform(*this, op);
  }
  if (op->pending) {
    op->sync_issue = false;
    Kick(f);
  }
  return FinishIssue(op, transferred);
}

BOOL Kernel::FinishIssue(Op* op, LPDWORD transferred) {
  if (op->ov == nullptr && op->pending) {
    // A synchronous handle: the calling thread waits for the operation.
    Block({op->file}, [op] { return !op->pending; }, INFINITE);
    SIM_CHECK(!op->pending);
  }
  if (op->pending) {
    SetError(ERROR_IO_PENDING);
    return FALSE;
  }
  bool was_sync = op->sync_issue || op->ov == nullptr;
  op->sync_issue = false;
  NTSTATUS status = op->status;
  if (transferred != nullptr && !IsError(status)) *transferred = op->bytes;
  if (!op->queued) ReleaseOp(op);
  if (status == STATUS_SUCCESS) return TRUE;
  SIM_CHECK(was_sync);
  SetError(NtStatusToError(status));
  return FALSE;
}

void Kernel::Kick(File* f) {
  for (Op* op : f->ops) {  // Ready() and Enable() leave f->ops alone
    if (!op->pending || op->ready_enabled || op->sync_issue) continue;
    if (f->Ready(op) == File::Readiness::kNo) continue;
    auto e = std::make_unique<KEvent>();
    e->op = op;
    e->subject = op->id;
    e->describe = [](const KEvent& ev) {
      return absl::StrCat("complete ov#", ev.subject, " ", OpTypeName(ev.op->type));
    };
    e->fire = [this, op] {  // two pointers: std::function keeps them without allocating
      if (!op->pending) return;
      File* f = op->file;
      if (f->Ready(op) != File::Readiness::kNo) f->Perform(*this, op);  // may release op
      Kick(f);
    };
    Enable(std::move(e));
  }
}

void Kernel::RequestCancel(Op* op) {
  if (!op->pending || op->cancel_requested) return;
  op->cancel_requested = true;
  Emit(kCancelReqFmt, {op->id});
  auto e = std::make_unique<KEvent>();
  e->op = op;
  e->subject = op->id;
  e->describe = [](const KEvent& ev) { return absl::StrCat("cancel ov#", ev.subject); };
  e->fire = [this, op] {
    if (!op->pending) return;
    // Cancellation races completion: an operation whose data is already
    // there may still complete successfully (MS:CancelIoEx remarks; the
    // window behind BUGS.md bpo-33694).
    File* f = op->file;
    if (f->Ready(op) == File::Readiness::kSuccess &&
        Choose(ChoiceKind::kCancelRace, 2, [&] {
          return absl::StrCat("ov#", op->id, " cancel requested, data ready: aborted | completes");
        }) == 1) {
      f->Perform(*this, op);
    } else {
      CompleteOp(op, STATUS_CANCELLED, 0);
    }
    Kick(f);
  };
  Enable(std::move(e));
}

void Kernel::AbortAll(File* f, NTSTATUS status) {
  for (Op* op : f->ops) {  // Ready() and Enable() leave f->ops alone
    if (op->pending) CompleteOp(op, status, 0);
  }
}

void Kernel::Dequeued(const Packet& p) {
  if (p.op == nullptr) return;
  Op* op = p.op;
  SIM_CHECK(op->queued);
  SIM_CHECK(!op->pending);
  op->queued = false;
  if (op->status_written) {
    // The kernel does not write again, but checks that the OVERLAPPED it
    // still owned was not freed or reused (asyncio#196).
    if (!op->process->exiting) {
      Touching touch(*this, op, "checking the OVERLAPPED of a dequeued packet");
      CheckCanary(op);
    }
  } else {
    WriteStatus(op);
  }
  ReleaseOp(op);
}

void Kernel::ReleaseOp(Op* op) {
  SIM_CHECK(!op->pending);
  SIM_CHECK(!op->queued);
  if (op->ov != nullptr) {
    auto it = owned_.find(op->ov);
    SIM_CHECK(it != owned_.end() && it->second == op);
    owned_.erase(it);
  }
  auto live = std::lower_bound(live_ops_.begin(), live_ops_.end(), op->id,
                               [](const Op* o, uint32_t id) { return o->id < id; });
  SIM_CHECK(live != live_ops_.end() && *live == op);
  live_ops_.erase(live);
  delete op;
}

}  // namespace iocpsim

using iocpsim::K;
using iocpsim::Kernel;

BOOL WINAPI CancelIoEx(HANDLE file, LPOVERLAPPED overlapped) {
  Kernel& k = K();
  k.Yield();
  auto* f = dynamic_cast<iocpsim::File*>(k.Lookup(file));
  BOOL ok = FALSE;
  if (f == nullptr) {
    k.SetError(ERROR_INVALID_HANDLE);
  } else {
    // CancelIoEx cancels the calling process's operations on the handle
    // from any thread; nothing to cancel (never issued, completed even with
    // its packet still queued, already cancelled) is ERROR_NOT_FOUND
    // (MS:CancelIoEx). An operation whose cancellation was requested counts
    // as cancelled: NPFS completes a cancelled request inside the cancel
    // routine, so a second CancelIoEx finds nothing (conformance check
    // cancel.pending-operation under Wine).
    std::vector<iocpsim::Op*> hits;
    for (iocpsim::Op* op : f->ops) {
      if (op->pending && !op->cancel_requested && op->process == k.current_process() &&
          (overlapped == nullptr || op->ov == overlapped)) {
        hits.push_back(op);
      }
    }
    for (iocpsim::Op* op : hits) k.RequestCancel(op);
    ok = !hits.empty();
    if (!ok) k.SetError(ERROR_NOT_FOUND);
  }
  iocpsim::Op* owner = overlapped != nullptr ? k.OwnerOf(overlapped) : nullptr;
  uint64_t ov_id = owner != nullptr ? owner->id : 0;
  k.Emit(iocpsim::kCancelIoExFmt, {k.HandleValue(file), ov_id, static_cast<uint64_t>(ok),
                                   ok ? 0 : k.current()->last_error});
  return ok;
}

BOOL WINAPI CancelIo(HANDLE file) {
  Kernel& k = K();
  k.Yield();
  auto* f = dynamic_cast<iocpsim::File*>(k.Lookup(file));
  if (f == nullptr) {
    k.SetError(ERROR_INVALID_HANDLE);
    k.Emit(iocpsim::kCancelIoFmt, {k.HandleValue(file), 0, ERROR_INVALID_HANDLE});
    return FALSE;
  }
  // Only the calling thread's operations (MS:CancelIo). Returns TRUE even
  // with nothing to cancel.
  for (iocpsim::Op* op : iocpsim::OpList(f->ops)) {
    if (op->pending && op->thread == k.current()) k.RequestCancel(op);
  }
  k.Emit(iocpsim::kCancelIoFmt, {k.HandleValue(file), 1, 0});
  return TRUE;
}

BOOL WINAPI GetOverlappedResult(HANDLE file, LPOVERLAPPED ov, LPDWORD bytes, BOOL wait) {
  Kernel& k = K();
  k.Yield();
  // As kernel32 does it: the status block decides. If it still says
  // STATUS_PENDING, either fail with ERROR_IO_INCOMPLETE or wait on hEvent
  // (or the file object) and read it again (MS:GetOverlappedResult).
  iocpsim::Op* op = k.OwnerOf(ov);
  uint64_t ov_id = op != nullptr ? op->id : 0;
  if (static_cast<NTSTATUS>(ov->Internal) == STATUS_PENDING) {
    if (!wait) {
      k.SetError(ERROR_IO_INCOMPLETE);
      k.Emit(iocpsim::kGorFmt, {k.HandleValue(file), ov_id, 0, 0, 0, ERROR_IO_INCOMPLETE});
      return FALSE;
    }
    HANDLE ev = reinterpret_cast<HANDLE>(reinterpret_cast<uintptr_t>(ov->hEvent) & ~uintptr_t{1});
    iocpsim::Object* o = k.Lookup(ev != nullptr ? ev : file);
    if (o == nullptr) return FALSE;
    if (!o->Signaled()) {
      k.Block({o}, [o] {
        if (!o->Signaled()) return false;
        o->Acquire();
        return true;
      }, INFINITE);
    } else {
      o->Acquire();
    }
  }
  NTSTATUS s = static_cast<NTSTATUS>(ov->Internal);
  *bytes = static_cast<DWORD>(ov->InternalHigh);
  BOOL ok = s >= 0 ? TRUE : FALSE;  // NT_SUCCESS
  if (!ok) k.SetError(iocpsim::NtStatusToError(s));
  k.Emit(iocpsim::kGorFmt, {k.HandleValue(file), ov_id, static_cast<uint64_t>(wait),
                            static_cast<uint64_t>(ok), *bytes, ok ? 0 : k.current()->last_error});
  return ok;
}
