// quant_gemv_columns (several activation columns against one matrix, for the batched forward):
// against the CPU matmul within the decode kernel's NMSE budget, and bit for bit batch invariant:
// every column of a call of n columns, wherever it sits, equals a call of that column alone, which
// equals quant_gemv() on it (for the types quant_gemv takes). Plain, bias, residual (aliasing y)
// and SwiGLU forms; the decode types, F32 and F16, and Q5_K (general kernel only).
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conformance_util.hpp"
#include "cpu_products.hpp"
#include "cuda/quant_gemv.cuh"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using gguf::TensorType;
using kernels::testing::DeviceBuffer;

const TensorType kTypes[] = {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ5_0, TensorType::kQ8_0,
                             TensorType::kF32,  TensorType::kF16,  TensorType::kQ5_K};

bool has_decode_kernel(TensorType type) {
  return type == TensorType::kQ4_K || type == TensorType::kQ6_K || type == TensorType::kQ5_0 ||
         type == TensorType::kQ8_0;
}

enum class Form { kPlain, kBias, kResidual, kSwiglu };

const char* form_name(Form form) {
  switch (form) {
    case Form::kPlain:
      return "plain";
    case Form::kBias:
      return "bias";
    case Form::kResidual:
      return "residual";
    case Form::kSwiglu:
      return "swiglu";
  }
  return "?";
}

const int64_t kColumnCounts[] = {1, 2, 3, 7, 8, 9, 16, 33, 64};
// A call of n columns starts at input column n % 5: a column's place differs between calls.
constexpr int64_t kMaxOffset = 4;
constexpr int64_t kTotalColumns = 64 + kMaxOffset;
constexpr int64_t kOutFeatures = 37;  // leaves the last warp's rows partly empty
// Bits of the unwritten gaps between output rows (y_stride > out_features): must survive.
constexpr uint32_t kGapBits = 0x7FC0DEADu;

int64_t odd_width(TensorType type) {
  const int64_t block = gguf::traits(type).block_size;
  const int64_t granule = block > 8 ? block : 8;
  return granule * (block >= 256 ? 3 : block >= 32 ? 23 : 37);
}

// Index of the first element whose bits differ, or -1.
int64_t first_bit_difference(const float* a, const float* b, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return i;
  }
  return -1;
}

class QuantGemvColumnsConformance : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantGemvColumnsConformance, BatchInvariantAndMatchesCpu) {
  const TensorType type = GetParam();
  const int64_t in = odd_width(type);
  const int64_t out = kOutFeatures;
  const int64_t x_stride = in + 4;   // padded rows, still 16-byte aligned
  const int64_t y_stride = out + 3;  // gaps that must stay untouched
  int64_t row_bytes = 0;
  const auto gate = random_weights(type, out, in, row_bytes);
  const auto up = random_weights(type, out, in, row_bytes);
  const auto x = random_floats(static_cast<size_t>(kTotalColumns * in));
  const auto bias = random_floats(static_cast<size_t>(out));
  const auto residual = random_floats(static_cast<size_t>(kTotalColumns * out));
  std::vector<float> x_padded(static_cast<size_t>(kTotalColumns * x_stride), 0.0f);
  for (int64_t c = 0; c < kTotalColumns; ++c) {
    std::memcpy(x_padded.data() + c * x_stride, x.data() + c * in, static_cast<size_t>(in) * sizeof(float));
  }

  DeviceBuffer<uint8_t> d_gate, d_up;
  DeviceBuffer<float> d_x, d_bias;
  ASSERT_TRUE(d_gate.upload(gate));
  ASSERT_TRUE(d_up.upload(up));
  ASSERT_TRUE(d_x.upload(x_padded));
  ASSERT_TRUE(d_bias.upload(bias));

