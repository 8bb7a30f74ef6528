// Run-time settings of the CUDA backend, shared by its load (cuda_backend_load.cpp) and its
// forward pass (cuda_backend.cpp): which decode fusions and whether tensor-core prefill are used,
// each overridable from the environment for A/B measurements (README, "Measured").
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace llama_worker::runtime::cuda {

// Decode fusions, as bits: Q, K and V stored apart computed by one launch; the RMSNorm computed
// inside the following product (attention input, feed-forward input, output logits).
inline constexpr unsigned kDecodeFusionQkvLaunch = 1;
inline constexpr unsigned kDecodeFusionAttentionNorm = 2;
inline constexpr unsigned kDecodeFusionFeedForwardNorm = 4;
inline constexpr unsigned kDecodeFusionOutputNorm = 8;
// RoPE and the KV store inside the split-KV attention launch (cos/sin from a table).
inline constexpr unsigned kDecodeFusionRopeAttention = 16;
// The RMSNorm after each residual product computed by that product's last block (no norm launch).
// Same bits (tested), but measured slower on the H100 (2026-12-06, A/B in one call): Qwen shape
// tg128 1,074 -> 849 tok/s, Phi-3 394 -> 304; the last block's serial norm costs more than the
// launch it saves. Not in the default.
inline constexpr unsigned kDecodeFusionTailNorm = 32;
inline constexpr unsigned kDecodeFusionDefault = kDecodeFusionQkvLaunch | kDecodeFusionRopeAttention;

// Tensor-core prefill, from LLAMA_WORKER_TENSOR_CORE_PREFILL (1 on, 0 off). On by default: on the
// H100 it made pp512 13x faster (Qwen 2,219 -> 29,084 tok/s) and 10x (Phi-3 527 -> 5,329), with the
// exact-shape GPU-vs-CPU tests passing (README, "Measured").
inline constexpr bool kTensorCorePrefillDefault = true;
inline constexpr int64_t kTensorCoreMinTokens = 16;

inline bool tensor_core_prefill_setting() {
  const char* setting = std::getenv("LLAMA_WORKER_TENSOR_CORE_PREFILL");
  if (setting == nullptr || *setting == '\0') return kTensorCorePrefillDefault;
  return std::strcmp(setting, "0") != 0;
}

// Tensor-core prefill attention (kernels/cuda/attention_prefill_mma.cu), from
// LLAMA_WORKER_TENSOR_CORE_ATTENTION (1 on, 0 off); always off with tensor-core prefill off
// (LLAMA_WORKER_TENSOR_CORE_PREFILL=0 keeps the whole prefill on fp32 CUDA cores). On by default:
// on the H100 (2026-12-06) pp512 @ d2048 went from 29,080 to 84,116 tok/s (Qwen shape) and
// pp512 @ d3000 from 5,756 to 25,289 (Phi-3), with op conformance and the exact-shape suite passing.
inline constexpr bool kTensorCoreAttentionDefault = true;

inline bool tensor_core_attention_setting() {
  if (!tensor_core_prefill_setting()) return false;
  const char* setting = std::getenv("LLAMA_WORKER_TENSOR_CORE_ATTENTION");
  if (setting == nullptr || *setting == '\0') return kTensorCoreAttentionDefault;
  return std::strcmp(setting, "0") != 0;
}

// Programmatic dependent launch (kernels/cuda/launch.cuh) for the one-inference decode step, from
// LLAMA_WORKER_DECODE_PDL (1 on, 0 off).
// Measured on the H100 (2026-12-06 22:30-22:33, f3815fa's binaries, tg128, PDL on every launch
// against off): Qwen2.5-0.5B (896 wide) 1,054 -> 870 tok/s, Phi-3-mini (3,072) 393 -> 409, the
// Llama-2-7B shape (4,096) 244 -> 260: small models' kernels are short and PDL's waiting blocks
// delay them; large models' products overlap their start with the previous kernel's tail. With the
// int8 products (LLAMA_WORKER_DECODE_INT8, below; 2026-12-07 02:49-03:00) it no longer pays: 7B
// shape 346 -> 307 tok/s with PDL, Phi-3-mini 489 -> 484. So it stays off by default;
// LLAMA_WORKER_DECODE_PDL=wide turns it on for models at least kDecodePdlMinWidth wide.
inline constexpr int64_t kDecodePdlMinWidth = 2048;

// Unset: no choice here (launches follow LLAMA_WORKER_PDL, kernels/cuda/launch.cuh).
inline std::optional<bool> decode_pdl_setting(int64_t embedding_width) {
  const char* setting = std::getenv("LLAMA_WORKER_DECODE_PDL");
  if (setting == nullptr || *setting == '\0') return std::nullopt;
  if (std::strcmp(setting, "wide") == 0) return embedding_width >= kDecodePdlMinWidth;
  return std::strcmp(setting, "0") != 0;
}

// LLAMA_WORKER_DECODE_INT8 (1 on, 0 off, `wide` on for models at least kDecodeInt8MinWidth wide;
// unset = `wide`): the one-inference decode products of Q4_K and Q6_K matrices read x quantized to
// int8 runs of 32 (kernels/cuda/quant_gemv_int8.cuh: integer dot products, as llama.cpp's mmvq)
// instead of fp32. Measured on the H100 (2026-12-07 02:49-03:00, b5476f7's binaries, tg128, A/B in
// one call): Llama-2-7B shape 256 -> 344 tok/s, Phi-3-mini 392 -> 489; the kernel bench puts the
// 7B gate/up/SwiGLU at 45% -> 59% of the copy rate and Phi-3's Q/K/V at 31% -> 43%. Qwen2.5-0.5B
// (896 wide, its matrices mostly Q5_0 / Q8_0, latency-bound) stays fp32: its Q4_K down product
// took 6.7 -> 7.3 us. Precision: Phi-3's decode logits move from NMSE ~3e-7 to 2.6-3.0e-4 against
// the CPU reference (same top-1), llama.cpp's arithmetic; `0` keeps fp32.
inline constexpr int64_t kDecodeInt8MinWidth = 2048;

inline bool decode_int8_setting(int64_t embedding_width) {
  const char* setting = std::getenv("LLAMA_WORKER_DECODE_INT8");
  if (setting == nullptr || *setting == '\0' || std::strcmp(setting, "wide") == 0)
    return embedding_width >= kDecodeInt8MinWidth;
  return std::strcmp(setting, "0") != 0;
}

// LLAMA_WORKER_GROUPED_ATTENTION (1 on, 0 off): the one-inference decode attention reads each K/V
// row once for all query heads of its group (kernels/cuda/attention_decode_grouped.cu) instead of
// once per query head. On by default: measured on the H100 (2026-12-07 02:49-03:00, b5476f7's
// binaries), Qwen2.5-0.5B tg128 at depth 16,384 634 -> 865 tok/s and at 32,000 471 -> 686-709
// (llama.cpp 675 / 597 in the same run); at depth 0 981 vs 1,029 (within the run-to-run spread of
// that figure, 994-1,064 over the day's runs). Its conformance tests pass (both kernels).
inline constexpr bool kGroupedAttentionDefault = true;

inline bool grouped_attention_setting() {
  const char* setting = std::getenv("LLAMA_WORKER_GROUPED_ATTENTION");
  if (setting == nullptr || *setting == '\0') return kGroupedAttentionDefault;
  return std::strcmp(setting, "0") != 0;
}

// With LLAMA_WORKER_BATCHED_WEIGHTS=quant (below; the default reads fp16 fragments instead): the
// batched step's products (cuda_batched_forward.cpp) on tensor cores (quant_mma_columns) where
// the matrix allows, else on CUDA cores (quant_gemv_columns); from LLAMA_WORKER_BATCHED_TENSOR_CORES
// (1 on, 0 off). Read once at load: a backend never mixes the two for one matrix, so a sequence's
// bits stay independent of the batch either way (both pass gpu_cuda_batched_tests). On by
// default: measured on the H100 (2026-12-06, e8e9fa0, bench --parallel, pp128 tg128, aggregate
// decode tok/s at 1 / 4 / 16 / 64 streams), tensor cores vs CUDA cores: Qwen 188 / 539 / 999 /
// 1,229 vs 471 / 746 / 881 / 998; Phi-3 81 / 302 / 1,022 / 1,955 vs 281 / 443 / 460 / 535 (the
// CUDA-core Phi-3 row from the same day's earlier call, before the host-side fixes). Faster from
// 16 streams on, slower for one to four (README, "Many inferences: where it stands").
inline constexpr bool kBatchedTensorCoresDefault = true;

inline bool batched_tensor_cores_setting() {
  const char* setting = std::getenv("LLAMA_WORKER_BATCHED_TENSOR_CORES");
  if (setting == nullptr || *setting == '\0') return kBatchedTensorCoresDefault;
  return std::strcmp(setting, "0") != 0;
}

// Where the batched step's products read their weights, from LLAMA_WORKER_BATCHED_WEIGHTS:
// "coded" (the default): every matrix repacked once, when the paged pool is first allocated, into
// mma fragment order (kernels/cuda/fragment_mma.cuh); Q4_K, Q6_K, Q8_0, Q5_0 and Q4_0 matrices keep
// their quantized values (4.625 / 8.56 / 8.5 bits per weight, decoded in registers in fp16
// arithmetic), the other types are decoded to fp16 (2 bytes per weight). "f16": every matrix decoded
// to fp16 (Qwen2.5-0.5B ~0.95 GiB, Phi-3-mini ~7.1 GiB beside the file's copy). A coded K-quant
// weight is within about one fp16 rounding of the fp16 copy's (fragment_forms.cuh) and its sums run
// in its own step order, so the two settings' bits differ slightly; each is batch invariant.
// "quant": the products decode the file's blocks themselves (quant_mma_columns /
// quant_gemv_columns, no extra memory, slower). Measured on the H100 (2026-12-06, 13437ed, A/B in
// one call, Qwen shape, aggregate decode at 1 / 4 / 16 / 64 streams): f16 467 / 1,069 / 1,575 /
// 1,749 tok/s, quant 189 / 551 / 1,278 / 1,555; coded vs f16 (2026-12-06 12:38, 887a975, one call,
// Phi-3 shape): 335 / 1,308 / 4,357 / 7,387 vs 272 / 1,064 / 3,687 / 7,461. Copies are made only for
// max_inferences >= 2.
enum class BatchedWeights { kCoded, kHalf, kQuant };

inline BatchedWeights batched_weights_setting() {
  const char* setting = std::getenv("LLAMA_WORKER_BATCHED_WEIGHTS");
  if (setting == nullptr || *setting == '\0') return BatchedWeights::kCoded;
  if (std::strcmp(setting, "quant") == 0) return BatchedWeights::kQuant;
  if (std::strcmp(setting, "f16") == 0) return BatchedWeights::kHalf;
  return BatchedWeights::kCoded;
}

// Programmatic dependent launch (kernels/cuda/launch.cuh) for the batched step's kernels, per
// kernel family, from LLAMA_WORKER_BATCHED_PDL (a mask of the bits below; 15 all, 0 none): each
// kernel may be scheduled while its predecessor runs and waits for it before touching what it
// wrote. The default, products + RoPE + attention (13), was chosen on the H100 (2026-12-06 20:05-20:12,
// f9576d0's binaries, pp128 tg128, S_TG at 1 / 16 / 64 streams): Qwen2.5-0.5B 1,058-1,066 /
// 13,257-13,369 / 23,463-23,770 tok/s against none 1,008-1,012 / 12,899-13,029 / 23,938-24,168 and
// all 1,041-1,051 / 12,462-12,553 / 22,110-22,282 (the norms' PDL cost 64 streams 8%); Phi-3-mini
// 426 / 4,820 / 7,873 against none 412 / 4,910 / 8,090. The one-inference path gave one Qwen stream
// 1,042-1,063 in the same calls. The batch-dependent bits PDL exposed at first were a race in the
// SwiGLU form's packed output (fixed in 04ed726), not PDL's; gpu_cuda_batched_tests pass with 13 and 15.
inline constexpr unsigned kBatchedPdlProducts = 1, kBatchedPdlNorms = 2, kBatchedPdlRope = 4,
                          kBatchedPdlAttention = 8;
inline constexpr unsigned kBatchedPdlDefault = kBatchedPdlProducts | kBatchedPdlRope | kBatchedPdlAttention;

inline unsigned batched_pdl_setting() {
  const char* setting = std::getenv("LLAMA_WORKER_BATCHED_PDL");
  if (setting == nullptr || *setting == '\0') return kBatchedPdlDefault;
  return static_cast<unsigned>(std::strtoul(setting, nullptr, 0)) & 15u;
}

// With int8 decode products (decode_int8_setting) the three RMSNorms go inside the products by
// default: the int8 block reads x anyway to quantize it. Measured on the H100 (tg128, A/B in one
// call): 2026-12-07 06:45 Phi-3-mini 490 -> 513 tok/s, Llama-2-7B shape 349 -> 349; 07:01 (this
// default against fusion 17) Phi-3-mini 482 -> 510, 7B 348 -> 347, every gate passing with it.
inline constexpr unsigned kDecodeFusionNormsInProducts =
    kDecodeFusionAttentionNorm | kDecodeFusionFeedForwardNorm | kDecodeFusionOutputNorm;

inline unsigned decode_fusion_setting(bool int8_products) {
  const char* setting = std::getenv("LLAMA_WORKER_DECODE_FUSION");
  if (setting == nullptr || *setting == '\0')
    return kDecodeFusionDefault | (int8_products ? kDecodeFusionNormsInProducts : 0u);
  return static_cast<unsigned>(std::strtoul(setting, nullptr, 0)) & 63u;
}

}  // namespace llama_worker::runtime::cuda
