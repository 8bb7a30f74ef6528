// Paged KV store and attention (kernels/cuda/paged_kv.cu) against the CPU twin, and the batch
// invariance they promise: a row's output bits depend only on its query, its position and its
// sequence's K/V, not on the other rows of the launch, their number or the row's index.
//
// The pool holds several layers (the one under test in the middle) with shuffled, non-contiguous
// block tables; every slot no sequence owns is NaN, so a read of the wrong block, layer or
// position shows in the output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "conformance_util.hpp"
#include "cpu/attention.hpp"
#include "cuda/fragment_mma.cuh"
#include "cuda/paged_kv.cuh"
#include "cuda/rope.cuh"
#include "quant/half.hpp"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using kernels::testing::DeviceBuffer;

constexpr int64_t kBlockPositions = 16;
constexpr int64_t kLayers = 3;
constexpr int64_t kLayer = 1;  // the layer under test
constexpr uint16_t kHalfNan = 0x7E00;
// fp32 on both sides over the same fp16 K/V; only the order of the sums differs (as the CUDA-core
// attention's budget in layer_ops_conformance_test.cpp).
constexpr double kPagedAttentionBudget = 1e-10;

struct Shape {
  int64_t heads, kv_heads, head_dim, window;
};

struct Sequence {
  int64_t length;      // positions with K/V in the pool
  int64_t query_rows;  // rows of the batch: its last query_rows positions (1: decode; more: a prefill chunk)
};

// The pool (host copy), each sequence's table and contiguous K/V, the batch rows and the CPU twin's output.
struct PagedProblem {
  Shape shape{};
  int64_t kv_width = 0, slab = 0, block_stride = 0, pool_blocks = 0, width = 0, q_stride = 0;
  std::vector<std::vector<int32_t>> tables;
  std::vector<uint16_t> pool;
  std::vector<int64_t> row_sequence, row_position;
  std::vector<float> q;         // (rows, q_stride)
  std::vector<float> expected;  // (rows, width)
  DeviceBuffer<uint16_t> d_pool;

  int64_t rows() const { return static_cast<int64_t>(row_sequence.size()); }
  std::string describe() const {
    return "heads " + std::to_string(shape.heads) + "/" + std::to_string(shape.kv_heads) + " dim " +
           std::to_string(shape.head_dim) + " window " + std::to_string(shape.window);
  }
};

int64_t slot(const PagedProblem& p, int32_t block, int64_t position_in_block, int which) {
  return block * p.block_stride + (kLayer * 2 + which) * p.slab + position_in_block * p.kv_width;
}

