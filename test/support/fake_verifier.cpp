#include "test/support/fake_verifier.hpp"

namespace rollbot::test {

namespace asio = boost::asio;

FakeVerifier::FakeVerifier() {
    set_healthy();
}

void FakeVerifier::set_healthy() {
    health = core::HealthCheck{true, 200, std::chrono::milliseconds(35), "200 OK in 35 ms"};
    error_rate_now = core::MetricReading{0.01, "1 %"};
    p95_now = core::MetricReading{0.3, "300 ms"};
}

void FakeVerifier::set_incident() {
    health = core::HealthCheck{false, 503, std::chrono::milliseconds(12), "503 in 12 ms"};
    error_rate_now = core::MetricReading{0.27, "27 %"};
}

asio::awaitable<core::HealthCheck> FakeVerifier::check_health() {
    ++checks;
    co_return health;
}

asio::awaitable<core::MetricReading> FakeVerifier::error_rate() {
    co_return error_rate_now;
}

asio::awaitable<core::MetricReading> FakeVerifier::p95_latency() {
    co_return p95_now;
}

asio::awaitable<std::optional<std::chrono::system_clock::time_point>> FakeVerifier::error_rate_rise(
    std::chrono::system_clock::time_point /*from*/, std::chrono::system_clock::time_point /*to*/) {
    co_return rise;
}

}  // namespace rollbot::test
