#pragma once

#include "bot/plan.hpp"
#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace rollbot::core {

/// The runbook's actions against the cluster: kubectl, scripts/rollback.sh, alembic.
class Runbook {
public:
    virtual ~Runbook() = default;
    /// Reads a deployment's image, revision and replica counts (`kubectl get deployment -o json`).
    virtual boost::asio::awaitable<Result<DeploymentState>> observe(std::string deployment) = 0;
    /// Reads the database's alembic revision and renders the SQL a downgrade to `target` would
    /// run (offline, nothing changes). An error only when the revision cannot be read.
    virtual boost::asio::awaitable<Result<DatabaseState>> observe_database(DbTarget target) = 0;
    /// Resolves a request into the runbook's steps, given the cluster as it is now. Pure.
    [[nodiscard]] virtual Result<Plan> plan(const RollbackRequest& request,
                                            const ClusterSnapshot& before) const = 0;
    /// Runs one step and interprets its output the way the runbook's reader would.
    virtual boost::asio::awaitable<StepResult> run(Step step) = 0;
    /// Stops every running step (their process groups are killed).
    virtual void cancel_all() = 0;
};

/// One probe of the service's health endpoint.
struct HealthCheck {
    bool healthy = false;       // answered 2xx
    std::optional<int> status;  // HTTP status, if it answered
    std::chrono::milliseconds latency{};
    std::string detail;  // "200 OK in 35 ms", "connection refused"
    bool operator==(const HealthCheck&) const = default;
};

/// Verifies the service after a rollback.
class Verifier {
public:
    virtual ~Verifier() = default;
    /// GETs `verify.health_url` once; 2xx is healthy.
    virtual boost::asio::awaitable<HealthCheck> check_health() = 0;
};

}  // namespace rollbot::core
