// fragment_mma (the batched step's products over weights repacked into mma fragment order):
//   - the fp16 copy (kHalf), put back in row order on the host, equals the CPU reference decoder's
//     values rounded to fp16, bit for bit, for every type (rows past the end are zeros);
//   - the coded copies (Q4_K, Q6_K; Q8_0 and Q5_0 in kQ8) hold the file's values losslessly: decoded
//     on the host, they equal the CPU reference decoder's fp32 values bit for bit;
//   - the product (activations packed by pack_fragment_activations) matches the CPU matmul within
//     an fp16-operand NMSE budget;
//   - bit for bit column invariant: every column of a call of n columns (1 to 130, so several
//     64-column tiles), wherever it sits, equals a call of that column alone;
// in the plain, bias, residual (aliasing y) and SwiGLU forms, in every copy form a type has, for
// shapes that take each of the four k_split values (1, 2, 4, 8 warps per row tile) of every form
// and leave the last row tile partly empty.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "conformance_util.hpp"
#include "cpu_products.hpp"
#include "cuda/fragment_mma.cuh"
#include "cuda/rmsnorm.cuh"
#include "quant/dequantize.hpp"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using gguf::TensorType;
using kernels::cuda::FragmentForm;
using kernels::testing::DeviceBuffer;

const TensorType kTypes[] = {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ5_0, TensorType::kQ4_0,
                             TensorType::kQ8_0, TensorType::kF16,  TensorType::kF32};
// fp16 weights and activations, fp32 accumulation, as quant_mma_columns.
constexpr double kBudget = 2e-6;

struct Shape {
  int64_t out, in;
  std::vector<int64_t> column_counts;
};

// Widths are multiples of 256 (the K-quant block). Every split of every form (checked below).
std::vector<Shape> shapes() {
  return {{100, 768, {1, 2, 7, 8, 9, 16, 33, 64, 65, 130}},
          {4000, 256, {1, 9, 64, 65}},
          {16389, 256, {1, 17}},
          {32781, 256, {1, 9}},
          {40, 2048, {1, 5, 16, 64}},
          {8200, 1024, {1, 17}}};
}

// The forms a type's matrices can be repacked into: fp16, and its coded form if it has one.
std::vector<FragmentForm> forms_of(TensorType type) {
  std::vector<FragmentForm> forms{FragmentForm::kHalf};
  if (kernels::cuda::fragment_form_for(type) != FragmentForm::kHalf)
    forms.push_back(kernels::cuda::fragment_form_for(type));
  return forms;
}

int64_t first_difference(const float* a, const float* b, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return i;
  }
  return -1;
}

Status repack(DeviceBuffer<uint8_t>& fragments, const std::vector<uint8_t>& weights, TensorType type,
              int64_t row_bytes, int64_t out, int64_t in, FragmentForm form = FragmentForm::kHalf) {
  DeviceBuffer<uint8_t> d_weights;
  LW_TRY(d_weights.upload(weights));
  LW_TRY(fragments.allocate(static_cast<size_t>(kernels::cuda::fragment_weight_bytes(form, out, in))));
  LW_TRY(kernels::cuda::repack_to_fragments(fragments.get(), form, d_weights.get(), type, row_bytes, out, in,
                                            nullptr));
  if (cudaDeviceSynchronize() != cudaSuccess) return make_error(ErrorCode::kInternal, "repack failed");
  return Status::ok();
}

TEST(FragmentMmaConformance, ShapesCoverEverySplit) {
  for (const FragmentForm form :
       {FragmentForm::kHalf, FragmentForm::kQ4K, FragmentForm::kQ6K, FragmentForm::kQ8}) {
    std::set<int> splits;
    for (const Shape& shape : shapes())
      splits.insert(kernels::cuda::fragment_mma_k_split(shape.out, shape.in, form));
    EXPECT_EQ(splits, (std::set<int>{1, 2, 4, 8})) << kernels::cuda::fragment_form_name(form);
  }
  // The split depends on the matrix only: the Qwen2.5-0.5B output-projection and logits shapes.
  EXPECT_EQ(kernels::cuda::fragment_mma_k_split(896, 896), 8);
  EXPECT_EQ(kernels::cuda::fragment_mma_k_split(151936, 896), 1);
}

