// Reader behaviour on valid files: typed access and its errors, tensors, alignment, versions,
// mmap from disk, and the header checks (v1, unknown version, byte-swapped). Files are built
// with the Writer (valid) or testing::RawGguf (byte-exact, for what the Writer refuses).
#include "gguf/file.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/testing/raw_gguf.hpp"
#include "gguf/value_format.hpp"
#include "gguf/writer.hpp"

namespace llama_worker::gguf {
namespace {

using testing::RawGguf;

std::vector<uint8_t> bytes_of(const Writer& writer) {
  auto bytes = writer.to_bytes();
  EXPECT_TRUE(bytes) << bytes.error().message;
  return bytes ? *bytes : std::vector<uint8_t>{};
}

Writer all_types_writer() {
  Writer writer;
  writer.set("general.architecture", std::string("qwen2"));
  writer.set("qwen2.block_count", uint32_t{24});
  writer.set("u8", uint8_t{200});
  writer.set("i8", int8_t{-100});
  writer.set("u16", uint16_t{60000});
  writer.set("i16", int16_t{-30000});
  writer.set("i32", int32_t{-7});
  writer.set("u64", uint64_t{1} << 40);
  writer.set("i64", int64_t{-5});
  writer.set("f32", 0.25f);
  writer.set("f64", 1e300);
  writer.set("flag", true);
  writer.set("tokens", std::vector<std::string>{"a", "bc", ""});
  writer.set("scores", std::vector<float>{1.5f, -2.0f});
  writer.set("ids", std::vector<int32_t>{1, -1, 7});
  writer.set("big", std::vector<uint64_t>{1, uint64_t{1} << 63});
  return writer;
}

TEST(GgufFile, ReadsEveryScalarTypeWithItsOwnType) {
  const auto bytes = bytes_of(all_types_writer());
  auto file = File::from_bytes(bytes, "mem.gguf");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(*file->architecture(), "qwen2");
  EXPECT_EQ(*file->get<uint32_t>("qwen2.block_count"), 24u);
  EXPECT_EQ(*file->get<uint8_t>("u8"), 200);
  EXPECT_EQ(*file->get<int8_t>("i8"), -100);
  EXPECT_EQ(*file->get<uint16_t>("u16"), 60000);
  EXPECT_EQ(*file->get<int16_t>("i16"), -30000);
  EXPECT_EQ(*file->get<int32_t>("i32"), -7);
  EXPECT_EQ(*file->get<uint64_t>("u64"), uint64_t{1} << 40);
  EXPECT_EQ(*file->get<int64_t>("i64"), -5);
  EXPECT_EQ(*file->get<float>("f32"), 0.25f);
  EXPECT_EQ(*file->get<double>("f64"), 1e300);
  EXPECT_EQ(*file->get<bool>("flag"), true);
  EXPECT_EQ(file->metadata().size(), 16u);
  EXPECT_EQ(file->metadata()[3].key, "i8");  // file order
  EXPECT_TRUE(file->has("flag"));
  EXPECT_FALSE(file->has("flag2"));
}

TEST(GgufFile, ReadsArraysOfEachKind) {
  const auto bytes = bytes_of(all_types_writer());
  auto file = File::from_bytes(bytes, "mem.gguf");
  ASSERT_TRUE(file);
  EXPECT_EQ(*file->get_array<std::string>("tokens"), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(*file->get_array<float>("scores"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(*file->get_array<int32_t>("ids"), (std::vector<int32_t>{1, -1, 7}));
  EXPECT_EQ(*file->get_array<double>("scores"), (std::vector<double>{1.5, -2.0}));
  const Value* tokens = file->find("tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->count, 3u);
  EXPECT_EQ(tokens->element_type, ValueType::kString);
  EXPECT_EQ(tokens->string_at(1), "bc");
  EXPECT_EQ(format_value(*tokens, {2, 80}), "[\"a\", \"bc\", ... (1 more)]");
}

TEST(GgufFile, IntegerAccessConvertsOnlyWhenTheValueFits) {
  const auto bytes = bytes_of(all_types_writer());
  auto file = File::from_bytes(bytes, "mem.gguf");
  ASSERT_TRUE(file);
  EXPECT_EQ(*file->get<int64_t>("qwen2.block_count"), 24);  // u32 read as i64
  EXPECT_EQ(*file->get<uint8_t>("qwen2.block_count"), 24);  // fits
  auto negative = file->get<uint32_t>("i32");               // -7 does not fit u32
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(negative.error().message.find("holds -7 (i32), which does not fit u32"), std::string::npos)
      << negative.error().message;
  auto too_big = file->get_array<int64_t>("big");  // 2^63 does not fit i64
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("element 1"), std::string::npos) << too_big.error().message;
  EXPECT_FALSE(file->get<uint8_t>("u16"));  // 60000 does not fit u8
}

TEST(GgufFile, MissingKeyAndWrongTypeAreReportedClearly) {
  const auto bytes = bytes_of(all_types_writer());
  auto file = File::from_bytes(bytes, "mem.gguf");
  ASSERT_TRUE(file);
  auto missing = file->get<uint32_t>("llama.block_count");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "mem.gguf: metadata key 'llama.block_count' is missing");
  auto wrong = file->get<std::string>("qwen2.block_count");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(wrong.error().message, "mem.gguf: metadata key 'qwen2.block_count' is u32, not str");
  auto array_as_scalar = file->get<float>("scores");
  ASSERT_FALSE(array_as_scalar);
  EXPECT_EQ(array_as_scalar.error().message, "mem.gguf: metadata key 'scores' is arr[f32], not f32");
  auto scalar_as_array = file->get_array<uint32_t>("qwen2.block_count");
  ASSERT_FALSE(scalar_as_array);
  EXPECT_EQ(scalar_as_array.error().message,
            "mem.gguf: metadata key 'qwen2.block_count' is u32, not an array of u32");
  EXPECT_FALSE(file->get<float>("f64"));     // no narrowing of doubles
  EXPECT_FALSE(file->get<bool>("u8"));       // bool needs bool
  EXPECT_FALSE(file->get<uint32_t>("f32"));  // no float to int
  EXPECT_FALSE(file->get_array<std::string>("ids"));
}

TEST(GgufFile, TensorsAreFoundByNameWithDataInsideTheFile) {
  Writer writer;
  writer.set("general.architecture", std::string("llama"));
  std::vector<uint8_t> f32(4 * 6);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<uint8_t>(i);
  writer.add_tensor("a", TensorType::kF32, {4, 1, 1}, std::vector<uint8_t>(16));
  writer.add_tensor("b", TensorType::kQ4_K, {256, 3}, std::vector<uint8_t>(144 * 3, 7));
  writer.add_tensor("c", TensorType::kF32, {6}, f32);
  const auto bytes = bytes_of(writer);
  auto file = File::from_bytes(bytes, "t.gguf");
  ASSERT_TRUE(file) << file.error().message;
  ASSERT_EQ(file->tensors().size(), 3u);
  const TensorInfo* b = file->find_tensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, TensorType::kQ4_K);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{256, 3}));
  EXPECT_EQ(b->element_count(), 768);
  EXPECT_EQ(b->byte_size, 432u);
  EXPECT_EQ(b->offset % 32, 0u);
  EXPECT_EQ(b->data[0], 7);
  const TensorInfo* c = file->find_tensor("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->data, bytes.data() + file->data_offset() + c->offset);  // a view, not a copy
  EXPECT_EQ(c->data[23], 23);
  EXPECT_EQ(file->find_tensor("d"), nullptr);
  EXPECT_EQ(file->data_offset() % 32, 0u);
}

TEST(GgufFile, HonoursGeneralAlignment) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    Writer writer;
    writer.set_alignment(alignment);
    writer.add_tensor("x", TensorType::kF16, {3}, std::vector<uint8_t>(6, 1));
    writer.add_tensor("y", TensorType::kF16, {5}, std::vector<uint8_t>(10, 2));
    const auto bytes = bytes_of(writer);
    auto file = File::from_bytes(bytes, "a.gguf");
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_EQ(file->alignment(), alignment);
    EXPECT_EQ(*file->get<uint32_t>("general.alignment"), alignment);
    EXPECT_EQ(file->data_offset() % alignment, 0u);
    EXPECT_EQ(file->find_tensor("y")->offset % alignment, 0u);
    EXPECT_EQ(file->find_tensor("y")->data[9], 2);
  }
}

