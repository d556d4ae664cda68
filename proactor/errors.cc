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
      throw ConnectionResetError(error, "ConnectionResetError: " + what);
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
