#pragma once

#include "actions/health_verifier.hpp"
#include "actions/prometheus.hpp"
#include "bot/http.hpp"
#include "bot/ports/http_client.hpp"
#include "bot/ports/verifier.hpp"
#include "bot/settings.hpp"
#include "bot/verification.hpp"

namespace rollbot::actions {

/// `core::Verifier` over HTTP: the health endpoint and Prometheus named in `verify.*`.
class ServiceVerifier final : public core::Verifier {
public:
    /// `http` and `settings` must outlive the verifier.
    ServiceVerifier(core::HttpClient& http, const core::VerifySettings& settings);

    boost::asio::awaitable<core::HealthCheck> check_health() override;
    boost::asio::awaitable<core::MetricReading> error_rate() override;
    boost::asio::awaitable<core::MetricReading> p95_latency() override;
    boost::asio::awaitable<std::optional<std::chrono::system_clock::time_point>> error_rate_rise(
        std::chrono::system_clock::time_point from,
        std::chrono::system_clock::time_point to) override;

private:
    const core::VerifySettings& settings_;
    HealthVerifier health_;
    PrometheusClient prometheus_;
};

}  // namespace rollbot::actions
