#pragma once

#include "bot/http.hpp"
#include "bot/ports/http_client.hpp"
#include "bot/verification.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace rollbot::actions {

/// Probes the service's health URL (`verify.health_url`) over HTTP.
class HealthVerifier {
public:
    /// `http` must outlive the verifier; `timeout` bounds each probe, connecting included.
    HealthVerifier(core::HttpClient& http,
                   std::string health_url,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));

    /// GETs the URL once, never follows a redirect and never fails: 2xx is healthy, any other
    /// status is unhealthy with `status` set, no answer is unhealthy with the reason in
    /// `detail`. `detail` never contains the URL's query.
    boost::asio::awaitable<core::HealthCheck> check_health();

private:
    core::HttpClient& http_;
    std::string url_;
    std::chrono::milliseconds timeout_;
};

}  // namespace rollbot::actions
