// Status: the result of an operation at a module boundary (LevelDB style).
// An OK status carries no message; an error carries a code and a message that
// names what is wrong and where. Status is a value type: copy it freely.
// Thread-safety: distinct Status objects may be used from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace fls {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad parameters, sizes, names: the caller's mistake
    kNotFound,         // an object, file or chunk that should exist does not
    kCorruption,       // data or metadata fails its checksum or format
    kIOError,          // the operating system refused a read/write/fsync
    kNoSpace,          // a target is full (ENOSPC)
    kUnavailable,      // a backend or device that cannot be used on this host
    kUnrecoverable,    // more losses than the code can repair
    kCancelled,        // the work was cancelled by request
    kInternal,         // a broken invariant inside fls: a bug
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status NoSpace(std::string msg) { return {Code::kNoSpace, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Unrecoverable(std::string msg) { return {Code::kUnrecoverable, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {Code::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: k must be at least 1 (got 0)", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

}  // namespace fls

// Returns early from the enclosing function when `expr` yields an error Status.
#define FLS_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::fls::Status fls_status_ = (expr);        \
    if (!fls_status_.ok()) return fls_status_; \
  } while (0)
