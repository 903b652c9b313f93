#pragma once

#include "bot/approval.hpp"
#include "bot/ports/state_store.hpp"
#include "bot/run.hpp"
#include "bot/settings.hpp"
#include "bot/verification.hpp"
#include "templates/renderer.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollbot::core {

/// `<@U…>` for a Slack user id (which renders as a mention), else the escaped text.
[[nodiscard]] std::string mention(const UserId& user);
/// The runbook's "Time elapsed: <N> minutes" value: "0.7 minutes", "12 minutes".
[[nodiscard]] std::string format_elapsed(Duration elapsed);
/// A step's duration for people: "0.4 s", "12.3 s", "2m 05s".
[[nodiscard]] std::string format_duration(Duration d);

/// One reading against its threshold, for people: {"✅", "4.8 %"}, {"❔", "unknown — …"}.
[[nodiscard]] std::pair<std::string, std::string> metric_line(const MetricReading& reading,
                                                              double threshold,
                                                              std::string (*format)(double, int));
/// The health probe, for people: {"✅", "200 in 35 ms"}, {"⚠️", "no answer (…)"}.
[[nodiscard]] std::pair<std::string, std::string> health_line(
    const std::optional<HealthCheck>& health);

/// One deployment's line in `/rollback status`.
struct DeploymentStatus {
    std::string name;
    std::optional<DeploymentState> state;
    std::string error;                // why it could not be read
    std::optional<PodsCheck> pods{};  // the current ReplicaSet's pods, when looked at
};

/// The service's own signals for `/rollback status`, when looked at.
struct ServiceNow {
    std::optional<HealthCheck> health;
    std::optional<MetricReading> error_rate;
};

/// One rollback in progress, for `/rollback status` and lock refusals.
struct ActiveRun {
    RequestId id;
    std::string request;  // describe(request)
    UserId requester;
    std::string state;
    std::chrono::system_clock::time_point since;
    std::string holds{};  // the lock targets it holds: "backend, database"
};

/// Turns domain values into message text through the templates. Pure: no I/O.
class Reporter {
public:
    Reporter(const templates::Renderer& renderer, const Settings& settings);

    /// The in-channel request message; edited in place as the run progresses.
    [[nodiscard]] std::string request_card(const Run& run, std::string_view status) const;
    /// One finished step, posted in the request's thread.
    [[nodiscard]] std::string step_line(const Run& run, std::size_t index) const;
    /// The report when a run ends: ROLLBACK EXECUTED, FAILED, NOTHING ROLLED BACK or DRY RUN.
    [[nodiscard]] std::string final_report(const Run& run) const;
    /// A one-word status for the request card when the run ends.
    [[nodiscard]] static std::string final_status(const Run& run);

    [[nodiscard]] std::string usage_error(std::string_view message) const;
    [[nodiscard]] std::string refused(std::string_view message,
                                      const std::optional<ChannelId>& channel = std::nullopt,
                                      std::string_view detail = {}) const;
    /// Why a rollback cannot start now: who holds the target, for what, since when.
    [[nodiscard]] std::string busy(const std::string& target,
                                   const RequestId& id,
                                   const std::string& what,
                                   const UserId& holder,
                                   Duration age) const;
    [[nodiscard]] std::string help() const;
    [[nodiscard]] std::string status(const std::vector<DeploymentStatus>& deployments,
                                     const std::vector<ActiveRun>& runs,
                                     std::chrono::system_clock::time_point now,
                                     const ServiceNow& service = {}) const;

    /// The approval card's fixed part: request, database state, plan, SQL preview, warnings.
    [[nodiscard]] std::string approval_body(const RequestId& id,
                                            const UserId& requester,
                                            const std::optional<std::string>& reason,
                                            const Plan& plan,
                                            const ApprovalPolicy& policy) const;
    /// The approval card's status line: state, who approved, what is still needed, expiry.
    [[nodiscard]] std::string approval_status(const Approval& approval,
                                              std::string_view note = {}) const;
    /// `/rollback history`: each deployment's revisions, newest first, with age and cause.
    [[nodiscard]] std::string history(const std::vector<DeploymentStatus>& deployments,
                                      std::chrono::system_clock::time_point now) const;
    /// `/rollback log`: one request's audit records as a post-mortem timeline.
    [[nodiscard]] std::string timeline(const RequestId& id,
                                       std::string_view what,
                                       const std::vector<AuditRecord>& records) const;

    /// The post-rollback check: pods, error rate, p95, health, each with its threshold, and the
    /// verdict "✅ Service restored" or "🔴 Still investigating" with the reasons.
    [[nodiscard]] std::string verification_summary(const Verification& verification,
                                                   const Verdict& verdict,
                                                   const VerifySettings& settings) const;
    /// The runbook's time-to-rollback table: each phase against its target (✅ / ⚠️ / —).
    [[nodiscard]] std::string time_table(const std::vector<TimeRow>& rows) const;
    /// A watch-window follow-up: the metrics now against the report's, with arrows; the last
    /// one (`trend` set) gives the verdict and, when Worse, a suggested next step.
    [[nodiscard]] std::string watch_update(const Verification& at_report,
                                           const Verification& now,
                                           Duration after,
                                           Duration next,
                                           const std::optional<Trend>& trend,
                                           const Verdict& verdict,
                                           std::string_view suggestion) const;
    /// `/rollback advise`: the runbook's decision tree on the evidence.
    [[nodiscard]] std::string advice(const Advice& advice) const;
    /// SIGTERM with work pending: what resumes after the restart and what is still running.
    [[nodiscard]] std::string shutdown_notice(std::string_view why,
                                              const std::vector<std::string>& approvals,
                                              const std::vector<std::string>& runs,
                                              Duration grace) const;
    /// A run's progress could not be written to the state file (full or read-only disk).
    [[nodiscard]] std::string state_not_saved(const Run& run, std::string_view error) const;

    /// "e4d5c6b7" or "backend e4d5c6b7, frontend 5e6f7a8b" (design §4 "from" and "to").
    [[nodiscard]] static std::string tags(const ClusterSnapshot& snapshot,
                                          const std::vector<std::string>& names);

private:
    [[nodiscard]] static templates::Data common(const Run& run);

    const templates::Renderer& renderer_;
    const Settings& settings_;
};

}  // namespace rollbot::core
