#include "cli/command.hpp"

namespace llama_worker::cli {

Command add_mkmodel_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("mkmodel", "Write a synthetic GGUF model with the exact shapes of a real one");
  command.run = [] { return report_not_implemented("mkmodel", 5); };
  return command;
}

}  // namespace llama_worker::cli
