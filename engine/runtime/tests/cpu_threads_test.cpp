// The CPU backend's worker count: the caller's, else LLAMA_WORKER_CPU_THREADS, else every core;
// a malformed variable is an error naming it and its value, in cpu_thread_count and at create().
#include "runtime/cpu_threads.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "cpu/parallel.hpp"
#include "model/testing/tiny_model.hpp"
#include "tiny_cpu_backend.hpp"

namespace llama_worker::runtime {
namespace {

constexpr const char* kVariable = "LLAMA_WORKER_CPU_THREADS";

// Sets the variable for one test (nullptr: unset) and puts the previous value back.
class ScopedVariable {
 public:
  explicit ScopedVariable(const char* value) {
    if (const char* old = std::getenv(kVariable)) previous_ = old;
    if (value) {
      ::setenv(kVariable, value, 1);
    } else {
      ::unsetenv(kVariable);
    }
  }
  ~ScopedVariable() {
    if (previous_) {
      ::setenv(kVariable, previous_->c_str(), 1);
    } else {
      ::unsetenv(kVariable);
    }
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  std::optional<std::string> previous_;
};

TEST(CpuThreads, UnsetOrEmptyMeansEveryCore) {
  for (const char* value : {static_cast<const char*>(nullptr), ""}) {
    ScopedVariable variable(value);
    auto count = cpu_thread_count(0);
    ASSERT_TRUE(count) << count.error().message;
    EXPECT_EQ(*count, kernels::cpu::default_thread_count());
  }
}

TEST(CpuThreads, TheVariableSetsTheDefaultAndTheCallerWins) {
  ScopedVariable variable("3");
  auto from_environment = cpu_thread_count(0);
  ASSERT_TRUE(from_environment) << from_environment.error().message;
  EXPECT_EQ(*from_environment, 3);
  auto requested = cpu_thread_count(5);
  ASSERT_TRUE(requested);
  EXPECT_EQ(*requested, 5);
}

TEST(CpuThreads, MalformedValuesAreRefusedNamingThem) {
  for (const char* value : {"0", "-2", "two", "4x", " 4", "4097", "99999999999999999999"}) {
    ScopedVariable variable(value);
    auto count = cpu_thread_count(0);
    ASSERT_FALSE(count) << "'" << value << "' was accepted as " << *count;
    EXPECT_EQ(count.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(count.error().message,
              std::string(kVariable) + " must be a whole number from 1 to 4096, not '" + value + "'");
  }
  ScopedVariable largest("4096");
  auto count = cpu_thread_count(0);
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_EQ(*count, 4096);
}

TEST(CpuThreads, ANegativeRequestIsRefused) {
  auto count = cpu_thread_count(-1);
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(count.error().message.find("-1"), std::string::npos) << count.error().message;
}

TEST(CpuThreads, TheBackendUsesTheVariableAndRefusesAMalformedOne) {
  testing::TinyCpuModel model(model::testing::TinyModelSpec{});
  {
    ScopedVariable variable("2");
    auto backend = CpuBackend::create(*model.file, {.threads = 0});
    ASSERT_TRUE(backend) << backend.error().message;
    EXPECT_EQ((*backend)->thread_count(), 2);
  }
  {
    ScopedVariable variable("many");
    auto backend = CpuBackend::create(*model.file, {.threads = 0});
    ASSERT_FALSE(backend);
    EXPECT_NE(backend.error().message.find("LLAMA_WORKER_CPU_THREADS"), std::string::npos);
    auto explicit_count = CpuBackend::create(*model.file, {.threads = 1});
    ASSERT_TRUE(explicit_count) << "an explicit count does not read the variable";
    EXPECT_EQ((*explicit_count)->thread_count(), 1);
  }
}

}  // namespace
}  // namespace llama_worker::runtime
