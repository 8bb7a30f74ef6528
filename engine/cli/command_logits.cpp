#include "cli/command.hpp"

namespace llama_worker::cli {

Command add_logits_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("logits", "Print the logits of the last prompt position");
  command.run = [] { return report_not_implemented("logits", 5); };
  return command;
}

}  // namespace llama_worker::cli