// Shuffled block ids (a few spare blocks stay NaN), fills the sequences' K/V and computes the
// CPU twin per sequence on its contiguous, fp16-rounded K/V.
bool prepare(PagedProblem& p, const Shape& shape, const std::vector<Sequence>& sequences) {
  p.shape = shape;
  p.kv_width = shape.kv_heads * shape.head_dim;
  p.slab = kBlockPositions * p.kv_width;
  p.block_stride = kLayers * 2 * p.slab;
  p.width = shape.heads * shape.head_dim;
  p.q_stride = p.width + 8;  // as in a fused QKV buffer: rows wider than the queries
  int64_t needed = 0;
  for (const auto& s : sequences) needed += (s.length + kBlockPositions - 1) / kBlockPositions;
  p.pool_blocks = needed + 5;
  std::vector<int32_t> ids(static_cast<size_t>(p.pool_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), generator());
  p.pool.assign(static_cast<size_t>(p.pool_blocks * p.block_stride), kHalfNan);

  size_t next_id = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const Sequence& seq = sequences[s];
    std::vector<int32_t> table;
    for (int64_t b = 0; b * kBlockPositions < seq.length; ++b) table.push_back(ids[next_id++]);
    std::vector<float> keys(static_cast<size_t>(seq.length * p.kv_width));
    std::vector<float> values(keys.size());
    for (int64_t j = 0; j < seq.length; ++j) {
      const auto k = random_floats(static_cast<size_t>(p.kv_width));
      const auto v = random_floats(static_cast<size_t>(p.kv_width));
      const int32_t block = table[static_cast<size_t>(j / kBlockPositions)];
      for (int64_t i = 0; i < p.kv_width; ++i) {
        const uint16_t k_half = quant::f32_to_f16(k[static_cast<size_t>(i)]);
        const uint16_t v_half = quant::f32_to_f16(v[static_cast<size_t>(i)]);
        p.pool[static_cast<size_t>(slot(p, block, j % kBlockPositions, 0) + i)] = k_half;
        p.pool[static_cast<size_t>(slot(p, block, j % kBlockPositions, 1) + i)] = v_half;
        keys[static_cast<size_t>(j * p.kv_width + i)] = quant::f16_to_f32(k_half);
        values[static_cast<size_t>(j * p.kv_width + i)] = quant::f16_to_f32(v_half);
      }
    }
    p.tables.push_back(table);

    const auto queries = random_floats(static_cast<size_t>(seq.query_rows * p.width));
    std::vector<float> out(queries.size(), 0.0f);
    kernels::cpu::AttentionParams cpu;
    cpu.out = out.data();
    cpu.q = queries.data();
    cpu.k = keys.data();
    cpu.v = values.data();
    cpu.q_tokens = seq.query_rows;
    cpu.kv_tokens = seq.length;
    cpu.heads = shape.heads;
    cpu.kv_heads = shape.kv_heads;
    cpu.head_dim = shape.head_dim;
    cpu.q_position_offset = seq.length - seq.query_rows;
    cpu.sliding_window = shape.window;
    kernels::cpu::attention_f32(cpu);
    for (int64_t t = 0; t < seq.query_rows; ++t) {
      p.row_sequence.push_back(static_cast<int64_t>(s));
      p.row_position.push_back(seq.length - seq.query_rows + t);
      std::vector<float> padded(static_cast<size_t>(p.q_stride), 0.5f);
      std::copy_n(queries.begin() + t * p.width, p.width, padded.begin());
      p.q.insert(p.q.end(), padded.begin(), padded.end());
      p.expected.insert(p.expected.end(), out.begin() + t * p.width, out.begin() + (t + 1) * p.width);
    }
  }
  const bool uploaded = static_cast<bool>(p.d_pool.upload(p.pool));
  EXPECT_TRUE(uploaded) << "pool upload";
  return uploaded;
}

kernels::cuda::PagedKvLayout layout_of(const PagedProblem& p) {
  kernels::cuda::PagedKvLayout kv;
  auto* base = reinterpret_cast<__half*>(p.d_pool.get());
  kv.k = base + (kLayer * 2 + 0) * p.slab;
  kv.v = base + (kLayer * 2 + 1) * p.slab;
  kv.block_stride = p.block_stride;
  kv.block_positions = kBlockPositions;
  kv.kv_heads = p.shape.kv_heads;
  kv.head_dim = p.shape.head_dim;
  return kv;
}

