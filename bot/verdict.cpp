// The post-rollback verdict and the time-to-rollback table: pure functions of their inputs.
#include "bot/run.hpp"
#include "bot/verification.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

namespace rollbot::core {
namespace {

constexpr std::string_view kCrashLoop = "CrashLoopBackOff";
constexpr std::string_view kOomKilled = "OOMKilled";
// The waiting reasons of a pod whose image cannot be pulled (reference §2).
constexpr std::array<std::string_view, 3> kImagePullReasons{
    "ImagePullBackOff", "ErrImagePull", "InvalidImageName"};
// Enough to tell 10.04 % from 10 %, not so much that rounding noise shows.
constexpr int kMaxDecimals = 4;

std::string trimmed(std::string number) {
    if (number.find('.') != std::string::npos) {
        while (number.back() == '0') {
            number.pop_back();
        }
        if (number.back() == '.') {
            number.pop_back();
        }
    }
    return number;
}

std::string restarts_text(int restarts) {
    return fmt::format("{} restart{}", restarts, restarts == 1 ? "" : "s");
}

bool known(const MetricReading& reading) {
    return reading.value && std::isfinite(*reading.value);
}

// NaN, an empty result or a query error is "no data", never a pass (reference §6).
std::string unknown(std::string_view what, const MetricReading& reading) {
    if (reading.detail.empty()) {
        return fmt::format("{} unknown: not counted as passing", what);
    }
    return fmt::format("{} unknown ({}): not counted as passing", what, reading.detail);
}

// "value is above threshold" must never read "10 % is above the 10 % threshold".
template <typename Format>
std::pair<std::string, std::string> distinct(double value, double threshold, Format format) {
    int decimals = 1;
    while (decimals < kMaxDecimals && format(value, decimals) == format(threshold, decimals)) {
        ++decimals;
    }
    return {format(value, decimals), format(threshold, 1)};
}

void judge_pods(const PodsCheck& check, std::vector<std::string>& reasons) {
    if (!check.error.empty()) {
        reasons.push_back(fmt::format(
            "pods of {} unreadable ({}): not counted as passing", check.deployment, check.error));
        return;
    }
    if (check.pods.empty()) {
        reasons.push_back(
            fmt::format("no pods of {}'s current ReplicaSet are running", check.deployment));
        return;
    }
    for (const auto& pod : check.pods) {
        if (auto problem = pod_problem(pod); !problem.empty()) {
            reasons.push_back(fmt::format("{}: {}", pod.name, problem));
        } else if (!pod.ready) {
            reasons.push_back(fmt::format("{}: not ready", pod.name));
        }
    }
}

std::optional<std::string> judge_health(const std::optional<HealthCheck>& health) {
    if (!health) {
        return "health: not checked: not counted as passing";
    }
    const bool two_xx = !health->status || (*health->status >= 200 && *health->status < 300);
    if (health->healthy && two_xx) {
        return std::nullopt;
    }
    if (health->status) {
        return fmt::format("health: {} in {} ms", *health->status, health->latency.count());
    }
    return fmt::format("health: no answer ({})",
                       health->detail.empty() ? std::string("no detail") : health->detail);
}

std::optional<std::string> judge_error_rate(const MetricReading& rate, double max_rate) {
    if (!known(rate)) {
        return unknown("error rate", rate);
    }
    if (*rate.value <= max_rate) {
        return std::nullopt;
    }
    const auto [value, threshold] = distinct(*rate.value, max_rate, format_percent);
    return fmt::format("error rate {} is above the {} threshold", value, threshold);
}

std::optional<std::string> judge_p95(const MetricReading& p95, Duration max_latency) {
    if (!known(p95)) {
        return unknown("p95", p95);
    }
    const double max_seconds = std::chrono::duration<double>(max_latency).count();
    if (*p95.value <= max_seconds) {
        return std::nullopt;
    }
    const auto [value, threshold] = distinct(*p95.value, max_seconds, format_seconds);
    return fmt::format("p95 {} is above {}", value, threshold);
}

Duration non_negative(Duration d) {
    return std::max(d, Duration::zero());
}

std::optional<Duration> between(std::chrono::steady_clock::time_point from,
                                const std::optional<std::chrono::steady_clock::time_point>& to) {
    if (!to) {
        return std::nullopt;
    }
    return non_negative(std::chrono::duration_cast<Duration>(*to - from));
}

}  // namespace

bool pod_crash_looping(const PodState& pod) {
    return pod.waiting_reason == kCrashLoop || pod.restarts > 0;
}

bool pod_oom_killed(const PodState& pod) {
    return pod.last_terminated_reason == kOomKilled;
}

bool pod_image_pull_failing(const PodState& pod) {
    return std::find(kImagePullReasons.begin(), kImagePullReasons.end(), pod.waiting_reason) !=
           kImagePullReasons.end();
}

std::string pod_problem(const PodState& pod) {
    std::vector<std::string> parts;
    if (pod.waiting_reason == kCrashLoop) {
        parts.push_back(fmt::format("{} ({})", kCrashLoop, restarts_text(pod.restarts)));
    } else if (pod.restarts > 0) {
        parts.push_back(restarts_text(pod.restarts));
    }
    if (pod_image_pull_failing(pod)) {
        parts.push_back(pod.waiting_reason);
    }
    if (pod_oom_killed(pod)) {
        parts.emplace_back(kOomKilled);
    }
    std::string out;
    for (const auto& part : parts) {
        out += (out.empty() ? "" : ", ") + part;
    }
    return out;
}

std::string format_percent(double fraction, int decimals) {
    return trimmed(fmt::format("{:.{}f}", fraction * 100.0, decimals)) + " %";
}

std::string format_seconds(double seconds, int decimals) {
    if (std::abs(seconds) < 1.0) {
        return trimmed(fmt::format("{:.{}f}", seconds * 1000.0, std::max(decimals - 1, 0))) + " ms";
    }
    return trimmed(fmt::format("{:.{}f}", seconds, decimals)) + " s";
}

std::string format_minutes(Duration d) {
    return fmt::format("{:.1f} min", std::chrono::duration<double, std::ratio<60>>(d).count());
}

Verdict judge(const Verification& v, const VerifySettings& settings) {
    Verdict verdict;
    auto& reasons = verdict.reasons;
    if (!v.rollout_finished) {
        reasons.emplace_back("the rollout did not finish");
    }
    for (const auto& check : v.pods) {
        judge_pods(check, reasons);
    }
    for (auto reason : {judge_health(v.health),
                        judge_error_rate(v.error_rate, settings.max_error_rate),
                        judge_p95(v.p95, settings.max_p95_latency)}) {
        if (reason) {
            reasons.push_back(std::move(*reason));
        }
    }
    verdict.restored = reasons.empty();
    return verdict;
}

std::vector<TimeRow> time_table(const PhaseMarks& marks,
                                const TargetSettings& targets,
                                std::optional<std::chrono::system_clock::time_point> incident_start,
                                std::chrono::system_clock::time_point received_at,
                                std::string decision_note) {
    TimeRow decision{"Decision to rollback", std::nullopt, targets.decision, {}};
    if (incident_start) {
        decision.measured =
            non_negative(std::chrono::duration_cast<Duration>(received_at - *incident_start));
        decision.note = std::move(decision_note);
    } else {
        decision.note = decision_note.empty() ? "not measured: no incident start was given"
                                              : std::move(decision_note);
    }
    // Total E2E runs to the health 200: a run that never got there has not met it, however
    // quickly it ended (the note says how long the run took).
    TimeRow total{"Total E2E", std::nullopt, targets.total, {}};
    if (const auto after = between(marks.received, marks.healthy)) {
        total.measured = *after + decision.measured.value_or(Duration::zero());
        total.note =
            fmt::format("from {}", incident_start ? "the incident start" : "the /rollback command");
    } else if (const auto ran = between(marks.received, marks.finished)) {
        total.note = fmt::format("no health 200 yet; the run itself took {}", format_minutes(*ran));
    }
    return {
        std::move(decision),
        {"Script executed", between(marks.received, marks.script_done), targets.script, {}},
        {"K8s pods healthy", between(marks.received, marks.rollout_done), targets.pods_healthy, {}},
        {"Health endpoint 200", between(marks.received, marks.healthy), targets.health_200, {}},
        std::move(total),
    };
}

}  // namespace rollbot::core
