// I/O completion ports: CreateIoCompletionPort (creation and association),
// GetQueuedCompletionStatus(Ex), PostQueuedCompletionStatus,
// SetFileCompletionNotificationModes.
#include "absl/strings/str_cat.h"
#include "sim/kernel.h"

namespace iocpsim {
namespace {
constexpr TraceFormat kCreatePortFmt{"CreateIoCompletionPort", "file=%h port=%h key=%x -> %h err=%e"};
constexpr TraceFormat kGqcsFmt{"GetQueuedCompletionStatus",
                               "port=%h timeout=%u -> %b ov=%x bytes=%u err=%e"};
constexpr TraceFormat kDequeueFmt{"dequeue", "%o key=%x bytes=%u %s"};
constexpr TraceFormat kPostFmt{"PostQueuedCompletionStatus", "port=%h bytes=%u key=%x ov=%x -> %b"};
constexpr TraceFormat kModesFmt{"SetFileCompletionNotificationModes", "h=%h flags=%u -> %b"};

// Waits until the port has a packet (or is closed); false on timeout.
bool WaitForPacket(Kernel& k, Port* port, DWORD timeout_ms) {
  if (port->queue.size() > port->reserved || port->closed) return true;
  if (timeout_ms == 0) return false;
  // A released thread is promised a packet (`reserved`) so that no caller
  // arriving later takes it first; Notify() asks waiters newest first, so
  // packets go to the most recent waiter (LIFO, MS:I/O Completion Ports).
  bool got = k.Block({port}, [port] {
    if (port->closed) return true;
    if (port->queue.size() <= port->reserved) return false;
    ++port->reserved;
    return true;
  }, timeout_ms);
  if (got && !port->closed) {
    SIM_CHECK(port->reserved > 0);
    --port->reserved;
  }
  return got;
}

Packet TakePacket(Kernel& k, Port* port) {
  SIM_CHECK(!port->queue.empty());
  Packet p = port->queue.front();
  port->queue.erase(port->queue.begin());
  k.Emit(kDequeueFmt, {p.op != nullptr ? p.op->id : 0, p.key, p.bytes,
                       static_cast<uint64_t>(static_cast<uint32_t>(p.status))},
         p.trace_id);
  k.Dequeued(p);
  return p;
}

}  // namespace

void Port::LastHandleClosed(Kernel& k) {
  // Threads blocked in GetQueuedCompletionStatus return FALSE with
  // ERROR_ABANDONED_WAIT_0 (MS:GetQueuedCompletionStatus). Packets still
  // queued are never dequeued: their operations stay owned, and show up
  // as such at the end of the run.
  closed = true;
  k.Notify(this);
}

}  // namespace iocpsim

using iocpsim::K;
using iocpsim::Kernel;
using iocpsim::ObjType;
using iocpsim::Port;

HANDLE WINAPI CreateIoCompletionPort(HANDLE file, HANDLE existing_port, ULONG_PTR key,
                                     DWORD concurrent_threads) {
  Kernel& k = K();
  k.Yield();
  auto fail = [&](DWORD e) -> HANDLE {
    k.SetError(e);
    k.Emit(iocpsim::kCreatePortFmt, {k.HandleValue(file), k.HandleValue(existing_port), key, 0, e});
    return nullptr;
  };
  Port* port = nullptr;
  if (existing_port != nullptr) {
    port = k.LookupAs<Port>(existing_port, ObjType::kPort);
    if (port == nullptr) return fail(ERROR_INVALID_HANDLE);
  }
  iocpsim::File* f = nullptr;
  if (file != INVALID_HANDLE_VALUE) {
    f = dynamic_cast<iocpsim::File*>(k.Lookup(file));
    if (f == nullptr) return fail(ERROR_INVALID_HANDLE);
    // A handle can be associated with one port only (MS:CreateIoCompletionPort).
    if (f->port != nullptr) return fail(ERROR_INVALID_PARAMETER);
  } else if (existing_port != nullptr) {
    return fail(ERROR_INVALID_PARAMETER);
  }
  HANDLE result = existing_port;
  if (port == nullptr) {
    port = k.New<Port>();
    result = k.AddHandle(k.current_process(), port, false);
  }
  if (f != nullptr) {
    f->port = port;
    f->key = key;
  }
  k.Emit(iocpsim::kCreatePortFmt,
         {k.HandleValue(file), k.HandleValue(existing_port), key, k.HandleValue(result), 0});
  return result;
}

