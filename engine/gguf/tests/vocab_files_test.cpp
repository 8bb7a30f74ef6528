// The shared vocabulary files (LLAMA_WORKER_SHARED_DATA_DIR/vocab/*.gguf) read with the metadata
// their README describes, and every key, type, count and sampled value equal to what an
// independent reader (gguf-py's GGUFReader, tests/golden/make_vocab_golden.py) found in them.
// Without the data directory the binary prints "SKIPPED: ..." and exits 77.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gguf/file.hpp"

#ifndef LLAMA_WORKER_GGUF_GOLDEN
#error "LLAMA_WORKER_GGUF_GOLDEN must name tests/golden/vocab_metadata.json"
#endif

namespace llama_worker::gguf {
namespace {

std::filesystem::path vocab_dir() {
  const char* dir = std::getenv("LLAMA_WORKER_SHARED_DATA_DIR");
  return std::filesystem::path(dir ? dir : "") / "vocab";
}

File open_vocab(const std::string& name) {
  auto file = File::open((vocab_dir() / name).string());
  EXPECT_TRUE(file) << file.error().message;
  if (!file) std::abort();  // the rest of the test would only dereference an error
  return std::move(*file);
}

TEST(GgufVocabFiles, Qwen25HasTheReadmeMetadata) {
  File file = open_vocab("qwen2.5-0.5b-instruct.vocab.gguf");
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(*file.architecture(), "qwen2");
  EXPECT_TRUE(file.tensors().empty());  // weightless
  EXPECT_EQ(*file.get<std::string>("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*file.get<std::string>("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(file.get_array<std::string>("tokenizer.ggml.tokens")->size(), 151936u);
  EXPECT_EQ(file.get_array<std::string>("tokenizer.ggml.merges")->size(), 151387u);
  EXPECT_NE(file.get<std::string>("tokenizer.chat_template")->find("<|im_start|>"),
            std::string::npos);  // ChatML
  // Qwen2.5-0.5B-Instruct hyperparameters (its config.json)
  EXPECT_EQ(*file.get<uint32_t>("qwen2.block_count"), 24u);
  EXPECT_EQ(*file.get<uint32_t>("qwen2.embedding_length"), 896u);
  EXPECT_EQ(*file.get<uint32_t>("qwen2.feed_forward_length"), 4864u);
  EXPECT_EQ(*file.get<uint32_t>("qwen2.attention.head_count"), 14u);
  EXPECT_EQ(*file.get<uint32_t>("qwen2.attention.head_count_kv"), 2u);
  EXPECT_EQ(*file.get<float>("qwen2.rope.freq_base"), 1000000.0f);
}

TEST(GgufVocabFiles, Phi3MiniHasTheReadmeMetadata) {
  File file = open_vocab("phi-3-mini-4k-instruct.vocab.gguf");
  EXPECT_EQ(*file.architecture(), "phi3");
  EXPECT_EQ(*file.get<std::string>("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(file.get_array<std::string>("tokenizer.ggml.tokens")->size(), 32064u);
  EXPECT_EQ(file.get_array<float>("tokenizer.ggml.scores")->size(), 32064u);
  EXPECT_TRUE(file.has("tokenizer.chat_template"));
  EXPECT_EQ(*file.get<uint32_t>("phi3.block_count"), 32u);
  EXPECT_EQ(*file.get<uint32_t>("phi3.embedding_length"), 3072u);
  // SentencePiece byte fallback: <0x00>..<0xFF> tokens
  EXPECT_EQ(file.get_array<std::string>("tokenizer.ggml.tokens")->at(3), "<0x00>");
}

TEST(GgufVocabFiles, Gpt2AndLlamaSpmHaveTheReadmeMetadata) {
  File gpt2 = open_vocab("gpt-2.vocab.gguf");
  EXPECT_EQ(*gpt2.architecture(), "gpt2");
  EXPECT_EQ(*gpt2.get<std::string>("tokenizer.ggml.model"), "gpt2");
  EXPECT_TRUE(gpt2.has("tokenizer.ggml.merges"));
  File spm = open_vocab("llama-spm.vocab.gguf");
  EXPECT_EQ(*spm.architecture(), "llama");
  EXPECT_EQ(*spm.get<std::string>("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(spm.get_array<std::string>("tokenizer.ggml.tokens")->size(), 32000u);
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kHex[static_cast<uint8_t>(c) >> 4]);
    out.push_back(kHex[static_cast<uint8_t>(c) & 15]);
  }
  return out;
}

// An element as the golden file writes it: strings as hex, numbers as JSON numbers.
nlohmann::json element_json(const Value& value, uint64_t i) {
  switch (value.scalar_type()) {
    case ValueType::kUint8:
      return value.raw_at<uint8_t>(i);
    case ValueType::kInt8:
      return value.raw_at<int8_t>(i);
    case ValueType::kUint16:
      return value.raw_at<uint16_t>(i);
    case ValueType::kInt16:
      return value.raw_at<int16_t>(i);
    case ValueType::kUint32:
      return value.raw_at<uint32_t>(i);
    case ValueType::kInt32:
      return value.raw_at<int32_t>(i);
    case ValueType::kUint64:
      return value.raw_at<uint64_t>(i);
    case ValueType::kInt64:
      return value.raw_at<int64_t>(i);
    case ValueType::kFloat32:
      return static_cast<double>(value.raw_at<float>(i));
    case ValueType::kFloat64:
      return value.raw_at<double>(i);
    case ValueType::kBool:
      return value.raw_at<uint8_t>(i) != 0;
    case ValueType::kString:
      return hex(value.string_at(i));
    case ValueType::kArray:
      break;
  }
  return nullptr;
}

TEST(GgufVocabFiles, MatchTheGgufPyOracle) {
  std::ifstream in(LLAMA_WORKER_GGUF_GOLDEN);
  ASSERT_TRUE(in);
  const auto golden = nlohmann::json::parse(in);
  ASSERT_EQ(golden.at("format_version"), 1);
  ASSERT_GE(golden.at("files").size(), 4u);
  for (const auto& [name, expected] : golden.at("files").items()) {
    SCOPED_TRACE(name);
    File file = open_vocab(name);
    EXPECT_EQ(file.tensors().size(), expected.at("tensor_count").get<size_t>());
    const auto& entries = expected.at("metadata");
    ASSERT_EQ(file.metadata().size(), entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      const MetadataEntry& entry = file.metadata()[i];
      const auto& want = entries[i];
      SCOPED_TRACE(want.at("key").get<std::string>());
      EXPECT_EQ(std::string(entry.key), want.at("key").get<std::string>());
      EXPECT_EQ(std::string(value_type_name(entry.value.type)), want.at("type").get<std::string>());
      if (!entry.value.is_array()) {
        EXPECT_EQ(element_json(entry.value, 0), want.at("value"));
        continue;
      }
      EXPECT_EQ(std::string(value_type_name(entry.value.element_type)),
                want.at("element_type").get<std::string>());
      const uint64_t count = want.at("count").get<uint64_t>();
      ASSERT_EQ(entry.value.count, count);
      const auto& head = want.at("head");
      for (size_t k = 0; k < head.size(); ++k) EXPECT_EQ(element_json(entry.value, k), head[k]);
      const auto& tail = want.at("tail");
      for (size_t k = 0; k < tail.size(); ++k) {
        EXPECT_EQ(element_json(entry.value, count - tail.size() + k), tail[k]);
      }
    }
  }
}

}  // namespace
}  // namespace llama_worker::gguf

int main(int argc, char** argv) {
  const char* dir = std::getenv("LLAMA_WORKER_SHARED_DATA_DIR");
  if (dir == nullptr ||
      !std::filesystem::exists(std::filesystem::path(dir) / "vocab" / "qwen2.5-0.5b-instruct.vocab.gguf")) {
    std::printf("SKIPPED: shared data (vocab/*.gguf) not found; set LLAMA_WORKER_SHARED_DATA_DIR\n");
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
