// Quantized matmul and embedding lookup on the GPU against the CPU twins, for every weight type
// the engine computes with, at odd shapes and token counts (1 = decode, many = prefill).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "conformance_util.hpp"
#include "cpu/embedding.hpp"
#include "cpu/rmsnorm.hpp"
#include "cpu_products.hpp"
#include "cuda/embedding.cuh"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_matmul.cuh"
#include "cuda/tensor_core_matmul.cuh"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using gguf::TensorType;
using kernels::testing::DeviceBuffer;

const TensorType kTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ4_0,
                             TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ8_0,
                             TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                             TensorType::kQ6_K};

class QuantMatmulConformance : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantMatmulConformance, MatchesCpuMatmul) {
  const TensorType type = GetParam();
  const int64_t block = gguf::traits(type).block_size;
  const int64_t granule = block > 8 ? block : 8;
  struct Shape {
    int64_t in_blocks, out_features, tokens;
    bool bias, residual;
  };
  // One-token shapes take the decode kernel (quant_gemv) for its types: widths below and above
  // one unit per lane, row counts that leave a warp's second row empty.
  const Shape shapes[] = {{3, 37, 1, false, false}, {7, 129, 1, true, true},  {41, 19, 1, true, true},
                          {4, 65, 5, false, true},  {2, 33, 13, true, false}, {11, 17, 9, true, true}};
  for (const Shape& shape : shapes) {
    const int64_t in = shape.in_blocks * granule;
    int64_t row_bytes = 0;
    const auto weights = random_weights(type, shape.out_features, in, row_bytes);
    const auto x = random_floats(static_cast<size_t>(shape.tokens * in));
    const auto bias = random_floats(static_cast<size_t>(shape.out_features));
    const auto residual = random_floats(static_cast<size_t>(shape.tokens * shape.out_features));

    auto product = cpu_product({.weight = weights.data(),
                                .weight_type = type,
                                .weight_row_bytes = row_bytes,
                                .x = x.data(),
                                .tokens = shape.tokens,
                                .in_features = in,
                                .out_features = shape.out_features,
                                .bias = shape.bias ? bias.data() : nullptr,
                                .residual = shape.residual ? residual.data() : nullptr});
    ASSERT_TRUE(product);
    const std::vector<float>& expected = *product;

    DeviceBuffer<uint8_t> d_weights;
    DeviceBuffer<float> d_x, d_bias, d_y;
    ASSERT_TRUE(d_weights.upload(weights));
    ASSERT_TRUE(d_x.upload(x));
    ASSERT_TRUE(d_bias.upload(bias));
    if (shape.residual) {
      ASSERT_TRUE(d_y.upload(residual));  // residual aliases y: the fused in-place form
    } else {
      ASSERT_TRUE(d_y.allocate(expected.size()));  // poisoned
    }
    kernels::cuda::QuantMatmulParams gpu;
    gpu.y = d_y.get();
    gpu.x = d_x.get();
    gpu.weight = d_weights.get();
    gpu.weight_type = type;
    gpu.weight_row_bytes = row_bytes;
    gpu.bias = shape.bias ? d_bias.get() : nullptr;
    gpu.residual = shape.residual ? d_y.get() : nullptr;
    gpu.tokens = shape.tokens;
    gpu.in_features = in;
    gpu.out_features = shape.out_features;
    const Status status = kernels::cuda::quant_matmul(gpu, nullptr);
    ASSERT_TRUE(status) << status.message();
    auto actual = d_y.download();
    ASSERT_TRUE(actual) << actual.error().message;
    EXPECT_NMSE_BELOW(*actual, expected, 1e-10) << gguf::tensor_type_name(type) << " in " << in << " out "
                                                << shape.out_features << " tokens " << shape.tokens;
  }
}

