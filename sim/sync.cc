// Events, waits on objects, time, errors and the handle calls that are not
// about one object type: CreateEventW, SetEvent, ResetEvent,
// WaitForSingleObject, WaitForMultipleObjects, Sleep, GetTickCount64,
// QueryPerformanceCounter/Frequency, GetLastError/SetLastError,
// CloseHandle, DuplicateHandle, SetHandleInformation, GetStdHandle.
#include "absl/strings/str_cat.h"
#include "sim/kernel.h"

namespace iocpsim {

namespace {
constexpr TraceFormat kCreateEventFmt{"CreateEventW", "manual=%b initial=%b -> %h"};
constexpr TraceFormat kSetEventFmt{"SetEvent", "h=%h -> %b"};
constexpr TraceFormat kResetEventFmt{"ResetEvent", "h=%h -> %b"};
constexpr TraceFormat kWaitFmt{"WaitForSingleObject", "h=%h timeout=%u -> %x"};
constexpr TraceFormat kWaitManyFmt{"WaitForMultipleObjects", "n=%u all=%b timeout=%u -> %x"};
constexpr TraceFormat kSleepFmt{"Sleep", "%u ms"};
constexpr TraceFormat kCloseFmt{"CloseHandle", "h=%h -> %b err=%e"};
constexpr TraceFormat kDupFmt{"DuplicateHandle", "h=%h -> %h %b err=%e"};
}  // namespace

struct EventObject : Object {
  EventObject() : Object(ObjType::kEvent) {}
  std::string Describe() const override { return manual ? "event (manual reset)" : "event"; }
  bool Signaled() const override { return signaled; }
  void Acquire() override {
    if (!manual) signaled = false;
  }
  bool manual = false;
  bool signaled = false;
};

void SignalEventObject(Kernel& k, Object* event) {
  SIM_CHECK(event->type == ObjType::kEvent);
  static_cast<EventObject*>(event)->signaled = true;
  k.Notify(event);
}

void ResetEventObject(Object* event) { static_cast<EventObject*>(event)->signaled = false; }

namespace {

bool Waitable(const Object* o) {
  switch (o->type) {
    case ObjType::kEvent:
    case ObjType::kProcess:
    case ObjType::kThread:
    case ObjType::kPipeEnd:
    case ObjType::kSocket:
      return true;
    default:
      return false;
  }
}

// Shared by both waits: resolves the handles, then waits until one (or
// all) are signalled, applying the wait's side effect (an auto-reset event
// resets) to the object(s) that satisfied it.
DWORD WaitObjects(Kernel& k, DWORD count, const HANDLE* handles, bool all, DWORD timeout_ms) {
  if (count == 0 || count > MAXIMUM_WAIT_OBJECTS) {
    k.SetError(ERROR_INVALID_PARAMETER);
    return WAIT_FAILED;
  }
  std::vector<Object*> objs;
  for (DWORD i = 0; i < count; ++i) {
    Object* o = k.Lookup(handles[i]);
    if (o == nullptr || !Waitable(o)) {
      k.SetError(ERROR_INVALID_HANDLE);
      return WAIT_FAILED;
    }
    objs.push_back(o);
  }
  DWORD which = WAIT_TIMEOUT;
  auto try_wake = [&objs, all, &which] {
    if (all) {
      for (Object* o : objs) {
        if (!o->Signaled()) return false;
      }
      for (Object* o : objs) o->Acquire();
      which = WAIT_OBJECT_0;
      return true;
    }
    for (size_t i = 0; i < objs.size(); ++i) {
      if (objs[i]->Signaled()) {
        objs[i]->Acquire();
        which = WAIT_OBJECT_0 + static_cast<DWORD>(i);
        return true;
      }
    }
    return false;
  };
  if (try_wake()) return which;
  if (!k.Block(objs, try_wake, timeout_ms)) return WAIT_TIMEOUT;
  return which;
}

}  // namespace
}  // namespace iocpsim

using iocpsim::K;
using iocpsim::Kernel;

DWORD WINAPI GetLastError() { return K().current()->last_error; }

void WINAPI SetLastError(DWORD error) { K().SetError(error); }

HANDLE WINAPI CreateEventW(LPSECURITY_ATTRIBUTES security, BOOL manual_reset, BOOL initial_state,
                           LPCWSTR name) {
  Kernel& k = K();
  k.Yield();
  auto* e = k.New<iocpsim::EventObject>();
  e->manual = manual_reset;
  e->signaled = initial_state;
  HANDLE h = k.AddHandle(k.current_process(), e, security != nullptr && security->bInheritHandle);
  k.Emit(iocpsim::kCreateEventFmt, {static_cast<uint64_t>(manual_reset),
                                    static_cast<uint64_t>(initial_state), k.HandleValue(h)});
  return h;
}

BOOL WINAPI SetEvent(HANDLE event) {
  Kernel& k = K();
  k.Yield();
  auto* e = k.LookupAs<iocpsim::EventObject>(event, iocpsim::ObjType::kEvent);
  if (e != nullptr) iocpsim::SignalEventObject(k, e);
  k.Emit(iocpsim::kSetEventFmt, {k.HandleValue(event), e != nullptr ? 1u : 0u});
  return e != nullptr;
}

