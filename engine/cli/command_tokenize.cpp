#include "cli/command.hpp"

namespace llama_worker::cli {

Command add_tokenize_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("tokenize", "Encode text to token ids or decode ids to text with a model's tokenizer");
  command.run = [] { return report_not_implemented("tokenize", 4); };
  return command;
}

}  // namespace llama_worker::cli
