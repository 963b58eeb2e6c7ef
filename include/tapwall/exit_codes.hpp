// Process exit codes of the tapwall command, documented in the README.
// Thread-safety: constants only.
#pragma once

namespace tapwall {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,     // runtime failure
  kExitUsage = 2,       // bad command line
  kExitBadRules = 3,    // a rules file is missing, does not parse or does not compile
  kExitNoInterface = 4, // a port's interface does not exist (and cannot be created)
  kExitPermission = 5,  // not root / no CAP_NET_ADMIN, CAP_NET_RAW
  kExitFile = 6,        // an input or output file cannot be opened
};

}  // namespace tapwall
