#include "cli/command.hpp"

namespace llama_worker::cli {

Command add_inspect_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("inspect", "Print a GGUF file's architecture, metadata and tensor table");
  command.run = [] { return report_not_implemented("inspect", 3); };
  return command;
}

}  // namespace llama_worker::cli
