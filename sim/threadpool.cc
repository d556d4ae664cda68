// The thread pool and threads: RegisterWaitForSingleObject,
// UnregisterWait(Ex), QueueUserWorkItem, CreateThread, ExitThread,
// GetCurrentThreadId.
//
// A registered wait watches its object; when the object is signalled (or
// the timeout expires) a kernel event "wait fires" is enabled, and firing
// it queues the callback on a new pool thread. So "signalled but the
// callback not queued yet", "queued but not running" and "running" are all
// reachable states when the program calls UnregisterWait(Ex).
#include <map>

#include "absl/strings/str_cat.h"
#include "sim/kernel.h"

namespace iocpsim {

namespace {
constexpr TraceFormat kRegisterFmt{"RegisterWaitForSingleObject", "h=%h timeout=%u flags=%x -> wait#%u"};
constexpr TraceFormat kUnregisterFmt{"UnregisterWaitEx", "wait#%u event=%h -> %b err=%e"};
constexpr TraceFormat kFireFmt{"wait-fires", "wait#%u timer=%b"};
constexpr TraceFormat kQueueFmt{"QueueUserWorkItem", "-> thread#%u"};
constexpr TraceFormat kCreateThreadFmt{"CreateThread", "-> %h thread#%u"};
constexpr uintptr_t kWaitHandleBase = 0x40000000;  // wait handles are not kernel handles
}  // namespace

struct WaitReg : Object {
  WaitReg() : Object(ObjType::kWait) {}
  std::string Describe() const override { return absl::StrCat("wait#", number); }
  bool Signaled() const override { return active == 0; }

  uint32_t number = 0;
  Process* process = nullptr;
  Object* object = nullptr;
  WAITORTIMERCALLBACK callback = nullptr;
  PVOID context = nullptr;
  ULONG timeout_ms = INFINITE;
  ULONG flags = 0;
  bool armed = false;         // watching the object
  bool fire_enabled = false;  // a "wait fires" event is in the ready queue
  bool unregistered = false;
  int active = 0;             // callbacks queued or running
  Object* completion_event = nullptr;
  uint64_t timer = 0;
};

struct WaitTable {
  std::map<uintptr_t, WaitReg*> by_handle;
  std::vector<WaitReg*> all;  // in registration order
  uint32_t next = 0;
};

void DeleteWaitTable(WaitTable* w) { delete w; }

namespace {

WaitTable& Waits(Kernel& k) {
  if (k.waits == nullptr) k.waits = new WaitTable;
  return *k.waits;
}

void Arm(Kernel& k, WaitReg* w);

void RunCallback(Kernel& k, WaitReg* w, bool timer_fired) {
  ++w->active;
  Thread* t = k.NewThread(w->process, [&k, w, timer_fired] {
    w->callback(w->context, timer_fired ? TRUE : FALSE);
    if (!w->unregistered && !(w->flags & WT_EXECUTEONLYONCE)) Arm(k, w);
    return DWORD{0};
  }, "wait callback");
  // Counted down however the callback ends, even when its process is
  // killed under it.
  t->on_end = [&k, w] {
    --w->active;
    if (w->active == 0) {
      // UnregisterWaitEx's completion event is signalled once every
      // callback has finished (MS:UnregisterWaitEx).
      if (w->unregistered && w->completion_event != nullptr) {
        SignalEventObject(k, w->completion_event);
      }
      k.Notify(w);
    }
  };
}

void EnableFire(Kernel& k, WaitReg* w, bool timer_fired) {
  if (w->fire_enabled) return;
  w->fire_enabled = true;
  auto e = std::make_unique<KEvent>();
  e->subject = w->number;
  e->describe = [](const KEvent& ev) { return absl::StrCat("wait#", ev.subject, " fires"); };
  e->fire = [&k, w, timer_fired] {
    w->fire_enabled = false;
    if (w->unregistered || !w->armed) return;
    if (!timer_fired) {
      if (!w->object->Signaled()) return;  // taken by another waiter meanwhile
      w->object->Acquire();
    }
    w->armed = false;
    if (w->timer != 0) {
      k.CancelTimer(w->timer);
      w->timer = 0;
    }
    k.Emit(kFireFmt, {w->number, timer_fired});
    // The callback is queued on a pool thread (MS:RegisterWaitForSingleObject).
    RunCallback(k, w, timer_fired);
  };
  k.Enable(std::move(e));
}

void Arm(Kernel& k, WaitReg* w) {
  w->armed = true;
  if (w->object->Signaled()) {
    EnableFire(k, w, false);
  }
  if (w->timeout_ms != INFINITE) {
    w->timer = k.AddTimer(k.now() + Time{w->timeout_ms} * kMs, [&k, w] {
      w->timer = 0;
      if (w->armed && !w->unregistered) EnableFire(k, w, true);
    });
  }
}

}  // namespace

// Called by Kernel::Notify for every signalled object that registered waits
// watch. Kept here so the kernel core knows nothing of the pool.
void NotifyWaits(Kernel& k, Object* o) {
  if (k.waits == nullptr) return;
  for (WaitReg* w : k.waits->all) {
    if (w->object == o && w->armed && !w->unregistered && o->Signaled()) EnableFire(k, w, false);
  }
}

}  // namespace iocpsim

