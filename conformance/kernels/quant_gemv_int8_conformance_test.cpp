// The decode product with int8 activations (quant_gemv_int8.cuh) against the CPU product of the
// CPU-quantized input (kernels/cpu/quantize_activations.hpp): the GPU rounds x to the same int8
// values and scales, so only the order of fp32 sums differs (budget 1e-10, as the fp32 form's).
// Each case also checks the form was taken: against the exact fp32 product the error is that of
// the activation rounding, far above the budget. Q4_K and Q6_K, odd row counts, widths of 1 to 17
// super-blocks, bias and residual, the SwiGLU form, the multi-matrix launch with the RMSNorm
// fused, and the types and options it does not take (they fall back to the fp32 form).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "conformance_util.hpp"
#include "cpu/quantize_activations.hpp"
#include "cpu/rmsnorm.hpp"
#include "cpu_products.hpp"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_gemv_int8.cuh"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using gguf::TensorType;
using kernels::testing::DeviceBuffer;

// x rounded as the int8 form rounds it, back in fp32.
std::vector<float> quantized(const std::vector<float>& x) {
  std::vector<int8_t> q(x.size());
  std::vector<float> d(x.size() / 32);
  std::vector<float> back(x.size());
  const auto n = static_cast<int64_t>(x.size());
  kernels::cpu::quantize_activations_int8(x.data(), n, q.data(), d.data());
  kernels::cpu::dequantize_activations_int8(q.data(), d.data(), n, back.data());
  return back;
}

std::vector<float> product(const std::vector<uint8_t>& weights, TensorType type, int64_t row_bytes,
                           const std::vector<float>& x, int64_t out, const float* bias = nullptr,
                           const float* residual = nullptr) {
  auto y = cpu_product({.weight = weights.data(),
                        .weight_type = type,
                        .weight_row_bytes = row_bytes,
                        .x = x.data(),
                        .in_features = static_cast<int64_t>(x.size()),
                        .out_features = out,
                        .bias = bias,
                        .residual = residual});
  EXPECT_TRUE(y);
  return y ? std::move(*y) : std::vector<float>(static_cast<size_t>(out));
}

TEST(QuantGemvInt8Conformance, MatchesCpuProductOfQuantizedInput) {
  struct Shape {
    int64_t super_blocks, out;
    bool bias, residual;
  };
  const Shape shapes[] = {
      {1, 37, false, false}, {3, 65, true, true}, {11, 129, true, false}, {17, 33, false, true}};
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K}) {
    for (const Shape& shape : shapes) {
      const int64_t in = 256 * shape.super_blocks;
      const std::string what = std::string(gguf::tensor_type_name(type)) + " in " + std::to_string(in) +
                               " out " + std::to_string(shape.out);
      int64_t row_bytes = 0;
      const auto weights = random_weights(type, shape.out, in, row_bytes);
      const auto x = random_floats(static_cast<size_t>(in), 2.0f);
      const auto bias = random_floats(static_cast<size_t>(shape.out));
      const auto residual = random_floats(static_cast<size_t>(shape.out));
      const float* b = shape.bias ? bias.data() : nullptr;
      const float* r = shape.residual ? residual.data() : nullptr;
      const auto expected = product(weights, type, row_bytes, quantized(x), shape.out, b, r);
      const auto exact = product(weights, type, row_bytes, x, shape.out, b, r);

      DeviceBuffer<uint8_t> d_weights;
      DeviceBuffer<float> d_x, d_bias, d_y;
      ASSERT_TRUE(d_weights.upload(weights));
      ASSERT_TRUE(d_x.upload(x));
      ASSERT_TRUE(d_bias.upload(bias));
      ASSERT_TRUE(shape.residual ? d_y.upload(residual) : d_y.allocate(static_cast<size_t>(shape.out)));
      kernels::cuda::QuantGemvParams gpu;
      gpu.y = d_y.get();
      gpu.x = d_x.get();
      gpu.weight = d_weights.get();
      gpu.weight_type = type;
      gpu.weight_row_bytes = row_bytes;
      gpu.bias = shape.bias ? d_bias.get() : nullptr;
      gpu.residual = shape.residual ? d_y.get() : nullptr;
      gpu.in_features = in;
      gpu.out_features = shape.out;
      gpu.int8_activations = true;
      ASSERT_TRUE(kernels::cuda::quant_gemv_int8_supports(gpu)) << what;
      const Status status = kernels::cuda::quant_gemv(gpu, nullptr);
      ASSERT_TRUE(status) << status.message();
      auto actual = d_y.download();
      ASSERT_TRUE(actual);
      EXPECT_NMSE_BELOW(*actual, expected, 1e-10) << what;
      EXPECT_GT(nmse(*actual, exact), 1e-8) << what << ": the int8 form was not taken";
    }
  }
}

TEST(QuantGemvInt8Conformance, SwigluFormMatchesCpu) {
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K}) {
    const int64_t in = 256 * 5, out = 45;
    int64_t row_bytes = 0;
    const auto gate_up = random_weights(type, 2 * out, in, row_bytes);
    const std::vector<uint8_t> gate(gate_up.begin(), gate_up.begin() + out * row_bytes);
    const std::vector<uint8_t> up(gate_up.begin() + out * row_bytes, gate_up.end());
    const auto x = random_floats(static_cast<size_t>(in), 3.0f);
    const auto xq = quantized(x);
    const auto expected =
        cpu_swiglu(product(gate, type, row_bytes, xq, out), product(up, type, row_bytes, xq, out));
    DeviceBuffer<uint8_t> d_weights;
    DeviceBuffer<float> d_x, d_y;
    ASSERT_TRUE(d_weights.upload(gate_up));
    ASSERT_TRUE(d_x.upload(x));
    ASSERT_TRUE(d_y.allocate(static_cast<size_t>(out)));
    kernels::cuda::QuantGemvParams gpu;
    gpu.y = d_y.get();
    gpu.x = d_x.get();
    gpu.weight = d_weights.get();
    gpu.up_weight = d_weights.get() + out * row_bytes;
    gpu.weight_type = type;
    gpu.weight_row_bytes = row_bytes;
    gpu.in_features = in;
    gpu.out_features = out;
    gpu.int8_activations = true;
    const Status status = kernels::cuda::quant_gemv(gpu, nullptr);
    ASSERT_TRUE(status) << status.message();
    EXPECT_NMSE_BELOW(*d_y.download(), expected, 1e-10) << gguf::tensor_type_name(type);
  }
}