BOOL WINAPI ResetEvent(HANDLE event) {
  Kernel& k = K();
  k.Yield();
  auto* e = k.LookupAs<iocpsim::EventObject>(event, iocpsim::ObjType::kEvent);
  if (e != nullptr) e->signaled = false;
  k.Emit(iocpsim::kResetEventFmt, {k.HandleValue(event), e != nullptr ? 1u : 0u});
  return e != nullptr;
}

DWORD WINAPI WaitForSingleObject(HANDLE h, DWORD timeout_ms) {
  Kernel& k = K();
  k.Yield();
  DWORD r = iocpsim::WaitObjects(k, 1, &h, false, timeout_ms);
  k.Emit(iocpsim::kWaitFmt, {k.HandleValue(h), timeout_ms, r});
  return r;
}

DWORD WINAPI WaitForMultipleObjects(DWORD count, const HANDLE* handles, BOOL wait_all,
                                    DWORD timeout_ms) {
  Kernel& k = K();
  k.Yield();
  DWORD r = iocpsim::WaitObjects(k, count, handles, wait_all, timeout_ms);
  k.Emit(iocpsim::kWaitManyFmt, {count, static_cast<uint64_t>(wait_all), timeout_ms, r});
  return r;
}

void WINAPI Sleep(DWORD ms) {
  Kernel& k = K();
  k.Yield();
  k.Emit(iocpsim::kSleepFmt, {ms});
  if (ms > 0) k.Block({}, [] { return false; }, ms);
}

ULONGLONG WINAPI GetTickCount64() {
  Kernel& k = K();
  k.Yield();
  return static_cast<ULONGLONG>(k.now() / iocpsim::kMs);
}

BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER* count) {
  Kernel& k = K();
  k.Yield();
  count->QuadPart = k.now() / 100;  // 10 MHz, as on current Windows
  return TRUE;
}

BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER* frequency) {
  frequency->QuadPart = 10'000'000;
  return TRUE;
}

BOOL WINAPI CloseHandle(HANDLE h) {
  Kernel& k = K();
  k.Yield();
  // The pseudo-handles of GetCurrentProcess/GetCurrentThread close as no-ops.
  if (h == INVALID_HANDLE_VALUE || h == reinterpret_cast<HANDLE>(~uintptr_t{1})) return TRUE;
  // A double close or a value that names nothing: ERROR_INVALID_HANDLE
  // (a stale value may also name a different object: the kernel recycles
  // values the way Windows does).
  bool ok = k.CloseIn(k.current_process(), h);
  if (!ok) k.SetError(ERROR_INVALID_HANDLE);
  k.Emit(iocpsim::kCloseFmt, {k.HandleValue(h), ok, ok ? 0u : ERROR_INVALID_HANDLE});
  return ok;
}

BOOL WINAPI DuplicateHandle(HANDLE source_process, HANDLE source, HANDLE target_process,
                            LPHANDLE target, DWORD access, BOOL inherit, DWORD options) {
  Kernel& k = K();
  k.Yield();
  auto* sp = k.LookupAs<iocpsim::Process>(source_process, iocpsim::ObjType::kProcess);
  auto* tp = k.LookupAs<iocpsim::Process>(target_process, iocpsim::ObjType::kProcess);
  iocpsim::Object* o = nullptr;
  if (sp != nullptr && tp != nullptr) {
    o = source == INVALID_HANDLE_VALUE && sp == k.current_process()
            ? static_cast<iocpsim::Object*>(sp)
            : k.LookupIn(sp, source);
  }
  if (o == nullptr) {
    k.SetError(ERROR_INVALID_HANDLE);
    k.Emit(iocpsim::kDupFmt, {k.HandleValue(source), 0, 0, ERROR_INVALID_HANDLE});
    return FALSE;
  }
  HANDLE h = k.AddHandle(tp, o, inherit);
  if (target != nullptr) *target = h;
  if (options & DUPLICATE_CLOSE_SOURCE) k.CloseIn(sp, source);
  k.Emit(iocpsim::kDupFmt, {k.HandleValue(source), k.HandleValue(h), 1, 0});
  return TRUE;
}

BOOL WINAPI SetHandleInformation(HANDLE h, DWORD mask, DWORD flags) {
  Kernel& k = K();
  k.Yield();
  iocpsim::Process* p = k.current_process();
  if (k.LookupIn(p, h) == nullptr) {
    k.SetError(ERROR_INVALID_HANDLE);
    return FALSE;
  }
  iocpsim::HandleEntry& e = p->handles[reinterpret_cast<uintptr_t>(h) / 4 - 1];
  if (mask & HANDLE_FLAG_INHERIT) e.inherit = (flags & HANDLE_FLAG_INHERIT) != 0;
  if (mask & HANDLE_FLAG_PROTECT_FROM_CLOSE) e.protect = (flags & HANDLE_FLAG_PROTECT_FROM_CLOSE) != 0;
  return TRUE;
}

HANDLE WINAPI GetStdHandle(DWORD which) {
  Kernel& k = K();
  int i = which == STD_INPUT_HANDLE ? 0 : which == STD_OUTPUT_HANDLE ? 1 : which == STD_ERROR_HANDLE ? 2 : -1;
  if (i < 0) {
    k.SetError(ERROR_INVALID_HANDLE);
    return INVALID_HANDLE_VALUE;
  }
  return k.current_process()->std_handles[i];
}
