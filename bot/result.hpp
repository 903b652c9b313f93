#pragma once

#include <boost/system/result.hpp>
#include <boost/throw_exception.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace rollbot::core {

/// What kind of expected failure an operation met; callers branch on this, people read `message`.
enum class ErrorKind {
    Invalid,        // bad input: a command, a config value, a malformed payload
    NotFound,       // a deployment, revision, user or message that does not exist
    Unauthorized,   // missing or revoked credentials, forbidden by RBAC
    Conflict,       // somebody else changed the object first, or a lock is held
    Timeout,        // a deadline passed
    Network,        // connection refused, DNS, reset
    Tls,            // handshake or certificate failure
    Http4xx,        // the peer rejected the request
    Http5xx,        // the peer failed
    RateLimited,    // 429; `retry_after` says how long to wait
    Protocol,       // the peer answered something we cannot interpret
    ProcessFailed,  // a child process could not be started or exited non-zero
    Cancelled,      // stopped on purpose (shutdown, /rollback cancel)
    Storage,        // the state file could not be read or written
    Unavailable,    // not done yet; queued to be retried (the outbox)
};

/// An expected failure: a kind to branch on, and a message that starts with the operation.
struct Error {
    Error() = default;
    Error(ErrorKind k, std::string m) : kind(k), message(std::move(m)) {}

    ErrorKind kind{ErrorKind::Invalid};
    std::string message;
    std::optional<int> http_status;
    std::optional<int> exit_code;
    std::optional<std::chrono::milliseconds> retry_after;

    bool operator==(const Error&) const = default;
};

/// Found by ADL when `Result<T>::value()` is called on an error: bugs only, never control flow.
[[noreturn]] inline void throw_exception_from_error(const Error& e,
                                                    const boost::source_location& loc) {
    boost::throw_exception(std::runtime_error(e.message), loc);
}

template <class T>
using Result = boost::system::result<T, Error>;

[[nodiscard]] inline Error make_error(ErrorKind kind, std::string message) {
    return Error{kind, std::move(message)};
}

[[noreturn]] void check_failed(const char* expr, const char* msg, const char* file, int line);

}  // namespace rollbot::core

/// Invariant that can only fail through a bug: logs and aborts (the supervisor restarts us).
#define ROLLBOT_CHECK(cond, msg)                                             \
    do {                                                                     \
        if (!(cond)) {                                                       \
            ::rollbot::core::check_failed(#cond, (msg), __FILE__, __LINE__); \
        }                                                                    \
    } while (false)
