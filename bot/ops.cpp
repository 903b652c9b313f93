#include "bot/ops.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {

OpsEndpoints::OpsEndpoints(Metrics& metrics, std::function<std::vector<ReadinessCheck>()> readiness)
    : metrics_(metrics), readiness_(std::move(readiness)) {}

std::pair<bool, std::vector<ReadinessCheck>> OpsEndpoints::readiness() const {
    auto checks = readiness_();
    const bool ready =
        !checks.empty() &&
        std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.ok; });
    return {ready, std::move(checks)};
}

std::optional<OpsResponse> OpsEndpoints::get(std::string_view path) {
    if (path == "/healthz") {
        return OpsResponse{200, "text/plain; charset=utf-8", "ok\n"};
    }
    if (path == "/readyz") {
        auto [ready, checks] = readiness();
        std::string body = ready ? "ready\n" : "not ready\n";
        for (const auto& check : checks) {
            body += fmt::format("{} {}: {}\n", check.ok ? "ok" : "FAIL", check.name, check.detail);
        }
        return OpsResponse{ready ? 200 : 503, "text/plain; charset=utf-8", std::move(body)};
    }
    if (path == "/metrics") {
        return OpsResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.exposition()};
    }
    return std::nullopt;
}

}  // namespace rollbot::core