TEST(GgufFile, ReadsVersion2) {
  Writer writer;
  writer.set_version(2);
  writer.set("general.architecture", std::string("llama"));
  writer.add_tensor("x", TensorType::kQ8_0, {32}, std::vector<uint8_t>(34));
  const auto bytes = bytes_of(writer);
  auto file = File::from_bytes(bytes, "v2.gguf");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->version(), 2u);
}

TEST(GgufFile, RejectsVersion1UnknownVersionsAndByteSwappedFiles) {
  RawGguf raw;
  raw.version = 1;
  auto v1 = File::from_bytes(raw.serialize(), "v1.gguf");
  ASSERT_FALSE(v1);
  EXPECT_EQ(v1.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(v1.error().message.find("GGUF version 1 is not supported"), std::string::npos);
  raw.version = 4;
  auto v4 = File::from_bytes(raw.serialize(), "v4.gguf");
  ASSERT_FALSE(v4);
  EXPECT_NE(v4.error().message.find("unknown GGUF version 4"), std::string::npos);
  raw.version = 0x03000000;  // version 3 written big-endian
  auto swapped = File::from_bytes(raw.serialize(), "be.gguf");
  ASSERT_FALSE(swapped);
  EXPECT_NE(swapped.error().message.find("byte-swapped (big-endian)"), std::string::npos)
      << swapped.error().message;
}

TEST(GgufFile, OpensFromDiskWithMmap) {
  const auto path = (std::filesystem::temp_directory_path() / "gguf_file_test_disk.gguf").string();
  Writer writer = all_types_writer();
  writer.add_tensor("w", TensorType::kF32, {2}, std::vector<uint8_t>(8, 3));
  ASSERT_TRUE(writer.write(path));
  auto file = File::open(path);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->split_count(), 1u);
  EXPECT_EQ(*file->get<uint32_t>("qwen2.block_count"), 24u);
  EXPECT_EQ(file->find_tensor("w")->data[7], 3);
  File moved = std::move(*file);  // views stay valid: the mapping does not move
  EXPECT_EQ(moved.find_tensor("w")->data[7], 3);
  EXPECT_EQ(*moved.get_array<std::string>("tokens"), (std::vector<std::string>{"a", "bc", ""}));
  std::filesystem::remove(path);
}

