// Writes the GGUF fuzz seed corpus with gguf::Writer: small valid files that between them hold
// every metadata value type (scalar and array, empty arrays too), every ggml tensor type, 1- to
// 4-dimensional shapes, several alignments, a v2 file, split-part metadata and a synthetic
// Llama-style model; plus, for each *.gguf in the vocabulary directory, a reduced copy with all
// its keys and types but arrays cut to 16 elements (the full files are MBs: too slow to mutate).
//
//   make_gguf_seeds OUT_DIR [VOCAB_DIR]
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "gguf/testing/raw_gguf.hpp"
#include "gguf/writer.hpp"

namespace {

using namespace llama_worker::gguf;

std::minstd_rand g_rng(20261126);

std::vector<uint8_t> random_bytes(size_t count) {
  std::vector<uint8_t> bytes(count);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(g_rng());
  return bytes;
}

bool save(const std::filesystem::path& dir, const std::string& name, const Writer& writer) {
  const auto status = writer.write((dir / (name + ".gguf")).string());
  if (!status) std::fprintf(stderr, "error: %s: %s\n", name.c_str(), status.message().c_str());
  return status.is_ok();
}

void add_tensor(Writer& writer, const std::string& name, TensorType type, std::vector<int64_t> shape) {
  uint64_t size = *row_bytes(type, shape[0]);
  for (size_t d = 1; d < shape.size(); ++d) size *= static_cast<uint64_t>(shape[d]);
  writer.add_tensor(name, type, std::move(shape), random_bytes(size));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_gguf_seeds OUT_DIR [VOCAB_DIR]\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  bool ok = true;

  {  // every scalar type, one file each, and all together
    Writer all;
    const auto scalars = [&](Writer& w) {
      w.set("u8", uint8_t{200});
      w.set("i8", int8_t{-100});
      w.set("u16", uint16_t{60000});
      w.set("i16", int16_t{-30000});
      w.set("u32", uint32_t{4000000000u});
      w.set("i32", int32_t{-2000000000});
      w.set("f32", 3.25f);
      w.set("bool", true);
      w.set("str", std::string("hello \xe4\xb8\x96\xe7\x95\x8c"));
      w.set("u64", uint64_t{18000000000000000000ull});
      w.set("i64", int64_t{-9000000000000000000ll});
      w.set("f64", 2.5e300);
    };
    scalars(all);
    ok &= save(out, "scalars-all", all);
  }
  {  // arrays of every element type, and empty arrays
    Writer arrays;
    arrays.set("a.u8", std::vector<uint8_t>{1, 2, 3});
    arrays.set("a.i8", std::vector<int8_t>{-1, 0, 1});
    arrays.set("a.u16", std::vector<uint16_t>{1, 65535});
    arrays.set("a.i16", std::vector<int16_t>{-32768, 32767});
    arrays.set("a.u32", std::vector<uint32_t>{0, 1, 4294967295u});
    arrays.set("a.i32", std::vector<int32_t>{-5, 5});
    arrays.set("a.f32", std::vector<float>{0.5f, -0.0f, 1e30f});
    arrays.set("a.bool", std::vector<bool>{true, false, true});
    arrays.set("a.str", std::vector<std::string>{"a", "", "ccc", std::string("\0x", 2)});
    arrays.set("a.u64", std::vector<uint64_t>{1, 2});
    arrays.set("a.i64", std::vector<int64_t>{-1, 1});
    arrays.set("a.f64", std::vector<double>{1.0, -2.0});
    arrays.set("empty.u32", std::vector<uint32_t>{});
    arrays.set("empty.str", std::vector<std::string>{});
    ok &= save(out, "arrays-all", arrays);
  }
  {  // one tensor of every ggml type, one block (or one element) wide, two rows
    for (uint32_t raw = 0; raw < 64; ++raw) {
      const auto traits = tensor_type_traits(raw);
      if (!traits) continue;
      Writer writer;
      writer.set("general.architecture", std::string("llama"));
      add_tensor(writer, "t." + std::string(traits->name), traits->type, {traits->block_size, 2});
      ok &= save(out, "tensor-" + std::string(traits->name), writer);
    }
  }
  {  // shapes of 1 to 4 dimensions, several tensors, several alignments
    for (uint32_t alignment : {1u, 8u, 32u, 64u, 256u}) {
      Writer writer;
      writer.set_alignment(alignment);
      add_tensor(writer, "d1", TensorType::kF32, {3});
      add_tensor(writer, "d2", TensorType::kF16, {5, 3});
      add_tensor(writer, "d3", TensorType::kQ4_0, {32, 2, 2});
      add_tensor(writer, "d4", TensorType::kQ4_K, {256, 1, 2, 2});
      ok &= save(out, "shapes-align" + std::to_string(alignment), writer);
    }
  }
  {  // version 2
    Writer writer;
    writer.set_version(2);
    writer.set("general.architecture", std::string("qwen2"));
    add_tensor(writer, "x", TensorType::kF32, {4});
    ok &= save(out, "version2", writer);
  }
  {  // split-part metadata (read alone by from_bytes, the way the fuzzers see it)
    Writer writer;
    writer.set("split.no", uint16_t{0});
    writer.set("split.count", uint16_t{2});
    writer.set("split.tensors.count", int32_t{2});
    add_tensor(writer, "a", TensorType::kF32, {8});
    ok &= save(out, "split-part", writer);
  }
  {  // a tiny Llama-style model: hyperparameters, tokenizer, and the usual tensor names
    Writer writer;
    writer.set("general.architecture", std::string("llama"));
    writer.set("general.name", std::string("seed"));
    writer.set("llama.block_count", uint32_t{1});
    writer.set("llama.context_length", uint32_t{128});
    writer.set("llama.embedding_length", uint32_t{32});
    writer.set("llama.feed_forward_length", uint32_t{64});
    writer.set("llama.attention.head_count", uint32_t{4});
    writer.set("llama.attention.head_count_kv", uint32_t{2});
    writer.set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    writer.set("llama.rope.freq_base", 10000.0f);
    writer.set("tokenizer.ggml.model", std::string("llama"));
    writer.set("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>", "</s>", "a", "b"});
    writer.set("tokenizer.ggml.scores", std::vector<float>{0, 0, 0, -1, -2});
    writer.set("tokenizer.ggml.token_type", std::vector<int32_t>{2, 3, 3, 1, 1});
    writer.set("tokenizer.ggml.merges", std::vector<std::string>{"a b"});
    writer.set("tokenizer.ggml.bos_token_id", uint32_t{1});
    writer.set("tokenizer.ggml.add_bos_token", true);
    add_tensor(writer, "token_embd.weight", TensorType::kQ8_0, {32, 5});
    add_tensor(writer, "blk.0.attn_norm.weight", TensorType::kF32, {32});
    add_tensor(writer, "blk.0.attn_q.weight", TensorType::kQ4_0, {32, 32});
    add_tensor(writer, "blk.0.ffn_up.weight", TensorType::kQ6_K, {256, 2});
    add_tensor(writer, "output_norm.weight", TensorType::kF32, {32});
    ok &= save(out, "llama-tiny", writer);
  }
  if (argc > 2 && std::filesystem::is_directory(argv[2])) {
    for (const auto& entry : std::filesystem::directory_iterator(argv[2])) {
      if (entry.path().extension() != ".gguf") continue;
      auto file = File::open_single(entry.path().string());
      if (!file) {
        std::fprintf(stderr, "error: %s\n", file.error().message.c_str());
        ok = false;
        continue;
      }
      ok &= save(out, "reduced-" + entry.path().stem().string(),
                 llama_worker::gguf::testing::to_writer(*file, 16));
    }
  }
  return ok ? 0 : 1;
}
