#include "proactor/errors.h"

namespace iocpsim::proactor {

OSError::OSError(DWORD error, const std::string& what) : std::runtime_error(what), winerror(error) {}

void RaiseWindowsError(DWORD error, const char* call) {
  std::string what = "[WinError " + std::to_string(error) + "]";
  if (call != nullptr) what = what + " " + call;
  switch (error) {
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
      throw BrokenPipeError(error, "BrokenPipeError: " + what);
    case ERROR_NETNAME_DELETED:
    case 10054:  // WSAECONNRESET
      throw ConnectionResetError(error, "ConnectionResetError: " + what);
    // overlapped.c SetFromWindowsErr picks these two; the WSA codes are
    // errno values on Windows (ECONNABORTED, ECONNREFUSED).
    case ERROR_CONNECTION_ABORTED:
    case 10053:  // WSAECONNABORTED
      throw ConnectionAbortedError(error, "ConnectionAbortedError: " + what);
    case ERROR_CONNECTION_REFUSED:
    case 10061:  // WSAECONNREFUSED
      throw ConnectionRefusedError(error, "ConnectionRefusedError: " + what);
    default:
      throw OSError(error, "OSError: " + what);
  }
}

std::string Describe(const std::exception_ptr& e) {
  if (!e) return "None";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace iocpsim::proactor