using iocpsim::K;
using iocpsim::Kernel;
using iocpsim::WaitReg;

BOOL WINAPI RegisterWaitForSingleObject(PHANDLE new_wait, HANDLE object,
                                        WAITORTIMERCALLBACK callback, PVOID context,
                                        ULONG timeout_ms, ULONG flags) {
  Kernel& k = K();
  k.Yield();
  iocpsim::Object* o = k.Lookup(object);
  if (o == nullptr || callback == nullptr) {
    if (o != nullptr) k.SetError(ERROR_INVALID_PARAMETER);
    return FALSE;
  }
  auto& table = iocpsim::Waits(k);
  auto* w = k.New<WaitReg>();
  w->number = ++table.next;
  w->process = k.current_process();
  w->object = o;
  w->callback = callback;
  w->context = context;
  w->timeout_ms = timeout_ms;
  w->flags = flags;
  uintptr_t value = iocpsim::kWaitHandleBase + uintptr_t{w->number} * 4;
  table.by_handle[value] = w;
  table.all.push_back(w);
  *new_wait = reinterpret_cast<HANDLE>(value);
  k.Emit(iocpsim::kRegisterFmt, {k.HandleValue(object), timeout_ms, flags, w->number});
  iocpsim::Arm(k, w);
  return TRUE;
}

BOOL WINAPI UnregisterWaitEx(HANDLE wait, HANDLE completion_event) {
  Kernel& k = K();
  k.Yield();
  auto& table = iocpsim::Waits(k);
  auto it = table.by_handle.find(reinterpret_cast<uintptr_t>(wait));
  if (it == table.by_handle.end()) {
    k.SetError(ERROR_INVALID_HANDLE);
    return FALSE;
  }
  WaitReg* w = it->second;
  table.by_handle.erase(it);
  w->unregistered = true;
  w->armed = false;
  if (w->timer != 0) {
    k.CancelTimer(w->timer);
    w->timer = 0;
  }
  iocpsim::Object* event = nullptr;
  if (completion_event != nullptr && completion_event != INVALID_HANDLE_VALUE) {
    event = k.LookupAs<iocpsim::Object>(completion_event, iocpsim::ObjType::kEvent);
  }
  BOOL ok = TRUE;
  if (w->active == 0) {
    if (event != nullptr) iocpsim::SignalEventObject(k, event);
  } else if (completion_event == INVALID_HANDLE_VALUE) {
    // Blocks until every callback has finished (MS:UnregisterWaitEx).
    k.Block({w}, [w] { return w->active == 0; }, INFINITE);
  } else {
    // A callback is queued or running: FALSE with ERROR_IO_PENDING, which
    // is not a failure; the event is signalled when the callbacks finish,
    // and a queued callback may still run after this returns
    // (MS:UnregisterWait, MS:UnregisterWaitEx).
    w->completion_event = event;
    k.SetError(ERROR_IO_PENDING);
    ok = FALSE;
  }
  k.Emit(iocpsim::kUnregisterFmt, {w->number, k.HandleValue(completion_event),
                                   static_cast<uint64_t>(ok), ok ? 0u : ERROR_IO_PENDING});
  return ok;
}

BOOL WINAPI UnregisterWait(HANDLE wait) { return UnregisterWaitEx(wait, nullptr); }

BOOL WINAPI QueueUserWorkItem(LPTHREAD_START_ROUTINE function, PVOID context, ULONG flags) {
  Kernel& k = K();
  k.Yield();
  // Work items cannot be cancelled (MS:QueueUserWorkItem).
  iocpsim::Thread* t = k.NewThread(k.current_process(), [function, context] {
    return function(context);
  }, "worker");
  k.Emit(iocpsim::kQueueFmt, {t->id});
  return TRUE;
}

HANDLE WINAPI CreateThread(LPSECURITY_ATTRIBUTES security, SIZE_T stack_size,
                           LPTHREAD_START_ROUTINE start, LPVOID parameter, DWORD flags,
                           LPDWORD thread_id) {
  Kernel& k = K();
  k.Yield();
  iocpsim::Thread* t = k.NewThread(k.current_process(), [start, parameter] {
    return start(parameter);
  }, "");
  HANDLE h = k.AddHandle(k.current_process(), t, security != nullptr && security->bInheritHandle);
  if (thread_id != nullptr) *thread_id = t->id;
  k.Emit(iocpsim::kCreateThreadFmt, {k.HandleValue(h), t->id});
  return h;
}

void WINAPI ExitThread(DWORD exit_code) { K().ExitCurrentThread(exit_code); }

DWORD WINAPI GetCurrentThreadId() { return K().current()->id; }

HANDLE WINAPI GetCurrentThread() { return reinterpret_cast<HANDLE>(~uintptr_t{1}); }
