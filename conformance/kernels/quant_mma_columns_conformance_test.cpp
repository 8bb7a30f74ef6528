// quant_mma_columns (the batched step's products on tensor cores): against the CPU matmul within
// an fp16-operand NMSE budget, and bit for bit column invariant: every column of a call of n
// columns (1 to 130, so several 64-column tiles), wherever it sits, equals a call of that column
// alone. Plain, bias, residual (aliasing y) and SwiGLU forms; the Q4_K_M recipe's types, F16 and
// F32; rows that leave the last block partly empty.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conformance_util.hpp"
#include "cpu_products.hpp"
#include "cuda/quant_mma_columns.cuh"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using gguf::TensorType;
using kernels::testing::DeviceBuffer;

const TensorType kMmaTypes[] = {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ5_0,
                                TensorType::kQ8_0, TensorType::kF16,  TensorType::kF32};
const int64_t kMmaColumnCounts[] = {1, 2, 7, 8, 9, 16, 33, 64, 65, 130};
constexpr int64_t kMmaOffset = 3;
constexpr int64_t kMmaTotalColumns = 130 + kMmaOffset;
constexpr int64_t kMmaOut = 100;  // six full blocks of 16 rows and one of 4
// fp16 weights and activations, fp32 accumulation: ~1e-7 measured for the tensor-core prefill.
constexpr double kMmaBudget = 2e-6;

int64_t mma_width(TensorType type) { return gguf::traits(type).block_size >= 256 ? 768 : 384; }

int64_t first_difference(const float* a, const float* b, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return i;
  }
  return -1;
}

class QuantMmaColumnsConformance : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantMmaColumnsConformance, ColumnInvariantAndMatchesCpu) {
  const TensorType type = GetParam();
  const int64_t in = mma_width(type), out = kMmaOut;
  ASSERT_TRUE(kernels::cuda::quant_mma_columns_supports(type, in));
  const int64_t x_stride = in + 4, y_stride = out + 3;
  int64_t row_bytes = 0;
  const auto gate = random_weights(type, out, in, row_bytes);
  const auto up = random_weights(type, out, in, row_bytes);
  const auto x = random_floats(static_cast<size_t>(kMmaTotalColumns * in));
  const auto bias = random_floats(static_cast<size_t>(out));
  const auto residual = random_floats(static_cast<size_t>(kMmaTotalColumns * out));
  std::vector<float> x_padded(static_cast<size_t>(kMmaTotalColumns * x_stride), 0.0f);
  for (int64_t c = 0; c < kMmaTotalColumns; ++c)
    std::memcpy(x_padded.data() + c * x_stride, x.data() + c * in, static_cast<size_t>(in) * sizeof(float));
  DeviceBuffer<uint8_t> d_gate, d_up;
  DeviceBuffer<float> d_x, d_bias;
  ASSERT_TRUE(d_gate.upload(gate));
  ASSERT_TRUE(d_up.upload(up));
  ASSERT_TRUE(d_x.upload(x_padded));
  ASSERT_TRUE(d_bias.upload(bias));

