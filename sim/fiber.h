// Cooperative stacks for simulated threads: Boost.Context's fcontext (an
// assembly switch with no system call, unlike glibc swapcontext) with the
// AddressSanitizer fiber annotations, so ASan follows every switch.
//
//   Fiber host;                       // the OS thread's own stack
//   Fiber f([] { ...; f.SwitchTo(host) ... });
//   host.SwitchTo(f);                 // runs f until it switches back
#ifndef IOCPSIM_SIM_FIBER_H_
#define IOCPSIM_SIM_FIBER_H_

#include <cstddef>
#include <functional>

// IOCPSIM_ASAN: built with AddressSanitizer (g++ or clang).
#if defined(__SANITIZE_ADDRESS__)
#define IOCPSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IOCPSIM_ASAN 1
#endif
#endif

namespace iocpsim {

class Fiber {
 public:
  // The fiber of the calling OS thread (no stack of its own).
  Fiber();
  // A fiber that runs `body` on a fresh stack of `stack_size` bytes. `body`
  // must never return: it ends by switching away with `final_switch`.
  Fiber(std::function<void()> body, size_t stack_size);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Suspends this fiber (which must be the running one) and resumes `to`.
  // Returns when some fiber switches back to this one.
  void SwitchTo(Fiber& to);
  // Like SwitchTo, for the last switch away from a finished fiber: tells
  // ASan the stack is gone. Never returns.
  [[noreturn]] void FinalSwitchTo(Fiber& to);

 private:
  static void Entry(void* transfer_ctx, void* data);
  void AfterSwitch();

  void* ctx_ = nullptr;        // saved fcontext_t
  char* stack_ = nullptr;      // nullptr for the host fiber
  size_t stack_size_ = 0;
  void* fake_stack_ = nullptr; // ASan fake-stack handle while suspended
  const void* asan_bottom_ = nullptr;
  size_t asan_size_ = 0;
  std::function<void()> body_;
};

}  // namespace iocpsim

#endif  // IOCPSIM_SIM_FIBER_H_
