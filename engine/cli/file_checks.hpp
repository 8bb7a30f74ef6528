// The checks every subcommand makes on its files before any work: an input must be a regular
// file (a FIFO would block the open forever, a directory or a device has no GGUF in it), and an
// output must be creatable before minutes of work are spent on what it would hold.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "core/status.hpp"

namespace llama_worker::cli {

// `noun` names the file in messages ("model", "vocabulary", "cases"); `holds` what it should be
// ("a GGUF file"). Missing: kNotFound; a directory or not a regular file: kInvalidArgument.
inline Status check_input_file(const std::string& path, const std::string& noun, const std::string& holds) {
  if (path.empty()) return make_error(ErrorCode::kInvalidArgument, "the " + noun + " path is empty");
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) {
    return make_error(ErrorCode::kNotFound, noun + " file '" + path + "' does not exist");
  }
  if (error)
    return make_error(ErrorCode::kIoError,
                      "cannot examine " + noun + " file '" + path + "': " + error.message());
  if (status.type() == std::filesystem::file_type::directory) {
    return make_error(ErrorCode::kInvalidArgument,
                      noun + " path '" + path + "' is a directory, not " + holds);
  }
  if (status.type() != std::filesystem::file_type::regular) {
    return make_error(ErrorCode::kInvalidArgument, noun + " path '" + path + "' is not a regular file");
  }
  return Status::ok();
}

// The same for an input whose opener reports a missing file itself (inspect, mkmodel --vocab: their
// messages and check order predate these checks): only a path that exists is checked here.
inline Status check_existing_input_file(const std::string& path, const std::string& noun,
                                        const std::string& holds) {
  std::error_code error;
  if (!path.empty() && std::filesystem::status(path, error).type() == std::filesystem::file_type::not_found) {
    return Status::ok();
  }
  return check_input_file(path, noun, holds);
}

// An output file `flag` names: it may exist as a regular file or a character device (/dev/null),
// or be creatable in an existing, writable directory. A FIFO is refused (its open would wait for
// a reader), as are directories and other special files.
inline Status check_output_file(const std::string& path, const std::string& flag) {
  if (path.empty()) return make_error(ErrorCode::kInvalidArgument, flag + " is empty: give an output file");
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  const auto type = status.type();
  if (type == std::filesystem::file_type::directory) {
    return make_error(ErrorCode::kInvalidArgument, flag + " '" + path + "' is a directory, not a file");
  }
  if (type != std::filesystem::file_type::not_found && type != std::filesystem::file_type::regular &&
      type != std::filesystem::file_type::character) {
    return make_error(ErrorCode::kInvalidArgument, flag + " '" + path + "' is not a regular file");
  }
  if (type != std::filesystem::file_type::not_found) {
    if (::access(path.c_str(), W_OK) != 0) {
      return make_error(ErrorCode::kIoError,
                        "cannot write " + flag + " '" + path + "': " + std::strerror(errno));
    }
    return Status::ok();
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!std::filesystem::is_directory(parent, error)) {
    return make_error(ErrorCode::kNotFound, "cannot write " + flag + " '" + path + "': the directory '" +
                                                parent.string() + "' does not exist");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    return make_error(ErrorCode::kIoError,
                      "cannot write " + flag + " '" + path + "': " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace llama_worker::cli