// Runs the rows `order` (indices into the problem's rows) in one launch; returns (rows, width) in
// the problem's row order, rows not in `order` left NaN. Only the tables of the sequences used go
// to the device, after `table_shift` unused entries, so the tables' offsets differ between runs.
// With `packed`, the launch runs a second time writing the packed fp16 output
// (PagedAttentionParams::out_packed) instead, downloaded there in launch order.
std::vector<float> run_rows(const PagedProblem& p, const std::vector<int64_t>& order, int64_t table_shift,
                            std::vector<uint16_t>* packed = nullptr) {
  std::vector<int32_t> tables(static_cast<size_t>(table_shift), -1);
  std::vector<int32_t> sequence_offset(p.tables.size(), -1);
  std::vector<int32_t> row_table, row_positions;
  std::vector<float> q;
  for (const int64_t r : order) {
    const auto s = static_cast<size_t>(p.row_sequence[static_cast<size_t>(r)]);
    if (sequence_offset[s] < 0) {
      sequence_offset[s] = static_cast<int32_t>(tables.size());
      tables.insert(tables.end(), p.tables[s].begin(), p.tables[s].end());
    }
    row_table.push_back(sequence_offset[s]);
    row_positions.push_back(static_cast<int32_t>(p.row_position[static_cast<size_t>(r)]));
    q.insert(q.end(), p.q.begin() + r * p.q_stride, p.q.begin() + (r + 1) * p.q_stride);
  }
  const auto rows = static_cast<int64_t>(order.size());
  const int64_t out_stride = p.width + 4;
  DeviceBuffer<int32_t> d_tables, d_row_table, d_positions;
  DeviceBuffer<float> d_q, d_out;
  std::vector<float> result(static_cast<size_t>(p.rows() * p.width), NAN);
  const bool uploaded = d_tables.upload(tables) && d_row_table.upload(row_table) &&
                        d_positions.upload(row_positions) && d_q.upload(q) &&
                        d_out.allocate(static_cast<size_t>(rows * out_stride));
  EXPECT_TRUE(uploaded) << "device buffers";
  if (!uploaded) return result;
  kernels::cuda::PagedAttentionParams params;
  params.out = d_out.get();
  params.out_stride = out_stride;
  params.q = d_q.get();
  params.q_stride = p.q_stride;
  params.kv = layout_of(p);
  params.kv.block_tables = d_tables.get();
  params.kv.row_table = d_row_table.get();
  params.kv.row_positions = d_positions.get();
  params.rows = rows;
  params.heads = p.shape.heads;
  params.sliding_window = p.shape.window;
  const Status status = kernels::cuda::paged_attention(params, nullptr);
  EXPECT_TRUE(status) << status.message();
  if (packed != nullptr) {
    DeviceBuffer<uint16_t> d_packed;
    const auto halves = static_cast<size_t>(kernels::cuda::fragment_activation_halves(rows, p.width));
    EXPECT_TRUE(d_packed.upload(std::vector<uint16_t>(halves, kHalfNan)));
    params.out = nullptr;
    params.out_packed = reinterpret_cast<__half*>(d_packed.get());
    const Status packed_status = kernels::cuda::paged_attention(params, nullptr);
    EXPECT_TRUE(packed_status) << packed_status.message();
    auto bytes = d_packed.download();
    EXPECT_TRUE(bytes.is_ok());
    if (bytes.is_ok()) *packed = std::move(*bytes);
  }
  auto out = d_out.download();
  EXPECT_TRUE(out.is_ok());
  if (!status || !out.is_ok()) return result;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t r = order[static_cast<size_t>(i)];
    std::copy_n(out->begin() + i * out_stride, p.width, result.begin() + r * p.width);
  }
  return result;
}

bool same_row_bits(const PagedProblem& p, const std::vector<float>& a, const std::vector<float>& b,
                   int64_t r) {
  return std::memcmp(a.data() + r * p.width, b.data() + r * p.width,
                     static_cast<size_t>(p.width) * sizeof(float)) == 0;
}

// Lengths 1, 17, 100 and 300; the 100-long sequence runs a prefill chunk of 9 rows beside the
// others' decode rows.
const std::vector<Sequence> kMixedBatch = {{17, 1}, {100, 9}, {1, 1}, {300, 1}};

const Shape kShapes[] = {
    {14, 2, 64, 0}, {14, 2, 64, 40},  // Qwen2.5 heads: 7 query heads per KV head
    {6, 3, 96, 0},  {6, 3, 96, 40},   // Phi-3 head dimension, 2 per KV head
    {8, 8, 128, 0}, {8, 4, 128, 40},  // Llama head dimension, 1 and 2 per KV head
    {4, 2, 64, 1},                    // a window of one: each row sees only itself
};