BOOL WINAPI GetQueuedCompletionStatus(HANDLE port_handle, LPDWORD bytes, ULONG_PTR* key,
                                      LPOVERLAPPED* overlapped, DWORD timeout_ms) {
  Kernel& k = K();
  k.Yield();
  Port* port = k.LookupAs<Port>(port_handle, ObjType::kPort);
  *overlapped = nullptr;
  auto done = [&](BOOL ok, DWORD err) {
    if (!ok) k.SetError(err);
    // Only what the kernel wrote: bytes is untouched when nothing was dequeued.
    k.Emit(iocpsim::kGqcsFmt, {k.HandleValue(port_handle), timeout_ms, static_cast<uint64_t>(ok),
                               *overlapped ? 1u : 0u, *overlapped ? *bytes : 0, ok ? 0 : err});
    return ok;
  };
  if (port == nullptr) return done(FALSE, ERROR_INVALID_HANDLE);
  if (!iocpsim::WaitForPacket(k, port, timeout_ms)) return done(FALSE, WAIT_TIMEOUT);
  // Nothing dequeued: *lpOverlapped NULL, bytes and key untouched.
  if (port->closed) return done(FALSE, ERROR_ABANDONED_WAIT_0);
  iocpsim::Packet p = iocpsim::TakePacket(k, port);
  *bytes = p.bytes;
  *key = p.key;
  *overlapped = p.ov;
  // TRUE for a successful packet; FALSE with the overlapped filled for a
  // failed operation (MS:GetQueuedCompletionStatus).
  if (p.status >= 0 && p.status != STATUS_BUFFER_OVERFLOW) return done(TRUE, 0);
  return done(FALSE, iocpsim::NtStatusToError(p.status));
}

BOOL WINAPI GetQueuedCompletionStatusEx(HANDLE port_handle, LPOVERLAPPED_ENTRY entries, ULONG count,
                                        ULONG* removed, DWORD timeout_ms, BOOL alertable) {
  Kernel& k = K();
  k.Yield();
  Port* port = k.LookupAs<Port>(port_handle, ObjType::kPort);
  *removed = 0;
  if (port == nullptr) return FALSE;
  if (count == 0) {
    k.SetError(ERROR_INVALID_PARAMETER);
    return FALSE;
  }
  if (!iocpsim::WaitForPacket(k, port, timeout_ms)) {
    k.SetError(WAIT_TIMEOUT);
    return FALSE;
  }
  if (port->closed) {
    k.SetError(ERROR_ABANDONED_WAIT_0);
    return FALSE;
  }
  // Up to `count` packets; the rest stay queued.
  while (*removed < count && !port->queue.empty()) {
    iocpsim::Packet p = iocpsim::TakePacket(k, port);
    entries[*removed] = {p.key, p.ov, static_cast<ULONG_PTR>(static_cast<uint32_t>(p.status)),
                         p.bytes};
    ++*removed;
  }
  return TRUE;
}

BOOL WINAPI PostQueuedCompletionStatus(HANDLE port_handle, DWORD bytes, ULONG_PTR key,
                                       LPOVERLAPPED overlapped) {
  Kernel& k = K();
  k.Yield();
  Port* port = k.LookupAs<Port>(port_handle, ObjType::kPort);
  BOOL ok = port != nullptr;
  // Delivered verbatim; lpOverlapped need not point at an OVERLAPPED
  // (MS:PostQueuedCompletionStatus).
  uint32_t trace_id = 0;
  if (ok) {
    // With the trace kept, the packet gets an id of its own, which the
    // proactor's annotations of this address then name (not an earlier
    // operation that used the same address).
    if (k.trace().keep() && overlapped != nullptr) {
      trace_id = k.NextPostId();
      k.last_op_at[overlapped] = trace_id;
    }
    port->queue.push_back({bytes, key, overlapped, STATUS_SUCCESS, nullptr, trace_id});
    k.Notify(port);
  }
  k.Emit(iocpsim::kPostFmt, {k.HandleValue(port_handle), bytes, key,
                             reinterpret_cast<uintptr_t>(overlapped) ? 1u : 0u,
                             static_cast<uint64_t>(ok)},
          trace_id);
  return ok;
}

BOOL WINAPI SetFileCompletionNotificationModes(HANDLE file, BYTE flags) {
  Kernel& k = K();
  k.Yield();
  auto* f = dynamic_cast<iocpsim::File*>(k.Lookup(file));
  if (f == nullptr) {
    k.SetError(ERROR_INVALID_HANDLE);
    return FALSE;
  }
  // The modes can be set, never cleared (MS:SetFileCompletionNotificationModes).
  if (flags & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) f->skip_port_on_success = true;
  if (flags & FILE_SKIP_SET_EVENT_ON_HANDLE) f->skip_event_on_handle = true;
  k.Emit(iocpsim::kModesFmt, {k.HandleValue(file), flags, 1});
  return TRUE;
}
