// CpuBackend's batched forward over the paged KV pool (batched_backend.hpp).
//
// The rows of every entry are stacked into one (rows, width) activation and pass the same ops as
// forward(): embedding, rmsnorm, matmuls, swiglu and residual adds are row-wise (each output row
// depends on its input row only, with the fixed-order dot product of kernels/cpu/matmul), so
// stacking changes no bit. The two per-sequence ops run per entry: RoPE at the entry's own
// positions, and attention, which first gathers the entry's K/V [0, start + n) from its blocks
// into a contiguous scratch and then calls the same attention_f32 as forward() on it. So an
// entry's logits are bit-identical to forward() on that sequence alone, whatever else is in the
// batch (cpu_batched_forward_test proves it per architecture).
#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "cpu/attention.hpp"
#include "cpu/embedding.hpp"
#include "cpu/residual_add.hpp"
#include "cpu/rmsnorm.hpp"
#include "cpu/rope.hpp"
#include "cpu/swiglu.hpp"
#include "runtime/cpu_backend.hpp"

namespace llama_worker::runtime {
namespace {

namespace cpu = kernels::cpu;

cpu::RopeStyle kernel_rope_style(model::RopeStyle style) {
  return style == model::RopeStyle::kNeox ? cpu::RopeStyle::kNeox : cpu::RopeStyle::kNormal;
}

}  // namespace

kv_pool::KvGeometry CpuBackend::kv_geometry() const {
  return {.layers = static_cast<int64_t>(layers_.size()),
          .kv_width = config().kv_width(),
          .bytes_per_element = 4};
}

Status CpuBackend::allocate_kv_blocks(const kv_pool::KvPoolPlan& plan) {
  const kv_pool::KvGeometry mine = kv_geometry();
  if (plan.geometry.layers != mine.layers || plan.geometry.kv_width != mine.kv_width ||
      plan.geometry.bytes_per_element != mine.bytes_per_element) {
    return make_error(ErrorCode::kInvalidArgument,
                      "allocate_kv_blocks: the plan is for another model's geometry");
  }
  if (plan.blocks_total <= 0 || plan.block_positions <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "allocate_kv_blocks: the plan has no blocks");
  }
  paged_kv_.clear();
  paged_kv_.shrink_to_fit();
  paged_plan_ = {};
  try {
    paged_kv_.assign(static_cast<size_t>(plan.bytes_total / 4), 0.0f);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kOutOfMemory, "allocate_kv_blocks: cannot allocate " + plan.describe());
  }
  paged_plan_ = plan;
  return Status::ok();
}

float* CpuBackend::paged_slab(int32_t block, int64_t layer, bool value) {
  const int64_t slab = paged_plan_.slab_elements();
  const int64_t index =
      (static_cast<int64_t>(block) * paged_plan_.geometry.layers + layer) * 2 + (value ? 1 : 0);
  return paged_kv_.data() + index * slab;
}

