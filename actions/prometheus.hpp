#pragma once

#include "bot/http.hpp"
#include "bot/ports/http_client.hpp"
#include "bot/verification.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::actions {

/// Which series of a multi-series answer is the one to report.
enum class Worst {
    Highest,  // error rate, latency: the largest value is the worst
    Lowest,   // throughput, availability: the smallest value is the worst
};

/// Pure: reads one `/api/v1/query` answer (reference §6). Never throws. On a value `detail` is
/// the number in `%g` ("0.0477778", "2.03 (worst of 3 series)"; callers may reformat it with
/// the helpers below); NaN, ±Inf, an empty result, a string or a matrix are "no data: …";
/// error envelopes, non-JSON and malformed answers are "error: …".
[[nodiscard]] core::MetricReading parse_instant_query(int http_status,
                                                      std::string_view body,
                                                      Worst worst);

/// Pure: when the error rate crossed `threshold` in a `/api/v1/query_range` answer (a matrix):
/// per series the first sample of its last run above the threshold (an earlier spike that ended
/// does not count; a series above from its first sample gives that sample), the earliest over
/// all series. NaN and ±Inf samples neither start nor end a run; none, or a malformed body →
/// nullopt.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> first_crossing_in(
    std::string_view body, double threshold);

/// A ratio as a percentage for people: 0.048 → "4.8 %", 0.0004 → "0.04 %".
[[nodiscard]] std::string format_ratio_percent(double ratio);

/// A duration in seconds for people: 1.42 → "1.42 s", 0.35 → "350 ms".
[[nodiscard]] std::string format_seconds(double seconds);

/// Prometheus' HTTP API over `core::HttpClient`. Never throws and never fails: a request that
/// gets no usable answer is a reading with no value and the reason in `detail`.
class PrometheusClient {
public:
    /// `http` must outlive the client. `base_url` is Prometheus' root ("http://prom:9090", a
    /// path prefix allowed); `timeout` is sent as the server's query timeout.
    PrometheusClient(core::HttpClient& http,
                     std::string base_url,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// POST `/api/v1/query` (form-encoded) and `parse_instant_query` on the answer.
    boost::asio::awaitable<core::MetricReading> query(std::string promql, Worst worst);

    /// POST `/api/v1/query_range` over [from, to] every `step`; the first sample above
    /// `threshold` (e.g. when the error rate rose), or nullopt when none or no answer.
    boost::asio::awaitable<std::optional<std::chrono::system_clock::time_point>> first_crossing(
        std::string promql,
        double threshold,
        std::chrono::system_clock::time_point from,
        std::chrono::system_clock::time_point to,
        std::chrono::seconds step);

private:
    [[nodiscard]] core::HttpRequest post(std::string_view path, std::string form) const;

    core::HttpClient& http_;
    std::string base_url_;
    std::chrono::milliseconds timeout_;
};

}  // namespace rollbot::actions