std::vector<int64_t> all_rows(const PagedProblem& p) {
  std::vector<int64_t> order(static_cast<size_t>(p.rows()));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

void check_against_cpu(const Shape& shape, const std::vector<Sequence>& sequences) {
  PagedProblem p;
  ASSERT_TRUE(prepare(p, shape, sequences));
  const auto out = run_rows(p, all_rows(p), 0);
  const double error = nmse(out, p.expected);
  std::printf("paged attention %s: NMSE %.3g\n", p.describe().c_str(), error);
  EXPECT_LE(error, kPagedAttentionBudget) << p.describe();
}

TEST(PagedAttentionConformance, MixedPrefillAndDecodeRowsMatchTheCpuTwin) {
  for (const Shape& shape : kShapes) check_against_cpu(shape, kMixedBatch);
}

TEST(PagedAttentionConformance, LongContexts) {
  const std::vector<Sequence> deep = {{4100, 1}, {33, 5}, {2, 2}, {1500, 3}};
  check_against_cpu({8, 2, 128, 0}, deep);
  check_against_cpu({14, 2, 64, 1000}, deep);
  check_against_cpu({32, 8, 96, 0}, deep);
}

// Each row alone (its own table only, at offset 0 of a one-row launch), in the full batch, in a
// shuffled order with the tables at other offsets, and a second run: the same bits every time.
void check_batch_invariance(const Shape& shape) {
  PagedProblem p;
  ASSERT_TRUE(prepare(p, shape, kMixedBatch));
  const auto order = all_rows(p);
  const auto batch = run_rows(p, order, 0);
  EXPECT_LE(nmse(batch, p.expected), kPagedAttentionBudget) << p.describe();
  auto shuffled = order;
  std::reverse(shuffled.begin(), shuffled.end());
  std::shuffle(shuffled.begin() + 2, shuffled.end(), generator());
  const auto reordered = run_rows(p, shuffled, 7);
  const auto again = run_rows(p, order, 0);
  EXPECT_EQ(std::memcmp(batch.data(), again.data(), batch.size() * sizeof(float)), 0)
      << "second run changed bits, " << p.describe();
  for (const int64_t r : order) {
    const auto alone = run_rows(p, {r}, 0);
    EXPECT_TRUE(same_row_bits(p, batch, alone, r))
        << "row " << r << " alone vs in the batch, " << p.describe();
    EXPECT_TRUE(same_row_bits(p, batch, reordered, r))
        << "row " << r << " in another order, " << p.describe();
  }
  // A subset: the prefill chunk without the decode rows, and the decode rows without it.
  std::vector<int64_t> chunk, decode;
  for (const int64_t r : order) (p.row_sequence[static_cast<size_t>(r)] == 1 ? chunk : decode).push_back(r);
  const auto chunk_only = run_rows(p, chunk, 3);
  const auto decode_only = run_rows(p, decode, 0);
  for (const int64_t r : chunk) EXPECT_TRUE(same_row_bits(p, batch, chunk_only, r)) << "chunk row " << r;
  for (const int64_t r : decode) EXPECT_TRUE(same_row_bits(p, batch, decode_only, r)) << "decode row " << r;
}

// The packed output (the output projection's input, written by the attention itself) holds the
// fp16 rounding of every row's output at fragment_activation_index: what pack_fragment_activations
// makes of out.
TEST(PagedAttentionConformance, PackedOutputIsThePackOfTheOutput) {
  for (const Shape& shape : {kShapes[0], kShapes[3], kShapes[5]}) {
    PagedProblem p;
    ASSERT_TRUE(prepare(p, shape, kMixedBatch));
    std::vector<uint16_t> packed;
    const auto order = all_rows(p);
    const auto out = run_rows(p, order, 0, &packed);
    const int64_t rows = p.rows();
    ASSERT_EQ(static_cast<int64_t>(packed.size()), kernels::cuda::fragment_activation_halves(rows, p.width));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < p.width; ++k) {
        const auto at = static_cast<size_t>(kernels::cuda::fragment_activation_index(r, k, rows));
        ASSERT_EQ(packed[at], quant::f32_to_f16(out[static_cast<size_t>(r * p.width + k)]))
            << p.describe() << " row " << r << " element " << k;
      }
    }
  }
}

TEST(PagedAttentionInvariance, RowBitsDoNotDependOnTheBatch) {
  for (const Shape& shape : kShapes) check_batch_invariance(shape);
}

