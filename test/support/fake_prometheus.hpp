#pragma once

// Prometheus' query API as a FakeHttpServer handler: fixed answers a test sets and changes.
#include "test/support/fake_http_server.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace rollbot::test {

/// What the fake Prometheus answers. A metric is a sample string as Prometheus sends it
/// ("0.004", "NaN", "+Inf"); nullopt answers an empty vector (no series matched).
struct FakeMetrics {
    std::optional<std::string> error_rate = "0.004";
    std::optional<std::string> p95 = "0.35";
    /// For range queries on the error rate: "0.27" from this moment on, "0.004" before.
    std::optional<std::chrono::system_clock::time_point> rise{};
    int status = 200;  // anything else answers Prometheus' error envelope with this status
};

/// True for `/api/v1/query` and `/api/v1/query_range`.
[[nodiscard]] bool is_prometheus_request(const FakeRequest& request);

/// Answers an instant or range query the way Prometheus 2.x does (reference §6): the error
/// rate for a query naming http_req_failed, p95 for histogram_quantile, else an empty result.
[[nodiscard]] FakeResponse prometheus_answer(const FakeRequest& request,
                                             const FakeMetrics& metrics);

/// The ERP as one fake server: Prometheus' query API as above, and 200 "ok" on any other path
/// (the health endpoint).
[[nodiscard]] FakeHandler fake_erp_handler(FakeMetrics metrics = {});

}  // namespace rollbot::test
