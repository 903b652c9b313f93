#pragma once

#include "bot/plan.hpp"
#include "bot/result.hpp"
#include "bot/verification.hpp"

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
    /// The pods of the deployment's current ReplicaSet (its revision's `pod-template-hash`) and
    /// the Warning events about them. Never fails: what could not be read is in `error`.
    virtual boost::asio::awaitable<PodsCheck> observe_pods(std::string deployment) = 0;
    /// Runs one step and interprets its output the way the runbook's reader would.
    virtual boost::asio::awaitable<StepResult> run(Step step) = 0;
    /// Stops the step waiting on this deployment's rollout (`rollout status`), if one runs: its
    /// process group is killed and the step ends Cancelled. Other steps keep running.
    virtual void stop_waiting(const std::string& deployment) = 0;
    /// Stops every running step (their process groups are killed).
    virtual void cancel_all() = 0;
};

}  // namespace rollbot::core
