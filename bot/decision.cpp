// Decision support: the crash-loop signal during a rollout, the runbook's rollback-or-hotfix
// tree for `/rollback advise`, and the watch window's trend. Pure functions of their inputs.
#include "bot/text.hpp"
#include "bot/verification.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

namespace rollbot::core {
namespace {

// The waiting reasons that mean the pod will not come up by itself (reference §7).
constexpr std::array<std::string_view, 7> kFailingReasons{"CrashLoopBackOff",
                                                          "ImagePullBackOff",
                                                          "ErrImagePull",
                                                          "InvalidImageName",
                                                          "CreateContainerConfigError",
                                                          "CreateContainerError",
                                                          "RunContainerError"};

// The runbook's window for "caused by a deployment in the last 2 hours".
constexpr auto kRecentDeploy = std::chrono::hours(2);
// A metric "rose" when it is this much above its value at the report; smaller moves are noise.
constexpr double kWorseFactor = 1.2;
constexpr double kArrowFactor = 0.1;
constexpr double kErrorRateNoise = 0.005;  // half a percentage point
constexpr double kLatencyNoise = 0.05;     // 50 ms

bool known(const MetricReading& reading) {
    return reading.value && std::isfinite(*reading.value);
}

int baseline_restarts(const PodsCheck& baseline, const std::string& pod) {
    for (const auto& p : baseline.pods) {
        if (p.name == pod) {
            return p.restarts;
        }
    }
    return 0;  // a pod new since the baseline: every restart happened during the watch
}

bool healthy(const std::optional<HealthCheck>& health) {
    return health && health->healthy;
}

bool pods_failing(const PodsCheck& check) {
    return check.error.empty() &&
           (check.crash_looping() || check.oom_killed() || check.image_pull_failing());
}

int restarts(const std::vector<PodsCheck>& checks) {
    int n = 0;
    for (const auto& check : checks) {
        n += check.restarts();
    }
    return n;
}

int pod_problems(const std::vector<PodsCheck>& checks) {
    int n = 0;
    for (const auto& check : checks) {
        for (const auto& pod : check.pods) {
            n += pod_problem(pod).empty() ? 0 : 1;
        }
    }
    return n;
}

}  // namespace

std::string failing_signal(const PodsCheck& baseline, const PodsCheck& now) {
    for (const auto& pod : now.pods) {
        const bool stuck =
            std::find(kFailingReasons.begin(), kFailingReasons.end(), pod.waiting_reason) !=
            kFailingReasons.end();
        const bool restarted = pod.restarts > baseline_restarts(baseline, pod.name);
        if (!stuck && !restarted) {
            continue;
        }
        std::string problem = pod_problem(pod);
        if (problem.empty()) {
            problem = pod.waiting_reason;  // a container config error: pod_problem() skips it
        }
        return fmt::format("{}: {}", pod.name, problem);
    }
    return {};
}

std::optional<std::chrono::system_clock::time_point> deployed_at(const DeploymentState& state) {
    for (const auto& rev : state.history) {
        if (rev.revision == state.revision) {
            return parse_utc(rev.created);
        }
    }
    return std::nullopt;
}

namespace {

// One line per readable deployment; returns the ones deployed within the look-back.
std::vector<std::string> deploy_evidence(const AdviceInput& input, Advice& advice) {
    std::vector<std::string> recent;
    for (const auto& [name, state] : input.deployments) {
        const auto at = deployed_at(state);
        if (!at) {
            advice.unknown.push_back(fmt::format(
                "when {} {} was deployed (its rollout history is unreadable)", name, state.tag));
            continue;
        }
        const bool is_recent = input.now - *at <= kRecentDeploy;
        advice.evidence.push_back(fmt::format("{} {} {}: deployed {} (revision {})",
                                              is_recent ? "🆕" : "•",
                                              name,
                                              state.tag,
                                              format_age(*at, input.now),
                                              state.revision));
        if (is_recent) {
            recent.push_back(name);
        }
    }
    for (const auto& [name, why] : input.unreadable) {
        advice.unknown.push_back(fmt::format("{}: {}", name, why));
    }
    return recent;
}

// The runbook's "it hurts" criteria, one line each; true when one of them is met.
bool harm_evidence(const AdviceInput& input, const VerifySettings& settings, Advice& advice) {
    bool hurts = false;
    if (known(input.error_rate)) {
        const bool high = *input.error_rate.value > settings.max_error_rate;
        hurts = hurts || high;
        advice.evidence.push_back(fmt::format("{} error rate {} ({} the {} threshold)",
                                              high ? "🔴" : "✅",
                                              format_percent(*input.error_rate.value),
                                              high ? "above" : "within",
                                              format_percent(settings.max_error_rate)));
    } else {
        advice.unknown.push_back(fmt::format(
            "the error rate ({})",
            input.error_rate.detail.empty() ? std::string("no data") : input.error_rate.detail));
    }
    for (const auto& check : input.pods) {
        if (!check.error.empty()) {
            advice.unknown.push_back(fmt::format("pods of {} ({})", check.deployment, check.error));
            continue;
        }
        const bool failing = pods_failing(check);
        hurts = hurts || failing;
        advice.evidence.push_back(fmt::format("{} pods of {}: {} of {} ready{}",
                                              failing ? "🔴" : "✅",
                                              check.deployment,
                                              check.ready(),
                                              check.pods.size(),
                                              failing ? ", crash-looping or OOM-killed" : ""));
    }
    if (input.health) {
        hurts = hurts || !input.health->healthy;
        advice.evidence.push_back(fmt::format(
            "{} health: {}",
            input.health->healthy ? "✅" : "🔴",
            input.health->detail.empty() ? std::string(input.health->healthy ? "2xx" : "failing")
                                         : input.health->detail));
    }
    return hurts;
}

}  // namespace

Advice advise(const AdviceInput& input, const VerifySettings& settings) {
    Advice advice;
    const std::vector<std::string> recent = deploy_evidence(input, advice);
    const bool hurts = harm_evidence(input, settings, advice);
    advice.unknown.emplace_back(
        "data corruption: rollbot cannot measure it. If you see any, roll back now and restore "
        "from backup (backup-recovery-runbook.md)");
    const bool deploys_unknown =
        std::any_of(input.deployments.begin(),
                    input.deployments.end(),
                    [](const auto& d) { return !deployed_at(d.second); }) ||
        !input.unreadable.empty();
    if (recent.empty()) {
        // Unknown is never "no deploy": it cannot rule the deployment out.
        advice.kind = deploys_unknown ? AdviceKind::CannotTell : AdviceKind::NotDeploymentRelated;
        return advice;
    }
    advice.kind = hurts ? AdviceKind::RollbackNow : AdviceKind::ProbablyHotfix;
    advice.command = recent.size() == 1 ? fmt::format("/rollback {}", recent.front())
                                        : std::string("/rollback full");
    return advice;
}

std::string_view to_string(AdviceKind kind) {
    switch (kind) {
        case AdviceKind::RollbackNow:
            return "rollback_now";
        case AdviceKind::ProbablyHotfix:
            return "probably_hotfix";
        case AdviceKind::NotDeploymentRelated:
            return "not_deployment_related";
        case AdviceKind::CannotTell:
            return "cannot_tell";
    }
    return "?";
}

std::string_view to_string(Trend trend) {
    switch (trend) {
        case Trend::Recovered:
            return "Recovered";
        case Trend::NoChange:
            return "No change";
        case Trend::Worse:
            return "Worse";
    }
    return "?";
}

Trend trend(const Verification& at_report,
            const Verification& now,
            const VerifySettings& settings) {
    const Verdict then = judge(at_report, settings);
    const Verdict current = judge(now, settings);
    if (current.restored) {
        return Trend::Recovered;
    }
    // Up by more than a fifth and by more than noise: 0 → 0.01 % is not "worse".
    const auto rose = [](const MetricReading& before, const MetricReading& after, double noise) {
        return known(before) && known(after) && *after.value > *before.value * kWorseFactor &&
               *after.value - *before.value > noise;
    };
    // A check that passed at the report and fails now, measured: "no data" alone is not worse
    // (Prometheus may be what is down), it keeps the verdict at No change.
    const double max_p95 = std::chrono::duration<double>(settings.max_p95_latency).count();
    const bool measured_failure =
        (known(now.error_rate) && *now.error_rate.value > settings.max_error_rate) ||
        (known(now.p95) && *now.p95.value > max_p95) || (now.health && !now.health->healthy) ||
        pod_problems(now.pods) > 0;
    const bool worse = (then.restored && measured_failure) ||
                       rose(at_report.error_rate, now.error_rate, kErrorRateNoise) ||
                       rose(at_report.p95, now.p95, kLatencyNoise) ||
                       restarts(now.pods) > restarts(at_report.pods) ||
                       (healthy(at_report.health) && !healthy(now.health)) ||
                       pod_problems(now.pods) > pod_problems(at_report.pods);
    return worse ? Trend::Worse : Trend::NoChange;
}

std::string_view trend_arrow(const MetricReading& before, const MetricReading& now) {
    if (!known(before) || !known(now)) {
        return "?";
    }
    const double margin = std::abs(*before.value) * kArrowFactor;
    if (*now.value > *before.value + margin) {
        return "↑";
    }
    if (*now.value < *before.value - margin) {
        return "↓";
    }
    return "→";
}

}  // namespace rollbot::core
