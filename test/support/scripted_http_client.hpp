#pragma once

// An in-process HttpClient for unit tests of code that speaks HTTP: no sockets, no thread.
#include "bot/http.hpp"
#include "bot/ports/http_client.hpp"

#include <vector>

namespace rollbot::test {

/// Answers every request with one scripted result and remembers what it was asked.
class ScriptedHttpClient final : public core::HttpClient {
public:
    /// `answer` is a response (any status) or an error (the request got no response).
    explicit ScriptedHttpClient(core::Result<core::HttpResponse> answer);

    boost::asio::awaitable<core::Result<core::HttpResponse>> send(
        core::HttpRequest request) override;

    /// Every request sent so far, in order.
    [[nodiscard]] const std::vector<core::HttpRequest>& requests() const { return requests_; }

private:
    core::Result<core::HttpResponse> answer_;
    std::vector<core::HttpRequest> requests_;
};

}  // namespace rollbot::test