  for (const Form form : {Form::kPlain, Form::kBias, Form::kResidual, Form::kSwiglu}) {
    SCOPED_TRACE(std::string(gguf::tensor_type_name(type)) + " " + form_name(form));
    const bool swiglu = form == Form::kSwiglu;
    const bool with_residual = form == Form::kResidual;
    kernels::cuda::QuantGemvColumnsParams base;
    base.weight = d_gate.get();
    base.up_weight = swiglu ? d_up.get() : nullptr;
    base.weight_type = type;
    base.weight_row_bytes = row_bytes;
    base.bias = form == Form::kBias ? d_bias.get() : nullptr;
    base.in_features = in;
    base.out_features = out;

    if (swiglu && !has_decode_kernel(type)) {
      DeviceBuffer<float> d_y;
      ASSERT_TRUE(d_y.allocate(static_cast<size_t>(out)));
      kernels::cuda::QuantGemvColumnsParams params = base;
      params.y = d_y.get();
      params.x = d_x.get();
      params.x_stride = x_stride;
      params.columns = 1;
      EXPECT_EQ(kernels::cuda::quant_gemv_columns(params, nullptr).code(), ErrorCode::kUnsupported);
      continue;
    }

    // The CPU reference for every input column.
    std::vector<float> expected;
    if (swiglu) {
      auto g = cpu_product({.weight = gate.data(),
                            .weight_type = type,
                            .weight_row_bytes = row_bytes,
                            .x = x.data(),
                            .tokens = kTotalColumns,
                            .in_features = in,
                            .out_features = out});
      auto u = cpu_product({.weight = up.data(),
                            .weight_type = type,
                            .weight_row_bytes = row_bytes,
                            .x = x.data(),
                            .tokens = kTotalColumns,
                            .in_features = in,
                            .out_features = out});
      ASSERT_TRUE(g);
      ASSERT_TRUE(u);
      expected = cpu_swiglu(*g, *u);  // elementwise
    } else {
      auto product = cpu_product({.weight = gate.data(),
                                  .weight_type = type,
                                  .weight_row_bytes = row_bytes,
                                  .x = x.data(),
                                  .tokens = kTotalColumns,
                                  .in_features = in,
                                  .out_features = out,
                                  .bias = base.bias != nullptr ? bias.data() : nullptr,
                                  .residual = with_residual ? residual.data() : nullptr});
      ASSERT_TRUE(product);
      expected = std::move(*product);
    }

    // Every column alone (its own buffer, default strides), and quant_gemv on the same column.
    std::vector<float> single(static_cast<size_t>(kTotalColumns * out));
    for (int64_t c = 0; c < kTotalColumns; ++c) {
      const std::vector<float> column(x.begin() + c * in, x.begin() + (c + 1) * in);
      const std::vector<float> column_residual(residual.begin() + c * out, residual.begin() + (c + 1) * out);
      DeviceBuffer<float> d_column, d_y;
      ASSERT_TRUE(d_column.upload(column));
      if (with_residual) {
        ASSERT_TRUE(d_y.upload(column_residual));
      } else {
        ASSERT_TRUE(d_y.allocate(static_cast<size_t>(out)));  // poisoned
      }
      kernels::cuda::QuantGemvColumnsParams params = base;
      params.y = d_y.get();
      params.x = d_column.get();
      params.residual = with_residual ? d_y.get() : nullptr;
      params.columns = 1;
      const Status status = kernels::cuda::quant_gemv_columns(params, nullptr);
      ASSERT_TRUE(status) << status.message();
      auto alone = d_y.download();
      ASSERT_TRUE(alone);
      std::memcpy(single.data() + c * out, alone->data(), static_cast<size_t>(out) * sizeof(float));

      if (!has_decode_kernel(type)) continue;
      if (with_residual) {
        ASSERT_TRUE(d_y.upload(column_residual));
      } else {
        ASSERT_TRUE(d_y.poison());
      }
      kernels::cuda::QuantGemvParams gemv;
      gemv.y = d_y.get();
      gemv.x = d_column.get();
      gemv.weight = base.weight;
      gemv.up_weight = base.up_weight;
      gemv.weight_type = type;
      gemv.weight_row_bytes = row_bytes;
      gemv.bias = base.bias;
      gemv.residual = params.residual;
      gemv.in_features = in;
      gemv.out_features = out;
      const Status gemv_status = kernels::cuda::quant_gemv(gemv, nullptr);
      ASSERT_TRUE(gemv_status) << gemv_status.message();
      auto reference = d_y.download();
      ASSERT_TRUE(reference);
      const int64_t differs = first_bit_difference(alone->data(), reference->data(), out);
      EXPECT_EQ(differs, -1) << "column " << c << ": quant_gemv_columns " << (*alone)[differs]
                             << " vs quant_gemv " << (*reference)[differs];
    }
    EXPECT_NMSE_BELOW(single, expected, 1e-10);

    for (const int64_t columns : kColumnCounts) {
      SCOPED_TRACE("columns " + std::to_string(columns));
      const int64_t offset = columns % (kMaxOffset + 1);
      std::vector<float> y_init(static_cast<size_t>(columns * y_stride), std::bit_cast<float>(kGapBits));
      if (with_residual) {
        for (int64_t c = 0; c < columns; ++c) {
          std::memcpy(y_init.data() + c * y_stride, residual.data() + (offset + c) * out,
                      static_cast<size_t>(out) * sizeof(float));
        }
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
      const Status status = kernels::cuda::quant_gemv_columns(params, nullptr);
      ASSERT_TRUE(status) << status.message();
      auto actual = d_y.download();
      ASSERT_TRUE(actual);
      std::vector<float> dense(static_cast<size_t>(columns * out));
      for (int64_t c = 0; c < columns; ++c) {
        const float* row = actual->data() + c * y_stride;
        std::memcpy(dense.data() + c * out, row, static_cast<size_t>(out) * sizeof(float));
        const int64_t differs = first_bit_difference(row, single.data() + (offset + c) * out, out);
        EXPECT_EQ(differs, -1) << "column " << c << " (input " << offset + c << ") differs from it alone at "
                               << differs;
        for (int64_t gap = out; gap < y_stride; ++gap) {
          EXPECT_EQ(std::bit_cast<uint32_t>(row[gap]), kGapBits) << "column " << c << " wrote past its row";
        }
      }
      const std::vector<float> expected_slice(expected.begin() + offset * out,
                                              expected.begin() + (offset + columns) * out);
      EXPECT_NMSE_BELOW(dense, expected_slice, 1e-10);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(DecodeAndGeneralTypes, QuantGemvColumnsConformance, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<TensorType>& type_info) {
                           return std::string(gguf::tensor_type_name(type_info.param));
                         });

// More row blocks than gridDim.y allows (65,535): the launch is repeated over row ranges. SwiGLU
// Q8_0 at the smallest width keeps the matrix small (4 rows per block, 34 bytes per row).
TEST(QuantGemvColumnsConformance, RowBlocksBeyondTheGridHeightLimit) {
  const TensorType type = TensorType::kQ8_0;
  const int64_t in = 32, out = 4 * 65535 + 9, columns = 3;
  int64_t row_bytes = 0;
  const auto gate = random_weights(type, out, in, row_bytes);
  const auto up = random_weights(type, out, in, row_bytes);
  const auto x = random_floats(static_cast<size_t>(columns * in));
  DeviceBuffer<uint8_t> d_gate, d_up;
  DeviceBuffer<float> d_x, d_y, d_single;
  ASSERT_TRUE(d_gate.upload(gate));
  ASSERT_TRUE(d_up.upload(up));
  ASSERT_TRUE(d_x.upload(x));
  ASSERT_TRUE(d_y.allocate(static_cast<size_t>(columns * out)));
  ASSERT_TRUE(d_single.allocate(static_cast<size_t>(out)));
  kernels::cuda::QuantGemvColumnsParams params;
  params.y = d_y.get();
  params.x = d_x.get();
  params.weight = d_gate.get();
  params.up_weight = d_up.get();
  params.weight_type = type;
  params.weight_row_bytes = row_bytes;
  params.in_features = in;
  params.out_features = out;
  params.columns = columns;
  Status status = kernels::cuda::quant_gemv_columns(params, nullptr);
  ASSERT_TRUE(status) << status.message();
  auto actual = d_y.download();
  ASSERT_TRUE(actual);
  for (int64_t c = 0; c < columns; ++c) {
    kernels::cuda::QuantGemvParams gemv;
    gemv.y = d_single.get();
    gemv.x = d_x.get() + c * in;
    gemv.weight = d_gate.get();
    gemv.up_weight = d_up.get();
    gemv.weight_type = type;
    gemv.weight_row_bytes = row_bytes;
    gemv.in_features = in;
    gemv.out_features = out;
    status = kernels::cuda::quant_gemv(gemv, nullptr);
    ASSERT_TRUE(status) << status.message();
    auto reference = d_single.download();
    ASSERT_TRUE(reference);
    EXPECT_EQ(first_bit_difference(actual->data() + c * out, reference->data(), out), -1) << "column " << c;
  }
}

// Bad parameters come back as errors before anything is launched (real device buffers, so a
// missing check would compute or fault instead of returning).
TEST(QuantGemvColumnsConformance, RejectsBadParameters) {
  const int64_t in = 64, out = 5;
  int64_t row_bytes = 0;
  const auto weights = random_weights(TensorType::kQ8_0, out, in, row_bytes);
  DeviceBuffer<uint8_t> d_weights;
  DeviceBuffer<float> d_x, d_y, d_bias;
  ASSERT_TRUE(d_weights.upload(weights));
  ASSERT_TRUE(d_x.upload(random_floats(static_cast<size_t>(4 * in))));
  ASSERT_TRUE(d_y.allocate(static_cast<size_t>(4 * out)));
  ASSERT_TRUE(d_bias.allocate(static_cast<size_t>(out)));
  kernels::cuda::QuantGemvColumnsParams good;
  good.y = d_y.get();
  good.x = d_x.get();
  good.weight = d_weights.get();
  good.weight_type = TensorType::kQ8_0;
  good.weight_row_bytes = row_bytes;
  good.in_features = in;
  good.out_features = out;
  good.columns = 2;
  ASSERT_TRUE(kernels::cuda::quant_gemv_columns(good, nullptr));

  auto expect_error = [&](const char* what, auto change, ErrorCode code = ErrorCode::kInvalidArgument) {
    kernels::cuda::QuantGemvColumnsParams bad = good;
    change(bad);
    const Status status = kernels::cuda::quant_gemv_columns(bad, nullptr);
    EXPECT_FALSE(status) << what;
    EXPECT_EQ(status.code(), code) << what << ": " << status.message();
  };
  using Params = kernels::cuda::QuantGemvColumnsParams;
  expect_error("null y", [](Params& p) { p.y = nullptr; });
  expect_error("null x", [](Params& p) { p.x = nullptr; });
  expect_error("null weight", [](Params& p) { p.weight = nullptr; });
  expect_error("no columns", [](Params& p) { p.columns = 0; });
  expect_error("negative columns", [](Params& p) { p.columns = -3; });
  expect_error("no rows", [](Params& p) { p.out_features = 0; });
  expect_error("misaligned x", [](Params& p) { p.x += 1; });
  expect_error("x stride not a multiple of 4", [](Params& p) { p.x_stride = in + 1; });
  expect_error("x stride below the width", [](Params& p) { p.x_stride = in - 4; });
  expect_error("y stride below the rows", [](Params& p) { p.y_stride = out - 1; });
  expect_error("SwiGLU with a bias", [&](Params& p) {
    p.up_weight = p.weight;
    p.bias = d_bias.get();
  });
  expect_error("row bytes that do not match the width", [](Params& p) {
    p.weight_type = TensorType::kF32;  // F32 rows of 64 are 256 bytes, not Q8_0's 68
  });
  expect_error(
      "SwiGLU without a decode kernel",
      [](Params& p) {
        p.weight_type = TensorType::kF32;
        p.up_weight = p.weight;
      },
      ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace llama_worker::conformance
