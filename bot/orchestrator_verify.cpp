// Verification: the checks after a run, the crash-loop watch during `rollout status`, the
// incident start for the time table, the watch window, and `/rollback verify` and `advise`.
#include "bot/orchestrator.hpp"
#include "bot/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

// How often the pods of a rolling-out ReplicaSet are looked at (reference §7: every 2–5 s; the
// first restart shows within about 30 s).
constexpr std::chrono::seconds kRolloutPoll{3};
// The runbook's look-back for "a deployment in the last 2 hours".
constexpr auto kIncidentWindow = std::chrono::hours(2);

std::string utc_clock(std::chrono::system_clock::time_point at) {
    return fmt::format("{:%H:%M} UTC", std::chrono::floor<std::chrono::seconds>(at));
}

// The watch window's follow-ups: at a fifth, half and all of `verify.watch` (+2, +5 and +10 min
// with the default 10 minutes).
std::vector<Duration> watch_points(Duration watch) {
    if (watch <= Duration::zero()) {
        return {};
    }
    return {watch / 5, watch / 2, watch};
}

}  // namespace

struct Orchestrator::RolloutWatch {
    explicit RolloutWatch(const asio::any_io_executor& executor) : timer(executor) {}
    asio::steady_timer timer;
    bool done = false;    // the rollout step has ended
    std::string failure;  // what stopped it ("" = the watch saw nothing wrong)
};

asio::awaitable<std::vector<PodsCheck>> Orchestrator::observe_pods(
    std::vector<std::string> deployments) {
    std::vector<PodsCheck> checks;
    for (auto& name : deployments) {
        checks.push_back(co_await deps_.runbook.observe_pods(std::move(name)));
    }
    co_return checks;
}

asio::awaitable<Verification> Orchestrator::verify_now(std::vector<std::string> deployments,
                                                       bool rollout_finished) {
    auto [health, rate, p95, pods] =
        co_await (deps_.verifier.check_health() && deps_.verifier.error_rate() &&
                  deps_.verifier.p95_latency() && observe_pods(std::move(deployments)));
    Verification v;
    v.rollout_finished = rollout_finished;
    v.health = std::move(health);
    v.error_rate = std::move(rate);
    v.p95 = std::move(p95);
    v.pods = std::move(pods);
    v.at = deps_.clock.now();
    co_return v;
}

asio::awaitable<StepResult> Orchestrator::run_then_stop_watch(Step step,
                                                              std::shared_ptr<RolloutWatch> watch) {
    StepResult result = co_await deps_.runbook.run(std::move(step));
    watch->done = true;
    watch->timer.cancel();
    co_return result;
}