// paged_kv_store writes each row's K and V, rounded to fp16, at its block and offset of the layer
// under test, from strided inputs (K and V inside a fused QKV row), and nothing else in the pool.
void check_store(int64_t kv_heads, int64_t head_dim) {
  PagedProblem p;
  p.shape = {kv_heads, kv_heads, head_dim, 0};
  p.kv_width = kv_heads * head_dim;
  p.slab = kBlockPositions * p.kv_width;
  p.block_stride = kLayers * 2 * p.slab;
  p.pool_blocks = 12;
  std::vector<int32_t> ids(static_cast<size_t>(p.pool_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), generator());
  // Sequence 0: a prefill chunk over positions 0..20 (two blocks); 1: a decode row at 47; 2: at 16.
  p.tables = {{ids[0], ids[1]}, {ids[2], ids[3], ids[4]}, {ids[5], ids[6]}};
  const std::vector<int32_t> tables = {ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6]};
  const std::vector<int32_t> table_offsets = {0, 2, 5};
  std::vector<int32_t> row_table, row_positions;
  std::vector<size_t> row_sequence;
  for (int32_t position = 0; position <= 20; ++position) {
    row_table.push_back(table_offsets[0]);
    row_positions.push_back(position);
    row_sequence.push_back(0);
  }
  row_table.insert(row_table.begin() + 5, table_offsets[1]);
  row_positions.insert(row_positions.begin() + 5, 47);
  row_sequence.insert(row_sequence.begin() + 5, 1);
  row_table.push_back(table_offsets[2]);
  row_positions.push_back(16);
  row_sequence.push_back(2);
  const auto rows = static_cast<int64_t>(row_positions.size());
  const int64_t q_width = 3 * p.kv_width, fused = q_width + 2 * p.kv_width + 1;
  const auto qkv = random_floats(static_cast<size_t>(rows * fused));

  p.pool.assign(static_cast<size_t>(p.pool_blocks * p.block_stride), kHalfNan);
  std::vector<uint16_t> expected = p.pool;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t position = row_positions[static_cast<size_t>(r)];
    const int32_t block =
        p.tables[row_sequence[static_cast<size_t>(r)]][static_cast<size_t>(position / kBlockPositions)];
    for (int64_t i = 0; i < p.kv_width; ++i) {
      const auto at = static_cast<size_t>(r * fused + q_width + i);
      expected[static_cast<size_t>(slot(p, block, position % kBlockPositions, 0) + i)] =
          quant::f32_to_f16(qkv[at]);
      expected[static_cast<size_t>(slot(p, block, position % kBlockPositions, 1) + i)] =
          quant::f32_to_f16(qkv[at + static_cast<size_t>(p.kv_width)]);
    }
  }
  DeviceBuffer<int32_t> d_tables, d_row_table, d_positions;
  DeviceBuffer<float> d_qkv;
  ASSERT_TRUE(p.d_pool.upload(p.pool));
  ASSERT_TRUE(d_tables.upload(tables) && d_row_table.upload(row_table) && d_positions.upload(row_positions) &&
              d_qkv.upload(qkv));
  auto kv = layout_of(p);
  kv.block_tables = d_tables.get();
  kv.row_table = d_row_table.get();
  kv.row_positions = d_positions.get();
  const Status status = kernels::cuda::paged_kv_store(
      kv, d_qkv.get() + q_width, fused, d_qkv.get() + q_width + p.kv_width, fused, rows, nullptr);
  ASSERT_TRUE(status) << status.message();
  const auto pool = p.d_pool.download();
  ASSERT_TRUE(pool.is_ok());
  EXPECT_TRUE(*pool == expected) << "kv_heads " << kv_heads << " head_dim " << head_dim;

  // RoPE with the fused paged store (the batched step's way) = RoPE, then paged_kv_store of its
  // result: the same rotated rows and the same pool, bit for bit.
  kernels::cuda::RopeParams rope;
  rope.positions = d_positions.get();
  rope.tokens = rows;
  rope.heads = 3 * kv_heads + kv_heads;  // the query heads, then the K heads
  rope.head_dim = head_dim;
  rope.rotary_dims = head_dim - 8;
  rope.token_stride = fused;
  rope.freq_base = 1000000.0f;
  DeviceBuffer<float> d_separate, d_fused;
  ASSERT_TRUE(d_separate.upload(qkv) && d_fused.upload(qkv));
  rope.x = d_separate.get();
  ASSERT_TRUE(kernels::cuda::rope_f32(rope, nullptr));
  ASSERT_TRUE(p.d_pool.upload(p.pool));
  ASSERT_TRUE(kernels::cuda::paged_kv_store(kv, d_separate.get() + q_width, fused,
                                            d_separate.get() + q_width + p.kv_width, fused, rows, nullptr));
  const auto separate_pool = p.d_pool.download();
  ASSERT_TRUE(p.d_pool.upload(p.pool));
  rope.x = d_fused.get();
  rope.paged = kv;
  rope.v = d_fused.get() + q_width + p.kv_width;
  rope.kv_head_begin = 3 * kv_heads;
  const Status fused_status = kernels::cuda::rope_f32(rope, nullptr);
  ASSERT_TRUE(fused_status) << fused_status.message();
  const auto fused_pool = p.d_pool.download();
  const auto separate_rows = d_separate.download(), fused_rows = d_fused.download();
  ASSERT_TRUE(separate_pool.is_ok() && fused_pool.is_ok() && separate_rows.is_ok() && fused_rows.is_ok());
  EXPECT_TRUE(*fused_pool == *separate_pool)
      << "fused store, kv_heads " << kv_heads << " head_dim " << head_dim;
  EXPECT_EQ(std::memcmp(fused_rows->data(), separate_rows->data(), qkv.size() * sizeof(float)), 0);
  EXPECT_FALSE(*fused_pool == p.pool);  // something was stored
}

