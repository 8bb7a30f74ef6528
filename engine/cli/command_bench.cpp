#include "cli/command.hpp"

namespace llama_worker::cli {

Command add_bench_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("bench", "Measure prefill, decode and load speed (llama-bench compatible figures)");
  command.run = [] { return report_not_implemented("bench", 7); };
  return command;
}

}  // namespace llama_worker::cli