TEST(GgufFile, MissingFileAndDirectoryAreErrorsNotCrashes) {
  auto missing = File::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("/nonexistent/dir/model.gguf: cannot open"), std::string::npos);
  auto directory = File::open(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().message.find("not a regular file"), std::string::npos);
  const auto empty = (std::filesystem::temp_directory_path() / "gguf_file_test_empty.gguf").string();
  std::fclose(std::fopen(empty.c_str(), "wb"));
  auto empty_file = File::open(empty);
  ASSERT_FALSE(empty_file);
  EXPECT_NE(empty_file.error().message.find("file is 0 bytes"), std::string::npos);
  std::filesystem::remove(empty);
}

TEST(GgufWriter, ReportsInvalidInputAtToBytes) {
  {
    Writer writer;
    writer.set_alignment(48);
    EXPECT_FALSE(writer.to_bytes());
  }
  {
    Writer writer;
    writer.add_tensor("x", TensorType::kF32, {4}, std::vector<uint8_t>(15));
    auto bytes = writer.to_bytes();
    ASSERT_FALSE(bytes);
    EXPECT_NE(bytes.error().message.find("has 15 bytes, its shape needs 16"), std::string::npos);
  }
  {
    Writer writer;
    writer.add_tensor("x", TensorType::kF32, {1}, std::vector<uint8_t>(4));
    writer.add_tensor("x", TensorType::kF32, {1}, std::vector<uint8_t>(4));
    EXPECT_FALSE(writer.to_bytes());
  }
  {
    Writer writer;
    writer.add_tensor("x", TensorType::kQ4_0, {31}, std::vector<uint8_t>(18));  // not whole blocks
    EXPECT_FALSE(writer.to_bytes());
  }
  {
    Writer writer;
    writer.add_tensor(std::string(64, 'n'), TensorType::kF32, {1}, std::vector<uint8_t>(4));
    EXPECT_FALSE(writer.to_bytes());
  }
  {
    Writer writer;
    writer.set("general.alignment", int32_t{32});  // must be u32
    EXPECT_FALSE(writer.to_bytes());
  }
}

TEST(GgufWriter, SettingAKeyAgainReplacesItInPlace) {
  Writer writer;
  writer.set("a", uint32_t{1});
  writer.set("b", std::string("x"));
  writer.set("a", std::string("now a string"));
  const auto bytes = bytes_of(writer);
  auto file = File::from_bytes(bytes, "w.gguf");
  ASSERT_TRUE(file);
  ASSERT_EQ(file->metadata().size(), 2u);
  EXPECT_EQ(file->metadata()[0].key, "a");
  EXPECT_EQ(*file->get<std::string>("a"), "now a string");
}

}  // namespace
}  // namespace llama_worker::gguf
