#include "cli/command.hpp"

namespace llama_worker::cli {

Command add_generate_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("generate", "Generate text from a prompt");
  command.run = [] { return report_not_implemented("generate", 5); };
  return command;
}

}  // namespace llama_worker::cli
