// Smoke test for the GPU machine: the device is visible, has memory, and runs a kernel that
// matches its CPU twin.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cpu/residual_add.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/device_info.hpp"
#include "cuda/residual_add.cuh"

namespace llama_worker::kernels {
namespace {

TEST(DeviceQuery, ListsAtLeastOneDeviceWithMemory) {
  auto devices = cuda::list_devices();
  ASSERT_TRUE(devices) << devices.error().message;
  ASSERT_FALSE(devices->empty());
  for (const auto& device : *devices) {
    std::printf("device %d: %s, sm_%d%d, %d SMs, %.1f GiB total, %.1f GiB free, L2 %.1f MiB\n", device.index,
                device.name.c_str(), device.compute_major, device.compute_minor, device.multiprocessor_count,
                device.total_memory / 1073741824.0, device.free_memory / 1073741824.0,
                device.l2_cache_bytes / 1048576.0);
    EXPECT_GT(device.total_memory, 0);
    EXPECT_GT(device.free_memory, 0);
    EXPECT_GT(device.multiprocessor_count, 0);
  }
}

Status run_residual_add(const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& out) {
  const size_t bytes = a.size() * sizeof(float);
  float* device_buffers[3] = {nullptr, nullptr, nullptr};
  Status status = [&]() -> Status {
    for (auto*& buffer : device_buffers) LW_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&buffer), bytes));
    LW_CUDA_TRY(cudaMemcpy(device_buffers[0], a.data(), bytes, cudaMemcpyHostToDevice));
    LW_CUDA_TRY(cudaMemcpy(device_buffers[1], b.data(), bytes, cudaMemcpyHostToDevice));
    LW_CUDA_TRY(cudaMemset(device_buffers[2], 0xFF, bytes));  // poison: NaN everywhere
    LW_TRY(cuda::residual_add_f32(device_buffers[2], device_buffers[0], device_buffers[1],
                                  static_cast<int64_t>(a.size()), nullptr));
    LW_CUDA_TRY(cudaMemcpy(out.data(), device_buffers[2], bytes, cudaMemcpyDeviceToHost));
    return Status::ok();
  }();
  for (auto* buffer : device_buffers) cudaFree(buffer);
  return status;
}

TEST(ResidualAdd, MatchesCpuTwinAtOddSizes) {
  std::mt19937 generator(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t count : {1, 7, 255, 257, 4097, 1000003}) {
    std::vector<float> a(count), b(count), expected(count), actual(count);
    for (auto& x : a) x = normal(generator);
    for (auto& x : b) x = normal(generator);
    cpu::residual_add_f32(expected.data(), a.data(), b.data(), count);
    Status status = run_residual_add(a, b, actual);
    ASSERT_TRUE(status) << status.message();
    for (int64_t i = 0; i < count; ++i) {
      ASSERT_EQ(expected[i], actual[i]) << "count " << count << " index " << i;
    }
  }
}

}  // namespace
}  // namespace llama_worker::kernels
