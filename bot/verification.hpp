#pragma once

#include "bot/plan.hpp"
#include "bot/settings.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

/// One probe of the service's health endpoint.
struct HealthCheck {
    bool healthy = false;       // answered 2xx
    std::optional<int> status;  // HTTP status, if it answered
    std::chrono::milliseconds latency{};
    std::string detail;  // "200 OK in 35 ms", "connection refused"
    bool operator==(const HealthCheck&) const = default;
};

/// One Prometheus instant query, read for people: a number, or "no data" with the reason.
/// NaN, ±Inf, an empty result and an error are all "no data", never 0 (reference §6).
struct MetricReading {
    std::optional<double> value;  // the worst series' value when known
    std::string detail;           // "4.8 %" / "no data: empty result" / "error: 503 timeout …"
    bool operator==(const MetricReading&) const = default;
};

/// One pod of a deployment's current ReplicaSet (`kubectl get pods -o json`, reference §2).
struct PodState {
    std::string name;
    std::string phase;                   // Running, Pending, …
    bool ready = false;                  // the Ready condition
    int restarts = 0;                    // summed over containers
    std::string waiting_reason;          // CrashLoopBackOff, ImagePullBackOff, ErrImagePull, …
    std::string last_terminated_reason;  // OOMKilled, Error, …
    bool operator==(const PodState&) const = default;
};

/// The pods of one deployment's current ReplicaSet and the warning events about them.
struct PodsCheck {
    std::string deployment;
    std::vector<PodState> pods;
    std::vector<std::string> warnings;  // "BackOff: Back-off restarting failed container …"
    std::string error;                  // why the pods could not be read ("" = read)
    std::int64_t revision = 0;          // the deployment revision whose ReplicaSet this is
    [[nodiscard]] bool crash_looping() const;  // CrashLoopBackOff, or restarts > 0
    [[nodiscard]] bool oom_killed() const;     // any lastState.terminated.reason == OOMKilled
    [[nodiscard]] bool image_pull_failing() const;
    [[nodiscard]] int ready() const;
    [[nodiscard]] int restarts() const;  // summed over the pods
    /// Read, at least one pod, every pod ready and none with a problem (what judge() asks).
    [[nodiscard]] bool healthy() const;
    bool operator==(const PodsCheck&) const = default;
};

/// Everything the runbook's post-rollback verification looks at, taken once.
struct Verification {
    bool rollout_finished = false;  // every rollout of the run reported success
    std::optional<HealthCheck> health;
    MetricReading error_rate;  // a fraction: 0.048 = 4.8 %
    MetricReading p95;         // seconds
    std::vector<PodsCheck> pods;
    std::chrono::system_clock::time_point at;
    bool operator==(const Verification&) const = default;
};

/// Restored only when every check passes; unknown never passes (design §6, issue 5).
struct Verdict {
    bool restored = false;
    std::vector<std::string>
        reasons;  // why not, one per failed or unknown check; empty if restored
    bool operator==(const Verdict&) const = default;
};

/// Pure: the rollout finished, the current ReplicaSet has pods and every one is ready, none
/// crash-looping, OOM-killed or failing to pull, health 2xx, error rate known and
/// ≤ verify.max_error_rate, p95 known and ≤ verify.max_p95_latency.
[[nodiscard]] Verdict judge(const Verification& v, const VerifySettings& settings);

/// One row of the runbook's time-to-rollback table.
struct TimeRow {
    std::string phase;  // "Decision to rollback", "Script executed", "K8s pods healthy", …
    std::optional<Duration> measured;  // none: not reached
    Duration target{};
    std::string note;  // "from the error-rate rise at 14:03 UTC" / "from the deploy at 14:00 UTC"
    [[nodiscard]] bool met() const { return measured && *measured <= target; }
    bool operator==(const TimeRow&) const = default;
};

struct PhaseMarks;  // bot/run.hpp; declared here so run.hpp may include this header

/// Pure: the runbook's five rows in its order ("Decision to rollback" … "Total E2E"), measured
/// from the incident start (decision) or the command's arrival (`marks.received`, the others).
[[nodiscard]] std::vector<TimeRow> time_table(
    const PhaseMarks& marks,
    const TargetSettings& targets,
    std::optional<std::chrono::system_clock::time_point> incident_start,
    std::chrono::system_clock::time_point received_at,
    std::string decision_note);

