#pragma once

#include "bot/plan.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/result.hpp"
#include "bot/verification.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::test {

/// The runbook's actions in the test process: a cluster held in memory, a planner that makes
/// small plans of the runbook's shape (undo + rollout status for a deployment, the script for
/// full, alembic downgrade for the database), and steps whose results the test scripts. A step
/// can be held until the test releases it, so tests can act while it "runs".
class FakeRunbook final : public core::Runbook {
public:
    explicit FakeRunbook(boost::asio::any_io_executor executor);

    /// backend at revision 3 (tag e4d5c6b7), frontend at revision 5 (tag 5e6f7a8b), the
    /// database at 3f2a1b4c5d6e: what the tests start from.
    void set_deployment(core::DeploymentState state);
    void set_unreadable(const std::string& deployment, bool unreadable = true);
    void set_database(std::optional<core::DatabaseState> database);  // nullopt: unreadable
    /// The result the next steps of `kind` give (Succeeded, exit 0, 10 ms unless set).
    void set_result(core::StepKind kind, core::StepResult result);
    /// The pods observe_pods() reports for `deployment`: queued checks first, one per call,
    /// then the last one again; healthy pods of the current revision when none is set.
    void queue_pods(const std::string& deployment, core::PodsCheck check);
    /// The next step of `kind` waits until release(kind), stop_waiting or cancel_all.
    void hold(core::StepKind kind);
    /// Like hold(kind), for the step on `deployment` only: steps of `kind` on other
    /// deployments run on.
    void hold(core::StepKind kind, std::string deployment);
    void release(core::StepKind kind);
    /// Once a step of `kind` succeeds, its deployment reads as `state` (what the undo did).
    void set_deployment_after(core::StepKind kind, core::DeploymentState state);

    [[nodiscard]] const std::vector<core::Step>& steps_run() const { return steps_run_; }
    /// Steps run of `kind`.
    [[nodiscard]] std::size_t ran(core::StepKind kind) const;
    /// Whether a held step of `kind` is waiting now.
    [[nodiscard]] bool waiting(core::StepKind kind) const;
    [[nodiscard]] int cancel_all_calls() const { return cancel_all_calls_; }
    [[nodiscard]] const std::vector<std::string>& stopped_waiting() const { return stopped_; }
    [[nodiscard]] std::size_t pods_calls() const { return pods_calls_; }

    boost::asio::awaitable<core::Result<core::DeploymentState>> observe(
        std::string deployment) override;
    boost::asio::awaitable<core::Result<core::DatabaseState>> observe_database(
        core::DbTarget target) override;
    [[nodiscard]] core::Result<core::Plan> plan(const core::RollbackRequest& request,
                                                const core::ClusterSnapshot& before) const override;
    boost::asio::awaitable<core::PodsCheck> observe_pods(std::string deployment) override;
    boost::asio::awaitable<core::StepResult> run(core::Step step) override;
    void stop_waiting(const std::string& deployment) override;
    void cancel_all() override;

private:
    struct Held {
        std::shared_ptr<boost::asio::steady_timer> gate;
        bool waiting = false;
        bool cancelled = false;
        std::string deployment;
        std::string only;  // the deployment whose step is held ("" = any)
    };
    void open_gate(core::StepKind kind, bool cancelled);

    boost::asio::any_io_executor executor_;
    std::map<std::string, core::DeploymentState> deployments_;
    std::map<std::string, bool> unreadable_;
    std::optional<core::DatabaseState> database_;
    std::map<core::StepKind, core::StepResult> results_;
    std::map<std::string, std::deque<core::PodsCheck>> pods_;
    std::map<core::StepKind, Held> held_;
    std::map<core::StepKind, core::DeploymentState> after_;
    std::vector<core::Step> steps_run_;
    std::vector<std::string> stopped_;
    int cancel_all_calls_ = 0;
    std::size_t pods_calls_ = 0;
};

/// A healthy deployment state: `desired` replicas, all updated, ready and available.
[[nodiscard]] core::DeploymentState deployment(std::string name,
                                               std::int64_t revision,
                                               std::string tag,
                                               int desired = 2);

}  // namespace rollbot::test
