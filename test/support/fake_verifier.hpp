#pragma once

#include "bot/ports/verifier.hpp"
#include "bot/verification.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>

namespace rollbot::test {

/// The service's signals as the test sets them; healthy (200, 1 % errors, p95 0.3 s) unless
/// changed. Every answer is immediate.
class FakeVerifier final : public core::Verifier {
public:
    FakeVerifier();

    core::HealthCheck health;
    core::MetricReading error_rate_now;
    core::MetricReading p95_now;
    std::optional<std::chrono::system_clock::time_point> rise;
    int checks = 0;  // check_health() calls

    /// Unhealthy: 503 and 27 % errors (the incident the demo opens on).
    void set_incident();
    void set_healthy();

    boost::asio::awaitable<core::HealthCheck> check_health() override;
    boost::asio::awaitable<core::MetricReading> error_rate() override;
    boost::asio::awaitable<core::MetricReading> p95_latency() override;
    boost::asio::awaitable<std::optional<std::chrono::system_clock::time_point>> error_rate_rise(
        std::chrono::system_clock::time_point from,
        std::chrono::system_clock::time_point to) override;
};

}  // namespace rollbot::test
