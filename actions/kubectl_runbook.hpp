#pragma once

#include "actions/process.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/settings.hpp"

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rollbot::actions {

using Environment = std::vector<std::pair<std::string, std::string>>;

/// The environment every child starts from: a few variables of the daemon's own (PATH, HOME,
/// locale, TZ, TMPDIR, USER) and KUBECONFIG when the config names one. Nothing else leaks.
[[nodiscard]] Environment child_environment(const core::Settings& settings, char** daemon_env);

/// The runbook through kubectl and scripts/rollback.sh, run by a ProcessRunner.
class KubectlRunbook final : public core::Runbook {
public:
    KubectlRunbook(const core::Settings& settings,
                   actions::ProcessRunner& runner,
                   Environment base_env,
                   std::shared_ptr<spdlog::logger> log);

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
    boost::asio::awaitable<core::Result<actions::ProcessOutput>> spawn(core::Step step);
    /// Runs a read step; its stdout, or why there is none.
    boost::asio::awaitable<core::Result<std::string>> read(core::Step step);
    /// The deployment's current revision (`kubectl get deployment -o json`).
    boost::asio::awaitable<core::Result<std::int64_t>> observe_revision(std::string deployment);

    const core::Settings& settings_;
    actions::ProcessRunner& runner_;
    Environment base_env_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace rollbot::actions
