#pragma once

#include "bot/verification.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>

namespace rollbot::core {

/// The service's own signals after a rollback: the health endpoint and Prometheus (reference §6).
/// Never fails: an answer that cannot be had is "no data" with the reason, never a pass.
class Verifier {
public:
    virtual ~Verifier() = default;
    /// GETs `verify.health_url` once; 2xx is healthy.
    virtual boost::asio::awaitable<HealthCheck> check_health() = 0;
    /// `verify.error_rate_query` now, as a fraction (the worst series).
    virtual boost::asio::awaitable<MetricReading> error_rate() = 0;
    /// `verify.p95_latency_query` now, in seconds (the worst series).
    virtual boost::asio::awaitable<MetricReading> p95_latency() = 0;
    /// The first moment in [from, to] at which the error rate was above `verify.max_error_rate`
    /// (a range query); nullopt when it never was or Prometheus could not say.
    virtual boost::asio::awaitable<std::optional<std::chrono::system_clock::time_point>>
    error_rate_rise(std::chrono::system_clock::time_point from,
                    std::chrono::system_clock::time_point to) = 0;
};

}  // namespace rollbot::core