TEST(PagedKvStoreConformance, WritesEachRowAtItsBlockAndOffsetAlsoFusedWithRope) {
  check_store(2, 64);
  check_store(3, 96);
  check_store(1, 40);  // any head dimension: the store has no per-size instance
}

// Store then attend, as a step runs: the rows of a prefill chunk see the K/V the same launch
// sequence stored for their own and earlier positions.
TEST(PagedKvStoreConformance, StoreThenAttendMatchesTheCpuTwin) {
  PagedProblem p;
  const Shape shape = {14, 2, 64, 0};
  ASSERT_TRUE(prepare(p, shape, {{50, 1}, {37, 37}}));
  // Clear sequence 1's slots of the pool, then store its K/V (read back from the host copy) again.
  const auto& table = p.tables[1];
  std::vector<float> k(static_cast<size_t>(37 * p.kv_width)), v(k.size());
  std::vector<uint16_t> cleared = p.pool;
  std::vector<int32_t> positions(37), row_table(37, 0);
  for (int64_t j = 0; j < 37; ++j) {
    positions[static_cast<size_t>(j)] = static_cast<int32_t>(j);
    const int32_t block = table[static_cast<size_t>(j / kBlockPositions)];
    for (int64_t i = 0; i < p.kv_width; ++i) {
      const auto k_at = static_cast<size_t>(slot(p, block, j % kBlockPositions, 0) + i);
      const auto v_at = static_cast<size_t>(slot(p, block, j % kBlockPositions, 1) + i);
      k[static_cast<size_t>(j * p.kv_width + i)] = quant::f16_to_f32(p.pool[k_at]);
      v[static_cast<size_t>(j * p.kv_width + i)] = quant::f16_to_f32(p.pool[v_at]);
      cleared[k_at] = cleared[v_at] = kHalfNan;
    }
  }
  DeviceBuffer<int32_t> d_table, d_row_table, d_positions;
  DeviceBuffer<float> d_k, d_v;
  ASSERT_TRUE(p.d_pool.upload(cleared));
  ASSERT_TRUE(d_table.upload(table) && d_row_table.upload(row_table) && d_positions.upload(positions) &&
              d_k.upload(k) && d_v.upload(v));
  auto kv = layout_of(p);
  kv.block_tables = d_table.get();
  kv.row_table = d_row_table.get();
  kv.row_positions = d_positions.get();
  ASSERT_TRUE(kernels::cuda::paged_kv_store(kv, d_k.get(), 0, d_v.get(), 0, 37, nullptr));
  const auto pool = p.d_pool.download();
  ASSERT_TRUE(pool.is_ok());
  EXPECT_TRUE(*pool == p.pool) << "the store did not restore the pool";
  const auto out = run_rows(p, all_rows(p), 0);
  EXPECT_LE(nmse(out, p.expected), kPagedAttentionBudget);
}

