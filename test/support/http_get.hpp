#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::test {

/// A raw HTTP/1.x exchange with 127.0.0.1:port, blocking with a deadline (tests only).
struct RawResponse {
    int status = 0;       // 0 when no status line came back
    std::string headers;  // the header block as received
    std::string body;
    std::string raw;  // everything received
};

/// Sends `request` as is, reads until the peer closes or `timeout` passes.
[[nodiscard]] RawResponse http_exchange(
    std::uint16_t port,
    std::string_view request,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// `GET path` (or another method) with `Connection: close`.
[[nodiscard]] RawResponse http_get(std::uint16_t port,
                                   std::string_view path,
                                   std::string_view method = "GET");

/// The port in a daemon log line `http.listening address=HOST:PORT`, if present.
[[nodiscard]] std::optional<std::uint16_t> listening_port(std::string_view log);

}  // namespace rollbot::test
