#include "runtime/kv_pool/kv_pool_plan.hpp"

#include <cstdio>
#include <limits>
#include <string>

namespace llama_worker::runtime::kv_pool {
namespace {

bool multiply(int64_t a, int64_t b, int64_t& out) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return false;
  out = a * b;
  return true;
}

std::string human_bytes(int64_t bytes) {
  char text[32];
  const double value = static_cast<double>(bytes);
  if (bytes >= (int64_t{1} << 30)) {
    std::snprintf(text, sizeof(text), "%.1f GiB", value / (1 << 30));
  } else if (bytes >= (int64_t{1} << 20)) {
    std::snprintf(text, sizeof(text), "%.1f MiB", value / (1 << 20));
  } else {
    std::snprintf(text, sizeof(text), "%.1f KiB", value / (1 << 10));
  }
  return text;
}

}  // namespace

std::string KvPoolPlan::describe() const {
  return std::to_string(blocks_total) + " blocks of " + std::to_string(block_positions) + " positions (" +
         human_bytes(bytes_per_block) + " each), " + human_bytes(bytes_total) + " in all";
}

Result<KvPoolPlan> plan_kv_pool(const KvPoolRequest& request) {
  const KvGeometry& g = request.geometry;
  struct Field {
    const char* name;
    int64_t value;
  };
  for (const Field& field :
       {Field{"layers", g.layers}, Field{"kv width", g.kv_width},
        Field{"bytes per element", g.bytes_per_element}, Field{"max sequences", request.max_sequences},
        Field{"context", request.context}, Field{"block positions", request.block_positions}}) {
    if (field.value <= 0) {
      return make_error(ErrorCode::kInvalidArgument, std::string("KV pool plan: ") + field.name +
                                                         " must be positive, not " +
                                                         std::to_string(field.value));
    }
  }
  if (request.blocks_total < 0 || request.max_bytes < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "KV pool plan: blocks and byte limit must not be negative");
  }
  KvPoolPlan plan;
  plan.geometry = g;
  plan.block_positions = request.block_positions;
  plan.blocks_per_sequence = blocks_for_positions(request.context, request.block_positions);
  const Error overflow = make_error(ErrorCode::kOutOfRange, "KV pool plan: the pool size overflows 64 bits");
  int64_t elements = 0;
  if (!multiply(g.layers * 2, request.block_positions, elements) ||
      !multiply(elements, g.kv_width, elements) ||
      !multiply(elements, g.bytes_per_element, plan.bytes_per_block)) {
    return overflow;
  }
  if (request.blocks_total > 0) {
    plan.blocks_total = request.blocks_total;
  } else if (!multiply(request.max_sequences, plan.blocks_per_sequence, plan.blocks_total)) {
    return overflow;
  }
  if (plan.blocks_total > std::numeric_limits<int32_t>::max()) return overflow;  // block ids are int32
  if (!multiply(plan.blocks_total, plan.bytes_per_block, plan.bytes_total)) return overflow;
  if (request.max_bytes > 0 && plan.bytes_total > request.max_bytes) {
    return make_error(ErrorCode::kOutOfMemory, "the KV pool needs " + plan.describe() + " but only " +
                                                   human_bytes(request.max_bytes) + " are allowed (lower " +
                                                   "max_inferences or the context)");
  }
  return plan;
}

}  // namespace llama_worker::runtime::kv_pool
