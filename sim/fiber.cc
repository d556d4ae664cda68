#include "sim/fiber.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include <cxxabi.h>

#include <boost/context/detail/fcontext.hpp>

#ifdef IOCPSIM_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace iocpsim {

namespace ctx = boost::context::detail;

namespace {

constexpr size_t kGuard = 4096;

// Stacks are mmap'd with a guard page below them and kept for reuse, so a
// campaign of many runs does not pay a system call per simulated thread.
struct StackPool {
  std::vector<std::pair<char*, size_t>> free;
  ~StackPool() {
    for (auto& [p, size] : free) munmap(p - kGuard, size + kGuard);
  }
};
thread_local StackPool t_pool;
thread_local Fiber* t_entering = nullptr;

// The C++ runtime keeps the exceptions being handled per OS thread
// (__cxa_eh_globals: the caught-exception stack and the uncaught count).
// A fiber that switches inside a catch block must not see another fiber's,
// so each fiber saves and restores them around a switch, as fiber
// libraries do.
struct EhGlobals {
  void* caught;
  unsigned int uncaught;
};
EhGlobals* Eh() { return reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals()); }

char* AllocateStack(size_t size) {
  for (size_t i = 0; i < t_pool.free.size(); ++i) {
    if (t_pool.free[i].second == size) {
      char* p = t_pool.free[i].first;
      t_pool.free[i] = t_pool.free.back();
      t_pool.free.pop_back();
      return p;
    }
  }
  void* p = mmap(nullptr, size + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "iocpsim: out of memory for a fiber stack\n");
    std::abort();
  }
  mprotect(p, kGuard, PROT_NONE);
  return static_cast<char*>(p) + kGuard;
}

void StartSwitch(void** fake_save, const void* bottom, size_t size) {
#ifdef IOCPSIM_ASAN
  __sanitizer_start_switch_fiber(fake_save, bottom, size);
#endif
}

}  // namespace

Fiber::Fiber() = default;

Fiber::Fiber(std::function<void()> body, size_t stack_size)
    : stack_size_(stack_size), body_(std::move(body)) {
  stack_ = AllocateStack(stack_size);
  asan_bottom_ = stack_;
  asan_size_ = stack_size;
  ctx_ = ctx::make_fcontext(stack_ + stack_size, stack_size,
                            [](ctx::transfer_t t) { Entry(t.fctx, t.data); });
}

Fiber::~Fiber() {
  if (stack_ != nullptr) t_pool.free.emplace_back(stack_, stack_size_);
}

void Fiber::AfterSwitch() {
#ifdef IOCPSIM_ASAN
  const void* bottom;
  size_t size;
  __sanitizer_finish_switch_fiber(fake_stack_, &bottom, &size);
  (void)bottom;
  (void)size;
#endif
}

void Fiber::Entry(void* from_ctx, void* data) {
  Fiber* from = static_cast<Fiber*>(data);
  Fiber* self = t_entering;
  from->ctx_ = from_ctx;
  *Eh() = EhGlobals{nullptr, 0};
#ifdef IOCPSIM_ASAN
  const void* bottom;
  size_t size;
  __sanitizer_finish_switch_fiber(nullptr, &bottom, &size);
  if (from->stack_ == nullptr) {  // learn the host stack's bounds for later switches
    from->asan_bottom_ = bottom;
    from->asan_size_ = size;
  }
#endif
  self->body_();
  std::fprintf(stderr, "iocpsim: harness bug: a fiber body returned\n");
  std::abort();
}

void Fiber::SwitchTo(Fiber& to) {
  EhGlobals saved = *Eh();
  StartSwitch(&fake_stack_, to.asan_bottom_, to.asan_size_);
  t_entering = &to;
  ctx::transfer_t t = ctx::jump_fcontext(to.ctx_, this);
  static_cast<Fiber*>(t.data)->ctx_ = t.fctx;
  AfterSwitch();
  *Eh() = saved;
}

void Fiber::FinalSwitchTo(Fiber& to) {
  StartSwitch(nullptr, to.asan_bottom_, to.asan_size_);
  t_entering = &to;
  ctx::jump_fcontext(to.ctx_, this);
  std::fprintf(stderr, "iocpsim: harness bug: a finished fiber was resumed\n");
  std::abort();
}

}  // namespace iocpsim