// Q, K and V of two encodings in one launch with the RMSNorm of x fused. The GPU's inverse RMS is
// a block reduction, not the CPU's double sum, so a value can round to the neighbouring int8 step
// (a few in 10^5 do): budget 1e-6 (one step of one value moves the NMSE by ~2e-7 at this width).
TEST(QuantGemvInt8Conformance, MultiWithFusedNormMatchesNormThenQuantizedProduct) {
  const int64_t in = 256 * 7;
  const float eps = 1e-6f;
  const auto x = random_floats(static_cast<size_t>(in), 3.0f);
  const auto norm_weight = random_floats(static_cast<size_t>(in));
  std::vector<float> normed(static_cast<size_t>(in));
  kernels::cpu::rmsnorm_f32(normed.data(), x.data(), norm_weight.data(), 1, in, eps);
  const auto normed_q = quantized(normed);
  DeviceBuffer<float> d_x, d_norm;
  ASSERT_TRUE(d_x.upload(x));
  ASSERT_TRUE(d_norm.upload(norm_weight));
  const TensorType types[] = {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ4_K};
  const int64_t outs[] = {97, 31, 33};
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
  multi.int8_activations = true;
  for (int s = 0; s < 3; ++s) {
    weights[s] = random_weights(types[s], outs[s], in, row_bytes[s]);
    biases[s] = random_floats(static_cast<size_t>(outs[s]));
    expected[s] = product(weights[s], types[s], row_bytes[s], normed_q, outs[s], biases[s].data());
    ASSERT_TRUE(d_weights[s].upload(weights[s]));
    ASSERT_TRUE(d_bias[s].upload(biases[s]));
    ASSERT_TRUE(d_y[s].allocate(static_cast<size_t>(outs[s])));
    multi.segments[s] = {.y = d_y[s].get(),
                         .weight = d_weights[s].get(),
                         .weight_type = types[s],
                         .weight_row_bytes = row_bytes[s],
                         .bias = d_bias[s].get(),
                         .out_features = outs[s]};
  }
  ASSERT_TRUE(kernels::cuda::quant_gemv_int8_supports(multi));
  const Status status = kernels::cuda::quant_gemv_multi(multi, nullptr);
  ASSERT_TRUE(status) << status.message();
  for (int s = 0; s < 3; ++s) {
    const auto actual = d_y[s].download();
    ASSERT_TRUE(actual);
    EXPECT_NMSE_BELOW(*actual, expected[s], 1e-6) << "segment " << s;
    const auto exact = product(weights[s], types[s], row_bytes[s], normed, outs[s], biases[s].data());
    EXPECT_GT(nmse(*actual, exact), 1e-8) << "segment " << s << ": the int8 form was not taken";
  }
}

// Types and options the int8 form does not take run the fp32 form: the exact product's budget.
TEST(QuantGemvInt8Conformance, OtherTypesAndWidthsFallBackToTheFp32Form) {
  EXPECT_FALSE(kernels::cuda::quant_gemv_int8_supports(TensorType::kQ8_0, 256));
  EXPECT_FALSE(kernels::cuda::quant_gemv_int8_supports(TensorType::kQ5_0, 256));
  EXPECT_FALSE(kernels::cuda::quant_gemv_int8_supports(TensorType::kQ4_K, 0));
  EXPECT_FALSE(kernels::cuda::quant_gemv_int8_supports(TensorType::kQ4_K, 256 * 1024));
  EXPECT_TRUE(kernels::cuda::quant_gemv_int8_supports(TensorType::kQ6_K, 256 * 43));
  for (const TensorType type : {TensorType::kQ8_0, TensorType::kQ5_0}) {
    const int64_t in = 256 * 3, out = 19;
    int64_t row_bytes = 0;
    const auto weights = random_weights(type, out, in, row_bytes);
    const auto x = random_floats(static_cast<size_t>(in));
    const auto expected = product(weights, type, row_bytes, x, out);
    DeviceBuffer<uint8_t> d_weights;
    DeviceBuffer<float> d_x, d_y;
    ASSERT_TRUE(d_weights.upload(weights));
    ASSERT_TRUE(d_x.upload(x));
    ASSERT_TRUE(d_y.allocate(static_cast<size_t>(out)));
    kernels::cuda::QuantGemvParams gpu;
    gpu.y = d_y.get();
    gpu.x = d_x.get();
    gpu.weight = d_weights.get();
    gpu.weight_type = type;
    gpu.weight_row_bytes = row_bytes;
    gpu.in_features = in;
    gpu.out_features = out;
    gpu.int8_activations = true;
    const Status status = kernels::cuda::quant_gemv(gpu, nullptr);
    ASSERT_TRUE(status) << status.message();
    EXPECT_NMSE_BELOW(*d_y.download(), expected, 1e-10) << gguf::tensor_type_name(type);
  }
}

}  // namespace
}  // namespace llama_worker::conformance
