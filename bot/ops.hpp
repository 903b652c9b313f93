#pragma once

#include "bot/metrics.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::core {

/// An answer of rollbot's own HTTP endpoint.
struct OpsResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

/// One readiness check, as /readyz lists it.
struct ReadinessCheck {
    std::string name;  // "slack", "state", "started"
    bool ok = false;
    std::string detail;  // why, for the operator reading the probe's output
};

/// What `/healthz`, `/readyz` and `/metrics` answer. Runs on the io thread: the endpoint
/// answering at all is what proves the loop is alive.
///
/// - `/healthz`: 200 while the process and its loop are alive.
/// - `/readyz`: 200 only when every readiness check passes, else 503; the body lists them.
/// - `/metrics`: the Prometheus text exposition.
class OpsEndpoints {
public:
    OpsEndpoints(Metrics& metrics, std::function<std::vector<ReadinessCheck>()> readiness);

    /// The answer for a GET of `path` (no query string); nullopt for an unknown path (404).
    [[nodiscard]] std::optional<OpsResponse> get(std::string_view path);

    /// The readiness checks now, and whether they all pass.
    [[nodiscard]] std::pair<bool, std::vector<ReadinessCheck>> readiness() const;

private:
    Metrics& metrics_;
    std::function<std::vector<ReadinessCheck>()> readiness_;
};

}  // namespace rollbot::core
