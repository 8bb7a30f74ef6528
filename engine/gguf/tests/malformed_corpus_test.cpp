// The committed malformed corpus (engine/gguf/tests/malformed/, at least 40 files, one per
// check): every file is rejected -- never accepted, never a crash -- with the message listed in
// expected.tsv, naming the file; and the committed bytes are exactly what malformed_cases()
// builds today (regenerate with make_gguf_malformed_corpus when a case changes).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include "gguf/file.hpp"
#include "malformed_cases.hpp"

#ifndef LLAMA_WORKER_GGUF_MALFORMED_DIR
#error "LLAMA_WORKER_GGUF_MALFORMED_DIR must name engine/gguf/tests/malformed"
#endif

namespace llama_worker::gguf {
namespace {

const std::filesystem::path kDir = LLAMA_WORKER_GGUF_MALFORMED_DIR;

std::map<std::string, std::string> read_expected() {
  std::map<std::string, std::string> expected;
  std::ifstream in(kDir / "expected.tsv");
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    if (tab != std::string::npos) expected[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return expected;
}

TEST(GgufMalformedCorpus, BaseFileIsValid) {
  const auto bytes = testing::valid_base().serialize();
  auto file = File::from_bytes(bytes, "base.gguf");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->tensors().size(), 2u);
}

TEST(GgufMalformedCorpus, EveryFileIsRejectedWithItsExpectedMessage) {
  const auto expected = read_expected();
  ASSERT_GE(expected.size(), 40u) << "the corpus must hold at least 40 malformed files";
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    if (entry.path().extension() != ".gguf") continue;
    const std::string name = entry.path().filename().string();
    seen.insert(name);
    ASSERT_TRUE(expected.count(name)) << name << " has no line in expected.tsv";
    auto file = File::open(entry.path().string());
    ASSERT_FALSE(file) << name << " was accepted";
    const std::string& message = file.error().message;
    EXPECT_EQ(message.rfind(entry.path().string(), 0), 0u)
        << name << ": message does not start with the path: " << message;
    EXPECT_NE(message.find(expected.at(name)), std::string::npos)
        << name << ": expected '" << expected.at(name) << "' in: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << name << ": message is not one line";
  }
  EXPECT_EQ(seen.size(), expected.size()) << "expected.tsv lists files that are missing";
}

TEST(GgufMalformedCorpus, CommittedFilesMatchTheCases) {
  const auto expected = read_expected();
  for (const auto& entry : testing::malformed_cases()) {
    const auto path = kDir / (entry.name + ".gguf");
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " is missing: run make_gguf_malformed_corpus " << kDir;
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, entry.bytes) << path << " differs from its case: regenerate the corpus";
    ASSERT_TRUE(expected.count(entry.name + ".gguf"));
    EXPECT_EQ(expected.at(entry.name + ".gguf"), entry.expected);
    // The in-memory path gives the same verdict as the mmap path.
    auto file = File::from_bytes(entry.bytes, entry.name);
    ASSERT_FALSE(file) << entry.name;
    EXPECT_NE(file.error().message.find(entry.expected), std::string::npos) << file.error().message;
  }
}

}  // namespace
}  // namespace llama_worker::gguf
