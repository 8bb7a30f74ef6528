// Error handling for library code: functions return Status or Result<T>; only the CLI decides
// to exit. Exceptions never cross a module boundary and never reach the C API.
//
// An Error carries a code (what kind of failure, stable across releases, mapped 1:1 onto the
// C API's status codes) and a message written for the user ("tensor 'blk.0.attn_q.weight':
// offset 4096 is past the end of the file (size 1024)").
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace llama_worker {

enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument,  // a caller passed a bad value (NaN temperature, id out of range, ...)
  kNotFound,         // a file, key, tensor or device that does not exist
  kIoError,          // open/mmap/read failed
  kMalformedFile,    // a file that violates its format
  kUnsupported,      // valid input the engine cannot run (unknown architecture, IQ type, ...)
  kOutOfMemory,      // host or device allocation failed, or a plan does not fit
  kDeviceError,      // a CUDA or cuBLAS call failed
  kOutOfRange,       // context length, token budget exceeded
  kCancelled,        // the caller stopped the operation
  kInternal,         // a broken invariant: a bug in this project
};

// Human name of a code, e.g. "malformed file".
const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// Status: success, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status ok() { return {}; }

  bool is_ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  ErrorCode code() const { return ok_ ? ErrorCode::kOk : error_.code; }
  const std::string& message() const { return error_.message; }

 private:
  Error error_{ErrorCode::kOk, {}};
  bool ok_ = true;
};

// Result<T>: a value, or an Error (std::expected arrives with C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : storage_(std::move(error)) {}  // NOLINT: implicit by design
  Result(Status status) : storage_(status.error()) {}  // NOLINT: only from a failed Status

  bool is_ok() const { return std::holds_alternative<T>(storage_); }
  explicit operator bool() const { return is_ok(); }

  T& value() & { return std::get<T>(storage_); }
  const T& value() const& { return std::get<T>(storage_); }
  T&& value() && { return std::get<T>(std::move(storage_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(storage_); }
  Status status() const { return is_ok() ? Status::ok() : Status(error()); }

 private:
  std::variant<T, Error> storage_;
};

// Builds an Error from a code and a message.
inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace llama_worker

// Propagate a failed Status/Result from the current function.
#define LW_TRY(expr)                                                            \
  do {                                                                          \
    auto lw_try_status_ = (expr);                                               \
    if (!lw_try_status_) return ::llama_worker::Status(lw_try_status_.error()); \
  } while (0)

#define LW_CONCAT_INNER(a, b) a##b
#define LW_CONCAT(a, b) LW_CONCAT_INNER(a, b)
// LW_ASSIGN_OR_RETURN(auto x, make_x()); declares x from a Result or returns its Error.
#define LW_ASSIGN_OR_RETURN(decl, expr) LW_ASSIGN_OR_RETURN_IMPL(LW_CONCAT(lw_result_, __LINE__), decl, expr)
#define LW_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                              \
  if (!tmp) return tmp.error();                   \
  decl = std::move(tmp).value()
