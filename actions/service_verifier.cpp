#include "actions/service_verifier.hpp"

#include <algorithm>

namespace rollbot::actions {
namespace {

// Two hours at this step is 240 samples: fine-grained enough for a decision measured in minutes,
// and far below Prometheus' 11,000-point limit for one range query.
constexpr std::chrono::seconds kRangeStep{30};
// Each check is bounded so the report follows the last step within seconds, whatever is down.
constexpr std::chrono::seconds kCheckTimeout{5};

}  // namespace

ServiceVerifier::ServiceVerifier(core::HttpClient& http, const core::VerifySettings& settings)
    : settings_(settings),
      health_(http, settings.health_url, kCheckTimeout),
      prometheus_(http, settings.prometheus_url, kCheckTimeout) {}

boost::asio::awaitable<core::HealthCheck> ServiceVerifier::check_health() {
    co_return co_await health_.check_health();
}

boost::asio::awaitable<core::MetricReading> ServiceVerifier::error_rate() {
    co_return co_await prometheus_.query(settings_.error_rate_query, Worst::Highest);
}

boost::asio::awaitable<core::MetricReading> ServiceVerifier::p95_latency() {
    co_return co_await prometheus_.query(settings_.p95_latency_query, Worst::Highest);
}

boost::asio::awaitable<std::optional<std::chrono::system_clock::time_point>>
ServiceVerifier::error_rate_rise(std::chrono::system_clock::time_point from,
                                 std::chrono::system_clock::time_point to) {
    if (to <= from) {
        co_return std::nullopt;
    }
    co_return co_await prometheus_.first_crossing(
        settings_.error_rate_query, settings_.max_error_rate, from, to, kRangeStep);
}

}  // namespace rollbot::actions