TEST_P(QuantMatmulConformance, EmbeddingLookupIsBitExact) {
  const TensorType type = GetParam();
  const int64_t block = gguf::traits(type).block_size;
  const int64_t width = 3 * (block > 8 ? block : 8);
  const int64_t vocab = 41;
  int64_t row_bytes = 0;
  const auto table = random_weights(type, vocab, width, row_bytes);
  const std::vector<int32_t> tokens = {40, 0, 7, 7, 13};
  std::vector<float> expected(tokens.size() * static_cast<size_t>(width));
  kernels::cpu::EmbeddingParams cpu;
  cpu.out = expected.data();
  cpu.tokens = tokens.data();
  cpu.token_count = static_cast<int64_t>(tokens.size());
  cpu.table = table.data();
  cpu.table_type = type;
  cpu.table_row_bytes = row_bytes;
  cpu.vocab = vocab;
  cpu.width = width;
  ASSERT_TRUE(kernels::cpu::embedding_lookup_f32(cpu));

  DeviceBuffer<uint8_t> d_table;
  DeviceBuffer<int32_t> d_tokens, d_flag;
  DeviceBuffer<float> d_out;
  ASSERT_TRUE(d_table.upload(table));
  ASSERT_TRUE(d_tokens.upload(tokens));
  ASSERT_TRUE(d_flag.upload({0}));
  ASSERT_TRUE(d_out.allocate(expected.size()));
  kernels::cuda::EmbeddingParams gpu;
  gpu.out = d_out.get();
  gpu.tokens = d_tokens.get();
  gpu.token_count = cpu.token_count;
  gpu.table = d_table.get();
  gpu.table_type = type;
  gpu.table_row_bytes = row_bytes;
  gpu.vocab = vocab;
  gpu.width = width;
  gpu.error_flag = d_flag.get();
  ASSERT_TRUE(kernels::cuda::embedding_lookup(gpu, nullptr));
  auto actual = d_out.download();
  ASSERT_TRUE(actual);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>((*actual)[i]), std::bit_cast<uint32_t>(expected[i]))
        << gguf::tensor_type_name(type) << " element " << i;
  }
  EXPECT_EQ((*d_flag.download())[0], 0);
}

INSTANTIATE_TEST_SUITE_P(EveryComputableType, QuantMatmulConformance, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<TensorType>& type_info) {
                           return std::string(gguf::tensor_type_name(type_info.param));
                         });

// The decode kernel's fused feed-forward form, silu(W x) * (U x), against the CPU matmul of both
// matrices followed by the CPU SwiGLU.
TEST(QuantGemvConformance, FusedSwigluMatchesMatmulThenSwiglu) {
  const TensorType types[] = {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ5_0, TensorType::kQ8_0};
  for (const TensorType type : types) {
    const int64_t in = 9 * gguf::traits(type).block_size, out = 23;
    int64_t row_bytes = 0;
    const auto gate = random_weights(type, out, in, row_bytes);
    const auto up = random_weights(type, out, in, row_bytes);
    const auto x = random_floats(static_cast<size_t>(in));
    std::vector<float> gate_up_out[2];
    for (int pass = 0; pass < 2; ++pass) {
      auto product = cpu_product({.weight = pass == 0 ? gate.data() : up.data(),
                                  .weight_type = type,
                                  .weight_row_bytes = row_bytes,
                                  .x = x.data(),
                                  .in_features = in,
                                  .out_features = out});
      ASSERT_TRUE(product);
      gate_up_out[pass] = std::move(*product);
    }
    const std::vector<float> expected = cpu_swiglu(gate_up_out[0], gate_up_out[1]);

    // Both matrices in one buffer, gate rows first, as a fused gate_up tensor stores them.
    std::vector<uint8_t> both(gate);
    both.insert(both.end(), up.begin(), up.end());
    DeviceBuffer<uint8_t> d_weights;
    DeviceBuffer<float> d_x, d_y;
    ASSERT_TRUE(d_weights.upload(both));
    ASSERT_TRUE(d_x.upload(x));
    ASSERT_TRUE(d_y.allocate(expected.size()));
    kernels::cuda::QuantGemvParams gpu;
    gpu.y = d_y.get();
    gpu.x = d_x.get();
    gpu.weight = d_weights.get();
    gpu.up_weight = d_weights.get() + out * row_bytes;
    gpu.weight_type = type;
    gpu.weight_row_bytes = row_bytes;
    gpu.in_features = in;
    gpu.out_features = out;
    if (type == TensorType::kQ4_K) {
      ASSERT_EQ((out * row_bytes) % 16, 0);
    }
    const Status status = kernels::cuda::quant_gemv(gpu, nullptr);
    ASSERT_TRUE(status) << status.message();
    auto actual = d_y.download();
    ASSERT_TRUE(actual);
    EXPECT_NMSE_BELOW(*actual, expected, 1e-10) << gguf::tensor_type_name(type);
  }
}

