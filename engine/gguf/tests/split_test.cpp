// Split models (llama.cpp gguf-split layout): NAME-00001-of-0000N.gguf, each part with split.no
// (u16, 0-based) and split.count (u16); part 0 holds the metadata and split.tensors.count (i32).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "gguf/writer.hpp"

namespace llama_worker::gguf {
namespace {

class GgufSplit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gguf_split_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string part_path(int number, int count) const {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05d-of-%05d.gguf", number, count);
    return (dir_ / name).string();
  }

  // Writes `count` parts; part i holds tensors "t<i>.a" and "t<i>.b" (F32, 4 elements each).
  void write_parts(int count, int tensors_count_override = -1, int bad_no_part = -1) {
    for (int i = 0; i < count; ++i) {
      Writer writer;
      if (i == 0) {
        writer.set("general.architecture", std::string("llama"));
        writer.set("llama.block_count", uint32_t{2});
      }
      writer.set("split.no", static_cast<uint16_t>(i == bad_no_part ? i + 1 : i));
      writer.set("split.count", static_cast<uint16_t>(count));
      writer.set("split.tensors.count",
                 int32_t{tensors_count_override >= 0 ? tensors_count_override : 2 * count});
      for (const char* suffix : {"a", "b"}) {
        std::vector<uint8_t> bytes(16, static_cast<uint8_t>(i));
        std::string name = "t";  // built step by step: GCC 12 warns falsely (-Wrestrict) on "a" + b + "c"
        name += std::to_string(i);
        name += '.';
        name += suffix;
        writer.add_tensor(name, TensorType::kF32, {4}, bytes);
      }
      ASSERT_TRUE(writer.write(part_path(i + 1, count)));
    }
  }

  std::filesystem::path dir_;
};

TEST_F(GgufSplit, ReadsAllPartsAsOneModelFromAnyPart) {
  write_parts(3);
  for (int start = 1; start <= 3; ++start) {
    auto file = File::open(part_path(start, 3));
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_EQ(file->split_count(), 3u);
    EXPECT_EQ(file->path(), part_path(1, 3));
    EXPECT_EQ(*file->architecture(), "llama");  // metadata from part 0
    ASSERT_EQ(file->tensors().size(), 6u);
    const TensorInfo* t2 = file->find_tensor("t2.b");
    ASSERT_NE(t2, nullptr);
    EXPECT_EQ(t2->split, 2u);
    EXPECT_EQ(t2->data[15], 2);
    EXPECT_EQ(file->find_tensor("t0.a")->split, 0u);
  }
}

TEST_F(GgufSplit, OpenSingleReadsOnlyThatPart) {
  write_parts(2);
  auto file = File::open_single(part_path(2, 2));
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->split_count(), 1u);
}

TEST_F(GgufSplit, MissingPartIsAnError) {
  write_parts(3);
  std::filesystem::remove(part_path(2, 3));
  auto file = File::open(part_path(1, 3));
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("model-00002-of-00003.gguf: cannot open"), std::string::npos)
      << file.error().message;
}

TEST_F(GgufSplit, WrongSplitNumberIsAnError) {
  write_parts(3, -1, /*bad_no_part=*/1);
  auto file = File::open(part_path(1, 3));
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("has split.no 2"), std::string::npos) << file.error().message;
}

TEST_F(GgufSplit, TensorCountMismatchIsAnError) {
  write_parts(2, /*tensors_count_override=*/5);
  auto file = File::open(part_path(1, 2));
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("split.tensors.count is 5 but the parts hold 4"), std::string::npos)
      << file.error().message;
}

TEST_F(GgufSplit, DuplicateTensorAcrossPartsIsAnError) {
  for (int i = 0; i < 2; ++i) {
    Writer writer;
    writer.set("split.no", static_cast<uint16_t>(i));
    writer.set("split.count", uint16_t{2});
    writer.add_tensor("same", TensorType::kF32, {1}, std::vector<uint8_t>(4));
    ASSERT_TRUE(writer.write(part_path(i + 1, 2)));
  }
  auto file = File::open(part_path(1, 2));
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("tensor 'same' also appears in an earlier split part"),
            std::string::npos)
      << file.error().message;
}

TEST_F(GgufSplit, SplitCountWithoutSplitNameIsAnError) {
  Writer writer;
  writer.set("split.no", uint16_t{0});
  writer.set("split.count", uint16_t{2});
  const std::string path = (dir_ / "model.gguf").string();
  ASSERT_TRUE(writer.write(path));
  auto file = File::open(path);
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("does not end in -KKKKK-of-NNNNN.gguf"), std::string::npos);
}

}  // namespace
}  // namespace llama_worker::gguf
