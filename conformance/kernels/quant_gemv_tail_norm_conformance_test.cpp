// The decode product's output-norm tail (QuantGemvParams::norm_out): the last block to finish
// normalises the whole output. Checked against the unfused pair (the same product, then
// rmsnorm_f32) for the same bits, and against the CPU twins within the usual budget.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "conformance_util.hpp"
#include "cpu/rmsnorm.hpp"
#include "cpu_products.hpp"
#include "cuda/quant_gemv.cuh"
#include "cuda/rmsnorm.cuh"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using gguf::TensorType;
using kernels::testing::DeviceBuffer;

void check_tail_norm(TensorType type, int64_t out, bool norm_over_input) {
  const int64_t in = 9 * gguf::traits(type).block_size;
  const std::string label = std::string(gguf::tensor_type_name(type)) + " out " + std::to_string(out) +
                            (norm_over_input ? " (norm written over the input)" : "");
  int64_t row_bytes = 0;
  const auto weights = random_weights(type, out, in, row_bytes);
  const auto x = random_floats(static_cast<size_t>(in));
  const auto residual = random_floats(static_cast<size_t>(out));
  const auto norm_weight = random_floats(static_cast<size_t>(out));
  const float eps = 1e-6f;

  auto product = cpu_product({.weight = weights.data(),
                              .weight_type = type,
                              .weight_row_bytes = row_bytes,
                              .x = x.data(),
                              .in_features = in,
                              .out_features = out});
  ASSERT_TRUE(product);
  std::vector<float> expected_y(*product);
  for (size_t i = 0; i < expected_y.size(); ++i) expected_y[i] += residual[i];
  std::vector<float> expected_norm(expected_y.size());
  kernels::cpu::rmsnorm_f32(expected_norm.data(), expected_y.data(), norm_weight.data(), 1, out, eps);

  DeviceBuffer<uint8_t> d_weights;
  DeviceBuffer<float> d_x, d_y, d_norm_weight, d_norm;
  DeviceBuffer<unsigned> d_counter;
  ASSERT_TRUE(d_weights.upload(weights));
  ASSERT_TRUE(d_norm_weight.upload(norm_weight));
  ASSERT_TRUE(d_counter.upload(std::vector<unsigned>{0u}));
  kernels::cuda::QuantGemvParams gpu;
  gpu.weight = d_weights.get();
  gpu.weight_type = type;
  gpu.weight_row_bytes = row_bytes;
  gpu.in_features = in;
  gpu.out_features = out;

  // Unfused: product into y (residual aliasing y), then the norm kernel.
  ASSERT_TRUE(d_x.upload(x));
  ASSERT_TRUE(d_y.upload(residual));
  ASSERT_TRUE(d_norm.allocate(static_cast<size_t>(out)));
  gpu.x = d_x.get();
  gpu.y = d_y.get();
  gpu.residual = d_y.get();
  ASSERT_TRUE(kernels::cuda::quant_gemv(gpu, nullptr));
  ASSERT_TRUE(kernels::cuda::rmsnorm_f32(d_norm.get(), d_y.get(), d_norm_weight.get(), 1, out, eps, nullptr));
  const auto unfused_y = *d_y.download();
  const auto unfused_norm = *d_norm.download();
  EXPECT_NMSE_BELOW(unfused_y, expected_y, 1e-10) << label;
  EXPECT_NMSE_BELOW(unfused_norm, expected_norm, 1e-10) << label;

  // Fused, twice (the counter re-arms itself): the same bits as the unfused pair.
  gpu.norm_out_weight = d_norm_weight.get();
  gpu.norm_out_eps = eps;
  gpu.norm_counter = d_counter.get();
  for (int run = 0; run < 2; ++run) {
    ASSERT_TRUE(d_y.upload(residual));
    ASSERT_TRUE(d_x.upload(x));
    ASSERT_TRUE(d_norm.poison());
    // The backend writes the feed-forward input over the attention output it multiplies.
    const bool over_input = norm_over_input && out <= in;
    float* norm_out = over_input ? d_x.get() : d_norm.get();
    gpu.norm_out = norm_out;
    const Status status = kernels::cuda::quant_gemv(gpu, nullptr);
    ASSERT_TRUE(status) << status.message();
    EXPECT_EQ(*d_y.download(), unfused_y) << label << " run " << run;
    std::vector<float> fused_norm = over_input ? *d_x.download() : *d_norm.download();
    fused_norm.resize(static_cast<size_t>(out));
    EXPECT_EQ(fused_norm, unfused_norm) << label << " run " << run;
    EXPECT_EQ(*d_counter.download(), std::vector<unsigned>{0u}) << "the counter is re-armed, " << label;
  }
}

TEST(QuantGemvTailNormConformance, SameBitsAsProductThenRmsnorm) {
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ5_0, TensorType::kQ8_0}) {
    for (const int64_t out : {int64_t{896}, int64_t{1000}, int64_t{3072}, int64_t{5}})
      check_tail_norm(type, out, false);
  }
}

TEST(QuantGemvTailNormConformance, NormWrittenOverTheProductInput) {
  check_tail_norm(TensorType::kQ4_K, 896, true);
  check_tail_norm(TensorType::kQ8_0, 200, true);
}

TEST(QuantGemvTailNormConformance, RejectsTheSwigluFormAndAMissingCounter) {
  kernels::cuda::QuantGemvParams gpu;
  DeviceBuffer<float> d_x, d_y;
  ASSERT_TRUE(d_x.allocate(256));
  ASSERT_TRUE(d_y.allocate(8));
  int64_t row_bytes = 0;
  const auto weights = random_weights(TensorType::kQ8_0, 8, 256, row_bytes);
  DeviceBuffer<uint8_t> d_weights;
  ASSERT_TRUE(d_weights.upload(weights));
  gpu.x = d_x.get();
  gpu.y = d_y.get();
  gpu.weight = d_weights.get();
  gpu.weight_type = TensorType::kQ8_0;
  gpu.weight_row_bytes = row_bytes;
  gpu.in_features = 256;
  gpu.out_features = 8;
  gpu.norm_out = d_y.get();
  gpu.norm_out_weight = d_x.get();
  EXPECT_FALSE(kernels::cuda::quant_gemv(gpu, nullptr)) << "no counter";
}

}  // namespace
}  // namespace llama_worker::conformance