// The decode kernel's fused forms against the unfused CPU ops: RMSNorm of x, then Q, K and V
// (three encodings, biases) in one launch, and RMSNorm then gate/up/SwiGLU.
TEST(QuantGemvConformance, FusedNormAndSegmentsMatchNormThenMatmul) {
  const int64_t in = 512;
  const float eps = 1e-6f;
  const auto x = random_floats(static_cast<size_t>(in), 3.0f);
  auto norm_weight = random_floats(static_cast<size_t>(in));
  std::vector<float> normed(static_cast<size_t>(in));
  kernels::cpu::rmsnorm_f32(normed.data(), x.data(), norm_weight.data(), 1, in, eps);
  DeviceBuffer<float> d_x, d_norm;
  ASSERT_TRUE(d_x.upload(x));
  ASSERT_TRUE(d_norm.upload(norm_weight));

  auto normed_product = [&](const std::vector<uint8_t>& weights, TensorType type, int64_t row_bytes,
                            int64_t out, const float* bias) {
    auto y = cpu_product({.weight = weights.data(),
                          .weight_type = type,
                          .weight_row_bytes = row_bytes,
                          .x = normed.data(),
                          .in_features = in,
                          .out_features = out,
                          .bias = bias});
    EXPECT_TRUE(y);
    return y ? std::move(*y) : std::vector<float>(static_cast<size_t>(out));
  };

  const TensorType types[] = {TensorType::kQ5_0, TensorType::kQ4_K, TensorType::kQ8_0};
  const int64_t outs[] = {37, 16, 9};
  std::vector<uint8_t> weights[3];
  int64_t row_bytes[3];
  std::vector<float> biases[3], expected[3];
  DeviceBuffer<uint8_t> d_weights[3];
  DeviceBuffer<float> d_bias[3], d_y[3];
  kernels::cuda::QuantGemvMultiParams multi;
  multi.x = d_x.get();
  multi.in_features = in;
  multi.norm_weight = d_norm.get();
  multi.norm_eps = eps;
  multi.count = 3;
  for (int s = 0; s < 3; ++s) {
    weights[s] = random_weights(types[s], outs[s], in, row_bytes[s]);
    biases[s] = random_floats(static_cast<size_t>(outs[s]));
    expected[s] = normed_product(weights[s], types[s], row_bytes[s], outs[s], biases[s].data());
    ASSERT_TRUE(d_weights[s].upload(weights[s]));
    ASSERT_TRUE(d_bias[s].upload(biases[s]));
    ASSERT_TRUE(d_y[s].allocate(static_cast<size_t>(outs[s])));
    multi.segments[s].y = d_y[s].get();
    multi.segments[s].weight = d_weights[s].get();
    multi.segments[s].weight_type = types[s];
    multi.segments[s].weight_row_bytes = row_bytes[s];
    multi.segments[s].bias = d_bias[s].get();
    multi.segments[s].out_features = outs[s];
  }
  Status status = kernels::cuda::quant_gemv_multi(multi, nullptr);
  ASSERT_TRUE(status) << status.message();
  for (int s = 0; s < 3; ++s) {
    EXPECT_NMSE_BELOW(*d_y[s].download(), expected[s], 1e-10)
        << "segment " << s << " " << gguf::tensor_type_name(types[s]);
  }

  // Norm + gate/up/SwiGLU, Q6_K.
  const int64_t ff = 21;
  int64_t ff_row_bytes = 0;
  const auto gate_up = random_weights(TensorType::kQ6_K, 2 * ff, in, ff_row_bytes);
  const std::vector<uint8_t> gate(gate_up.begin(), gate_up.begin() + ff * ff_row_bytes);
  const std::vector<uint8_t> up(gate_up.begin() + ff * ff_row_bytes, gate_up.end());
  const auto g = normed_product(gate, TensorType::kQ6_K, ff_row_bytes, ff, nullptr);
  const auto u = normed_product(up, TensorType::kQ6_K, ff_row_bytes, ff, nullptr);
  const std::vector<float> activated = cpu_swiglu(g, u);
  DeviceBuffer<uint8_t> d_gate_up;
  DeviceBuffer<float> d_activated;
  ASSERT_TRUE(d_gate_up.upload(gate_up));
  ASSERT_TRUE(d_activated.allocate(static_cast<size_t>(ff)));
  kernels::cuda::QuantGemvParams fused;
  fused.y = d_activated.get();
  fused.x = d_x.get();
  fused.norm_weight = d_norm.get();
  fused.norm_eps = eps;
  fused.weight = d_gate_up.get();
  fused.up_weight = d_gate_up.get() + ff * ff_row_bytes;
  fused.weight_type = TensorType::kQ6_K;
  fused.weight_row_bytes = ff_row_bytes;
  fused.in_features = in;
  fused.out_features = ff;
  status = kernels::cuda::quant_gemv(fused, nullptr);
  ASSERT_TRUE(status) << status.message();
  EXPECT_NMSE_BELOW(*d_activated.download(), activated, 1e-10);
}

