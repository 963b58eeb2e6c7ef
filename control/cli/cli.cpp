// Subcommand dispatch and `tapwall check`.
#include "cli.hpp"

#include <iostream>
#include <string>

#include "args.hpp"
#include "tapwall/policy_loader.hpp"

namespace tapwall::control {

namespace {

constexpr const char* kUsage =
    "usage: tapwall <command> [options]\n"
    "commands:\n"
    "  replay   run pcap/pcapng captures through the bridge engine (tapwall replay --help)\n"
    "  check    parse and compile a rules file, print the compiled chains\n"
    "  run      run the bridge in place of br0 (tapwall run --help)\n"
    "  ctl      query or steer a running bridge (tapwall ctl --help)\n"
    "  bench    measure the engine on your captures and rules (tapwall bench --help)\n"
    "  help     this text\n"
    "exit codes: 0 ok, 1 failure, 2 usage, 3 bad rules, 4 no such interface, 5 permission,\n"
    "            6 file cannot be opened\n";

constexpr const char* kCheckUsage =
    "usage: tapwall check --rules FILE [--rules6 FILE] [--uplink NAME] [--vm NAME ...]\n"
    "                     [--bridge-name NAME]\n"
    "Parses and compiles the rules (iptables-save file or iptables script), prints the\n"
    "compiled chains, and exits 3 with file:line:column on an error. Ports are optional;\n"
    "given, physdev patterns are resolved against them.\n"
    "  --bridge-name NAME the bridge device the rules were written for (default br0):\n"
    "                     -i / -o in FORWARD name it, as br_netfilter shows it\n";

}  // namespace

int check_main(int argc, char** argv) {
  Args a;
  a.option("--rules");
  a.option("--rules6");
  a.option("--bridge-name");
  a.option("--uplink", true);
  a.option("--vm", true);
  a.option("--host-port", true);
  a.flag("--help");
  if (!a.parse(argc, argv, 2) || !a.positional().empty()) {
    std::cerr << "tapwall check: "
              << (a.error().empty() ? "unexpected argument " + a.positional().front() : a.error())
              << "\n" << kCheckUsage;
    return kExitUsage;
  }
  if (a.has("--help")) {
    std::cout << kCheckUsage;
    return kExitOk;
  }
  if (!a.has("--rules") && !a.has("--rules6")) {
    std::cerr << "tapwall check: --rules or --rules6 is required\n" << kCheckUsage;
    return kExitUsage;
  }
  auto pl = make_port_list(a.all("--uplink"), a.all("--vm"), a.all("--host-port"));
  if (auto* e = std::get_if<std::string>(&pl)) {
    std::cerr << "tapwall check: " << *e << "\n";
    return kExitUsage;
  }
  auto loaded = load_policy({a.get("--rules").value_or(""), a.get("--rules6").value_or(""),
                             a.get("--bridge-name").value_or(std::string(kDefaultBridgeName))},
                            std::get<std::vector<PortDesc>>(pl), 1);
  if (auto* e = std::get_if<ConfigError>(&loaded)) {
    std::cerr << e->to_string() << "\n";
    return kExitBadRules;
  }
  std::get<std::shared_ptr<const CompiledPolicy>>(loaded)->print(std::cout);
  return kExitOk;
}

int cli_main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "replay") return replay_main(argc, argv);
  if (cmd == "check") return check_main(argc, argv);
  if (cmd == "run") return run_main(argc, argv);
  if (cmd == "ctl") return ctl_main(argc, argv);
  if (cmd == "bench") return bench_main(argc, argv);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return kExitOk;
  }
  std::cerr << (cmd.empty() ? "tapwall: no command given\n" : "tapwall: unknown command " + cmd + "\n")
            << kUsage;
  return kExitUsage;
}

}  // namespace tapwall::control