  for (int form = 0; form < 4; ++form) {  // plain, bias, residual, SwiGLU
    SCOPED_TRACE(std::string(gguf::tensor_type_name(type)) + " form " + std::to_string(form));
    const bool swiglu = form == 3, with_residual = form == 2;
    kernels::cuda::QuantGemvColumnsParams base;
    base.weight = d_gate.get();
    base.up_weight = swiglu ? d_up.get() : nullptr;
    base.weight_type = type;
    base.weight_row_bytes = row_bytes;
    base.bias = form == 1 ? d_bias.get() : nullptr;
    base.in_features = in;
    base.out_features = out;
    std::vector<float> expected;
    CpuProduct product{.weight = gate.data(),
                       .weight_type = type,
                       .weight_row_bytes = row_bytes,
                       .x = x.data(),
                       .tokens = kMmaTotalColumns,
                       .in_features = in,
                       .out_features = out};
    if (swiglu) {
      auto g = cpu_product(product);
      product.weight = up.data();
      auto u = cpu_product(product);
      ASSERT_TRUE(g && u);
      expected = cpu_swiglu(*g, *u);
    } else {
      product.bias = base.bias != nullptr ? bias.data() : nullptr;
      product.residual = with_residual ? residual.data() : nullptr;
      auto y = cpu_product(product);
      ASSERT_TRUE(y);
      expected = std::move(*y);
    }

    // Every column alone.
    std::vector<float> single(static_cast<size_t>(kMmaTotalColumns * out));
    for (int64_t c = 0; c < kMmaTotalColumns; ++c) {
      const std::vector<float> column(x.begin() + c * in, x.begin() + (c + 1) * in);
      DeviceBuffer<float> d_column, d_y;
      ASSERT_TRUE(d_column.upload(column));
      if (with_residual) {
        ASSERT_TRUE(
            d_y.upload(std::vector<float>(residual.begin() + c * out, residual.begin() + (c + 1) * out)));
      } else {
        ASSERT_TRUE(d_y.allocate(static_cast<size_t>(out)));
      }
      kernels::cuda::QuantGemvColumnsParams params = base;
      params.y = d_y.get();
      params.x = d_column.get();
      params.residual = with_residual ? d_y.get() : nullptr;
      params.columns = 1;
      const Status status = kernels::cuda::quant_mma_columns(params, nullptr);
      ASSERT_TRUE(status) << status.message();
      auto alone = d_y.download();
      ASSERT_TRUE(alone);
      std::memcpy(single.data() + c * out, alone->data(), static_cast<size_t>(out) * sizeof(float));
    }
    const double error = nmse(single, expected);
    EXPECT_LE(error, kMmaBudget);
    std::printf("quant_mma_columns %s form %d: NMSE %.3g vs the CPU reference\n",
                std::string(gguf::tensor_type_name(type)).c_str(), form, error);

    for (const int64_t columns : kMmaColumnCounts) {
      SCOPED_TRACE("columns " + std::to_string(columns));
      const int64_t offset = columns % (kMmaOffset + 1);
      std::vector<float> y_init(static_cast<size_t>(columns * y_stride), -1.0f);
      if (with_residual) {
        for (int64_t c = 0; c < columns; ++c)
          std::memcpy(y_init.data() + c * y_stride, residual.data() + (offset + c) * out,
                      static_cast<size_t>(out) * sizeof(float));
      }
      DeviceBuffer<float> d_y;
      ASSERT_TRUE(d_y.upload(y_init));
      kernels::cuda::QuantGemvColumnsParams params = base;
      params.y = d_y.get();
      params.y_stride = y_stride;
      params.x = d_x.get() + offset * x_stride;
      params.x_stride = x_stride;
      params.residual = with_residual ? d_y.get() : nullptr;
      params.columns = columns;
      const Status status = kernels::cuda::quant_mma_columns(params, nullptr);
      ASSERT_TRUE(status) << status.message();
      auto actual = d_y.download();
      ASSERT_TRUE(actual);
      for (int64_t c = 0; c < columns; ++c) {
        const float* row = actual->data() + c * y_stride;
        const int64_t differs = first_difference(row, single.data() + (offset + c) * out, out);
        ASSERT_EQ(differs, -1) << "column " << c << " (input " << offset + c << ") differs from it alone";
        for (int64_t gap = out; gap < y_stride; ++gap) ASSERT_EQ(row[gap], -1.0f) << "column " << c;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantMmaColumnsConformance, ::testing::ValuesIn(kMmaTypes),
                         [](const ::testing::TestParamInfo<TensorType>& type_info) {
                           return std::string(gguf::tensor_type_name(type_info.param));
                         });

TEST(QuantMmaColumnsConformance, BadParametersAreErrors) {
  kernels::cuda::QuantGemvColumnsParams p;
  EXPECT_EQ(kernels::cuda::quant_mma_columns(p, nullptr).code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(kernels::cuda::quant_mma_columns_supports(TensorType::kQ8_0, 192));  // not a multiple of 128
  EXPECT_TRUE(kernels::cuda::quant_mma_columns_supports(TensorType::kQ8_0, 256));
}

}  // namespace
}  // namespace llama_worker::conformance