// The tensor-core prefill product (weights dequantized to fp16 tiles, activations rounded to fp16,
// cuBLAS with fp32 accumulation) against the CPU matmul: budget 1e-6 for the fp16 activations,
// several weight tiles, bias, in the accumulating (residual) form and the overwriting form (y
// starts as NaN there, so an element the bias seed or the GEMM skips cannot pass).
TEST(TensorCoreMatmulConformance, MatchesCpuMatmulWithinFp16Rounding) {
  auto session = kernels::cuda::TensorCoreSession::create(nullptr);
  if (!session) GTEST_SKIP() << session.error().message;
  const TensorType types[] = {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ5_0, TensorType::kQ8_0,
                              TensorType::kF16};
  for (const TensorType type : types) {
    for (const bool accumulate : {true, false}) {
      const int64_t in = 2 * 256, out = 37, tokens = 19;
      int64_t row_bytes = 0;
      const auto weights = random_weights(type, out, in, row_bytes);
      const auto x = random_floats(static_cast<size_t>(tokens * in));
      const auto bias = random_floats(static_cast<size_t>(out));
      const auto residual = random_floats(static_cast<size_t>(tokens * out));
      auto product = cpu_product({.weight = weights.data(),
                                  .weight_type = type,
                                  .weight_row_bytes = row_bytes,
                                  .x = x.data(),
                                  .tokens = tokens,
                                  .in_features = in,
                                  .out_features = out,
                                  .bias = bias.data(),
                                  .residual = accumulate ? residual.data() : nullptr});
      ASSERT_TRUE(product);
      const std::vector<float>& expected = *product;

      DeviceBuffer<uint8_t> d_weights;
      DeviceBuffer<float> d_x, d_bias, d_y;
      DeviceBuffer<uint16_t> d_tile, d_x_half;
      ASSERT_TRUE(d_weights.upload(weights));
      ASSERT_TRUE(d_x.upload(x));
      ASSERT_TRUE(d_bias.upload(bias));
      ASSERT_TRUE(d_y.upload(accumulate ? residual : std::vector<float>(residual.size(), std::nanf(""))));
      const int64_t tile_elements = 5 * in;  // 5-row tiles: 8 GEMMs for 37 rows
      ASSERT_TRUE(d_tile.allocate(static_cast<size_t>(tile_elements)));
      ASSERT_TRUE(d_x_half.allocate(static_cast<size_t>(tokens * in)));
      kernels::cuda::TensorCoreMatmulParams gpu;
      gpu.y = d_y.get();
      gpu.x = d_x.get();
      gpu.weight = d_weights.get();
      gpu.weight_type = type;
      gpu.weight_row_bytes = row_bytes;
      gpu.bias = d_bias.get();
      gpu.accumulate = accumulate;
      gpu.tokens = tokens;
      gpu.in_features = in;
      gpu.out_features = out;
      gpu.weight_tile = reinterpret_cast<__half*>(d_tile.get());
      gpu.weight_tile_elements = tile_elements;
      gpu.x_half = reinterpret_cast<__half*>(d_x_half.get());
      const Status status = kernels::cuda::tensor_core_matmul(**session, gpu, nullptr);
      ASSERT_TRUE(status) << status.message();
      EXPECT_NMSE_BELOW(*d_y.download(), expected, 1e-6)
          << gguf::tensor_type_name(type) << (accumulate ? " accumulate" : "");
    }
  }
}

