#include "bot/flow/rollout_watch.hpp"

#include "bot/text.hpp"
#include "bot/timer.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

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

struct RolloutWatch::Poll {
    Poll(const asio::any_io_executor& executor, const Clock& clock) : timer(executor, clock) {}
    Timer timer;
    bool done = false;    // the rollout step has ended
    std::string failure;  // what stopped it ("" = the watch saw nothing wrong)
};

RolloutWatch::RolloutWatch(TaskGroup& tasks,
                           Runbook& runbook,
                           Verifier& verifier,
                           const Clock& clock,
                           const Settings& settings,
                           const Reporter& reporter,
                           Outbox& outbox,
                           AuditTrail& audit,
                           std::shared_ptr<spdlog::logger> log)
    : tasks_(tasks),
      runbook_(runbook),
      verifier_(verifier),
      clock_(clock),
      settings_(settings),
      reporter_(reporter),
      outbox_(outbox),
      audit_(audit),
      log_(std::move(log)) {}

asio::awaitable<std::vector<PodsCheck>> RolloutWatch::observe_pods(
    std::vector<std::string> deployments) {
    std::vector<PodsCheck> checks;
    checks.reserve(deployments.size());
    for (auto& name : deployments) {
        checks.push_back(co_await runbook_.observe_pods(std::move(name)));
    }
    co_return checks;
}

asio::awaitable<Verification> RolloutWatch::verify_now(std::vector<std::string> deployments,
                                                       bool rollout_finished) {
    auto [health, rate, p95, pods] =
        co_await (verifier_.check_health() && verifier_.error_rate() && verifier_.p95_latency() &&
                  observe_pods(std::move(deployments)));
    Verification v;
    v.rollout_finished = rollout_finished;
    v.health = std::move(health);
    v.error_rate = std::move(rate);
    v.p95 = std::move(p95);
    v.pods = std::move(pods);
    v.at = clock_.now();
    co_return v;
}

asio::awaitable<StepResult> RolloutWatch::run_then_stop(Step step, std::shared_ptr<Poll> poll) {
    StepResult result = co_await runbook_.run(std::move(step));
    poll->done = true;
    poll->timer.cancel();
    co_return result;
}

asio::awaitable<void> RolloutWatch::poll_pods(std::string deployment,
                                              std::int64_t revision_before,
                                              std::shared_ptr<Poll> poll) {
    std::optional<PodsCheck> baseline;
    while (!poll->done) {
        PodsCheck now = co_await runbook_.observe_pods(deployment);
        if (poll->done) {
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
                poll->failure = std::move(signal);
                log_->warn("rollout.failing deployment={} signal={}",
                           deployment,
                           log_quote(poll->failure));
                runbook_.stop_waiting(deployment);
                co_return;
            }
        } else if (!now.error.empty()) {
            log_->debug("rollout.watch_unreadable deployment={} error={}",
                        deployment,
                        log_quote(now.error));
        }
        poll->timer.expires_after(kRolloutPoll);
        (void)co_await poll->timer.wait();
    }
}

asio::awaitable<WatchedStep> RolloutWatch::run_watched(Step step,
                                                       std::int64_t revision_before,
                                                       RequestId id) {
    const std::string deployment = step.deployment;
    if (revision_before == 0) {
        // The deployment could not be read before the change, so the ReplicaSet rolled back
        // from cannot be told from the new one: its crash loop (often the incident itself)
        // would stop a rollout that is going well. The verification after the step shows the
        // pods.
        log_->info("rollout.watch_skipped id={} deployment={} why=\"revision before unknown\"",
                   id,
                   deployment);
        WatchedStep unwatched;
        unwatched.result = co_await runbook_.run(std::move(step));
        co_return unwatched;
    }
    auto poll = std::make_shared<Poll>(tasks_.executor(), clock_);
    WatchedStep watched;
    watched.result = co_await (run_then_stop(std::move(step), poll) &&
                               poll_pods(deployment, revision_before, poll));
    if (poll->failure.empty()) {
        co_return watched;
    }
    if (watched.result.ok()) {
        // The rollout finished before the kill landed: the verification will show the pods.
        log_->warn("rollout.failing_after_success id={} signal={}", id, log_quote(poll->failure));
        co_return watched;
    }
    watched.failure = poll->failure;
    watched.result.outcome = StepOutcome::Failed;
    watched.result.summary = fmt::format(
        "the pods of the revision rolled back to are failing ({}): rollbot stopped waiting for "
        "the rollout after {} instead of its timeout",
        poll->failure,
        format_duration(watched.result.duration));
    co_return watched;
}

asio::awaitable<IncidentStart> RolloutWatch::incident_start(
    Plan plan, std::chrono::system_clock::time_point at) {
    IncidentStart start;
    const auto from = at - kIncidentWindow;
    const auto rise = co_await verifier_.error_rate_rise(from, at);
    if (rise) {
        start.at = rise;
        const std::string threshold = format_percent(settings_.verify.max_error_rate);
        // A rise in the first sample of the look-back means "above since before it began".
        start.note =
            *rise - from < std::chrono::minutes(1)
                ? fmt::format(
                      "the error rate was already above {} at {}, the start of the 2-hour "
                      "look-back: at least this long",
                      threshold,
                      utc_clock(*rise))
                : fmt::format(
                      "from the error-rate rise above {} at {}", threshold, utc_clock(*rise));
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

void RolloutWatch::start_window(WatchWindow window) {
    if (settings_.verify.watch <= Duration::zero()) {
        return;
    }
    tasks_.spawn("watch", follow_up(std::move(window)), TaskGroup::Kind::Background);
}

asio::awaitable<void> RolloutWatch::follow_up(WatchWindow window) {
    const auto points = watch_points(settings_.verify.watch);
    Timer timer(tasks_.executor(), clock_);
    const auto started = clock_.steady_now();
    for (std::size_t i = 0; i < points.size(); ++i) {
        timer.expires_at(started + points[i]);
        if (!co_await timer.wait()) {
            co_return;
        }
        const Verification now = co_await verify_now(window.deployments, true);
        std::string text = co_await follow_up_text(window, now, i);
        OutboundMessage message{window.channel, window.thread, std::move(text)};
        auto posted =
            co_await outbox_.post(std::move(message), fmt::format("{}/watch{}", window.id, i + 1));
        if (!posted) {
            log_->warn("rollback.watch_queued id={} error={}", window.id, posted.error().message);
        }
    }
}

asio::awaitable<std::string> RolloutWatch::follow_up_text(WatchWindow window,
                                                          Verification now,
                                                          std::size_t index) {
    const auto points = watch_points(settings_.verify.watch);
    const bool last = index + 1 == points.size();
    const Verdict verdict = judge(now, settings_.verify);
    std::optional<Trend> final_trend;
    std::string suggestion;
    if (last) {
        final_trend = trend(window.at_report, now, settings_.verify);
        if (*final_trend == Trend::Worse) {
            suggestion =
                "roll back further to an older known-good SHA (`/rollback history`, then "
                "`/rollback <deployment> <sha>`), or `/rollback advise` if this may not be the "
                "deploy";
        }
        const AuditEntry record{
            AuditKind::Watch,
            window.id,
            {},
            fmt::format(
                "trend={} restored={}", log_quote(to_string(*final_trend)), verdict.restored)};
        co_await audit_.record(record);
    }
    const Duration next = last ? Duration::zero() : points[index + 1];
    co_return reporter_.watch_update(
        window.at_report, now, points[index], next, final_trend, verdict, suggestion);
}

}  // namespace rollbot::core
