#include <cstdio>
#include <cstring>

#include "cli/command.hpp"

namespace llama_worker::cli {

int report_error(const std::string& context, const Error& error) {
  if (context.empty()) {
    std::fprintf(stderr, "error: %s\n", error.message.c_str());
  } else {
    std::fprintf(stderr, "error: %s: %s\n", context.c_str(), error.message.c_str());
  }
  return 1;
}

int report_stdout_failure(const std::string& command, int error) {
  std::fprintf(stderr, "error: %s: cannot write the output to stdout: %s\n", command.c_str(),
               error != 0 ? std::strerror(error) : "write failed");
  return 1;
}

}  // namespace llama_worker::cli