/// One pod's own checks, read from its fields (the PodsCheck members aggregate these).
[[nodiscard]] bool pod_crash_looping(const PodState& pod);  // CrashLoopBackOff or restarts > 0
[[nodiscard]] bool pod_oom_killed(const PodState& pod);     // last terminated: OOMKilled
[[nodiscard]] bool pod_image_pull_failing(const PodState& pod);
/// What is wrong with one pod, for people: "CrashLoopBackOff (4 restarts), OOMKilled"; "" if fine.
[[nodiscard]] std::string pod_problem(const PodState& pod);

/// Pure: the first sign, between two polls of one ReplicaSet's pods, that the rollout is failing
/// (reference §7): a waiting reason of a crash loop, an image that cannot be pulled or a broken
/// container config, or a restart count above the baseline's (a pod new since then counts from
/// 0). For people: "backend-7c9d-x2x4k: CrashLoopBackOff (4 restarts), OOMKilled"; "" if none.
[[nodiscard]] std::string failing_signal(const PodsCheck& baseline, const PodsCheck& now);

/// When the deployment's current revision was created (its ReplicaSet, from the history).
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> deployed_at(
    const DeploymentState& state);

/// What the runbook's "rollback immediately (no debate)" criteria say now.
enum class AdviceKind {
    RollbackNow,           // a deploy in the last 2 hours and it hurts: roll back, no debate
    ProbablyHotfix,        // a recent deploy, no hard criterion met: hotfix if P2/P3 and < 20 min
    NotDeploymentRelated,  // no deploy in the last 2 hours: incident-response-plan.md
    CannotTell,            // no recent deploy seen, but some deploy times could not be read
};

[[nodiscard]] std::string_view to_string(AdviceKind kind);

/// Everything `/rollback advise` looks at, read at `now`.
struct AdviceInput {
    std::map<std::string, DeploymentState> deployments;  // readable ones
    std::map<std::string, std::string> unreadable;       // deployment -> why
    MetricReading error_rate;
    std::optional<HealthCheck> health;
    std::vector<PodsCheck> pods;
    std::chrono::system_clock::time_point now;
};

struct Advice {
    AdviceKind kind = AdviceKind::NotDeploymentRelated;
    std::vector<std::string> evidence;  // one line per criterion, measured
    std::vector<std::string> unknown;   // what could not be measured (data corruption always)
    std::string command;                // the suggested slash command ("" = none)
    bool operator==(const Advice&) const = default;
};

/// Pure: the runbook's decision tree on measured evidence. A deploy within 2 hours plus an
/// error rate above `max_error_rate`, crash-looping pods or a failing health check is ROLLBACK
/// NOW; a recent deploy alone is probably a hotfix; no recent deploy is not deployment-related.
[[nodiscard]] Advice advise(const AdviceInput& input, const VerifySettings& settings);

/// The watch window's verdict on the trend since the ROLLBACK EXECUTED report.
enum class Trend { Recovered, NoChange, Worse };

[[nodiscard]] std::string_view to_string(Trend trend);

/// Pure: Recovered when every check passes now; Worse when it does not and something got
/// worse than at the report (a check that passed fails, the error rate or p95 rose by more than
/// a fifth, a pod problem appeared); otherwise No change.
[[nodiscard]] Trend trend(const Verification& at_report,
                          const Verification& now,
                          const VerifySettings& settings);

/// "↑" when `now` is more than a tenth above `before`, "↓" more than a tenth below, else "→";
/// "?" when either is unknown.
[[nodiscard]] std::string_view trend_arrow(const MetricReading& before, const MetricReading& now);

/// A fraction as a percentage for people: 0.142 -> "14.2 %", 0.1 -> "10 %".
[[nodiscard]] std::string format_percent(double fraction, int decimals = 1);
/// A latency for people: 2.4 -> "2.4 s", 0.35 -> "350 ms".
[[nodiscard]] std::string format_seconds(double seconds, int decimals = 1);
/// A measured phase time for the time table: 24 s -> "0.4 min", 12 min -> "12.0 min".
[[nodiscard]] std::string format_minutes(Duration d);

}  // namespace rollbot::core
