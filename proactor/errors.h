// The exceptions the proactor raises, named after Python's: OSError with
// its Windows error code (and the subclasses CPython derives from it),
// CancelledError, InvalidStateError and TimeoutError.
//
//   try { ov.ReadFile(pipe, 4096); }
//   catch (const BrokenPipeError& e) { /* e.winerror == ERROR_BROKEN_PIPE */ }
#ifndef IOCPSIM_PROACTOR_ERRORS_H_
#define IOCPSIM_PROACTOR_ERRORS_H_

#include <exception>
#include <stdexcept>
#include <string>

#include "sim/win32.h"

namespace iocpsim::proactor {

class OSError : public std::runtime_error {
 public:
  OSError(DWORD error, const std::string& what);
  DWORD winerror;
};

// ERROR_BROKEN_PIPE and ERROR_NO_DATA map to EPIPE (CPython PC/errmap.h),
// which Python raises as BrokenPipeError.
class BrokenPipeError : public OSError {
 public:
  using OSError::OSError;
};

class ConnectionResetError : public OSError {
 public:
  using OSError::OSError;
};

class ConnectionAbortedError : public OSError {
 public:
  using OSError::OSError;
};

class ConnectionRefusedError : public OSError {
 public:
  using OSError::OSError;
};

// Raises the OSError subclass CPython raises for `error`
// (PyErr_SetFromWindowsErr).
[[noreturn]] void RaiseWindowsError(DWORD error, const char* call = nullptr);

// Python's ValueError, e.g. "I/O operation on closed pipe".
class ValueError : public std::invalid_argument {
 public:
  explicit ValueError(const std::string& what) : std::invalid_argument("ValueError: " + what) {}
};

class CancelledError : public std::runtime_error {
 public:
  CancelledError() : std::runtime_error("CancelledError") {}
};

class InvalidStateError : public std::runtime_error {
 public:
  explicit InvalidStateError(const std::string& what)
      : std::runtime_error("InvalidStateError: " + what) {}
};

class TimeoutError : public std::runtime_error {
 public:
  TimeoutError() : std::runtime_error("TimeoutError") {}
};

// A one-line description of an exception: "BrokenPipeError: [WinError 109]".
std::string Describe(const std::exception_ptr& e);

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_ERRORS_H_
