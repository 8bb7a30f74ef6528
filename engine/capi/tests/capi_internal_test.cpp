// The C API's internal helpers, driven directly (the public-API tests cannot reach every branch
// in a build without CUDA): the status tables' fallbacks, the ErrorCode -> lw_status mapping, the
// exception guard every entry point runs in, and the device-failure helpers of entry_helpers.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <new>
#include <set>
#include <stdexcept>
#include <string>

#include "capi/entry_helpers.hpp"
#include "capi/status_codes.hpp"
#include "llama_worker.h"

namespace llama_worker::capi {
namespace {

bool is_known_status(lw_status status) { return static_cast<int>(status) >= 0 && status < LW_STATUS_COUNT; }

TEST(CapiStatusTables, ValuesOutsideTheEnumGetTheUnknownTexts) {
  std::set<std::string> names;
  for (int value = 0; value < LW_STATUS_COUNT; ++value)
    names.insert(cuda_status_name(static_cast<lw_status>(value)));
  for (int value : {-1, static_cast<int>(LW_STATUS_COUNT), 1000}) {
    const auto status = static_cast<lw_status>(value);
    const std::string name = cuda_status_name(status);
    const std::string description = cuda_status_string(status);
    EXPECT_FALSE(name.empty()) << value;
    EXPECT_FALSE(description.empty()) << value;
    EXPECT_EQ(names.count(name), 0u) << value << " reads as the known status " << name;
    EXPECT_EQ(name, cuda_status_name(static_cast<lw_status>(-1))) << value;
  }
}

TEST(CapiStatusTables, ApiVersionIsTheHeaders) { EXPECT_EQ(cuda_api_version(), LW_API_VERSION); }

TEST(CapiStatusFromCode, EveryCodeMapsOntoAKnownStatusAndOnlyOkOntoOk) {
  for (int value = static_cast<int>(ErrorCode::kOk); value <= static_cast<int>(ErrorCode::kInternal);
       ++value) {
    const lw_status status = status_from_code(static_cast<ErrorCode>(value));
    EXPECT_TRUE(is_known_status(status)) << error_code_name(static_cast<ErrorCode>(value));
    EXPECT_EQ(status == LW_STATUS_OK, value == static_cast<int>(ErrorCode::kOk))
        << error_code_name(static_cast<ErrorCode>(value)) << " -> " << cuda_status_name(status);
  }
}

TEST(CapiStatusFromCode, ACodeOutsideTheEnumIsInternal) {
  EXPECT_EQ(status_from_code(static_cast<ErrorCode>(-1)), LW_STATUS_INTERNAL);
  EXPECT_EQ(status_from_code(static_cast<ErrorCode>(1000)), LW_STATUS_INTERNAL);
}

TEST(CapiStatusFromCode, DistinctFailureKindsKeepDistinctStatuses) {
  // The caller tells these apart: an I/O failure, a cancelled request, a device fault, a bug.
  const std::set<lw_status> statuses = {
      status_from_code(ErrorCode::kIoError),     status_from_code(ErrorCode::kCancelled),
      status_from_code(ErrorCode::kDeviceError), status_from_code(ErrorCode::kInternal),
      status_from_code(ErrorCode::kOutOfMemory), status_from_code(ErrorCode::kUnsupported)};
  EXPECT_EQ(statuses.size(), 6u);
}

TEST(CapiFail, RecordsTheFunctionAndMessageAsTheLastError) {
  EXPECT_EQ(fail("cuda_test_entry", LW_STATUS_EMPTY_PROMPT, "the prompt is empty"), LW_STATUS_EMPTY_PROMPT);
  EXPECT_EQ(std::string(cuda_last_error()), "cuda_test_entry: the prompt is empty");
}

TEST(CapiGuarded, ReturnsTheBodysStatus) {
  EXPECT_EQ(guarded("cuda_test_entry", [] { return LW_STATUS_CANCELLED; }), LW_STATUS_CANCELLED);
}

TEST(CapiGuarded, BadAllocIsOutOfHostMemory) {
  const lw_status status = guarded("cuda_test_entry", []() -> lw_status { throw std::bad_alloc(); });
  EXPECT_EQ(status, LW_STATUS_OUT_OF_HOST_MEMORY);
  EXPECT_NE(std::string(cuda_last_error()).find("cuda_test_entry: "), std::string::npos) << cuda_last_error();
}

TEST(CapiGuarded, StandardExceptionIsInternalWithItsMessage) {
  const lw_status status =
      guarded("cuda_test_entry", []() -> lw_status { throw std::runtime_error("boom 17"); });
  EXPECT_EQ(status, LW_STATUS_INTERNAL);
  EXPECT_NE(std::string(cuda_last_error()).find("boom 17"), std::string::npos) << cuda_last_error();
}

TEST(CapiGuarded, ExceptionOfUnknownTypeIsInternal) {
  const lw_status status = guarded("cuda_test_entry", []() -> lw_status { throw 42; });
  EXPECT_EQ(status, LW_STATUS_INTERNAL);
  EXPECT_NE(std::string(cuda_last_error()).find("cuda_test_entry: "), std::string::npos) << cuda_last_error();
}

TEST(CapiEntryHelpers, AFailedContextAnswersDeviceFailedWithItsReason) {
  ContextState context;
  context.device = 0;
  EXPECT_EQ(check_context_usable("cuda_test_entry", context), LW_STATUS_OK);
  context.mark_failed("illegal address in kernel x");
  EXPECT_EQ(check_context_usable("cuda_test_entry", context), LW_STATUS_DEVICE_FAILED);
  const std::string message = cuda_last_error();
  EXPECT_NE(message.find("cuda_test_entry: "), std::string::npos) << message;
  EXPECT_NE(message.find("illegal address in kernel x"), std::string::npos) << message;
}

TEST(CapiEntryHelpers, AHostContextNeedsNoDevice) {
  ContextState context;
  context.device = LW_DEVICE_CPU;
  EXPECT_EQ(select_context_device("cuda_test_entry", context), LW_STATUS_OK);
  // A device error on a host-only context is never sticky: the call site's status, the message.
  const Error error = make_error(ErrorCode::kDeviceError, "copy failed");
  EXPECT_EQ(device_work_failed("cuda_test_entry", context, error, LW_STATUS_DEVICE_ERROR),
            LW_STATUS_DEVICE_ERROR);
  EXPECT_FALSE(context.failed.load());
  EXPECT_NE(std::string(cuda_last_error()).find("copy failed"), std::string::npos) << cuda_last_error();
}

TEST(CapiEntryHelpers, AnErrorThatIsNotADeviceErrorKeepsTheCallSitesStatus) {
  ContextState context;
  context.device = 0;
  const Error error = make_error(ErrorCode::kInvalidArgument, "bad top-k");
  EXPECT_EQ(device_work_failed("cuda_test_entry", context, error, LW_STATUS_INVALID_ARGUMENT),
            LW_STATUS_INVALID_ARGUMENT);
  EXPECT_FALSE(context.failed.load());
  EXPECT_EQ(std::string(cuda_last_error()), "cuda_test_entry: bad top-k");
}

}  // namespace
}  // namespace llama_worker::capi
