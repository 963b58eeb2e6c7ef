// errno -> PortError mapping (see port_common.hpp). The CLI maps the kinds to exit codes.
// Thread-safety: pure function.
#include <cstring>

#include "port_common.hpp"

namespace tapwall::port_detail {

PortError errno_error(int err, const std::string& what) {
  PortError e;
  switch (err) {
    case ENODEV:
    case ENXIO:
      e.kind = PortError::NoSuchInterface;
      break;
    case EPERM:
    case EACCES:
      e.kind = PortError::Permission;
      break;
    default:
      e.kind = PortError::Other;
  }
  e.message = what + ": " + std::strerror(err);
  return e;
}

}  // namespace tapwall::port_detail
