// The CLI's subcommands. Each lives in its own command_<name>.cpp and registers itself on the
// top-level CLI11 app; its run function returns the process exit status (0 success, 1 failure
// with one "error: ..." line on stderr, 2 usage error).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "core/status.hpp"

namespace llama_worker::cli {

struct Command {
  CLI::App* app = nullptr;   // the subcommand, owned by the parent app
  std::function<int()> run;  // executed when this subcommand was selected
};

Command add_inspect_command(CLI::App& parent);
Command add_tokenize_command(CLI::App& parent);
Command add_generate_command(CLI::App& parent);
Command add_logits_command(CLI::App& parent);
Command add_mkmodel_command(CLI::App& parent);
Command add_bench_command(CLI::App& parent);

// Prints "error: <context>: <message>" on stderr and returns exit status 1.
int report_error(const std::string& context, const Error& error);

// Prints "error: <command>: cannot write the output to stdout: <strerror(error)>" (or "write
// failed" for error 0) and returns exit status 1: a full device, a closed descriptor or pipe.
int report_stdout_failure(const std::string& command, int error);

}  // namespace llama_worker::cli