class FragmentMmaConformance : public ::testing::TestWithParam<TensorType> {};

TEST_P(FragmentMmaConformance, RepackIsTheReferenceDecodeInFp16) {
  const TensorType type = GetParam();
  const int64_t out = 37, in = 512;  // three row tiles, the last partly empty
  int64_t row_bytes = 0;
  const auto weights = random_weights(type, out, in, row_bytes);
  DeviceBuffer<uint8_t> fragments;
  const Status repacked = repack(fragments, weights, type, row_bytes, out, in);
  ASSERT_TRUE(repacked) << repacked.message();
  auto bytes = fragments.download();
  ASSERT_TRUE(bytes);
  std::vector<__half> copy(bytes->size() / 2);
  std::memcpy(copy.data(), bytes->data(), bytes->size());
  const int64_t padded = kernels::cuda::fragment_weight_bytes(FragmentForm::kHalf, out, in) / 2 / in;
  const auto rows = kernels::cuda::fragment_weights_to_rows(copy, padded, in);
  std::vector<float> decoded(static_cast<size_t>(in));
  for (int64_t r = 0; r < padded; ++r) {
    if (r < out) {
      ASSERT_TRUE(quant::dequantize_row(type, weights.data() + r * row_bytes, decoded.data(), in));
    } else {
      std::fill(decoded.begin(), decoded.end(), 0.0f);
    }
    for (int64_t k = 0; k < in; ++k) {
      const __half expected = __float2half_rn(decoded[static_cast<size_t>(k)]);
      ASSERT_EQ(std::bit_cast<uint16_t>(rows[static_cast<size_t>(r * in + k)]),
                std::bit_cast<uint16_t>(expected))
          << "row " << r << " input " << k;
    }
  }
}

TEST_P(FragmentMmaConformance, CodedRepackDecodesToTheReference) {
  const TensorType type = GetParam();
  const FragmentForm form = kernels::cuda::fragment_form_for(type);
  if (form == FragmentForm::kHalf) GTEST_SKIP() << "no coded form for this type (fp16 copy only)";
  const int64_t out = 37, in = 768;  // three row tiles, the last partly empty; three super-blocks
  int64_t row_bytes = 0;
  const auto weights = random_weights(type, out, in, row_bytes);
  DeviceBuffer<uint8_t> fragments;
  const Status repacked = repack(fragments, weights, type, row_bytes, out, in, form);
  ASSERT_TRUE(repacked) << repacked.message();
  auto bytes = fragments.download();
  ASSERT_TRUE(bytes);
  ASSERT_EQ(static_cast<int64_t>(bytes->size()), kernels::cuda::fragment_weight_bytes(form, out, in));
  const int64_t padded = 48;
  const auto rows = kernels::cuda::coded_fragments_to_rows(*bytes, form, padded, in);
  std::vector<float> decoded(static_cast<size_t>(in));
  for (int64_t r = 0; r < padded; ++r) {
    if (r < out) {
      ASSERT_TRUE(quant::dequantize_row(type, weights.data() + r * row_bytes, decoded.data(), in));
    } else {
      std::fill(decoded.begin(), decoded.end(), 0.0f);
    }
    for (int64_t k = 0; k < in; ++k) {
      const float value = rows[static_cast<size_t>(r * in + k)], expected = decoded[static_cast<size_t>(k)];
      if (r < out) {
        ASSERT_EQ(std::bit_cast<uint32_t>(value), std::bit_cast<uint32_t>(expected))
            << "row " << r << " input " << k;
      } else {
        ASSERT_EQ(value, 0.0f) << "padding row " << r << " input " << k;
      }
    }
  }
  // The rows from a row tile on are the copy of those rows, where a fused gate/up matrix's up half starts.
  const int64_t offset = kernels::cuda::fragment_row_offset_bytes(form, 16, in);
  DeviceBuffer<uint8_t> tail;
  ASSERT_TRUE(repack(tail, std::vector<uint8_t>(weights.begin() + 16 * row_bytes, weights.end()), type,
                     row_bytes, out - 16, in, form));
  auto tail_bytes = tail.download();
  ASSERT_TRUE(tail_bytes);
  ASSERT_TRUE(std::equal(tail_bytes->begin(), tail_bytes->end(), bytes->begin() + offset));
}

