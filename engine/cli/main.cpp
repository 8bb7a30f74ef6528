// llama-worker: command-line entry point. Parses arguments with CLI11 and dispatches to exactly
// one subcommand; usage errors exit with status 2 and a one-line "error:" message.
#include <cstdio>
#include <vector>

#include "cli/command.hpp"

namespace {

constexpr int kUsageError = 2;

}  // namespace

int main(int argc, char** argv) {
  using namespace llama_worker::cli;
  CLI::App app{"llama-worker: run Llama-family GGUF models on CUDA (and on the CPU reference backend)",
               "llama-worker"};
  app.require_subcommand(0, 1);  // zero is reported below, naming the choices
  app.set_version_flag("--version", "llama-worker 0.1.0");
  app.failure_message([](const CLI::App* failed, const CLI::Error& error) {
    return "error: " + std::string(error.what()) + "\nRun '" + failed->get_display_name(true) +
           " --help' for more information.\n";
  });

  std::vector<Command> commands = {
      add_inspect_command(app), add_tokenize_command(app), add_generate_command(app),
      add_logits_command(app),  add_mkmodel_command(app),  add_bench_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);
    return status == 0 ? 0 : kUsageError;
  }
  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  std::fprintf(stderr, "error: no subcommand given (one of: inspect, tokenize, generate, logits, mkmodel, bench)\nRun 'llama-worker --help' for more information.\n");
  return kUsageError;
}
