// Gate 3: no architecture-specific branch outside the adapter. Every difference between llama,
// qwen2 and phi3 lives in ONE table (engine/model/architecture.cpp, read through
// LlamaInferenceAdapter); nothing else in the engine, the kernels or the C API may name an
// architecture. This test reads every source file under engine/ and kernels/ (tests, test
// helpers and the synthetic-model generator excluded: they build models of each architecture on
// purpose) and fails on
//   - a string literal "llama", "qwen2" or "phi3" (or "phi-3"),
//   - a comparison with an architecture name: `architecture ==` / `architecture() ==` / `.compare(`
//     on it, or a switch/if over general.architecture,
// outside the allowed list below, each with its reason. The behavioural half of the gate is
// gate3_capi_architectures_*: both models run through the same C API calls.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gates_common.hpp"

namespace llama_worker::gates {
namespace {

struct Allowed {
  const char* path;  // relative to the repository root; a folder ends with '/'
  const char* reason;
};

const Allowed kAllowed[] = {
    {"engine/model/architecture.cpp", "the architecture table itself"},
    {"engine/tokenizer/",
     "tokenizer.ggml.model is \"llama\" (SentencePiece) or \"gpt2\" and tokenizer.ggml.pre names a "
     "pre-tokenizer "
     "(\"qwen2\"): tokenizer kinds, not general.architecture; vocabulary_from_gguf restores Phi-3's add_bos "
     "quirk from "
     "the vocabulary's own general.name, as llama.cpp does"},
    {"engine/model/synthetic/", "the synthetic-model generator writes models of each architecture"},
    {"engine/model/testing/", "tiny test models of each architecture"},
};

bool allowed(const std::string& relative) {
  for (const Allowed& entry : kAllowed) {
    const std::string path = entry.path;
    if (path.back() == '/' ? relative.starts_with(path) : relative == path) return true;
  }
  return false;
}

TEST(Gate3ArchitectureBranches, OnlyTheArchitectureTableNamesAnArchitecture) {
  const std::filesystem::path root = env("LLAMA_WORKER_SOURCE_DIR");
  ASSERT_TRUE(std::filesystem::exists(root / "engine/model/architecture.cpp")) << root;
  const std::regex name_literal(R"re("(llama|qwen2|phi3|phi-3|Phi3|Qwen2)")re");
  const std::regex comparison(
      R"re(architecture(\(\))?\s*[!=]=|[!=]=\s*[a-z_.>-]*architecture\b|architecture(\(\))?\s*\.compare\()re");
  std::vector<std::string> findings;
  size_t files = 0;
  for (const char* top : {"engine", "kernels"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / top)) {
      if (!entry.is_regular_file()) continue;
      const std::string extension = entry.path().extension().string();
      if (extension != ".cpp" && extension != ".hpp" && extension != ".cu" && extension != ".cuh" &&
          extension != ".h" && extension != ".c") {
        continue;
      }
      const std::string relative = std::filesystem::relative(entry.path(), root).string();
      if (relative.find("/tests/") != std::string::npos || relative.find("/testing/") != std::string::npos)
        continue;
      ++files;
      if (allowed(relative)) continue;
      std::istringstream lines(read_file(entry.path().string()).value_or(""));
      std::string line;
      for (int number = 1; std::getline(lines, line); ++number) {
        const size_t comment = line.find("//");
        const std::string code = comment == std::string::npos ? line : line.substr(0, comment);
        if (std::regex_search(code, name_literal) || std::regex_search(code, comparison)) {
          findings.push_back(relative + ":" + std::to_string(number) + ": " + line);
        }
      }
    }
  }
  std::printf("%zu source files checked\n", files);
  EXPECT_GT(files, 50u);
  std::string report;
  for (const std::string& finding : findings) report += "\n  " + finding;
  EXPECT_TRUE(findings.empty())
      << "architecture-specific code outside engine/model/architecture.cpp (move it into the "
         "traits table):"
      << report;
}

// The check must be able to fail: it finds the table's own entries when not allowed.
TEST(Gate3ArchitectureBranches, TheCheckSeesTheTablesOwnEntries) {
  const std::filesystem::path root = env("LLAMA_WORKER_SOURCE_DIR");
  const std::string table = read_file((root / "engine/model/architecture.cpp").string()).value_or("");
  const std::regex name_literal(R"re("(llama|qwen2|phi3)")re");
  const auto begin = std::sregex_iterator(table.begin(), table.end(), name_literal);
  EXPECT_GE(std::distance(begin, std::sregex_iterator()), 3);
}

}  // namespace
}  // namespace llama_worker::gates
