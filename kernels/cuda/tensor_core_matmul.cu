#include "cuda/tensor_core_matmul.cuh"

#include <cublas_api.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "cuda/cuda_check.hpp"
#include "cuda/quant_dispatch.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// The four cuBLAS entry points this path needs, resolved once per process.
struct CublasApi {
  using Create = cublasStatus_t (*)(cublasHandle_t*);
  using Destroy = cublasStatus_t (*)(cublasHandle_t);
  using SetStream = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
  using SetWorkspace = cublasStatus_t (*)(cublasHandle_t, void*, size_t);
  using GemmEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                    const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                                    int, const void*, void*, cudaDataType, int, cublasComputeType_t,
                                    cublasGemmAlgo_t);
  Create create = nullptr;
  Destroy destroy = nullptr;
  SetStream set_stream = nullptr;
  SetWorkspace set_workspace = nullptr;
  GemmEx gemm_ex = nullptr;
  std::string error;
};

// No library-owned workspace pool (it takes 64 MiB on Hopper): every session hands cuBLAS a
// workspace of its own (TensorCoreSession::set_workspace). A value the user set is kept. Once per
// process, on the thread that first asks (preload_tensor_core_library runs it before starting
// its own thread, so the environment changes before other threads of ours run).
void set_cublas_environment() {
  static std::once_flag once;
  std::call_once(once, [] { setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0", 0); });
}

const CublasApi& cublas_api() {
  static const CublasApi api = [] {
    CublasApi loaded;
    set_cublas_environment();
    const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      const char* why = dlerror();
      loaded.error = "cannot load " + name + ": " + (why != nullptr ? why : "unknown error");
      return loaded;
    }
    loaded.create = reinterpret_cast<CublasApi::Create>(dlsym(library, "cublasCreate_v2"));
    loaded.destroy = reinterpret_cast<CublasApi::Destroy>(dlsym(library, "cublasDestroy_v2"));
    loaded.set_stream = reinterpret_cast<CublasApi::SetStream>(dlsym(library, "cublasSetStream_v2"));
    loaded.gemm_ex = reinterpret_cast<CublasApi::GemmEx>(dlsym(library, "cublasGemmEx"));
    loaded.set_workspace = reinterpret_cast<CublasApi::SetWorkspace>(dlsym(library, "cublasSetWorkspace_v2"));
    if (loaded.create == nullptr || loaded.destroy == nullptr || loaded.set_stream == nullptr ||
        loaded.set_workspace == nullptr || loaded.gemm_ex == nullptr) {
      loaded.error = name +
                     " lacks cublasCreate_v2, cublasDestroy_v2, cublasSetStream_v2, cublasSetWorkspace_v2 or "
                     "cublasGemmEx";
    }
    return loaded;  // the library stays loaded for the process
  }();
  return api;
}

Error cublas_error(cublasStatus_t status, const char* call) {
  return make_error(ErrorCode::kDeviceError, std::string(call) + " failed with cuBLAS status " +
                                                 std::to_string(static_cast<int>(status)));
}

// rows x in_features weights from `weight` to fp16, one thread per 8-element chunk.
template <typename Traits>
__global__ void dequantize_f16_kernel(__half* out, const uint8_t* weight, int64_t row_bytes, int64_t rows,
                                      int64_t in_features) {
  const int64_t chunks_per_row = in_features / kChunk;
  const int64_t chunk = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (chunk >= rows * chunks_per_row) return;
  const int64_t row = chunk / chunks_per_row;
  const int64_t c = chunk % chunks_per_row;
  constexpr int kChunksPerBlock = Traits::kElements / kChunk;
  float w[kChunk];
  Traits::decode(weight + row * row_bytes + (c / kChunksPerBlock) * Traits::kBytes,
                 static_cast<int>(c % kChunksPerBlock) * kChunk, w);
  __align__(16) __half h[kChunk];
#pragma unroll
  for (int i = 0; i < kChunk; ++i) h[i] = __float2half_rn(w[i]);
  *reinterpret_cast<uint4*>(out + row * in_features + c * kChunk) = *reinterpret_cast<const uint4*>(h);
}

__global__ void to_half_kernel(__half* out, const float* x, int64_t tokens, int64_t width, int64_t x_stride) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= tokens * width) return;
  out[index] = __float2half_rn(x[(index / width) * x_stride + index % width]);
}

// y = bias (or y += bias when accumulating) before the GEMM, which then adds W x with beta 1:
// the bias costs no pass after the GEMM, and every element of y is written by our own kernel
// first (compute-sanitizer's initcheck does not see cuBLAS's sm90 stores: reading y after a GEMM
// that wrote it first is reported as uninitialized; ci/probes/cublas_initcheck_probe.cu).
__global__ void seed_with_bias_kernel(float* y, const float* bias, int64_t tokens, int64_t width,
                                      int64_t y_stride, bool accumulate) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= tokens * width) return;
  float& out = y[(index / width) * y_stride + index % width];
  out = accumulate ? out + bias[index % width] : bias[index % width];
}

unsigned blocks_for(int64_t count, int threads) {
  return static_cast<unsigned>((count + threads - 1) / threads);
}

}  // namespace

void preload_tensor_core_library() {
  static std::once_flag started;
  std::call_once(started, [] {
    set_cublas_environment();
    // Detached: cublas_api()'s thread-safe static makes any later caller wait for this load.
    // Without a thread to be had, the first session loads the library itself.
    try {
      std::thread([] { cublas_api(); }).detach();
    } catch (const std::system_error&) {
    }
  });
}

