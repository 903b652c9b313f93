#pragma once

#include "bot/chat.hpp"
#include "bot/flow/audit_trail.hpp"
#include "bot/flow/outbox.hpp"
#include "bot/ids.hpp"
#include "bot/plan.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/ports/verifier.hpp"
#include "bot/reporter.hpp"
#include "bot/settings.hpp"
#include "bot/task_group.hpp"
#include "bot/verification.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

/// A `rollout status` step as the crash-loop watch saw it.
struct WatchedStep {
    StepResult result;
    std::string failure;  // what stopped the wait early ("" = nothing); the step then failed
};

/// When the incident began, for the time table's "Decision to rollback" row.
struct IncidentStart {
    std::optional<std::chrono::system_clock::time_point> at;
    std::string note;  // where it came from, for people
};

/// A finished run's follow-ups: where they go and what they compare with.
struct WatchWindow {
    RequestId id;
    Verification at_report;  // the verification the report showed
    std::vector<std::string> deployments;
    ChannelId channel;
    std::optional<MessageTs> thread;
};

/// Watches a rollout: the post-rollback checks (health, error rate, p95, pods, all at once),
/// the crash-loop watch beside `rollout status`, the incident's start, and the watch window's
/// follow-ups after the report.
class RolloutWatch {
public:
    RolloutWatch(TaskGroup& tasks,
                 Runbook& runbook,
                 Verifier& verifier,
                 const Clock& clock,
                 const Settings& settings,
                 const Reporter& reporter,
                 Outbox& outbox,
                 AuditTrail& audit,
                 std::shared_ptr<spdlog::logger> log);

    /// Health, error rate, p95 and the pods of `deployments`, read at once.
    boost::asio::awaitable<Verification> verify_now(std::vector<std::string> deployments,
                                                    bool rollout_finished);
    /// The pods of each deployment's current ReplicaSet, in order.
    boost::asio::awaitable<std::vector<PodsCheck>> observe_pods(
        std::vector<std::string> deployments);
    /// Runs a `rollout status` step while polling the pods of the new ReplicaSet (once the
    /// revision has moved on from `revision_before`): the first crash loop, pull failure or
    /// restart stops the wait, and the step fails saying why instead of waiting out its timeout.
    /// A `revision_before` of 0 (not read) runs the step unwatched.
    boost::asio::awaitable<WatchedStep> run_watched(Step step,
                                                    std::int64_t revision_before,
                                                    RequestId id);
    /// The error rate's rise in the 2 hours before `at`, else the newest deploy in `plan`.
    boost::asio::awaitable<IncidentStart> incident_start(Plan plan,
                                                         std::chrono::system_clock::time_point at);
    /// Posts follow-ups at a fifth, half and all of `verify.watch` in the background (none
    /// when it is 0), the last one with the trend's verdict.
    void start_window(WatchWindow window);

private:
    struct Poll;
    boost::asio::awaitable<StepResult> run_then_stop(Step step, std::shared_ptr<Poll> poll);
    boost::asio::awaitable<void> poll_pods(std::string deployment,
                                           std::int64_t revision_before,
                                           std::shared_ptr<Poll> poll);
    boost::asio::awaitable<void> follow_up(WatchWindow window);
    /// The text of follow-up `index` (0-based), and the trend's audit record after the last.
    boost::asio::awaitable<std::string> follow_up_text(WatchWindow window,
                                                       Verification now,
                                                       std::size_t index);

    TaskGroup& tasks_;
    Runbook& runbook_;
    Verifier& verifier_;
    const Clock& clock_;
    const Settings& settings_;
    const Reporter& reporter_;
    Outbox& outbox_;
    AuditTrail& audit_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace rollbot::core