TEST(EmbeddingConformance, OutOfRangeIdSetsTheFlagAndReadsNothing) {
  int64_t row_bytes = 0;
  const auto table = random_weights(TensorType::kQ8_0, 5, 32, row_bytes);
  DeviceBuffer<uint8_t> d_table;
  DeviceBuffer<int32_t> d_tokens, d_flag;
  DeviceBuffer<float> d_out;
  ASSERT_TRUE(d_table.upload(table));
  ASSERT_TRUE(d_tokens.upload({2, 5, -1}));
  ASSERT_TRUE(d_flag.upload({0}));
  ASSERT_TRUE(d_out.allocate(3 * 32));
  kernels::cuda::EmbeddingParams gpu;
  gpu.out = d_out.get();
  gpu.tokens = d_tokens.get();
  gpu.token_count = 3;
  gpu.table = d_table.get();
  gpu.table_type = TensorType::kQ8_0;
  gpu.table_row_bytes = row_bytes;
  gpu.vocab = 5;
  gpu.width = 32;
  gpu.error_flag = d_flag.get();
  ASSERT_TRUE(kernels::cuda::embedding_lookup(gpu, nullptr));
  EXPECT_EQ((*d_flag.download())[0], 1);
}

TEST(QuantMatmulConformance, RejectsUnsupportedTypesAndBadRows) {
  kernels::cuda::QuantMatmulParams gpu;
  float dummy[8] = {};
  gpu.y = dummy;
  gpu.x = dummy;
  gpu.weight = reinterpret_cast<const uint8_t*>(dummy);
  gpu.tokens = 1;
  gpu.out_features = 1;
  gpu.weight_type = TensorType::kIQ2_XXS;
  gpu.in_features = 256;
  gpu.weight_row_bytes = 66;
  Status status = kernels::cuda::quant_matmul(gpu, nullptr);
  EXPECT_EQ(status.code(), ErrorCode::kUnsupported);
  EXPECT_NE(status.message().find("IQ2_XXS"), std::string::npos) << status.message();
  gpu.weight_type = TensorType::kQ4_K;
  gpu.in_features = 896;  // not a multiple of 256
  gpu.weight_row_bytes = 504;
  EXPECT_FALSE(kernels::cuda::quant_matmul(gpu, nullptr));
}

}  // namespace
}  // namespace llama_worker::conformance