asio::awaitable<void> Orchestrator::watch_rollout(std::string deployment,
                                                  std::int64_t revision_before,
                                                  std::shared_ptr<RolloutWatch> watch) {
    std::optional<PodsCheck> baseline;
    while (!watch->done) {
        PodsCheck now = co_await deps_.runbook.observe_pods(deployment);
        if (watch->done) {
            break;
        }
        // Until the controller moves the revision on, "current" is still the ReplicaSet being
        // rolled back from: its crash loop is the incident, not a verdict on the target.
        const bool switched = now.revision != 0 && now.revision != revision_before;
        if (now.error.empty() && switched) {
            if (!baseline) {
                baseline = now;  // restarts before the watch began are not this rollout's
            }
            std::string signal = failing_signal(*baseline, now);
            if (!signal.empty()) {
                watch->failure = std::move(signal);
                deps_.log->warn("rollout.failing deployment={} signal={}",
                                deployment,
                                log_quote(watch->failure));
                deps_.runbook.stop_waiting(deployment);
                co_return;
            }
        } else if (!now.error.empty()) {
            deps_.log->debug("rollout.watch_unreadable deployment={} error={}",
                             deployment,
                             log_quote(now.error));
        }
        watch->timer.expires_after(kRolloutPoll);
        (void)co_await watch->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<StepResult> Orchestrator::run_watched(Step step, RequestId id) {
    const std::string deployment = step.deployment;
    std::int64_t revision_before = 0;
    {
        const auto& before = runs_.at(id).plan.before.deployments;
        if (auto it = before.find(deployment); it != before.end()) {
            revision_before = it->second.revision;
        }
    }
    auto watch = std::make_shared<RolloutWatch>(executor_);
    StepResult result = co_await (run_then_stop_watch(std::move(step), watch) &&
                                  watch_rollout(deployment, revision_before, watch));
    if (!watch->failure.empty() && result.ok()) {
        // The rollout finished before the kill landed: the verification will show the pods.
        deps_.log->warn(
            "rollout.failing_after_success id={} signal={}", id, log_quote(watch->failure));
    }
    if (!watch->failure.empty() && !result.ok()) {
        Run& run = runs_.at(id);
        run.rollout_failure = watch->failure;
        result.outcome = StepOutcome::Failed;
        result.summary = fmt::format(
            "the pods of the revision rolled back to are failing ({}): rollbot stopped waiting "
            "for the rollout after {} instead of its timeout",
            watch->failure,
            format_duration(result.duration));
    }
    co_return result;
}

asio::awaitable<Orchestrator::IncidentStart> Orchestrator::incident_start(
    Plan plan, std::chrono::system_clock::time_point at) {
    IncidentStart start;
    const auto rise = co_await deps_.verifier.error_rate_rise(at - kIncidentWindow, at);
    if (rise) {
        start.at = rise;
        // A rise in the first sample of the look-back means "above since before it began".
        const bool before_window = *rise - (at - kIncidentWindow) < std::chrono::minutes(1);
        start.note = before_window
                         ? fmt::format(
                               "the error rate was already above {} at {}, the start of the 2-hour "
                               "look-back: at least this long",
                               format_percent(deps_.settings.verify.max_error_rate),
                               utc_clock(*rise))
                         : fmt::format("from the error-rate rise above {} at {}",
                                       format_percent(deps_.settings.verify.max_error_rate),
                                       utc_clock(*rise));
        co_return start;
    }
    // No rise in Prometheus (or no answer): the deploy being rolled back, the latest if several.
    for (const auto& [name, state] : plan.before.deployments) {
        const auto deployed = deployed_at(state);
        if (deployed && *deployed <= at && (!start.at || *deployed > *start.at)) {
            start.at = deployed;
            start.note = fmt::format("from the deploy of {} {} at {} (no error-rate rise found)",
                                     name,
                                     state.tag,
                                     utc_clock(*deployed));
        }
    }
    if (!start.at) {
        start.note = "not measured: no error-rate rise and no deploy time found";
    }
    co_return start;
}

asio::awaitable<void> Orchestrator::post_verification(RequestId id,
                                                      std::optional<MessageTs> thread) {
    const Run& run = runs_.at(id);
    if (!run.verification || !run.verdict) {
        co_return;
    }
    const auto rows = core::time_table(
        run.marks, deps_.settings.targets, run.incident_start, run.received_at, run.incident_note);
    std::string text = deps_.reporter.verification_summary(
                           *run.verification, *run.verdict, deps_.settings.verify) +
                       "\n" + deps_.reporter.time_table(rows);
    OutboundMessage message{run.channel, std::move(thread), std::move(text)};
    auto posted = co_await outbox_.post(std::move(message), id.value + "/verification");
    if (!posted) {
        deps_.log->warn("rollback.verification_queued id={} error={}", id, posted.error().message);
    }
}

asio::awaitable<void> Orchestrator::watch_window(RequestId id,
                                                 Verification at_report,
                                                 std::vector<std::string> deployments,
                                                 ChannelId channel,
                                                 std::optional<MessageTs> thread) {
    const auto points = watch_points(deps_.settings.verify.watch);
    asio::steady_timer timer(executor_);
    const auto started = deps_.clock.steady_now();
    for (std::size_t i = 0; i < points.size(); ++i) {
        timer.expires_at(started + points[i]);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            co_return;
        }
        const Verification now = co_await verify_now(deployments, true);
        const bool last = i + 1 == points.size();
        const Verdict verdict = judge(now, deps_.settings.verify);
        std::optional<Trend> final_trend;
        std::string suggestion;
        if (last) {
            final_trend = trend(at_report, now, deps_.settings.verify);
            if (*final_trend == Trend::Worse) {
                suggestion =
                    "roll back further to an older known-good SHA (`/rollback history`, then "
                    "`/rollback <deployment> <sha>`), or `/rollback advise` if this may not be "
                    "the deploy";
            }
            record(
                "watch",
                id,
                {},
                fmt::format(
                    "trend={} restored={}", log_quote(to_string(*final_trend)), verdict.restored));
        }
        const Duration next = last ? Duration::zero() : points[i + 1];
        std::string text = deps_.reporter.watch_update(
            at_report, now, points[i], next, final_trend, verdict, suggestion);
        OutboundMessage message{channel, thread, std::move(text)};
        auto posted =
            co_await outbox_.post(std::move(message), fmt::format("{}/watch{}", id, i + 1));
        if (!posted) {
            deps_.log->warn("rollback.watch_queued id={} error={}", id, posted.error().message);
        }
    }
}

asio::awaitable<void> Orchestrator::show_verify(SlashCommand cmd) {
    std::vector<std::string> names;
    bool finished = true;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        names.push_back(name);
        auto state = co_await deps_.runbook.observe(name);
        // "Rolled out" now: every desired replica updated and available, nothing left over.
        finished = finished && state && state->updated == state->desired &&
                   state->available == state->desired && state->ready == state->desired;
    }
    const Verification v = co_await verify_now(names, finished);
    const Verdict verdict = judge(v, deps_.settings.verify);
    std::string text = deps_.reporter.verification_summary(v, verdict, deps_.settings.verify);
    co_await reply(cmd.reply, std::move(text));
}

asio::awaitable<void> Orchestrator::show_advice(SlashCommand cmd) {
    AdviceInput input;
    std::vector<std::string> names;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        names.push_back(name);
        auto state = co_await deps_.runbook.observe(name);
        if (state) {
            input.deployments[name] = *state;
        } else {
            input.unreadable[name] = state.error().message;
        }
    }
    auto [health, rate, pods] =
        co_await (deps_.verifier.check_health() && deps_.verifier.error_rate() &&
                  observe_pods(std::move(names)));
    input.health = std::move(health);
    input.error_rate = std::move(rate);
    input.pods = std::move(pods);
    input.now = deps_.clock.now();
    const Advice advice = advise(input, deps_.settings.verify);
    deps_.audit->info("advise user={} kind={} command={}",
                      cmd.user,
                      to_string(advice.kind),
                      log_quote(advice.command));
    std::string text = deps_.reporter.advice(advice);
    co_await reply(cmd.reply, std::move(text));
}

}  // namespace rollbot::core
