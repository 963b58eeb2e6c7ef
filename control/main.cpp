// tapwall's entry point: dispatches to the subcommands in control/cli.
#include "cli.hpp"

int main(int argc, char** argv) { return tapwall::control::cli_main(argc, argv); }
