#pragma once

#include "bot/http.hpp"
#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>

namespace rollbot::core {

/// Performs HTTP requests without blocking the io_context. Any status is a response;
/// errors are for requests that got no response (network, TLS, timeout).
class HttpClient {
public:
    virtual ~HttpClient() = default;
    virtual boost::asio::awaitable<Result<HttpResponse>> send(HttpRequest request) = 0;
};

}  // namespace rollbot::core
