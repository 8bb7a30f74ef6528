// main() for GoogleTest suites that need a CUDA device. Without one, prints the reason and exits
// with 77, which CTest reports as SKIPPED (never as passed).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
  int count = 0;
  const cudaError_t result = cudaGetDeviceCount(&count);
  if (result != cudaSuccess || count == 0) {
    std::printf("SKIPPED: no CUDA device available (%s)\n",
                result != cudaSuccess ? cudaGetErrorString(result) : "the driver reports 0 devices");
    return 77;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