TEST_P(FragmentMmaConformance, ColumnInvariantAndMatchesCpu) {
  const TensorType type = GetParam();
  for (const Shape& shape : shapes()) {
    const int64_t in = shape.in, out = shape.out;
    const int64_t most = *std::max_element(shape.column_counts.begin(), shape.column_counts.end());
    const int64_t offsets = 3, total = most + offsets;
    SCOPED_TRACE(std::string(gguf::tensor_type_name(type)) + " " + std::to_string(out) + "x" +
                 std::to_string(in));
    const int64_t x_stride = in + 4, y_stride = out + 3;
    int64_t row_bytes = 0;
    const auto gate = random_weights(type, out, in, row_bytes);
    const auto up = random_weights(type, out, in, row_bytes);
    const auto x = random_floats(static_cast<size_t>(total * in));
    const auto bias = random_floats(static_cast<size_t>(out));
    const auto residual = random_floats(static_cast<size_t>(total * out));
    std::vector<float> x_padded(static_cast<size_t>(total * x_stride), 0.0f);
    for (int64_t c = 0; c < total; ++c)
      std::memcpy(x_padded.data() + c * x_stride, x.data() + c * in, static_cast<size_t>(in) * sizeof(float));
    DeviceBuffer<float> d_x, d_bias;
    ASSERT_TRUE(d_x.upload(x_padded));
    ASSERT_TRUE(d_bias.upload(bias));

    for (const FragmentForm copy_form : forms_of(type)) {
      SCOPED_TRACE(kernels::cuda::fragment_form_name(copy_form));
      DeviceBuffer<uint8_t> d_gate, d_up;
      ASSERT_TRUE(repack(d_gate, gate, type, row_bytes, out, in, copy_form));
      ASSERT_TRUE(repack(d_up, up, type, row_bytes, out, in, copy_form));
      for (int form = 0; form < 4; ++form) {  // plain, bias, residual, SwiGLU
        SCOPED_TRACE("form " + std::to_string(form));
        const bool swiglu = form == 3, with_residual = form == 2;
        kernels::cuda::FragmentMmaParams base;
        base.weight = d_gate.get();
        base.up_weight = swiglu ? d_up.get() : nullptr;
        base.bias = form == 1 ? d_bias.get() : nullptr;
        base.form = copy_form;
        base.in_features = in;
        base.out_features = out;
        std::vector<float> expected;
        CpuProduct product{.weight = gate.data(),
                           .weight_type = type,
                           .weight_row_bytes = row_bytes,
                           .x = x.data(),
                           .tokens = total,
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
        std::vector<float> single(static_cast<size_t>(total * out));
        for (int64_t c = 0; c < total; ++c) {
          const std::vector<float> column(x.begin() + c * in, x.begin() + (c + 1) * in);
          DeviceBuffer<float> d_column, d_y;
          ASSERT_TRUE(d_column.upload(column));
          if (with_residual) {
            ASSERT_TRUE(
                d_y.upload(std::vector<float>(residual.begin() + c * out, residual.begin() + (c + 1) * out)));
          } else {
            ASSERT_TRUE(d_y.allocate(static_cast<size_t>(out)));
          }
          DeviceBuffer<__half> packed;
          ASSERT_TRUE(packed.allocate(static_cast<size_t>(kernels::cuda::fragment_activation_halves(1, in))));
          ASSERT_TRUE(
              kernels::cuda::pack_fragment_activations(packed.get(), d_column.get(), 0, 1, in, nullptr));
          kernels::cuda::FragmentMmaParams params = base;
          params.y = d_y.get();
          params.x = packed.get();
          params.residual = with_residual ? d_y.get() : nullptr;
          params.columns = 1;
          const Status status = kernels::cuda::fragment_mma(params, nullptr);
          ASSERT_TRUE(status) << status.message();
          auto alone = d_y.download();
          ASSERT_TRUE(alone);
          std::memcpy(single.data() + c * out, alone->data(), static_cast<size_t>(out) * sizeof(float));
        }
        const double error = nmse(single, expected);
        EXPECT_LE(error, kBudget);
        std::printf(
            "fragment_mma %s (%s copy) %lldx%lld (split %d) form %d: NMSE %.3g vs the CPU reference\n",
            std::string(gguf::tensor_type_name(type)).c_str(), kernels::cuda::fragment_form_name(copy_form),
            static_cast<long long>(out), static_cast<long long>(in),
            kernels::cuda::fragment_mma_k_split(out, in, copy_form), form, error);

        for (const int64_t columns : shape.column_counts) {
          SCOPED_TRACE("columns " + std::to_string(columns));
          const int64_t offset = columns % (offsets + 1);
          std::vector<float> y_init(static_cast<size_t>(columns * y_stride), -1.0f);
          if (with_residual) {
            for (int64_t c = 0; c < columns; ++c)
              std::memcpy(y_init.data() + c * y_stride, residual.data() + (offset + c) * out,
                          static_cast<size_t>(out) * sizeof(float));
          }
          DeviceBuffer<float> d_y;
          ASSERT_TRUE(d_y.upload(y_init));
          DeviceBuffer<__half> packed;
          ASSERT_TRUE(
              packed.allocate(static_cast<size_t>(kernels::cuda::fragment_activation_halves(columns, in))));
          ASSERT_TRUE(kernels::cuda::pack_fragment_activations(packed.get(), d_x.get() + offset * x_stride,
                                                               x_stride, columns, in, nullptr));
          kernels::cuda::FragmentMmaParams params = base;
          params.y = d_y.get();
          params.y_stride = y_stride;
          params.x = packed.get();
          params.residual = with_residual ? d_y.get() : nullptr;
          params.columns = columns;
          const Status status = kernels::cuda::fragment_mma(params, nullptr);
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
  }
}

INSTANTIATE_TEST_SUITE_P(Types, FragmentMmaConformance, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<TensorType>& type_info) {
                           return std::string(gguf::tensor_type_name(type_info.param));
                         });

// RMSNorm's packed output and the SwiGLU form's y_packed hold, at every real column, the bits
// pack_fragment_activations makes of the fp32 results (the batched step skips those pack launches).
TEST(FragmentMmaConformance, ProducersWritePackedActivationsAsThePackDoes) {
  const int64_t columns = 37, width = 256, out = 64;
  const auto x = random_floats(static_cast<size_t>(columns * width));
  const auto norm = random_floats(static_cast<size_t>(width));
  const int64_t halves = kernels::cuda::fragment_activation_halves(columns, out > width ? out : width);
  DeviceBuffer<float> d_x, d_norm, d_normed, d_y;
  DeviceBuffer<__half> fused, packed;
  ASSERT_TRUE(d_x.upload(x));
  ASSERT_TRUE(d_norm.upload(norm));
  ASSERT_TRUE(d_normed.allocate(x.size()));
  ASSERT_TRUE(fused.allocate(static_cast<size_t>(halves)));
  ASSERT_TRUE(packed.allocate(static_cast<size_t>(halves)));
  const auto same_real_columns = [&](int64_t inputs) {
    const auto a = fused.download();
    const auto b = packed.download();
    ASSERT_TRUE(a && b);
    for (int64_t c = 0; c < columns; ++c) {
      for (int64_t k = 0; k < inputs; ++k) {
        const auto at = static_cast<size_t>(kernels::cuda::fragment_activation_index(c, k, columns));
        ASSERT_EQ(std::bit_cast<uint16_t>((*a)[at]), std::bit_cast<uint16_t>((*b)[at]))
            << "column " << c << " input " << k;
      }
    }
  };
  ASSERT_TRUE(kernels::cuda::rmsnorm_f32(d_normed.get(), d_x.get(), d_norm.get(), columns, width, 1e-6f,
                                         nullptr, fused.get()));
  ASSERT_TRUE(
      kernels::cuda::pack_fragment_activations(packed.get(), d_normed.get(), 0, columns, width, nullptr));
  same_real_columns(width);

  int64_t row_bytes = 0;
  const auto gate = random_weights(TensorType::kQ8_0, out, width, row_bytes);
  const auto up = random_weights(TensorType::kQ8_0, out, width, row_bytes);
  DeviceBuffer<uint8_t> d_gate, d_up;
  ASSERT_TRUE(repack(d_gate, gate, TensorType::kQ8_0, row_bytes, out, width));
  ASSERT_TRUE(repack(d_up, up, TensorType::kQ8_0, row_bytes, out, width));
  ASSERT_TRUE(d_y.allocate(static_cast<size_t>(columns * out)));
  kernels::cuda::FragmentMmaParams p;
  p.x = packed.get();  // the normed activations, packed
  p.weight = d_gate.get();
  p.up_weight = d_up.get();
  p.in_features = width;
  p.out_features = out;
  p.columns = columns;
  p.y = d_y.get();
  ASSERT_TRUE(kernels::cuda::fragment_mma(p, nullptr));
  DeviceBuffer<__half> x_again;
  ASSERT_TRUE(x_again.allocate(static_cast<size_t>(halves)));
  ASSERT_TRUE(cudaMemcpy(x_again.get(), packed.get(), static_cast<size_t>(halves) * 2,
                         cudaMemcpyDeviceToDevice) == cudaSuccess);
  p.x = x_again.get();
  p.y_packed = fused.get();
  ASSERT_TRUE(kernels::cuda::fragment_mma(p, nullptr));
  ASSERT_TRUE(kernels::cuda::pack_fragment_activations(packed.get(), d_y.get(), 0, columns, out, nullptr));
  same_real_columns(out);
}

TEST(FragmentMmaConformance, BadParametersAreErrors) {
  kernels::cuda::FragmentMmaParams p;
  EXPECT_EQ(kernels::cuda::fragment_mma(p, nullptr).code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(kernels::cuda::fragment_form_supports(FragmentForm::kHalf, TensorType::kF32,
                                                     24));  // not a multiple of 16
  EXPECT_TRUE(kernels::cuda::fragment_form_supports(FragmentForm::kHalf, TensorType::kQ8_0, 32));
  EXPECT_EQ(kernels::cuda::repack_to_fragments(nullptr, FragmentForm::kHalf, nullptr, TensorType::kQ8_0, 34,
                                               1, 32, nullptr)
                .code(),
            ErrorCode::kInvalidArgument);
  // A coded form holds its own type only, at widths of whole super-blocks.
  EXPECT_TRUE(kernels::cuda::fragment_form_supports(FragmentForm::kQ4K, TensorType::kQ4_K, 512));
  EXPECT_FALSE(kernels::cuda::fragment_form_supports(FragmentForm::kQ4K, TensorType::kQ6_K, 512));
  EXPECT_FALSE(kernels::cuda::fragment_form_supports(FragmentForm::kQ6K, TensorType::kQ4_K, 512));
  EXPECT_TRUE(kernels::cuda::fragment_form_supports(FragmentForm::kQ8, TensorType::kQ5_0, 96));
  EXPECT_FALSE(kernels::cuda::fragment_form_supports(FragmentForm::kQ8, TensorType::kQ4_K, 256));
  DeviceBuffer<uint8_t> copy, weights;
  ASSERT_TRUE(copy.allocate(4096));
  ASSERT_TRUE(weights.allocate(4096));
  EXPECT_EQ(kernels::cuda::repack_to_fragments(copy.get(), FragmentForm::kQ4K, weights.get(),
                                               TensorType::kQ8_0, 34, 1, 256, nullptr)
                .code(),
            ErrorCode::kUnsupported);
  p.weight = copy.get();
  p.x = reinterpret_cast<const __half*>(weights.get());
  float y = 0.0f;
  p.y = &y;
  p.columns = 1;
  p.out_features = 1;
  p.in_features = 128;  // a multiple of 16, not of 256
  p.form = FragmentForm::kQ4K;
  EXPECT_EQ(kernels::cuda::fragment_mma(p, nullptr).code(), ErrorCode::kInvalidArgument);
  // The SwiGLU form's packed result may not share memory with its packed input (every block reads
  // all inputs while it writes its rows: a race).
  p.form = FragmentForm::kHalf;
  p.in_features = 32;
  p.out_features = 16;
  p.up_weight = copy.get();
  p.y_packed = const_cast<__half*>(p.x) + 16;
  const Status overlap = kernels::cuda::fragment_mma(p, nullptr);
  EXPECT_EQ(overlap.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(overlap.message().find("overlaps the packed input"), std::string::npos) << overlap.message();
}

}  // namespace
}  // namespace llama_worker::conformance
