// llama-worker: command-line entry point. Parses arguments with CLI11 and dispatches to exactly
// one subcommand; usage errors exit with status 2 and a one-line "error:" message.
//
// The process never dies of a signal or an uncaught exception (issue 19): a failed allocation or
// thread start is one "error:" line and status 1, a closed or full stdout is an error (not status
// 0), SIGPIPE is ignored so that a closed pipe is a failed write, and a SIGBUS from a model file
// truncated while it is being loaded (the CPU backend copies what it needs during the load, the
// CUDA backend uploads it; neither reads the mapping afterwards) is reported as such.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli/command.hpp"

namespace {

constexpr int kUsageError = 2;
constexpr int kFailure = 1;

// Only async-signal-safe calls: write and _exit.
void on_bus_error(int) {
  static const char kMessage[] =
      "error: a mapped model file was truncated or changed while llama-worker read it (SIGBUS); "
      "do not modify a model file while it is being loaded\n";
  const ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
  ::_exit(kFailure);
}

void install_signal_handlers() {
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction action {};
  action.sa_handler = on_bus_error;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, nullptr);
}

// What stdio still holds for stdout must reach it: a full device, a closed descriptor or a
// closed pipe makes the run a failure.
int finish_output(const std::string& command, int status) {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  if (status != 0 || (flushed && !std::ferror(stdout))) return status;  // a failure already said why
  return llama_worker::cli::report_stdout_failure(command, errno);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace llama_worker::cli;
  install_signal_handlers();
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
    if (!command.app->parsed()) continue;
    const std::string name = command.app->get_name();
    try {
      return finish_output(name, command.run());
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "error: %s: out of host memory (an allocation failed)\n", name.c_str());
    } catch (const std::exception& error) {
      std::fprintf(stderr, "error: %s: %s\n", name.c_str(), error.what());
    }
    return kFailure;
  }
  std::fprintf(stderr,
               "error: no subcommand given (one of: inspect, tokenize, generate, logits, mkmodel, "
               "bench)\nRun 'llama-worker --help' for more information.\n");
  return kUsageError;
}
