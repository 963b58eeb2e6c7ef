// Command-line entry: `tapwall <command> [options]`.
// Exit codes (documented in the README): 0 ok; 1 runtime failure; 2 usage error;
// 3 rules file does not parse or compile; 4 interface missing; 5 permission denied;
// 6 an input or output file cannot be opened.
// Thread-safety: called once from main.
#pragma once

namespace tapwall::control {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
  kExitBadRules = 3,
  kExitNoInterface = 4,
  kExitPermission = 5,
  kExitFile = 6,
};

int cli_main(int argc, char** argv);
int replay_main(int argc, char** argv);
int check_main(int argc, char** argv);

}  // namespace tapwall::control
