#pragma once

#include "bot/http.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::test {

/// One request as the fake server received it.
struct FakeRequest {
    std::string method;
    std::string target;     // path and query, as sent
    core::Headers headers;  // names lower-cased, in the order received
    std::string body;
    std::size_t connection = 0;  // which TCP connection it came on: 1, 2, … in accept order

    /// The first header called `lower_name`, or nullptr.
    [[nodiscard]] const std::string* header(std::string_view lower_name) const;
    bool operator==(const FakeRequest&) const = default;
};

/// What the fake server answers. Content-Length is set from `body`, unless `headers` ask for
/// `Transfer-Encoding: chunked` (then the body goes out chunked, with no length up front).
struct FakeResponse {
    int status = 200;
    core::Headers headers{};
    std::string body{};
    std::chrono::milliseconds delay{0};   // answer this late; other connections go on meanwhile
    bool close_without_response = false;  // drop the connection instead of answering
};

using FakeHandler = std::function<FakeResponse(const FakeRequest&)>;

/// A real HTTP/1.1 server on 127.0.0.1:<ephemeral port> with its own thread, for tests of
/// HTTP clients. Keep-alive and concurrent connections; records every request. The handler
/// runs on the server thread.
class FakeHttpServer {
public:
    /// Starts listening and serving; the default handler answers `200` with an empty body.
    explicit FakeHttpServer(FakeHandler handler = {});
    /// Stops serving, drops open connections and joins the server thread.
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    /// Replaces the handler for requests that arrive from now on (thread-safe).
    void set_handler(FakeHandler handler);

    [[nodiscard]] std::uint16_t port() const;
    /// `http://127.0.0.1:<port>`
    [[nodiscard]] std::string base_url() const;
    /// `base_url() + target`, e.g. `url("/health?x=1")`.
    [[nodiscard]] std::string url(std::string_view target) const;
    /// A copy of every request received so far, in arrival order (thread-safe).
    [[nodiscard]] std::vector<FakeRequest> requests() const;
    /// Waits until at least `n` requests have arrived; on timeout says what did arrive.
    [[nodiscard]] testing::AssertionResult wait_for_requests(
        std::size_t n, std::chrono::milliseconds timeout) const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace rollbot::test