Result<std::unique_ptr<TensorCoreSession>> TensorCoreSession::create(cudaStream_t stream) {
  const CublasApi& api = cublas_api();
  if (!api.error.empty())
    return make_error(ErrorCode::kUnsupported, "tensor-core prefill unavailable: " + api.error);
  std::unique_ptr<TensorCoreSession> session(new TensorCoreSession());
  cublasHandle_t handle = nullptr;
  cublasStatus_t status = api.create(&handle);
  if (status != CUBLAS_STATUS_SUCCESS) return cublas_error(status, "cublasCreate");
  session->handle_ = handle;
  status = api.set_stream(handle, stream);
  if (status != CUBLAS_STATUS_SUCCESS) return cublas_error(status, "cublasSetStream");
  return Result<std::unique_ptr<TensorCoreSession>>(std::move(session));
}

Status TensorCoreSession::set_workspace(void* workspace, int64_t bytes) {
  if (workspace == nullptr || bytes <= 0)
    return make_error(ErrorCode::kInvalidArgument, "cuBLAS workspace: none given");
  const cublasStatus_t status =
      cublas_api().set_workspace(static_cast<cublasHandle_t>(handle_), workspace, static_cast<size_t>(bytes));
  if (status != CUBLAS_STATUS_SUCCESS) return cublas_error(status, "cublasSetWorkspace");
  return Status::ok();
}

TensorCoreSession::~TensorCoreSession() {
  if (handle_ != nullptr) cublas_api().destroy(static_cast<cublasHandle_t>(handle_));
}

Status tensor_core_matmul(const TensorCoreSession& session, const TensorCoreMatmulParams& params,
                          cudaStream_t stream) {
  TensorCoreMatmulParams p = params;
  if (p.x_stride == 0) p.x_stride = p.in_features;
  if (p.y_stride == 0) p.y_stride = p.out_features;
  if (p.y == nullptr || p.x == nullptr || p.weight == nullptr || p.weight_tile == nullptr ||
      p.x_half == nullptr || p.tokens <= 0 || p.out_features <= 0 || p.weight_tile_elements < p.in_features ||
      p.in_features > INT32_MAX || p.out_features > INT32_MAX || p.tokens > INT32_MAX ||
      p.y_stride > INT32_MAX) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tensor_core_matmul: null pointer, bad shape or scratch too small");
  }
  LW_TRY(check_weight_rows(p.weight_type, p.in_features, p.weight_row_bytes, "tensor_core_matmul"));
  const CublasApi& api = cublas_api();
  constexpr int kThreads = 256;
  to_half_kernel<<<blocks_for(p.tokens * p.in_features, kThreads), kThreads, 0, stream>>>(
      p.x_half, p.x, p.tokens, p.in_features, p.x_stride);
  LW_CUDA_TRY_LAUNCH();
  // Whole multiples of 128 rows per tile keep every tile's output columns 16-byte aligned (an
  // unaligned y + first made cuBLAS fall back to its slowest align-1 kernels on Phi-3).
  constexpr int64_t kTileRowMultiple = 128;
  int64_t tile_rows = p.weight_tile_elements / p.in_features;
  if (tile_rows >= kTileRowMultiple) tile_rows -= tile_rows % kTileRowMultiple;
  const float alpha = 1.0f;
  if (p.bias != nullptr) {
    seed_with_bias_kernel<<<blocks_for(p.tokens * p.out_features, kThreads), kThreads, 0, stream>>>(
        p.y, p.bias, p.tokens, p.out_features, p.y_stride, p.accumulate);
    LW_CUDA_TRY_LAUNCH();
  }
  const float beta = p.accumulate || p.bias != nullptr ? 1.0f : 0.0f;
  for (int64_t first = 0; first < p.out_features; first += tile_rows) {
    const int64_t rows = p.out_features - first < tile_rows ? p.out_features - first : tile_rows;
    LW_TRY(visit_weight_type(p.weight_type, [&](auto traits) -> Status {
      using Traits = decltype(traits);
      dequantize_f16_kernel<Traits>
          <<<blocks_for(rows * p.in_features / kChunk, kThreads), kThreads, 0, stream>>>(
              p.weight_tile, p.weight + first * p.weight_row_bytes, p.weight_row_bytes, rows, p.in_features);
      LW_CUDA_TRY_LAUNCH();
      return Status::ok();
    }));
    // cuBLAS is column-major: the row-major W tile (rows x in) is a column-major (in x rows) matrix,
    // hence OP_T; row-major x (tokens x in) is column-major (in x tokens); C = W x^T is (rows x
    // tokens) column-major with leading dimension y_stride, which is row-major y.
    const cublasStatus_t status = api.gemm_ex(
        static_cast<cublasHandle_t>(session.handle()), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows),
        static_cast<int>(p.tokens), static_cast<int>(p.in_features), &alpha, p.weight_tile, CUDA_R_16F,
        static_cast<int>(p.in_features), p.x_half, CUDA_R_16F, static_cast<int>(p.in_features), &beta,
        p.y + first, CUDA_R_32F, static_cast<int>(p.y_stride), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (status != CUBLAS_STATUS_SUCCESS) return cublas_error(status, "cublasGemmEx");
  }
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
