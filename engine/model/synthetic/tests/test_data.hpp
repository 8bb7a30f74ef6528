// Where the shared vocabulary files are; a test that needs them and finds none prints
// "SKIPPED: <reason>" and exits 77 (CTest reports it as skipped).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace llama_worker::synthetic::testing {

inline std::string vocabulary_path(const std::string& file) {
  const char* dir = std::getenv("LLAMA_WORKER_SHARED_DATA_DIR");
  const std::string path = std::string(dir != nullptr ? dir : "") + "/vocab/" + file;
  if (dir == nullptr || *dir == '\0' || !std::filesystem::exists(path)) {
    std::printf("SKIPPED: shared vocabulary file %s not found (LLAMA_WORKER_SHARED_DATA_DIR)\n",
                file.c_str());
    std::fflush(stdout);
    std::exit(77);
  }
  return path;
}

}  // namespace llama_worker::synthetic::testing