Status CpuBackend::forward_batch(std::span<const BatchEntry> entries, std::vector<float>& logits,
                                 std::vector<int32_t>& greedy) {
  LW_TRY(check_batch_entries(entries, paged_plan_, capacity_, config().vocab_size));
  const model::ModelConfig& c = adapter_.config();
  const model::BlockSpec& spec = adapter_.block();
  const model::ModelWeights& w = adapter_.weights();
  const int64_t embd = c.embedding_width, qw = c.q_width(), kvw = c.kv_width(), ff = c.feed_forward_width;
  const int64_t block_positions = paged_plan_.block_positions;

  // Row layout: entry e owns rows [first_row[e], first_row[e] + tokens); all tokens stacked.
  std::vector<int64_t> first_row(entries.size());
  std::vector<int32_t> tokens;
  int64_t longest_context = 0;
  for (size_t e = 0; e < entries.size(); ++e) {
    first_row[e] = static_cast<int64_t>(tokens.size());
    tokens.insert(tokens.end(), entries[e].tokens.begin(), entries[e].tokens.end());
    longest_context =
        std::max(longest_context, entries[e].start_position + static_cast<int64_t>(entries[e].tokens.size()));
  }
  const int64_t n = static_cast<int64_t>(tokens.size());

  std::vector<float> x(static_cast<size_t>(n * embd)), normed(x.size()),
      attn_out(static_cast<size_t>(n * qw));
  std::vector<float> q(static_cast<size_t>(n * qw)), k(static_cast<size_t>(n * kvw)), v(k.size());
  std::vector<float> projected(x.size());
  std::vector<float> gate_up(static_cast<size_t>(n * 2 * ff)), activated(static_cast<size_t>(n * ff));
  std::vector<float> qkv(spec.fused_qkv ? static_cast<size_t>(n * (qw + 2 * kvw)) : 0);
  // One sequence's K/V gathered from its blocks: (positions, kv_width).
  std::vector<float> k_gathered(static_cast<size_t>(longest_context * kvw)), v_gathered(k_gathered.size());

  LW_TRY(cpu::embedding_lookup_f32({.out = x.data(),
                                    .tokens = tokens.data(),
                                    .token_count = n,
                                    .table = w.token_embd.data,
                                    .table_type = w.token_embd.type,
                                    .table_row_bytes = w.token_embd.row_bytes,
                                    .vocab = c.vocab_size,
                                    .width = embd}));

  for (size_t layer_index = 0; layer_index < layers_.size(); ++layer_index) {
    const Layer& layer = layers_[layer_index];
    cpu::rmsnorm_f32(normed.data(), x.data(), layer.attn_norm.data(), n, embd, c.rms_norm_eps);
    if (spec.fused_qkv) {
      LW_TRY(matmul(layer.wqkv, normed.data(), n, qkv.data()));
      for (int64_t t = 0; t < n; ++t) {
        const float* row = qkv.data() + t * (qw + 2 * kvw);
        std::memcpy(q.data() + t * qw, row, sizeof(float) * qw);
        std::memcpy(k.data() + t * kvw, row + qw, sizeof(float) * kvw);
        std::memcpy(v.data() + t * kvw, row + qw + kvw, sizeof(float) * kvw);
      }
    } else {
      LW_TRY(matmul(layer.wq, normed.data(), n, q.data(), spec.qkv_bias ? layer.bq.data() : nullptr));
      LW_TRY(matmul(layer.wk, normed.data(), n, k.data(), spec.qkv_bias ? layer.bk.data() : nullptr));
      LW_TRY(matmul(layer.wv, normed.data(), n, v.data(), spec.qkv_bias ? layer.bv.data() : nullptr));
    }

    for (size_t e = 0; e < entries.size(); ++e) {
      const BatchEntry& entry = entries[e];
      const int64_t rows = static_cast<int64_t>(entry.tokens.size());
      const int64_t row0 = first_row[e];
      const int64_t p0 = entry.start_position;
      cpu::RopeParams rope{.tokens = rows,
                           .head_dim = c.head_dim,
                           .rotary_dims = c.rope_dims,
                           .position_offset = p0,
                           .freq_base = c.rope_freq_base,
                           .freq_scale = c.rope_freq_scale,
                           .style = kernel_rope_style(spec.rope_style)};
      rope.x = q.data() + row0 * qw;
      rope.heads = c.head_count;
      cpu::rope_f32(rope);
      rope.x = k.data() + row0 * kvw;
      rope.heads = c.kv_head_count;
      cpu::rope_f32(rope);

      // Append this entry's K/V to its blocks, then gather positions [0, p0 + rows) contiguously.
      for (int64_t t = 0; t < rows; ++t) {
        const int64_t position = p0 + t;
        const int32_t block = entry.block_table[static_cast<size_t>(position / block_positions)];
        const int64_t offset = (position % block_positions) * kvw;
        std::memcpy(paged_slab(block, static_cast<int64_t>(layer_index), false) + offset,
                    k.data() + (row0 + t) * kvw, sizeof(float) * kvw);
        std::memcpy(paged_slab(block, static_cast<int64_t>(layer_index), true) + offset,
                    v.data() + (row0 + t) * kvw, sizeof(float) * kvw);
      }
      const int64_t kv_tokens = p0 + rows;
      for (int64_t begin = 0; begin < kv_tokens; begin += block_positions) {
        const int32_t block = entry.block_table[static_cast<size_t>(begin / block_positions)];
        const int64_t count = std::min(block_positions, kv_tokens - begin);
        std::memcpy(k_gathered.data() + begin * kvw,
                    paged_slab(block, static_cast<int64_t>(layer_index), false), sizeof(float) * count * kvw);
        std::memcpy(v_gathered.data() + begin * kvw,
                    paged_slab(block, static_cast<int64_t>(layer_index), true), sizeof(float) * count * kvw);
      }
      cpu::attention_f32({.out = attn_out.data() + row0 * qw,
                          .q = q.data() + row0 * qw,
                          .k = k_gathered.data(),
                          .v = v_gathered.data(),
                          .q_tokens = rows,
                          .kv_tokens = kv_tokens,
                          .heads = c.head_count,
                          .kv_heads = c.kv_head_count,
                          .head_dim = c.head_dim,
                          .q_position_offset = p0,
                          .sliding_window = spec.sliding_window,
                          .threads = threads_});
    }
    LW_TRY(matmul(layer.wo, attn_out.data(), n, projected.data()));
    cpu::residual_add_f32(x.data(), x.data(), projected.data(), n * embd);

    LW_TRY(
        feed_forward(layer, n, x.data(), normed.data(), gate_up.data(), activated.data(), projected.data()));
  }

  // Final norm and logits of the last row of each entry that asks.
  int64_t wanted = 0;
  for (size_t e = 0; e < entries.size(); ++e) {
    if (!entries[e].logits) continue;
    const int64_t last_row = first_row[e] + static_cast<int64_t>(entries[e].tokens.size()) - 1;
    cpu::rmsnorm_f32(normed.data() + wanted * embd, x.data() + last_row * embd, output_norm_.data(), 1, embd,
                     c.rms_norm_eps);
    ++wanted;
  }
  logits.resize(static_cast<size_t>(wanted * c.vocab_size));
  if (wanted > 0) LW_TRY(matmul(output_, normed.data(), wanted, logits.data()));
  split_greedy_rows(entries, c.vocab_size, logits, greedy);
  return Status::ok();
}

}  // namespace llama_worker::runtime