// Bad parameters come back as errors before any launch.
TEST(PagedAttentionConformance, BadParametersAreErrors) {
  PagedProblem p;
  ASSERT_TRUE(prepare(p, {4, 2, 64, 0}, {{20, 2}}));
  DeviceBuffer<int32_t> d_tables, d_row_table, d_positions;
  DeviceBuffer<float> d_q, d_out;
  ASSERT_TRUE(d_tables.upload(p.tables[0]) && d_row_table.upload({0, 0}) && d_positions.upload({18, 19}) &&
              d_q.upload(p.q) && d_out.allocate(static_cast<size_t>(2 * p.width)));
  kernels::cuda::PagedAttentionParams good;
  good.out = d_out.get();
  good.q = d_q.get();
  good.q_stride = p.q_stride;
  good.kv = layout_of(p);
  good.kv.block_tables = d_tables.get();
  good.kv.row_table = d_row_table.get();
  good.kv.row_positions = d_positions.get();
  good.rows = 2;
  good.heads = 4;
  ASSERT_TRUE(kernels::cuda::paged_attention(good, nullptr));
  EXPECT_LE(nmse(*d_out.download(), p.expected), kPagedAttentionBudget);

  auto expect_error = [&](kernels::cuda::PagedAttentionParams bad, ErrorCode code, const char* what) {
    const Status status = kernels::cuda::paged_attention(bad, nullptr);
    EXPECT_EQ(status.code(), code) << what << ": " << status.message();
  };
  auto bad = good;
  bad.kv.head_dim = 80;
  bad.kv.block_stride = kLayers * 2 * kBlockPositions * 2 * 80;
  expect_error(bad, ErrorCode::kUnsupported, "head_dim 80");
  bad = good, bad.heads = 5;
  expect_error(bad, ErrorCode::kInvalidArgument, "heads not a multiple of kv_heads");
  bad = good, bad.q = nullptr;
  expect_error(bad, ErrorCode::kInvalidArgument, "null q");
  bad = good, bad.out = nullptr;
  expect_error(bad, ErrorCode::kInvalidArgument, "null out");
  bad = good, bad.kv.block_tables = nullptr;
  expect_error(bad, ErrorCode::kInvalidArgument, "null block tables");
  bad = good, bad.kv.row_positions = nullptr;
  expect_error(bad, ErrorCode::kInvalidArgument, "null positions");
  bad = good, bad.rows = -1;
  expect_error(bad, ErrorCode::kInvalidArgument, "negative rows");
  bad = good, bad.sliding_window = -1;
  expect_error(bad, ErrorCode::kInvalidArgument, "negative window");
  bad = good, bad.q_stride = p.width - 1;
  expect_error(bad, ErrorCode::kInvalidArgument, "q_stride below the width");
  bad = good, bad.kv.block_positions = 0;
  expect_error(bad, ErrorCode::kInvalidArgument, "block_positions 0");
  bad = good, bad.kv.block_stride += 4;
  expect_error(bad, ErrorCode::kInvalidArgument, "block_stride not a multiple of 8");
  bad = good, bad.kv.k += 1;
  expect_error(bad, ErrorCode::kInvalidArgument, "misaligned K");
  bad = good, bad.rows = 0, bad.q = nullptr;
  EXPECT_TRUE(kernels::cuda::paged_attention(bad, nullptr)) << "no rows: nothing to do";

  const float* k = d_q.get();
  const int64_t kv_width = p.kv_width;
  EXPECT_EQ(kernels::cuda::paged_kv_store(good.kv, nullptr, 0, k, 0, 2, nullptr).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(kernels::cuda::paged_kv_store(good.kv, k, kv_width - 1, k, 0, 2, nullptr).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(kernels::cuda::paged_kv_store(good.kv, k, 0, k, 0, -1, nullptr).code(),
            ErrorCode::kInvalidArgument);
  auto no_table = good.kv;
  no_table.row_table = nullptr;
  EXPECT_EQ(kernels::cuda::paged_kv_store(no_table, k, 0, k, 0, 2, nullptr).code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llama_worker::conformance
