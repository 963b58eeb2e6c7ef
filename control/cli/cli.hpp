// Command-line entry: `tapwall <command> [options]`; exit codes in tapwall/exit_codes.hpp.
// Thread-safety: called once from main.
#pragma once

#include "tapwall/exit_codes.hpp"

namespace tapwall::control {

int cli_main(int argc, char** argv);
int replay_main(int argc, char** argv);
int check_main(int argc, char** argv);
int run_main(int argc, char** argv);
int ctl_main(int argc, char** argv);
int bench_main(int argc, char** argv);

}  // namespace tapwall::control
